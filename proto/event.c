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

#include "log.h"

static const char *const event_type_names[MEVI_EV_TYPE_COUNT] = {
    [MEVI_EV_SESSION_START] = "session_start",
    [MEVI_EV_SESSION_END] = "session_end",
    [MEVI_EV_PROC_START] = "proc_start",
    [MEVI_EV_PROC_EXEC] = "proc_exec",
    [MEVI_EV_PROC_EXIT] = "proc_exit",
    [MEVI_EV_MAP] = "map",
    [MEVI_EV_UNMAP] = "unmap",
    [MEVI_EV_REMAP] = "remap",
    [MEVI_EV_STATE] = "state",
    [MEVI_EV_STACK] = "stack",
    [MEVI_EV_ORIGIN] = "origin",
    [MEVI_EV_VMA] = "vma",
    [MEVI_EV_THREAD] = "thread",
    [MEVI_EV_TOUCH] = "touch",
    [MEVI_EV_SAMPLING] = "sampling",
    [MEVI_EV_ENGINE] = "engine",
    [MEVI_EV_WRITTEN] = "written",
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

static int pack_range(msgpack_packer *pk, const struct mevi_range *r)
{
	if (msgpack_pack_uint64(pk, r->start))
		return -1;
	return msgpack_pack_uint64(pk, r->end);
}

/*
 * The number of elements of the wire array of each event type, [type, pid,
 * ts] included (PROTOCOL.md, "Events"). decoder.c has the same table; the
 * round-trip tests keep the two in agreement.
 */
static const uint8_t event_arity[MEVI_EV_TYPE_COUNT] = {
    [MEVI_EV_SESSION_START] = 9, [MEVI_EV_SESSION_END] = 4, [MEVI_EV_PROC_START] = 6,
    [MEVI_EV_PROC_EXEC] = 4,	 [MEVI_EV_PROC_EXIT] = 4,   [MEVI_EV_MAP] = 6,
    [MEVI_EV_UNMAP] = 5,	 [MEVI_EV_REMAP] = 7,	    [MEVI_EV_STATE] = 6,
    [MEVI_EV_STACK] = 5,	 [MEVI_EV_ORIGIN] = 6,	    [MEVI_EV_VMA] = 7,
    [MEVI_EV_THREAD] = 5,	 [MEVI_EV_TOUCH] = 6,	    [MEVI_EV_SAMPLING] = 4,
    [MEVI_EV_ENGINE] = 6,	 [MEVI_EV_WRITTEN] = 6,
};

unsigned mevi_event_arity(unsigned type)
{
	return type < MEVI_EV_TYPE_COUNT ? event_arity[type] : 0;
}

/*
 * Packs one event. The encoder trusts its caller: an event type outside the
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
	case MEVI_EV_SESSION_START:
		if (msgpack_pack_uint32(pk, ev->session_start.version) ||
		    msgpack_pack_uint8(pk, ev->session_start.mode) ||
		    (ev->session_start.resume ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ||
		    msgpack_pack_uint64(pk, ev->session_start.started_at) ||
		    pack_strv(pk, &ev->session_start.argv) ||
		    msgpack_pack_uint32(pk, ev->session_start.sample_ms))
			goto out;
		break;
	case MEVI_EV_SESSION_END:
		if (msgpack_pack_int32(pk, ev->session_end.status))
			goto out;
		break;
	case MEVI_EV_PROC_START:
		if (msgpack_pack_int32(pk, ev->proc_start.ppid) ||
		    msgpack_pack_uint32(pk, ev->proc_start.flags) ||
		    pack_strv(pk, &ev->proc_start.cmdline))
			goto out;
		break;
	case MEVI_EV_PROC_EXEC:
		if (pack_strv(pk, &ev->proc_exec.cmdline))
			goto out;
		break;
	case MEVI_EV_PROC_EXIT:
		if (msgpack_pack_int32(pk, ev->proc_exit.status))
			goto out;
		break;
	case MEVI_EV_MAP:
		if (pack_range(pk, &ev->map.range) || msgpack_pack_uint8(pk, ev->map.state))
			goto out;
		break;
	case MEVI_EV_UNMAP:
		if (pack_range(pk, &ev->unmap.range))
			goto out;
		break;
	case MEVI_EV_REMAP:
		if (pack_range(pk, &ev->remap.from) || pack_range(pk, &ev->remap.to))
			goto out;
		break;
	case MEVI_EV_STATE:
		if (pack_range(pk, &ev->state.range) || msgpack_pack_uint8(pk, ev->state.state))
			goto out;
		break;
	case MEVI_EV_STACK:
		if (msgpack_pack_uint32(pk, ev->stack.id) ||
		    msgpack_pack_array(pk, ev->stack.nframes))
			goto out;
		for (uint32_t i = 0; i < ev->stack.nframes; i++)
			if (pack_frame(pk, &ev->stack.frames[i]))
				goto out;
		break;
	case MEVI_EV_ORIGIN:
		if (pack_range(pk, &ev->origin.range) ||
		    msgpack_pack_uint32(pk, ev->origin.stack_id))
			goto out;
		break;
	case MEVI_EV_VMA:
		if (pack_range(pk, &ev->vma.range) || msgpack_pack_uint8(pk, ev->vma.kind) ||
		    pack_str(pk, ev->vma.name.ptr, ev->vma.name.len))
			goto out;
		break;
	case MEVI_EV_THREAD:
		if (msgpack_pack_int32(pk, ev->thread.tid) ||
		    pack_str(pk, ev->thread.name.ptr, ev->thread.name.len))
			goto out;
		break;
	case MEVI_EV_TOUCH:
		if (pack_range(pk, &ev->touch.range) || msgpack_pack_int32(pk, ev->touch.tid))
			goto out;
		break;
	case MEVI_EV_SAMPLING:
		if (msgpack_pack_uint32(pk, ev->sampling.sample_ms))
			goto out;
		break;
	case MEVI_EV_ENGINE:
		if (pack_str(pk, ev->engine.name.ptr, ev->engine.name.len) ||
		    msgpack_pack_uint64(pk, ev->engine.corrections) ||
		    msgpack_pack_uint64(pk, ev->engine.drops))
			goto out;
		break;
	case MEVI_EV_WRITTEN:
		if (pack_range(pk, &ev->written.range) || msgpack_pack_uint64(pk, ev->written.t))
			goto out;
		break;
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
