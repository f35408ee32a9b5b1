/* stackintern — interning call stacks to session ids, and caching their symbols. */
#include "stackintern.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "event.h"
#include "log.h"
#include "outbox.h"

/* Limits: past them new stacks get no id. About 400 bytes a stack. */
#define MAX_STACKS  (1u << 18)
#define MAX_SYMS    (1u << 20)
#define MAX_MODULES (1u << 16)

struct module {
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	uint32_t image;	  /* 0 when stat identified the file */
	char *name;	  /* as given */
	const char *base; /* file name, into name */
};

struct sym {
	uint32_t module;
	bool ret;
	uint64_t offset;
	char *func;
	char *source; /* NULL: none */
	uint32_t hnext;
	bool pending;	   /* func and source being looked up */
	uint32_t *waiters; /* stacks to emit again when it is known */
	uint32_t nwait, capwait;
};

struct stack {
	pid_t pid;
	uint32_t image;
	uint32_t hash;
	uint32_t hnext;
	unsigned n;
	unsigned pending; /* frames being looked up */
	bool gained;	  /* a lookup found something */
	uint64_t *pcs;
	uint32_t *mods;
	uint32_t *syms;
};

/* A chained hash of uint32 indices (1-based; 0 ends a chain). */
struct index {
	uint32_t *heads;
	uint32_t mask;
};

struct stackintern {
	struct module *mods;
	uint32_t nmods, capmods;
	struct sym *syms;
	uint32_t nsyms, capsyms;
	struct index sym_index;
	struct stack *stacks;
	uint32_t nstacks, capstacks;
	struct index stack_index;
	uint64_t refused;
};

static uint32_t mix64(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (uint32_t)h;
}

static uint32_t sym_hash(uint32_t module, uint64_t offset, bool ret)
{
	return mix64(mix64(module, offset), ret);
}

static uint32_t stack_hash(uint32_t image, const uint64_t *pcs, unsigned n)
{
	uint32_t h = mix64(image, n);

	for (unsigned i = 0; i < n; i++)
		h = mix64(h, pcs[i]);
	return h;
}

struct stackintern *stackintern_new(void)
{
	return calloc(1, sizeof(struct stackintern));
}

void stackintern_free(struct stackintern *st)
{
	if (!st)
		return;
	for (uint32_t i = 0; i < st->nmods; i++)
		free(st->mods[i].name);
	for (uint32_t i = 0; i < st->nsyms; i++) {
		free(st->syms[i].func);
		free(st->syms[i].source);
		free(st->syms[i].waiters);
	}
	for (uint32_t i = 0; i < st->nstacks; i++) {
		free(st->stacks[i].pcs);
		free(st->stacks[i].mods);
		free(st->stacks[i].syms);
	}
	free(st->mods);
	free(st->syms);
	free(st->stacks);
	free(st->sym_index.heads);
	free(st->stack_index.heads);
	free(st);
}

/* Grows an array of elements of size sz to hold n + 1. Returns 0 or -ENOMEM. */
static int grow(void **arr, uint32_t *cap, uint32_t n, size_t sz)
{
	if (n < *cap)
		return 0;
	uint32_t ncap = *cap ? *cap * 2 : 64;
	void *na = realloc(*arr, (size_t)ncap * sz);

	if (!na)
		return -ENOMEM;
	*arr = na;
	*cap = ncap;
	return 0;
}

uint32_t stackintern_module(struct stackintern *st, const char *name, uint32_t image)
{
	struct module m = {0};
	struct stat sb;

	if (name[0] == '/' && stat(name, &sb) == 0 && S_ISREG(sb.st_mode)) {
		m.dev = sb.st_dev;
		m.ino = sb.st_ino;
		m.size = sb.st_size;
		m.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	} else if (strcmp(name, "[vdso]") != 0) {
		m.image = image;
	}
	/* A few dozen modules per session, usually: a linear search is fine
	 * (the caller caches the id per address space and module). */
	for (uint32_t i = 0; i < st->nmods; i++) {
		const struct module *o = &st->mods[i];

		if (o->dev == m.dev && o->ino == m.ino && o->size == m.size &&
		    o->mtime_ns == m.mtime_ns && o->image == m.image && !strcmp(o->name, name))
			return i + 1;
	}
	if (st->nmods >= MAX_MODULES ||
	    grow((void **)&st->mods, &st->capmods, st->nmods, sizeof(*st->mods)))
		return 0;
	m.name = strdup(name);
	if (!m.name)
		return 0;
	const char *slash = strrchr(m.name, '/');
	m.base = slash ? slash + 1 : m.name;
	st->mods[st->nmods++] = m;
	return st->nmods;
}

/* Makes room in an index of n entries for one more: rebuilds it with twice
 * the buckets when it is full. link(i) is the chain link of entry i
 * (0-based), hash(i) its hash; only entries 0..n-1 exist yet. */
static int index_fit(struct index *ix, uint32_t n, uint32_t *(*link)(void *, uint32_t),
		     uint32_t (*hash)(void *, uint32_t), void *arg)
{
	if (ix->heads && n + 1 < ix->mask)
		return 0;
	uint32_t size = ix->heads ? (ix->mask + 1) * 2 : 1024;
	uint32_t *heads = calloc(size, sizeof(*heads));

	if (!heads)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t b = hash(arg, i) & (size - 1);

		*link(arg, i) = heads[b];
		heads[b] = i + 1;
	}
	free(ix->heads);
	ix->heads = heads;
	ix->mask = size - 1;
	return 0;
}

static uint32_t *sym_link(void *arg, uint32_t i)
{
	return &((struct stackintern *)arg)->syms[i].hnext;
}

static uint32_t sym_rehash(void *arg, uint32_t i)
{
	const struct sym *s = &((struct stackintern *)arg)->syms[i];

	return sym_hash(s->module, s->offset, s->ret);
}

static uint32_t *stack_link(void *arg, uint32_t i)
{
	return &((struct stackintern *)arg)->stacks[i].hnext;
}

static uint32_t stack_rehash(void *arg, uint32_t i)
{
	return ((struct stackintern *)arg)->stacks[i].hash;
}

uint32_t stackintern_sym_find(struct stackintern *st, uint32_t module, uint64_t offset, bool ret)
{
	if (!st->sym_index.heads)
		return 0;
	for (uint32_t i = st->sym_index.heads[sym_hash(module, offset, ret) & st->sym_index.mask];
	     i; i = st->syms[i - 1].hnext) {
		const struct sym *s = &st->syms[i - 1];

		if (s->module == module && s->offset == offset && s->ret == ret)
			return i;
	}
	return 0;
}

uint32_t stackintern_sym_add(struct stackintern *st, uint32_t module, uint64_t offset, bool ret,
			     const char *func, const char *source, bool pending)
{
	struct sym s = {.module = module, .ret = ret, .offset = offset, .pending = pending};

	if (st->nsyms >= MAX_SYMS ||
	    grow((void **)&st->syms, &st->capsyms, st->nsyms, sizeof(*st->syms)) ||
	    index_fit(&st->sym_index, st->nsyms, sym_link, sym_rehash, st))
		return 0;
	s.func = strdup(func);
	s.source = source[0] ? strdup(source) : NULL;
	if (!s.func || (source[0] && !s.source)) {
		free(s.func);
		free(s.source);
		return 0;
	}
	uint32_t b = sym_hash(module, offset, ret) & st->sym_index.mask;

	s.hnext = st->sym_index.heads[b];
	st->syms[st->nsyms++] = s;
	st->sym_index.heads[b] = st->nsyms;
	return st->nsyms;
}

uint32_t stackintern_find(struct stackintern *st, uint32_t image, const uint64_t *pcs, unsigned n)
{
	uint32_t h = stack_hash(image, pcs, n);

	if (!st->stack_index.heads)
		return 0;
	for (uint32_t i = st->stack_index.heads[h & st->stack_index.mask]; i;
	     i = st->stacks[i - 1].hnext) {
		const struct stack *s = &st->stacks[i - 1];

		if (s->hash == h && s->image == image && s->n == n &&
		    !memcmp(s->pcs, pcs, n * sizeof(*pcs)))
			return i;
	}
	return 0;
}

uint32_t stackintern_add(struct stackintern *st, pid_t pid, uint32_t image, const uint64_t *pcs,
			 const uint32_t *mods, const uint32_t *syms, unsigned n)
{
	struct stack s = {.pid = pid, .image = image, .n = n, .hash = stack_hash(image, pcs, n)};

	if (st->nstacks >= MAX_STACKS) {
		if (st->refused++ == 0)
			log_info("%u distinct call stacks: later new stacks are not recorded",
				 MAX_STACKS);
		return 0;
	}
	if (grow((void **)&st->stacks, &st->capstacks, st->nstacks, sizeof(*st->stacks)) ||
	    index_fit(&st->stack_index, st->nstacks, stack_link, stack_rehash, st))
		return 0;
	s.pcs = malloc(n * sizeof(*s.pcs));
	s.mods = malloc(n * sizeof(*s.mods));
	s.syms = malloc(n * sizeof(*s.syms));
	if (!s.pcs || !s.mods || !s.syms) {
		free(s.pcs);
		free(s.mods);
		free(s.syms);
		return 0;
	}
	memcpy(s.pcs, pcs, n * sizeof(*s.pcs));
	memcpy(s.mods, mods, n * sizeof(*s.mods));
	memcpy(s.syms, syms, n * sizeof(*s.syms));
	uint32_t b = s.hash & st->stack_index.mask;

	s.hnext = st->stack_index.heads[b];
	st->stacks[st->nstacks++] = s;
	st->stack_index.heads[b] = st->nstacks;
	for (unsigned i = 0; i < n; i++) {
		struct sym *sy = syms[i] ? &st->syms[syms[i] - 1] : NULL;

		if (!sy || !sy->pending ||
		    grow((void **)&sy->waiters, &sy->capwait, sy->nwait, sizeof(*sy->waiters)))
			continue; /* out of memory: the stack just stays without it */
		sy->waiters[sy->nwait++] = st->nstacks;
		st->stacks[st->nstacks - 1].pending++;
	}
	return st->nstacks;
}

void stackintern_sym_resolved(struct stackintern *st, uint32_t sym, const char *func,
			      const char *source, struct outbox *out)
{
	struct sym *sy;
	char *nf;

	if (sym == 0 || sym > st->nsyms || !st->syms[sym - 1].pending)
		return;
	sy = &st->syms[sym - 1];
	sy->pending = false;
	if (source[0])
		sy->source = strdup(source); /* NULL on out-of-memory: no source */
	if (func[0] && (nf = strdup(func))) {
		free(sy->func);
		sy->func = nf;
	}
	for (uint32_t i = 0; i < sy->nwait; i++) {
		uint32_t id = sy->waiters[i];
		struct stack *s = &st->stacks[id - 1];

		if (sy->source || sy->func[0])
			s->gained = true;
		/* Sent again only when a lookup found something: otherwise the
		 * stack already sent is the complete one. */
		if (s->pending && --s->pending == 0 && s->gained)
			stackintern_emit(st, out, id);
	}
	free(sy->waiters);
	sy->waiters = NULL;
	sy->nwait = sy->capwait = 0;
}

static struct mevi_str str_of(const char *s)
{
	return (struct mevi_str){s, (uint32_t)strlen(s)};
}

int stackintern_emit(struct stackintern *st, struct outbox *out, uint32_t id)
{
	struct mevi_frame frames[MEVI_STACK_MAX_FRAMES];
	struct mevi_event ev = {.type = MEVI_EV_STACK};
	const struct stack *s;

	if (id == 0 || id > st->nstacks)
		return -EINVAL;
	s = &st->stacks[id - 1];
	for (unsigned i = 0; i < s->n && i < MEVI_STACK_MAX_FRAMES; i++) {
		const struct sym *sy = s->syms[i] ? &st->syms[s->syms[i] - 1] : NULL;
		const struct module *m = s->mods[i] ? &st->mods[s->mods[i] - 1] : NULL;

		frames[i].pc = s->pcs[i];
		frames[i].func = str_of(sy ? sy->func : "");
		frames[i].module = str_of(m ? m->base : "");
		frames[i].source = sy && sy->source ? str_of(sy->source) : (struct mevi_str){0};
	}
	ev.pid = s->pid;
	ev.stack.id = id;
	ev.stack.nframes = s->n < MEVI_STACK_MAX_FRAMES ? s->n : MEVI_STACK_MAX_FRAMES;
	ev.stack.frames = frames;
	return outbox_emit(out, &ev);
}

void stackintern_emit_all(struct stackintern *st, struct outbox *out)
{
	for (uint32_t id = 1; id <= st->nstacks; id++)
		stackintern_emit(st, out, id);
}

void stackintern_counts(const struct stackintern *st, struct stackintern_counts *c)
{
	c->stacks = st->nstacks;
	c->syms = st->nsyms;
	c->modules = st->nmods;
	c->refused = st->refused;
}
