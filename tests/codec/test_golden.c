/*
 * test_golden — pins the wire format to two checked-in files that the
 * TypeScript frontend's decoder is tested against too:
 *
 *   tests/vectors/wire/events.msgpack  one batch holding the events below,
 *                                      exactly as mevi_batch_encoder encodes it
 *   tests/vectors/wire/events.json     the same events as a JSON array of
 *                                      {"type": "<name>", "pid": N, "ts": N,
 *                                       ...fields named as in struct mevi_event}
 *
 * The test encodes golden_events[] and compares the bytes with events.msgpack,
 * decodes events.msgpack and compares the events, and reads events.json and
 * compares it, field by field, with golden_events[]. Every number in the JSON
 * stays below 2^53 so that JavaScript reads it exactly.
 *
 * The files are stable: change them only with the protocol version. To
 * regenerate them after a deliberate change to golden_events[] (or to the
 * format, with MEVI_PROTO_VERSION bumped), run from the build directory:
 *
 *     MEVI_REGEN_GOLDEN=1 ./tests/codec/test_golden
 *
 * which rewrites both files in the source tree and then checks them as usual.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "codec_test.h"

#ifndef MEVI_WIRE_DIR
#error "MEVI_WIRE_DIR must name tests/vectors/wire"
#endif

#define STR(s)                                                                                     \
	{                                                                                          \
		.ptr = (s), .len = sizeof(s) - 1                                                   \
	}
#define STRV(a)                                                                                    \
	{                                                                                          \
		.count = sizeof(a) / sizeof(a[0]), .items = (struct mevi_str *)(a)                 \
	}

/* 40 bytes: a str8. */
#define S40 "abcdefghijklmnopqrstuvwxyz0123456789ABCD"
/* 300 bytes: a str16. */
#define S10  "0123456789"
#define S100 S10 S10 S10 S10 S10 S10 S10 S10 S10 S10
#define S300 S100 S100 S100

static const struct mevi_str argv_prog[] = {
    STR("/usr/bin/prog"), STR("--name=h\xc3\xa9llo w\xc3\xb6rld"), STR(""), STR(S40)};
static const struct mevi_str cmd_prog[] = {STR("/usr/bin/prog"),
					   STR("--name=h\xc3\xa9llo w\xc3\xb6rld")};
static const struct mevi_str cmd_sh[] = {STR("/bin/sh"), STR("-c"), STR(S300)};
static const struct mevi_str cmd_x[] = {STR("x")};

/* A stack of two frames: with and without a source line. */
static const struct mevi_frame golden_frames[] = {
    {UINT64_C(0x555555555189), STR("alloc_big_a+0x1c"), STR("prog"), STR("prog.c:31")},
    {UINT64_C(0x7ffff7df324a), STR("__libc_start_call_main+0x7a"), STR("libc.so.6"), {NULL, 0}},
};

/*
 * The golden events: every type, every state and mode, both resume values,
 * flags 0 and 1, empty and non-empty string lists (UTF-8, empty, str8 and
 * str16 strings), pids 1 and 2^31-1, statuses -1, 0, 137 and 255, and
 * integers in every msgpack width (fixint, uint8 .. uint64) up to 2^53-1.
 */
static const struct mevi_event golden_events[] = {
    {.type = MEVI_EV_SESSION_START,
     .pid = 4242,
     .ts = 0,
     .session_start = {MEVI_PROTO_VERSION, MEVI_MODE_EXACT, false, UINT64_C(1700000000000000),
		       STRV(argv_prog), 0}},
    {.type = MEVI_EV_PROC_START, .pid = 4243, .ts = 200, .proc_start = {4242, 0, STRV(cmd_prog)}},
    {.type = MEVI_EV_MAP,
     .pid = 4243,
     .ts = 1000,
     .map = {{UINT64_C(0x55555555a000), UINT64_C(0x55555557b000)}, 0}},
    {.type = MEVI_EV_STATE,
     .pid = 4243,
     .ts = 2500,
     .state = {{UINT64_C(0x55555555a000), UINT64_C(0x55555555c000)}, 1}},
    {.type = MEVI_EV_MAP,
     .pid = 4243,
     .ts = 3000,
     .map = {{UINT64_C(0x7ffff7d00000), UINT64_C(0x7ffff7e00000)}, 2}},
    {.type = MEVI_EV_REMAP,
     .pid = 4243,
     .ts = 4000,
     .remap = {{UINT64_C(0x7ffff7d00000), UINT64_C(0x7ffff7e00000)},
	       {UINT64_C(0x7fffe0000000), UINT64_C(0x7fffe0200000)}}},
    {.type = MEVI_EV_UNMAP,
     .pid = 4243,
     .ts = 5000,
     .unmap = {{UINT64_C(0x7fffe0000000), UINT64_C(0x7fffe0100000)}}},
    {.type = MEVI_EV_PROC_START,
     .pid = 4244,
     .ts = 6000,
     .proc_start = {4243, MEVI_PROC_INHERIT_MAP, {0, NULL}}},
    {.type = MEVI_EV_PROC_EXEC, .pid = 4244, .ts = 7000, .proc_exec = {STRV(cmd_sh)}},
    {.type = MEVI_EV_MAP, .pid = 4244, .ts = 65536, .map = {{0, 4096}, 1}},
    {.type = MEVI_EV_MAP,
     .pid = 4244,
     .ts = UINT64_C(4294967296),
     .map = {{UINT64_C(0x1fffffffffe000), UINT64_C(0x1ffffffffff000)}, 1}},
    {.type = MEVI_EV_STATE,
     .pid = 4244,
     .ts = UINT64_C(4294967297),
     .state = {{UINT64_C(0x1fffffffffe000), UINT64_C(0x1ffffffffff000)}, 0}},
    {.type = MEVI_EV_PROC_EXIT, .pid = 4244, .ts = UINT64_C(9007199254740991), .proc_exit = {-1}},
    {.type = MEVI_EV_PROC_EXIT, .pid = 4243, .ts = 9000000, .proc_exit = {137}},
    {.type = MEVI_EV_PROC_START,
     .pid = 2147483647,
     .ts = 9000001,
     .proc_start = {1, 0, STRV(cmd_x)}},
    {.type = MEVI_EV_PROC_EXIT, .pid = 2147483647, .ts = 9000002, .proc_exit = {255}},
    {.type = MEVI_EV_PROC_START, .pid = 1, .ts = 9000003, .proc_start = {1, 0, {0, NULL}}},
    {.type = MEVI_EV_SESSION_START,
     .pid = 4242,
     .ts = 10000000,
     .session_start =
	 {MEVI_PROTO_VERSION, MEVI_MODE_SAMPLED, true, UINT64_C(1700000000000000), {0, NULL}, 50}},
    {.type = MEVI_EV_PROC_START, .pid = 4243, .ts = 10000000, .proc_start = {4242, 0, {0, NULL}}},
    {.type = MEVI_EV_MAP,
     .pid = 4243,
     .ts = 10000000,
     .map = {{UINT64_C(0x55555555a000), UINT64_C(0x55555557b000)}, 3}},
    {.type = MEVI_EV_VMA,
     .pid = 4243,
     .ts = 10000000,
     .vma = {{UINT64_C(0x55555555a000), UINT64_C(0x55555557b000)}, MEVI_KIND_HEAP, STR("")}},
    {.type = MEVI_EV_VMA,
     .pid = 4243,
     .ts = 10000000,
     .vma = {{UINT64_C(0x7ffff7d00000), UINT64_C(0x7ffff7d28000)},
	     MEVI_KIND_FILE,
	     STR("/usr/lib/x86_64-linux-gnu/libc.so.6")}},
    {.type = MEVI_EV_VMA,
     .pid = 4243,
     .ts = 10000000,
     .vma = {{UINT64_C(0x7ffff6000000), UINT64_C(0x7ffff6800000)},
	     MEVI_KIND_THREAD_STACK,
	     STR("4245")}},
    {.type = MEVI_EV_VMA,
     .pid = 4243,
     .ts = 10000000,
     .vma = {{UINT64_C(0x7ffff7fc1000), UINT64_C(0x7ffff7fc3000)},
	     MEVI_KIND_SPECIAL,
	     STR("[vdso]")}},
    {.type = MEVI_EV_STACK,
     .pid = 4243,
     .ts = 10000001,
     .stack = {7, 2, (struct mevi_frame *)golden_frames}},
    {.type = MEVI_EV_ORIGIN,
     .pid = 4243,
     .ts = 10000001,
     .origin = {{UINT64_C(0x7ffff6000000), UINT64_C(0x7ffff6800000)}, 7}},
    {.type = MEVI_EV_STACK, .pid = 4243, .ts = 10000001, .stack = {UINT32_MAX, 0, NULL}},
    {.type = MEVI_EV_THREAD, .pid = 4243, .ts = 10000002, .thread = {4245, STR("worker-1")}},
    {.type = MEVI_EV_TOUCH,
     .pid = 4243,
     .ts = 10000002,
     .touch = {{UINT64_C(0x7ffff6000000), UINT64_C(0x7ffff6001000)}, 4245}},
    {.type = MEVI_EV_SAMPLING, .pid = 4242, .ts = 10000003, .sampling = {200}},
    {.type = MEVI_EV_ENGINE, .pid = 4242, .ts = 10000004, .engine = {STR("ebpf"), 3, 70000}},
    {.type = MEVI_EV_WRITTEN,
     .pid = 4243,
     .ts = 1000300000,
     .written = {{UINT64_C(0x7ffff6000000), UINT64_C(0x7ffff6003000)}, 1000000000}},
    {.type = MEVI_EV_SESSION_END, .pid = 4242, .ts = 10000001, .session_end = {0}},
};
#define GOLDEN_COUNT (sizeof(golden_events) / sizeof(golden_events[0]))

static const char msgpack_path[] = MEVI_WIRE_DIR "/events.msgpack";
static const char json_path[] = MEVI_WIRE_DIR "/events.json";

static void encode_golden(msgpack_sbuffer *out)
{
	struct mevi_batch_encoder enc;

	mevi_batch_encoder_init(&enc);
	for (size_t i = 0; i < GOLDEN_COUNT; i++)
		assert_int_equal(mevi_batch_encoder_add(&enc, &golden_events[i]), 0);
	assert_int_equal(mevi_batch_encoder_finish(&enc, out), 0);
	mevi_batch_encoder_destroy(&enc);
}

static void json_str(FILE *f, const struct mevi_str *s)
{
	fputc('"', f);
	for (uint32_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->ptr[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_strv(FILE *f, const char *name, const struct mevi_strv *v)
{
	fprintf(f, ", \"%s\": [", name);
	for (uint32_t i = 0; i < v->count; i++) {
		if (i)
			fputs(", ", f);
		json_str(f, &v->items[i]);
	}
	fputc(']', f);
}

/* Writes events.json: one event per line, fields in wire order. */
static void write_json(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("[\n", f);
	for (size_t i = 0; i < GOLDEN_COUNT; i++) {
		const struct mevi_event *e = &golden_events[i];

		fprintf(f, "  {\"type\": \"%s\", \"pid\": %" PRId32 ", \"ts\": %" PRIu64,
			mevi_event_type_name(e->type), e->pid, e->ts);
		switch ((enum mevi_event_type)e->type) {
		case MEVI_EV_SESSION_START:
			fprintf(f,
				", \"version\": %" PRIu32 ", \"mode\": %u, \"resume\": %s"
				", \"started_at\": %" PRIu64,
				e->session_start.version, e->session_start.mode,
				e->session_start.resume ? "true" : "false",
				e->session_start.started_at);
			json_strv(f, "argv", &e->session_start.argv);
			fprintf(f, ", \"sample_ms\": %" PRIu32, e->session_start.sample_ms);
			break;
		case MEVI_EV_SESSION_END:
			fprintf(f, ", \"status\": %" PRId32, e->session_end.status);
			break;
		case MEVI_EV_PROC_START:
			fprintf(f, ", \"ppid\": %" PRId32 ", \"flags\": %" PRIu32,
				e->proc_start.ppid, e->proc_start.flags);
			json_strv(f, "cmdline", &e->proc_start.cmdline);
			break;
		case MEVI_EV_PROC_EXEC:
			json_strv(f, "cmdline", &e->proc_exec.cmdline);
			break;
		case MEVI_EV_PROC_EXIT:
			fprintf(f, ", \"status\": %" PRId32, e->proc_exit.status);
			break;
		case MEVI_EV_MAP:
			fprintf(f, ", \"start\": %" PRIu64 ", \"end\": %" PRIu64 ", \"state\": %u",
				e->map.range.start, e->map.range.end, e->map.state);
			break;
		case MEVI_EV_UNMAP:
			fprintf(f, ", \"start\": %" PRIu64 ", \"end\": %" PRIu64,
				e->unmap.range.start, e->unmap.range.end);
			break;
		case MEVI_EV_REMAP:
			fprintf(f,
				", \"from_start\": %" PRIu64 ", \"from_end\": %" PRIu64
				", \"to_start\": %" PRIu64 ", \"to_end\": %" PRIu64,
				e->remap.from.start, e->remap.from.end, e->remap.to.start,
				e->remap.to.end);
			break;
		case MEVI_EV_STATE:
			fprintf(f, ", \"start\": %" PRIu64 ", \"end\": %" PRIu64 ", \"state\": %u",
				e->state.range.start, e->state.range.end, e->state.state);
			break;
		case MEVI_EV_STACK:
			fprintf(f, ", \"stack_id\": %" PRIu32 ", \"frames\": [", e->stack.id);
			for (uint32_t k = 0; k < e->stack.nframes; k++) {
				const struct mevi_frame *fr = &e->stack.frames[k];

				fprintf(f, "%s[%" PRIu64 ", ", k ? ", " : "", fr->pc);
				json_str(f, &fr->func);
				fputs(", ", f);
				json_str(f, &fr->module);
				fputs(", ", f);
				if (fr->source.ptr)
					json_str(f, &fr->source);
				else
					fputs("null", f);
				fputc(']', f);
			}
			fputc(']', f);
			break;
		case MEVI_EV_ORIGIN:
			fprintf(f,
				", \"start\": %" PRIu64 ", \"end\": %" PRIu64
				", \"stack_id\": %" PRIu32,
				e->origin.range.start, e->origin.range.end, e->origin.stack_id);
			break;
		case MEVI_EV_VMA:
			fprintf(f, ", \"start\": %" PRIu64 ", \"end\": %" PRIu64 ", \"kind\": %u",
				e->vma.range.start, e->vma.range.end, e->vma.kind);
			fputs(", \"name\": ", f);
			json_str(f, &e->vma.name);
			break;
		case MEVI_EV_THREAD:
			fprintf(f, ", \"tid\": %" PRId32 ", \"name\": ", e->thread.tid);
			json_str(f, &e->thread.name);
			break;
		case MEVI_EV_TOUCH:
			fprintf(f,
				", \"start\": %" PRIu64 ", \"end\": %" PRIu64 ", \"tid\": %" PRId32,
				e->touch.range.start, e->touch.range.end, e->touch.tid);
			break;
		case MEVI_EV_SAMPLING:
			fprintf(f, ", \"sample_ms\": %" PRIu32, e->sampling.sample_ms);
			break;
		case MEVI_EV_ENGINE:
			fputs(", \"name\": ", f);
			json_str(f, &e->engine.name);
			fprintf(f, ", \"corrections\": %" PRIu64 ", \"drops\": %" PRIu64,
				e->engine.corrections, e->engine.drops);
			break;
		case MEVI_EV_WRITTEN:
			fprintf(f,
				", \"start\": %" PRIu64 ", \"end\": %" PRIu64 ", \"t\": %" PRIu64,
				e->written.range.start, e->written.range.end, e->written.t);
			break;
		}
		fprintf(f, "}%s\n", i + 1 < GOLDEN_COUNT ? "," : "");
	}
	fputs("]\n", f);
	assert_int_equal(fclose(f), 0);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Reads a whole file; the caller frees *data. */
static void read_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (!f)
		fail_msg("cannot open %s (regenerate with MEVI_REGEN_GOLDEN=1)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	*data = malloc((size_t)size + 1);
	assert_non_null(*data);
	assert_int_equal(fread(*data, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*len = (size_t)size;
}

static int setup(void **state)
{
	const char *regen = getenv("MEVI_REGEN_GOLDEN");
	msgpack_sbuffer out;

	if (!regen || strcmp(regen, "1") != 0)
		return 0;
	msgpack_sbuffer_init(&out);
	encode_golden(&out);
	write_file(msgpack_path, out.data, out.size);
	write_json(json_path);
	fprintf(stderr, "test_golden: rewrote %s and %s\n", msgpack_path, json_path);
	msgpack_sbuffer_destroy(&out);
	return 0;
}

/* The encoder produces events.msgpack byte for byte. */
static void test_encode_matches_file(void **state)
{
	msgpack_sbuffer out;
	char *data;
	size_t len;

	msgpack_sbuffer_init(&out);
	encode_golden(&out);
	read_file(msgpack_path, &data, &len);
	assert_int_equal(len, out.size);
	for (size_t i = 0; i < len; i++)
		if (data[i] != out.data[i])
			fail_msg("events.msgpack differs from the encoder at byte %zu", i);
	free(data);
	msgpack_sbuffer_destroy(&out);
}

/* events.msgpack decodes, in any split, into golden_events as one batch. */
static void test_decode_file(void **state)
{
	struct mevi_decoder d;
	const struct mevi_event *ev;
	struct transcript whole, bytes;
	uint32_t n;
	char *data;
	size_t len;

	read_file(msgpack_path, &data, &len);
	assert_int_equal(mevi_decoder_init(&d, NULL), 0);
	assert_int_equal(mevi_decoder_feed(&d, data, len), 0);
	assert_int_equal(mevi_decoder_next(&d, &ev, &n), 1);
	assert_int_equal(n, GOLDEN_COUNT);
	for (uint32_t i = 0; i < n; i++)
		if (!event_equal(&ev[i], &golden_events[i]))
			fail_msg("decoded event %" PRIu32 " differs", i);
	assert_int_equal(mevi_decoder_next(&d, &ev, &n), 0);
	mevi_decoder_destroy(&d);

	decode_stream(data, len, NULL, SPLIT_WHOLE, 0, 0, &whole);
	decode_stream(data, len, NULL, SPLIT_BYTES, 0, 0, &bytes);
	assert_true(transcript_equal(&whole, &bytes));
	assert_int_equal(whole.batches, 1);
	transcript_destroy(&whole);
	transcript_destroy(&bytes);
	free(data);
}

/* Field accessors for the JSON check; each fails the test on a mismatch. */
static json_object *field(json_object *o, size_t i, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v))
		fail_msg("events.json[%zu]: no \"%s\"", i, name);
	return v;
}

static int64_t field_int(json_object *o, size_t i, const char *name)
{
	json_object *v = field(o, i, name);
	int64_t x;

	if (!json_object_is_type(v, json_type_int))
		fail_msg("events.json[%zu].%s is not an integer", i, name);
	x = json_object_get_int64(v);
	if (x >= (INT64_C(1) << 53) || x <= -(INT64_C(1) << 53))
		fail_msg("events.json[%zu].%s = %" PRId64 " is not below 2^53", i, name, x);
	return x;
}

/* The golden strings are NUL-free C literals, so string compares suffice. */
static void field_frames(json_object *o, size_t i,
			 const typeof(((struct mevi_event *)0)->stack) *want)
{
	json_object *a = field(o, i, "frames");

	assert_true(json_object_is_type(a, json_type_array));
	assert_int_equal(json_object_array_length(a), want->nframes);
	for (uint32_t k = 0; k < want->nframes; k++) {
		json_object *fr = json_object_array_get_idx(a, k);
		json_object *src = json_object_array_get_idx(fr, 3);

		assert_int_equal(json_object_array_length(fr), 4);
		assert_int_equal(json_object_get_uint64(json_object_array_get_idx(fr, 0)),
				 want->frames[k].pc);
		assert_string_equal(json_object_get_string(json_object_array_get_idx(fr, 1)),
				    want->frames[k].func.ptr);
		assert_string_equal(json_object_get_string(json_object_array_get_idx(fr, 2)),
				    want->frames[k].module.ptr);
		if (want->frames[k].source.ptr)
			assert_string_equal(json_object_get_string(src),
					    want->frames[k].source.ptr);
		else
			assert_null(src);
	}
}

static void field_strv(json_object *o, size_t i, const char *name, const struct mevi_strv *want)
{
	json_object *v = field(o, i, name);
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		fail_msg("events.json[%zu].%s is not an array", i, name);
	n = json_object_array_length(v);
	assert_int_equal(n, want->count);
	for (size_t k = 0; k < n; k++) {
		json_object *s = json_object_array_get_idx(v, k);

		if (!json_object_is_type(s, json_type_string))
			fail_msg("events.json[%zu].%s[%zu] is not a string", i, name, k);
		assert_int_equal((size_t)json_object_get_string_len(s), want->items[k].len);
		assert_memory_equal(json_object_get_string(s), want->items[k].ptr,
				    want->items[k].len);
	}
}

/* events.json describes golden_events, with exactly the documented keys. */
static void test_json_matches(void **state)
{
	static const size_t nkeys[MEVI_EV_TYPE_COUNT] = {
	    [MEVI_EV_SESSION_START] = 9, [MEVI_EV_SESSION_END] = 4, [MEVI_EV_PROC_START] = 6,
	    [MEVI_EV_PROC_EXEC] = 4,	 [MEVI_EV_PROC_EXIT] = 4,   [MEVI_EV_MAP] = 6,
	    [MEVI_EV_UNMAP] = 5,	 [MEVI_EV_REMAP] = 7,	    [MEVI_EV_STATE] = 6,
	    [MEVI_EV_STACK] = 5,	 [MEVI_EV_ORIGIN] = 6,	    [MEVI_EV_VMA] = 7,
	    [MEVI_EV_THREAD] = 5,	 [MEVI_EV_TOUCH] = 6,	    [MEVI_EV_SAMPLING] = 4,
	    [MEVI_EV_ENGINE] = 6,	 [MEVI_EV_WRITTEN] = 6,
	};
	json_object *root = json_object_from_file(json_path);

	if (!root)
		fail_msg("cannot parse %s", json_path);
	assert_true(json_object_is_type(root, json_type_array));
	assert_int_equal(json_object_array_length(root), GOLDEN_COUNT);
	for (size_t i = 0; i < GOLDEN_COUNT; i++) {
		const struct mevi_event *e = &golden_events[i];
		json_object *o = json_object_array_get_idx(root, i);

		assert_true(json_object_is_type(o, json_type_object));
		assert_string_equal(json_object_get_string(field(o, i, "type")),
				    mevi_event_type_name(e->type));
		assert_int_equal((size_t)json_object_object_length(o), nkeys[e->type]);
		assert_int_equal(field_int(o, i, "pid"), e->pid);
		assert_int_equal(field_int(o, i, "ts"), e->ts);
		switch ((enum mevi_event_type)e->type) {
		case MEVI_EV_SESSION_START:
			assert_int_equal(field_int(o, i, "version"), e->session_start.version);
			assert_int_equal(field_int(o, i, "mode"), e->session_start.mode);
			assert_true(json_object_is_type(field(o, i, "resume"), json_type_boolean));
			assert_int_equal(json_object_get_boolean(field(o, i, "resume")),
					 e->session_start.resume);
			assert_int_equal(field_int(o, i, "started_at"),
					 e->session_start.started_at);
			field_strv(o, i, "argv", &e->session_start.argv);
			assert_int_equal(field_int(o, i, "sample_ms"), e->session_start.sample_ms);
			break;
		case MEVI_EV_SESSION_END:
			assert_int_equal(field_int(o, i, "status"), e->session_end.status);
			break;
		case MEVI_EV_PROC_START:
			assert_int_equal(field_int(o, i, "ppid"), e->proc_start.ppid);
			assert_int_equal(field_int(o, i, "flags"), e->proc_start.flags);
			field_strv(o, i, "cmdline", &e->proc_start.cmdline);
			break;
		case MEVI_EV_PROC_EXEC:
			field_strv(o, i, "cmdline", &e->proc_exec.cmdline);
			break;
		case MEVI_EV_PROC_EXIT:
			assert_int_equal(field_int(o, i, "status"), e->proc_exit.status);
			break;
		case MEVI_EV_MAP:
			assert_int_equal(field_int(o, i, "start"), e->map.range.start);
			assert_int_equal(field_int(o, i, "end"), e->map.range.end);
			assert_int_equal(field_int(o, i, "state"), e->map.state);
			break;
		case MEVI_EV_UNMAP:
			assert_int_equal(field_int(o, i, "start"), e->unmap.range.start);
			assert_int_equal(field_int(o, i, "end"), e->unmap.range.end);
			break;
		case MEVI_EV_REMAP:
			assert_int_equal(field_int(o, i, "from_start"), e->remap.from.start);
			assert_int_equal(field_int(o, i, "from_end"), e->remap.from.end);
			assert_int_equal(field_int(o, i, "to_start"), e->remap.to.start);
			assert_int_equal(field_int(o, i, "to_end"), e->remap.to.end);
			break;
		case MEVI_EV_STATE:
			assert_int_equal(field_int(o, i, "start"), e->state.range.start);
			assert_int_equal(field_int(o, i, "end"), e->state.range.end);
			assert_int_equal(field_int(o, i, "state"), e->state.state);
			break;
		case MEVI_EV_STACK:
			assert_int_equal(field_int(o, i, "stack_id"), e->stack.id);
			field_frames(o, i, &e->stack);
			break;
		case MEVI_EV_ORIGIN:
			assert_int_equal(field_int(o, i, "start"), e->origin.range.start);
			assert_int_equal(field_int(o, i, "end"), e->origin.range.end);
			assert_int_equal(field_int(o, i, "stack_id"), e->origin.stack_id);
			break;
		case MEVI_EV_VMA:
			assert_int_equal(field_int(o, i, "start"), e->vma.range.start);
			assert_int_equal(field_int(o, i, "end"), e->vma.range.end);
			assert_int_equal(field_int(o, i, "kind"), e->vma.kind);
			assert_string_equal(json_object_get_string(field(o, i, "name")),
					    e->vma.name.ptr);
			break;
		case MEVI_EV_THREAD:
			assert_int_equal(field_int(o, i, "tid"), e->thread.tid);
			assert_string_equal(json_object_get_string(field(o, i, "name")),
					    e->thread.name.ptr);
			break;
		case MEVI_EV_TOUCH:
			assert_int_equal(field_int(o, i, "start"), e->touch.range.start);
			assert_int_equal(field_int(o, i, "end"), e->touch.range.end);
			assert_int_equal(field_int(o, i, "tid"), e->touch.tid);
			break;
		case MEVI_EV_SAMPLING:
			assert_int_equal(field_int(o, i, "sample_ms"), e->sampling.sample_ms);
			break;
		case MEVI_EV_ENGINE:
			assert_string_equal(json_object_get_string(field(o, i, "name")),
					    e->engine.name.ptr);
			assert_int_equal(field_int(o, i, "corrections"), e->engine.corrections);
			assert_int_equal(field_int(o, i, "drops"), e->engine.drops);
			break;
		case MEVI_EV_WRITTEN:
			assert_int_equal(field_int(o, i, "start"), e->written.range.start);
			assert_int_equal(field_int(o, i, "end"), e->written.range.end);
			assert_int_equal(field_int(o, i, "t"), e->written.t);
			break;
		}
	}
	json_object_put(root);
}

/* Every type appears, and every integer width is exercised. */
static void test_coverage_of_vector(void **state)
{
	unsigned seen = 0;
	msgpack_sbuffer out;
	bool widths[256] = {false};

	for (size_t i = 0; i < GOLDEN_COUNT; i++)
		seen |= 1u << golden_events[i].type;
	assert_int_equal(seen, (1u << MEVI_EV_TYPE_COUNT) - 1);
	msgpack_sbuffer_init(&out);
	encode_golden(&out);
	for (size_t i = 0; i < out.size; i++)
		widths[(uint8_t)out.data[i]] = true;
	/* Loose but useful: the type bytes of uint8..uint64, str8, str16 and a
	 * negative fixint appear somewhere in the bytes. */
	assert_true(widths[0xcc] && widths[0xcd] && widths[0xce] && widths[0xcf]);
	assert_true(widths[0xd9] && widths[0xda] && widths[0xff] && widths[0xc2] && widths[0xc3]);
	msgpack_sbuffer_destroy(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_matches_file),
	    cmocka_unit_test(test_decode_file),
	    cmocka_unit_test(test_json_matches),
	    cmocka_unit_test(test_coverage_of_vector),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
