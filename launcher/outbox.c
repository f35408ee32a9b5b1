/* outbox — timestamping, coalescing and batching the launcher's events. */
#include "outbox.h"

#include <errno.h>
#include <stdlib.h>
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

static int close_run(struct outbox *ob)
{
	struct mevi_event ev = {.type = MEVI_EV_STATE};

	if (!ob->run_open)
		return 0;
	ob->run_open = false;
	ev.pid = ob->run_pid;
	ev.ts = outbox_now(ob);
	ev.state.range.start = ob->run_start;
	ev.state.range.end = ob->run_end;
	ev.state.state = ob->run_state;
	if (!ob->run_tid)
		return add(ob, &ev);
	int err = add(ob, &ev);
	struct mevi_event touch = {.type = MEVI_EV_TOUCH, .pid = ob->run_pid, .ts = ev.ts};

	if (err)
		return err;
	touch.touch.range = ev.state.range;
	touch.touch.tid = ob->run_tid;
	return add(ob, &touch);
}

int outbox_emit(struct outbox *ob, struct mevi_event *ev)
{
	int err = close_run(ob);

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

int outbox_state_touch(struct outbox *ob, pid_t pid, uint64_t start, uint64_t end, uint8_t state,
		       pid_t tid)
{
	if (ob->run_open && ob->run_pid == pid && ob->run_state == state && ob->run_tid == tid) {
		if (start == ob->run_end) {
			ob->run_end = end;
			return 0;
		}
		if (end == ob->run_start) {
			ob->run_start = start;
			return 0;
		}
	}
	int err = close_run(ob);

	if (err)
		return err;
	ob->run_open = true;
	ob->run_pid = pid;
	ob->run_state = state;
	ob->run_start = start;
	ob->run_end = end;
	ob->run_tid = tid;
	return 0;
}

bool outbox_pending(const struct outbox *ob)
{
	return ob->run_open || ob->enc.count > 0;
}

void outbox_flush(struct outbox *ob)
{
	if (close_run(ob))
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
	ob->run_open = false;
	ob->out.size = 0;
	/* Finishing into a scratch buffer resets the encoder. */
	mevi_batch_encoder_finish(&ob->enc, &ob->out);
	ob->out.size = 0;
}
