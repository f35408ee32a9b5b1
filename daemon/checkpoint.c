/* checkpoint — a session's whole state in its event log, and the state at any time T rebuilt from it. */
#include "checkpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"
#include "ingest.h"
#include "memmap.h"
#include "session.h"
#include "tagmap.h"
#include "varbuf.h"

struct ranges_ctx {
	struct wbuf *w;
	uint64_t page;
};

/* A checkpoint range: its start as pages after the previous range's end
 * (*page), its length in pages. The value follows. */
static void wb_range(struct wbuf *w, uint64_t *page, uint64_t start, uint64_t end)
{
	uint64_t s = start / MEVI_PAGE_SIZE, e = end / MEVI_PAGE_SIZE;

	wb_uv(w, s - *page);
	wb_uv(w, e - s);
	*page = e;
}

static int ckpt_range_cb(const struct memmap_range *r, void *arg)
{
	struct ranges_ctx *c = arg;

	wb_range(c->w, &c->page, r->start, r->end);
	wb_byte(c->w, r->state);
	return c->w->failed;
}

struct tags_ctx {
	struct wbuf *w;
	uint64_t page;
};

static int ckpt_tag_cb(const struct tagmap_range *r, void *arg)
{
	struct tags_ctx *c = arg;

	wb_range(c->w, &c->page, r->start, r->end);
	wb_uv(c->w, r->value);
	return c->w->failed;
}

static void ckpt_write_tags(struct wbuf *w, const struct tagmap *m)
{
	struct tags_ctx c = {.w = w};

	wb_uv(w, tagmap_count(m));
	tagmap_walk(m, ckpt_tag_cb, &c);
}

/* Reads what ckpt_write_tags wrote into m (empty). Returns 0, -ENOMEM or
 * -EBADMSG. */
static int ckpt_read_tags(struct rbuf *r, struct tagmap *m)
{
	uint64_t n = rb_uv(r), page = 0;
	int err = 0;

	for (uint64_t j = 0; j < n && !r->bad && !err; j++) {
		uint64_t start = page + rb_uv(r), end = start + rb_uv(r), value = rb_uv(r);

		page = end;
		if (!r->bad && value <= UINT32_MAX)
			err = tagmap_set(m, start * MEVI_PAGE_SIZE, end * MEVI_PAGE_SIZE,
					 (uint32_t)value);
		else
			r->bad = true;
	}
	if (err == -ENOMEM || r->nomem)
		return -ENOMEM;
	return err || r->bad ? -EBADMSG : 0;
}

/* The session-wide tables: sample_ms, the engine and its counters, vma names
 * (in id order, so that interning them again gives the same ids) and stacks
 * (in table order). */
static void ckpt_write_tables(struct wbuf *w, const struct session *s)
{
	wb_uv(w, s->sample_ms);
	wb_str(w, (struct mevi_str){s->engine, (uint32_t)strlen(s->engine)});
	wb_uv(w, s->engine_corrections);
	wb_uv(w, s->engine_drops);
	wb_uv(w, s->names.count);
	for (uint32_t i = 0; i < s->names.count; i++) {
		wb_byte(w, s->names.names[i].kind);
		wb_str(w, s->names.names[i].name);
	}
	wb_uv(w, s->stacks.count);
	for (uint32_t i = 0; i < s->stacks.count; i++) {
		const struct stack *st = s->stacks.stacks[i];

		wb_uv(w, st->id);
		wb_uv(w, st->nframes);
		for (uint32_t k = 0; k < st->nframes; k++) {
			wb_uv(w, st->frames[k].pc);
			wb_str(w, st->frames[k].func);
			wb_str(w, st->frames[k].module);
			wb_byte(w, st->frames[k].source.ptr != NULL);
			wb_str(w, st->frames[k].source);
		}
	}
}

/* Reads what ckpt_write_tables wrote into s; frames is scratch for
 * MEVI_STACK_MAX_FRAMES frames. Returns 0, -ENOMEM or -EBADMSG. */
static int ckpt_read_tables(struct rbuf *r, struct session *s, struct mevi_frame *frames)
{
	struct mevi_str engine;
	uint64_t n;

	s->sample_ms = (uint32_t)rb_uv(r);
	engine = rb_str(r);
	s->engine_corrections = rb_uv(r);
	s->engine_drops = rb_uv(r);
	if (r->bad || engine.len > MEVI_ENGINE_NAME_MAX)
		return r->nomem ? -ENOMEM : -EBADMSG;
	memcpy(s->engine, engine.ptr, engine.len);
	s->engine[engine.len] = '\0';
	n = rb_uv(r);
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		uint8_t kind = rb_byte(r);
		struct mevi_str name = rb_str(r);
		uint32_t id;
		int err;

		if (r->bad || kind >= MEVI_KIND_COUNT || !name.len)
			return r->nomem ? -ENOMEM : -EBADMSG;
		err = vmanames_intern(&s->names, kind, name, &id);
		if (err < 0)
			return err;
		if (err || id != MEVI_KIND_COUNT + i)
			return -EBADMSG;
	}
	n = rb_uv(r);
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		uint32_t id = (uint32_t)rb_uv(r);
		uint64_t nframes = rb_uv(r);
		int err;

		if (r->bad || nframes > MEVI_STACK_MAX_FRAMES)
			return -EBADMSG;
		for (uint64_t k = 0; k < nframes; k++) {
			struct mevi_frame *f = &frames[k];
			bool has_source;

			f->pc = rb_uv(r);
			f->func = rb_str(r);
			f->module = rb_str(r);
			has_source = rb_byte(r);
			f->source = rb_str(r);
			if (!has_source)
				f->source.ptr = NULL;
		}
		if (r->bad)
			return -EBADMSG;
		err = stacktab_put(&s->stacks, id, frames, (uint32_t)nframes);
		if (err)
			return err < 0 ? err : -EBADMSG;
	}
	return r->bad ? -EBADMSG : 0;
}

/* Serialises s's state. */
static void ckpt_write(struct wbuf *w, const struct session *s)
{
	wb_uv(w, (uint32_t)s->launcher_pid);
	wb_uv(w, s->started_at);
	wb_byte(w, s->mode);
	wb_byte(w, (unsigned char)(s->alive | s->has_exit_status << 1 | s->ended << 2));
	wb_sv(w, s->exit_status);
	wb_uv(w, s->last_ts);
	wb_strv(w, &s->argv);
	ckpt_write_tables(w, s);
	wb_uv(w, s->nprocs);
	for (const struct process *p = s->procs_head; p; p = p->next) {
		struct ranges_ctx c = {.w = w};

		wb_uv(w, (uint32_t)p->pid);
		wb_uv(w, (uint32_t)p->ppid);
		wb_byte(w, (unsigned char)(p->alive | p->has_exit_status << 1));
		wb_sv(w, p->exit_status);
		wb_strv(w, &p->cmdline);
		wb_uv(w, memmap_count(p->map));
		memmap_walk(p->map, ckpt_range_cb, &c);
		ckpt_write_tags(w, p->vmas);
		ckpt_write_tags(w, p->origins);
		ckpt_write_tags(w, p->touches);
		ckpt_write_tags(w, p->written);
		wb_uv(w, p->threads.n);
		for (uint32_t i = 0; i < p->threads.n; i++) {
			wb_uv(w, (uint32_t)p->threads.t[i].tid);
			wb_str(w, p->threads.t[i].name);
		}
	}
}

static int ckpt_read(struct rbuf *r, uint64_t id, struct session_registry *tmp,
		     struct session **out)
{
	struct mevi_strv argv, cmdline;
	int32_t launcher_pid = (int32_t)rb_uv(r);
	uint64_t started_at = rb_uv(r), nprocs;
	uint8_t mode = rb_byte(r), flags = rb_byte(r);
	int32_t status = (int32_t)rb_sv(r);
	uint64_t last_ts = rb_uv(r);
	struct mevi_frame *frames;
	struct session *s;
	int err;

	rb_strv(r, &argv);
	if (r->bad)
		return r->nomem ? -ENOMEM : -EBADMSG;
	s = session_registry_restore(tmp, id, launcher_pid, started_at, mode, &argv);
	if (!s)
		return -ENOMEM;
	*out = s;
	s->alive = flags & 1;
	s->has_exit_status = (flags >> 1) & 1;
	s->ended = (flags >> 2) & 1;
	s->exit_status = status;
	s->last_ts = last_ts;
	frames = malloc(MEVI_STACK_MAX_FRAMES * sizeof(*frames));
	if (!frames)
		return -ENOMEM;
	err = ckpt_read_tables(r, s, frames);
	free(frames);
	if (err)
		return err;
	nprocs = rb_uv(r);
	for (uint64_t i = 0; i < nprocs && !r->bad; i++) {
		int32_t pid = (int32_t)rb_uv(r), ppid = (int32_t)rb_uv(r);
		uint8_t pflags = rb_byte(r);
		int32_t pstatus = (int32_t)rb_sv(r);
		uint64_t nranges, nthreads, page = 0;
		struct process *p;
		struct memmap *m;

		err = 0;

		rb_strv(r, &cmdline);
		nranges = rb_uv(r);
		if (r->bad)
			break;
		m = memmap_new();
		if (!m)
			return -ENOMEM;
		for (uint64_t j = 0; j < nranges && !r->bad && !err; j++) {
			uint64_t start = page + rb_uv(r), end = start + rb_uv(r);
			uint8_t state = rb_byte(r);

			page = end;
			if (!r->bad)
				err = memmap_set(m, start * MEVI_PAGE_SIZE, end * MEVI_PAGE_SIZE,
						 state);
		}
		if (err || r->bad) {
			memmap_free(m);
			return err == -ENOMEM ? -ENOMEM : -EBADMSG;
		}
		err = session_restore_process(s, pid, ppid, &cmdline, pflags & 1, (pflags >> 1) & 1,
					      pstatus, m, &p);
		if (err)
			return err;
		if ((err = ckpt_read_tags(r, p->vmas)) || (err = ckpt_read_tags(r, p->origins)) ||
		    (err = ckpt_read_tags(r, p->touches)) || (err = ckpt_read_tags(r, p->written)))
			return err;
		nthreads = rb_uv(r);
		for (uint64_t k = 0; k < nthreads && !r->bad; k++) {
			int32_t tid = (int32_t)rb_uv(r);
			struct mevi_str name = rb_str(r);

			if (r->bad)
				break;
			err = threadtab_set(&p->threads, tid, name);
			if (err)
				return err < 0 ? err : -EBADMSG;
		}
	}
	if (r->bad)
		return r->nomem ? -ENOMEM : -EBADMSG;
	return 0;
}

int checkpoint_take(struct eventlog *lg, const struct session *s)
{
	struct wbuf w = {0};

	ckpt_write(&w, s);
	if (w.failed) {
		free(w.p);
		return -ENOMEM;
	}
	return eventlog_add_checkpoint(lg, w.p, w.len);
}

void checkpoint_keep_history(struct session_registry *reg, struct eventlog_budget *budget)
{
	reg->budget = budget;
	reg->checkpoint = budget ? checkpoint_take : NULL;
}

/* --- replay ----------------------------------------------------------------- */

struct replay_ctx {
	struct ingest in;
	uint64_t at;
	uint64_t max_ts;
	struct eventlog_pos *pos;
	bool started;
};

/* One event of the log: applied while its time is <= at (eventlog_event_fn;
 * 1 stops the walk there). */
static int replay_cb(void *arg, const struct mevi_event *ev)
{
	struct replay_ctx *c = arg;
	uint64_t t = ev->ts > c->max_ts ? ev->ts : c->max_ts;
	int err;

	if (c->started && t > c->at) {
		c->pos->next_ts = t;
		return 1;
	}
	if (!c->started || t > c->max_ts)
		c->pos->prev_ts = c->started ? c->max_ts : t;
	c->max_ts = t;
	c->started = true;
	err = ingest_event(&c->in, ev);
	if (err < 0)
		return err;
	c->pos->applied++;
	c->pos->replayed++;
	c->pos->ts = c->max_ts;
	return 0;
}

/* Restores the checkpoint v into c's registry. Returns 0 or -errno. */
static int replay_restore(struct replay_ctx *c, const struct eventlog_ckpt_view *v, uint64_t id)
{
	struct rbuf r = {.p = v->p, .len = v->len};
	struct session *s = NULL;
	int ret = ckpt_read(&r, id, c->in.reg, &s);

	rb_free(&r);
	if (ret)
		return ret;
	ingest_continue(&c->in, s);
	c->started = true;
	c->max_ts = v->info.ts;
	c->pos->applied = v->info.events;
	c->pos->ts = v->info.ts;
	c->pos->prev_ts = v->info.prev_ts;
	return 0;
}

int checkpoint_replay(const struct eventlog *lg, uint64_t id, uint64_t at,
		      struct session_registry *tmp, struct session **out, struct eventlog_pos *pos)
{
	struct replay_ctx c = {.at = at, .pos = pos};
	struct eventlog_ckpt_view v = {0};
	uint32_t first_chunk = 0;
	int ret;

	memset(pos, 0, sizeof(*pos));
	*out = NULL;
	ingest_start(&c.in, tmp, INGEST_REPLAY);
	c.in.replay_id = id;
	pos->events = eventlog_events(lg);
	pos->end_ts = eventlog_end_ts(lg);
	ret = eventlog_checkpoint_at(lg, at, &v);
	if (ret > 0) {
		ret = replay_restore(&c, &v, id);
		first_chunk = v.info.chunk;
	}
	eventlog_ckpt_view_free(&v);
	if (ret < 0)
		return ret;
	pos->next_ts = c.max_ts;
	ret = eventlog_walk_from(lg, first_chunk, replay_cb, &c);
	if (ret < 0)
		return ret;
	if (pos->applied == pos->events)
		pos->next_ts = pos->ts;
	if (!c.in.session)
		return -EBADMSG;
	*out = c.in.session;
	return 0;
}

int checkpoint_state_at(const struct session *s, uint64_t at, struct session_registry *tmp,
			struct session **out, struct eventlog_pos *pos)
{
	int ret;

	session_registry_init(tmp, UINT32_MAX, NULL, NULL);
	tmp->quiet = true;
	*out = NULL;
	memset(pos, 0, sizeof(*pos));
	if (!s->log)
		return -ENOENT;
	ret = checkpoint_replay(s->log, s->id, at, tmp, out, pos);
	if (ret)
		return ret;
	(*out)->recorded = s->recorded;
	if (pos->applied == pos->events) {
		(*out)->alive = s->alive;
		(*out)->has_exit_status = s->has_exit_status;
		(*out)->exit_status = s->exit_status;
	}
	return 0;
}
