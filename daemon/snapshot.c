/*
 * snapshot — packs the whole registry (or one session at a moment) into the
 * websocket snapshot message (layout: snapshot.h).
 */
#include "snapshot.h"

#include <errno.h>

#include <string.h>

#include "event.h"
#include "eventlog.h"
#include "memmap.h"
#include "session.h"
#include "tagmap.h"

static int pack_strv(msgpack_packer *pk, const struct mevi_strv *v)
{
	int err = msgpack_pack_array(pk, v->count);

	for (uint32_t i = 0; i < v->count && !err; i++) {
		err = msgpack_pack_str(pk, v->items[i].len);
		if (!err)
			err = msgpack_pack_str_body(pk, v->items[i].ptr, v->items[i].len);
	}
	return err;
}

static int pack_history(msgpack_packer *pk, const struct history *h)
{
	int err = msgpack_pack_array(pk, h->n * 2);

	for (uint32_t i = 0; i < h->n && !err; i++) {
		err = msgpack_pack_uint64(pk, h->pts[i].ts);
		if (!err)
			err = msgpack_pack_uint64(pk, h->pts[i].value);
	}
	return err;
}

static int pack_exit(msgpack_packer *pk, bool has, int32_t status)
{
	return has ? msgpack_pack_int32(pk, status) : msgpack_pack_nil(pk);
}

static int range_cb(const struct memmap_range *r, void *arg)
{
	msgpack_packer *pk = arg;

	if (msgpack_pack_uint64(pk, r->start) || msgpack_pack_uint64(pk, r->end) ||
	    msgpack_pack_uint8(pk, r->state))
		return -ENOMEM;
	return 0;
}

static int pack_mstr(msgpack_packer *pk, struct mevi_str s)
{
	return msgpack_pack_str(pk, s.len) || msgpack_pack_str_body(pk, s.ptr, s.len) ? -ENOMEM : 0;
}

struct tags_ctx {
	msgpack_packer *pk;
	const struct vmanames *names; /* vma map: value -> kind, name */
};

static int tag_cb(const struct tagmap_range *r, void *arg)
{
	struct tags_ctx *c = arg;

	if (msgpack_pack_uint64(c->pk, r->start) || msgpack_pack_uint64(c->pk, r->end))
		return -ENOMEM;
	if (c->names) {
		struct mevi_str name = {"", 0};
		uint8_t kind = MEVI_KIND_ANON;

		vmanames_get(c->names, r->value, &kind, &name); /* ids come from the table */
		return msgpack_pack_uint8(c->pk, kind) || pack_mstr(c->pk, name) ? -ENOMEM : 0;
	}
	return msgpack_pack_uint32(c->pk, r->value) ? -ENOMEM : 0;
}

/* A flat [start0, end0, value0, ...] (vma maps: [start0, end0, kind0, name0, ...]). */
static int pack_tags(msgpack_packer *pk, const struct tagmap *m, const struct vmanames *names)
{
	struct tags_ctx c = {pk, names};

	if (msgpack_pack_array(pk, (uint32_t)(tagmap_count(m) * (names ? 4 : 3))))
		return -ENOMEM;
	return tagmap_walk(m, tag_cb, &c) ? -ENOMEM : 0;
}

static int pack_threads(msgpack_packer *pk, const struct threadtab *t)
{
	if (msgpack_pack_array(pk, t->n * 2))
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n; i++)
		if (msgpack_pack_int32(pk, t->t[i].tid) || pack_mstr(pk, t->t[i].name))
			return -ENOMEM;
	return 0;
}

/* The frames of a stack as in the stack event: [[pc, func, module, source|nil], ...]. */
static int pack_frames(msgpack_packer *pk, const struct stack *st)
{
	if (msgpack_pack_array(pk, st->nframes))
		return -ENOMEM;
	for (uint32_t i = 0; i < st->nframes; i++) {
		const struct mevi_frame *f = &st->frames[i];

		if (msgpack_pack_array(pk, 4) || msgpack_pack_uint64(pk, f->pc) ||
		    pack_mstr(pk, f->func) || pack_mstr(pk, f->module) ||
		    (f->source.ptr ? pack_mstr(pk, f->source) : msgpack_pack_nil(pk)))
			return -ENOMEM;
	}
	return 0;
}

static int pack_stacks(msgpack_packer *pk, const struct stacktab *t)
{
	if (msgpack_pack_array(pk, t->count))
		return -ENOMEM;
	for (uint32_t i = 0; i < t->count; i++)
		if (msgpack_pack_array(pk, 2) || msgpack_pack_uint32(pk, t->stacks[i]->id) ||
		    pack_frames(pk, t->stacks[i]))
			return -ENOMEM;
	return 0;
}

static int pack_process(msgpack_packer *pk, const struct session *s, const struct process *p)
{
	size_t n = memmap_count(p->map);

	if (msgpack_pack_array(pk, 12) || msgpack_pack_int32(pk, p->pid) ||
	    msgpack_pack_int32(pk, p->ppid) || pack_strv(pk, &p->cmdline) ||
	    (p->alive ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ||
	    pack_exit(pk, p->has_exit_status, p->exit_status) ||
	    msgpack_pack_array(pk, (uint32_t)(n * 3)))
		return -ENOMEM;
	if (memmap_walk(p->map, range_cb, pk))
		return -ENOMEM;
	if (pack_history(pk, &p->rss_history) || pack_tags(pk, p->vmas, &s->names) ||
	    pack_tags(pk, p->origins, NULL) || pack_tags(pk, p->touches, NULL) ||
	    pack_threads(pk, &p->threads) ||
	    pack_tags(pk, p->written, NULL)) /* version 3: t in ms (heatmap.h) */
		return -ENOMEM;
	return 0;
}

static int pack_session(msgpack_packer *pk, const struct session *s)
{
	if (msgpack_pack_array(pk, 12) || msgpack_pack_uint64(pk, s->id) ||
	    pack_strv(pk, &s->argv) || msgpack_pack_int32(pk, s->launcher_pid) ||
	    (s->alive ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ||
	    pack_exit(pk, s->has_exit_status, s->exit_status) || msgpack_pack_uint8(pk, s->mode) ||
	    msgpack_pack_uint64(pk, s->started_at) || msgpack_pack_array(pk, s->nprocs))
		return -ENOMEM;
	for (const struct process *p = s->procs_head; p; p = p->next)
		if (pack_process(pk, s, p))
			return -ENOMEM;
	if (pack_history(pk, &s->rss_history) || msgpack_pack_uint32(pk, s->sample_ms) ||
	    pack_stacks(pk, &s->stacks) || msgpack_pack_str(pk, strlen(s->engine)) ||
	    msgpack_pack_str_body(pk, s->engine, strlen(s->engine)))
		return -ENOMEM;
	return 0;
}

int snapshot_encode(const struct session_registry *reg, uint64_t now, msgpack_sbuffer *out)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	if (msgpack_pack_array(&pk, 4) || msgpack_pack_uint8(&pk, 0) ||
	    msgpack_pack_uint32(&pk, MEVI_PROTO_VERSION) || msgpack_pack_uint64(&pk, now) ||
	    msgpack_pack_array(&pk, reg->count))
		return -ENOMEM;
	for (const struct session *s = reg->head; s; s = s->next)
		if (pack_session(&pk, s))
			return -ENOMEM;
	return 0;
}

int snapshot_encode_moment(uint64_t session_id, uint64_t at, const struct session *s,
			   const struct eventlog_pos *pos, const char *why, uint64_t now,
			   msgpack_sbuffer *out)
{
	static const struct eventlog_pos zero;
	msgpack_packer pk;

	if (!s)
		pos = &zero;
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	if (msgpack_pack_array(&pk, 10) || msgpack_pack_uint8(&pk, 2) ||
	    msgpack_pack_uint32(&pk, MEVI_PROTO_VERSION) || msgpack_pack_uint64(&pk, now) ||
	    msgpack_pack_uint64(&pk, session_id) || msgpack_pack_uint64(&pk, at) ||
	    msgpack_pack_uint64(&pk, pos->ts) || msgpack_pack_uint64(&pk, pos->prev_ts) ||
	    msgpack_pack_uint64(&pk, pos->next_ts) || msgpack_pack_uint64(&pk, pos->end_ts))
		return -ENOMEM;
	if (s)
		return pack_session(&pk, s);
	if (msgpack_pack_str(&pk, strlen(why)) || msgpack_pack_str_body(&pk, why, strlen(why)))
		return -ENOMEM;
	return 0;
}
