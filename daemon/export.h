/*
 * export — a session in the formats other tools open:
 *
 *  - "trace-event": Trace Event Format JSON (ui.perfetto.dev,
 *    chrome://tracing). Per process a counter track "RSS" (args resident,
 *    swapped, mapped: bytes) and "RSS by kind" (one series per
 *    mevi_kind_name()), a session-wide counter "session RSS" under the
 *    launcher's pid, instant events "mmap", "munmap" and "exec" (args: the
 *    range, and for mmap and munmap the call site that mapped it), and
 *    process_name metadata. Times are µs since the session began. Counters are
 *    written when a process's memory changes, at most about two per
 *    EXPORT_COUNTER_INTERVAL_NS per track (a change within the interval is
 *    held back and written, with its own time, when the next change comes
 *    after the interval), always with the value in force at the time written:
 *    a coarser series, never a wrong one; plus the last value and a 0 when
 *    the process exits.
 *  - "folded": collapsed stacks of resident bytes by the call stack that
 *    mapped them (speedscope, flamegraph.pl, inferno): one line per
 *    (process, stack), "prog (pid);outermost;...;innermost BYTES", functions
 *    without their +0x offsets; ';' in a name becomes ':'. Resident memory
 *    no origin covers is "[unknown origin]". Live processes only, except
 *    in an ended session (or at= after its end), where each process's last
 *    map counts: what it held when it exited.
 *  - "summary" / "summary-json": the end-of-run report of proto/summary.h.
 *
 * pid= narrows to one process; at= (ns since the session began) takes the
 * state at that time (folded) or stops the event stream there (trace-event,
 * summary). Everything is read from the session's history (daemon/eventlog.h)
 * except a live folded export without at=, which reads the live state.
 *
 * Ownership: the caller owns the FILE; nothing is kept between calls.
 */
#ifndef MEVI_DAEMON_EXPORT_H
#define MEVI_DAEMON_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct session;

#define EXPORT_COUNTER_INTERVAL_NS UINT64_C(1000000)

enum export_format {
	EXPORT_TRACE_EVENT = 0,
	EXPORT_FOLDED = 1,
	EXPORT_SUMMARY = 2,
	EXPORT_SUMMARY_JSON = 3,
};

struct export_request {
	enum export_format format;
	bool has_pid;
	int32_t pid;
	bool has_at;
	uint64_t at;
};

/* "trace-event", "folded", "summary", "summary-json" -> format, or -EINVAL. */
int export_format_parse(const char *name);

/* The Content-Type and the download's file name suffix of a format. */
const char *export_content_type(enum export_format f);
const char *export_file_suffix(enum export_format f);

/*
 * Writes s in rq's format to f. Returns 0, -ENOENT when the history needed
 * was not kept, -EIO (f failed), -ENOMEM, or the error of reading the
 * history.
 */
int export_write(const struct session *s, const struct export_request *rq, FILE *f);

/* An HTTP answer built by a module, sent by daemon/http.c. */
struct export_response {
	unsigned status;   /* 200, or an error status with error set */
	const char *error; /* static sentence */
	char *body;	   /* malloc'd (the caller frees or takes it), NULL on error */
	size_t len;
	const char *ctype;     /* static */
	char disposition[128]; /* Content-Disposition, or "" */
};

/*
 * GET /api/sessions/S/export?format=F[&pid=N][&at=T]: the query arguments as
 * given (NULL when absent) -> *r: 200 with an attachment, 400 bad arguments,
 * 410 history not kept, 500.
 */
void export_respond(const struct session *s, const char *format, const char *pid, const char *at,
		    struct export_response *r);

/*
 * `mevid --summary FILE.mevi`: loads the recording (daemon/loader.h) into a
 * throw-away registry and writes its summary to out. Returns 0, or the
 * loader's error with one sentence in err.
 */
int export_summary_file(const char *path, bool json, FILE *out, char *err, size_t errlen);

#endif /* MEVI_DAEMON_EXPORT_H */
