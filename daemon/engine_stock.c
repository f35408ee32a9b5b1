/* engine_stock — mevi-run's eBPF programs, loaded ahead of time (engine_stock.h). */
#include "engine_stock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "monotime.h"
#include "parse.h"
#include "sockpath.h"
#include "stockmsg.h"

#ifdef MEVI_HAVE_EBPF

#include "bpfskel.h"
#include "mevi.lskel.h"
#include "tracepoint.h"

/* One launcher asking. Freed once both of its handles are closed. */
struct stock_conn {
	struct engine_stock *st;
	struct stock_conn *next, *prev;
	uv_pipe_t pipe;
	uv_timer_t timeout;
	int open_handles;
	bool closing;
	pid_t peer;
	size_t have;
	char buf[MEVI_STOCK_MSG_MAX];
};

/* A process that took a set, watched until it ends (its pidfd, polled). */
struct stock_taker {
	struct engine_stock *st;
	struct stock_taker *next, *prev;
	uv_poll_t poll;
	int pidfd;
};

static void reload_cb(uv_timer_t *t);

/* The id a launcher with a default configuration asks for now (THP's
 * setting may have changed since a set was loaded); 0 if unknown. */
static uint64_t default_id(bool sampled)
{
	struct mevi_stock_config c;
	struct mevi_bpf *s;
	uint64_t id;

	bpfskel_config_default(&c, sampled);
	s = bpfskel_open(&c);
	if (!s)
		return 0;
	id = bpfskel_id(s);
	mevi_bpf__destroy(s);
	return id;
}

static void drop_set(struct stock_set *set)
{
	mevi_bpf__destroy(set->skel);
	set->skel = NULL;
}

_Static_assert(BPFSKEL_NSYS_EXITS <= MEVI_STOCK_TP_MAX, "the ids fit in an answer");

/* The layout program's tracepoint ids, once: launchers are told them. */
static void read_tp_ids(struct engine_stock *st)
{
	int ids[BPFSKEL_NSYS_EXITS];
	int err = tracepoint_ids("syscalls", bpfskel_sys_exit_names, BPFSKEL_NSYS_EXITS, ids);

	if (err) {
		log_debug("engine stock: the syscall tracepoints' ids cannot be read (%s): "
			  "launchers read them",
			  strerror(-err));
		return;
	}
	for (size_t i = 0; i < BPFSKEL_NSYS_EXITS; i++)
		st->tp_ids[i] = (uint32_t)ids[i];
	st->ntp = BPFSKEL_NSYS_EXITS;
}

/* Whether slot i is one to keep loaded (a default's, or a learned one) and
 * is not loaded now. */
static bool wants_load(const struct engine_stock *st, size_t i)
{
	return !st->sets[i].skel && (i < ENGINE_STOCK_DEFAULTS || st->sets[i].learned);
}

static void forget_learned(struct stock_set *set)
{
	drop_set(set);
	set->learned = false;
	set->id = 0;
}

/* Arms the load of the next missing set, if any, for the next turn of the
 * loop (load_set: one at a time, off the loop). */
static void reload_next(struct engine_stock *st)
{
	for (size_t i = 0; i < ENGINE_STOCK_SETS; i++)
		if (wants_load(st, i)) {
			uv_timer_start(&st->reload, reload_cb, 0, 0);
			return;
		}
}

/*
 * The load itself, on a thread of its own at SCHED_IDLE: the verifier's
 * 11-16 ms of CPU run only where no other thread wants one. On the loop it
 * ran as the program it had equipped ended, and on two CPUs it took one from
 * the program's parent (the shell) and the tracker's ending: a launched
 * /bin/true took 16.4 ms against 14.0 now (medians of 90, tests/bench/README).
 * Touches nothing but the job; the loop reads it back in load_done().
 */
static void load_thread(void *arg)
{
	struct stock_load *job = arg;
	struct sched_param none = {0};
	struct timespec t0, t1;

	/* Only this thread's policy: mevid's loop keeps its own. Refused,
	 * the load runs as the loop does (nothing else changes). */
	(void)sched_setscheduler(0, SCHED_IDLE, &none);
	uv_mutex_lock(&job->st->load_lock);
	job->tid = (pid_t)syscall(SYS_gettid);
	uv_mutex_unlock(&job->st->load_lock);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	job->skel = bpfskel_open(&job->cfg);
	if (!job->skel) {
		job->err = -(errno ? errno : ENOMEM);
		job->open_failed = true;
	} else if ((job->err = mevi_bpf__load(job->skel)) != 0) {
		job->err = job->err < 0 ? job->err : -errno;
		mevi_bpf__destroy(job->skel);
		job->skel = NULL;
	} else {
		job->prime_err = bpfskel_prime_ring(job->skel);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	job->cpu_ms =
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	uv_mutex_lock(&job->st->load_lock); /* no boost for a tid about to end */
	job->tid = 0;
	uv_mutex_unlock(&job->st->load_lock);
	uv_async_send(&job->st->load_async);
}

/*
 * A load still under way ENGINE_STOCK_IDLE_MS after its start: the machine
 * has had no idle CPU for it that long (under two busy loops a load took
 * 3-4 s), so it goes on at SCHED_BATCH, a fair share that still does not
 * preempt on wake-up. Refused (mevid is not root), it stays idle.
 */
static int boost(struct engine_stock *st)
{
	struct sched_param none = {0};
	int err = 0;

	uv_mutex_lock(&st->load_lock);
	if (st->loading && st->job.tid > 0) {
		if (sched_setscheduler(st->job.tid, SCHED_BATCH, &none) == 0)
			st->job.boosted = true;
		else
			err = -errno;
	}
	uv_mutex_unlock(&st->load_lock);
	return err;
}

static void boost_cb(uv_timer_t *t)
{
	int err = boost(t->data);

	if (err)
		log_debug("engine stock: the load stays at idle priority: %s", strerror(-err));
}

/* Starts the load of one missing set, unless one is under way; load_done()
 * starts the next. */
static void load_set(struct engine_stock *st)
{
	struct stock_set *set = NULL;
	struct stock_load *job = &st->job;
	int err;

	if (st->loading || st->disabled || st->closing)
		return;
	for (size_t i = 0; i < ENGINE_STOCK_SETS && !set; i++)
		if (wants_load(st, i))
			set = &st->sets[i];
	if (!set)
		return;
	memset(job, 0, sizeof(*job));
	job->st = st;
	job->slot = (size_t)(set - st->sets);
	job->learned = set->learned;
	if (set->learned) {
		job->cfg = set->cfg;
	} else {
		bpfskel_config_default(&job->cfg, set->sampled);
		set->id = default_id(set->sampled); /* asked for: loading (learn()) */
	}
	job->id_asked = set->id;
	job->t0_ns = mono_ns();
	err = uv_thread_create(&st->load_tid, load_thread, job);
	if (err) {
		log_warn("engine stock: cannot start a thread to load the eBPF programs: %s",
			 uv_strerror(err));
		return;
	}
	st->loading = true;
	uv_timer_start(&st->boost, boost_cb, ENGINE_STOCK_IDLE_MS, 0);
}

/* The slot the finished job was for still wants what it loaded: nothing
 * learned or forgotten there meanwhile. */
static bool job_still_wanted(const struct engine_stock *st, const struct stock_load *job)
{
	const struct stock_set *set = &st->sets[job->slot];

	return wants_load(st, job->slot) && set->learned == job->learned &&
	       set->id == job->id_asked && bpfskel_id(job->skel) == job->id_asked;
}

/* On the loop, once load_thread() has finished: the set is put in its slot
 * (or let go, or the engine stock disabled), and the next load started. */
static void load_done(uv_async_t *a)
{
	struct engine_stock *st = a->data;
	struct stock_load *job = &st->job;
	struct stock_set *set;
	int err;

	if (!st->loading)
		return;
	uv_thread_join(&st->load_tid);
	st->loading = false;
	uv_timer_stop(&st->boost);
	set = &st->sets[job->slot];
	err = job->err;
	if (err && job->open_failed) {
		log_warn("engine stock: cannot open the eBPF programs: %s", strerror(-err));
		return;
	}
	if (err && job->learned) {
		/* That configuration only: the defaults load as before. */
		log_debug("engine stock: a learned configuration does not load (%s); let go",
			  strerror(-err));
		if (set->learned && set->id == job->id_asked)
			forget_learned(set);
		reload_next(st);
		return;
	}
	if (err) {
		st->disabled = true;
		if (err == -EPERM || err == -EACCES)
			log_debug("engine stock: mevid may not load eBPF programs (%s); launchers "
				  "load their own",
				  strerror(-err));
		else
			log_warn("engine stock: the kernel refused the eBPF programs (%s); "
				 "launchers load their own",
				 strerror(-err));
		return;
	}
	if (st->closing || !job_still_wanted(st, job)) {
		mevi_bpf__destroy(job->skel);
		job->skel = NULL;
		reload_next(st);
		return;
	}
	if (job->prime_err)
		log_debug("engine stock: the ring buffer is not primed: %s",
			  strerror(-job->prime_err));
	set->skel = job->skel;
	job->skel = NULL;
	if (!warm_tracepoints_started(&st->warm)) {
		err = warm_tracepoints_start(&st->warm);
		if (err)
			log_debug(
			    "engine stock: the process-tree tracepoints are not kept warm: %s",
			    strerror(-err));
		else
			log_debug("engine stock: the process-tree tracepoints are kept warm");
	}
	if (!st->tp_tried) {
		st->tp_tried = true;
		read_tp_ids(st);
	}
	st->loads++;
	st->load_ms = (double)(mono_ns() - job->t0_ns) / 1e6;
	st->load_cpu_ms = job->cpu_ms;
	log_debug("engine stock: a set of eBPF programs (%s%s) loaded in %.1f ms (%.1f ms of CPU, "
		  "at idle priority%s)",
		  set->sampled ? "sampled" : "exact", set->learned ? ", learned" : "", st->load_ms,
		  st->load_cpu_ms, job->boosted ? ", then batch" : "");
	reload_next(st);
}

static void reload_cb(uv_timer_t *t)
{
	load_set(t->data);
}

static void conn_freed_cb(uv_handle_t *h)
{
	struct stock_conn *c = h->data;

	if (--c->open_handles == 0)
		free(c);
}

static void conn_close(struct stock_conn *c, enum log_level level, const char *why)
{
	struct engine_stock *st = c->st;

	if (c->closing)
		return;
	c->closing = true;
	if (why)
		LOG_AT(level, "engine stock: peer pid %d: %s", (int)c->peer, why);
	if (c->prev)
		c->prev->next = c->next;
	else
		st->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	st->nconns--;
	uv_close((uv_handle_t *)&c->pipe, conn_freed_cb);
	uv_close((uv_handle_t *)&c->timeout, conn_freed_cb);
}

/* The loaded set a request names, or NULL. */
static struct stock_set *find_set(struct engine_stock *st, uint64_t id)
{
	for (size_t i = 0; i < ENGINE_STOCK_SETS; i++)
		if (st->sets[i].skel && st->sets[i].id == id)
			return &st->sets[i];
	return NULL;
}

/* After a refusal: a set loaded for a default that has changed since (THP's
 * setting) is loaded again, to match what launchers ask for now. */
static void follow_default(struct engine_stock *st, uint64_t id)
{
	for (size_t i = 0; i < ENGINE_STOCK_DEFAULTS; i++) {
		struct stock_set *set = &st->sets[i];

		if (set->skel && set->id != id && default_id(set->sampled) == id) {
			drop_set(set);
			uv_timer_start(&st->reload, reload_cb, 0, 0);
		}
	}
}

static void taker_freed_cb(uv_handle_t *h)
{
	struct stock_taker *t = h->data;

	close(t->pidfd);
	free(t);
}

static void taker_close(struct stock_taker *t)
{
	struct engine_stock *st = t->st;

	if (t->prev)
		t->prev->next = t->next;
	else
		st->takers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	uv_close((uv_handle_t *)&t->poll, taker_freed_cb);
}

/* The taker has ended (a pidfd polls readable then): load again now. */
static void taker_cb(uv_poll_t *h, int status, int events)
{
	struct stock_taker *t = h->data;

	(void)status;
	(void)events;
	uv_timer_start(&t->st->reload, reload_cb, 0, 0);
	taker_close(t);
}

/*
 * After a hand-over to pid: the set is loaded again when pid has ended, or
 * ENGINE_STOCK_RELOAD_MAX_MS from now; without a pidfd for it (another pid
 * namespace: SO_PEERCRED gave 0), ENGINE_STOCK_RELOAD_MS from now.
 */
static void reload_after(struct engine_stock *st, pid_t pid)
{
	struct stock_taker *t = NULL;
	int fd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;

	if (fd >= 0 && (t = calloc(1, sizeof(*t))) && uv_poll_init(st->loop, &t->poll, fd) == 0) {
		t->st = st;
		t->pidfd = fd;
		t->poll.data = t;
		t->next = st->takers;
		if (st->takers)
			st->takers->prev = t;
		st->takers = t;
		if (uv_poll_start(&t->poll, UV_READABLE, taker_cb) == 0) {
			uv_timer_start(&st->reload, reload_cb, ENGINE_STOCK_RELOAD_MAX_MS, 0);
			return;
		}
		taker_close(t); /* closes fd */
	} else {
		free(t);
		if (fd >= 0)
			close(fd);
	}
	uv_timer_start(&st->reload, reload_cb, ENGINE_STOCK_RELOAD_MS, 0);
}

/* Why a configuration a launcher sent is not one to keep a set for, or
 * NULL: a ring buffer of a power of two from a page to
 * ENGINE_STOCK_LEARNED_RING_MAX (each learned set holds one), a tracked set
 * as mevi-run bounds it (MEVI_BPF_TRACKED). */
static const char *unlearnable(const struct mevi_stock_config *c)
{
	if (c->ring_bytes < 4096 || c->ring_bytes > ENGINE_STOCK_LEARNED_RING_MAX ||
	    (c->ring_bytes & (c->ring_bytes - 1)))
		return "its ring buffer is not a power of two from 4 KiB to 16 MiB";
	if (c->tracked_max == 0 || c->tracked_max > (1u << 22))
		return "its tracked set is not 1..2^22 processes";
	return NULL;
}

static void expire_cb(uv_timer_t *t);

/* (Re)arms the expiry for the learned set asked for the longest time ago. */
static void arm_expiry(struct engine_stock *st)
{
	int64_t due = INT64_MAX, now = mono_ms();

	for (size_t i = ENGINE_STOCK_DEFAULTS; i < ENGINE_STOCK_SETS; i++)
		if (st->sets[i].learned && st->sets[i].asked_ms + (int64_t)st->learned_ms < due)
			due = st->sets[i].asked_ms + (int64_t)st->learned_ms;
	if (due == INT64_MAX)
		uv_timer_stop(&st->expire);
	else
		uv_timer_start(&st->expire, expire_cb, due > now ? (uint64_t)(due - now) : 0, 0);
}

/* Lets go of the learned configurations no launcher asked for in a while. */
static void expire_cb(uv_timer_t *t)
{
	struct engine_stock *st = t->data;
	int64_t now = mono_ms();

	for (size_t i = ENGINE_STOCK_DEFAULTS; i < ENGINE_STOCK_SETS; i++) {
		struct stock_set *set = &st->sets[i];

		if (set->learned && now - set->asked_ms >= (int64_t)st->learned_ms) {
			log_debug("engine stock: a learned configuration let go: no launcher asked "
				  "for it in %u ms",
				  st->learned_ms);
			forget_learned(set);
		}
	}
	arm_expiry(st);
}

/*
 * A request mevid had no set for: its configuration is learned (when it is
 * one to keep, and makes the id it came with: a peer's word is not taken
 * for it), in a free learned slot or the one asked for the longest time
 * ago, and a set is loaded for it once pid has ended (reload_after), for
 * the next launcher configured alike. A configuration learned already is
 * only marked asked for.
 */
static void learn(struct engine_stock *st, const struct mevi_stock_request *req, pid_t pid)
{
	const struct mevi_stock_config *cfg = &req->config;
	struct stock_set *slot = NULL;
	struct mevi_bpf *s;
	const char *why;
	uint64_t id;

	for (size_t i = 0; i < ENGINE_STOCK_SETS; i++) {
		struct stock_set *set = &st->sets[i];

		if ((i < ENGINE_STOCK_DEFAULTS || set->learned) && set->id == req->id) {
			set->asked_ms = mono_ms(); /* loading, or loaded again soon */
			return;
		}
	}
	why = unlearnable(cfg);
	if (why) {
		log_debug("engine stock: peer pid %d: no set is kept for its configuration: %s",
			  (int)pid, why);
		return;
	}
	s = bpfskel_open(cfg);
	if (!s)
		return;
	id = bpfskel_id(s);
	mevi_bpf__destroy(s);
	if (id != req->id) {
		log_info(
		    "engine stock: peer pid %d: its configuration does not make the id it asked "
		    "for (another build?); not learned",
		    (int)pid);
		return;
	}
	for (size_t i = ENGINE_STOCK_DEFAULTS; i < ENGINE_STOCK_SETS; i++) {
		struct stock_set *set = &st->sets[i];

		if (!set->learned) {
			slot = set;
			break;
		}
		if (!slot || set->asked_ms < slot->asked_ms)
			slot = set;
	}
	if (slot->learned)
		log_debug("engine stock: a learned configuration let go for a newer one");
	forget_learned(slot);
	slot->learned = true;
	slot->cfg = *cfg;
	slot->id = id;
	slot->sampled = !cfg->exact;
	slot->asked_ms = mono_ms();
	st->learned++;
	log_debug("engine stock: learned a configuration (%s, backtraces %s, ring %u KiB): a set "
		  "is loaded for the next launcher once peer pid %d has ended",
		  cfg->exact ? "exact" : "sampled",
		  !cfg->want_stacks ? "off"
		  : cfg->stacks_all ? "all"
				    : "mmap",
		  cfg->ring_bytes >> 10, (int)pid);
	reload_after(st, pid);
	arm_expiry(st);
}

/* Sends the reply, with a set's descriptors when granted (then the set is
 * the peer's: ours are closed and it is loaded again later). */
static void reply(struct stock_conn *c, const struct mevi_stock_request *req)
{
	struct engine_stock *st = c->st;
	struct mevi_stock_reply rep = {.version = MEVI_STOCK_VERSION};
	struct stock_set *set = NULL;
	int fds[BPFSKEL_FDS_MAX];
	size_t nfds = 0;
	union {
		char b[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} ctl;
	char buf[MEVI_STOCK_MSG_MAX];
	uv_os_fd_t fd;
	int len;

	if (req->version != MEVI_STOCK_VERSION)
		snprintf(rep.why, sizeof(rep.why), "mevid's engine stock speaks version %u",
			 MEVI_STOCK_VERSION);
	else if (st->disabled)
		snprintf(rep.why, sizeof(rep.why), "mevid may not load eBPF programs");
	else if (!(set = find_set(st, req->id)))
		snprintf(rep.why, sizeof(rep.why),
			 "it holds no set loaded for this build and configuration (yet)");
	rep.ntp = st->ntp;
	memcpy(rep.tp, st->tp_ids, sizeof(rep.tp));
	/* The fault tracepoints for an exact-mode launcher. */
	if (req->version == MEVI_STOCK_VERSION)
		warm_syscalls_touch(&st->wsys, st->tp_ids, st->ntp, req->config.exact);
	if (set) {
		rep.granted = true;
		nfds = bpfskel_fds(set->skel, NULL, 0, &rep.mask, fds);
	}
	len = mevi_stock_reply_encode(&rep, buf, sizeof(buf));
	if (len < 0 || uv_fileno((uv_handle_t *)&c->pipe, &fd)) {
		conn_close(c, LOG_LEVEL_WARN, "cannot encode the reply");
		return;
	}
	struct iovec iov = {.iov_base = buf, .iov_len = (size_t)len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.b;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	/* A new connection's buffer is empty: a message this small fits. */
	if (sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) != len) {
		char why[120];

		snprintf(why, sizeof(why), "cannot send the reply: %s", strerror(errno));
		conn_close(c, LOG_LEVEL_INFO, why);
		return;
	}
	if (set) {
		set->asked_ms = mono_ms();
		drop_set(set);
		st->grants++;
		reload_after(st, c->peer);
		conn_close(c, LOG_LEVEL_DEBUG, "took a set of eBPF programs");
		return;
	}
	st->refusals++;
	if (req->version == MEVI_STOCK_VERSION && !st->disabled) {
		follow_default(st, req->id);
		learn(st, req, c->peer);
	}
	conn_close(c, LOG_LEVEL_DEBUG, rep.why);
}

static void conn_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct stock_conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->buf + c->have, (unsigned)(sizeof(c->buf) - c->have));
}

static void conn_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct stock_conn *c = s->data;
	struct mevi_stock_request req;
	int used;

	(void)buf;
	if (c->closing)
		return;
	if (n < 0) {
		conn_close(c, LOG_LEVEL_DEBUG, n == UV_EOF ? "hung up" : uv_strerror((int)n));
		return;
	}
	c->have += (size_t)n;
	used = mevi_stock_request_decode(c->buf, c->have, &req);
	if (used < 0 || (used == 0 && c->have == sizeof(c->buf)))
		conn_close(c, LOG_LEVEL_WARN, "not a request for the engine stock");
	else if (used > 0)
		reply(c, &req);
}

static void conn_timeout_cb(uv_timer_t *t)
{
	conn_close(t->data, LOG_LEVEL_INFO, "no request in time");
}

static void listener_cb(uv_stream_t *server, int status)
{
	struct engine_stock *st = server->data;
	struct stock_conn *c;
	struct ucred peer = {0};
	socklen_t plen = sizeof(peer);
	uv_os_fd_t fd;
	int err;

	if (status < 0) {
		log_warn("engine stock: accept: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		log_error("engine stock: out of memory");
		return;
	}
	c->st = st;
	uv_pipe_init(st->loop, &c->pipe, 0);
	uv_timer_init(st->loop, &c->timeout);
	c->pipe.data = c->timeout.data = c;
	c->open_handles = 2;
	c->next = st->conns;
	if (st->conns)
		st->conns->prev = c;
	st->conns = c;
	st->nconns++;
	err = uv_accept(server, (uv_stream_t *)&c->pipe);
	if (!err)
		err = uv_fileno((uv_handle_t *)&c->pipe, &fd);
	if (!err && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0)
		err = -errno;
	c->peer = peer.pid;
	if (err) {
		conn_close(c, LOG_LEVEL_WARN, uv_strerror(err));
	} else if (peer.uid != getuid()) {
		char why[120];

		snprintf(why, sizeof(why), "refused: runs as uid %u, mevid as uid %u",
			 (unsigned)peer.uid, (unsigned)getuid());
		conn_close(c, LOG_LEVEL_INFO, why);
	} else if (st->nconns > ENGINE_STOCK_CONNS) {
		conn_close(c, LOG_LEVEL_INFO, "refused: too many connections at once");
	} else {
		uv_timer_start(&c->timeout, conn_timeout_cb, ENGINE_STOCK_TIMEOUT_MS, 0);
		err = uv_read_start((uv_stream_t *)&c->pipe, conn_alloc_cb, conn_read_cb);
		if (err)
			conn_close(c, LOG_LEVEL_WARN, uv_strerror(err));
	}
}

/* A time in ms from the environment variable name (tests set them), in
 * 1..max; def when it is unset, or not such a time (said once). */
static unsigned env_ms(const char *name, unsigned long long max, unsigned def)
{
	const char *v = getenv(name);
	unsigned long long ms;

	if (!v || !*v)
		return def;
	if (parse_uint(v, 1, max, &ms)) {
		log_warn("%s=%s is not a time in 1..%llu ms; using %u", name, v, max, def);
		return def;
	}
	return (unsigned)ms;
}

int engine_stock_start(struct engine_stock *st, uv_loop_t *loop, const char *launcher_socket)
{
	char path[108];
	mode_t old_mask;
	int err;

	memset(st, 0, sizeof(*st));
	st->loop = loop;
	err = sockpath_stock(launcher_socket, path, sizeof(path));
	if (err)
		return err;
	/* What a mevid killed without its cleanup left; the lock on the
	 * launcher socket says no other mevid serves this directory. */
	unlink(path);
	st->path = strdup(path);
	if (!st->path)
		return -ENOMEM;
	uv_timer_init(loop, &st->reload);
	st->reload.data = st;
	st->timer_init = true;
	uv_timer_init(loop, &st->boost);
	st->boost.data = st;
	err = uv_mutex_init(&st->load_lock);
	if (err)
		return err;
	err = uv_async_init(loop, &st->load_async, load_done);
	if (err) {
		uv_mutex_destroy(&st->load_lock);
		return err;
	}
	st->load_async.data = st;
	st->async_init = true;
	/* How long the syscall tracepoints stay held after the last request,
	 * and a learned configuration without a request for it. */
	warm_syscalls_init(&st->wsys, loop,
			   env_ms("MEVI_WARM_SYSCALLS_MS", 600000, WARM_SYSCALLS_LINGER_MS));
	uv_timer_init(loop, &st->expire);
	st->expire.data = st;
	st->learned_ms = env_ms("MEVI_STOCK_LEARNED_MS", 86400000, ENGINE_STOCK_LEARNED_IDLE_MS);
	for (size_t i = 0; i < ENGINE_STOCK_DEFAULTS; i++)
		st->sets[i].sampled = i == 1;
	err = uv_pipe_init(loop, &st->listener, 0);
	if (err)
		return err;
	st->listener.data = st;
	st->listening = true;
	old_mask = umask(0077);
	err = uv_pipe_bind(&st->listener, path);
	umask(old_mask);
	if (!err)
		err = uv_listen((uv_stream_t *)&st->listener, 16, listener_cb);
	if (err)
		return err;
	uv_timer_start(&st->reload, reload_cb, 0, 0);
	return 0;
}

void engine_stock_close(struct engine_stock *st)
{
	st->closing = true;
	/* A load under way is let go: mevid is ending. Boosted first, not to
	 * wait seconds behind a busy machine's threads. */
	if (st->loading) {
		(void)boost(st);
		uv_thread_join(&st->load_tid);
		st->loading = false;
		if (st->job.skel)
			mevi_bpf__destroy(st->job.skel);
		st->job.skel = NULL;
	}
	if (st->async_init) {
		uv_close((uv_handle_t *)&st->load_async, NULL);
		uv_mutex_destroy(&st->load_lock);
		st->async_init = false;
	}
	while (st->conns)
		conn_close(st->conns, LOG_LEVEL_DEBUG, NULL);
	while (st->takers)
		taker_close(st->takers);
	if (st->listening) {
		uv_close((uv_handle_t *)&st->listener, NULL);
		st->listening = false;
	}
	if (st->timer_init) {
		uv_close((uv_handle_t *)&st->reload, NULL);
		uv_close((uv_handle_t *)&st->expire, NULL);
		uv_close((uv_handle_t *)&st->boost, NULL);
		st->timer_init = false;
	}
	if (st->path) {
		unlink(st->path);
		free(st->path);
		st->path = NULL;
	}
	if (st->loads)
		log_debug("engine stock: %u sets loaded (the last in %.1f ms, %.1f ms of CPU), %u "
			  "handed over, %u requests refused, %u configurations learned",
			  st->loads, st->load_ms, st->load_cpu_ms, st->grants, st->refusals,
			  st->learned);
	for (size_t i = 0; i < ENGINE_STOCK_SETS; i++)
		drop_set(&st->sets[i]);
	warm_tracepoints_stop(&st->warm);
	if (st->wsys.opens)
		log_debug("engine stock: the syscall tracepoints held %u times, let go %u times",
			  st->wsys.opens, st->wsys.closes);
	warm_syscalls_close(&st->wsys);
}

#else /* !MEVI_HAVE_EBPF */

int engine_stock_start(struct engine_stock *st, uv_loop_t *loop, const char *launcher_socket)
{
	(void)launcher_socket;
	memset(st, 0, sizeof(*st));
	st->loop = loop;
	return 0;
}

void engine_stock_close(struct engine_stock *st)
{
	(void)st;
}

#endif
