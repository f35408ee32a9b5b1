/*
 * metrics — `GET /metrics`: mevid's state in the Prometheus text exposition
 * format (version 0.0.4), for long-running services watched with
 * `mevi-run --pid`:
 *
 *   mevi_process_resident_bytes{session,pid,comm,kind}  gauge, per kind of
 *       proto/event.h (mevi_kind_name), adding up to the process's rss
 *   mevi_process_mapped_bytes{session,pid,comm}         gauge (vsz)
 *   mevi_process_swapped_bytes{session,pid,comm}        gauge
 *   mevi_session_resident_bytes{session}                gauge
 *   mevi_session_events{session}                        gauge: events in its history
 *   mevi_session_history_bytes{session}                 gauge: in memory + spilled
 *   mevi_sessions{state="live"|"ended"}                 gauge
 *   mevi_launchers_connected, mevi_tabs_connected       gauges
 *   mevi_events_ingested_total                          counter
 *   mevi_tab_resyncs_total, mevi_tabs_dropped_total     counters
 *   mevi_history_memory_bytes, mevi_history_budget_bytes gauges
 *   mevi_metrics_processes_omitted                      gauge: live processes
 *       left out of this scrape by the cap
 *
 * Cardinality is bounded: only live processes of live sessions are listed,
 * at most METRICS_MAX_PROCESSES of them (registry order), 9 series each;
 * the rest are counted in mevi_metrics_processes_omitted. Label values are
 * escaped as the format requires (\\, \", \n); bytes that are not printable
 * ASCII become '?', so the output is always valid UTF-8.
 *
 * Ownership: borrows everything; writes to the caller's FILE.
 */
#ifndef MEVI_DAEMON_METRICS_H
#define MEVI_DAEMON_METRICS_H

#include <stdint.h>
#include <stdio.h>

struct export_response;
struct session_registry;

#define METRICS_MAX_PROCESSES 500u
#define METRICS_CONTENT_TYPE  "text/plain; version=0.0.4; charset=utf-8"

/* Daemon-wide figures the registry does not hold. */
struct metrics_daemon {
	uint32_t launchers, tabs;
	uint64_t events_ingested, tab_resyncs, tabs_dropped;
};

/* Writes the exposition. max_processes: the cap (METRICS_MAX_PROCESSES).
 * Returns 0 or -EIO. */
int metrics_write(const struct session_registry *reg, const struct metrics_daemon *d,
		  uint32_t max_processes, FILE *f);

/* GET /metrics -> *r (daemon/export.h): 200 with the exposition, or 500. */
void metrics_respond(const struct session_registry *reg, const struct metrics_daemon *d,
		     struct export_response *r);

#endif /* MEVI_DAEMON_METRICS_H */
