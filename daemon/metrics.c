/*
 * metrics — the Prometheus text exposition (see metrics.h).
 */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"
#include "export.h"
#include "memmap.h"
#include "session.h"
#include "tagmap.h"

static void help(FILE *f, const char *name, const char *type, const char *text)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* A label value: escaped, printable ASCII only. */
static void label_value(FILE *f, const struct mevi_str *s)
{
	for (uint32_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->ptr[i];

		if (c == '\\')
			fputs("\\\\", f);
		else if (c == '"')
			fputs("\\\"", f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c >= 0x7f)
			fputc('?', f);
		else
			fputc(c, f);
	}
}

static struct mevi_str comm_of(const struct process *p)
{
	struct mevi_str s = {"", 0};

	if (p->cmdline.count) {
		const char *c = p->cmdline.items[0].ptr;
		uint32_t n = p->cmdline.items[0].len, i = n;

		while (i > 0 && c[i - 1] != '/')
			i--;
		s.ptr = c + i;
		s.len = n - i;
	}
	return s;
}

static bool listed(const struct session *s, const struct process *p)
{
	return s->alive && p->alive;
}

/* Calls the process series of one metric for every listed process. */
static void process_series(const struct session_registry *reg, uint32_t max, FILE *f,
			   const char *name, int which)
{
	uint32_t n = 0;

	for (const struct session *s = reg->head; s; s = s->next) {
		for (const struct process *p = s->procs_head; p; p = p->next) {
			struct mevi_str comm = comm_of(p);
			uint64_t v;

			if (!listed(s, p))
				continue;
			if (n++ >= max)
				return;
			if (which == 0) {
				uint64_t bytes[MEVI_KIND_COUNT];

				process_rss_by_kind(s, p, bytes);
				for (unsigned i = 0; i < MEVI_KIND_COUNT; i++) {
					fprintf(f,
						"%s{session=\"%" PRIu64 "\",pid=\"%" PRId32
						"\",comm=\"",
						name, s->id, p->pid);
					label_value(f, &comm);
					fprintf(f, "\",kind=\"%s\"} %" PRIu64 "\n",
						mevi_kind_name(i), bytes[i]);
				}
				continue;
			}
			v = which == 1 ? memmap_vsz(p->map) : process_swapped(p);
			fprintf(f, "%s{session=\"%" PRIu64 "\",pid=\"%" PRId32 "\",comm=\"", name,
				s->id, p->pid);
			label_value(f, &comm);
			fprintf(f, "\"} %" PRIu64 "\n", v);
		}
	}
}

int metrics_write(const struct session_registry *reg, const struct metrics_daemon *d,
		  uint32_t max_processes, FILE *f)
{
	uint32_t live = 0, ended = 0, procs = 0;

	for (const struct session *s = reg->head; s; s = s->next) {
		if (s->alive)
			live++;
		else
			ended++;
		for (const struct process *p = s->procs_head; p; p = p->next)
			procs += listed(s, p);
	}
	help(f, "mevi_process_resident_bytes", "gauge",
	     "Resident bytes of a live process's tracked memory, by kind.");
	process_series(reg, max_processes, f, "mevi_process_resident_bytes", 0);
	help(f, "mevi_process_mapped_bytes", "gauge",
	     "Bytes of a live process's tracked mappings (resident or not).");
	process_series(reg, max_processes, f, "mevi_process_mapped_bytes", 1);
	help(f, "mevi_process_swapped_bytes", "gauge", "Bytes of a live process in swap.");
	process_series(reg, max_processes, f, "mevi_process_swapped_bytes", 2);
	help(f, "mevi_metrics_processes_omitted", "gauge",
	     "Live processes left out of this scrape by the cap on series.");
	fprintf(f, "mevi_metrics_processes_omitted %" PRIu32 "\n",
		procs > max_processes ? procs - max_processes : 0);

	help(f, "mevi_session_resident_bytes", "gauge", "Resident bytes of a live session.");
	for (const struct session *s = reg->head; s; s = s->next)
		if (s->alive)
			fprintf(
			    f, "mevi_session_resident_bytes{session=\"%" PRIu64 "\"} %" PRIu64 "\n",
			    s->id, s->rss);
	help(f, "mevi_session_events", "gauge", "Events in a live session's history.");
	for (const struct session *s = reg->head; s; s = s->next)
		if (s->alive && s->log)
			fprintf(f, "mevi_session_events{session=\"%" PRIu64 "\"} %" PRIu64 "\n",
				s->id, eventlog_events(s->log));
	help(f, "mevi_session_history_bytes", "gauge",
	     "Bytes of a live session's history, in memory and spilled.");
	for (const struct session *s = reg->head; s; s = s->next)
		if (s->alive && s->log)
			fprintf(f, "mevi_session_history_bytes{session=\"%" PRIu64 "\"} %zu\n",
				s->id, eventlog_total_bytes(s->log));

	help(f, "mevi_sessions", "gauge", "Sessions known to mevid.");
	fprintf(f, "mevi_sessions{state=\"live\"} %" PRIu32 "\n", live);
	fprintf(f, "mevi_sessions{state=\"ended\"} %" PRIu32 "\n", ended);
	help(f, "mevi_launchers_connected", "gauge", "mevi-run launchers connected.");
	fprintf(f, "mevi_launchers_connected %" PRIu32 "\n", d->launchers);
	help(f, "mevi_tabs_connected", "gauge", "Browser tabs connected to /stream.");
	fprintf(f, "mevi_tabs_connected %" PRIu32 "\n", d->tabs);
	help(f, "mevi_events_ingested_total", "counter", "Events applied from launchers.");
	fprintf(f, "mevi_events_ingested_total %" PRIu64 "\n", d->events_ingested);
	help(f, "mevi_tab_resyncs_total", "counter",
	     "Tabs that fell behind and were sent a fresh snapshot.");
	fprintf(f, "mevi_tab_resyncs_total %" PRIu64 "\n", d->tab_resyncs);
	help(f, "mevi_tabs_dropped_total", "counter",
	     "Tabs closed because they accepted nothing for the stall timeout.");
	fprintf(f, "mevi_tabs_dropped_total %" PRIu64 "\n", d->tabs_dropped);
	if (reg->budget) {
		help(f, "mevi_history_memory_bytes", "gauge",
		     "Bytes of session history held in memory, all sessions.");
		fprintf(f, "mevi_history_memory_bytes %zu\n", reg->budget->used);
		help(f, "mevi_history_budget_bytes", "gauge", "The --history-budget.");
		fprintf(f, "mevi_history_budget_bytes %zu\n", reg->budget->limit);
	}
	return fflush(f) || ferror(f) ? -EIO : 0;
}

void metrics_respond(const struct session_registry *reg, const struct metrics_daemon *d,
		     struct export_response *r)
{
	FILE *f;
	int ret;

	memset(r, 0, sizeof(*r));
	f = open_memstream(&r->body, &r->len);
	if (!f) {
		r->status = 500;
		r->error = "out of memory";
		return;
	}
	ret = metrics_write(reg, d, METRICS_MAX_PROCESSES, f);
	if (fclose(f) || ret) {
		free(r->body);
		r->body = NULL;
		r->status = 500;
		r->error = "cannot write the metrics";
		return;
	}
	r->status = 200;
	r->ctype = METRICS_CONTENT_TYPE;
}
