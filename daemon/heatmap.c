/*
 * heatmap — a process's last-write times: written events into a tagmap of
 * milliseconds, and its JSON for /api/state (contract: heatmap.h).
 */
#include "heatmap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

#include "tagmap.h"

uint32_t heatmap_value(uint64_t t_ns)
{
	uint64_t ms = t_ns / 1000000u;

	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

uint64_t heatmap_t_ns(uint32_t value)
{
	return (uint64_t)value * 1000000u;
}

int heatmap_apply(struct tagmap *m, const struct mevi_event *ev)
{
	if (ev->type != MEVI_EV_WRITTEN)
		return -EINVAL;
	return tagmap_set(m, ev->written.range.start, ev->written.range.end,
			  heatmap_value(ev->written.t));
}

struct json_ctx {
	struct printbuf *pb;
	bool first;
};

static int walk_cb(const struct tagmap_range *r, void *arg)
{
	struct json_ctx *c = arg;
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]",
			 c->first ? "" : ",", r->start, r->end, heatmap_t_ns(r->value));

	c->first = false;
	return printbuf_memappend(c->pb, buf, n) < 0;
}

static int serialize(struct json_object *jso, struct printbuf *pb, int level, int flags)
{
	struct json_ctx c = {.pb = pb, .first = true};

	(void)level;
	(void)flags;
	if (printbuf_memappend(pb, "[", 1) < 0 ||
	    tagmap_walk(json_object_get_userdata(jso), walk_cb, &c) ||
	    printbuf_memappend(pb, "]", 1) < 0)
		return -1;
	return 0;
}

struct json_object *heatmap_json(const struct tagmap *m)
{
	struct json_object *j = json_object_new_array();

	if (j)
		json_object_set_serializer(j, serialize, (void *)m, NULL);
	return j;
}
