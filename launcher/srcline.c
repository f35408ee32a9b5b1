/* srcline — function names and file:line, looked up in a background thread. */
#include "srcline.h"

#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <libelf.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

#define MAX_QUEUED 65536

struct req {
	char *path;
	uint64_t vaddr;
	uint32_t cookie;
	unsigned adjust;
	char func[256];
	char source[160];
};

struct reqv {
	struct req *v;
	size_t n, cap;
};

/* A module file the worker has reported (mod NULL: it could not be). */
struct wmod {
	char *path;
	Dwfl_Module *mod;
	bool lines; /* the file itself has a line table (.debug_line) */
};

struct srcline {
	struct event_base *base;
	srcline_done_fn done;
	void *ctx;
	int efd;
	struct event *ev;
	pthread_t thread;
	bool started, failed;
	/* Under mu. */
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	bool stopping, busy;
	struct reqv in, out;
	/* The worker's own. */
	Dwfl *dwfl;
	struct wmod *mods;
	size_t nmods;
};

static char *debuginfo_path;

/*
 * Separate debug files are found by build ID only (/usr/lib/debug/.build-id,
 * where Debian's -dbgsym packages put them), not by libdwfl's standard
 * search: for a module with none (every stripped system library, unless its
 * -dbgsym package is installed), that search ends in libdwfl's debuginfod
 * client, whose first use dlopens libdebuginfod with libcurl and two dozen
 * more libraries (14 ms of the worker's 61 ms of CPU under Chromium) to learn
 * that no server is set (mevi-run unsets DEBUGINFOD_URLS: unwind.c). What is
 * lost: a debug file found only by its .gnu_debuglink name.
 */
static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_build_id_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

static int push(struct reqv *q, const struct req *r)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct req *nv = realloc(q->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		q->v = nv;
		q->cap = cap;
	}
	q->v[q->n++] = *r;
	return 0;
}

/*
 * True when the ELF file has its own .debug_line. Line tables are read only
 * from such files (programs and libraries built with -g): a system
 * library's separate debug file (/usr/lib/debug) costs tens of milliseconds
 * of decompression for its first line (libc: 77 ms), and its frames are
 * named by function all the same.
 */
static bool has_line_table(Dwfl_Module *mod)
{
	Dwarf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (!elf || elf_getshdrstrndx(elf, &shstrndx) < 0)
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (name && (!strcmp(name, ".debug_line") || !strcmp(name, ".zdebug_line")))
			return true;
	}
	return false;
}

static struct wmod *worker_module(struct srcline *s, const char *path)
{
	Dwfl_Module *mod;
	struct wmod *nm;

	for (size_t i = 0; i < s->nmods; i++)
		if (!strcmp(s->mods[i].path, path))
			return &s->mods[i];
	nm = realloc(s->mods, (s->nmods + 1) * sizeof(*nm));
	if (!nm)
		return NULL;
	s->mods = nm;
	dwfl_report_begin_add(s->dwfl);
	mod = dwfl_report_offline(s->dwfl, path, path, -1);
	dwfl_report_end(s->dwfl, NULL, NULL);
	nm[s->nmods].path = strdup(path);
	nm[s->nmods].mod = mod;
	nm[s->nmods].lines = mod && has_line_table(mod);
	if (!nm[s->nmods].path)
		return NULL;
	return &nm[s->nmods++];
}

static void lookup(struct srcline *s, struct req *r)
{
	struct wmod *wm = s->dwfl ? worker_module(s, r->path) : NULL;
	Dwfl_Module *mod = wm ? wm->mod : NULL;
	Dwarf_Addr bias = 0;
	Dwfl_Line *line;
	const char *src = NULL, *name;
	int lineno = 0;
	GElf_Off off = 0;
	GElf_Sym sym;

	r->func[0] = '\0';
	r->source[0] = '\0';
	if (!mod || !dwfl_module_getelf(mod, &bias))
		return;
	name = dwfl_module_addrinfo(mod, r->vaddr + bias, &off, &sym, NULL, NULL, NULL);
	if (name)
		snprintf(r->func, sizeof(r->func), "%s+0x%" PRIx64, name,
			 (uint64_t)off + r->adjust);
	if (!wm->lines)
		return;
	line = dwfl_module_getsrc(mod, r->vaddr + bias);
	if (line)
		src = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
	if (src && lineno > 0) {
		const char *slash = strrchr(src, '/');

		snprintf(r->source, sizeof(r->source), "%s:%d", slash ? slash + 1 : src, lineno);
	}
}

static void *worker(void *arg)
{
	struct srcline *s = arg;
	struct reqv batch = {0};
	uint64_t one = 1;

	s->dwfl = dwfl_begin(&offline_callbacks);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->in.n && !s->stopping)
			pthread_cond_wait(&s->work, &s->mu);
		if (s->stopping)
			break;
		batch = s->in;
		s->in = (struct reqv){0};
		s->busy = true;
		pthread_mutex_unlock(&s->mu);
		for (size_t i = 0; i < batch.n; i++)
			lookup(s, &batch.v[i]);
		pthread_mutex_lock(&s->mu);
		for (size_t i = 0; i < batch.n; i++) {
			if (push(&s->out, &batch.v[i]))
				free(batch.v[i].path);
		}
		free(batch.v);
		batch = (struct reqv){0};
		s->busy = false;
		pthread_cond_broadcast(&s->idle);
		(void)!write(s->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&s->mu);
	if (s->dwfl)
		dwfl_end(s->dwfl);
	return NULL;
}

/* Delivers the finished lookups (loop thread). */
static void deliver(struct srcline *s)
{
	struct reqv done;
	uint64_t n;

	(void)!read(s->efd, &n, sizeof(n));
	pthread_mutex_lock(&s->mu);
	done = s->out;
	s->out = (struct reqv){0};
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < done.n; i++) {
		s->done(s->ctx, done.v[i].cookie, done.v[i].func, done.v[i].source);
		free(done.v[i].path);
	}
	free(done.v);
}

static void efd_cb(evutil_socket_t fd, short what, void *arg)
{
	deliver(arg);
}

struct srcline *srcline_new(struct event_base *base, srcline_done_fn done, void *ctx)
{
	struct srcline *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base = base;
	s->done = done;
	s->ctx = ctx;
	s->efd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->idle, NULL);
	return s;
}

/* Starts the worker, with every signal blocked (they are the loop's). */
static int start(struct srcline *s)
{
	sigset_t all, old;
	int err;

	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0)
		return -errno;
	s->ev = event_new(s->base, s->efd, EV_READ | EV_PERSIST, efd_cb, s);
	if (!s->ev || event_add(s->ev, NULL) < 0)
		return -ENOMEM;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&s->thread, NULL, worker, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	s->started = true;
	return 0;
}

int srcline_request(struct srcline *s, const char *path, uint64_t vaddr, unsigned adjust,
		    uint32_t cookie)
{
	struct req r = {.vaddr = vaddr, .cookie = cookie, .adjust = adjust};
	int err;

	if (s->failed)
		return -ENOSYS;
	if (!s->started) {
		err = start(s);
		if (err) {
			log_debug("no source lines: cannot start the lookup thread: %s",
				  strerror(-err));
			s->failed = true;
			return err;
		}
	}
	r.path = strdup(path);
	if (!r.path)
		return -ENOMEM;
	pthread_mutex_lock(&s->mu);
	err = s->in.n >= MAX_QUEUED ? -ENOSPC : push(&s->in, &r);
	if (!err)
		pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
	if (err)
		free(r.path);
	return err;
}

void srcline_drain(struct srcline *s, unsigned timeout_ms)
{
	struct timespec until;

	if (!s || !s->started)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&s->mu);
	while (s->in.n || s->busy)
		if (pthread_cond_timedwait(&s->idle, &s->mu, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&s->mu);
	deliver(s);
}

void srcline_free(struct srcline *s)
{
	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_signal(&s->work);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	for (size_t i = 0; i < s->in.n; i++)
		free(s->in.v[i].path);
	for (size_t i = 0; i < s->out.n; i++)
		free(s->out.v[i].path);
	free(s->in.v);
	free(s->out.v);
	for (size_t i = 0; i < s->nmods; i++)
		free(s->mods[i].path);
	free(s->mods);
	if (s->ev)
		event_free(s->ev);
	if (s->efd >= 0)
		close(s->efd);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
