/*
 * test_decoder — the streaming decoder: any split of the input gives the same
 * result, every validation error is reported with its code and message and
 * poisons the decoder, and the limits hold against hostile headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "codec_test.h"

/* Decodes the notation in every split and checks they agree; returns the
 * whole-feed transcript in *t. */
static void decode_all_splits(const void *buf, size_t len, const struct mevi_decoder_limits *lim,
			      struct transcript *t)
{
	struct transcript other;

	decode_stream(buf, len, lim, SPLIT_WHOLE, 0, 0, t);
	decode_stream(buf, len, lim, SPLIT_BYTES, 0, 0, &other);
	if (!transcript_equal(t, &other))
		fail_msg("byte-at-a-time differs: \"%s\" vs \"%s\"", t->errmsg, other.errmsg);
	transcript_destroy(&other);
	for (uint64_t seed = 1; seed <= 3; seed++) {
		decode_stream(buf, len, lim, SPLIT_RANDOM, seed, 7, &other);
		if (!transcript_equal(t, &other))
			fail_msg("split seed %" PRIu64 " differs: \"%s\" vs \"%s\"", seed,
				 t->errmsg, other.errmsg);
		transcript_destroy(&other);
	}
}

/*
 * Decodes notation (which must end in an error) and checks the code, the
 * exact message, and how many batches came out before it.
 */
static void expect_error_lim(const char *notation, const struct mevi_decoder_limits *lim,
			     enum mevi_decode_error code, const char *msg, uint32_t batches_before)
{
	msgpack_sbuffer sb;
	struct transcript t;

	msgpack_sbuffer_init(&sb);
	mp_pack(&sb, notation);
	decode_all_splits(sb.data, sb.size, lim, &t);
	if (t.err != code || t.last_ret != -EBADMSG)
		fail_msg("%s: got %s (%d) \"%s\", expected %s", notation,
			 mevi_decode_error_name(t.err), t.last_ret, t.errmsg,
			 mevi_decode_error_name(code));
	if (msg && strcmp(t.errmsg, msg) != 0)
		fail_msg("%s: message \"%s\", expected \"%s\"", notation, t.errmsg, msg);
	assert_int_equal(t.batches, batches_before);
	transcript_destroy(&t);
	msgpack_sbuffer_destroy(&sb);
}

static void expect_error(const char *notation, enum mevi_decode_error code, const char *msg)
{
	expect_error_lim(notation, NULL, code, msg, 0);
}

/* The valid counterpart of the crafted inputs: decodes with no error. */
static void expect_ok(const char *notation, uint32_t batches)
{
	msgpack_sbuffer sb;
	struct transcript t;

	msgpack_sbuffer_init(&sb);
	mp_pack(&sb, notation);
	decode_all_splits(sb.data, sb.size, NULL, &t);
	if (t.err != MEVI_DECODE_OK)
		fail_msg("%s: %s", notation, t.errmsg);
	assert_int_equal(t.last_ret, 0);
	assert_int_equal(t.batches, batches);
	transcript_destroy(&t);
	msgpack_sbuffer_destroy(&sb);
}

static void test_valid_inputs(void **state)
{
	expect_ok("[]", 1); /* an empty batch is a batch */
	expect_ok("[[5, 1, 0, 0, 4096, 0]] [[6, 1, 0, 0, 4096]]", 2);
	/* Non-minimal integer encodings are accepted (uint8 holding 5 for the type,
	 * int32 holding a positive pid). */
	expect_ok("[[x\"cc06\", x\"d2000004d2\", 0, 0, 4096]] x\"91\" x\"95\" x\"cc06\" x\"d001\" "
		  "x\"cd0000\" 0 4096",
		  2);
	/* bin is accepted where str is. */
	expect_ok("[[3, 1, 0, [b\"raw\", \"str\", b\"\"]]]", 1);
	expect_ok("[[0, 1, 0, 3, 0, false, 0, [], 0]]", 1);
	expect_ok("[[2, 1, 0, 1, 1, []]]", 1);
	expect_ok("[[1, 1, 0, -1], [4, 1, 0, 255]]", 1);
	expect_ok("[[8, 1, 0, 0x00fffffffffff000, 0x0100000000000000, 2]]", 1);
}

static void test_malformed(void **state)
{
	expect_error("x\"c1\"", MEVI_DECODE_MALFORMED,
		     "byte 0xc1 at stream offset 0 is not msgpack");
	expect_error("[[5, 1, 0, x\"c1\"]]", MEVI_DECODE_MALFORMED,
		     "byte 0xc1 at stream offset 5 is not msgpack");
	/* Nesting beyond what any batch needs. */
	expect_error("[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]", MEVI_DECODE_MALFORMED,
		     "msgpack nested deeper than 16 levels at stream offset 16");
	/* An ext32 length msgpack-c cannot represent. */
	expect_error("x\"c9ffffffff01\"", MEVI_DECODE_MALFORMED,
		     "ext32 length 0xffffffff at stream offset 4 is not supported");
	/* Valid batches before the garbage come out first. */
	expect_error_lim("[] [[5, 1, 0, 0, 4096, 1]] x\"c1\"", NULL, MEVI_DECODE_MALFORMED,
			 "byte 0xc1 at stream offset 11 is not msgpack", 2);
}

static void test_not_batch(void **state)
{
	expect_error("5", MEVI_DECODE_NOT_BATCH,
		     "batch 0 is an unsigned integer, expected an array");
	expect_error("{}", MEVI_DECODE_NOT_BATCH, "batch 0 is a map, expected an array");
	expect_error("\"[]\"", MEVI_DECODE_NOT_BATCH, "batch 0 is a str, expected an array");
	expect_error("nil", MEVI_DECODE_NOT_BATCH, "batch 0 is nil, expected an array");
	expect_error_lim("[] -3", NULL, MEVI_DECODE_NOT_BATCH,
			 "batch 1 is a negative integer, expected an array", 1);
	expect_error("1.5", MEVI_DECODE_NOT_BATCH, "batch 0 is a float, expected an array");
	expect_error("x\"d40100\"", MEVI_DECODE_NOT_BATCH, "batch 0 is an ext, expected an array");
}

static void test_batch_too_big(void **state)
{
	struct mevi_decoder_limits lim = mevi_decoder_default_limits;

	/* Header counts: refused at the header, before anything is allocated. */
	expect_error("x\"dd00010001\"", MEVI_DECODE_BATCH_TOO_BIG,
		     "batch 0 has 65537 events, over the limit of 65536");
	expect_error("x\"ddffffffff\"", MEVI_DECODE_BATCH_TOO_BIG,
		     "batch 0 has 4294967295 events, over the limit of 65536");
	/* Nested counts and payloads that cannot fit in 16 MiB. */
	expect_error("[x\"ddffffffff\"]", MEVI_DECODE_BATCH_TOO_BIG,
		     "batch 0 needs at least 4294967301 bytes, over the limit of 16777216 bytes");
	expect_error("[x\"dfffffffff\"]", MEVI_DECODE_BATCH_TOO_BIG,
		     "batch 0 needs at least 8589934596 bytes, over the limit of 16777216 bytes");
	expect_error("x\"dbffffffff\"", MEVI_DECODE_BATCH_TOO_BIG,
		     "batch 0 needs at least 4294967300 bytes, over the limit of 16777216 bytes");
	expect_error("[[3, 1, 0, [x\"c6ffffffff\"]]]", MEVI_DECODE_BATCH_TOO_BIG,
		     "batch 0 needs at least 4294967306 bytes, over the limit of 16777216 bytes");
	/* Small limits: exactly at the limit passes, one more byte fails. */
	lim.max_batch_bytes = 13; /* [[5, 1234, 0, 4096, 8192, 1]] is 14 bytes */
	expect_error_lim("[[5, 1234, 0, 4096, 8192, 1]]", &lim, MEVI_DECODE_BATCH_TOO_BIG,
			 "batch 0 needs at least 14 bytes, over the limit of 13 bytes", 0);
	lim.max_batch_bytes = 14;
	{
		msgpack_sbuffer sb;
		struct transcript t;

		msgpack_sbuffer_init(&sb);
		mp_pack(&sb, "[[5, 1234, 0, 4096, 8192, 1]] [[5, 1234, 0, 4096, 8192, 1]]");
		decode_all_splits(sb.data, sb.size, &lim, &t);
		assert_int_equal(t.err, MEVI_DECODE_OK);
		assert_int_equal(t.batches, 2);
		transcript_destroy(&t);
		msgpack_sbuffer_destroy(&sb);
	}
	lim = mevi_decoder_default_limits;
	lim.max_batch_events = 2;
	expect_error_lim("[[6, 1, 0, 0, 4096], [6, 1, 0, 0, 4096]] [[6, 1, 0, 0, 4096], [6, 1, 0, "
			 "0, 4096], [6, 1, 0, 0, 4096]]",
			 &lim, MEVI_DECODE_BATCH_TOO_BIG,
			 "batch 1 has 3 events, over the limit of 2", 1);
}

/* A caller that feeds without draining is stopped once a batch's worth of
 * undecoded bytes is buffered. */
static void test_feed_without_drain(void **state)
{
	struct mevi_decoder_limits lim = mevi_decoder_default_limits;
	struct mevi_decoder d;
	const struct mevi_event *ev;
	uint32_t n;
	static const uint8_t batch[] = {0x91, 0x95, 0x06, 0x01, 0x00, 0x00, 0xcd, 0x10, 0x00};
	int ret = 0, feeds = 0;

	lim.max_batch_bytes = 100;
	assert_int_equal(mevi_decoder_init(&d, &lim), 0);
	while (ret == 0 && feeds < 1000) {
		ret = mevi_decoder_feed(&d, batch, sizeof(batch));
		feeds++;
	}
	assert_int_equal(ret, -EBADMSG);
	assert_int_equal(feeds, 13); /* 12 * 9 = 108 > 100 bytes buffered */
	assert_int_equal(mevi_decoder_error(&d), MEVI_DECODE_BATCH_TOO_BIG);
	assert_string_equal(mevi_decoder_errmsg(&d),
			    "108 bytes buffered and not decoded, over the limit of 100 bytes");
	assert_int_equal(mevi_decoder_next(&d, &ev, &n), -EBADMSG);
	mevi_decoder_destroy(&d);
}

static void test_not_event(void **state)
{
	expect_error("[5]", MEVI_DECODE_NOT_EVENT,
		     "event 0: an unsigned integer, not an array [type, pid, ts, ...]");
	expect_error("[[6, 1, 0, 0, 4096], {}]", MEVI_DECODE_NOT_EVENT,
		     "event 1: a map, not an array [type, pid, ts, ...]");
	expect_error("[[5, 1]]", MEVI_DECODE_NOT_EVENT,
		     "event 0: an array of 2 elements, not [type, pid, ts, ...]");
	expect_error("[[]]", MEVI_DECODE_NOT_EVENT,
		     "event 0: an array of 0 elements, not [type, pid, ts, ...]");
}

static void test_unknown_type(void **state)
{
	expect_error("[[17, 1, 0]]", MEVI_DECODE_UNKNOWN_TYPE, "event 0: unknown event type 17");
	expect_error("[[6, 1, 0, 0, 4096], [0xffffffffffffffff, 1, 0, 1, 2, 3]]",
		     MEVI_DECODE_UNKNOWN_TYPE, "event 1: unknown event type 18446744073709551615");
	/* The type must be an unsigned integer. */
	expect_error("[[\"map\", 1, 0, 0, 4096, 1]]", MEVI_DECODE_FIELD_TYPE,
		     "event 0: type is a str, expected an unsigned integer");
	expect_error("[[-1, 1, 0]]", MEVI_DECODE_FIELD_TYPE,
		     "event 0: type is a negative integer, expected an unsigned integer");
}

static void test_arity(void **state)
{
	static const char *const cases[][2] = {
	    {"[[0, 1, 0, 3, 0, false, 0, []]]", "event 0: session_start: 8 elements, expected 9"},
	    {"[[0, 1, 0, 3, 0, false, 0, [], 0, 1]]",
	     "event 0: session_start: 10 elements, expected 9"},
	    {"[[1, 1, 0]]", "event 0: session_end: 3 elements, expected 4"},
	    {"[[1, 1, 0, 0, 0]]", "event 0: session_end: 5 elements, expected 4"},
	    {"[[2, 1, 0, 1, 0]]", "event 0: proc_start: 5 elements, expected 6"},
	    {"[[3, 1, 0]]", "event 0: proc_exec: 3 elements, expected 4"},
	    {"[[4, 1, 0, 0, 0]]", "event 0: proc_exit: 5 elements, expected 4"},
	    {"[[5, 1, 0, 0, 4096]]", "event 0: map: 5 elements, expected 6"},
	    {"[[5, 1, 0, 0, 4096, 1, 1]]", "event 0: map: 7 elements, expected 6"},
	    {"[[6, 1, 0, 0, 4096, 1]]", "event 0: unmap: 6 elements, expected 5"},
	    {"[[7, 1, 0, 0, 4096, 0]]", "event 0: remap: 6 elements, expected 7"},
	    {"[[8, 1, 0, 0, 4096]]", "event 0: state: 5 elements, expected 6"},
	    {"[[9, 1, 0, 1]]", "event 0: stack: 4 elements, expected 5"},
	    {"[[10, 1, 0, 0, 4096]]", "event 0: origin: 5 elements, expected 6"},
	    {"[[11, 1, 0, 0, 4096, 0]]", "event 0: vma: 6 elements, expected 7"},
	    {"[[12, 1, 0, 1, \"a\", 1]]", "event 0: thread: 6 elements, expected 5"},
	    {"[[13, 1, 0, 0, 4096]]", "event 0: touch: 5 elements, expected 6"},
	    {"[[14, 1, 0]]", "event 0: sampling: 3 elements, expected 4"},
	    {"[[16, 1, 0, 0, 4096]]", "event 0: written: 5 elements, expected 6"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i][0], MEVI_DECODE_ARITY, cases[i][1]);
}

static void test_field_type(void **state)
{
	static const char *const cases[][2] = {
	    /* pid and ppid: 1 .. INT32_MAX */
	    {"[[6, 0, 0, 0, 4096]]", "event 0: unmap: pid 0 is not 1..2147483647"},
	    {"[[6, -7, 0, 0, 4096]]", "event 0: unmap: pid -7 is not 1..2147483647"},
	    {"[[6, 2147483648, 0, 0, 4096]]",
	     "event 0: unmap: pid 2147483648 is not 1..2147483647"},
	    {"[[6, \"1\", 0, 0, 4096]]",
	     "event 0: unmap: pid is a str, expected an integer 1..2147483647"},
	    {"[[2, 5, 0, 0, 0, []]]", "event 0: proc_start: ppid 0 is not 1..2147483647"},
	    {"[[2, 5, 0, 1.0, 0, []]]",
	     "event 0: proc_start: ppid is a float, expected an integer 1..2147483647"},
	    /* ts and addresses: unsigned integers */
	    {"[[6, 1, -1, 0, 4096]]",
	     "event 0: unmap: ts is a negative integer, expected an unsigned integer"},
	    {"[[6, 1, 0.5, 0, 4096]]",
	     "event 0: unmap: ts is a float, expected an unsigned integer"},
	    {"[[6, 1, nil, 0, 4096]]", "event 0: unmap: ts is nil, expected an unsigned integer"},
	    {"[[6, 1, 0, \"0\", 4096]]",
	     "event 0: unmap: start is a str, expected an unsigned integer"},
	    {"[[5, 1, 0, 0, true, 1]]",
	     "event 0: map: end is a bool, expected an unsigned integer"},
	    {"[[7, 1, 0, 0, 4096, [], 8192]]",
	     "event 0: remap: to_start is an array, expected an unsigned integer"},
	    {"[[7, 1, 0, 0, -4096, 0, 8192]]",
	     "event 0: remap: from_end is a negative integer, expected an unsigned integer"},
	    {"[[7, 1, 0, 0, 4096, 0, b\"\"]]",
	     "event 0: remap: to_end is a bin, expected an unsigned integer"},
	    /* session_start */
	    {"[[0, 1, 0, \"1\", 0, false, 0, [], 0]]",
	     "event 0: session_start: version is a str, expected an unsigned integer"},
	    {"[[0, 1, 0, 3, 2, false, 0, [], 0]]", "event 0: session_start: mode 2 is above 1"},
	    {"[[0, 1, 0, 3, -1, false, 0, [], 0]]",
	     "event 0: session_start: mode is a negative integer, expected an unsigned integer"},
	    {"[[0, 1, 0, 3, 0, 0, 0, [], 0]]",
	     "event 0: session_start: resume is an unsigned integer, expected a bool"},
	    {"[[0, 1, 0, 3, 0, nil, 0, [], 0]]",
	     "event 0: session_start: resume is nil, expected a bool"},
	    {"[[0, 1, 0, 3, 0, true, -5, [], 0]]",
	     "event 0: session_start: started_at is a negative integer, expected an unsigned "
	     "integer"},
	    {"[[0, 1, 0, 3, 0, true, 0, \"prog\", 0]]",
	     "event 0: session_start: argv is a str, expected an array of str"},
	    {"[[0, 1, 0, 3, 0, true, 0, [\"a\", 1], 0]]",
	     "event 0: session_start: argv[1] is an unsigned integer, expected a str"},
	    {"[[0, 1, 0, 3, 0, true, 0, [[\"a\"]], 0]]",
	     "event 0: session_start: argv[0] is an array, expected a str"},
	    /* proc_start flags: uint32, known bits only */
	    {"[[2, 5, 0, 1, 2, []]]", "event 0: proc_start: flags 0x2 has unknown bits"},
	    {"[[2, 5, 0, 1, 0x100000000, []]]",
	     "event 0: proc_start: flags 4294967296 is above 4294967295"},
	    {"[[2, 5, 0, 1, -1, []]]",
	     "event 0: proc_start: flags is a negative integer, expected an unsigned integer"},
	    {"[[2, 5, 0, 1, 0, nil]]",
	     "event 0: proc_start: cmdline is nil, expected an array of str"},
	    {"[[3, 5, 0, {}]]", "event 0: proc_exec: cmdline is a map, expected an array of str"},
	    /* status: -1 .. 255 */
	    {"[[1, 1, 0, 256]]", "event 0: session_end: status 256 is not -1..255"},
	    {"[[1, 1, 0, -2]]", "event 0: session_end: status -2 is not -1..255"},
	    {"[[4, 1, 0, \"0\"]]",
	     "event 0: proc_exit: status is a str, expected an integer -1..255"},
	    {"[[4, 1, 0, -2147483649]]", "event 0: proc_exit: status -2147483649 is not -1..255"},
	    /* state: an integer */
	    {"[[5, 1, 0, 0, 4096, \"resident\"]]",
	     "event 0: map: state is a str, expected an integer 0..3"},
	    {"[[8, 1, 0, 0, 4096, -1]]",
	     "event 0: state: state is a negative integer, expected an integer 0..3"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i][0], MEVI_DECODE_FIELD_TYPE, cases[i][1]);
}

static void test_ranges(void **state)
{
	expect_error("[[5, 1, 0, 0x1000, 0x1000, 1]]", MEVI_DECODE_RANGE_INVERTED,
		     "event 0: map: range [0x1000, 0x1000) is empty or inverted");
	expect_error("[[6, 1, 0, 0x2000, 0x1000]]", MEVI_DECODE_RANGE_INVERTED,
		     "event 0: unmap: range [0x2000, 0x1000) is empty or inverted");
	expect_error("[[7, 1, 0, 0x1000, 0x2000, 0x3000, 0x3000]]", MEVI_DECODE_RANGE_INVERTED,
		     "event 0: remap: to range [0x3000, 0x3000) is empty or inverted");
	expect_error("[[8, 1, 0, 0, 0, 1]]", MEVI_DECODE_RANGE_INVERTED,
		     "event 0: state: range [0x0, 0x0) is empty or inverted");

	expect_error("[[5, 1, 0, 0x1001, 0x2000, 1]]", MEVI_DECODE_RANGE_UNALIGNED,
		     "event 0: map: range [0x1001, 0x2000) is not 4096-aligned");
	expect_error("[[8, 1, 0, 0x1000, 0x2fff, 1]]", MEVI_DECODE_RANGE_UNALIGNED,
		     "event 0: state: range [0x1000, 0x2fff) is not 4096-aligned");
	expect_error("[[7, 1, 0, 0x1800, 0x2000, 0x3000, 0x4000]]", MEVI_DECODE_RANGE_UNALIGNED,
		     "event 0: remap: from range [0x1800, 0x2000) is not 4096-aligned");

	expect_error("[[5, 1, 0, 0, 0x0100000000001000, 1]]", MEVI_DECODE_RANGE_LIMIT,
		     "event 0: map: range [0x0, 0x100000000001000) ends above 0x100000000000000");
	expect_error("[[6, 1, 0, 0xfffffffffffff000, 0xfffffffffffff000]]",
		     MEVI_DECODE_RANGE_INVERTED,
		     "event 0: unmap: range [0xfffffffffffff000, 0xfffffffffffff000) is empty or "
		     "inverted");
	expect_error("[[7, 1, 0, 0, 4096, 0x0100000000000000, 0x0100000000001000]]",
		     MEVI_DECODE_RANGE_LIMIT,
		     "event 0: remap: to range [0x100000000000000, 0x100000000001000) ends above "
		     "0x100000000000000");
}

static void test_bad_state(void **state)
{
	expect_ok("[[5, 1, 0, 0, 4096, 3]]", 1); /* swapped, since version 2 */
	expect_error("[[5, 1, 0, 0, 4096, 4]]", MEVI_DECODE_BAD_STATE,
		     "event 0: map: state 4 is not 0..3");
	expect_error("[[8, 1, 0, 0, 4096, 255]]", MEVI_DECODE_BAD_STATE,
		     "event 0: state: state 255 is not 0..3");
}

/* The fields of the version 2 events: every check has its message. */
static void test_annotation_fields(void **state)
{
	static const struct {
		const char *in;
		enum mevi_decode_error code;
		const char *msg;
	} bad[] = {
	    {"[[9, 1, 0, -1, []]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: stack: stack_id is a negative integer, expected an unsigned integer"},
	    {"[[9, 1, 0, 0x100000000, []]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: stack: stack_id 4294967296 is above 4294967295"},
	    {"[[9, 1, 0, 1, {}]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: stack: frames is a map, expected an array of frames"},
	    {"[[9, 1, 0, 1, [[1, \"f\", \"m\"]]]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: stack: frames[0] is not [pc, func, module, source]"},
	    {"[[9, 1, 0, 1, [1]]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: stack: frames[0] is not [pc, func, module, source]"},
	    {"[[9, 1, 0, 1, [[-1, \"f\", \"m\", nil]]]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: stack: frames[0] pc is a negative integer, expected an unsigned integer"},
	    {"[[9, 1, 0, 1, [[1, nil, \"m\", nil]]]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: stack: frames[0] func is nil, expected a str"},
	    {"[[9, 1, 0, 1, [[1, \"f\", 7, nil]]]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: stack: frames[0] module is an unsigned integer, expected a str"},
	    {"[[9, 1, 0, 1, [[1, \"f\", \"m\", nil], [1, \"f\", \"m\", 1]]]]",
	     MEVI_DECODE_FIELD_TYPE,
	     "event 0: stack: frames[1] source is an unsigned integer, expected a str or nil"},
	    {"[[10, 1, 0, 4096, 0, 1]]", MEVI_DECODE_RANGE_INVERTED,
	     "event 0: origin: range [0x1000, 0x0) is empty or inverted"},
	    {"[[10, 1, 0, 0, 4096, \"1\"]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: origin: stack_id is a str, expected an unsigned integer"},
	    {"[[11, 1, 0, 0, 4096, 7, \"\"]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: vma: kind 7 is above 6"},
	    {"[[11, 1, 0, 0, 4096, 0, nil]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: vma: name is nil, expected a str"},
	    {"[[11, 1, 0, 0, 4095, 0, \"\"]]", MEVI_DECODE_RANGE_UNALIGNED,
	     "event 0: vma: range [0x0, 0xfff) is not 4096-aligned"},
	    {"[[12, 1, 0, 0, \"a\"]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: thread: tid 0 is not 1..2147483647"},
	    {"[[12, 1, 0, 1, [\"a\"]]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: thread: name is an array, expected a str"},
	    {"[[13, 1, 0, 0, 4096, 0x80000000]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: touch: tid 2147483648 is not 1..2147483647"},
	    {"[[16, 1, 0, 0, 4096, -1]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: written: t is a negative integer, expected an unsigned integer"},
	    {"[[16, 1, 0, 4096, 4096, 1]]", MEVI_DECODE_RANGE_INVERTED,
	     "event 0: written: range [0x1000, 0x1000) is empty or inverted"},
	    {"[[14, 1, 0, 0x100000000]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: sampling: sample_ms 4294967296 is above 4294967295"},
	    {"[[0, 1, 0, 3, 1, false, 0, [], -1]]", MEVI_DECODE_FIELD_TYPE,
	     "event 0: session_start: sample_ms is a negative integer, expected an unsigned integer"},
	};
	char frames[300 * 16 + 64], *p = frames;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(bad[i].in, bad[i].code, bad[i].msg);
	expect_ok(
	    "[[9, 1, 0, 4294967295, []], [9, 1, 0, 1, [[0, \"\", \"\", nil], [18446744073709551615, "
	    "\"f+0x1\", \"libc.so.6\", \"a.c:1\"]]], [10, 1, 0, 0, 4096, 4294967295], "
	    "[11, 1, 0, 0, 4096, 6, \"[vdso]\"], [12, 1, 0, 2147483647, \"\"], "
	    "[13, 1, 0, 0, 4096, 1], [14, 1, 0, 0], [16, 1, 0, 0, 4096, 18446744073709551615]]",
	    1);
	/* 256 frames are fine, 257 are not. */
	p += sprintf(p, "[[9, 1, 0, 1, [");
	for (int i = 0; i < 257; i++)
		p += sprintf(p, "%s[1, \"\", \"\", nil]", i ? ", " : "");
	sprintf(p, "]]]");
	expect_error(frames, MEVI_DECODE_FIELD_TYPE,
		     "event 0: stack: 257 frames, over the limit of 256");
}

static void test_strings(void **state)
{
	struct mevi_decoder_limits lim = mevi_decoder_default_limits;

	lim.max_string_bytes = 4;
	lim.max_strings = 3;
	expect_error_lim("[[3, 1, 0, [\"abcd\", \"abcde\"]]]", &lim, MEVI_DECODE_STRING_TOO_BIG,
			 "event 0: proc_exec: cmdline[1] is 5 bytes, over the limit of 4", 0);
	expect_error_lim("[[3, 1, 0, [b\"abcde\"]]]", &lim, MEVI_DECODE_STRING_TOO_BIG,
			 "event 0: proc_exec: cmdline[0] is 5 bytes, over the limit of 4", 0);
	expect_error_lim("[[0, 1, 0, 3, 0, false, 0, [\"a\", \"b\", \"c\", \"d\"], 0]]", &lim,
			 MEVI_DECODE_STRING_TOO_BIG,
			 "event 0: session_start: argv has 4 strings, over the limit of 3", 0);
	expect_error_lim("[[2, 1, 0, 1, 0, [\"\", \"\", \"\", \"\"]]]", &lim,
			 MEVI_DECODE_STRING_TOO_BIG,
			 "event 0: proc_start: cmdline has 4 strings, over the limit of 3", 0);
	/* At the limits exactly. */
	{
		msgpack_sbuffer sb;
		struct transcript t;

		msgpack_sbuffer_init(&sb);
		mp_pack(&sb, "[[3, 1, 0, [\"abcd\", \"\", b\"wxyz\"]]]");
		decode_all_splits(sb.data, sb.size, &lim, &t);
		assert_int_equal(t.err, MEVI_DECODE_OK);
		assert_int_equal(t.events, 1);
		transcript_destroy(&t);
		msgpack_sbuffer_destroy(&sb);
	}
}

/* A default-limits string of 1 MiB + 1 bytes. */
static void test_string_default_limit(void **state)
{
	size_t len = (1u << 20) + 1;
	char *s = malloc(len);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct transcript t;

	assert_non_null(s);
	memset(s, 'y', len);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	mp_pack(&sb, "x\"91\" x\"94\" 3 1 0 x\"91\"");
	msgpack_pack_str(&pk, len);
	msgpack_pack_str_body(&pk, s, len);
	decode_stream(sb.data, sb.size, NULL, SPLIT_RANDOM, 9, 65536, &t);
	assert_int_equal(t.err, MEVI_DECODE_STRING_TOO_BIG);
	assert_string_equal(t.errmsg,
			    "event 0: proc_exec: cmdline[0] is 1048577 bytes, over the limit of "
			    "1048576");
	transcript_destroy(&t);
	msgpack_sbuffer_destroy(&sb);
	free(s);
}

static void test_version(void **state)
{
	/* A version 1 launcher is refused with both versions named. */
	expect_error("[[0, 1, 0, 1, 0, false, 0, []]]", MEVI_DECODE_VERSION,
		     "event 0: session_start: protocol version 1, this side speaks version 3");
	/* Checked before the arity: a newer sender may have added fields. */
	expect_error("[[0, 1, 0, 2, 0, false, 0, []]]", MEVI_DECODE_VERSION,
		     "event 0: session_start: protocol version 2, this side speaks version 3");
	expect_error("[[0, 1, 0, 4, 0, false, 0, [], 0, {}, 5]]", MEVI_DECODE_VERSION,
		     "event 0: session_start: protocol version 4, this side speaks version 3");
	expect_error("[[0, 1, 0, 0]]", MEVI_DECODE_VERSION,
		     "event 0: session_start: protocol version 0, this side speaks version 3");
	expect_error("[[0, 1, 0, 0x100000001, 0, false, 0, []]]", MEVI_DECODE_VERSION,
		     "event 0: session_start: protocol version 4294967297, this side speaks "
		     "version 3");
}

/* After an error, every call keeps failing with the same error. */
static void test_poisoned(void **state)
{
	struct mevi_decoder d;
	const struct mevi_event *ev;
	uint32_t n;
	msgpack_sbuffer sb;
	char msg[160];

	msgpack_sbuffer_init(&sb);
	mp_pack(&sb, "[[6, 1, 0, 0, 4096]] [[6, 1, 0, 0, 4095]] [[6, 1, 0, 0, 4096]]");
	assert_int_equal(mevi_decoder_init(&d, NULL), 0);
	assert_int_equal(mevi_decoder_error(&d), MEVI_DECODE_OK);
	assert_string_equal(mevi_decoder_errmsg(&d), "no error");
	assert_int_equal(mevi_decoder_feed(&d, sb.data, sb.size), 0);
	assert_int_equal(mevi_decoder_next(&d, &ev, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(mevi_decoder_next(&d, &ev, &n), -EBADMSG);
	assert_int_equal(mevi_decoder_error(&d), MEVI_DECODE_RANGE_UNALIGNED);
	snprintf(msg, sizeof(msg), "%s", mevi_decoder_errmsg(&d));
	assert_string_equal(msg, "event 0: unmap: range [0x0, 0xfff) is not 4096-aligned");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(mevi_decoder_next(&d, &ev, &n), -EBADMSG);
		assert_int_equal(mevi_decoder_feed(&d, sb.data, sb.size), -EBADMSG);
		assert_int_equal(mevi_decoder_error(&d), MEVI_DECODE_RANGE_UNALIGNED);
		assert_string_equal(mevi_decoder_errmsg(&d), msg);
	}
	mevi_decoder_destroy(&d);

	/* The same for a structural error found by the pre-scan. */
	msgpack_sbuffer_clear(&sb);
	mp_pack(&sb, "[] x\"c1\" []");
	assert_int_equal(mevi_decoder_init(&d, NULL), 0);
	assert_int_equal(mevi_decoder_feed(&d, sb.data, sb.size), 0);
	assert_int_equal(mevi_decoder_next(&d, &ev, &n), 1);
	assert_int_equal(n, 0);
	assert_int_equal(mevi_decoder_next(&d, &ev, &n), -EBADMSG);
	assert_int_equal(mevi_decoder_error(&d), MEVI_DECODE_MALFORMED);
	assert_int_equal(mevi_decoder_next(&d, &ev, &n), -EBADMSG);
	assert_int_equal(mevi_decoder_feed(&d, "\x90", 1), -EBADMSG);
	assert_int_equal(mevi_decoder_error(&d), MEVI_DECODE_MALFORMED);
	mevi_decoder_destroy(&d);
	msgpack_sbuffer_destroy(&sb);
}

/* Only the first error counts, even when a later batch has another one. */
static void test_first_error_wins(void **state)
{
	expect_error("[[6, 1, 0, 0, 4097], [9, 1, 0]]", MEVI_DECODE_RANGE_UNALIGNED,
		     "event 0: unmap: range [0x0, 0x1001) is not 4096-aligned");
	/* A structural error in a later batch does not overtake a validation error
	 * in an earlier one, whatever the split. */
	expect_error("[[6, 1, 0, 0, 4097]] x\"c1\"", MEVI_DECODE_RANGE_UNALIGNED,
		     "event 0: unmap: range [0x0, 0x1001) is not 4096-aligned");
	/* Within one batch, the pre-scan sees the oversized header first. */
	expect_error("[[6, 1, 0, 0, 4097], x\"ddffffffff\"]", MEVI_DECODE_BATCH_TOO_BIG, NULL);
}

/*
 * A long stream of random batches decodes identically whole, one byte at a
 * time, and in random splits of several sizes.
 */
static void test_splits_random_stream(void **state)
{
	uint64_t rng = 7;
	struct strv_arena *arena = calloc(1, sizeof(*arena));
	struct mevi_batch_encoder enc;
	struct transcript whole, other;
	msgpack_sbuffer sb;
	static const size_t chunks[] = {2, 3, 17, 100, 4096, 70000};

	assert_non_null(arena);
	msgpack_sbuffer_init(&sb);
	mevi_batch_encoder_init(&enc);
	for (int b = 0; b < 300; b++) {
		size_t n = rng_below(&rng, 40);

		for (size_t i = 0; i < n; i++) {
			struct mevi_event ev;

			random_event(&rng, arena, &ev);
			assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
		}
		if (n == 0)
			msgpack_sbuffer_write(&sb, "\x90", 1);
		assert_int_equal(mevi_batch_encoder_finish(&enc, &sb), 0);
	}
	mevi_batch_encoder_destroy(&enc);

	decode_stream(sb.data, sb.size, NULL, SPLIT_WHOLE, 0, 0, &whole);
	assert_int_equal(whole.last_ret, 0);
	assert_int_equal(whole.batches, 300);
	assert_int_equal(whole.out.size, sb.size);
	assert_memory_equal(whole.out.data, sb.data, sb.size);

	decode_stream(sb.data, sb.size, NULL, SPLIT_BYTES, 0, 0, &other);
	assert_true(transcript_equal(&whole, &other));
	transcript_destroy(&other);
	for (uint64_t seed = 1; seed <= 5; seed++) {
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			decode_stream(sb.data, sb.size, NULL, SPLIT_RANDOM, seed, chunks[c],
				      &other);
			if (!transcript_equal(&whole, &other))
				fail_msg("seed %" PRIu64 " chunk %zu differs", seed, chunks[c]);
			transcript_destroy(&other);
		}
	}

	transcript_destroy(&whole);

	/* The same stream with garbage appended: same batches, then the error. */
	mp_pack(&sb, "[[5, 1, 0, 0, 4096, 1], [5, 1, 0, 4096, 4096, 1]]");
	decode_stream(sb.data, sb.size, NULL, SPLIT_WHOLE, 0, 0, &other);
	assert_int_equal(other.batches, 300);
	assert_int_equal(other.err, MEVI_DECODE_RANGE_INVERTED);
	assert_string_equal(other.errmsg,
			    "event 1: map: range [0x1000, 0x1000) is empty or inverted");
	for (uint64_t seed = 1; seed <= 3; seed++) {
		decode_stream(sb.data, sb.size, NULL, SPLIT_RANDOM, seed, 333, &whole);
		assert_true(transcript_equal(&whole, &other));
		transcript_destroy(&whole);
	}
	transcript_destroy(&other);
	msgpack_sbuffer_destroy(&sb);
	free_arena(arena);
	free(arena);
}

/*
 * Strings stay valid until the next call, including strings parsed from one
 * unpacker buffer before a big feed moved the rest of the batch to another
 * (msgpack-c keeps the old buffer alive through the batch's zone).
 */
static void test_lifetime_across_buffers(void **state)
{
	struct mevi_decoder d;
	const struct mevi_event *ev;
	uint32_t n;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t big = 300000, cut;
	char *s = malloc(big);

	assert_non_null(s);
	memset(s, 'z', big);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	mp_pack(&sb, "x\"91\" x\"94\" 3 1 0 x\"92\" \"hello\"");
	cut = sb.size;
	msgpack_pack_str(&pk, big);
	msgpack_pack_str_body(&pk, s, big);

	assert_int_equal(mevi_decoder_init(&d, NULL), 0);
	assert_int_equal(mevi_decoder_feed(&d, sb.data, cut), 0);
	assert_int_equal(mevi_decoder_next(&d, &ev, &n), 0); /* "hello" parsed in place */
	assert_int_equal(mevi_decoder_feed(&d, sb.data + cut, sb.size - cut), 0);
	assert_int_equal(mevi_decoder_next(&d, &ev, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].proc_exec.cmdline.count, 2);
	assert_int_equal(ev[0].proc_exec.cmdline.items[0].len, 5);
	assert_memory_equal(ev[0].proc_exec.cmdline.items[0].ptr, "hello", 5);
	assert_int_equal(ev[0].proc_exec.cmdline.items[1].len, big);
	assert_memory_equal(ev[0].proc_exec.cmdline.items[1].ptr, s, big);
	assert_int_equal(mevi_decoder_next(&d, &ev, &n), 0);

	/* The same batch again, fed one byte at a time. */
	for (size_t i = 0; i < sb.size; i++) {
		assert_int_equal(mevi_decoder_feed(&d, sb.data + i, 1), 0);
		assert_int_equal(mevi_decoder_next(&d, &ev, &n), i + 1 == sb.size);
	}
	assert_memory_equal(ev[0].proc_exec.cmdline.items[0].ptr, "hello", 5);
	assert_memory_equal(ev[0].proc_exec.cmdline.items[1].ptr, s, big);
	mevi_decoder_destroy(&d);
	mevi_decoder_destroy(&d); /* idempotent */
	msgpack_sbuffer_destroy(&sb);
	free(s);
}

/* mevi_msgpack_measure: every msgpack header, every prefix short, 0xc1. */
static void test_measure(void **state)
{
	(void)state;
	static const char big[70000];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t n = 0;
	uint64_t rng = 16;
	struct strv_arena arena = {0};
	struct mevi_batch_encoder enc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 20);
	msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);
	msgpack_pack_int8(&pk, -3);
	msgpack_pack_int64(&pk, INT64_MIN);
	msgpack_pack_uint16(&pk, 300);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msgpack_pack_float(&pk, 1.5f);
	msgpack_pack_double(&pk, 2.5);
	msgpack_pack_str_with_body(&pk, "abc", 3);
	msgpack_pack_str_with_body(&pk, big, 200);
	msgpack_pack_str_with_body(&pk, big, 1000);
	msgpack_pack_str_with_body(&pk, big, sizeof(big));
	msgpack_pack_bin_with_body(&pk, big, 10);
	msgpack_pack_ext_with_body(&pk, big, 4, 1);    /* fixext 4 */
	msgpack_pack_ext_with_body(&pk, big, 100, 2);  /* ext 8 */
	msgpack_pack_ext_with_body(&pk, big, 1000, 3); /* ext 16 */
	msgpack_pack_map(&pk, 1);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_array(&pk, 0);
	msgpack_pack_map(&pk, 20);
	for (int i = 0; i < 20; i++) {
		msgpack_pack_int32(&pk, i);
		msgpack_pack_int32(&pk, -i);
	}
	msgpack_pack_array(&pk, 16);
	for (int i = 0; i < 16; i++)
		msgpack_pack_array(&pk, 0);
	msgpack_pack_array(&pk, 0);
	msgpack_sbuffer_write(&sb, "\x01", 1); /* a trailing object, not measured */

	assert_int_equal(mevi_msgpack_measure(sb.data, sb.size, &n), 0);
	assert_int_equal(n, sb.size - 1);
	for (size_t len = 0; len < sb.size - 1; len += len < 64 ? 1 : 997)
		assert_int_equal(mevi_msgpack_measure(sb.data, len, &n), -ENODATA);
	assert_int_equal(mevi_msgpack_measure("\x92\x01\xc1", 3, &n), -EBADMSG);
	assert_int_equal(mevi_msgpack_measure("\xdd\xff\xff\xff\xff", 5, &n), -ENODATA);
	msgpack_sbuffer_clear(&sb);

	/* Batches of every event type measure as long as they are. */
	mevi_batch_encoder_init(&enc);
	for (int k = 0; k < 200; k++) {
		struct mevi_event ev;

		random_event(&rng, &arena, &ev);
		assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
		assert_int_equal(mevi_batch_encoder_finish(&enc, &sb), 0);
		assert_int_equal(mevi_msgpack_measure(sb.data, sb.size, &n), 0);
		assert_int_equal(n, sb.size);
		msgpack_sbuffer_clear(&sb);
		free_arena(&arena);
	}
	mevi_batch_encoder_destroy(&enc);
	msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_inputs),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_not_batch),
	    cmocka_unit_test(test_batch_too_big),
	    cmocka_unit_test(test_feed_without_drain),
	    cmocka_unit_test(test_not_event),
	    cmocka_unit_test(test_unknown_type),
	    cmocka_unit_test(test_arity),
	    cmocka_unit_test(test_field_type),
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_bad_state),
	    cmocka_unit_test(test_annotation_fields),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_string_default_limit),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_poisoned),
	    cmocka_unit_test(test_first_error_wins),
	    cmocka_unit_test(test_splits_random_stream),
	    cmocka_unit_test(test_lifetime_across_buffers),
	    cmocka_unit_test(test_measure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
