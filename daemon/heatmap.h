/*
 * heatmap — a process's last-write times: the `written` events of protocol
 * version 3 (mevi-run --heat), kept as an annotation map.
 *
 * The map is a tagmap (proto/tagmap.h) whose value is t in milliseconds since
 * the session began (mevi-run sends whole milliseconds; a finer t is rounded
 * down; sessions past 49.7 days saturate). It follows the memory map like the
 * other annotation maps (session.h): unmap removes, remap moves, exec and
 * resume clear, fork copies. Pages never seen written have no value.
 *
 * /api/state shows it per process as "written": [[start, end, t], ...], t in
 * ns since the session began (the events' clock), sorted, ranges of equal t
 * merged.
 *
 * Ownership: the caller owns the tagmap. Thread safety: none.
 */
#ifndef MEVI_DAEMON_HEATMAP_H
#define MEVI_DAEMON_HEATMAP_H

#include <stdint.h>

#include "event.h"

struct tagmap;
struct json_object;

/* The tagmap value of t (ns), and back. */
uint32_t heatmap_value(uint64_t t_ns);
uint64_t heatmap_t_ns(uint32_t value);

/* Applies a MEVI_EV_WRITTEN event. Returns 0, -EINVAL or -ENOMEM. */
int heatmap_apply(struct tagmap *m, const struct mevi_event *ev);

/* A json-c array [[start, end, t_ns], ...] serialized straight from m, which
 * must outlive the object's serialization. NULL on out-of-memory. */
struct json_object *heatmap_json(const struct tagmap *m);

#endif /* MEVI_DAEMON_HEATMAP_H */
