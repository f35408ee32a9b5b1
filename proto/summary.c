/*
 * summary — the end-of-run report (see summary.h for the contract).
 */
#include "summary.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "log.h"
#include "memmap.h"
#include "tagmap.h"

/* Stack id of resident memory no origin covers. */
#define NO_ORIGIN UINT32_MAX
/* Frames kept per stack (the report shows a few). */
#define KEEP_FRAMES 16
/* Stacks kept per session (as the daemon's stacktab bound). */
#define MAX_STACKS 65536u

struct sframe {
	uint64_t pc;
	char *func, *module, *source; /* owned; source NULL when unknown */
};

struct sstack {
	uint32_t id;
	uint32_t nframes;
	struct sframe frames[];
};

struct sproc {
	int32_t pid, ppid;
	char **cmdline; /* owned, NULL-terminated */
	bool alive;
	bool has_exit_status;
	int32_t exit_status;
	uint64_t rss, peak, peak_ts, exit_rss;
	struct memmap *map;
	struct tagmap *origins;
};

/* An open-addressing u32 -> u64 table (keys stored + 1, as u64 so that
 * UINT32_MAX fits; 0 = empty). */
struct u64tab {
	uint64_t *keys;
	uint64_t *vals;
	uint32_t cap, used;
};

struct site {
	uint32_t id;
	uint64_t bytes;
};

struct breakdown {
	struct site top[SUMMARY_TOP];
	uint32_t n;
	uint64_t total;
	uint32_t sites; /* distinct call sites */
};

struct summary {
	bool started, ended, has_exit_status, written;
	int32_t launcher_pid, exit_status;
	uint8_t mode;
	uint32_t sample_ms;
	char **argv;
	uint64_t started_at, last_ts, events, dropped;
	struct sproc **procs; /* every entry, in creation order */
	uint32_t nprocs, procs_cap;
	struct u64tab pids;   /* pid -> index + 1 of its current entry */
	struct u64tab stacks; /* id -> index + 1 into stackv */
	struct sstack **stackv;
	uint32_t nstacks, stacks_cap;
	uint64_t rss, peak, peak_ts;
	bool peak_dirty;  /* a new maximum not counted yet */
	uint64_t counted; /* the maximum the last count was taken at */
	uint64_t walked;  /* ranges visited by counts so far (their cost) */
	uint64_t counted_ts;
	struct breakdown at_peak, at_exit;
	struct u64tab exit_acc; /* id -> bytes resident at exit, all processes */
	uint64_t exit_total;
	char *url, *source;
	struct summary_overhead oh;
	bool has_oh;
};

/* --- small tables -------------------------------------------------------- */

static uint32_t hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

static void u64tab_free(struct u64tab *t)
{
	free(t->keys);
	free(t->vals);
	memset(t, 0, sizeof(*t));
}

/* The slot of key, or of the empty slot where it would go. cap > 0. */
static uint32_t u64tab_slot(const struct u64tab *t, uint32_t key)
{
	uint32_t i = hash32(key) & (t->cap - 1);

	while (t->keys[i] && t->keys[i] != (uint64_t)key + 1)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static uint64_t *u64tab_find(const struct u64tab *t, uint32_t key)
{
	uint32_t i;

	if (!t->cap)
		return NULL;
	i = u64tab_slot(t, key);
	return t->keys[i] ? &t->vals[i] : NULL;
}

/* The value of key, inserted as 0 when absent. NULL on out-of-memory. */
static uint64_t *u64tab_get(struct u64tab *t, uint32_t key)
{
	uint32_t i;

	if ((t->used + 1) * 4 >= t->cap * 3) {
		struct u64tab n = {0};

		n.cap = t->cap ? t->cap * 2 : 64;
		n.keys = calloc(n.cap, sizeof(*n.keys));
		n.vals = calloc(n.cap, sizeof(*n.vals));
		if (!n.keys || !n.vals) {
			u64tab_free(&n);
			return NULL;
		}
		for (uint32_t k = 0; k < t->cap; k++) {
			if (!t->keys[k])
				continue;
			i = u64tab_slot(&n, (uint32_t)(t->keys[k] - 1));
			n.keys[i] = t->keys[k];
			n.vals[i] = t->vals[k];
		}
		n.used = t->used;
		u64tab_free(t);
		*t = n;
	}
	i = u64tab_slot(t, key);
	if (!t->keys[i]) {
		t->keys[i] = (uint64_t)key + 1;
		t->vals[i] = 0;
		t->used++;
	}
	return &t->vals[i];
}

/* --- strings ------------------------------------------------------------- */

static char *dup_str(const struct mevi_str *s)
{
	char *p = malloc((size_t)s->len + 1);

	if (!p)
		return NULL;
	if (s->len)
		memcpy(p, s->ptr, s->len);
	p[s->len] = '\0';
	return p;
}

static void free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static char **dup_strv(const struct mevi_strv *v)
{
	char **out = calloc((size_t)v->count + 1, sizeof(*out));

	if (!out)
		return NULL;
	for (uint32_t i = 0; i < v->count; i++) {
		out[i] = dup_str(&v->items[i]);
		if (!out[i]) {
			free_strv(out);
			return NULL;
		}
	}
	return out;
}

/* --- processes ----------------------------------------------------------- */

static void sproc_free(struct sproc *p)
{
	if (!p)
		return;
	free_strv(p->cmdline);
	memmap_free(p->map);
	tagmap_free(p->origins);
	free(p);
}

static struct sproc *current(const struct summary *sm, int32_t pid)
{
	uint64_t *ix = u64tab_find(&sm->pids, (uint32_t)pid);

	return ix ? sm->procs[*ix - 1] : NULL;
}

/* Appends a new entry for pid (the current one, if any, is replaced). */
static struct sproc *proc_add(struct summary *sm, int32_t pid, int32_t ppid,
			      const struct mevi_strv *cmdline, const struct sproc *parent)
{
	struct sproc *p = calloc(1, sizeof(*p));
	uint64_t *slot;

	if (!p)
		return NULL;
	p->pid = pid;
	p->ppid = ppid;
	p->alive = true;
	p->cmdline = cmdline ? dup_strv(cmdline) : calloc(1, sizeof(char *));
	p->map = parent ? memmap_clone(parent->map) : memmap_new();
	p->origins = parent ? tagmap_clone(parent->origins) : tagmap_new();
	if (!p->cmdline || !p->map || !p->origins)
		goto err_free;
	if (sm->nprocs == sm->procs_cap) {
		uint32_t cap = sm->procs_cap ? sm->procs_cap * 2 : 16;
		struct sproc **v = realloc(sm->procs, cap * sizeof(*v));

		if (!v)
			goto err_free;
		sm->procs = v;
		sm->procs_cap = cap;
	}
	slot = u64tab_get(&sm->pids, (uint32_t)pid);
	if (!slot)
		goto err_free;
	sm->procs[sm->nprocs++] = p;
	*slot = sm->nprocs;
	p->rss = memmap_rss(p->map);
	p->peak = p->rss;
	p->peak_ts = sm->last_ts;
	sm->rss += p->rss;
	return p;
err_free:
	sproc_free(p);
	return NULL;
}

/* --- call sites ---------------------------------------------------------- */

struct count_ctx {
	const struct sproc *p;
	struct u64tab *acc;
	uint64_t covered;
	int err;
};

static int count_origin_cb(const struct tagmap_range *r, void *arg)
{
	struct count_ctx *c = arg;
	uint64_t *v = u64tab_get(c->acc, r->value);

	if (!v) {
		c->err = -ENOMEM;
		return 1;
	}
	*v += r->end - r->start;
	c->covered += r->end - r->start;
	return 0;
}

static int count_range_cb(const struct memmap_range *r, void *arg)
{
	struct count_ctx *c = arg;
	uint64_t *v;

	if (r->state != MEVI_STATE_RESIDENT)
		return 0;
	c->covered = 0;
	tagmap_walk_range(c->p->origins, r->start, r->end, count_origin_cb, c);
	if (c->err)
		return 1;
	if (c->covered < r->end - r->start) {
		v = u64tab_get(c->acc, NO_ORIGIN);
		if (!v) {
			c->err = -ENOMEM;
			return 1;
		}
		*v += (r->end - r->start) - c->covered;
	}
	return 0;
}

/* Adds p's resident bytes by origin stack to acc. */
static int count_proc(const struct sproc *p, struct u64tab *acc)
{
	struct count_ctx c = {.p = p, .acc = acc};

	memmap_walk(p->map, count_range_cb, &c);
	return c.err;
}

/* The SUMMARY_TOP largest of acc, largest first (ties: smaller id first). */
static void pick_top(const struct u64tab *acc, struct breakdown *b)
{
	memset(b, 0, sizeof(*b));
	for (uint32_t i = 0; i < acc->cap; i++) {
		struct site s;
		uint32_t j;

		if (!acc->keys[i] || !acc->vals[i])
			continue;
		s.id = (uint32_t)(acc->keys[i] - 1);
		s.bytes = acc->vals[i];
		b->total += s.bytes;
		b->sites++;
		for (j = b->n; j > 0; j--) {
			const struct site *o = &b->top[j - 1];

			if (o->bytes > s.bytes || (o->bytes == s.bytes && o->id < s.id))
				break;
		}
		if (j >= SUMMARY_TOP)
			continue;
		if (b->n < SUMMARY_TOP)
			b->n++;
		memmove(&b->top[j + 1], &b->top[j], (b->n - 1 - j) * sizeof(b->top[0]));
		b->top[j] = s;
	}
}

/* Counts the call sites of every live process: the state at the peak. */
static void count_peak(struct summary *sm)
{
	struct u64tab acc = {0};

	for (uint32_t i = 0; i < sm->nprocs; i++) {
		if (sm->procs[i]->alive)
			sm->walked += memmap_count(sm->procs[i]->map) + 1;
		if (sm->procs[i]->alive && count_proc(sm->procs[i], &acc)) {
			u64tab_free(&acc);
			return; /* out of memory: keep the last count */
		}
	}
	pick_top(&acc, &sm->at_peak);
	u64tab_free(&acc);
	sm->counted = sm->rss;
	sm->counted_ts = sm->peak_ts;
	sm->peak_dirty = false;
}

/* Called before an event that may lower the RSS. */
static void before_decrease(struct summary *sm)
{
	uint64_t step;

	if (!sm->peak_dirty || sm->rss != sm->peak)
		return;
	/* Exact while the counts cost at most 8 range visits per event (plus
	 * 100,000), else only per 1 % of growth. */
	step = sm->counted / 100;
	if (sm->walked > sm->events * 8 + 100000 && sm->counted && sm->peak < sm->counted + step)
		return;
	count_peak(sm);
}

/* p exits (or the session ends with p alive): what it still holds. */
static void proc_final(struct summary *sm, struct sproc *p)
{
	p->exit_rss = p->rss;
	sm->exit_total += p->rss;
	count_proc(p, &sm->exit_acc);
}

static void proc_gone(struct summary *sm, struct sproc *p)
{
	if (!p->alive)
		return;
	proc_final(sm, p);
	p->alive = false;
	sm->rss -= p->rss;
	memmap_clear(p->map); /* no longer needed: keep memory small */
	tagmap_clear(p->origins);
}

/* --- stacks -------------------------------------------------------------- */

static void sstack_free(struct sstack *st)
{
	if (!st)
		return;
	for (uint32_t i = 0; i < st->nframes; i++) {
		free(st->frames[i].func);
		free(st->frames[i].module);
		free(st->frames[i].source);
	}
	free(st);
}

static int stack_put(struct summary *sm, const struct mevi_event *ev)
{
	uint32_t n = ev->stack.nframes < KEEP_FRAMES ? ev->stack.nframes : KEEP_FRAMES;
	struct sstack *st = calloc(1, sizeof(*st) + n * sizeof(st->frames[0]));
	uint64_t *slot;

	if (!st)
		return -ENOMEM;
	st->id = ev->stack.id;
	for (uint32_t i = 0; i < n; i++) {
		const struct mevi_frame *f = &ev->stack.frames[i];

		st->nframes++;
		st->frames[i].pc = f->pc;
		st->frames[i].func = dup_str(&f->func);
		st->frames[i].module = dup_str(&f->module);
		st->frames[i].source = f->source.ptr ? dup_str(&f->source) : NULL;
		if (!st->frames[i].func || !st->frames[i].module ||
		    (f->source.ptr && !st->frames[i].source))
			goto err_free;
	}
	slot = u64tab_find(&sm->stacks, st->id);
	if (slot) {
		sstack_free(sm->stackv[*slot - 1]);
		sm->stackv[*slot - 1] = st;
		return 0;
	}
	if (sm->nstacks >= MAX_STACKS) {
		sstack_free(st);
		return 0;
	}
	if (sm->nstacks == sm->stacks_cap) {
		uint32_t cap = sm->stacks_cap ? sm->stacks_cap * 2 : 64;
		struct sstack **v = realloc(sm->stackv, cap * sizeof(*v));

		if (!v)
			goto err_free;
		sm->stackv = v;
		sm->stacks_cap = cap;
	}
	slot = u64tab_get(&sm->stacks, st->id);
	if (!slot)
		goto err_free;
	sm->stackv[sm->nstacks++] = st;
	*slot = sm->nstacks;
	return 0;
err_free:
	sstack_free(st);
	return -ENOMEM;
}

static const struct sstack *stack_get(const struct summary *sm, uint32_t id)
{
	uint64_t *ix = u64tab_find(&sm->stacks, id);

	return ix ? sm->stackv[*ix - 1] : NULL;
}

/*
 * The frame that names a stack's call site: the innermost frame outside the
 * C library, the loader and allocators (the frontend's callSiteFrame()).
 */
static const struct sframe *site_frame(const struct sstack *st)
{
	/* Names matched with a delimiter after them ("libc.so.6", "libc-2.31.so"). */
	static const char *const plumbing[] = {"libc",	"ld",	     "libpthread",
					       "libdl", "libstdc++", "libjemalloc"};
	/* Names matched as prefixes ("ld-linux-x86-64.so.2", "libtcmalloc_minimal"). */
	static const char *const prefixes[] = {"ld-linux", "libtcmalloc"};

	if (!st || !st->nframes)
		return NULL;
	for (uint32_t i = 0; i < st->nframes; i++) {
		const char *mod = strrchr(st->frames[i].module, '/');
		bool plumb = false;

		mod = mod ? mod + 1 : st->frames[i].module;
		if (strcmp(mod, "[vdso]") == 0)
			continue;
		for (size_t k = 0; k < sizeof(plumbing) / sizeof(plumbing[0]); k++) {
			size_t n = strlen(plumbing[k]);

			if (strncmp(mod, plumbing[k], n) == 0 &&
			    (mod[n] == '\0' || mod[n] == '.' || mod[n] == '-'))
				plumb = true;
		}
		for (size_t k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++)
			if (strncmp(mod, prefixes[k], strlen(prefixes[k])) == 0)
				plumb = true;
		if (!plumb)
			return &st->frames[i];
	}
	return &st->frames[0];
}

/* --- applying events ----------------------------------------------------- */

static void set_rss(struct summary *sm, struct sproc *p)
{
	uint64_t rss = memmap_rss(p->map);

	sm->rss = sm->rss - p->rss + rss;
	p->rss = rss;
	if (rss > p->peak) {
		p->peak = rss;
		p->peak_ts = sm->last_ts;
	}
	if (sm->rss > sm->peak) {
		sm->peak = sm->rss;
		sm->peak_ts = sm->last_ts;
		sm->peak_dirty = true;
	}
}

static void reset_procs(struct summary *sm)
{
	for (uint32_t i = 0; i < sm->nprocs; i++) {
		struct sproc *p = sm->procs[i];

		if (p->alive) {
			p->alive = false;
			sm->rss -= p->rss;
			memmap_clear(p->map);
			tagmap_clear(p->origins);
		}
	}
	u64tab_free(&sm->pids);
}

static bool valid_range(const struct mevi_range *r)
{
	return r->start < r->end;
}

/*
 * session_start: the first one names the session; a resume (the launcher
 * reconnecting) forgets the processes it will announce again.
 */
static int feed_session_start(struct summary *sm, const struct mevi_event *ev)
{
	if (sm->started && ev->session_start.resume) {
		before_decrease(sm);
		reset_procs(sm);
	}
	if (!sm->started) {
		sm->argv = dup_strv(&ev->session_start.argv);
		if (!sm->argv)
			return -ENOMEM;
		sm->started_at = ev->session_start.started_at;
		sm->launcher_pid = ev->pid;
	}
	sm->started = true;
	sm->ended = false;
	sm->mode = ev->session_start.mode;
	sm->sample_ms = ev->session_start.sample_ms;
	return 0;
}

/*
 * proc_start: a live process with the same pid is gone (pid reuse); with
 * MEVI_PROC_INHERIT_MAP the new process starts with its live parent's map.
 */
static int feed_proc_start(struct summary *sm, const struct mevi_event *ev)
{
	struct sproc *old = current(sm, ev->pid);
	struct sproc *parent = NULL;
	struct sproc *p;

	if (old && old->alive) {
		before_decrease(sm);
		proc_gone(sm, old);
	}
	if (ev->proc_start.flags & MEVI_PROC_INHERIT_MAP) {
		parent = current(sm, ev->proc_start.ppid);
		if (parent && !parent->alive)
			parent = NULL;
	}
	p = proc_add(sm, ev->pid, ev->proc_start.ppid, &ev->proc_start.cmdline, parent);
	if (!p)
		return -ENOMEM;
	set_rss(sm, p);
	return 0;
}

/*
 * An event about one live process's memory or life, applied to p. A range
 * the maps refuse is skipped; only -ENOMEM is returned.
 */
static int feed_proc_event(struct summary *sm, struct sproc *p, const struct mevi_event *ev)
{
	int ret = 0;

	if (ev->type != MEVI_EV_ORIGIN)
		before_decrease(sm);
	switch (ev->type) {
	case MEVI_EV_PROC_EXEC: {
		char **cmd = dup_strv(&ev->proc_exec.cmdline);

		if (!cmd)
			return -ENOMEM;
		free_strv(p->cmdline);
		p->cmdline = cmd;
		memmap_clear(p->map);
		tagmap_clear(p->origins);
		break;
	}
	case MEVI_EV_PROC_EXIT:
		p->has_exit_status = true;
		p->exit_status = ev->proc_exit.status;
		proc_gone(sm, p);
		return 0;
	case MEVI_EV_MAP:
		if (valid_range(&ev->map.range))
			ret = memmap_set(p->map, ev->map.range.start, ev->map.range.end,
					 ev->map.state);
		break;
	case MEVI_EV_UNMAP:
		if (valid_range(&ev->unmap.range)) {
			ret = memmap_remove(p->map, ev->unmap.range.start, ev->unmap.range.end);
			if (!ret)
				ret = tagmap_remove(p->origins, ev->unmap.range.start,
						    ev->unmap.range.end);
		}
		break;
	case MEVI_EV_REMAP:
		if (valid_range(&ev->remap.from) && valid_range(&ev->remap.to)) {
			ret = memmap_remap(p->map, ev->remap.from.start, ev->remap.from.end,
					   ev->remap.to.start, ev->remap.to.end);
			if (!ret)
				ret = tagmap_remap(p->origins, ev->remap.from.start,
						   ev->remap.from.end, ev->remap.to.start,
						   ev->remap.to.end);
		}
		break;
	case MEVI_EV_STATE:
		if (valid_range(&ev->state.range))
			ret = memmap_update(p->map, ev->state.range.start, ev->state.range.end,
					    ev->state.state);
		break;
	case MEVI_EV_ORIGIN:
		if (valid_range(&ev->origin.range))
			ret = tagmap_set(p->origins, ev->origin.range.start, ev->origin.range.end,
					 ev->origin.stack_id);
		return ret == -ENOMEM ? ret : 0;
	default:
		return 0;
	}
	set_rss(sm, p);
	return ret == -ENOMEM ? ret : 0;
}

int summary_feed(struct summary *sm, const struct mevi_event *ev)
{
	struct sproc *p;

	if (sm->written)
		return 0;
	sm->events++;
	if (ev->ts > sm->last_ts)
		sm->last_ts = ev->ts;
	switch (ev->type) {
	case MEVI_EV_SESSION_START:
		return feed_session_start(sm, ev);
	case MEVI_EV_SESSION_END:
		sm->ended = true;
		sm->has_exit_status = true;
		sm->exit_status = ev->session_end.status;
		return 0;
	case MEVI_EV_STACK:
		return stack_put(sm, ev);
	case MEVI_EV_SAMPLING:
		sm->sample_ms = ev->sampling.sample_ms;
		return 0;
	case MEVI_EV_ENGINE: /* the session's, from the launcher's pid: no process */
	case MEVI_EV_VMA:
	case MEVI_EV_THREAD:
	case MEVI_EV_TOUCH:
		return 0;
	case MEVI_EV_PROC_START:
		return feed_proc_start(sm, ev);
	default:
		break;
	}
	if (ev->type >= MEVI_EV_TYPE_COUNT)
		return 0;
	p = current(sm, ev->pid);
	if (!p) {
		p = proc_add(sm, ev->pid, sm->launcher_pid, NULL, NULL);
		if (!p)
			return -ENOMEM;
	} else if (!p->alive) {
		sm->dropped++;
		return 0;
	}
	return feed_proc_event(sm, p, ev);
}

int summary_feed_batch(struct summary *sm, const void *batch, size_t len)
{
	struct mevi_decoder dec;
	const struct mevi_event *evs;
	uint32_t n;
	int ret;

	if (sm->written)
		return 0;
	ret = mevi_decoder_init(&dec, NULL);
	if (ret)
		return ret;
	ret = mevi_decoder_feed(&dec, batch, len);
	while (!ret && (ret = mevi_decoder_next(&dec, &evs, &n)) == 1) {
		ret = 0;
		for (uint32_t i = 0; i < n && !ret; i++)
			ret = summary_feed(sm, &evs[i]);
	}
	mevi_decoder_destroy(&dec);
	return ret;
}

/* --- life cycle ---------------------------------------------------------- */

struct summary *summary_new(void)
{
	return calloc(1, sizeof(struct summary));
}

void summary_free(struct summary *sm)
{
	if (!sm)
		return;
	for (uint32_t i = 0; i < sm->nprocs; i++)
		sproc_free(sm->procs[i]);
	free(sm->procs);
	for (uint32_t i = 0; i < sm->nstacks; i++)
		sstack_free(sm->stackv[i]);
	free(sm->stackv);
	u64tab_free(&sm->pids);
	u64tab_free(&sm->stacks);
	u64tab_free(&sm->exit_acc);
	free_strv(sm->argv);
	free(sm->url);
	free(sm->source);
	free(sm);
}

static void set_string(char **dst, const char *s)
{
	free(*dst);
	*dst = s && *s ? strdup(s) : NULL;
}

void summary_set_url(struct summary *sm, const char *url)
{
	set_string(&sm->url, url);
}

void summary_set_source(struct summary *sm, const char *source)
{
	set_string(&sm->source, source);
}

void summary_set_overhead(struct summary *sm, const struct summary_overhead *oh)
{
	sm->oh = *oh;
	sm->has_oh = true;
}

int summary_format_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return SUMMARY_TEXT;
	if (strcmp(s, "json") == 0)
		return SUMMARY_JSON;
	return -EINVAL;
}

/* Ends the counts: the peak if still pending, and what live processes hold. */
static void finish(struct summary *sm)
{
	if (sm->peak_dirty && sm->rss == sm->peak)
		count_peak(sm);
	for (uint32_t i = 0; i < sm->nprocs; i++) {
		struct sproc *p = sm->procs[i];

		if (p->alive)
			proc_final(sm, p);
	}
	pick_top(&sm->exit_acc, &sm->at_exit);
}

/* --- output -------------------------------------------------------------- */

static const char *mode_name(const struct summary *sm)
{
	return sm->mode == MEVI_MODE_SAMPLED ? "sampled" : "exact";
}

/* "12.3 MiB" */
static const char *fmt_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	unsigned u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", b);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

/* "1.234 s" */
static const char *fmt_time(uint64_t ns, char *buf, size_t len)
{
	snprintf(buf, len, "%.3f s", (double)ns / 1e9);
	return buf;
}

static void text_site(FILE *f, const struct summary *sm, const struct site *s, uint64_t total)
{
	char b[32];
	const struct sstack *st = s->id == NO_ORIGIN ? NULL : stack_get(sm, s->id);
	const struct sframe *fr = site_frame(st);

	fprintf(f, "    %10s %5.1f%%  ", fmt_bytes(s->bytes, b, sizeof(b)),
		total ? 100.0 * (double)s->bytes / (double)total : 0.0);
	if (s->id == NO_ORIGIN) {
		fprintf(f, "(no call stack known)\n");
		return;
	}
	if (!fr) {
		fprintf(f, "stack %" PRIu32 " (frames unknown)\n", s->id);
		return;
	}
	if (fr->func[0])
		fprintf(f, "%s", fr->func);
	else
		fprintf(f, "0x%" PRIx64, fr->pc);
	{
		const char *mod = strrchr(fr->module, '/');

		fprintf(f, " (%s)", mod ? mod + 1 : fr->module[0] ? fr->module : "?");
	}
	if (fr->source)
		fprintf(f, " %s", fr->source);
	fprintf(f, "  [stack %" PRIu32 "]\n", s->id);
}

static void hints(const struct summary *sm, const char **out, unsigned *n)
{
	*n = 0;
	if (sm->mode == MEVI_MODE_SAMPLED) {
		out[(*n)++] = "sampled mode: residency is read every sample interval, so pages "
			      "that live shorter than it may be missed; --exact (or no --sample) "
			      "sees every first touch";
	} else if (sm->has_oh && sm->oh.faults > 100000) {
		out[(*n)++] = "exact mode served many page faults through userfaultfd (each a "
			      "round trip of 5-60 us here): --sample trades exactness for speed";
	}
	if (sm->has_oh && sm->oh.stops > 100000)
		out[(*n)++] =
		    "many ptrace stops (memory syscalls): --sample --layout=scan has none";
	if (sm->has_oh && sm->oh.untracked)
		out[(*n)++] = "some mappings could not be tracked (shown untracked)";
	if (sm->nstacks == 0)
		out[(*n)++] = "no call stacks: --backtraces=mmap names who mapped the memory";
}

static void write_text(struct summary *sm, FILE *f)
{
	char b1[32], b2[32], b3[32];
	const char *h[8];
	unsigned nh;

	fprintf(f, "mevi summary:");
	for (char **a = sm->argv; a && *a; a++)
		fprintf(f, " %s", *a);
	fprintf(f, "\n  mode: %s", mode_name(sm));
	if (sm->mode == MEVI_MODE_SAMPLED)
		fprintf(f, " (every %" PRIu32 " ms)", sm->sample_ms);
	fprintf(f, ", %s, ", fmt_time(sm->last_ts, b1, sizeof(b1)));
	if (sm->has_exit_status)
		fprintf(f, "exit status %" PRId32 "\n", sm->exit_status);
	else
		fprintf(f, "no exit status\n");
	if (sm->source)
		fprintf(f, "  source: %s\n", sm->source);
	fprintf(f, "  peak RSS: %s at %s (private anonymous memory, all live processes)\n",
		fmt_bytes(sm->peak, b1, sizeof(b1)), fmt_time(sm->peak_ts, b2, sizeof(b2)));
	fprintf(f, "  processes:\n    %8s %-20s %10s %10s %10s  %s\n", "pid", "command", "peak",
		"at", "at exit", "status");
	for (uint32_t i = 0; i < sm->nprocs; i++) {
		const struct sproc *p = sm->procs[i];
		const char *cmd = p->cmdline && p->cmdline[0] ? p->cmdline[0] : "?";
		const char *base = strrchr(cmd, '/');

		fprintf(f, "    %8" PRId32 " %-20.20s %10s %10s %10s  ", p->pid,
			base ? base + 1 : cmd, fmt_bytes(p->peak, b1, sizeof(b1)),
			fmt_time(p->peak_ts, b2, sizeof(b2)),
			fmt_bytes(p->exit_rss, b3, sizeof(b3)));
		if (p->has_exit_status)
			fprintf(f, "exit %" PRId32 "\n", p->exit_status);
		else
			fprintf(f, "%s\n", p->alive ? "running at end" : "gone");
	}
	fprintf(f, "  top call sites at the peak (%s resident, %" PRIu32 " sites):\n",
		fmt_bytes(sm->at_peak.total, b1, sizeof(b1)), sm->at_peak.sites);
	for (uint32_t i = 0; i < sm->at_peak.n; i++)
		text_site(f, sm, &sm->at_peak.top[i], sm->at_peak.total);
	fprintf(f, "  still resident at exit: %s\n", fmt_bytes(sm->exit_total, b1, sizeof(b1)));
	for (uint32_t i = 0; i < sm->at_exit.n; i++)
		text_site(f, sm, &sm->at_exit.top[i], sm->at_exit.total);
	if (sm->has_oh) {
		fprintf(f, "  overhead: %" PRIu64 " events, %s sent", sm->oh.events,
			fmt_bytes(sm->oh.bytes_sent, b1, sizeof(b1)));
		if (sm->oh.stops)
			fprintf(f, ", %" PRIu64 " ptrace stops", sm->oh.stops);
		if (sm->oh.faults)
			fprintf(f, ", %" PRIu64 " faults served", sm->oh.faults);
		if (sm->oh.samples)
			fprintf(f, ", %" PRIu64 " scans (%.1f ms CPU)", sm->oh.samples,
				(double)sm->oh.sampler_ns / 1e6);
		fprintf(f, "\n");
	}
	hints(sm, h, &nh);
	for (unsigned i = 0; i < nh; i++)
		fprintf(f, "  hint: %s\n", h[i]);
	if (sm->url)
		fprintf(f, "  session: %s\n", sm->url);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void json_strv(FILE *f, char **v)
{
	fputc('[', f);
	for (char **a = v; a && *a; a++) {
		if (a != v)
			fputc(',', f);
		json_string(f, *a);
	}
	fputc(']', f);
}

static void json_sites(FILE *f, const struct summary *sm, const struct breakdown *b)
{
	fprintf(f, "{\"bytes\":%" PRIu64 ",\"sites\":%" PRIu32 ",\"top\":[", b->total, b->sites);
	for (uint32_t i = 0; i < b->n; i++) {
		const struct site *s = &b->top[i];
		const struct sstack *st = s->id == NO_ORIGIN ? NULL : stack_get(sm, s->id);
		const struct sframe *fr = site_frame(st);

		if (i)
			fputc(',', f);
		fprintf(f, "{\"stack_id\":");
		if (s->id == NO_ORIGIN)
			fprintf(f, "null");
		else
			fprintf(f, "%" PRIu32, s->id);
		fprintf(f, ",\"bytes\":%" PRIu64 ",\"call_site\":", s->bytes);
		if (fr)
			json_string(f, fr->func[0] ? fr->func : "?");
		else
			fprintf(f, "null");
		fprintf(f, ",\"frames\":[");
		for (uint32_t k = 0; st && k < st->nframes; k++) {
			const struct sframe *x = &st->frames[k];

			fprintf(f, "%s{\"pc\":%" PRIu64 ",\"func\":", k ? "," : "", x->pc);
			json_string(f, x->func);
			fprintf(f, ",\"module\":");
			json_string(f, x->module);
			fprintf(f, ",\"source\":");
			if (x->source)
				json_string(f, x->source);
			else
				fprintf(f, "null");
			fputc('}', f);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}");
}

static void write_json(struct summary *sm, FILE *f)
{
	const char *h[8];
	unsigned nh;

	fprintf(f, "{\"version\":1,\"argv\":");
	json_strv(f, sm->argv);
	fprintf(f,
		",\"mode\":\"%s\",\"sample_ms\":%" PRIu32 ",\"started_at\":%" PRIu64
		",\"duration_ns\":%" PRIu64 ",\"exit_status\":",
		mode_name(sm), sm->mode == MEVI_MODE_SAMPLED ? sm->sample_ms : 0, sm->started_at,
		sm->last_ts);
	if (sm->has_exit_status)
		fprintf(f, "%" PRId32, sm->exit_status);
	else
		fprintf(f, "null");
	fprintf(f, ",\"source\":");
	if (sm->source)
		json_string(f, sm->source);
	else
		fprintf(f, "null");
	fprintf(f, ",\"peak\":{\"rss\":%" PRIu64 ",\"ts\":%" PRIu64 ",\"call_sites\":", sm->peak,
		sm->peak_ts);
	json_sites(f, sm, &sm->at_peak);
	fprintf(f, "},\"processes\":[");
	for (uint32_t i = 0; i < sm->nprocs; i++) {
		const struct sproc *p = sm->procs[i];

		fprintf(f, "%s{\"pid\":%" PRId32 ",\"ppid\":%" PRId32 ",\"cmdline\":", i ? "," : "",
			p->pid, p->ppid);
		json_strv(f, p->cmdline);
		fprintf(f,
			",\"peak_rss\":%" PRIu64 ",\"peak_ts\":%" PRIu64 ",\"rss_at_exit\":%" PRIu64
			",\"alive\":%s,\"exit_status\":",
			p->peak, p->peak_ts, p->exit_rss, p->alive ? "true" : "false");
		if (p->has_exit_status)
			fprintf(f, "%" PRId32 "}", p->exit_status);
		else
			fprintf(f, "null}");
	}
	fprintf(f, "],\"at_exit\":");
	json_sites(f, sm, &sm->at_exit);
	fprintf(f, ",\"overhead\":");
	if (sm->has_oh)
		fprintf(f,
			"{\"wall_ns\":%" PRIu64 ",\"events\":%" PRIu64 ",\"bytes_sent\":%" PRIu64
			",\"ptrace_stops\":%" PRIu64 ",\"faults_served\":%" PRIu64
			",\"scans\":%" PRIu64 ",\"sampler_cpu_ns\":%" PRIu64
			",\"untracked_vmas\":%" PRIu64 "}",
			sm->oh.wall_ns, sm->oh.events, sm->oh.bytes_sent, sm->oh.stops,
			sm->oh.faults, sm->oh.samples, sm->oh.sampler_ns, sm->oh.untracked);
	else
		fprintf(f, "null");
	fprintf(f, ",\"hints\":[");
	hints(sm, h, &nh);
	for (unsigned i = 0; i < nh; i++) {
		if (i)
			fputc(',', f);
		json_string(f, h[i]);
	}
	fprintf(f, "],\"url\":");
	if (sm->url)
		json_string(f, sm->url);
	else
		fprintf(f, "null");
	fprintf(f, "}\n");
}

int summary_write(struct summary *sm, FILE *f, enum summary_format fmt)
{
	if (!sm->written)
		finish(sm);
	sm->written = true;
	if (fmt == SUMMARY_JSON)
		write_json(sm, f);
	else
		write_text(sm, f);
	return fflush(f) || ferror(f) ? -EIO : 0;
}
