/*
 * test_event — encoding of events, batches and the greeting, and round trips
 * of every event type (edge values included) through the batch encoder and
 * the streaming decoder; the wire's exit status of a wait(2) status.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec_test.h"

#define STR(s)                                                                                     \
	{                                                                                          \
		.ptr = (s), .len = sizeof(s) - 1                                                   \
	}

/* Encodes events as one batch into out. */
static void encode_batch(const struct mevi_event *ev, size_t n, msgpack_sbuffer *out)
{
	struct mevi_batch_encoder enc;

	mevi_batch_encoder_init(&enc);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(mevi_batch_encoder_add(&enc, &ev[i]), 0);
	assert_int_equal(enc.count, n);
	assert_int_equal(mevi_batch_encoder_finish(&enc, out), 0);
	assert_int_equal(enc.count, 0);
	mevi_batch_encoder_destroy(&enc);
}

/*
 * Decodes buf (one or more batches) in one feed and checks that the events,
 * concatenated over all batches, equal want[0..n).
 */
static void decode_expect(const void *buf, size_t len, const struct mevi_decoder_limits *limits,
			  const struct mevi_event *want, size_t n)
{
	struct mevi_decoder d;
	const struct mevi_event *ev;
	uint32_t count;
	size_t seen = 0;
	int ret;

	assert_int_equal(mevi_decoder_init(&d, limits), 0);
	assert_int_equal(mevi_decoder_feed(&d, buf, len), 0);
	while ((ret = mevi_decoder_next(&d, &ev, &count)) == 1) {
		for (uint32_t i = 0; i < count; i++) {
			assert_true(seen < n);
			if (!event_equal(&ev[i], &want[seen]))
				fail_msg("event %zu (%s) differs after the round trip", seen,
					 mevi_event_type_name(want[seen].type));
			seen++;
		}
	}
	if (ret != 0)
		fail_msg("decoder: %s: %s", mevi_decode_error_name(mevi_decoder_error(&d)),
			 mevi_decoder_errmsg(&d));
	assert_int_equal(seen, n);
	assert_int_equal(mevi_decoder_error(&d), MEVI_DECODE_OK);
	mevi_decoder_destroy(&d);
}

static void test_type_names(void **state)
{
	static const char *const names[MEVI_EV_TYPE_COUNT] = {
	    "session_start", "session_end", "proc_start", "proc_exec", "proc_exit", "map",
	    "unmap",	     "remap",	    "state",	  "stack",     "origin",    "vma",
	    "thread",	     "touch",	    "sampling",	  "engine",    "written",
	};

	for (unsigned i = 0; i < MEVI_EV_TYPE_COUNT; i++)
		assert_string_equal(mevi_event_type_name(i), names[i]);
	assert_null(mevi_event_type_name(MEVI_EV_TYPE_COUNT));
	assert_null(mevi_event_type_name(255));
	assert_null(mevi_event_type_name(~0u));
}

static void test_error_names(void **state)
{
	static const char *const names[] = {
	    "ok",	    "malformed", "not_batch",	   "batch_too_big",  "not_event",
	    "unknown_type", "arity",	 "field_type",	   "range_inverted", "range_unaligned",
	    "range_limit",  "bad_state", "string_too_big", "version",
	};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_string_equal(mevi_decode_error_name((enum mevi_decode_error)i), names[i]);
	assert_string_equal(mevi_decode_error_name((enum mevi_decode_error)99), "unknown");
}

/* The wire's exit status of real wait(2) statuses: exit codes, signals. */
static void test_exit_status(void **state)
{
	static const struct {
		int code, sig;
		int32_t want;
	} cases[] = {{0, 0, 0},
		     {3, 0, 3},
		     {255, 0, 255},
		     {0, SIGKILL, 128 + SIGKILL},
		     {0, SIGTERM, 128 + SIGTERM}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t pid = fork();
		int st;

		assert_true(pid >= 0);
		if (pid == 0) {
			if (cases[i].sig) {
				signal(cases[i].sig, SIG_DFL);
				raise(cases[i].sig);
			}
			_exit(cases[i].code);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_int_equal(mevi_exit_status(st), cases[i].want);
	}
	assert_int_equal(mevi_exit_status(0x137f), -1); /* stopped by SIGSTOP: not an end */
}

/* The exact bytes of one small event, as PROTOCOL.md shows them. */
static void test_pack_bytes(void **state)
{
	static const uint8_t want[] = {0x91, 0x96, 0x05, 0xcd, 0x04, 0xd2, 0x00,
				       0xcd, 0x10, 0x00, 0xcd, 0x20, 0x00, 0x01};
	struct mevi_event ev = {
	    .type = MEVI_EV_MAP, .pid = 1234, .ts = 0, .map = {{4096, 8192}, 1}};
	msgpack_sbuffer out;

	msgpack_sbuffer_init(&out);
	encode_batch(&ev, 1, &out);
	assert_int_equal(out.size, sizeof(want));
	assert_memory_equal(out.data, want, sizeof(want));
	msgpack_sbuffer_destroy(&out);
}

/* Integers take the smallest encoding; negative statuses are signed. */
static void test_pack_int_widths(void **state)
{
	struct mevi_event ev = {.type = MEVI_EV_PROC_EXIT, .pid = INT32_MAX, .ts = UINT64_MAX};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	static const uint8_t want_neg[] = {0x94, 0x04, 0xce, 0x7f, 0xff, 0xff, 0xff, 0xcf, 0xff,
					   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t want_255[] = {0x94, 0x04, 0x01, 0x00, 0xcc, 0xff};

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	ev.proc_exit.status = -1;
	assert_int_equal(mevi_event_pack(&pk, &ev), 0);
	assert_int_equal(sb.size, sizeof(want_neg));
	assert_memory_equal(sb.data, want_neg, sizeof(want_neg));

	msgpack_sbuffer_clear(&sb);
	ev.pid = 1;
	ev.ts = 0;
	ev.proc_exit.status = 255;
	assert_int_equal(mevi_event_pack(&pk, &ev), 0);
	assert_int_equal(sb.size, sizeof(want_255));
	assert_memory_equal(sb.data, want_255, sizeof(want_255));
	msgpack_sbuffer_destroy(&sb);
}

/* An empty batch appends nothing; finish resets the encoder. */
static void test_batch_encoder_lifecycle(void **state)
{
	struct mevi_batch_encoder enc;
	struct mevi_event ev = {.type = MEVI_EV_UNMAP, .pid = 7, .unmap = {{0, 4096}}};
	msgpack_sbuffer out;
	size_t one;

	msgpack_sbuffer_init(&out);
	mevi_batch_encoder_init(&enc);
	assert_int_equal(mevi_batch_encoder_finish(&enc, &out), 0);
	assert_int_equal(out.size, 0);

	assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
	assert_int_equal(mevi_batch_encoder_finish(&enc, &out), 0);
	one = out.size;
	assert_true(one > 0);
	assert_int_equal(((uint8_t *)out.data)[0], 0x91);
	/* Nothing left over: finishing again appends nothing. */
	assert_int_equal(mevi_batch_encoder_finish(&enc, &out), 0);
	assert_int_equal(out.size, one);
	/* The encoder is reusable and appends after what out holds. */
	assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
	assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
	assert_int_equal(mevi_batch_encoder_finish(&enc, &out), 0);
	assert_int_equal(((uint8_t *)out.data)[one], 0x92);
	assert_int_equal(out.size, one + 1 + 2 * (one - 1));
	mevi_batch_encoder_destroy(&enc);
	mevi_batch_encoder_destroy(&enc); /* idempotent */
	msgpack_sbuffer_destroy(&out);
}

/* A batch of more than 15 / 65535 events uses array16 / array32. */
static void test_batch_header_sizes(void **state)
{
	struct mevi_event ev = {.type = MEVI_EV_STATE, .pid = 1, .state = {{0, 4096}, 1}};
	struct mevi_batch_encoder enc;
	msgpack_sbuffer out;
	static const size_t counts[] = {15, 16, 65535, 65536};
	static const uint8_t headers[][5] = {
	    {0x9f}, {0xdc, 0x00, 0x10}, {0xdc, 0xff, 0xff}, {0xdd, 0x00, 0x01, 0x00, 0x00}};
	static const size_t hlen[] = {1, 3, 3, 5};

	for (size_t c = 0; c < 4; c++) {
		msgpack_sbuffer_init(&out);
		mevi_batch_encoder_init(&enc);
		for (size_t i = 0; i < counts[c]; i++)
			assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
		assert_int_equal(mevi_batch_encoder_finish(&enc, &out), 0);
		assert_memory_equal(out.data, headers[c], hlen[c]);
		mevi_batch_encoder_destroy(&enc);
		msgpack_sbuffer_destroy(&out);
	}
}

/* Every event type, with edge values, through one batch and back. */
static void test_roundtrip_edges(void **state)
{
	static char big[1u << 20]; /* exactly max_string_bytes */
	static const char odd[] = {'a', 0, (char)0xff, (char)0xc1, 'z'}; /* NUL, not UTF-8 */
	struct mevi_str argv1[] = {STR("prog"), STR(""), {odd, sizeof(odd)}, STR("h\xc3\xa9llo")};
	struct mevi_str argv_big[] = {{big, sizeof(big)}};
	struct mevi_str *many = calloc(65536, sizeof(*many));
	msgpack_sbuffer out;

	assert_non_null(many);
	memset(big, 'x', sizeof(big));
	for (size_t i = 0; i < 65536; i++)
		many[i] = (struct mevi_str)STR("a");

	const struct mevi_event ev[] = {
	    {.type = MEVI_EV_SESSION_START,
	     .pid = 1,
	     .ts = 0,
	     .session_start = {MEVI_PROTO_VERSION, MEVI_MODE_EXACT, false, 0, {0, NULL}, 0}},
	    {.type = MEVI_EV_SESSION_START,
	     .pid = INT32_MAX,
	     .ts = UINT64_MAX,
	     .session_start =
		 {MEVI_PROTO_VERSION, MEVI_MODE_SAMPLED, true, UINT64_MAX, {4, argv1}, 0}},
	    {.type = MEVI_EV_SESSION_START,
	     .pid = 2,
	     .ts = 3,
	     .session_start = {MEVI_PROTO_VERSION, MEVI_MODE_EXACT, false, 1, {1, argv_big}, 0}},
	    {.type = MEVI_EV_SESSION_END, .pid = 1, .ts = 1, .session_end = {0}},
	    {.type = MEVI_EV_SESSION_END, .pid = 1, .ts = 1, .session_end = {255}},
	    {.type = MEVI_EV_SESSION_END, .pid = 1, .ts = 1, .session_end = {-1}},
	    {.type = MEVI_EV_PROC_START, .pid = 2, .ts = 5, .proc_start = {1, 0, {0, NULL}}},
	    {.type = MEVI_EV_PROC_START,
	     .pid = INT32_MAX,
	     .ts = 5,
	     .proc_start = {INT32_MAX, MEVI_PROC_INHERIT_MAP, {4, argv1}}},
	    {.type = MEVI_EV_PROC_EXEC, .pid = 3, .ts = 9, .proc_exec = {{0, NULL}}},
	    {.type = MEVI_EV_PROC_EXEC, .pid = 3, .ts = 9, .proc_exec = {{65536, many}}},
	    {.type = MEVI_EV_PROC_EXIT, .pid = 3, .ts = 10, .proc_exit = {137}},
	    {.type = MEVI_EV_PROC_EXIT, .pid = 3, .ts = 10, .proc_exit = {-1}},
	    {.type = MEVI_EV_MAP, .pid = 4, .ts = 11, .map = {{0, MEVI_PAGE_SIZE}, 0}},
	    {.type = MEVI_EV_MAP,
	     .pid = 4,
	     .ts = 11,
	     .map = {{MEVI_ADDR_LIMIT - MEVI_PAGE_SIZE, MEVI_ADDR_LIMIT}, 1}},
	    {.type = MEVI_EV_MAP, .pid = 4, .ts = 11, .map = {{0, MEVI_ADDR_LIMIT}, 2}},
	    {.type = MEVI_EV_UNMAP, .pid = 4, .ts = 12, .unmap = {{0, MEVI_ADDR_LIMIT}}},
	    {.type = MEVI_EV_UNMAP,
	     .pid = 4,
	     .ts = 12,
	     .unmap = {{UINT64_C(1) << 32, (UINT64_C(1) << 32) + 4096}}},
	    {.type = MEVI_EV_REMAP,
	     .pid = 4,
	     .ts = 13,
	     .remap = {{0, 4096}, {MEVI_ADDR_LIMIT - 8192, MEVI_ADDR_LIMIT}}},
	    {.type = MEVI_EV_REMAP, .pid = 4, .ts = 13, .remap = {{4096, 65536}, {8192, 12288}}},
	    {.type = MEVI_EV_STATE, .pid = 4, .ts = 14, .state = {{65536, 131072}, 0}},
	    {.type = MEVI_EV_STATE, .pid = 4, .ts = 14, .state = {{65536, 131072}, 1}},
	    {.type = MEVI_EV_STATE, .pid = 4, .ts = 14, .state = {{65536, 131072}, 2}},
	};
	size_t n = sizeof(ev) / sizeof(ev[0]);

	/* All in one batch. */
	msgpack_sbuffer_init(&out);
	encode_batch(ev, n, &out);
	decode_expect(out.data, out.size, NULL, ev, n);
	msgpack_sbuffer_destroy(&out);

	/* One batch per event, back to back. */
	msgpack_sbuffer_init(&out);
	for (size_t i = 0; i < n; i++)
		encode_batch(&ev[i], 1, &out);
	decode_expect(out.data, out.size, NULL, ev, n);
	msgpack_sbuffer_destroy(&out);
	free(many);
}

/*
 * Thousands of random events: decode(encode(x)) == x, and re-encoding the
 * decoded events gives the same bytes (the encoding is canonical).
 */
static void test_roundtrip_random(void **state)
{
	uint64_t rng = 42;
	struct strv_arena *arena = calloc(1, sizeof(*arena));
	struct mevi_event *ev = calloc(20000, sizeof(*ev));
	struct transcript t;
	msgpack_sbuffer out;
	size_t n = 0;

	assert_non_null(arena);
	assert_non_null(ev);
	msgpack_sbuffer_init(&out);
	while (n < 20000) {
		size_t batch = 1 + rng_below(&rng, 700);

		if (batch > 20000 - n)
			batch = 20000 - n;
		for (size_t i = 0; i < batch; i++)
			random_event(&rng, arena, &ev[n + i]);
		encode_batch(&ev[n], batch, &out);
		n += batch;
	}
	decode_expect(out.data, out.size, NULL, ev, n);
	decode_stream(out.data, out.size, NULL, SPLIT_WHOLE, 0, 0, &t);
	assert_int_equal(t.last_ret, 0);
	assert_int_equal(t.events, n);
	assert_int_equal(t.out.size, out.size);
	assert_memory_equal(t.out.data, out.data, out.size);
	transcript_destroy(&t);
	msgpack_sbuffer_destroy(&out);
	free_arena(arena);
	free(arena);
	free(ev);
}

/* mevi_event_from_object on its own: NULL zone and limits, message format. */
static void test_from_object(void **state)
{
	msgpack_sbuffer sb;
	msgpack_unpacked up;
	struct mevi_event ev;
	char err[160];
	size_t off = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_unpacked_init(&up);
	mp_pack(&sb, "[5, 10, 20, 0x1000, 0x3000, 1]");
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(mevi_event_from_object(&up.data, NULL, NULL, &ev, err, sizeof(err)),
			 MEVI_DECODE_OK);
	assert_int_equal(ev.type, MEVI_EV_MAP);
	assert_int_equal(ev.pid, 10);
	assert_int_equal(ev.ts, 20);
	assert_int_equal(ev.map.range.start, 0x1000);
	assert_int_equal(ev.map.range.end, 0x3000);
	assert_int_equal(ev.map.state, 1);

	msgpack_sbuffer_clear(&sb);
	off = 0;
	mp_pack(&sb, "[5, 10, 20, 0x1000, 0x1000, 1]");
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(mevi_event_from_object(&up.data, NULL, NULL, &ev, err, sizeof(err)),
			 MEVI_DECODE_RANGE_INVERTED);
	assert_string_equal(err, "map: range [0x1000, 0x1000) is empty or inverted");
	/* A tiny or absent error buffer is fine. */
	assert_int_equal(mevi_event_from_object(&up.data, NULL, NULL, &ev, err, 4),
			 MEVI_DECODE_RANGE_INVERTED);
	assert_string_equal(err, "map");
	assert_int_equal(mevi_event_from_object(&up.data, NULL, NULL, &ev, NULL, 0),
			 MEVI_DECODE_RANGE_INVERTED);

	/* Strings point into the object; the items array comes from the zone. */
	msgpack_sbuffer_clear(&sb);
	off = 0;
	mp_pack(&sb, "[3, 10, 20, [\"sh\", b\"-c\"]]");
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(mevi_event_from_object(&up.data, up.zone, NULL, &ev, err, sizeof(err)),
			 MEVI_DECODE_OK);
	assert_int_equal(ev.proc_exec.cmdline.count, 2);
	assert_int_equal(ev.proc_exec.cmdline.items[0].len, 2);
	assert_memory_equal(ev.proc_exec.cmdline.items[0].ptr, "sh", 2);
	assert_memory_equal(ev.proc_exec.cmdline.items[1].ptr, "-c", 2);

	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

/* Packs a greeting, unpacks it, and validates it. */
static enum mevi_decode_error hello_roundtrip(const char *notation, struct mevi_hello *h,
					      msgpack_unpacked *up, msgpack_sbuffer *sb)
{
	size_t off = 0;

	msgpack_sbuffer_clear(sb);
	mp_pack(sb, notation);
	assert_int_equal(msgpack_unpack_next(up, sb->data, sb->size, &off), MSGPACK_UNPACK_SUCCESS);
	return mevi_hello_from_object(&up->data, h);
}

static void test_hello(void **state)
{
	static const char url[] = "http://127.0.0.1:5001/";
	static const uint8_t want[] = {0x93, 0xa5, 'm', 'e', 'v', 'i', 'd', 0x03, 0xb6};
	struct mevi_hello h = {MEVI_PROTO_VERSION, STR(url)};
	struct mevi_hello got;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	size_t off = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_unpacked_init(&up);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	assert_int_equal(mevi_hello_pack(&pk, &h), 0);
	assert_int_equal(sb.size, sizeof(want) + sizeof(url) - 1);
	assert_memory_equal(sb.data, want, sizeof(want));
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(mevi_hello_from_object(&up.data, &got), MEVI_DECODE_OK);
	assert_int_equal(got.version, MEVI_PROTO_VERSION);
	assert_true(str_equal(&got.url, &h.url));

	/* Another version: refused as such, with the version reported, even if
	 * the greeting grew. */
	assert_int_equal(hello_roundtrip("[\"mevid\", 1, \"u\"]", &got, &up, &sb),
			 MEVI_DECODE_VERSION);
	assert_int_equal(got.version, 1);
	assert_int_equal(hello_roundtrip("[\"mevid\", 7, \"u\", 1, 2]", &got, &up, &sb),
			 MEVI_DECODE_VERSION);
	assert_int_equal(got.version, 7);
	assert_int_equal(hello_roundtrip("[\"mevid\", 0]", &got, &up, &sb), MEVI_DECODE_VERSION);
	assert_int_equal(hello_roundtrip("[\"mevid\", 0x100000000, \"u\"]", &got, &up, &sb),
			 MEVI_DECODE_VERSION);
	assert_int_equal(got.version, UINT32_MAX);

	/* Not a greeting. */
	assert_int_equal(hello_roundtrip("{\"mevid\": 3}", &got, &up, &sb), MEVI_DECODE_FIELD_TYPE);
	assert_int_equal(hello_roundtrip("[\"mevid\"]", &got, &up, &sb), MEVI_DECODE_ARITY);
	assert_int_equal(hello_roundtrip("[\"mevid\", 3]", &got, &up, &sb), MEVI_DECODE_ARITY);
	assert_int_equal(hello_roundtrip("[\"mevid\", 3, \"u\", 4]", &got, &up, &sb),
			 MEVI_DECODE_ARITY);
	assert_int_equal(hello_roundtrip("[\"mevix\", 3, \"u\"]", &got, &up, &sb),
			 MEVI_DECODE_FIELD_TYPE);
	assert_int_equal(hello_roundtrip("[b\"mevid\", 3, \"u\"]", &got, &up, &sb),
			 MEVI_DECODE_FIELD_TYPE);
	assert_int_equal(hello_roundtrip("[\"mevid\", -1, \"u\"]", &got, &up, &sb),
			 MEVI_DECODE_FIELD_TYPE);
	assert_int_equal(hello_roundtrip("[\"mevid\", 3, 5]", &got, &up, &sb),
			 MEVI_DECODE_FIELD_TYPE);
	assert_int_equal(hello_roundtrip("5", &got, &up, &sb), MEVI_DECODE_FIELD_TYPE);
	assert_int_equal(hello_roundtrip("[\"mevid\", 3, \"\"]", &got, &up, &sb), MEVI_DECODE_OK);
	assert_int_equal(got.url.len, 0);

	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_type_names),
	    cmocka_unit_test(test_error_names),
	    cmocka_unit_test(test_exit_status),
	    cmocka_unit_test(test_pack_bytes),
	    cmocka_unit_test(test_pack_int_widths),
	    cmocka_unit_test(test_batch_encoder_lifecycle),
	    cmocka_unit_test(test_batch_header_sizes),
	    cmocka_unit_test(test_roundtrip_edges),
	    cmocka_unit_test(test_roundtrip_random),
	    cmocka_unit_test(test_from_object),
	    cmocka_unit_test(test_hello),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
