/* warm_syscalls — the layout syscalls' tracepoints held registered (warm_syscalls.h). */
#include "warm_syscalls.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "monotime.h"
#include "warm_tracepoints.h"

const char *const warm_fault_names[WARM_FAULTS_N] = {"page_fault_user", "page_fault_kernel",
						     "sched_switch"};

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

static void close_faults(struct warm_syscalls *w)
{
	while (w->nfault_fds)
		close(w->fault_fds[--w->nfault_fds]);
	if (w->fault_prog >= 0)
		close(w->fault_prog);
	w->fault_prog = -1;
}

/* On the pool: the empty program linked WARM_FAULTS_LINKS times to each
 * fault tracepoint, or nothing (w->fault_err says why). */
static void open_faults(struct warm_syscalls *w)
{
	w->fault_err = 0;
	w->fault_prog = warm_tracepoints_load_empty();
	if (w->fault_prog < 0) {
		w->fault_err = w->fault_prog;
		w->fault_prog = -1;
		return;
	}
	for (size_t i = 0; i < WARM_FAULTS_N * WARM_FAULTS_LINKS && !w->fault_err; i++) {
		int fd =
		    warm_tracepoints_link(w->fault_prog, warm_fault_names[i / WARM_FAULTS_LINKS]);

		if (fd < 0)
			w->fault_err = fd;
		else
			w->fault_fds[w->nfault_fds++] = fd;
	}
	if (w->fault_err)
		close_faults(w);
}

/* On the pool: nothing here touches the loop or logs. Opens what is wanted
 * and not held yet. */
static void open_work(uv_work_t *req)
{
	struct warm_syscalls *w = req->data;

	if (w->faults_job)
		open_faults(w);
	if (w->nfds)
		return;
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
		close_faults(w);
	}
}

/* On the pool: the last close of each waits a grace period. */
static void close_work(uv_work_t *req)
{
	struct warm_syscalls *w = req->data;

	while (w->nfds)
		close(w->fds[--w->nfds]);
	close_faults(w);
}

static void after_work(uv_work_t *req, int status);

/* Whether an error of an open is for good (not a moment's). */
static bool for_good(int err)
{
	return err && err != -EBUSY && err != -EINTR && err != -EAGAIN;
}

/* Whether the fault links are wanted, not held, and may be. */
static bool faults_missing(const struct warm_syscalls *w)
{
	return w->faults_wanted && !w->nfault_fds && !w->faults_disabled;
}

static void queue(struct warm_syscalls *w, uv_work_cb cb)
{
	int err;

	/* Decided here, on the loop: the work reads it, a request meanwhile
	 * changes only faults_wanted. */
	w->faults_job = cb == open_work && faults_missing(w);
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
	log_debug("engine stock: the syscall (and fault) tracepoints let go (no launcher for "
		  "%u ms)",
		  w->linger_ms);
	w->faults_wanted = false;
	w->closes++;
	queue(w, close_work);
}

static void after_work(uv_work_t *req, int status)
{
	struct warm_syscalls *w = req->data;

	(void)status;
	w->busy = false;
	if (for_good(w->fault_err) && !w->faults_disabled) {
		log_debug("engine stock: the fault tracepoints cannot be held (%s); exact-mode "
			  "launchers link theirs cold",
			  strerror(-w->fault_err));
		w->faults_disabled = true;
	}
	if (w->stopping) {
		if (w->nfds || w->nfault_fds) {
			w->closes++;
			queue(w, close_work);
		}
		return;
	}
	if (w->nfds) {
		/* Opened: held until the linger runs out; the fault links too when
		 * a request wanted them meanwhile. */
		if (w->wanted && faults_missing(w)) {
			w->wanted = false;
			w->opens++;
			queue(w, open_work);
			return;
		}
		w->wanted = false;
		log_debug("engine stock: the syscall tracepoints are held registered (%zu perf "
			  "events, disabled; %zu links on the fault tracepoints) until %u ms "
			  "after the last launcher",
			  w->nfds, w->nfault_fds, w->linger_ms);
		timer_cb(&w->timer);
		return;
	}
	if (for_good(w->err)) {
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
	w->fault_prog = -1;
	w->loop = loop;
	w->linger_ms = linger_ms;
	uv_timer_init(loop, &w->timer);
	w->timer.data = w;
	w->timer_init = true;
}

void warm_syscalls_touch(struct warm_syscalls *w, const uint32_t *ids, size_t n, bool faults)
{
	if (!w->timer_init || w->stopping || w->disabled || n == 0)
		return;
	w->last_ms = mono_ms();
	if (w->busy) {
		w->wanted = true; /* after a close, or an open without them */
		w->faults_wanted |= faults;
		return;
	}
	w->faults_wanted |= faults;
	if (w->nfds && !faults_missing(w))
		return; /* held: the timer sees the new last_ms */
	if (w->nfds) {
		w->opens++;
		queue(w, open_work); /* the fault links only */
		return;
	}
	w->nids = n < WARM_SYSCALLS_MAX ? n : WARM_SYSCALLS_MAX;
	memcpy(w->ids, ids, w->nids * sizeof(*ids));
	w->opens++;
	queue(w, open_work);
}

size_t warm_syscalls_held(const struct warm_syscalls *w)
{
	return w->busy ? 0 : w->nfds;
}

size_t warm_syscalls_faults_held(const struct warm_syscalls *w)
{
	return w->busy ? 0 : w->nfault_fds;
}

void warm_syscalls_close(struct warm_syscalls *w)
{
	if (!w->timer_init)
		return;
	w->stopping = true;
	w->timer_init = false;
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, NULL);
	if (!w->busy && (w->nfds || w->nfault_fds)) {
		w->closes++;
		queue(w, close_work);
	}
}
