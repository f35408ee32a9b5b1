/* stockmsg — the engine stock socket's messages (stockmsg.h). */
#include "stockmsg.h"

#include <errno.h>
#include <string.h>

#include <msgpack.h>

static const char magic[] = "mevi-stock";

/* Copies sb into buf, or -ENOSPC; frees sb. */
static int take(msgpack_sbuffer *sb, char *buf, size_t len)
{
	int n = sb->size <= len && sb->size <= MEVI_STOCK_MSG_MAX ? (int)sb->size : -ENOSPC;

	if (n > 0)
		memcpy(buf, sb->data, sb->size);
	msgpack_sbuffer_destroy(sb);
	return n;
}

static void pack_head(msgpack_packer *pk, uint32_t n, uint32_t version)
{
	msgpack_pack_array(pk, n);
	msgpack_pack_str_with_body(pk, magic, sizeof(magic) - 1);
	msgpack_pack_uint32(pk, version);
}

static void pack_bool(msgpack_packer *pk, bool v)
{
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

int mevi_stock_request_encode(const struct mevi_stock_request *r, char *buf, size_t len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_head(&pk, 4, r->version);
	msgpack_pack_uint64(&pk, r->id);
	msgpack_pack_array(&pk, 7);
	pack_bool(&pk, r->config.exact);
	pack_bool(&pk, r->config.thp_always);
	pack_bool(&pk, r->config.want_stacks);
	pack_bool(&pk, r->config.stacks_all);
	msgpack_pack_uint64(&pk, r->config.wake_mark);
	msgpack_pack_uint32(&pk, r->config.ring_bytes);
	msgpack_pack_uint32(&pk, r->config.tracked_max);
	return take(&sb, buf, len);
}

static bool tp_id_ok(uint64_t id)
{
	return id > 0 && id <= MEVI_STOCK_TP_ID_MAX;
}

int mevi_stock_reply_encode(const struct mevi_stock_reply *r, char *buf, size_t len)
{
	size_t why = strnlen(r->why, sizeof(r->why));
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (r->ntp > MEVI_STOCK_TP_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < r->ntp; i++)
		if (!tp_id_ok(r->tp[i]))
			return -EINVAL;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_head(&pk, 5, r->version);
	if (r->granted)
		msgpack_pack_uint64(&pk, r->mask);
	else
		msgpack_pack_nil(&pk);
	msgpack_pack_str_with_body(&pk, r->why, why);
	if (r->ntp) {
		msgpack_pack_array(&pk, r->ntp);
		for (uint32_t i = 0; i < r->ntp; i++)
			msgpack_pack_uint32(&pk, r->tp[i]);
	} else {
		msgpack_pack_nil(&pk);
	}
	return take(&sb, buf, len);
}

/*
 * Unpacks the array at the start of buf and checks its head (magic, a
 * version). Returns the bytes it took, 0 when incomplete, -EPROTO. On
 * success *o is the array (in up), of n elements; or NULL when the version
 * is another one (of any length: only *version is read).
 */
static int unpack_head(const char *buf, size_t len, msgpack_unpacked *up, uint32_t n,
		       uint32_t *version, msgpack_object **o)
{
	size_t off = 0;
	msgpack_unpack_return ret;

	if (len > MEVI_STOCK_MSG_MAX)
		len = MEVI_STOCK_MSG_MAX;
	ret = msgpack_unpack_next(up, buf, len, &off);
	if (ret == MSGPACK_UNPACK_CONTINUE)
		return len == MEVI_STOCK_MSG_MAX ? -EPROTO : 0;
	if (ret != MSGPACK_UNPACK_SUCCESS || up->data.type != MSGPACK_OBJECT_ARRAY ||
	    up->data.via.array.size < 2)
		return -EPROTO;
	*o = up->data.via.array.ptr;
	if ((*o)[0].type != MSGPACK_OBJECT_STR || (*o)[0].via.str.size != sizeof(magic) - 1 ||
	    memcmp((*o)[0].via.str.ptr, magic, sizeof(magic) - 1) != 0 ||
	    (*o)[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || (*o)[1].via.u64 > UINT32_MAX)
		return -EPROTO;
	*version = (uint32_t)(*o)[1].via.u64;
	/* Another version's message is whole as it is: its version is all
	 * this side reads of it. */
	if (*version != MEVI_STOCK_VERSION)
		*o = NULL;
	else if (up->data.via.array.size != n)
		return -EPROTO;
	return (int)off;
}

static bool get_bool(const msgpack_object *o, bool *v)
{
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return false;
	*v = o->via.boolean;
	return true;
}

static bool get_uint(const msgpack_object *o, uint64_t max, uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
		return false;
	*v = o->via.u64;
	return true;
}

/* A config array: four bools, then three uints. */
static bool decode_config(const msgpack_object *o, struct mevi_stock_config *c)
{
	const msgpack_object *f;
	uint64_t ring, tracked;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 7)
		return false;
	f = o->via.array.ptr;
	if (!get_bool(&f[0], &c->exact) || !get_bool(&f[1], &c->thp_always) ||
	    !get_bool(&f[2], &c->want_stacks) || !get_bool(&f[3], &c->stacks_all) ||
	    !get_uint(&f[4], UINT64_MAX, &c->wake_mark) || !get_uint(&f[5], UINT32_MAX, &ring) ||
	    !get_uint(&f[6], UINT32_MAX, &tracked))
		return false;
	c->ring_bytes = (uint32_t)ring;
	c->tracked_max = (uint32_t)tracked;
	return true;
}

int mevi_stock_request_decode(const char *buf, size_t len, struct mevi_stock_request *r)
{
	msgpack_unpacked up;
	msgpack_object *o = NULL;
	int n;

	msgpack_unpacked_init(&up);
	*r = (struct mevi_stock_request){0};
	n = unpack_head(buf, len, &up, 4, &r->version, &o);
	if (n > 0 && o) {
		if (o[2].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    decode_config(&o[3], &r->config))
			r->id = o[2].via.u64;
		else
			n = -EPROTO;
		if (n < 0)
			r->config = (struct mevi_stock_config){0};
	}
	msgpack_unpacked_destroy(&up);
	return n;
}

/* The tracepoint ids: nil (none), or 1..MEVI_STOCK_TP_MAX valid ids. */
static bool decode_tp(const msgpack_object *o, struct mevi_stock_reply *r)
{
	r->ntp = 0;
	if (o->type == MSGPACK_OBJECT_NIL)
		return true;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0 ||
	    o->via.array.size > MEVI_STOCK_TP_MAX)
		return false;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		const msgpack_object *id = &o->via.array.ptr[i];

		if (id->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !tp_id_ok(id->via.u64))
			return false;
		r->tp[i] = (uint32_t)id->via.u64;
	}
	r->ntp = o->via.array.size;
	return true;
}

int mevi_stock_reply_decode(const char *buf, size_t len, struct mevi_stock_reply *r)
{
	msgpack_unpacked up;
	msgpack_object *o = NULL;
	int n;

	msgpack_unpacked_init(&up);
	*r = (struct mevi_stock_reply){0};
	n = unpack_head(buf, len, &up, 5, &r->version, &o);
	if (n > 0 && o && !decode_tp(&o[4], r))
		n = -EPROTO;
	if (n > 0 && o) {
		r->granted = o[2].type == MSGPACK_OBJECT_POSITIVE_INTEGER;
		r->mask = r->granted ? o[2].via.u64 : 0;
		if ((!r->granted && o[2].type != MSGPACK_OBJECT_NIL) ||
		    o[3].type != MSGPACK_OBJECT_STR) {
			n = -EPROTO;
		} else {
			size_t w = o[3].via.str.size;

			if (w >= sizeof(r->why))
				w = sizeof(r->why) - 1;
			memcpy(r->why, o[3].via.str.ptr, w);
			r->why[w] = '\0';
		}
	}
	msgpack_unpacked_destroy(&up);
	return n;
}
