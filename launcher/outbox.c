/* outbox — timestamping, coalescing and batching the launcher's events. */
#include "outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "monotime.h"
#include "procfs.h"

#define DEFAULT_MAX_EVENTS 4096

void outbox_init(struct outbox *ob, outbox_sink_fn sink, void *sink_ctx)
{
	*ob = (struct outbox){.max_events = DEFAULT_MAX_EVENTS, .sink = sink, .sink_ctx = sink_ctx};
	mevi_batch_encoder_init(&ob->enc);
	msgpack_sbuffer_init(&ob->out);
	ob->t0 = mono_ns();
}

void outbox_destroy(struct outbox *ob)
{
	mevi_batch_encoder_destroy(&ob->enc);
	msgpack_sbuffer_destroy(&ob->out);
}

uint64_t outbox_now(const struct outbox *ob)
{
	return mono_ns() - ob->t0;
}

static int add(struct outbox *ob, const struct mevi_event *ev)
{
	int err = mevi_batch_encoder_add(&ob->enc, ev);

	if (err)
		return err;
	ob->events_total++;
	if (ob->enc.count >= ob->max_events)
		outbox_flush(ob);
	return 0;
}

/* Sends run r: its STATE event, and its TOUCH event when a thread made it. */
static int send_run(struct outbox *ob, const struct outbox_run *r)
{
	struct mevi_event ev = {.type = MEVI_EV_STATE, .pid = r->pid, .ts = outbox_now(ob)};
	struct mevi_event touch = {.type = MEVI_EV_TOUCH, .pid = r->pid, .ts = ev.ts};
	int err;

	ev.state.range.start = r->start;
	ev.state.range.end = r->end;
	ev.state.state = r->state;
	err = add(ob, &ev);
	if (err || !r->tid)
		return err;
	touch.touch.range = ev.state.range;
	touch.touch.tid = r->tid;
	return add(ob, &touch);
}

/*
 * Sends the oldest n open runs, in the order they were opened. They leave the
 * open set first: a batch filled while they are sent is flushed (add), and
 * that flush sends what is still open. Sent or not (out of memory), they are
 * gone.
 */
static int close_oldest(struct outbox *ob, unsigned n)
{
	struct outbox_run gone[OUTBOX_RUNS];
	int err = 0;

	memcpy(gone, ob->runs, n * sizeof(gone[0]));
	ob->nruns -= n;
	memmove(ob->runs, ob->runs + n, ob->nruns * sizeof(ob->runs[0]));
	for (unsigned i = 0; i < n && !err; i++)
		err = send_run(ob, &gone[i]);
	return err;
}

static int close_runs(struct outbox *ob)
{
	return close_oldest(ob, ob->nruns);
}

int outbox_emit(struct outbox *ob, struct mevi_event *ev)
{
	int err = close_runs(ob);

	if (err)
		return err;
	ev->ts = outbox_now(ob);
	return add(ob, ev);
}

int outbox_proc(struct outbox *ob, uint8_t type, pid_t pid, pid_t ppid, uint32_t flags,
		const char *cmdline, size_t len)
{
	struct mevi_event ev = {.type = type, .pid = pid};
	struct mevi_strv sv = {0};
	int err;

	sv.items = procfs_cmdline_split(cmdline, len, &sv.count);
	MEVI_ASSERT(sv.items); /* out of memory */
	if (type == MEVI_EV_PROC_START) {
		ev.proc_start.ppid = ppid > 0 ? ppid : 1;
		ev.proc_start.flags = flags;
		ev.proc_start.cmdline = sv;
	} else {
		ev.proc_exec.cmdline = sv;
	}
	err = outbox_emit(ob, &ev);
	free(sv.items);
	return err;
}

int outbox_state(struct outbox *ob, pid_t pid, uint64_t start, uint64_t end, uint8_t state)
{
	return outbox_state_touch(ob, pid, start, end, state, 0);
}

/* Whether [start, end) of pid overlaps an open run other than skip. */
static bool overlaps(const struct outbox *ob, pid_t pid, uint64_t start, uint64_t end,
		     const struct outbox_run *skip)
{
	for (unsigned i = 0; i < ob->nruns; i++) {
		const struct outbox_run *r = &ob->runs[i];

		if (r != skip && r->pid == pid && r->start < end && start < r->end)
			return true;
	}
	return false;
}

int outbox_state_touch(struct outbox *ob, pid_t pid, uint64_t start, uint64_t end, uint8_t state,
		       pid_t tid)
{
	int err = 0;

	/* The newest first: a thread's next page is most often its last one's
	 * neighbour. */
	for (unsigned i = ob->nruns; i-- > 0;) {
		struct outbox_run *r = &ob->runs[i];

		if (r->pid != pid || r->state != state || r->tid != tid ||
		    (start != r->end && end != r->start) || overlaps(ob, pid, start, end, r))
			continue;
		if (start == r->end)
			r->end = end;
		else
			r->start = start;
		return 0;
	}
	if (overlaps(ob, pid, start, end, NULL))
		err = close_runs(ob); /* what came before goes first */
	else if (ob->nruns == OUTBOX_RUNS)
		err = close_oldest(ob, 1);
	if (err)
		return err;
	ob->runs[ob->nruns++] =
	    (struct outbox_run){.pid = pid, .tid = tid, .state = state, .start = start, .end = end};
	return 0;
}

bool outbox_pending(const struct outbox *ob)
{
	return ob->nruns > 0 || ob->enc.count > 0;
}

void outbox_flush(struct outbox *ob)
{
	if (close_runs(ob))
		return;
	if (ob->enc.count == 0)
		return;
	ob->out.size = 0;
	if (mevi_batch_encoder_finish(&ob->enc, &ob->out))
		return;
	ob->sink(ob->out.data, ob->out.size, ob->sink_ctx);
}

void outbox_discard(struct outbox *ob)
{
	ob->nruns = 0;
	ob->out.size = 0;
	/* Finishing into a scratch buffer resets the encoder. */
	mevi_batch_encoder_finish(&ob->enc, &ob->out);
	ob->out.size = 0;
}
