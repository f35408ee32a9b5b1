/* eventlog — one session's event history: chunks of records, checkpoint blobs, the spill file. */
#include "eventlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eventrec.h"
#include "log.h"
#include "mkdirp.h"
#include "varbuf.h"

#define CHUNK_MAX_EVENTS 65535u

/* Where a blob lives: in memory (mem != NULL) or in the spill file. */
struct blob {
	unsigned char *mem;
	uint64_t off; /* in the spill file */
	uint32_t len;
};

struct chunk {
	uint64_t first_event; /* index of its first event */
	uint64_t end_ts;      /* time (running max) after its last event */
	uint32_t nevents;
	struct blob data;
};

struct ckpt {
	uint64_t events; /* events applied when it was taken */
	uint64_t ts;	 /* time of the last of them */
	uint64_t prev_ts;
	uint32_t chunk; /* the first chunk to replay after it */
	struct blob data;
};

struct eventlog {
	struct eventlog_budget *budget;
	struct chunk *chunks;
	uint32_t nchunks, cap_chunks;
	struct ckpt *ckpts;
	uint32_t nckpts, cap_ckpts;
	/* the open chunk */
	unsigned char *cur;
	size_t cur_len, cur_cap;
	uint32_t cur_events;
	struct eventrec_enc enc;
	/* totals */
	uint64_t events;
	uint64_t max_ts, prev_distinct_ts;
	size_t mem;   /* bytes charged to the budget */
	size_t total; /* bytes of chunks and checkpoints, wherever they are */
	size_t ckpt_total;
	uint64_t since_ckpt_events;
	size_t since_ckpt_bytes, last_ckpt_bytes;
	/* spill */
	int fd;
	char *path;
	uint64_t file_len;
	/* timeline markers */
	struct eventlog_marker *markers;
	uint32_t nmarkers, cap_markers;
	bool markers_truncated;
};

void eventlog_budget_init(struct eventlog_budget *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
	b->chunk_bytes = EVENTLOG_DEFAULT_CHUNK_BYTES;
	b->ckpt_events = EVENTLOG_DEFAULT_CKPT_EVENTS;
}

int eventlog_parse_size(const char *s, size_t *out)
{
	unsigned long long v, mult = 1;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = 1ull << 10;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1ull << 20;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1ull << 30;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' && mult > 1)
		end++;
	if ((*end == 'B' || *end == 'b') && end[1] == '\0')
		end++;
	if (*end || v > SIZE_MAX / mult)
		return -EINVAL;
	*out = (size_t)(v * mult);
	return 0;
}

static void charge(struct eventlog *lg, ssize_t delta)
{
	lg->mem += (size_t)delta;
	lg->budget->used += (size_t)delta;
}

struct eventlog *eventlog_new(struct eventlog_budget *budget)
{
	struct eventlog *lg = calloc(1, sizeof(*lg));

	if (!lg)
		return NULL;
	lg->budget = budget;
	lg->fd = -1;
	eventrec_enc_init(&lg->enc);
	charge(lg, (ssize_t)sizeof(*lg));
	return lg;
}

void eventlog_free(struct eventlog *lg)
{
	if (!lg)
		return;
	for (uint32_t i = 0; i < lg->nchunks; i++)
		free(lg->chunks[i].data.mem);
	for (uint32_t i = 0; i < lg->nckpts; i++)
		free(lg->ckpts[i].data.mem);
	free(lg->chunks);
	free(lg->ckpts);
	free(lg->cur);
	eventrec_enc_destroy(&lg->enc);
	free(lg->markers);
	if (lg->fd >= 0) {
		close(lg->fd);
		unlink(lg->path);
	}
	free(lg->path);
	lg->budget->used -= lg->mem;
	free(lg);
}

uint64_t eventlog_events(const struct eventlog *lg)
{
	return lg->events;
}

uint64_t eventlog_end_ts(const struct eventlog *lg)
{
	return lg->max_ts;
}

size_t eventlog_mem_bytes(const struct eventlog *lg)
{
	return lg->mem;
}

size_t eventlog_total_bytes(const struct eventlog *lg)
{
	return lg->total + lg->cur_len;
}

size_t eventlog_ckpt_bytes(const struct eventlog *lg)
{
	return lg->ckpt_total;
}

uint32_t eventlog_ckpt_count(const struct eventlog *lg)
{
	return lg->nckpts;
}

bool eventlog_spilled(const struct eventlog *lg)
{
	return lg->fd >= 0;
}

const char *eventlog_spill_path(const struct eventlog *lg)
{
	return lg->fd >= 0 ? lg->path : NULL;
}

const struct eventlog_marker *eventlog_markers(const struct eventlog *lg, uint32_t *n,
					       bool *truncated)
{
	*n = lg->nmarkers;
	*truncated = lg->markers_truncated;
	return lg->markers;
}

/* --- blobs and the spill file ----------------------------------------------- */

/* The spill directory: $XDG_STATE_HOME/mevi, else ~/.local/state/mevi,
 * created 0700; an existing one we own is made 0700. Returns 0 or -errno. */
static int spill_dir(struct eventlog_budget *b)
{
	struct stat st;
	int err;

	if (!b->spill_dir[0]) {
		const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
		int n;

		if (x && x[0] == '/')
			n = snprintf(b->spill_dir, sizeof(b->spill_dir), "%s/mevi", x);
		else if (home && home[0] == '/')
			n = snprintf(b->spill_dir, sizeof(b->spill_dir), "%s/.local/state/mevi",
				     home);
		else
			return -ENOENT;
		if (n < 0 || (size_t)n >= sizeof(b->spill_dir)) {
			b->spill_dir[0] = '\0';
			return -ENAMETOOLONG;
		}
	}
	err = mkdirp(b->spill_dir, 0700);
	if (err)
		return err;
	if (lstat(b->spill_dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -EPERM;
	if ((st.st_mode & 0777) != 0700 && chmod(b->spill_dir, 0700) < 0)
		return -errno;
	return 0;
}

static int write_at(int fd, const void *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p = (const char *)p + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Writes b's bytes at the end of the spill file and frees them. */
static int blob_spill(struct eventlog *lg, struct blob *b)
{
	int err;

	if (!b->mem)
		return 0;
	err = write_at(lg->fd, b->mem, b->len, lg->file_len);
	if (err)
		return err;
	b->off = lg->file_len;
	lg->file_len += b->len;
	free(b->mem);
	b->mem = NULL;
	charge(lg, -(ssize_t)b->len);
	return 0;
}

/* Makes a blob of p[0..len) (taken over). Spilled logs write it out. */
static int blob_make(struct eventlog *lg, struct blob *b, unsigned char *p, size_t len)
{
	b->mem = p;
	b->len = (uint32_t)len;
	b->off = 0;
	charge(lg, (ssize_t)len);
	lg->total += len;
	if (lg->fd >= 0 && blob_spill(lg, b))
		log_warn("history: cannot write to %s: keeping %zu bytes in memory", lg->path, len);
	return 0;
}

/* The bytes of b: in memory, or read into *scratch (realloc'ed, owned by
 * the caller). NULL on error with *err set. */
static const unsigned char *blob_bytes(const struct eventlog *lg, const struct blob *b,
				       unsigned char **scratch, size_t *scratch_cap, int *err)
{
	size_t got = 0;

	if (b->mem)
		return b->mem;
	if (*scratch_cap < b->len) {
		unsigned char *p = realloc(*scratch, b->len);

		if (!p) {
			*err = -ENOMEM;
			return NULL;
		}
		*scratch = p;
		*scratch_cap = b->len;
	}
	while (got < b->len) {
		ssize_t n = pread(lg->fd, *scratch + got, b->len - got, (off_t)(b->off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err = n < 0 ? -errno : -EIO;
			return NULL;
		}
		got += (size_t)n;
	}
	return *scratch;
}

int eventlog_spill(struct eventlog *lg)
{
	struct eventlog_budget *b = lg->budget;
	char path[320];
	int err, fd;

	if (lg->fd < 0) {
		err = spill_dir(b);
		if (err)
			return err;
		snprintf(path, sizeof(path), "%s/history-%d-%" PRIu64 ".tmp", b->spill_dir,
			 (int)getpid(), ++b->spill_seq);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		lg->path = strdup(path);
		if (!lg->path) {
			close(fd);
			unlink(path);
			return -ENOMEM;
		}
		lg->fd = fd;
		b->spills++;
	}
	for (uint32_t i = 0; i < lg->nchunks; i++)
		if ((err = blob_spill(lg, &lg->chunks[i].data)))
			return err;
	for (uint32_t i = 0; i < lg->nckpts; i++)
		if ((err = blob_spill(lg, &lg->ckpts[i].data)))
			return err;
	return 0;
}

/* --- appending -------------------------------------------------------------- */

static int grow(void **arr, uint32_t *cap, uint32_t n, size_t size, struct eventlog *lg)
{
	uint32_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*arr, (size_t)ncap * size);
	if (!p)
		return -ENOMEM;
	charge(lg, (ssize_t)((size_t)(ncap - *cap) * size));
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Closes the open chunk (if it has events). */
static int chunk_close(struct eventlog *lg)
{
	struct chunk *c;
	unsigned char *p;

	if (!lg->cur_events)
		return 0;
	if (grow((void **)&lg->chunks, &lg->cap_chunks, lg->nchunks, sizeof(*lg->chunks), lg))
		return -ENOMEM;
	/* Shrink the buffer to its contents: the open chunk's slack is not kept. */
	p = realloc(lg->cur, lg->cur_len);
	if (!p)
		p = lg->cur;
	charge(lg, -(ssize_t)lg->cur_cap);
	c = &lg->chunks[lg->nchunks++];
	c->first_event = lg->events - lg->cur_events;
	c->end_ts = lg->max_ts;
	c->nevents = lg->cur_events;
	blob_make(lg, &c->data, p, lg->cur_len);
	lg->since_ckpt_bytes += lg->cur_len;
	lg->cur = NULL;
	lg->cur_len = lg->cur_cap = 0;
	lg->cur_events = 0;
	eventrec_enc_reset(&lg->enc);
	return 0;
}

static void add_marker(struct eventlog *lg, const struct mevi_event *ev)
{
	if (ev->type != MEVI_EV_PROC_START && ev->type != MEVI_EV_PROC_EXEC &&
	    ev->type != MEVI_EV_PROC_EXIT)
		return;
	if (lg->nmarkers >= EVENTLOG_MAX_MARKERS) {
		lg->markers_truncated = true;
		return;
	}
	if (grow((void **)&lg->markers, &lg->cap_markers, lg->nmarkers, sizeof(*lg->markers), lg)) {
		lg->markers_truncated = true;
		return;
	}
	lg->markers[lg->nmarkers++] =
	    (struct eventlog_marker){.ts = lg->max_ts, .pid = ev->pid, .type = ev->type};
}

int eventlog_append(struct eventlog *lg, const struct mevi_event *ev)
{
	struct wbuf w = {.p = lg->cur, .len = lg->cur_len, .cap = lg->cur_cap};
	size_t old_cap = lg->cur_cap, old_dict = eventrec_enc_mem(&lg->enc);
	int ret = 0;

	eventrec_encode(&lg->enc, &w, ev);
	lg->cur = w.p;
	lg->cur_cap = w.cap;
	charge(lg, (ssize_t)(w.cap - old_cap));
	charge(lg, (ssize_t)(eventrec_enc_mem(&lg->enc) - old_dict));
	if (w.failed)
		return -ENOMEM;
	lg->cur_len = w.len;
	lg->cur_events++;
	lg->events++;
	if (lg->events == 1 || ev->ts > lg->max_ts) {
		if (lg->events > 1)
			lg->prev_distinct_ts = lg->max_ts;
		else
			lg->prev_distinct_ts = ev->ts;
		lg->max_ts = ev->ts;
	}
	lg->since_ckpt_events++;
	add_marker(lg, ev);
	if (lg->cur_len >= lg->budget->chunk_bytes || lg->cur_events >= CHUNK_MAX_EVENTS) {
		if (chunk_close(lg))
			return -ENOMEM;
		ret = EVENTLOG_CHUNK_CLOSED;
		if (lg->since_ckpt_events >= lg->budget->ckpt_events &&
		    lg->since_ckpt_bytes >= lg->last_ckpt_bytes)
			ret |= EVENTLOG_CKPT_DUE;
	}
	return ret;
}

int eventlog_add_checkpoint(struct eventlog *lg, unsigned char *p, size_t len)
{
	struct ckpt *c;

	MEVI_ASSERT(lg->cur_events == 0); /* at a chunk boundary */
	if (grow((void **)&lg->ckpts, &lg->cap_ckpts, lg->nckpts, sizeof(*lg->ckpts), lg)) {
		free(p);
		return -ENOMEM;
	}
	c = &lg->ckpts[lg->nckpts++];
	c->events = lg->events;
	c->ts = lg->max_ts;
	c->prev_ts = lg->prev_distinct_ts;
	c->chunk = lg->nchunks;
	blob_make(lg, &c->data, p, len);
	lg->ckpt_total += len;
	lg->last_ckpt_bytes = len;
	lg->since_ckpt_events = 0;
	lg->since_ckpt_bytes = 0;
	return 0;
}

/* --- reading ---------------------------------------------------------------- */

int eventlog_walk_from(const struct eventlog *lg, uint32_t first, eventlog_event_fn fn, void *ctx)
{
	unsigned char *scratch = NULL;
	size_t scratch_cap = 0;
	struct eventrec_dec dec = {0};
	int ret = 0;

	for (uint32_t i = first; i <= lg->nchunks && !ret; i++) {
		const unsigned char *p;
		uint32_t n;

		if (i < lg->nchunks) {
			p = blob_bytes(lg, &lg->chunks[i].data, &scratch, &scratch_cap, &ret);
			if (!p)
				break;
			eventrec_dec_reset(&dec, p, lg->chunks[i].data.len);
			n = lg->chunks[i].nevents;
		} else {
			eventrec_dec_reset(&dec, lg->cur, lg->cur_len);
			n = lg->cur_events;
		}
		for (uint32_t k = 0; k < n && !ret; k++) {
			struct mevi_event ev;

			ret = eventrec_decode(&dec, &ev);
			if (!ret)
				ret = fn(ctx, &ev);
		}
	}
	free(scratch);
	eventrec_dec_destroy(&dec);
	return ret;
}

struct user_walk {
	uint64_t left;
	eventlog_event_fn fn;
	void *ctx;
	int ret;
};

static int user_walk_cb(void *arg, const struct mevi_event *ev)
{
	struct user_walk *u = arg;

	if (!u->left)
		return 1;
	u->left--;
	u->ret = u->fn(u->ctx, ev);
	return u->ret ? 1 : 0;
}

int eventlog_walk(const struct eventlog *lg, uint64_t max_events, eventlog_event_fn fn, void *ctx)
{
	struct user_walk u = {.left = max_events, .fn = fn, .ctx = ctx};
	int ret = eventlog_walk_from(lg, 0, user_walk_cb, &u);

	if (u.ret)
		return u.ret;
	return ret < 0 ? ret : 0;
}

int eventlog_checkpoint_at(const struct eventlog *lg, uint64_t at, struct eventlog_ckpt_view *v)
{
	const struct ckpt *k;
	uint32_t lo = 0, hi = lg->nckpts;
	int err = 0;

	memset(&v->info, 0, sizeof(v->info));
	v->p = NULL;
	v->len = 0;
	/* The last checkpoint whose time is <= at (times are non-decreasing). */
	if (!lg->nckpts || lg->ckpts[0].ts > at)
		return 0;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (lg->ckpts[mid].ts <= at)
			lo = mid;
		else
			hi = mid;
	}
	k = &lg->ckpts[lo];
	v->p = blob_bytes(lg, &k->data, &v->scratch, &v->scratch_cap, &err);
	if (!v->p)
		return err;
	v->len = k->data.len;
	v->info = (struct eventlog_ckpt_info){
	    .events = k->events, .ts = k->ts, .prev_ts = k->prev_ts, .chunk = k->chunk};
	return 1;
}

void eventlog_ckpt_view_free(struct eventlog_ckpt_view *v)
{
	free(v->scratch);
	v->scratch = NULL;
	v->scratch_cap = 0;
}
