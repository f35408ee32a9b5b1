/*
 * bench_decode — wire-format throughput: events encoded per second through
 * the batch encoder, and events decoded per second through the streaming
 * decoder fed 64 KiB at a time (what mevid does with a launcher's socket).
 *
 * The workload is the common case: map and state events (page-ins) in
 * batches of 1000. Times are CPU time of this process (best of ROUNDS), so
 * that other work on a small shared machine does not skew them much.
 * Prints numbers; never fails on timing (only on a decode error, which is a
 * bug). Target (issue 2): >= 5 M decoded events/s.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decoder.h"
#include "event.h"

#define BATCH  1000
#define EVENTS 2000000
#define CHUNK  (64 * 1024)
#define ROUNDS 5

/* Keeps the compiler from discarding what the decoder produced. */
static volatile uint64_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Event i of the workload: a heap-like region growing, pages faulted in. */
static void make_event(uint64_t i, struct mevi_event *ev)
{
	uint64_t base = UINT64_C(0x7f3a5c000000);

	memset(ev, 0, sizeof(*ev));
	ev->pid = 4243 + (int32_t)(i % 3);
	ev->ts = 1000000 + i * 1500;
	if (i % 4 == 0) {
		ev->type = MEVI_EV_MAP;
		ev->map.range.start = base + i * MEVI_PAGE_SIZE * 16;
		ev->map.range.end = ev->map.range.start + MEVI_PAGE_SIZE * 64;
		ev->map.state = 0;
	} else {
		ev->type = MEVI_EV_STATE;
		ev->state.range.start = base + i * MEVI_PAGE_SIZE * 4;
		ev->state.range.end = ev->state.range.start + MEVI_PAGE_SIZE * (1 + i % 8);
		ev->state.state = 1;
	}
}

/* Encodes the workload into out. Returns the elapsed seconds. */
static double encode_all(msgpack_sbuffer *out)
{
	struct mevi_batch_encoder enc;
	struct mevi_event ev;
	double t0 = now();

	mevi_batch_encoder_init(&enc);
	for (uint64_t i = 0; i < EVENTS; i++) {
		make_event(i, &ev);
		if (mevi_batch_encoder_add(&enc, &ev))
			goto oom;
		if (enc.count == BATCH && mevi_batch_encoder_finish(&enc, out))
			goto oom;
	}
	if (mevi_batch_encoder_finish(&enc, out))
		goto oom;
	mevi_batch_encoder_destroy(&enc);
	return now() - t0;

oom:
	fprintf(stderr, "bench_decode: out of memory encoding\n");
	exit(1);
}

/* Decodes buf in CHUNK-sized feeds. Returns the elapsed seconds. */
static double decode_all(const char *buf, size_t len, uint64_t *events)
{
	struct mevi_decoder d;
	const struct mevi_event *ev;
	uint32_t n;
	uint64_t total = 0;
	double t0;
	int ret = 0;

	if (mevi_decoder_init(&d, NULL)) {
		fprintf(stderr, "bench_decode: out of memory\n");
		exit(1);
	}
	t0 = now();
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t c = len - off < CHUNK ? len - off : CHUNK;

		if ((ret = mevi_decoder_feed(&d, buf + off, c)))
			break;
		while ((ret = mevi_decoder_next(&d, &ev, &n)) == 1) {
			total += n;
			if (n)
				sink += ev[n - 1].ts;
		}
		if (ret)
			break;
	}
	t0 = now() - t0;
	if (ret || total != EVENTS) {
		fprintf(stderr, "bench_decode: decode failed (%d): %s\n", ret,
			mevi_decoder_errmsg(&d));
		exit(1);
	}
	mevi_decoder_destroy(&d);
	*events = total;
	return t0;
}

int main(void)
{
	msgpack_sbuffer buf;
	double enc_best = 1e9, dec_best = 1e9;
	uint64_t events = 0;

	for (int r = 0; r < ROUNDS; r++) {
		double t;

		msgpack_sbuffer_init(&buf);
		t = encode_all(&buf);
		if (t < enc_best)
			enc_best = t;
		if (r + 1 < ROUNDS)
			msgpack_sbuffer_destroy(&buf);
	}
	for (int r = 0; r < ROUNDS; r++) {
		double t = decode_all(buf.data, buf.size, &events);

		if (t < dec_best)
			dec_best = t;
	}
	printf("bench_decode: %d map/state events in batches of %d, %.1f bytes/event, "
	       "best of %d, CPU time\n",
	       EVENTS, BATCH, (double)buf.size / EVENTS, ROUNDS);
	printf("  encode  %7.2f M events/s  (%6.1f MB/s)\n", EVENTS / enc_best / 1e6,
	       (double)buf.size / enc_best / 1e6);
	printf("  decode  %7.2f M events/s  (%6.1f MB/s, fed in %d KiB chunks; target >= 5)\n",
	       (double)events / dec_best / 1e6, (double)buf.size / dec_best / 1e6, CHUNK / 1024);
	msgpack_sbuffer_destroy(&buf);
	return 0;
}
