/* session — mevid's registry of sessions, processes and their maps; how each event changes them. */
#include "session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ending.h"
#include "eventlog.h"
#include "heatmap.h"
#include "log.h"
#include "memmap.h"
#include "procfs.h"
#include "tagmap.h"

/* Session life-cycle lines: info, or debug in a replay registry. */
#define LOG_LIFE(reg, ...)                                                                         \
	do {                                                                                       \
		if ((reg)->quiet)                                                                  \
			log_debug(__VA_ARGS__);                                                    \
		else                                                                               \
			log_info(__VA_ARGS__);                                                     \
	} while (0)

/* History bounds: PROTOCOL.md allows up to 1024 points; processes are many,
 * so theirs are shorter. */
#define SESSION_HISTORY_POINTS 1024
#define PROCESS_HISTORY_POINTS 256

struct pid_slot {
	int32_t pid;
	struct process *proc; /* NULL: free slot */
};

/* Whether s is held: by a launcher connection, or pinned by a load or a
 * replay. Sessions not held are detached: subject to eviction. */
static bool attached(const struct session *s)
{
	return s->conn || s->pinned;
}

/* Copies src into one allocation (items, then the bytes they point to). */
static int strv_copy(struct mevi_strv *dst, const struct mevi_strv *src)
{
	size_t total = (size_t)src->count * sizeof(struct mevi_str);
	struct mevi_str *items;
	char *bytes;

	dst->count = 0;
	dst->items = NULL;
	if (src->count == 0)
		return 0;
	for (uint32_t i = 0; i < src->count; i++)
		total += src->items[i].len;
	items = malloc(total);
	if (!items)
		return -ENOMEM;
	bytes = (char *)(items + src->count);
	for (uint32_t i = 0; i < src->count; i++) {
		items[i].ptr = bytes;
		items[i].len = src->items[i].len;
		if (src->items[i].len)
			memcpy(bytes, src->items[i].ptr, src->items[i].len);
		bytes += src->items[i].len;
	}
	dst->items = items;
	dst->count = src->count;
	return 0;
}

static void strv_free(struct mevi_strv *v)
{
	free(v->items);
	v->items = NULL;
	v->count = 0;
}

/* For log lines: the first string of v, at most 64 bytes, as printf args. */
#define STRV0_FMT "%.*s"
#define STRV0_ARG(v)                                                                               \
	(int)((v).count ? ((v).items[0].len > 64 ? 64 : (v).items[0].len) : 0),                    \
	    ((v).count ? (v).items[0].ptr : "")

static uint32_t pid_hash(int32_t pid)
{
	return (uint32_t)pid * UINT32_C(2654435761);
}

static int pid_table_grow(struct pid_table *t)
{
	uint32_t cap = t->cap ? t->cap * 2 : 16;
	struct pid_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->cap; i++) {
		struct pid_slot *old = &t->slots[i];
		uint32_t j;

		if (!old->proc)
			continue;
		for (j = pid_hash(old->pid) & (cap - 1); slots[j].proc; j = (j + 1) & (cap - 1))
			;
		slots[j] = *old;
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/* Makes proc the current entry of its pid. Returns 0 or -ENOMEM. */
static int pid_table_set(struct pid_table *t, struct process *proc)
{
	uint32_t j;

	if ((t->used + 1) * 2 > t->cap) {
		int err = pid_table_grow(t);

		if (err)
			return err;
	}
	for (j = pid_hash(proc->pid) & (t->cap - 1); t->slots[j].proc; j = (j + 1) & (t->cap - 1)) {
		if (t->slots[j].pid == proc->pid) {
			t->slots[j].proc = proc;
			return 0;
		}
	}
	t->slots[j].pid = proc->pid;
	t->slots[j].proc = proc;
	t->used++;
	return 0;
}

static struct process *pid_table_get(const struct pid_table *t, int32_t pid)
{
	if (!t->cap)
		return NULL;
	for (uint32_t j = pid_hash(pid) & (t->cap - 1); t->slots[j].proc;
	     j = (j + 1) & (t->cap - 1))
		if (t->slots[j].pid == pid)
			return t->slots[j].proc;
	return NULL;
}

static void pid_table_destroy(struct pid_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = 0;
	t->used = 0;
}

struct process *session_find_process(struct session *s, int32_t pid)
{
	struct process *p;

	if (s->last && s->last->pid == pid)
		return s->last;
	p = pid_table_get(&s->pids, pid);
	if (p)
		s->last = p;
	return p;
}

static void process_free(struct process *p)
{
	if (!p)
		return;
	memmap_free(p->map);
	tagmap_free(p->vmas);
	tagmap_free(p->origins);
	tagmap_free(p->touches);
	tagmap_free(p->written);
	threadtab_destroy(&p->threads);
	strv_free(&p->cmdline);
	history_destroy(&p->rss_history);
	free(p);
}

/*
 * Adds a new live entry for pid to s and makes it the pid's current entry.
 * The map is a copy of inherit_from's, or empty. Returns the entry or NULL on
 * out-of-memory.
 */
static struct process *session_add_process(struct session *s, int32_t pid, int32_t ppid,
					   const struct mevi_strv *cmdline,
					   const struct process *inherit_from)
{
	struct process *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	history_init(&p->rss_history, PROCESS_HISTORY_POINTS);
	p->pid = pid;
	p->ppid = ppid;
	p->alive = true;
	p->running = -1;
	if (strv_copy(&p->cmdline, cmdline))
		goto err_free;
	threadtab_init(&p->threads);
	if (inherit_from) {
		p->map = memmap_clone(inherit_from->map);
		p->vmas = tagmap_clone(inherit_from->vmas);
		p->origins = tagmap_clone(inherit_from->origins);
		p->touches = tagmap_clone(inherit_from->touches);
		p->written = tagmap_clone(inherit_from->written);
	} else {
		p->map = memmap_new();
		p->vmas = tagmap_new();
		p->origins = tagmap_new();
		p->touches = tagmap_new();
		p->written = tagmap_new();
	}
	if (!p->map || !p->vmas || !p->origins || !p->touches || !p->written)
		goto err_free;
	if (pid_table_set(&s->pids, p))
		goto err_free;
	s->last = p;
	if (s->procs_tail)
		s->procs_tail->next = p;
	else
		s->procs_head = p;
	s->procs_tail = p;
	s->nprocs++;
	s->rss += memmap_rss(p->map);
	return p;

err_free:
	process_free(p);
	return NULL;
}

/* Forgets that p runs on (it is about to be freed or was found gone). */
static void process_unrun(struct session_registry *reg, struct process *p)
{
	if (p->running == 1 && reg && reg->running_lost)
		reg->running_lost--;
	p->running = p->running == 1 ? 0 : p->running;
}

static void session_clear_processes(struct session_registry *reg, struct session *s)
{
	struct process *p = s->procs_head;

	while (p) {
		struct process *next = p->next;

		process_unrun(reg, p);

		process_free(p);
		p = next;
	}
	s->procs_head = s->procs_tail = NULL;
	s->nprocs = 0;
	s->last = NULL;
	pid_table_destroy(&s->pids);
	s->rss = 0;
	history_reset(&s->rss_history);
}

static void session_free(struct session_registry *reg, struct session *s)
{
	eventlog_free(s->log);
	session_clear_processes(reg, s);
	strv_free(&s->argv);
	history_destroy(&s->rss_history);
	vmanames_destroy(&s->names);
	stacktab_destroy(&s->stacks);
	free(s);
}

static void registry_unlink(struct session_registry *reg, struct session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		reg->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		reg->tail = s->prev;
	s->prev = s->next = NULL;
	reg->count--;
}

void session_registry_init(struct session_registry *reg, uint32_t max_detached,
			   const struct session_observer *obs, void *obs_ctx)
{
	memset(reg, 0, sizeof(*reg));
	reg->max_detached = max_detached;
	reg->next_id = 1;
	reg->obs = obs;
	reg->obs_ctx = obs_ctx;
}

void session_registry_destroy(struct session_registry *reg)
{
	struct session *s = reg->head;

	while (s) {
		struct session *next = s->next;

		session_free(reg, s);
		s = next;
	}
	reg->head = reg->tail = NULL;
	reg->count = 0;
	reg->detached = 0;
}

struct session *session_registry_find(const struct session_registry *reg, uint64_t id)
{
	for (struct session *s = reg->head; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void notify_applied(struct session_registry *reg, struct session *s,
			   const struct mevi_event *ev)
{
	if (s->log) {
		int ret = eventlog_append(s->log, ev);

		if (ret > 0 && (ret & EVENTLOG_CKPT_DUE) && reg->checkpoint) {
			int err = reg->checkpoint(s->log, s);

			ret = err ? err : ret;
		}
		if (ret < 0) {
			log_error("session %" PRIu64 ": history lost: %s", s->id, strerror(-ret));
			eventlog_free(s->log);
			s->log = NULL;
			s->history_lost = true;
		} else if ((ret & EVENTLOG_CHUNK_CLOSED) && reg->budget &&
			   reg->budget->used > reg->budget->limit) {
			session_registry_enforce_budget(reg);
		}
	}
	if (reg->obs && reg->obs->applied)
		reg->obs->applied(reg->obs_ctx, s, ev);
}

void session_registry_enforce_budget(struct session_registry *reg)
{
	struct eventlog_budget *b = reg->budget;

	if (!b)
		return;
	while (b->used > b->limit) {
		struct session *victim = NULL;

		for (struct session *s = reg->head; s; s = s->next)
			if (!attached(s) && s->log &&
			    (!victim || s->detach_seq < victim->detach_seq))
				victim = s;
		if (!victim)
			break;
		log_info("session %" PRIu64 ": history dropped (%zu bytes; over the history "
			 "budget of %zu bytes)",
			 victim->id, eventlog_mem_bytes(victim->log), b->limit);
		eventlog_free(victim->log);
		victim->log = NULL;
		victim->history_lost = true;
		b->evictions++;
	}
	for (struct session *s = reg->head; s && b->used > b->limit; s = s->next) {
		int err;

		if (!s->log || eventlog_spilled(s->log) || !attached(s))
			continue;
		err = eventlog_spill(s->log);
		if (err)
			log_warn("session %" PRIu64 ": cannot spill history to %s: %s (kept in "
				 "memory)",
				 s->id, b->spill_dir[0] ? b->spill_dir : "the state directory",
				 strerror(-err));
		else
			log_info("session %" PRIu64 ": history over budget: spilled to %s", s->id,
				 eventlog_spill_path(s->log));
	}
}

static void notify_reshaped(struct session_registry *reg)
{
	if (reg->obs && reg->obs->reshaped)
		reg->obs->reshaped(reg->obs_ctx);
}

/* Unlinks and frees s, a detached session. */
static void registry_drop(struct session_registry *reg, struct session *s)
{
	MEVI_ASSERT(!attached(s));
	if (reg->obs && reg->obs->freeing)
		reg->obs->freeing(reg->obs_ctx, s);
	registry_unlink(reg, s);
	reg->detached--;
	session_free(reg, s);
}

/* Allocates a session with a new id and links it at the tail. NULL on OOM. */
static struct session *session_create(struct session_registry *reg, int32_t launcher_pid,
				      uint64_t started_at)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->id = reg->next_id++;
	s->launcher_pid = launcher_pid;
	s->started_at = started_at;
	history_init(&s->rss_history, SESSION_HISTORY_POINTS);
	vmanames_init(&s->names);
	stacktab_init(&s->stacks);
	s->prev = reg->tail;
	if (reg->tail)
		reg->tail->next = s;
	else
		reg->head = s;
	reg->tail = s;
	reg->count++;
	if (reg->budget) {
		s->log = eventlog_new(reg->budget);
		if (!s->log)
			s->history_lost = true;
	}
	return s;
}

/* The common end of a (re)start: s takes argv (owned) and ev's fields. */
static int session_begin(struct session_registry *reg, struct session *s,
			 const struct mevi_event *ev, struct mevi_strv argv, void *conn)
{
	s->argv = argv;
	s->mode = ev->session_start.mode;
	s->sample_ms = ev->session_start.sample_ms;
	s->alive = true;
	s->has_exit_status = false;
	s->exit_status = 0;
	s->ended = false;
	s->end_how = ENDING_NONE;
	s->conn = conn;
	s->last_ts = ev->ts;
	if (history_add(&s->rss_history, ev->ts, 0))
		return -ENOMEM;
	notify_applied(reg, s, ev);
	return 0;
}

int session_registry_start(struct session_registry *reg, const struct mevi_event *ev, void *conn,
			   struct session **out, void **taken_over)
{
	struct mevi_strv argv;
	struct session *s;

	*out = NULL;
	*taken_over = NULL;
	if (ev->type != MEVI_EV_SESSION_START || !conn)
		return -EINVAL;
	if (strv_copy(&argv, &ev->session_start.argv))
		return -ENOMEM;

	for (s = reg->head; s; s = s->next)
		if (s->launcher_pid == ev->pid && s->started_at == ev->session_start.started_at &&
		    !s->recorded)
			break;
	if (s) {
		if (s->conn && s->conn != conn)
			*taken_over = s->conn;
		else if (!attached(s))
			reg->detached--;
		session_clear_processes(reg, s);
		strv_free(&s->argv);
		LOG_LIFE(reg, "session %" PRIu64 " resumed: launcher %d, " STRV0_FMT "%s", s->id,
			 (int)ev->pid, STRV0_ARG(argv),
			 ev->session_start.resume ? "" : " (without the resume flag)");
	} else {
		s = session_create(reg, ev->pid, ev->session_start.started_at);
		if (!s) {
			strv_free(&argv);
			return -ENOMEM;
		}
		LOG_LIFE(reg, "session %" PRIu64 " started: launcher %d, " STRV0_FMT " (%s%s)",
			 s->id, (int)ev->pid, STRV0_ARG(argv),
			 ev->session_start.mode == MEVI_MODE_SAMPLED ? "sampled" : "exact",
			 ev->session_start.resume ? ", resumed after a daemon restart" : "");
	}
	*out = s;
	return session_begin(reg, s, ev, argv, conn);
}

int session_registry_start_pinned(struct session_registry *reg, const struct mevi_event *ev,
				  struct session **out)
{
	struct mevi_strv argv;
	struct session *s;

	*out = NULL;
	if (ev->type != MEVI_EV_SESSION_START)
		return -EINVAL;
	if (strv_copy(&argv, &ev->session_start.argv))
		return -ENOMEM;
	s = session_create(reg, ev->pid, ev->session_start.started_at);
	if (!s) {
		strv_free(&argv);
		return -ENOMEM;
	}
	s->pinned = true;
	*out = s;
	return session_begin(reg, s, ev, argv, NULL);
}

int session_resume(struct session_registry *reg, struct session *s, const struct mevi_event *ev)
{
	struct mevi_strv argv;

	if (ev->type != MEVI_EV_SESSION_START || ev->pid != s->launcher_pid ||
	    ev->session_start.started_at != s->started_at)
		return -EINVAL;
	if (strv_copy(&argv, &ev->session_start.argv))
		return -ENOMEM;
	session_clear_processes(reg, s);
	strv_free(&s->argv);
	return session_begin(reg, s, ev, argv, s->conn);
}

struct session *session_registry_restore(struct session_registry *reg, uint64_t id,
					 int32_t launcher_pid, uint64_t started_at, uint8_t mode,
					 const struct mevi_strv *argv)
{
	struct eventlog_budget *budget = reg->budget;
	struct session *s;

	reg->budget = NULL; /* no log for a restored session */
	s = session_create(reg, launcher_pid, started_at);
	reg->budget = budget;
	if (!s)
		return NULL;
	if (strv_copy(&s->argv, argv))
		return NULL; /* s stays linked: the registry frees it */
	s->id = id;
	s->mode = mode;
	s->pinned = true;
	return s;
}

int session_restore_process(struct session *s, int32_t pid, int32_t ppid,
			    const struct mevi_strv *cmdline, bool alive, bool has_exit_status,
			    int32_t exit_status, struct memmap *map, struct process **out)
{
	struct process *p = session_add_process(s, pid, ppid, cmdline, NULL);

	*out = p;
	if (!p) {
		memmap_free(map);
		return -ENOMEM;
	}
	s->rss -= memmap_rss(p->map);
	memmap_free(p->map);
	p->map = map;
	p->has_exit_status = has_exit_status;
	p->exit_status = exit_status;
	p->alive = alive;
	if (alive)
		s->rss += memmap_rss(map);
	return 0;
}

/* Records the rss of p and of s after an event at ts. */
static int session_sample(struct session *s, struct process *p, uint64_t ts, uint64_t old_rss)
{
	uint64_t rss = memmap_rss(p->map);

	if (rss == old_rss && p->rss_history.n)
		return 0; /* nothing new: the first sample is always taken */
	if (p->alive)
		s->rss = s->rss - old_rss + rss;
	if (history_add(&p->rss_history, ts, rss))
		return -ENOMEM;
	if (history_add(&s->rss_history, ts, s->rss))
		return -ENOMEM;
	return 0;
}

/* Marks p dead; its memory no longer counts in the session's rss. */
static int session_process_died(struct session *s, struct process *p, uint64_t ts)
{
	if (!p->alive)
		return 0;
	p->alive = false;
	s->rss -= memmap_rss(p->map);
	return history_add(&s->rss_history, ts, s->rss);
}

/* Live registry: names p by (host pid, start time) while it surely runs. */
static void process_probe_start(struct session_registry *reg, struct session *s, struct process *p)
{
	char state;

	if (!reg->probe_kernel || s->recorded)
		return;
	if (!s->launcher_host_pid || s->launcher_same_pidns ||
	    s->launcher_host_pid == s->launcher_pid)
		p->host_pid = p->pid;
	else
		p->host_pid = procfs_host_pid(s->launcher_host_pid, p->pid);
	if (p->host_pid && procfs_stat(p->host_pid, &state, &p->start_time))
		p->start_time = 0;
}

/* Asks the kernel whether p, which ended without an exit, still runs. */
static void process_probe_running(struct session_registry *reg, struct session *s,
				  struct process *p)
{
	int r;

	p->running = -1;
	if (!reg->probe_kernel || s->recorded || !p->host_pid || !p->start_time)
		return;
	r = procfs_running(p->host_pid, p->start_time);
	p->running = r < 0 ? -1 : (int8_t)r;
	if (r == 1)
		reg->running_lost++;
}

/* The session ended (how: its end_how): every process still alive stops
 * being tracked. Returns how many were, or -ENOMEM. */
static int session_end_processes(struct session_registry *reg, struct session *s, uint8_t how,
				 uint64_t ts, uint32_t *still_running)
{
	int n = 0;

	*still_running = 0;
	for (struct process *p = s->procs_head; p; p = p->next) {
		if (!p->alive)
			continue;
		if (session_process_died(s, p, ts))
			return -ENOMEM;
		p->end_how = how == ENDING_DETACHED || how == ENDING_LAUNCHER_LOST ||
				     how == ENDING_RECORDING_CUT
				 ? how
				 : ENDING_UNTRACKED;
		process_probe_running(reg, s, p);
		*still_running += p->running == 1;
		n++;
	}
	return n;
}

uint32_t session_registry_recheck(struct session_registry *reg)
{
	if (!reg->running_lost)
		return 0;
	for (struct session *s = reg->head; s && reg->running_lost; s = s->next) {
		for (struct process *p = s->procs_head; p; p = p->next) {
			if (p->running != 1 || procfs_running(p->host_pid, p->start_time) == 1)
				continue;
			log_debug("session %" PRIu64 ": pid %d (untracked) is gone", s->id,
				  (int)p->pid);
			process_unrun(reg, p);
		}
	}
	return reg->running_lost;
}

struct swapped_ctx {
	uint64_t bytes;
};

static int swapped_cb(const struct memmap_range *r, void *arg)
{
	struct swapped_ctx *c = arg;

	if (r->state == MEVI_STATE_SWAPPED)
		c->bytes += r->end - r->start;
	return 0;
}

uint64_t process_swapped(const struct process *p)
{
	struct swapped_ctx c = {0};

	memmap_walk(p->map, swapped_cb, &c);
	return c.bytes;
}

struct kind_ctx {
	const struct vmanames *names;
	const struct process *p;
	uint64_t *bytes;
	uint64_t covered;
};

static int kind_vma_cb(const struct tagmap_range *r, void *arg)
{
	struct kind_ctx *k = arg;
	struct mevi_str name;
	uint8_t kind = MEVI_KIND_ANON;

	vmanames_get(k->names, r->value, &kind, &name);
	if (kind >= MEVI_KIND_COUNT)
		kind = MEVI_KIND_ANON;
	k->bytes[kind] += r->end - r->start;
	k->covered += r->end - r->start;
	return 0;
}

static int kind_range_cb(const struct memmap_range *r, void *arg)
{
	struct kind_ctx *k = arg;

	if (r->state != MEVI_STATE_RESIDENT)
		return 0;
	k->covered = 0;
	tagmap_walk_range(k->p->vmas, r->start, r->end, kind_vma_cb, k);
	k->bytes[MEVI_KIND_ANON] += (r->end - r->start) - k->covered;
	return 0;
}

void process_rss_by_kind(const struct session *s, const struct process *p,
			 uint64_t bytes[MEVI_KIND_COUNT])
{
	struct kind_ctx k = {.names = &s->names, .p = p, .bytes = bytes};

	memset(bytes, 0, MEVI_KIND_COUNT * sizeof(bytes[0]));
	memmap_walk(p->map, kind_range_cb, &k);
}

/* unmap / remap of the three annotation maps. Returns 0 or -ENOMEM (the
 * maps may then be partly updated: the caller drops the connection). */
static int annot_remove(struct process *p, struct mevi_range r)
{
	int err = tagmap_remove(p->vmas, r.start, r.end);

	if (!err)
		err = tagmap_remove(p->origins, r.start, r.end);
	if (!err)
		err = tagmap_remove(p->touches, r.start, r.end);
	if (!err)
		err = tagmap_remove(p->written, r.start, r.end);
	return err;
}

static int annot_remap(struct process *p, struct mevi_range from, struct mevi_range to)
{
	int err = tagmap_remap(p->vmas, from.start, from.end, to.start, to.end);

	if (!err)
		err = tagmap_remap(p->origins, from.start, from.end, to.start, to.end);
	if (!err)
		err = tagmap_remap(p->touches, from.start, from.end, to.start, to.end);
	if (!err)
		err = tagmap_remap(p->written, from.start, from.end, to.start, to.end);
	return err;
}

static int apply_memory(struct process *p, const struct mevi_event *ev)
{
	int err;

	switch (ev->type) {
	case MEVI_EV_MAP:
		return memmap_set(p->map, ev->map.range.start, ev->map.range.end, ev->map.state);
	case MEVI_EV_UNMAP:
		err = memmap_remove(p->map, ev->unmap.range.start, ev->unmap.range.end);
		return err ? err : annot_remove(p, ev->unmap.range);
	case MEVI_EV_REMAP:
		err = memmap_remap(p->map, ev->remap.from.start, ev->remap.from.end,
				   ev->remap.to.start, ev->remap.to.end);
		return err ? err : annot_remap(p, ev->remap.from, ev->remap.to);
	case MEVI_EV_STATE:
		return memmap_update(p->map, ev->state.range.start, ev->state.range.end,
				     ev->state.state);
	default:
		return -EINVAL;
	}
}

/* vma / origin / touch / thread on the live process p: no rss sample. */
static int apply_annotation(struct session_registry *reg, struct session *s, struct process *p,
			    const struct mevi_event *ev)
{
	struct mevi_event named;
	uint32_t id;
	int err;

	switch (ev->type) {
	case MEVI_EV_VMA:
		err = vmanames_intern(&s->names, ev->vma.kind, ev->vma.name, &id);
		if (err < 0)
			return err;
		if (err == 1) {
			if (!s->names.full_logged)
				log_warn("session %" PRIu64 ": more than %u vma names or %u bytes "
					 "of them: new names are dropped (the kind is kept)",
					 s->id, VMANAMES_MAX_NAMES, VMANAMES_MAX_BYTES);
			s->names.full_logged = true;
			named = *ev;
			named.vma.name = (struct mevi_str){"", 0};
			ev = &named; /* forwarded and logged as applied */
		}
		err = tagmap_set(p->vmas, ev->vma.range.start, ev->vma.range.end, id);
		break;
	case MEVI_EV_ORIGIN:
		err = tagmap_set(p->origins, ev->origin.range.start, ev->origin.range.end,
				 ev->origin.stack_id);
		break;
	case MEVI_EV_TOUCH:
		err = tagmap_set(p->touches, ev->touch.range.start, ev->touch.range.end,
				 (uint32_t)ev->touch.tid);
		break;
	case MEVI_EV_WRITTEN:
		err = heatmap_apply(p->written, ev);
		break;
	default: /* MEVI_EV_THREAD */
		err = threadtab_set(&p->threads, ev->thread.tid, ev->thread.name);
		if (err == 1) {
			if (!p->threads.full_logged)
				log_warn("session %" PRIu64 ": pid %d: more than %u threads or %u "
					 "bytes of thread names: new names are dropped",
					 s->id, (int)p->pid, THREADTAB_MAX_THREADS,
					 THREADTAB_MAX_BYTES);
			p->threads.full_logged = true;
			return 1;
		}
		break;
	}
	if (err)
		return err;
	notify_applied(reg, s, ev);
	return 0;
}

/* session_end: the session and every process still alive stop. */
static int apply_session_end(struct session_registry *reg, struct session *s,
			     const struct mevi_event *ev)
{
	uint32_t running;
	int n;

	s->alive = false;
	s->ended = true;
	s->has_exit_status = true;
	s->exit_status = ev->session_end.status;
	s->end_how = ending_from_status(ev->session_end.status);
	n = session_end_processes(reg, s, s->end_how, ev->ts, &running);
	if (n < 0)
		return n;
	if (s->end_how == ENDING_DETACHED)
		LOG_LIFE(reg,
			 "session %" PRIu64 " ended: detached (%d processes left untracked, "
			 "%u still running)",
			 s->id, n, running);
	else
		LOG_LIFE(reg, "session %" PRIu64 " ended: %s, status %d", s->id,
			 ending_name(s->end_how), (int)ev->session_end.status);
	notify_applied(reg, s, ev);
	return 0;
}

/* sampling / engine / stack: session-wide, no process involved. Returns
 * as session_apply. */
static int apply_session_wide(struct session_registry *reg, struct session *s,
			      const struct mevi_event *ev)
{
	int err;

	if (ev->type == MEVI_EV_SAMPLING) {
		s->sample_ms = ev->sampling.sample_ms;
	} else if (ev->type == MEVI_EV_ENGINE) {
		uint32_t n = ev->engine.name.len;

		if (n > MEVI_ENGINE_NAME_MAX)
			n = MEVI_ENGINE_NAME_MAX;
		memcpy(s->engine, ev->engine.name.ptr, n);
		s->engine[n] = '\0';
		s->engine_corrections = ev->engine.corrections;
		s->engine_drops = ev->engine.drops;
	} else { /* MEVI_EV_STACK */
		err = stacktab_put(&s->stacks, ev->stack.id, ev->stack.frames, ev->stack.nframes);
		if (err < 0)
			return err;
		if (err == 1) {
			if (!s->stacks.full_logged)
				log_warn("session %" PRIu64 ": more than %u stacks or %u bytes of "
					 "stacks: new stacks are dropped",
					 s->id, STACKTAB_MAX_STACKS, STACKTAB_MAX_BYTES);
			s->stacks.full_logged = true;
			return 1;
		}
	}
	notify_applied(reg, s, ev);
	return 0;
}

/* proc_start: a new entry for the pid (the old one, if alive, was reused). */
static int apply_proc_start(struct session_registry *reg, struct session *s,
			    const struct mevi_event *ev)
{
	const struct process *parent = NULL;
	struct process *p = session_find_process(s, ev->pid);
	int err;

	if (p && p->alive) {
		log_debug("session %" PRIu64 ": proc_start for live pid %d: the old entry "
			  "is marked exited",
			  s->id, (int)ev->pid);
		if ((err = session_process_died(s, p, ev->ts)))
			return err;
		p->end_how = ENDING_REPLACED;
	}
	if (ev->proc_start.flags & MEVI_PROC_INHERIT_MAP) {
		parent = session_find_process(s, ev->proc_start.ppid);
		if (!parent)
			log_debug("session %" PRIu64 ": pid %d inherits from unknown "
				  "parent %d: empty map",
				  s->id, (int)ev->pid, (int)ev->proc_start.ppid);
	}
	p = session_add_process(s, ev->pid, ev->proc_start.ppid, &ev->proc_start.cmdline, parent);
	if (!p)
		return -ENOMEM;
	process_probe_start(reg, s, p);
	/* session_add_process() counted the inherited rss already. */
	if ((err = session_sample(s, p, ev->ts, memmap_rss(p->map))))
		return err;
	notify_applied(reg, s, ev);
	return 0;
}

/*
 * The live process an event for ev->pid applies to: created implicitly
 * (told to the observer as a proc_start) when the pid is unknown. Returns 0
 * with *out, 1 when the pid's process has exited (the event is dropped), or
 * -ENOMEM.
 */
static int event_process(struct session_registry *reg, struct session *s,
			 const struct mevi_event *ev, struct process **out)
{
	static const struct mevi_strv no_cmdline = {0, NULL};
	struct process *p = session_find_process(s, ev->pid);

	*out = p;
	if (p && !p->alive) {
		log_debug("session %" PRIu64 ": %s for exited pid %d dropped", s->id,
			  mevi_event_type_name(ev->type), (int)ev->pid);
		return 1;
	}
	if (!p) {
		/* The wire wants a real ppid: the launcher is an ancestor. */
		struct mevi_event start = {
		    .type = MEVI_EV_PROC_START,
		    .pid = ev->pid,
		    .ts = ev->ts,
		    .proc_start = {.ppid = s->launcher_pid, .flags = 0, .cmdline = no_cmdline},
		};

		log_debug("session %" PRIu64 ": %s for unknown pid %d: process created", s->id,
			  mevi_event_type_name(ev->type), (int)ev->pid);
		p = session_add_process(s, ev->pid, s->launcher_pid, &no_cmdline, NULL);
		if (!p)
			return -ENOMEM;
		process_probe_start(reg, s, p);
		notify_applied(reg, s, &start);
		*out = p;
	}
	return 0;
}

int session_apply(struct session_registry *reg, struct session *s, const struct mevi_event *ev)
{
	struct process *p;
	uint64_t old_rss;
	int err;

	if (ev->type == MEVI_EV_SESSION_START || s->ended)
		return -EPROTO;
	if (ev->ts > s->last_ts)
		s->last_ts = ev->ts;
	switch (ev->type) {
	case MEVI_EV_SESSION_END:
		return apply_session_end(reg, s, ev);
	case MEVI_EV_SAMPLING:
	case MEVI_EV_ENGINE:
	case MEVI_EV_STACK:
		return apply_session_wide(reg, s, ev);
	case MEVI_EV_PROC_START:
		return apply_proc_start(reg, s, ev);
	default:
		break;
	}

	err = event_process(reg, s, ev, &p);
	if (err)
		return err;
	old_rss = memmap_rss(p->map);
	switch (ev->type) {
	case MEVI_EV_PROC_EXEC: {
		struct mevi_strv cmdline;

		if (strv_copy(&cmdline, &ev->proc_exec.cmdline))
			return -ENOMEM;
		strv_free(&p->cmdline);
		p->cmdline = cmdline;
		memmap_clear(p->map);
		tagmap_clear(p->vmas);
		tagmap_clear(p->origins);
		tagmap_clear(p->touches);
		tagmap_clear(p->written);
		break;
	}
	case MEVI_EV_WRITTEN:
	case MEVI_EV_VMA:
	case MEVI_EV_ORIGIN:
	case MEVI_EV_TOUCH:
	case MEVI_EV_THREAD:
		return apply_annotation(reg, s, p, ev);
	case MEVI_EV_PROC_EXIT:
		p->has_exit_status = true;
		p->exit_status = ev->proc_exit.status;
		p->end_how = ending_from_status(ev->proc_exit.status);
		if ((err = session_process_died(s, p, ev->ts)))
			return err;
		notify_applied(reg, s, ev);
		return 0;
	default:
		err = apply_memory(p, ev);
		if (err)
			return err;
		break;
	}
	if ((err = session_sample(s, p, ev->ts, old_rss)))
		return err;
	notify_applied(reg, s, ev);
	return 0;
}

/* Evicts the detached sessions beyond the bound, longest detached first. */
static void registry_evict(struct session_registry *reg)
{
	while (reg->detached > reg->max_detached) {
		struct session *victim = NULL;

		for (struct session *s = reg->head; s; s = s->next)
			if (!attached(s) && (!victim || s->detach_seq < victim->detach_seq))
				victim = s;
		MEVI_ASSERT(victim);
		log_info("session %" PRIu64 " evicted (more than %u ended sessions)", victim->id,
			 reg->max_detached);
		registry_drop(reg, victim);
	}
}

void session_registry_detach(struct session_registry *reg, struct session *s)
{
	session_registry_detach_how(reg, s, ENDING_LAUNCHER_LOST);
}

void session_registry_detach_how(struct session_registry *reg, struct session *s, uint8_t how)
{
	bool silent = s->ended;
	uint32_t before = reg->count;

	MEVI_ASSERT(attached(s));
	s->conn = NULL;
	s->pinned = false;
	s->detach_seq = reg->next_detach_seq++;
	reg->detached++;
	if (!s->ended) {
		uint32_t running = 0;
		int n;

		s->alive = false;
		s->end_how = how;
		/* Out of memory for a history point: the marks are still made. */
		n = session_end_processes(reg, s, how, s->last_ts, &running);
		if (!s->recorded && !reg->quiet)
			log_info("session %" PRIu64 ": launcher lost (its connection closed "
				 "without a session end): %d processes no longer tracked, %u of "
				 "them still running",
				 s->id, n < 0 ? 0 : n, running);
	}
	registry_evict(reg);
	if (!silent || reg->count != before)
		notify_reshaped(reg);
}

void session_registry_discard(struct session_registry *reg, struct session *s)
{
	MEVI_ASSERT(attached(s));
	registry_unlink(reg, s);
	if (s->id + 1 == reg->next_id)
		reg->next_id--;
	session_free(reg, s);
}

int session_registry_forget(struct session_registry *reg, uint64_t id)
{
	struct session *s = session_registry_find(reg, id);

	if (!s)
		return -ENOENT;
	if (attached(s))
		return -EBUSY;
	log_info("session %" PRIu64 " forgotten on request", s->id);
	registry_drop(reg, s);
	notify_reshaped(reg);
	return 0;
}
