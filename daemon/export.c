/*
 * export — sessions as Trace Event JSON, folded stacks and summaries (see
 * export.h for the formats and the contract).
 */
#include "export.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "eventlog.h"
#include "ingest.h"
#include "loader.h"
#include "log.h"
#include "memmap.h"
#include "parse.h"
#include "session.h"
#include "summary.h"
#include "tagmap.h"

#define NO_ORIGIN UINT32_MAX

int export_format_parse(const char *name)
{
	if (strcmp(name, "trace-event") == 0)
		return EXPORT_TRACE_EVENT;
	if (strcmp(name, "folded") == 0)
		return EXPORT_FOLDED;
	if (strcmp(name, "summary") == 0)
		return EXPORT_SUMMARY;
	if (strcmp(name, "summary-json") == 0)
		return EXPORT_SUMMARY_JSON;
	return -EINVAL;
}

const char *export_content_type(enum export_format f)
{
	switch (f) {
	case EXPORT_TRACE_EVENT:
	case EXPORT_SUMMARY_JSON:
		return "application/json";
	default:
		return "text/plain; charset=utf-8";
	}
}

const char *export_file_suffix(enum export_format f)
{
	switch (f) {
	case EXPORT_TRACE_EVENT:
		return ".trace.json";
	case EXPORT_FOLDED:
		return ".folded.txt";
	case EXPORT_SUMMARY:
		return ".summary.txt";
	default:
		return ".summary.json";
	}
}

/* --- strings ------------------------------------------------------------- */

/* Writes a JSON string (without quotes) of s[0..len). */
static void json_chars(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else if (c >= 0x80)
			fputc('?', f); /* keeps the document valid UTF-8 whatever the input */
		else
			fputc(c, f);
	}
}

static void json_mstr(FILE *f, const struct mevi_str *s)
{
	fputc('"', f);
	json_chars(f, s->ptr, s->len);
	fputc('"', f);
}

/* The base name of a process's command, or "?". */
static struct mevi_str comm_of(const struct process *p)
{
	struct mevi_str s = {"?", 1};

	if (p->cmdline.count && p->cmdline.items[0].len) {
		const char *c = p->cmdline.items[0].ptr;
		uint32_t n = p->cmdline.items[0].len, i = n;

		while (i > 0 && c[i - 1] != '/')
			i--;
		if (i < n) {
			s.ptr = c + i;
			s.len = n - i;
		}
	}
	return s;
}

/* A frame's name for folded output: its function without "+0x..", else
 * "module+0xpc", else "0xpc"; ';', '\n' and '\r' are replaced. */
static void folded_frame(FILE *f, const struct mevi_frame *fr)
{
	size_t n = fr->func.len;

	if (n) {
		const char *plus = NULL;

		for (size_t i = n; i > 0; i--) {
			if (fr->func.ptr[i - 1] == '+') {
				plus = fr->func.ptr + i - 1;
				break;
			}
		}
		if (plus && plus + 2 < fr->func.ptr + n && plus[1] == '0' && plus[2] == 'x')
			n = (size_t)(plus - fr->func.ptr);
		for (size_t i = 0; i < n; i++) {
			char c = fr->func.ptr[i];

			fputc(c == ';' ? ':' : c == '\n' || c == '\r' ? ' ' : c, f);
		}
		return;
	}
	if (fr->module.len) {
		const char *m = fr->module.ptr;
		uint32_t i = fr->module.len;

		while (i > 0 && m[i - 1] != '/')
			i--;
		for (uint32_t k = i; k < fr->module.len; k++)
			fputc(m[k] == ';' ? ':' : m[k], f);
		fprintf(f, "+0x%" PRIx64, fr->pc);
		return;
	}
	fprintf(f, "0x%" PRIx64, fr->pc);
}

/* --- folded -------------------------------------------------------------- */

struct site_bytes {
	uint32_t id;
	uint64_t bytes;
};

struct fold_ctx {
	const struct process *p;
	struct site_bytes *v;
	size_t n, cap;
	uint64_t covered;
	int err;
};

static int fold_add(struct fold_ctx *c, uint32_t id, uint64_t bytes)
{
	if (c->n && c->v[c->n - 1].id == id) {
		c->v[c->n - 1].bytes += bytes;
		return 0;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct site_bytes *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return c->err = -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n].id = id;
	c->v[c->n++].bytes = bytes;
	return 0;
}

static int fold_origin_cb(const struct tagmap_range *r, void *arg)
{
	struct fold_ctx *c = arg;

	c->covered += r->end - r->start;
	return fold_add(c, r->value, r->end - r->start) ? 1 : 0;
}

static int fold_range_cb(const struct memmap_range *r, void *arg)
{
	struct fold_ctx *c = arg;

	if (r->state != MEVI_STATE_RESIDENT)
		return 0;
	c->covered = 0;
	tagmap_walk_range(c->p->origins, r->start, r->end, fold_origin_cb, c);
	if (c->err)
		return 1;
	if (c->covered < r->end - r->start &&
	    fold_add(c, NO_ORIGIN, r->end - r->start - c->covered))
		return 1;
	return 0;
}

static int cmp_site(const void *a, const void *b)
{
	const struct site_bytes *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int write_folded(const struct session *s, const struct export_request *rq, FILE *f)
{
	struct fold_ctx c = {0};

	for (const struct process *p = s->procs_head; p; p = p->next) {
		struct mevi_str comm = comm_of(p);
		size_t k = 0;

		/* An ended session shows what each process held when it exited. */
		if ((!p->alive && s->alive) || (rq->has_pid && p->pid != rq->pid))
			continue;
		c.p = p;
		c.n = 0;
		memmap_walk(p->map, fold_range_cb, &c);
		if (c.err)
			break;
		qsort(c.v, c.n, sizeof(c.v[0]), cmp_site);
		for (size_t i = 0; i < c.n; i++) {
			if (k && c.v[k - 1].id == c.v[i].id)
				c.v[k - 1].bytes += c.v[i].bytes;
			else
				c.v[k++] = c.v[i];
		}
		for (size_t i = 0; i < k; i++) {
			const struct stack *st =
			    c.v[i].id == NO_ORIGIN ? NULL : stacktab_get(&s->stacks, c.v[i].id);

			for (uint32_t j = 0; j < comm.len; j++)
				fputc(comm.ptr[j] == ';' ? ':' : comm.ptr[j], f);
			fprintf(f, " (%" PRId32 ")", p->pid);
			if (c.v[i].id == NO_ORIGIN)
				fprintf(f, ";[unknown origin]");
			else if (!st || !st->nframes)
				fprintf(f, ";[stack %" PRIu32 "]", c.v[i].id);
			for (uint32_t j = st ? st->nframes : 0; j > 0; j--) {
				fputc(';', f);
				folded_frame(f, &st->frames[j - 1]);
			}
			fprintf(f, " %" PRIu64 "\n", c.v[i].bytes);
		}
	}
	free(c.v);
	return c.err;
}

/* --- trace-event --------------------------------------------------------- */

/* A counter track: one process entry, or the session (p == NULL). */
struct track {
	const struct process *p;
	int32_t pid;
	uint64_t last_emit; /* ts of the last counter written */
	bool emitted;
	bool pending; /* the value changed at pending_ts and is not written yet */
	uint64_t pending_ts;
};

struct trace_ctx {
	FILE *f;
	const struct export_request *rq;
	struct session_registry reg;
	struct ingest in; /* INGEST_REPLAY into reg */
	struct session *s;
	const struct session *live; /* its stacks are the latest (symbolised) ones */
	uint64_t max_ts;
	bool first; /* no event written yet */
	struct track *tracks;
	size_t ntracks, cap;
	struct track session_track;
	/* An mmap instant waiting for its origin (which follows the map). */
	bool map_pending;
	int32_t map_pid;
	uint64_t map_ts, map_start, map_end;
	uint8_t map_state;
	int err;
};

static void sep(struct trace_ctx *c)
{
	if (!c->first)
		fputs(",\n", c->f);
	c->first = false;
}

static void ts_us(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%03u", ns / 1000, (unsigned)(ns % 1000));
}

static bool wanted(const struct trace_ctx *c, int32_t pid)
{
	return !c->rq->has_pid || c->rq->pid == pid;
}

static struct track *track_of(struct trace_ctx *c, const struct process *p)
{
	for (size_t i = c->ntracks; i > 0; i--)
		if (c->tracks[i - 1].p == p)
			return &c->tracks[i - 1];
	if (c->ntracks == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct track *v = realloc(c->tracks, cap * sizeof(*v));

		if (!v) {
			c->err = -ENOMEM;
			return NULL;
		}
		c->tracks = v;
		c->cap = cap;
	}
	memset(&c->tracks[c->ntracks], 0, sizeof(c->tracks[0]));
	c->tracks[c->ntracks].p = p;
	c->tracks[c->ntracks].pid = p->pid;
	return &c->tracks[c->ntracks++];
}

/* Writes the counters of t as they are now, at time ts. */
static void write_counters(struct trace_ctx *c, struct track *t, uint64_t ts)
{
	FILE *f = c->f;

	if (!t->p) {
		sep(c);
		fprintf(f, "{\"name\":\"session RSS\",\"ph\":\"C\",\"ts\":");
		ts_us(f, ts);
		fprintf(f,
			",\"pid\":%" PRId32 ",\"tid\":%" PRId32 ",\"args\":{\"resident\":%" PRIu64
			"}}",
			t->pid, t->pid, c->s->rss);
	} else {
		uint64_t bytes[MEVI_KIND_COUNT] = {0};
		bool alive = t->p->alive;

		if (alive)
			process_rss_by_kind(c->s, t->p, bytes);
		sep(c);
		fprintf(f, "{\"name\":\"RSS\",\"ph\":\"C\",\"ts\":");
		ts_us(f, ts);
		fprintf(f,
			",\"pid\":%" PRId32 ",\"tid\":%" PRId32 ",\"args\":{\"resident\":%" PRIu64
			",\"swapped\":%" PRIu64 ",\"mapped\":%" PRIu64 "}}",
			t->pid, t->pid, alive ? memmap_rss(t->p->map) : 0,
			alive ? process_swapped(t->p) : 0, alive ? memmap_vsz(t->p->map) : 0);
		sep(c);
		fprintf(f, "{\"name\":\"RSS by kind\",\"ph\":\"C\",\"ts\":");
		ts_us(f, ts);
		fprintf(f, ",\"pid\":%" PRId32 ",\"tid\":%" PRId32 ",\"args\":{", t->pid, t->pid);
		for (unsigned i = 0; i < MEVI_KIND_COUNT; i++)
			fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", mevi_kind_name(i), bytes[i]);
		fprintf(f, "}}");
	}
	t->emitted = true;
	t->last_emit = ts;
	t->pending = false;
}

/* The value of t changed at ts: written now, or marked pending. */
static void track_changed(struct trace_ctx *c, struct track *t, uint64_t ts)
{
	if (!t->emitted || ts >= t->last_emit + EXPORT_COUNTER_INTERVAL_NS) {
		write_counters(c, t, ts);
		return;
	}
	t->pending = true;
	t->pending_ts = ts;
}

/* Before t changes again at ts: a pending value whose interval has passed
 * is written now, while the state is still that value. */
static void track_before(struct trace_ctx *c, struct track *t, uint64_t ts)
{
	if (t->pending && ts >= t->last_emit + EXPORT_COUNTER_INTERVAL_NS)
		write_counters(c, t, t->pending_ts);
}

/* An instant "exec" event with p's new command line, at t. */
static void write_exec(struct trace_ctx *c, const struct process *p, uint64_t t)
{
	sep(c);
	fprintf(c->f, "{\"name\":\"exec\",\"ph\":\"i\",\"s\":\"p\",\"ts\":");
	ts_us(c->f, t);
	fprintf(c->f, ",\"pid\":%" PRId32 ",\"tid\":%" PRId32 ",\"args\":{\"cmdline\":[", p->pid,
		p->pid);
	for (uint32_t i = 0; i < p->cmdline.count; i++) {
		if (i)
			fputc(',', c->f);
		json_mstr(c->f, &p->cmdline.items[i]);
	}
	fprintf(c->f, "]}}");
}

/* session_start: (re)opens the session being replayed; the callback's return. */
static int trace_session_start(struct trace_ctx *c, const struct mevi_event *ev, uint64_t t)
{
	int err = ingest_event(&c->in, ev);

	c->s = c->in.session;
	if (c->s) {
		c->session_track.pid = c->s->launcher_pid;
		if (!c->rq->has_pid)
			track_changed(c, &c->session_track, t);
	}
	return err < 0 ? (c->err = err, 1) : 0;
}

/* "alloc_big_a+0x1c (prog) prog.c:31" of the call site of stack id. */
static void write_call_site(struct trace_ctx *c, uint32_t id)
{
	const struct stack *st = stacktab_get(&c->live->stacks, id);
	static const char *const plumbing[] = {"libc.", "libc-",     "ld-linux",    "libpthread",
					       "libdl", "libstdc++", "libjemalloc", "libtcmalloc"};
	const struct mevi_frame *fr = NULL;
	FILE *f = c->f;

	fprintf(f, ",\"stack_id\":%" PRIu32, id);
	if (!st || !st->nframes)
		return;
	for (uint32_t i = 0; i < st->nframes && !fr; i++) {
		const struct mevi_str *m = &st->frames[i].module;
		uint32_t b = m->len;
		bool plumb = false;

		while (b > 0 && m->ptr[b - 1] != '/')
			b--;
		for (size_t k = 0; k < sizeof(plumbing) / sizeof(plumbing[0]); k++) {
			size_t n = strlen(plumbing[k]);

			if (m->len - b >= n && memcmp(m->ptr + b, plumbing[k], n) == 0)
				plumb = true;
		}
		if (!plumb)
			fr = &st->frames[i];
	}
	if (!fr)
		fr = &st->frames[0];
	fprintf(f, ",\"call_site\":\"");
	json_chars(f, fr->func.ptr, fr->func.len);
	fprintf(f, " (");
	{
		const struct mevi_str *m = &fr->module;
		uint32_t b = m->len;

		while (b > 0 && m->ptr[b - 1] != '/')
			b--;
		json_chars(f, m->ptr + b, m->len - b);
	}
	fputc(')', f);
	if (fr->source.ptr) {
		fputc(' ', f);
		json_chars(f, fr->source.ptr, fr->source.len);
	}
	fputc('"', f);
}

static void write_instant(struct trace_ctx *c, const char *name, int32_t pid, uint64_t ts,
			  uint64_t start, uint64_t end, bool has_stack, uint32_t stack_id)
{
	FILE *f = c->f;

	sep(c);
	fprintf(f, "{\"name\":\"%s\",\"ph\":\"i\",\"s\":\"p\",\"ts\":", name);
	ts_us(f, ts);
	fprintf(f,
		",\"pid\":%" PRId32 ",\"tid\":%" PRId32 ",\"args\":{\"start\":\"0x%" PRIx64
		"\",\"len\":%" PRIu64,
		pid, pid, start, end - start);
	if (has_stack)
		write_call_site(c, stack_id);
	fprintf(f, "}}");
}

static void flush_map(struct trace_ctx *c, const struct mevi_event *next)
{
	bool has = false;
	uint32_t id = 0;

	if (!c->map_pending)
		return;
	if (next && next->type == MEVI_EV_ORIGIN && next->pid == c->map_pid &&
	    next->origin.range.start <= c->map_start && next->origin.range.end > c->map_start) {
		has = true;
		id = next->origin.stack_id;
	}
	c->map_pending = false;
	write_instant(c, "mmap", c->map_pid, c->map_ts, c->map_start, c->map_end, has, id);
}

static void write_name(struct trace_ctx *c, const struct process *p)
{
	struct mevi_str comm = comm_of(p);

	sep(c);
	fprintf(c->f,
		"{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%" PRId32 ",\"tid\":%" PRId32
		",\"args\":{\"name\":\"",
		p->pid, p->pid);
	json_chars(c->f, comm.ptr, comm.len);
	fprintf(c->f, " %" PRId32 "\"}}", p->pid);
}

static bool changes_memory(uint8_t type)
{
	switch (type) {
	case MEVI_EV_PROC_START:
	case MEVI_EV_PROC_EXEC:
	case MEVI_EV_PROC_EXIT:
	case MEVI_EV_MAP:
	case MEVI_EV_UNMAP:
	case MEVI_EV_REMAP:
	case MEVI_EV_STATE:
		return true;
	default:
		return false;
	}
}

static int trace_event_cb(void *arg, const struct mevi_event *ev)
{
	struct trace_ctx *c = arg;
	uint64_t t = ev->ts > c->max_ts ? ev->ts : c->max_ts;
	struct process *p = NULL;
	struct track *tr = NULL;
	bool had_origin = false;
	struct tagmap_range org = {0};
	int err;

	if (c->s && c->rq->has_at && t > c->rq->at)
		return 1;
	c->max_ts = t;
	/* The launcher sends a mapping's vma, stack and origin right after it. */
	if (ev->type != MEVI_EV_STACK && ev->type != MEVI_EV_VMA && ev->type != MEVI_EV_THREAD)
		flush_map(c, ev);
	if (ev->type == MEVI_EV_SESSION_START)
		return trace_session_start(c, ev, t);
	if (!c->s)
		return c->err = -EBADMSG, 1;
	if (changes_memory(ev->type) && ev->type != MEVI_EV_PROC_START) {
		p = session_find_process(c->s, ev->pid);
		if (p && p->alive && wanted(c, ev->pid)) {
			tr = track_of(c, p);
			if (!tr)
				return 1;
			track_before(c, tr, t);
		}
	}
	if (!c->rq->has_pid && changes_memory(ev->type))
		track_before(c, &c->session_track, t);
	if (ev->type == MEVI_EV_UNMAP && p && p->alive)
		had_origin = tagmap_lookup(p->origins, ev->unmap.range.start, &org) == 1;
	err = ingest_event(&c->in, ev);
	if (err < 0)
		return c->err = err, 1;
	if (err)
		return 0; /* dropped or refused, as the live session did */
	if (!wanted(c, ev->pid))
		goto session_counter;
	switch (ev->type) {
	case MEVI_EV_PROC_START:
	case MEVI_EV_PROC_EXEC:
		p = session_find_process(c->s, ev->pid);
		if (p) {
			write_name(c, p);
			if (ev->type == MEVI_EV_PROC_EXEC)
				write_exec(c, p, t);
			tr = track_of(c, p);
		}
		break;
	case MEVI_EV_MAP:
		c->map_pending = true;
		c->map_pid = ev->pid;
		c->map_ts = t;
		c->map_start = ev->map.range.start;
		c->map_end = ev->map.range.end;
		break;
	case MEVI_EV_UNMAP:
		write_instant(c, "munmap", ev->pid, t, ev->unmap.range.start, ev->unmap.range.end,
			      had_origin, org.value);
		break;
	default:
		break;
	}
	if (tr && changes_memory(ev->type)) {
		if (ev->type == MEVI_EV_PROC_EXIT) {
			if (tr->pending)
				write_counters(c, tr, tr->pending_ts);
			write_counters(c, tr, t); /* p is not alive: zeros */
		} else {
			track_changed(c, tr, t);
		}
	}
session_counter:
	if (!c->rq->has_pid && changes_memory(ev->type))
		track_changed(c, &c->session_track, t);
	return 0;
}

static int write_trace_event(const struct session *s, const struct export_request *rq, FILE *f)
{
	struct trace_ctx c = {.f = f, .rq = rq, .first = true, .live = s};
	int ret;

	if (!s->log)
		return -ENOENT;
	session_registry_init(&c.reg, 0, NULL, NULL);
	c.reg.quiet = true;
	ingest_start(&c.in, &c.reg, INGEST_REPLAY);
	c.in.replay_id = s->id;
	fprintf(f, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"session\":%" PRIu64 ",\"argv\":[",
		s->id);
	for (uint32_t i = 0; i < s->argv.count; i++) {
		if (i)
			fputc(',', f);
		json_mstr(f, &s->argv.items[i]);
	}
	fprintf(f, "],\"mode\":\"%s\"},\"traceEvents\":[\n",
		s->mode == MEVI_MODE_SAMPLED ? "sampled" : "exact");
	ret = eventlog_walk(s->log, UINT64_MAX, trace_event_cb, &c);
	if (ret == 1)
		ret = 0;
	if (!ret)
		ret = c.err;
	if (!ret && c.s) {
		flush_map(&c, NULL);
		for (size_t i = 0; i < c.ntracks; i++)
			if (c.tracks[i].pending)
				write_counters(&c, &c.tracks[i], c.tracks[i].pending_ts);
		if (c.session_track.pending)
			write_counters(&c, &c.session_track, c.session_track.pending_ts);
	}
	fprintf(f, "\n]}\n");
	free(c.tracks);
	session_registry_destroy(&c.reg);
	return ret;
}

/* --- summary ------------------------------------------------------------- */

struct sum_ctx {
	struct summary *sm;
	const struct export_request *rq;
	uint64_t max_ts;
};

static int sum_cb(void *arg, const struct mevi_event *ev)
{
	struct sum_ctx *c = arg;
	uint64_t t = ev->ts > c->max_ts ? ev->ts : c->max_ts;

	if (c->rq && c->rq->has_at && c->max_ts && t > c->rq->at)
		return 1;
	c->max_ts = t;
	return summary_feed(c->sm, ev) == -ENOMEM ? -ENOMEM : 0;
}

static int write_summary(const struct session *s, const struct export_request *rq, FILE *f,
			 const char *source)
{
	struct sum_ctx c = {.rq = rq};
	int ret;

	if (!s->log)
		return -ENOENT;
	c.sm = summary_new();
	if (!c.sm)
		return -ENOMEM;
	summary_set_source(c.sm, source);
	ret = eventlog_walk(s->log, UINT64_MAX, sum_cb, &c);
	if (ret == 1)
		ret = 0;
	if (!ret)
		ret = summary_write(
		    c.sm, f, rq && rq->format == EXPORT_SUMMARY_JSON ? SUMMARY_JSON : SUMMARY_TEXT);
	summary_free(c.sm);
	return ret;
}

int export_write(const struct session *s, const struct export_request *rq, FILE *f)
{
	int ret;

	switch (rq->format) {
	case EXPORT_FOLDED:
		if (rq->has_at) {
			struct session_registry tmp;
			struct eventlog_pos pos;
			struct session *at;

			ret = checkpoint_state_at(s, rq->at, &tmp, &at, &pos);
			if (!ret)
				ret = write_folded(at, rq, f);
			session_registry_destroy(&tmp);
		} else {
			ret = write_folded(s, rq, f);
		}
		break;
	case EXPORT_TRACE_EVENT:
		ret = write_trace_event(s, rq, f);
		break;
	default:
		ret = write_summary(s, rq, f, NULL);
		break;
	}
	if (!ret && (fflush(f) || ferror(f)))
		ret = -EIO;
	return ret;
}

int export_summary_file(const char *path, bool json, FILE *out, char *err, size_t errlen)
{
	struct eventlog_budget budget;
	struct session_registry reg;
	struct export_request rq = {.format = json ? EXPORT_SUMMARY_JSON : EXPORT_SUMMARY};
	struct session *s = NULL;
	char source[300];
	int ret;

	eventlog_budget_init(&budget, SIZE_MAX);
	session_registry_init(&reg, UINT32_MAX, NULL, NULL);
	checkpoint_keep_history(&reg, &budget);
	reg.quiet = true;
	ret = loader_load_file(&reg, path, &s, err, errlen);
	if (!ret && !s) {
		snprintf(err, errlen, "%s holds no session", path);
		ret = -EBADMSG;
	}
	if (!ret) {
		snprintf(source, sizeof(source), "recording %s", path);
		ret = write_summary(s, &rq, out, source);
		if (ret)
			snprintf(err, errlen, "cannot summarise %s: %s", path, strerror(-ret));
	}
	session_registry_destroy(&reg);
	return ret;
}

static void fail(struct export_response *r, unsigned status, const char *msg)
{
	r->status = status;
	r->error = msg;
}

void export_respond(const struct session *s, const char *format, const char *pid, const char *at,
		    struct export_response *r)
{
	struct export_request rq = {0};
	uint64_t v = 0;
	FILE *f;
	int ret = format ? export_format_parse(format) : -EINVAL;

	memset(r, 0, sizeof(*r));
	if (ret < 0)
		return fail(r, 400, "format must be trace-event, folded, summary or summary-json");
	rq.format = (enum export_format)ret;
	if (pid && (parse_u64(pid, &v) || v > INT32_MAX))
		return fail(r, 400, "pid must be a process id");
	rq.has_pid = pid != NULL;
	rq.pid = (int32_t)v;
	if (at && parse_u64(at, &rq.at))
		return fail(r, 400, "at must be a time in ns since the session began");
	rq.has_at = at != NULL;
	f = open_memstream(&r->body, &r->len);
	if (!f)
		return fail(r, 500, "out of memory");
	ret = export_write(s, &rq, f);
	if (fclose(f) && !ret)
		ret = -EIO;
	if (ret) {
		free(r->body);
		r->body = NULL;
		if (ret == -ENOENT)
			return fail(r, 410,
				    "the history of this session was not kept (history budget)");
		log_error("session %" PRIu64 ": cannot export it: %s", s->id, strerror(-ret));
		return fail(r, 500, "cannot export the session");
	}
	r->status = 200;
	r->ctype = export_content_type(rq.format);
	snprintf(r->disposition, sizeof(r->disposition),
		 "attachment; filename=\"mevi-session-%" PRIu64 "%s\"", s->id,
		 export_file_suffix(rq.format));
}
