/*
 * fuzz_ingest — the daemon's ingest path (daemon/ingest.h: decoder, protocol
 * rules, session model) on arbitrary bytes, as a launcher would send them.
 *
 * Input: byte 0 picks where the stream is split in two feeds (fragmented
 * reads); the rest is the stream. Two connections take turns, so takeovers
 * and resumes are reached too. Sessions keep a history with tiny chunks and
 * checkpoints, so the event log's records (version 2 annotations included)
 * are written for whatever the decoder accepted, and must replay. Every
 * input must leave the registry consistent (annotation tables within their
 * bounds) and free everything.
 *
 * With -DMEVI_FUZZ=ON (clang) this is a libFuzzer target:
 *   build-fuzz/tests/daemon/fuzz_ingest -max_total_time=60 tests/fuzz/corpus
 * Otherwise it is built as test_daemon_ingest_random, a CTest test that
 * feeds 20,000 deterministic mutations of valid streams (run it under the
 * sanitizer build to make it bite).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "event.h"
#include "eventlog.h"
#include "ingest.h"
#include "log.h"
#include "memmap.h"
#include "session.h"

struct conn {
	struct ingest in;
	bool closed;
};

static void takeover(void *ctx, void *other)
{
	struct conn *o = other;

	o->in.session = NULL;
	o->closed = true;
}

static void conn_end(struct session_registry *reg, struct conn *c)
{
	if (c->in.session)
		session_registry_detach(reg, c->in.session);
	c->in.session = NULL;
	ingest_destroy(&c->in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_registry reg;
	struct eventlog_budget budget;
	struct conn a, b;
	size_t split;

	if (size < 1)
		return 0;
	log_set_level(LOG_LEVEL_ERROR);
	split = size > 1 ? data[0] % size : 0;
	data++;
	size--;
	if (split > size)
		split = size;
	session_registry_init(&reg, 2, NULL, NULL);
	eventlog_budget_init(&budget, SIZE_MAX);
	budget.chunk_bytes = 256;
	budget.ckpt_events = 8;
	checkpoint_keep_history(&reg, &budget);
	reg.quiet = true;
	if (ingest_init(&a.in, &reg, &a, NULL, takeover, NULL) ||
	    ingest_init(&b.in, &reg, &b, NULL, takeover, NULL))
		abort();
	a.closed = b.closed = false;
	/* a gets the stream in two pieces, then b gets all of it: b's
	 * session_start (same key) takes a's session over. */
	if (ingest_feed(&a.in, data, split) == 0 && !a.closed)
		ingest_feed(&a.in, data + split, size - split);
	ingest_feed(&b.in, data, size);
	for (struct session *s = reg.head; s; s = s->next) {
		uint64_t rss = 0;

		for (struct process *p = s->procs_head; p; p = p->next) {
			if (memmap_rss(p->map) > memmap_vsz(p->map))
				abort();
			if (p->alive)
				rss += memmap_rss(p->map);
		}
		if (rss != s->rss)
			abort();
		if (s->names.count > VMANAMES_MAX_NAMES || s->names.bytes > VMANAMES_MAX_BYTES ||
		    s->stacks.count > STACKTAB_MAX_STACKS || s->stacks.bytes > STACKTAB_MAX_BYTES)
			abort();
		if (s->log) {
			struct session_registry tmp;
			struct eventlog_pos pos;
			struct session *r;

			/* Everything the log holds replays. */
			if (checkpoint_state_at(s, UINT64_MAX, &tmp, &r, &pos) || !r ||
			    pos.applied != pos.events || r->nprocs != s->nprocs ||
			    r->stacks.count != s->stacks.count || r->sample_ms != s->sample_ms)
				abort();
			session_registry_destroy(&tmp);
		}
	}
	conn_end(&reg, &a);
	conn_end(&reg, &b);
	if (reg.detached != reg.count || reg.count > 2)
		abort();
	session_registry_destroy(&reg);
	if (budget.used)
		abort();
	return 0;
}

#ifndef MEVI_LIBFUZZER
/* A small deterministic generator (xorshift) of mutated valid streams. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void valid_stream(msgpack_sbuffer *out)
{
	static struct mevi_str argv_items[] = {{"prog", 4}, {"\xff\xfe", 2}};
	struct mevi_strv argv = {2, argv_items};
	struct mevi_batch_encoder enc;
	int n = 1 + (int)(next_rand() % 40);

	mevi_batch_encoder_init(&enc);
	{
		struct mevi_event ev = {.type = MEVI_EV_SESSION_START, .pid = 10};

		ev.session_start.version = MEVI_PROTO_VERSION;
		ev.session_start.resume = next_rand() % 2;
		ev.session_start.started_at = next_rand() % 3;
		ev.session_start.argv = argv;
		ev.session_start.sample_ms = (uint32_t)(next_rand() % 3);
		mevi_batch_encoder_add(&enc, &ev);
	}
	for (int i = 0; i < n; i++) {
		static struct mevi_frame frames[3] = {
		    {0x401000, {"main+0x1", 8}, {"prog", 4}, {"a.c:1", 5}},
		    {0x7f0000000000, {"", 0}, {"\xff\xfe\x00libc", 7}, {NULL, 0}},
		    {UINT64_MAX, {"f", 1}, {"", 0}, {"", 0}},
		};
		static const char *const names[] = {"", "/lib/x.so", "[anon:a]", "\xc3\x28", "1"};
		const char *name = names[next_rand() % 5];
		struct mevi_event ev = {.type = (uint8_t)(1 + next_rand() % 14),
					.pid = (int32_t)(11 + next_rand() % 4),
					.ts = next_rand() % 1000};
		uint64_t s = (next_rand() % 64) * 4096, e = s + (1 + next_rand() % 16) * 4096;

		switch (ev.type) {
		case MEVI_EV_SESSION_END:
			if (next_rand() % 4)
				continue;
			ev.pid = 10;
			break;
		case MEVI_EV_PROC_START:
			ev.proc_start.ppid = (int32_t)(10 + next_rand() % 4);
			ev.proc_start.flags = next_rand() % 2;
			ev.proc_start.cmdline = argv;
			break;
		case MEVI_EV_PROC_EXEC:
			ev.proc_exec.cmdline = argv;
			break;
		case MEVI_EV_PROC_EXIT:
			ev.proc_exit.status = (int32_t)(next_rand() % 256);
			break;
		case MEVI_EV_REMAP:
			ev.remap.from = (struct mevi_range){s, e};
			s = (next_rand() % 64) * 4096;
			ev.remap.to = (struct mevi_range){s, s + (1 + next_rand() % 16) * 4096};
			break;
		case MEVI_EV_STACK:
			ev.stack.id = (uint32_t)(next_rand() % 4);
			ev.stack.nframes = (uint32_t)(next_rand() % 4);
			ev.stack.frames = frames;
			break;
		case MEVI_EV_ORIGIN:
			ev.origin.range = (struct mevi_range){s, e};
			ev.origin.stack_id = (uint32_t)(next_rand() % 6); /* 4, 5: never defined */
			break;
		case MEVI_EV_VMA:
			ev.vma.range = (struct mevi_range){s, e};
			ev.vma.kind = (uint8_t)(next_rand() % MEVI_KIND_COUNT);
			ev.vma.name = (struct mevi_str){name, (uint32_t)strlen(name)};
			break;
		case MEVI_EV_THREAD:
			ev.thread.tid = (int32_t)(11 + next_rand() % 6);
			ev.thread.name = (struct mevi_str){name, (uint32_t)strlen(name)};
			break;
		case MEVI_EV_TOUCH:
			ev.touch.range = (struct mevi_range){s, e};
			ev.touch.tid = (int32_t)(11 + next_rand() % 6); /* some never named */
			break;
		case MEVI_EV_SAMPLING:
			ev.pid = 10;
			ev.sampling.sample_ms = (uint32_t)(next_rand() % 1000);
			break;
		default:
			ev.map.range = (struct mevi_range){s, e};
			ev.map.state = (uint8_t)(next_rand() % MEVI_STATE_COUNT);
			break;
		}
		mevi_batch_encoder_add(&enc, &ev);
		if (next_rand() % 8 == 0)
			mevi_batch_encoder_finish(&enc, out);
	}
	mevi_batch_encoder_finish(&enc, out);
	mevi_batch_encoder_destroy(&enc);
}

int main(int argc, char **argv)
{
	int iterations = argc > 1 ? atoi(argv[1]) : 20000;

	for (int i = 0; i < iterations; i++) {
		msgpack_sbuffer sb;
		uint8_t *buf;
		size_t len;

		msgpack_sbuffer_init(&sb);
		valid_stream(&sb);
		len = sb.size + 1;
		buf = malloc(len + 16);
		buf[0] = (uint8_t)next_rand();
		memcpy(buf + 1, sb.data, sb.size);
		/* Mutate: a third stays valid, the rest get flips, cuts or junk. */
		switch (i % 3) {
		case 1:
			for (int k = 0; k < 1 + (int)(next_rand() % 4); k++)
				buf[1 + next_rand() % sb.size] ^=
				    (uint8_t)(1u << (next_rand() % 8));
			break;
		case 2:
			len = 1 + next_rand() % sb.size;
			memcpy(buf + len, "\xdd\xff\xff\xff\xff\xc1\xcf", 7);
			len += next_rand() % 8;
			break;
		default:
			break;
		}
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		msgpack_sbuffer_destroy(&sb);
	}
	printf("fuzz_ingest: %d inputs, no failure\n", iterations);
	return 0;
}
#endif
