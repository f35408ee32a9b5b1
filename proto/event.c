/*
 * event — msgpack encoding of mevi events, batches and the daemon greeting.
 *
 * The byte layout is documented in proto/PROTOCOL.md; the golden files in
 * tests/vectors/wire/ pin it down. Every integer goes through msgpack-c's
 * pack_* functions, which always pick the smallest encoding that holds the
 * value, so the encoding of an event is unique.
 */
#include "event.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"

static const char *const event_type_names[MEVI_EV_TYPE_COUNT] = {
#define MEVI_EVENT(NAME, name, type, fields) [MEVI_EV_##NAME] = #name,
#include "events.def"
#undef MEVI_EVENT
};

static const char *const kind_names[MEVI_KIND_COUNT] = {
    [MEVI_KIND_ANON] = "anon",	     [MEVI_KIND_HEAP] = "heap",
    [MEVI_KIND_STACK] = "stack",     [MEVI_KIND_THREAD_STACK] = "thread_stack",
    [MEVI_KIND_FILE] = "file",	     [MEVI_KIND_SHMEM] = "shmem",
    [MEVI_KIND_SPECIAL] = "special",
};

const char *mevi_kind_name(unsigned kind)
{
	return kind < MEVI_KIND_COUNT ? kind_names[kind] : NULL;
}

int32_t mevi_exit_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return -1;
}

const char *mevi_event_type_name(unsigned type)
{
	if (type >= MEVI_EV_TYPE_COUNT)
		return NULL;
	return event_type_names[type];
}

/* Packs a byte string as msgpack str. Returns 0 or -1 (the packer's convention). */
static int pack_str(msgpack_packer *pk, const char *ptr, uint32_t len)
{
	if (msgpack_pack_str(pk, len))
		return -1;
	if (len == 0)
		return 0;
	return msgpack_pack_str_body(pk, ptr, len);
}

/* Packs a string list as an array of str. Returns 0 or -1. */
static int pack_strv(msgpack_packer *pk, const struct mevi_strv *v)
{
	if (msgpack_pack_array(pk, v->count))
		return -1;
	for (uint32_t i = 0; i < v->count; i++)
		if (pack_str(pk, v->items[i].ptr, v->items[i].len))
			return -1;
	return 0;
}

/* Packs one frame [pc, func, module, source|nil]. Returns 0 or -1. */
static int pack_frame(msgpack_packer *pk, const struct mevi_frame *f)
{
	if (msgpack_pack_array(pk, 4) || msgpack_pack_uint64(pk, f->pc) ||
	    pack_str(pk, f->func.ptr, f->func.len) || pack_str(pk, f->module.ptr, f->module.len))
		return -1;
	if (!f->source.ptr)
		return msgpack_pack_nil(pk);
	return pack_str(pk, f->source.ptr, f->source.len);
}

/* Packs a stack's frames as an array. Returns 0 or -1. */
static int pack_frames(msgpack_packer *pk, uint32_t n, const struct mevi_frame *frames)
{
	if (msgpack_pack_array(pk, n))
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (pack_frame(pk, &frames[i]))
			return -1;
	return 0;
}

static int pack_range(msgpack_packer *pk, const struct mevi_range *r)
{
	if (msgpack_pack_uint64(pk, r->start))
		return -1;
	return msgpack_pack_uint64(pk, r->end);
}

/* The wire elements each field kind of events.def takes. */
#define WIDTH_version 1
#define WIDTH_u8max   1
#define WIDTH_bool    1
#define WIDTH_u32     1
#define WIDTH_u64     1
#define WIDTH_tsrel   1
#define WIDTH_flags   1
#define WIDTH_status  1
#define WIDTH_pid     1
#define WIDTH_tidrep  1
#define WIDTH_range   2
#define WIDTH_state   1
#define WIDTH_str     1
#define WIDTH_strv    1
#define WIDTH_frames  1

/* The number of elements of the wire array of each event type, [type, pid,
 * ts] included (PROTOCOL.md, "Events"). */
static const uint8_t event_arity[MEVI_EV_TYPE_COUNT] = {
#define MEVI_F(kind, member, wire, arg)	     +WIDTH_##kind
#define MEVI_EVENT(NAME, name, type, fields) [MEVI_EV_##NAME] = 3 fields,
#include "events.def"
#undef MEVI_EVENT
#undef MEVI_F
};

unsigned mevi_event_arity(unsigned type)
{
	return type < MEVI_EV_TYPE_COUNT ? event_arity[type] : 0;
}

/* How each field kind of events.def is packed (f: the event's union member).
 * Each is 0 or -1, the packer's convention. */
#define PACK_version(pk, f, m) msgpack_pack_uint32(pk, (f)->m)
#define PACK_u8max(pk, f, m)   msgpack_pack_uint8(pk, (f)->m)
#define PACK_bool(pk, f, m)    ((f)->m ? msgpack_pack_true(pk) : msgpack_pack_false(pk))
#define PACK_u32(pk, f, m)     msgpack_pack_uint32(pk, (f)->m)
#define PACK_u64(pk, f, m)     msgpack_pack_uint64(pk, (f)->m)
#define PACK_tsrel(pk, f, m)   msgpack_pack_uint64(pk, (f)->m)
#define PACK_flags(pk, f, m)   msgpack_pack_uint32(pk, (f)->m)
#define PACK_status(pk, f, m)  msgpack_pack_int32(pk, (f)->m)
#define PACK_pid(pk, f, m)     msgpack_pack_int32(pk, (f)->m)
#define PACK_tidrep(pk, f, m)  msgpack_pack_int32(pk, (f)->m)
#define PACK_range(pk, f, m)   pack_range(pk, &(f)->m)
#define PACK_state(pk, f, m)   msgpack_pack_uint8(pk, (f)->m)
#define PACK_str(pk, f, m)     pack_str(pk, (f)->m.ptr, (f)->m.len)
#define PACK_strv(pk, f, m)    pack_strv(pk, &(f)->m)
#define PACK_frames(pk, f, m)  pack_frames(pk, (f)->n##m, (f)->m)

/*
 * Packs one event: the array header, [type, pid, ts], then the fields
 * events.def lists. The encoder trusts its caller: an event type outside the
 * enum is a broken invariant, not bad input, and aborts.
 */
int mevi_event_pack(msgpack_packer *pk, const struct mevi_event *ev)
{
	int ret = -1;

	MEVI_ASSERT(ev->type < MEVI_EV_TYPE_COUNT);
	if (msgpack_pack_array(pk, event_arity[ev->type]) || msgpack_pack_uint8(pk, ev->type) ||
	    msgpack_pack_int32(pk, ev->pid) || msgpack_pack_uint64(pk, ev->ts))
		goto out;

	switch ((enum mevi_event_type)ev->type) {
#define MEVI_F(kind, member, wire, arg)                                                            \
	if (PACK_##kind(pk, f, member))                                                            \
		goto out;
#define MEVI_EVENT(NAME, name, type, fields) MEVI_EVENT_CASE(ev, NAME, name, fields)
#include "events.def"
#undef MEVI_EVENT
#undef MEVI_F
	}
	ret = 0;
out:
	/* msgpack-c reports every write failure as -1; with msgpack_sbuffer the
	 * only failure is a failed realloc. */
	return ret ? -ENOMEM : 0;
}

void mevi_batch_encoder_init(struct mevi_batch_encoder *enc)
{
	msgpack_sbuffer_init(&enc->body);
	msgpack_packer_init(&enc->pk, &enc->body, msgpack_sbuffer_write);
	enc->count = 0;
}

void mevi_batch_encoder_destroy(struct mevi_batch_encoder *enc)
{
	msgpack_sbuffer_destroy(&enc->body);
	msgpack_sbuffer_init(&enc->body);
	enc->count = 0;
}

/*
 * Packs ev after the events already added. On failure the body is truncated
 * back to what it was, so a failed add leaves the batch as it was.
 */
int mevi_batch_encoder_add(struct mevi_batch_encoder *enc, const struct mevi_event *ev)
{
	size_t before = enc->body.size;
	int ret;

	MEVI_ASSERT(enc->count < UINT32_MAX);
	ret = mevi_event_pack(&enc->pk, ev);
	if (ret) {
		enc->body.size = before;
		return ret;
	}
	enc->count++;
	return 0;
}

/*
 * Writes the array header into out, then the body. On failure out is
 * truncated back to its original size and enc keeps its events, so the
 * caller may retry.
 */
int mevi_batch_encoder_finish(struct mevi_batch_encoder *enc, msgpack_sbuffer *out)
{
	size_t before = out->size;
	msgpack_packer opk;

	if (enc->count == 0)
		return 0;
	msgpack_packer_init(&opk, out, msgpack_sbuffer_write);
	if (msgpack_pack_array(&opk, enc->count) ||
	    msgpack_sbuffer_write(out, enc->body.data, enc->body.size))
		goto err_truncate;
	msgpack_sbuffer_clear(&enc->body);
	enc->count = 0;
	return 0;

err_truncate:
	out->size = before;
	return -ENOMEM;
}

int mevi_hello_pack(msgpack_packer *pk, const struct mevi_hello *h)
{
	static const char magic[] = "mevid";

	if (msgpack_pack_array(pk, 3) || pack_str(pk, magic, sizeof(magic) - 1) ||
	    msgpack_pack_uint32(pk, h->version) || pack_str(pk, h->url.ptr, h->url.len))
		return -ENOMEM;
	return 0;
}
