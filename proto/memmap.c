/*
 * memmap — the memory-map model of one address space (contract: memmap.h).
 *
 * Representation
 * --------------
 * The map is stored as a partition of the whole address space [0, 2^64): a
 * sorted set of boundary keys, each carrying the state of the piece that
 * starts at the key and runs up to the next key. Unmapped space is a piece of
 * the internal state STATE_HOLE. Two facts keep the edges trivial:
 *  - the first key is always 0, so every address lies in exactly one piece;
 *  - the address 2^64-1 is always in a hole (a range ends at most at 2^64-1,
 *    exclusive), so the last piece is a hole and the end of every range is
 *    simply the next key.
 * Adjacent pieces always have different states. That is the merge invariant of
 * memmap.h (holes included) and makes the representation unique. A range of
 * the API is a non-hole piece: memmap_count() is the number of non-hole keys.
 *
 * Every mutation is one primitive: replace the contents of [a, b) with a list
 * of pieces. It deletes the keys in [a, b] and inserts at most one key per new
 * piece plus one at b, keeping a key only where the state changes (it compares
 * with the state just before a and the old state at b). set and remove replace
 * [a, b) with one piece, update with the old pieces recoloured, remap removes
 * the old range and writes the shifted old pieces at the new place.
 *
 * Why a B+tree
 * ------------
 * The keys live in a B+tree: sorted arrays of up to 64 keys in the leaves
 * (doubly linked for iteration), inner nodes of up to 64 children. Compared
 * with a red-black/AVL tree or a skip list of one node per range:
 *  - memory: a range costs one key (9 bytes, two with a hole after it) in a
 *    leaf at least half full; 20 bytes per range measured on a 1M-range map,
 *    where a tree of one 48-64 byte node per range needs 2-3 times that;
 *  - speed: a lookup in a map of 1M ranges visits 4 nodes instead of ~20-25
 *    nodes scattered over the heap, each a likely cache miss. The hot path of
 *    the daemon, one page changing state, is one descent and one memmove
 *    inside one leaf (apply_local()); now and then the leaf also borrows
 *    from, merges with or splits into a sibling. tests/bench/bench_memmap.c
 *    measures ~4 M random page-state changes per second on a 1M-range map;
 *  - iteration, walk_range and the O(k) parts of an operation read keys
 *    sequentially from arrays.
 * The price is more code on the rare paths (splits, merges), which the tests
 * exercise with tiny node capacities (MEMMAP_LEAF_CAP / MEMMAP_INNER_CAP).
 *
 * Inner separators are lower bounds, not exact minima: child[i] holds keys in
 * [key[i], key[i+1]). Deleting the smallest key of a leaf leaves them valid,
 * so a leaf may start above its separator; lookups that land on a leaf with no
 * key <= x take the last key of the previous leaf.
 *
 * Complexity
 * ----------
 * A descent costs O(log n). set/remove/update/remap touching k pieces delete
 * their keys leaf by leaf (one descent and one memmove per leaf, each leaf
 * holding >= 32 keys) and insert the new keys leaf by leaf the same way, so
 * an operation costs O(log n + k + (k / 32) log n) = O(log n + k) for any n
 * that fits in memory. Splits and merges are amortised O(1) per key.
 *
 * Out of memory
 * -------------
 * A mutation either succeeds or returns -ENOMEM and leaves the map unchanged.
 * Before changing anything, it preallocates every node it may need (an upper
 * bound computed from the number of keys it will insert and the tree height,
 * see reserve()) into a small per-map pool, as Linux's maple tree does with
 * mas_preallocate(); temporary piece lists are also allocated up front. The
 * common path allocates nothing: a change inside one leaf needs at most an
 * exact handful of nodes for a split, which the pool usually holds already.
 */
#include "memmap.h"

#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Node capacities; tests override them with tiny values to exercise splits
 * and merges on small maps. Both must be even and >= 4. */
#ifndef MEMMAP_LEAF_CAP
#define MEMMAP_LEAF_CAP 64
#endif
#ifndef MEMMAP_INNER_CAP
#define MEMMAP_INNER_CAP 64
#endif
/* Spare nodes of each kind kept in a map's pool between operations. */
#ifndef MEMMAP_SPARE_KEEP
#define MEMMAP_SPARE_KEEP 2
#endif

#define LEAF_CAP  MEMMAP_LEAF_CAP
#define LEAF_MIN  (LEAF_CAP / 2)
#define INNER_CAP MEMMAP_INNER_CAP
#define INNER_MIN (INNER_CAP / 2)

_Static_assert(LEAF_CAP >= 4 && LEAF_CAP % 2 == 0, "MEMMAP_LEAF_CAP must be even and >= 4");
_Static_assert(INNER_CAP >= 4 && INNER_CAP % 2 == 0, "MEMMAP_INNER_CAP must be even and >= 4");

/* A variable, not a macro, so that a test's MEMMAP_SPARE_KEEP=0 does not trip
 * -Wtype-limits. */
static const size_t spare_keep = MEMMAP_SPARE_KEEP;

/* Inner levels above the leaves. Every inner node but the root has at least
 * two children, so 64 levels hold more keys than memory can. */
#define MAX_HEIGHT 64

/* Internal states: an unmapped piece, and "no piece" (before address 0). */
#define STATE_HOLE ((uint8_t)MEVI_STATE_COUNT)
#define STATE_NONE ((uint8_t)0xff)

struct leaf {
	unsigned n; /* keys in use */
	struct leaf *prev, *next;
	uint64_t key[LEAF_CAP];
	uint8_t state[LEAF_CAP];
};

struct inner {
	unsigned n; /* children in use */
	/* key[i] (i >= 1): keys under child[i] are >= key[i], keys under
	 * child[i-1] are < key[i]. key[0] is unused. */
	uint64_t key[INNER_CAP];
	void *child[INNER_CAP]; /* struct inner * or, on the last level, struct leaf * */
};

/* A free list of preallocated nodes, linked through their first bytes. */
struct spare {
	struct spare *next;
};

struct pool {
	struct spare *head;
	size_t n;
};

struct memmap {
	void *root;	 /* struct leaf * when height == 0, else struct inner * */
	unsigned height; /* inner levels */
	size_t nkeys;	 /* keys in the tree, holes included */
	size_t count;	 /* non-hole keys: the ranges */
	uint64_t rss, vsz;
	struct pool spare_leaves, spare_inners;
};

/* One piece of a replacement list: [start, next piece's start or the end of
 * the replaced range) in state. */
struct piece {
	uint64_t start;
	uint8_t state;
};

/* The way down to one leaf: in[l] is the inner node at level l (0 = root),
 * ci[l] the child taken there. pos is the last key <= x in leaf, or -1. Keys
 * stored in leaf are < ub when has_ub: ub is the separator right of the path,
 * ub_node->key[ub_idx]. */
struct path {
	struct inner *in[MAX_HEIGHT];
	unsigned ci[MAX_HEIGHT];
	struct leaf *leaf;
	int pos;
	bool has_ub;
	uint64_t ub;
	struct inner *ub_node;
	unsigned ub_idx;
};

/* A position in the key sequence. */
struct cursor {
	const struct leaf *leaf;
	unsigned i;
};

const char *mevi_state_name(unsigned state)
{
	static const char *const names[MEVI_STATE_COUNT] = {
	    [MEVI_STATE_NOT_RESIDENT] = "not_resident",
	    [MEVI_STATE_RESIDENT] = "resident",
	    [MEVI_STATE_UNTRACKED] = "untracked",
	    [MEVI_STATE_SWAPPED] = "swapped",
	};

	return state < MEVI_STATE_COUNT ? names[state] : "?";
}

/* ---- node pool --------------------------------------------------------- */

static void pool_push(struct pool *p, void *node)
{
	struct spare *s = node;

	s->next = p->head;
	p->head = s;
	p->n++;
}

static void *pool_pop(struct pool *p)
{
	struct spare *s = p->head;

	/* reserve() guarantees the pool covers every node an operation takes. */
	MEVI_ASSERT(s != NULL);
	p->head = s->next;
	p->n--;
	return s;
}

/* Frees pooled nodes until at most keep remain. */
static void pool_trim(struct pool *p, size_t keep)
{
	while (p->n > keep)
		free(pool_pop(p));
}

/* Tops the pool up to want nodes of size bytes. On -ENOMEM the nodes already
 * added stay in the pool (they are freed with the map). */
static int pool_fill(struct pool *p, size_t want, size_t size)
{
	while (p->n < want) {
		void *node = malloc(size);

		if (!node)
			return -ENOMEM;
		pool_push(p, node);
	}
	return 0;
}

static struct leaf *leaf_take(struct memmap *m)
{
	return pool_pop(&m->spare_leaves);
}

static struct inner *inner_take(struct memmap *m)
{
	return pool_pop(&m->spare_inners);
}

static void leaf_give(struct memmap *m, struct leaf *lf)
{
	if (m->spare_leaves.n < spare_keep)
		pool_push(&m->spare_leaves, lf);
	else
		free(lf);
}

static void inner_give(struct memmap *m, struct inner *in)
{
	if (m->spare_inners.n < spare_keep)
		pool_push(&m->spare_inners, in);
	else
		free(in);
}

/*
 * Upper bound on the nodes created on one level when `inserts` entries are
 * inserted in ascending order into one gap of that level. The gap spans at
 * most two existing nodes (everything between them was deleted first), each of
 * which may split on its first insertion; a node created by a split has at
 * least cap/2 - 1 free slots, so it takes that many insertions to split again.
 */
static size_t split_bound(size_t inserts, unsigned cap)
{
	size_t per = cap / 2 - 1;

	if (inserts == 0)
		return 0;
	return 2 + (inserts + per - 1) / per;
}

/* Adds to *leaves and *inners an upper bound on the nodes needed to insert
 * `keys` keys into one gap of a tree that holds at most `total` keys
 * afterwards. */
static void need_nodes(size_t keys, size_t total, unsigned height, size_t *leaves, size_t *inners)
{
	size_t created = split_bound(keys, LEAF_CAP);
	size_t nodes = total / LEAF_MIN;
	unsigned hmax = 0, level;

	/* The final height: leaves are at least half full, inner nodes too,
	 * the root has >= 2 children. One spare level for rounding. */
	while (nodes > 1) {
		nodes /= INNER_MIN;
		hmax++;
	}
	hmax = (hmax > height ? hmax : height) + 1;
	*leaves += created;
	for (level = 0; level < hmax && created; level++) {
		created = split_bound(created, INNER_CAP);
		*inners += created;
	}
}

/*
 * Makes sure the pool holds every node that inserting keys1 keys into one gap
 * and then keys2 keys into another may take (keys2 may be 0). Returns 0 or
 * -ENOMEM; the map's contents are untouched either way.
 */
static int reserve(struct memmap *m, size_t keys1, size_t keys2)
{
	size_t leaves = 0, inners = 0, total = m->nkeys + keys1 + keys2;
	int ret;

	need_nodes(keys1, total, m->height, &leaves, &inners);
	need_nodes(keys2, total, m->height + 1, &leaves, &inners);
	ret = pool_fill(&m->spare_leaves, leaves, sizeof(struct leaf));
	if (ret == 0)
		ret = pool_fill(&m->spare_inners, inners, sizeof(struct inner));
	return ret;
}

/* Returns what a large reservation left in the pool to the allocator. */
static void trim(struct memmap *m)
{
	pool_trim(&m->spare_leaves, spare_keep);
	pool_trim(&m->spare_inners, spare_keep);
}

/* ---- search ------------------------------------------------------------ */

/* Number of keys <= x in the sorted array k[0..n), without branches on data. */
static inline unsigned count_le(const uint64_t *k, unsigned n, uint64_t x)
{
	const uint64_t *base = k;

	if (n == 0)
		return 0;
	while (n > 1) {
		unsigned half = n / 2;

		base = base[half] <= x ? base + half : base;
		n -= half;
	}
	return (unsigned)(base - k) + (*base <= x);
}

/* Asks for the n bytes at addr to be brought into the cache. */
static inline void prefetch(const void *addr, size_t n)
{
	for (size_t off = 0; off < n; off += 64)
		__builtin_prefetch((const char *)addr + off);
}

/*
 * Fills p with the way down to the leaf where key x is or would be. Each node
 * is prefetched whole as soon as its address is known: its binary search then
 * waits for one memory access, not for four dependent ones (a third fewer
 * nanoseconds per page-state change on a 1M-range map).
 */
static void descend(const struct memmap *m, uint64_t x, struct path *p)
{
	void *node = m->root;

	p->has_ub = false;
	p->ub = 0;
	p->ub_node = NULL;
	p->ub_idx = 0;
	for (unsigned l = 0; l < m->height; l++) {
		struct inner *in = node;
		unsigned i = count_le(in->key + 1, in->n - 1, x);

		p->in[l] = in;
		p->ci[l] = i;
		if (i + 1 < in->n) {
			p->has_ub = true;
			p->ub = in->key[i + 1];
			p->ub_node = in;
			p->ub_idx = i + 1;
		}
		node = in->child[i];
		prefetch(node, l + 1 < m->height ? sizeof(struct inner) : sizeof(struct leaf));
	}
	p->leaf = node;
	p->pos = (int)count_le(p->leaf->key, p->leaf->n, x) - 1;
}

/* Moves p to the first key of the next leaf. Returns false on the last leaf.
 * p->ub is not maintained. */
static bool path_next(const struct memmap *m, struct path *p)
{
	int l = (int)m->height - 1;
	void *node;

	while (l >= 0 && p->ci[l] + 1 >= p->in[l]->n)
		l--;
	if (l < 0)
		return false;
	p->ci[l]++;
	node = p->in[l]->child[p->ci[l]];
	for (l++; l < (int)m->height; l++) {
		p->in[l] = node;
		p->ci[l] = 0;
		node = p->in[l]->child[0];
	}
	p->leaf = node;
	p->pos = -1;
	p->has_ub = false;
	return true;
}

/* The piece containing x. Needs key 0 to be present, i.e. not in the middle
 * of an apply_slow(). */
static struct cursor piece_at(const struct memmap *m, uint64_t x)
{
	struct path p;
	struct cursor c;

	descend(m, x, &p);
	c.leaf = p.leaf;
	if (p.pos >= 0) {
		c.i = (unsigned)p.pos;
	} else {
		c.leaf = p.leaf->prev;
		MEVI_ASSERT(c.leaf != NULL && c.leaf->n > 0);
		c.i = c.leaf->n - 1;
	}
	return c;
}

static inline uint64_t cur_key(struct cursor c)
{
	return c.leaf->key[c.i];
}

static inline uint8_t cur_state(struct cursor c)
{
	return c.leaf->state[c.i];
}

/* Advances c; returns false (c unchanged) at the last key. */
static bool cur_next(struct cursor *c)
{
	if (c->i + 1 < c->leaf->n) {
		c->i++;
		return true;
	}
	if (!c->leaf->next)
		return false;
	c->leaf = c->leaf->next;
	c->i = 0;
	return true;
}

/* The state of the piece before the one c is at (c is not at key 0). */
static uint8_t cur_prev_state(struct cursor c)
{
	if (c.i > 0)
		return c.leaf->state[c.i - 1];
	MEVI_ASSERT(c.leaf->prev != NULL);
	return c.leaf->prev->state[c.leaf->prev->n - 1];
}

/* ---- accounting -------------------------------------------------------- */

static inline void account_add(struct memmap *m, uint8_t state, uint64_t len)
{
	if (state == STATE_HOLE)
		return;
	m->vsz += len;
	if (state == MEVI_STATE_RESIDENT)
		m->rss += len;
}

static inline void account_sub(struct memmap *m, uint8_t state, uint64_t len)
{
	if (state == STATE_HOLE)
		return;
	MEVI_ASSERT(m->vsz >= len);
	m->vsz -= len;
	if (state == MEVI_STATE_RESIDENT) {
		MEVI_ASSERT(m->rss >= len);
		m->rss -= len;
	}
}

/* Keeps nkeys and count right when the keys k[0..n) leave or enter the tree. */
static void keys_gone(struct memmap *m, const uint8_t *state, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		m->count -= state[i] != STATE_HOLE;
	m->nkeys -= n;
}

static void keys_added(struct memmap *m, const uint8_t *state, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		m->count += state[i] != STATE_HOLE;
	m->nkeys += n;
}

/* ---- structural changes ------------------------------------------------ */

static void inner_remove_child(struct inner *in, unsigned i)
{
	memmove(&in->key[i], &in->key[i + 1], (in->n - i - 1) * sizeof(in->key[0]));
	memmove(&in->child[i], &in->child[i + 1], (in->n - i - 1) * sizeof(in->child[0]));
	in->n--;
}

static void inner_insert_child(struct inner *in, unsigned i, uint64_t key, void *child)
{
	MEVI_ASSERT(in->n < INNER_CAP && i >= 1 && i <= in->n);
	memmove(&in->key[i + 1], &in->key[i], (in->n - i) * sizeof(in->key[0]));
	memmove(&in->child[i + 1], &in->child[i], (in->n - i) * sizeof(in->child[0]));
	in->key[i] = key;
	in->child[i] = child;
	in->n++;
}

/*
 * Inserts child, whose keys are >= key, right after the node that p passes
 * through at level `level` (level == height: the leaf), splitting full
 * ancestors and growing a new root as needed. Nodes come from the pool.
 */
static void insert_child(struct memmap *m, struct path *p, unsigned level, uint64_t key,
			 void *child)
{
	struct inner *par, *right;
	unsigned pos, half;
	uint64_t up;

	if (level == 0) {
		struct inner *root = inner_take(m);

		MEVI_ASSERT(m->height + 1 < MAX_HEIGHT);
		root->n = 2;
		root->key[0] = 0;
		root->child[0] = m->root;
		root->key[1] = key;
		root->child[1] = child;
		m->root = root;
		m->height++;
		return;
	}
	par = p->in[level - 1];
	pos = p->ci[level - 1] + 1;
	if (par->n < INNER_CAP) {
		inner_insert_child(par, pos, key, child);
		return;
	}
	right = inner_take(m);
	half = INNER_CAP / 2;
	right->n = par->n - half;
	memcpy(right->key, &par->key[half], right->n * sizeof(par->key[0]));
	memcpy(right->child, &par->child[half], right->n * sizeof(par->child[0]));
	up = par->key[half];
	par->n = half;
	if (pos <= half)
		inner_insert_child(par, pos, key, child);
	else
		inner_insert_child(right, pos - half, key, child);
	insert_child(m, p, level - 1, up, right);
}

/* Splits the full leaf p leads to in two halves. p is stale afterwards. */
static void split_leaf(struct memmap *m, struct path *p)
{
	struct leaf *lf = p->leaf, *right = leaf_take(m);
	unsigned half = LEAF_CAP / 2;

	right->n = lf->n - half;
	memcpy(right->key, &lf->key[half], right->n * sizeof(lf->key[0]));
	memcpy(right->state, &lf->state[half], right->n * sizeof(lf->state[0]));
	lf->n = half;
	right->prev = lf;
	right->next = lf->next;
	if (lf->next)
		lf->next->prev = right;
	lf->next = right;
	insert_child(m, p, m->height, right->key[0], right);
}

/*
 * Restores the fill of the inner node at level `level` of p after it lost a
 * child: borrows from or merges with a sibling, recursing upwards, and drops
 * a root left with one child. p is stale afterwards.
 */
static void rebalance_inner(struct memmap *m, struct path *p, unsigned level)
{
	struct inner *node = p->in[level], *par, *left, *right;
	unsigned ci, ri, total;

	if (level == 0) {
		if (node->n == 1) {
			m->root = node->child[0];
			m->height--;
			inner_give(m, node);
		}
		return;
	}
	if (node->n >= INNER_MIN)
		return;
	par = p->in[level - 1];
	ci = p->ci[level - 1];
	ri = ci > 0 ? ci : ci + 1;
	left = par->child[ri - 1];
	right = par->child[ri];
	total = left->n + right->n;
	if (total <= INNER_CAP) {
		/* Merge right into left; the parent's separator becomes the key of
		 * right's first child. */
		left->key[left->n] = par->key[ri];
		left->child[left->n] = right->child[0];
		memcpy(&left->key[left->n + 1], &right->key[1],
		       (right->n - 1) * sizeof(right->key[0]));
		memcpy(&left->child[left->n + 1], &right->child[1],
		       (right->n - 1) * sizeof(right->child[0]));
		left->n = total;
		inner_give(m, right);
		inner_remove_child(par, ri);
		rebalance_inner(m, p, level - 1);
	} else {
		/* Even out the two siblings through the parent's separator. */
		uint64_t keys[2 * INNER_CAP];
		void *kids[2 * INNER_CAP];
		unsigned nl = total / 2;

		memcpy(keys, left->key, left->n * sizeof(keys[0]));
		memcpy(kids, left->child, left->n * sizeof(kids[0]));
		keys[left->n] = par->key[ri];
		kids[left->n] = right->child[0];
		memcpy(&keys[left->n + 1], &right->key[1], (right->n - 1) * sizeof(keys[0]));
		memcpy(&kids[left->n + 1], &right->child[1], (right->n - 1) * sizeof(kids[0]));
		memcpy(left->key, keys, nl * sizeof(keys[0]));
		memcpy(left->child, kids, nl * sizeof(kids[0]));
		left->n = nl;
		memcpy(right->key, &keys[nl], (total - nl) * sizeof(keys[0]));
		memcpy(right->child, &kids[nl], (total - nl) * sizeof(kids[0]));
		right->n = total - nl;
		par->key[ri] = keys[nl];
	}
}

/* Restores the fill of the leaf p leads to after it lost keys (it may be
 * empty). p is stale afterwards. */
static void rebalance_leaf(struct memmap *m, struct path *p)
{
	struct leaf *lf = p->leaf, *left, *right;
	struct inner *par;
	unsigned ci, ri, total;

	if (m->height == 0 || lf->n >= LEAF_MIN)
		return;
	par = p->in[m->height - 1];
	ci = p->ci[m->height - 1];
	ri = ci > 0 ? ci : ci + 1;
	left = par->child[ri - 1];
	right = par->child[ri];
	total = left->n + right->n;
	if (total <= LEAF_CAP) {
		memcpy(&left->key[left->n], right->key, right->n * sizeof(right->key[0]));
		memcpy(&left->state[left->n], right->state, right->n * sizeof(right->state[0]));
		left->n = total;
		left->next = right->next;
		if (right->next)
			right->next->prev = left;
		leaf_give(m, right);
		inner_remove_child(par, ri);
		rebalance_inner(m, p, m->height - 1);
	} else {
		unsigned nl = total / 2;

		if (left->n > nl) {
			unsigned mv = left->n - nl;

			memmove(&right->key[mv], right->key, right->n * sizeof(right->key[0]));
			memmove(&right->state[mv], right->state,
				right->n * sizeof(right->state[0]));
			memcpy(right->key, &left->key[nl], mv * sizeof(left->key[0]));
			memcpy(right->state, &left->state[nl], mv * sizeof(left->state[0]));
		} else {
			unsigned mv = nl - left->n;

			memcpy(&left->key[left->n], right->key, mv * sizeof(right->key[0]));
			memcpy(&left->state[left->n], right->state, mv * sizeof(right->state[0]));
			memmove(right->key, &right->key[mv],
				(right->n - mv) * sizeof(right->key[0]));
			memmove(right->state, &right->state[mv],
				(right->n - mv) * sizeof(right->state[0]));
		}
		left->n = nl;
		right->n = total - nl;
		par->key[ri] = right->key[0];
	}
}

/* Deletes every key in [lo, hi], leaf by leaf. Never allocates. */
static void delete_keys(struct memmap *m, uint64_t lo, uint64_t hi)
{
	struct path p;

	for (;;) {
		struct leaf *lf;
		unsigned i, j;
		bool more;

		descend(m, lo, &p);
		lf = p.leaf;
		if (p.pos < 0)
			i = 0;
		else
			i = lf->key[p.pos] == lo ? (unsigned)p.pos : (unsigned)p.pos + 1;
		if (i == lf->n) {
			if (!path_next(m, &p))
				return;
			lf = p.leaf;
			i = 0;
		}
		j = i;
		while (j < lf->n && lf->key[j] <= hi)
			j++;
		if (j == i)
			return;
		more = j == lf->n && lf->next && lf->next->key[0] <= hi;
		keys_gone(m, &lf->state[i], j - i);
		memmove(&lf->key[i], &lf->key[j], (lf->n - j) * sizeof(lf->key[0]));
		memmove(&lf->state[i], &lf->state[j], (lf->n - j) * sizeof(lf->state[0]));
		lf->n -= j - i;
		rebalance_leaf(m, &p);
		if (!more)
			return;
	}
}

/*
 * Inserts the keys of pc[0..n) (ascending, none present, all inside one gap
 * between two existing keys or the ends) leaf by leaf, splitting full leaves.
 * Nodes come from the pool.
 */
static void insert_run(struct memmap *m, const struct piece *pc, size_t n)
{
	struct path p;
	size_t i = 0;

	while (i < n) {
		struct leaf *lf;
		unsigned pos, cnt = 0;

		descend(m, pc[i].start, &p);
		lf = p.leaf;
		pos = (unsigned)(p.pos + 1);
		while (lf->n + cnt < LEAF_CAP && i + cnt < n &&
		       (!p.has_ub || pc[i + cnt].start < p.ub))
			cnt++;
		if (cnt == 0) {
			split_leaf(m, &p);
			continue;
		}
		MEVI_ASSERT(pos == lf->n || pc[i + cnt - 1].start < lf->key[pos]);
		memmove(&lf->key[pos + cnt], &lf->key[pos], (lf->n - pos) * sizeof(lf->key[0]));
		memmove(&lf->state[pos + cnt], &lf->state[pos],
			(lf->n - pos) * sizeof(lf->state[0]));
		for (unsigned j = 0; j < cnt; j++) {
			lf->key[pos + j] = pc[i + j].start;
			lf->state[pos + j] = pc[i + j].state;
		}
		lf->n += cnt;
		keys_added(m, &lf->state[pos], cnt);
		i += cnt;
	}
}

/* ---- the replace primitive --------------------------------------------- */

enum apply_mode {
	MODE_SET,    /* [a, b) becomes one piece of state s (s may be STATE_HOLE) */
	MODE_UPDATE, /* mapped pieces of [a, b) become s, holes stay */
};

/*
 * Replaces the contents of the leaf p leads to with keys[0..n), which is one
 * or two keys too many for it: the second half moves to a new leaf from the
 * pool, whose parent link may split full ancestors (also from the pool).
 */
static void leaf_refill_split(struct memmap *m, struct path *p, const uint64_t *keys,
			      const uint8_t *states, unsigned n)
{
	struct leaf *lf = p->leaf, *right = leaf_take(m);
	unsigned nl = n / 2;

	MEVI_ASSERT(n > LEAF_CAP && n <= LEAF_CAP + 2);
	memcpy(lf->key, keys, nl * sizeof(keys[0]));
	memcpy(lf->state, states, nl * sizeof(states[0]));
	lf->n = nl;
	right->n = n - nl;
	memcpy(right->key, &keys[nl], right->n * sizeof(keys[0]));
	memcpy(right->state, &states[nl], right->n * sizeof(states[0]));
	right->prev = lf;
	right->next = lf->next;
	if (lf->next)
		lf->next->prev = right;
	lf->next = right;
	insert_child(m, p, m->height, right->key[0], right);
}

/* One operation on [a, b) that apply_local() does inside one leaf. */
struct local_edit {
	struct path p;
	struct piece old[LEAF_CAP + 1]; /* the pieces meeting [a, b), starts clipped */
	unsigned nold;
	unsigned lo, hi;	   /* the leaf's keys in [a, b] are key[lo..hi) */
	uint8_t sa, sb;		   /* the states before a and of the piece containing b */
	uint64_t nk[LEAF_CAP + 2]; /* the keys replacing key[lo..hi) */
	uint8_t ns[LEAF_CAP + 2];
	unsigned nout;
	unsigned newn; /* the leaf's key count afterwards (may overflow it) */
};

/*
 * Finds the leaf of a and what [a, b) covers in it: lo, hi, old, sa and sb.
 * Returns false when keys of [a, b] lie beyond this leaf (not local).
 */
static bool local_find(struct memmap *m, uint64_t a, uint64_t b, struct local_edit *e)
{
	struct leaf *lf;
	const struct leaf *pl;
	unsigned j;

	descend(m, a, &e->p);
	lf = e->p.leaf;
	pl = lf->prev;
	e->nold = 0;
	/* The piece containing a, the state before a, the first key >= a. */
	if (e->p.pos < 0) {
		/* The leaf starts above a: the piece starts in the previous one. */
		MEVI_ASSERT(pl != NULL);
		e->sa = pl->state[pl->n - 1];
		e->old[e->nold++] = (struct piece){.start = a, .state = e->sa};
		e->lo = 0;
	} else if (lf->key[e->p.pos] < a) {
		e->sa = lf->state[e->p.pos];
		e->old[e->nold++] = (struct piece){.start = a, .state = e->sa};
		e->lo = (unsigned)e->p.pos + 1;
	} else {
		e->lo = (unsigned)e->p.pos;
		if (a == 0) {
			e->sa = STATE_NONE;
		} else if (e->lo > 0) {
			e->sa = lf->state[e->lo - 1];
		} else {
			MEVI_ASSERT(pl != NULL);
			e->sa = pl->state[pl->n - 1];
		}
	}
	e->hi = e->lo; /* the first key > b */
	while (e->hi < lf->n && lf->key[e->hi] <= b)
		e->hi++;
	if (e->hi == lf->n && lf->next && lf->next->key[0] <= b)
		return false;
	for (j = e->lo; j < e->hi && lf->key[j] < b; j++)
		e->old[e->nold++] = (struct piece){.start = lf->key[j], .state = lf->state[j]};
	/* The piece containing b. */
	e->sb = e->hi > e->lo ? lf->state[e->hi - 1] : e->old[0].state;
	return true;
}

/* The new keys of [a, b]: only where the state changes. */
static void local_new_keys(struct local_edit *e, uint64_t b, enum apply_mode mode, uint8_t s)
{
	uint8_t prev = e->sa;

	e->nout = 0;
	for (unsigned j = 0; j < e->nold; j++) {
		uint8_t st = mode == MODE_UPDATE && e->old[j].state == STATE_HOLE ? STATE_HOLE : s;

		if (st != prev) {
			e->nk[e->nout] = e->old[j].start;
			e->ns[e->nout++] = st;
			prev = st;
		}
	}
	if (prev != e->sb) {
		e->nk[e->nout] = b;
		e->ns[e->nout++] = e->sb;
	}
	/* nold <= hi - lo + 1 and nout <= nold + 1: at most two keys more. */
	e->newn = e->p.leaf->n - (e->hi - e->lo) + e->nout;
}

/*
 * Preallocates what a split of an overflowing leaf needs: one leaf and one
 * inner node per full ancestor (plus a new root). Returns 0 or -ENOMEM.
 */
static int local_reserve(struct memmap *m, const struct local_edit *e)
{
	unsigned inners = 0;
	int l;

	if (e->newn <= LEAF_CAP)
		return 0;
	for (l = (int)m->height - 1; l >= 0 && e->p.in[l]->n == INNER_CAP; l--)
		inners++;
	if (l < 0)
		inners++; /* the root splits: a new root */
	if (pool_fill(&m->spare_leaves, 1, sizeof(struct leaf)) ||
	    pool_fill(&m->spare_inners, inners, sizeof(struct inner))) {
		trim(m);
		return -ENOMEM;
	}
	return 0;
}

/* Accounts for the old and the new contents of [a, b). */
static void local_account(struct memmap *m, const struct local_edit *e, uint64_t a, uint64_t b,
			  enum apply_mode mode, uint8_t s)
{
	for (unsigned j = 0; j < e->nold; j++) {
		uint64_t len = (j + 1 < e->nold ? e->old[j + 1].start : b) - e->old[j].start;

		account_sub(m, e->old[j].state, len);
		if (mode == MODE_UPDATE)
			account_add(m, e->old[j].state == STATE_HOLE ? STATE_HOLE : s, len);
	}
	if (mode == MODE_SET)
		account_add(m, s, b - a);
}

/* Writes the new keys into the leaf, then rebalances or splits it. */
static void local_write(struct memmap *m, struct local_edit *e)
{
	struct leaf *lf = e->p.leaf;
	unsigned lo = e->lo, hi = e->hi, nout = e->nout;

	keys_gone(m, &lf->state[lo], hi - lo);
	keys_added(m, e->ns, nout);
	if (e->newn <= LEAF_CAP) {
		memmove(&lf->key[lo + nout], &lf->key[hi], (lf->n - hi) * sizeof(lf->key[0]));
		memmove(&lf->state[lo + nout], &lf->state[hi], (lf->n - hi) * sizeof(lf->state[0]));
		memcpy(&lf->key[lo], e->nk, nout * sizeof(e->nk[0]));
		memcpy(&lf->state[lo], e->ns, nout * sizeof(e->ns[0]));
		lf->n = e->newn;
		rebalance_leaf(m, &e->p);
	} else {
		uint64_t keys[LEAF_CAP + 2];
		uint8_t states[LEAF_CAP + 2];

		memcpy(keys, lf->key, lo * sizeof(keys[0]));
		memcpy(states, lf->state, lo * sizeof(states[0]));
		memcpy(&keys[lo], e->nk, nout * sizeof(keys[0]));
		memcpy(&states[lo], e->ns, nout * sizeof(states[0]));
		memcpy(&keys[lo + nout], &lf->key[hi], (lf->n - hi) * sizeof(keys[0]));
		memcpy(&states[lo + nout], &lf->state[hi], (lf->n - hi) * sizeof(states[0]));
		leaf_refill_split(m, &e->p, keys, states, e->newn);
	}
}

/*
 * The fast path, for operations whose keys all lie in one leaf (nearly every
 * page-state change): one descent, one edit of the leaf, then a merge with or
 * a borrow from a sibling if the leaf ran low (never allocates), or a split if
 * it overflowed (allocates at most one leaf and one inner node per full
 * ancestor, an exact count, usually served by the pool).
 * Returns 1 when done, 0 when the operation is not local (nothing changed:
 * use apply_slow()), or -ENOMEM (nothing changed).
 */
static int apply_local(struct memmap *m, uint64_t a, uint64_t b, enum apply_mode mode, uint8_t s)
{
	struct local_edit e;
	bool raise_ub = false;
	int ret;

	if (!local_find(m, a, b, &e))
		return 0;
	local_new_keys(&e, b, mode, s);
	if (e.nout > 0 && e.p.has_ub && e.nk[e.nout - 1] >= e.p.ub) {
		/* The separator right of this leaf is stale (the next leaf's
		 * smallest key was deleted): it can be raised to that key. */
		MEVI_ASSERT(e.p.leaf->next != NULL && e.p.leaf->next->key[0] > e.nk[e.nout - 1]);
		raise_ub = true;
	}
	ret = local_reserve(m, &e);
	if (ret)
		return ret;

	/* Committed. */
	local_account(m, &e, a, b, mode, s);
	if (raise_ub)
		e.p.ub_node->key[e.p.ub_idx] = e.p.leaf->next->key[0];
	local_write(m, &e);
	return 1;
}

/*
 * The general path: replaces the contents of [a, b) with pc[0..n) (pc[0].start
 * == a, starts ascending and < b; equal neighbours allowed). pc must have room
 * for n + 1 entries: it is rewritten in place into the keys to insert. The
 * caller has reserved nodes for as many new keys as pc has runs of equal
 * states, plus one. Cannot fail.
 */
static void apply_slow(struct memmap *m, uint64_t a, uint64_t b, struct piece *pc, size_t n)
{
	struct cursor c = piece_at(m, a);
	uint8_t sa, sb, prev;
	size_t i, nout = 0;

	if (a == 0)
		sa = STATE_NONE;
	else if (cur_key(c) < a)
		sa = cur_state(c);
	else
		sa = cur_prev_state(c);

	/* Take the old pieces of [a, b) out of rss/vsz and find the state at b. */
	for (;;) {
		uint64_t start = cur_key(c) > a ? cur_key(c) : a;
		struct cursor nx = c;
		bool more = cur_next(&nx);

		if (!more || cur_key(nx) > b) {
			account_sub(m, cur_state(c), b - start);
			sb = cur_state(c);
			break;
		}
		account_sub(m, cur_state(c), cur_key(nx) - start);
		if (cur_key(nx) == b) {
			sb = cur_state(nx);
			break;
		}
		c = nx;
	}

	for (i = 0; i < n; i++)
		account_add(m, pc[i].state, (i + 1 < n ? pc[i + 1].start : b) - pc[i].start);

	/* Keep a key only where the state changes. */
	prev = sa;
	for (i = 0; i < n; i++) {
		if (pc[i].state != prev) {
			pc[nout++] = pc[i];
			prev = pc[i].state;
		}
	}
	if (prev != sb)
		pc[nout++] = (struct piece){.start = b, .state = sb};

	delete_keys(m, a, b);
	insert_run(m, pc, nout);
}

/* Counts the pieces (holes included) overlapping [a, b). */
static size_t pieces_in(const struct memmap *m, uint64_t a, uint64_t b)
{
	struct cursor c = piece_at(m, a);
	size_t k = 1;

	while (cur_next(&c) && cur_key(c) < b)
		k++;
	return k;
}

/*
 * Writes the pieces overlapping [a, b), clipped to it, into out (room for
 * pieces_in() entries), with their starts moved to `to` + (start - a) and
 * mapped states replaced by `recolor` unless it is STATE_NONE.
 */
static void pieces_copy(const struct memmap *m, uint64_t a, uint64_t b, uint64_t to,
			uint8_t recolor, struct piece *out)
{
	struct cursor c = piece_at(m, a);
	size_t k = 0;

	do {
		uint64_t start = cur_key(c) > a ? cur_key(c) : a;
		uint8_t st = cur_state(c);

		if (recolor != STATE_NONE && st != STATE_HOLE)
			st = recolor;
		out[k++] = (struct piece){.start = to + (start - a), .state = st};
	} while (cur_next(&c) && cur_key(c) < b);
}

/* ---- public API -------------------------------------------------------- */

struct memmap *memmap_new(void)
{
	struct memmap *m = calloc(1, sizeof(*m));
	struct leaf *lf;

	if (!m)
		goto err;
	lf = malloc(sizeof(*lf));
	if (!lf)
		goto err_map;
	lf->n = 1;
	lf->prev = lf->next = NULL;
	lf->key[0] = 0;
	lf->state[0] = STATE_HOLE;
	m->root = lf;
	m->nkeys = 1;
	return m;

err_map:
	free(m);
err:
	return NULL;
}

/* Frees the subtree under node, whose leaves are `height` levels down, except
 * the leaf keep (may be NULL). */
static void subtree_free(void *node, unsigned height, struct leaf *keep)
{
	if (height > 0) {
		struct inner *in = node;

		for (unsigned i = 0; i < in->n; i++)
			subtree_free(in->child[i], height - 1, keep);
	}
	if (node != keep)
		free(node);
}

void memmap_free(struct memmap *m)
{
	if (!m)
		return;
	subtree_free(m->root, m->height, NULL);
	pool_trim(&m->spare_leaves, 0);
	pool_trim(&m->spare_inners, 0);
	free(m);
}

void memmap_clear(struct memmap *m)
{
	void *node = m->root;
	struct leaf *lf;

	/* Keep the leftmost leaf so that clearing cannot fail. */
	for (unsigned l = 0; l < m->height; l++)
		node = ((struct inner *)node)->child[0];
	lf = node;
	subtree_free(m->root, m->height, lf);
	pool_trim(&m->spare_leaves, 0);
	pool_trim(&m->spare_inners, 0);
	lf->n = 1;
	lf->prev = lf->next = NULL;
	lf->key[0] = 0;
	lf->state[0] = STATE_HOLE;
	m->root = lf;
	m->height = 0;
	m->nkeys = 1;
	m->count = 0;
	m->rss = m->vsz = 0;
}

/*
 * Copies the subtree under src (leaves `height` levels down), linking the new
 * leaves after *last. Returns the copy, or NULL on OOM with everything this
 * call allocated freed.
 */
static void *subtree_clone(const void *src, unsigned height, struct leaf **last)
{
	const struct inner *sin = src;
	struct inner *in;

	if (height == 0) {
		struct leaf *lf = malloc(sizeof(*lf));

		if (!lf)
			return NULL;
		memcpy(lf, src, sizeof(*lf));
		lf->prev = *last;
		lf->next = NULL;
		if (*last)
			(*last)->next = lf;
		*last = lf;
		return lf;
	}
	in = malloc(sizeof(*in));
	if (!in)
		return NULL;
	memcpy(in->key, sin->key, sizeof(in->key));
	for (in->n = 0; in->n < sin->n; in->n++) {
		in->child[in->n] = subtree_clone(sin->child[in->n], height - 1, last);
		if (!in->child[in->n]) {
			subtree_free(in, height, NULL);
			return NULL;
		}
	}
	return in;
}

struct memmap *memmap_clone(const struct memmap *m)
{
	struct memmap *c = calloc(1, sizeof(*c));
	struct leaf *last = NULL;

	if (!c)
		goto err;
	c->root = subtree_clone(m->root, m->height, &last);
	if (!c->root)
		goto err_map;
	c->height = m->height;
	c->nkeys = m->nkeys;
	c->count = m->count;
	c->rss = m->rss;
	c->vsz = m->vsz;
	return c;

err_map:
	free(c);
err:
	return NULL;
}

/* set and remove: [start, end) becomes one piece of state. */
static int replace(struct memmap *m, uint64_t start, uint64_t end, uint8_t state)
{
	struct piece pc[2] = {{.start = start, .state = state}};
	int ret = apply_local(m, start, end, MODE_SET, state);

	if (ret)
		return ret < 0 ? ret : 0;
	ret = reserve(m, 2, 0);
	if (ret == 0)
		apply_slow(m, start, end, pc, 1);
	trim(m);
	return ret;
}

int memmap_set(struct memmap *m, uint64_t start, uint64_t end, uint8_t state)
{
	if (start >= end || state >= MEVI_STATE_COUNT)
		return -EINVAL;
	return replace(m, start, end, state);
}

int memmap_remove(struct memmap *m, uint64_t start, uint64_t end)
{
	if (start >= end)
		return -EINVAL;
	return replace(m, start, end, STATE_HOLE);
}

int memmap_update(struct memmap *m, uint64_t start, uint64_t end, uint8_t state)
{
	struct piece *pc;
	size_t n, runs;
	int ret;

	if (start >= end || state >= MEVI_STATE_COUNT)
		return -EINVAL;
	ret = apply_local(m, start, end, MODE_UPDATE, state);
	if (ret)
		return ret < 0 ? ret : 0;
	n = pieces_in(m, start, end);
	pc = malloc((n + 1) * sizeof(*pc));
	if (!pc) {
		ret = -ENOMEM;
		goto out;
	}
	pieces_copy(m, start, end, start, state, pc);
	/* Recolouring merges pieces: reserve for the keys that will remain. */
	runs = 1;
	for (size_t i = 1; i < n; i++)
		runs += pc[i].state != pc[i - 1].state;
	ret = reserve(m, runs + 1, 0);
	if (ret)
		goto out_free;
	apply_slow(m, start, end, pc, n);

out_free:
	free(pc);
	trim(m);
out:
	return ret;
}

int memmap_remap(struct memmap *m, uint64_t old_start, uint64_t old_end, uint64_t new_start,
		 uint64_t new_end)
{
	struct piece gone[2] = {{.start = old_start, .state = STATE_HOLE}};
	uint64_t old_len, new_len, keep;
	struct piece *pc;
	size_t n;
	int ret;

	if (old_start >= old_end || new_start >= new_end)
		return -EINVAL;
	old_len = old_end - old_start;
	new_len = new_end - new_start;
	keep = old_len < new_len ? old_len : new_len;

	/* Copy what moves before anything changes: old and new may overlap. */
	n = pieces_in(m, old_start, old_start + keep);
	pc = malloc((n + 2) * sizeof(*pc));
	if (!pc) {
		ret = -ENOMEM;
		goto out;
	}
	ret = reserve(m, 2, n + 2);
	if (ret)
		goto out_free;
	pieces_copy(m, old_start, old_start + keep, new_start, STATE_NONE, pc);
	if (new_len > old_len)
		pc[n++] =
		    (struct piece){.start = new_start + old_len, .state = MEVI_STATE_NOT_RESIDENT};
	apply_slow(m, old_start, old_end, gone, 1);
	apply_slow(m, new_start, new_end, pc, n);

out_free:
	free(pc);
	trim(m);
out:
	return ret;
}

uint64_t memmap_rss(const struct memmap *m)
{
	return m->rss;
}

uint64_t memmap_vsz(const struct memmap *m)
{
	return m->vsz;
}

size_t memmap_count(const struct memmap *m)
{
	return m->count;
}

int memmap_walk(const struct memmap *m, memmap_walk_fn fn, void *ctx)
{
	/* No range reaches past 2^64 - 1, which is always unmapped. */
	return memmap_walk_range(m, 0, UINT64_MAX, fn, ctx);
}

int memmap_walk_range(const struct memmap *m, uint64_t start, uint64_t end, memmap_walk_fn fn,
		      void *ctx)
{
	struct cursor c;

	if (start >= end)
		return 0;
	c = piece_at(m, start);
	for (;;) {
		uint8_t st = cur_state(c);
		uint64_t key = cur_key(c);
		bool more;

		if (key >= end)
			return 0;
		more = cur_next(&c);
		if (st != STATE_HOLE) {
			struct memmap_range r;
			int ret;

			/* The last piece is a hole, so a range has a next key. */
			MEVI_ASSERT(more);
			r.start = key > start ? key : start;
			r.end = cur_key(c) < end ? cur_key(c) : end;
			r.state = st;
			ret = fn(&r, ctx);
			if (ret)
				return ret;
		}
		if (!more)
			return 0;
	}
}

int memmap_lookup(const struct memmap *m, uint64_t addr, struct memmap_range *out)
{
	struct cursor c = piece_at(m, addr);
	uint8_t st = cur_state(c);
	uint64_t start = cur_key(c);
	bool more;

	if (st == STATE_HOLE)
		return 0;
	/* The last piece is a hole, so a range has a next key. */
	more = cur_next(&c);
	MEVI_ASSERT(more);
	if (out) {
		out->start = start;
		out->end = cur_key(c);
		out->state = st;
	}
	return 1;
}
