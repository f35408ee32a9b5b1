#include "snapshot.h"

#include <errno.h>

#include <string.h>

#include "event.h"
#include "eventlog.h"
#include "memmap.h"
#include "session.h"

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

static int pack_process(msgpack_packer *pk, const struct process *p)
{
	size_t n = memmap_count(p->map);

	if (msgpack_pack_array(pk, 7) || msgpack_pack_int32(pk, p->pid) ||
	    msgpack_pack_int32(pk, p->ppid) || pack_strv(pk, &p->cmdline) ||
	    (p->alive ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ||
	    pack_exit(pk, p->has_exit_status, p->exit_status) ||
	    msgpack_pack_array(pk, (uint32_t)(n * 3)))
		return -ENOMEM;
	if (memmap_walk(p->map, range_cb, pk))
		return -ENOMEM;
	return pack_history(pk, &p->rss_history) ? -ENOMEM : 0;
}

static int pack_session(msgpack_packer *pk, const struct session *s)
{
	if (msgpack_pack_array(pk, 9) || msgpack_pack_uint64(pk, s->id) ||
	    pack_strv(pk, &s->argv) || msgpack_pack_int32(pk, s->launcher_pid) ||
	    (s->alive ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ||
	    pack_exit(pk, s->has_exit_status, s->exit_status) || msgpack_pack_uint8(pk, s->mode) ||
	    msgpack_pack_uint64(pk, s->started_at) || msgpack_pack_array(pk, s->nprocs))
		return -ENOMEM;
	for (const struct process *p = s->procs_head; p; p = p->next)
		if (pack_process(pk, p))
			return -ENOMEM;
	return pack_history(pk, &s->rss_history) ? -ENOMEM : 0;
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
