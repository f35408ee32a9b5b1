/* warm_syscalls — the layout syscalls' tracepoints held registered (warm_syscalls.h). */
#include "warm_syscalls.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "monotime.h"

/* A disabled perf event on tracepoint id, on CPU 0 for every process: it
 * registers the tracepoint and is never scheduled. The fd, or -errno. */
static int open_disabled(uint32_t id)
{
	struct perf_event_attr attr = {
	    .type = PERF_TYPE_TRACEPOINT,
	    .size = sizeof(attr),
	    .config = id,
	    .sample_period = 1,
	    .disabled = 1,
	};
	int fd = (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* On the pool: nothing here touches the loop or logs. */
static void open_work(uv_work_t *req)
{
	struct warm_syscalls *w = req->data;

	w->err = 0;
	for (size_t i = 0; i < w->nids && !w->err; i++) {
		int fd = open_disabled(w->ids[i]);

		if (fd < 0)
			w->err = fd;
		else
			w->fds[w->nfds++] = fd;
	}
	if (w->err) {
		while (w->nfds)
			close(w->fds[--w->nfds]);
	}
}

/* On the pool: the last close of each waits a grace period. */
static void close_work(uv_work_t *req)
{
	struct warm_syscalls *w = req->data;

	while (w->nfds)
		close(w->fds[--w->nfds]);
}

static void after_work(uv_work_t *req, int status);

static void queue(struct warm_syscalls *w, uv_work_cb cb)
{
	int err;

	w->work.data = w;
	err = uv_queue_work(w->loop, &w->work, cb, after_work);
	if (err) {
		/* Only a loop that is closing refuses: run it here. */
		cb(&w->work);
		after_work(&w->work, 0);
		return;
	}
	w->busy = true;
}

static void timer_cb(uv_timer_t *t)
{
	struct warm_syscalls *w = t->data;
	int64_t now = mono_ms(), due = w->last_ms + (int64_t)w->linger_ms;

	if (w->busy || !w->nfds)
		return;
	if (now < due) {
		uv_timer_start(&w->timer, timer_cb, due - now, 0);
		return;
	}
	log_debug("engine stock: the syscall tracepoints let go (no launcher for %u ms)",
		  w->linger_ms);
	w->closes++;
	queue(w, close_work);
}

static void after_work(uv_work_t *req, int status)
{
	struct warm_syscalls *w = req->data;

	(void)status;
	w->busy = false;
	if (w->stopping) {
		if (w->nfds) {
			w->closes++;
			queue(w, close_work);
		}
		return;
	}
	if (w->nfds) {
		/* Opened: held until the linger runs out. */
		w->wanted = false;
		log_debug("engine stock: the syscall tracepoints are held registered (%zu perf "
			  "events, disabled) until %u ms after the last launcher",
			  w->nfds, w->linger_ms);
		timer_cb(&w->timer);
		return;
	}
	if (w->err && w->err != -EBUSY && w->err != -EINTR && w->err != -EAGAIN) {
		log_debug("engine stock: the syscall tracepoints cannot be held (%s); launchers "
			  "attach and detach them cold",
			  strerror(-w->err));
		w->disabled = true;
		return;
	}
	if (w->wanted && mono_ms() < w->last_ms + (int64_t)w->linger_ms) {
		w->wanted = false;
		w->opens++;
		queue(w, open_work);
	}
}

void warm_syscalls_init(struct warm_syscalls *w, uv_loop_t *loop, unsigned linger_ms)
{
	memset(w, 0, sizeof(*w));
	w->loop = loop;
	w->linger_ms = linger_ms;
	uv_timer_init(loop, &w->timer);
	w->timer.data = w;
	w->timer_init = true;
}

void warm_syscalls_touch(struct warm_syscalls *w, const uint32_t *ids, size_t n)
{
	if (!w->timer_init || w->stopping || w->disabled || n == 0)
		return;
	w->last_ms = mono_ms();
	if (w->busy) {
		w->wanted = true; /* after a close, open again */
		return;
	}
	if (w->nfds)
		return; /* held: the timer sees the new last_ms */
	w->nids = n < WARM_SYSCALLS_MAX ? n : WARM_SYSCALLS_MAX;
	memcpy(w->ids, ids, w->nids * sizeof(*ids));
	w->opens++;
	queue(w, open_work);
}

size_t warm_syscalls_held(const struct warm_syscalls *w)
{
	return w->busy ? 0 : w->nfds;
}

void warm_syscalls_close(struct warm_syscalls *w)
{
	if (!w->timer_init)
		return;
	w->stopping = true;
	w->timer_init = false;
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, NULL);
	if (!w->busy && w->nfds) {
		w->closes++;
		queue(w, close_work);
	}
}
