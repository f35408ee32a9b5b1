/*
 * Unit tests of mevid's history records (daemon/eventrec.c, generated from
 * proto/events.def) and their byte buffers (daemon/varbuf.c): every event
 * type round-trips through chunks of any length, records stay small, and a
 * damaged chunk is refused, never misread past its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../codec/codec_test.h"
#include "eventrec.h"
#include "varbuf.h"

/* Encodes evs[0..n) as one chunk into w (reset first). */
static void encode_chunk(struct eventrec_enc *enc, struct wbuf *w, const struct mevi_event *evs,
			 size_t n)
{
	eventrec_enc_reset(enc);
	w->len = 0;
	for (size_t i = 0; i < n; i++)
		eventrec_encode(enc, w, &evs[i]);
	assert_false(w->failed);
}

static void test_round_trip(void **state)
{
	enum { N = 4000 };
	static struct mevi_event evs[N];
	struct strv_arena arena = {0};
	struct eventrec_enc enc;
	struct eventrec_dec dec = {0};
	struct wbuf w = {0};
	uint64_t rng = 2026;
	size_t done = 0;

	(void)state;
	eventrec_enc_init(&enc);
	for (size_t i = 0; i < N; i++) {
		random_event(&rng, &arena, &evs[i]);
		if (i && rng_below(&rng, 4) == 0) /* repeats: the ts, pid, tid, strings */
			evs[i] = evs[i - 1];
		if (arena.used > 4000) /* the arena is small: keep the strings of this run */
			break;
		done = i + 1;
	}
	for (size_t at = 0; at < done;) {
		size_t n = 1 + rng_below(&rng, 300);

		if (n > done - at)
			n = done - at;
		encode_chunk(&enc, &w, evs + at, n);
		eventrec_dec_reset(&dec, w.p, w.len);
		for (size_t k = 0; k < n; k++) {
			struct mevi_event got;

			assert_int_equal(eventrec_decode(&dec, &got), 0);
			if (!event_equal(&got, &evs[at + k]))
				fail_msg("event %zu (%s) differs after a round trip", at + k,
					 mevi_event_type_name(evs[at + k].type));
		}
		assert_int_equal(dec.r.off, w.len); /* nothing left over */
		at += n;
	}
	assert_true(done > 1000);
	free(w.p);
	eventrec_enc_destroy(&enc);
	eventrec_dec_destroy(&dec);
	free_arena(&arena);
}

/* The sizes the history's numbers rely on (daemon/README.md). */
static void test_sizes(void **state)
{
	static char path[] = "/usr/lib/x86_64-linux-gnu/libc.so.6";
	struct mevi_event ev = {.type = MEVI_EV_STATE, .pid = 100, .ts = 1000};
	struct eventrec_enc enc;
	struct wbuf w = {0};
	size_t before;

	(void)state;
	eventrec_enc_init(&enc);
	ev.state.range = (struct mevi_range){0x7f0000000000, 0x7f0000004000};
	ev.state.state = MEVI_STATE_RESIDENT;
	eventrec_encode(&enc, &w, &ev);
	before = w.len;
	ev.ts += 1000;
	ev.state.range.start += 0x4000;
	ev.state.range.end += 0x8000;
	eventrec_encode(&enc, &w, &ev);
	assert_true(w.len - before <= 8); /* header, ts delta, start delta, length */

	ev = (struct mevi_event){.type = MEVI_EV_VMA, .pid = 100, .ts = 3000};
	ev.vma.range = (struct mevi_range){0x1000, 0x2000};
	ev.vma.kind = MEVI_KIND_FILE;
	ev.vma.name = (struct mevi_str){path, sizeof(path) - 1};
	before = w.len;
	eventrec_encode(&enc, &w, &ev);
	assert_true(w.len - before > sizeof(path) - 1); /* the first one is a literal */
	before = w.len;
	eventrec_encode(&enc, &w, &ev);
	assert_true(w.len - before <= 6); /* a repeat is a reference */

	/* A new chunk forgets the strings. */
	eventrec_enc_reset(&enc);
	before = w.len;
	eventrec_encode(&enc, &w, &ev);
	assert_true(w.len - before > sizeof(path) - 1);
	free(w.p);
	eventrec_enc_destroy(&enc);
}

/* Every truncation of a chunk, and garbage, is refused cleanly. */
static void test_damaged(void **state)
{
	enum { N = 300 };
	static struct mevi_event evs[N];
	struct strv_arena arena = {0};
	struct eventrec_enc enc;
	struct eventrec_dec dec = {0};
	struct wbuf w = {0};
	uint64_t rng = 7;

	(void)state;
	eventrec_enc_init(&enc);
	for (size_t i = 0; i < N; i++)
		random_event(&rng, &arena, &evs[i]);
	encode_chunk(&enc, &w, evs, N);
	for (size_t len = 0; len < w.len; len += 1 + len / 16) {
		size_t k = 0;
		int ret = 0;

		eventrec_dec_reset(&dec, w.p, len);
		for (; k < N && !ret; k++) {
			struct mevi_event got;

			ret = eventrec_decode(&dec, &got);
		}
		assert_int_equal(ret, -EBADMSG);
		assert_true(dec.r.off <= len);
	}
	/* An unknown type (escaped) is refused. */
	eventrec_dec_reset(&dec, (const unsigned char *)"\x0f\x63\x00", 3);
	{
		struct mevi_event got;

		assert_int_equal(eventrec_decode(&dec, &got), -EBADMSG);
	}
	free(w.p);
	eventrec_enc_destroy(&enc);
	eventrec_dec_destroy(&dec);
	free_arena(&arena);
}

static void test_varbuf(void **state)
{
	static const int64_t sv[] = {0, 1, -1, 63, -64, 64, INT64_MAX, INT64_MIN};
	static const uint64_t uv[] = {0, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX};
	struct mevi_str items[] = {{"a", 1}, {"", 0}, {"hello", 5}};
	struct mevi_strv v = {3, items}, got;
	struct wbuf w = {0};
	struct rbuf r = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(uv) / sizeof(uv[0]); i++)
		wb_uv(&w, uv[i]);
	for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++)
		wb_sv(&w, sv[i]);
	wb_strv(&w, &v);
	wb_byte(&w, 0xab);
	assert_false(w.failed);
	r.p = w.p;
	r.len = w.len;
	for (size_t i = 0; i < sizeof(uv) / sizeof(uv[0]); i++)
		assert_true(rb_uv(&r) == uv[i]);
	for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++)
		assert_true(rb_sv(&r) == sv[i]);
	rb_strv(&r, &got);
	assert_true(strv_equal(&got, &v));
	assert_int_equal(rb_byte(&r), 0xab);
	assert_false(r.bad);
	/* Past the end: zeros and bad, for good. */
	assert_int_equal(rb_byte(&r), 0);
	assert_true(r.bad);
	rb_free(&r); /* the reader owns the items of rb_strv */
	/* A varint of 11 continuation bytes is malformed. */
	r = (struct rbuf){
	    .p = (const unsigned char *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
	    .len = 12};
	assert_true(rb_uv(&r) == 0);
	assert_true(r.bad);
	/* A string list announcing more items than bytes left. */
	r = (struct rbuf){.p = (const unsigned char *)"\x05\x00", .len = 2};
	rb_strv(&r, &got);
	assert_true(r.bad);
	assert_int_equal(got.count, 0);
	rb_free(&r);
	free(w.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_damaged),
	    cmocka_unit_test(test_varbuf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
