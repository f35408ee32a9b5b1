/*
 * fuzz_decoder — libFuzzer target for the streaming decoder (proto/decoder.c).
 *
 * Input layout: byte 0 picks the limits and the chunk size, byte 1 seeds the
 * split points, the rest is the byte stream a launcher would send:
 *   byte 0 bit 0      default limits (0) or tiny ones (1), to reach every limit
 *   byte 0 bits 1..3  the largest chunk: 1, 2, 3, 7, 64, 512, 4096 or 65536
 *   byte 1            seed of the chunk sizes
 *
 * For every input the target checks, beyond "no crash, no leak, no UB":
 *  - the stream fed in chunks decodes exactly like the stream fed whole
 *    (same batches, same events, same error code and message);
 *  - whatever decoded re-encodes to bytes that decode to the same bytes again
 *    (the encoding is canonical and round-trips);
 *  - after an error, the decoder stays poisoned.
 * A violated property aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec_test.h"

static const struct mevi_decoder_limits tiny_limits = {
    .max_batch_bytes = 256,
    .max_batch_events = 8,
    .max_string_bytes = 16,
    .max_strings = 4,
};

static const size_t chunk_sizes[8] = {1, 2, 3, 7, 64, 512, 4096, 65536};

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_decoder: property violated: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct mevi_decoder_limits *lim;
	struct transcript whole, split, again;
	size_t max_chunk;
	uint64_t seed;

	if (size < 2)
		return 0;
	lim = (data[0] & 1) ? &tiny_limits : NULL;
	max_chunk = chunk_sizes[(data[0] >> 1) & 7];
	seed = data[1];
	data += 2;
	size -= 2;

	decode_stream(data, size, lim, SPLIT_WHOLE, 0, 0, &whole);
	decode_stream(data, size, lim, SPLIT_RANDOM, seed, max_chunk, &split);
	check(transcript_equal(&whole, &split), "chunked decode differs from whole decode");
	check(whole.last_ret == 0 || whole.last_ret == -EBADMSG, "unexpected return value");
	check((whole.last_ret == -EBADMSG) == (whole.err != MEVI_DECODE_OK),
	      "error code does not match the return value");

	/* What came out must go back in unchanged, under the same limits: the
	 * canonical encoding is never larger than what was accepted. */
	if (whole.out.size > 0) {
		decode_stream(whole.out.data, whole.out.size, lim, SPLIT_WHOLE, 0, 0, &again);
		check(again.err == MEVI_DECODE_OK, "re-encoded events do not decode");
		check(again.batches == whole.batches && again.events == whole.events,
		      "re-encoded events decode to a different count");
		check(again.out.size == whole.out.size &&
			  memcmp(again.out.data, whole.out.data, whole.out.size) == 0,
		      "re-encoding is not canonical");
		transcript_destroy(&again);
	}

	/* Poisoning: once failed, further calls fail the same way. */
	if (whole.err != MEVI_DECODE_OK) {
		struct mevi_decoder d;
		const struct mevi_event *ev;
		uint32_t n;

		if (mevi_decoder_init(&d, lim))
			abort();
		if (mevi_decoder_feed(&d, data, size) == 0)
			while (mevi_decoder_next(&d, &ev, &n) == 1)
				;
		check(mevi_decoder_error(&d) == whole.err, "whole-feed error differs");
		check(mevi_decoder_next(&d, &ev, &n) == -EBADMSG, "not poisoned (next)");
		check(mevi_decoder_feed(&d, data, size) == -EBADMSG, "not poisoned (feed)");
		check(mevi_decoder_error(&d) == whole.err, "error changed after poisoning");
		mevi_decoder_destroy(&d);
	}

	transcript_destroy(&whole);
	transcript_destroy(&split);
	return 0;
}
