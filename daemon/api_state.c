/*
 * api_state — the JSON of /api/state, /api/health and a session's timeline,
 * built with json-c from the session registry (shapes: api_state.h).
 */
#include "api_state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "ending.h"
#include "eventlog.h"
#include "heatmap.h"
#include "memmap.h"
#include "session.h"
#include "tagmap.h"
#include "version.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	/* The second byte's range excludes overlongs, surrogates and > U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

size_t api_utf8_sanitize(const char *in, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0;

	while (i < len) {
		size_t n = utf8_seq_len(s + i, len - i);

		if (n) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	return o;
}

static struct json_object *json_bytes(const struct mevi_str *str)
{
	struct json_object *j;
	char *buf;
	size_t n;

	if (str->len == 0)
		return json_object_new_string("");
	buf = malloc((size_t)str->len * 3);
	if (!buf)
		return NULL;
	n = api_utf8_sanitize(str->ptr, str->len, buf);
	j = json_object_new_string_len(buf, (int)n);
	free(buf);
	return j;
}

static struct json_object *json_strv(const struct mevi_strv *v)
{
	struct json_object *a = json_object_new_array_ext((int)v->count);

	if (!a)
		return NULL;
	for (uint32_t i = 0; i < v->count; i++) {
		struct json_object *s = json_bytes(&v->items[i]);

		if (!s || json_object_array_add(a, s)) {
			json_object_put(s);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

struct ranges_ctx {
	struct printbuf *pb;
	bool first;
	int err;
};

static int ranges_walk_cb(const struct memmap_range *r, void *arg)
{
	struct ranges_ctx *ctx = arg;
	char buf[96];
	const char *name = mevi_state_name(r->state);
	int n = snprintf(buf, sizeof(buf), "%s[%" PRIu64 ",%" PRIu64 ",\"%s\"]",
			 ctx->first ? "" : ",", r->start, r->end, name ? name : "untracked");

	ctx->first = false;
	if (printbuf_memappend(ctx->pb, buf, n) < 0) {
		ctx->err = -1;
		return 1;
	}
	return 0;
}

/* json-c serializer of a "ranges" placeholder: walks the memmap directly so
 * that a map of a million ranges does not become millions of json objects. */
static int ranges_serialize(struct json_object *jso, struct printbuf *pb, int level, int flags)
{
	const struct memmap *m = json_object_get_userdata(jso);
	struct ranges_ctx ctx = {.pb = pb, .first = true};

	if (printbuf_memappend(pb, "[", 1) < 0)
		return -1;
	memmap_walk(m, ranges_walk_cb, &ctx);
	if (ctx.err || printbuf_memappend(pb, "]", 1) < 0)
		return -1;
	return 0;
}

/* An array whose text serialize writes from data when the document is
 * printed (ranges and tags are not copied into json-c objects). */
static struct json_object *json_deferred(json_object_to_json_string_fn *serialize, const void *data)
{
	struct json_object *j = json_object_new_array();

	if (!j)
		return NULL;
	json_object_set_serializer(j, serialize, (void *)data, NULL);
	return j;
}

static int add(struct json_object *obj, const char *key, struct json_object *val, bool is_null);

struct tags_json_ctx {
	struct printbuf *pb;
	bool first;
};

static int tags_walk_cb(const struct tagmap_range *r, void *arg)
{
	struct tags_json_ctx *ctx = arg;
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu32 "]",
			 ctx->first ? "" : ",", r->start, r->end, r->value);

	ctx->first = false;
	return printbuf_memappend(ctx->pb, buf, n) < 0;
}

/* json-c serializer of an "origins" / "touches" placeholder: [[start, end,
 * value], ...] straight from the tagmap, like "ranges". */
static int tags_serialize(struct json_object *jso, struct printbuf *pb, int level, int flags)
{
	const struct tagmap *m = json_object_get_userdata(jso);
	struct tags_json_ctx ctx = {.pb = pb, .first = true};

	(void)level;
	(void)flags;
	if (printbuf_memappend(pb, "[", 1) < 0 || tagmap_walk(m, tags_walk_cb, &ctx) ||
	    printbuf_memappend(pb, "]", 1) < 0)
		return -1;
	return 0;
}

/* Appends val to arr, taking it. Returns 0 or -1 (val released). */
static int push(struct json_object *arr, struct json_object *val)
{
	if (!val || json_object_array_add(arr, val)) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

struct mappings_ctx {
	struct json_object *arr;
	const struct vmanames *names;
};

static int mappings_cb(const struct tagmap_range *r, void *arg)
{
	struct mappings_ctx *c = arg;
	struct json_object *e = json_object_new_array_ext(4);
	struct mevi_str name = {"", 0};
	uint8_t kind = MEVI_KIND_ANON;

	vmanames_get(c->names, r->value, &kind, &name);
	if (!e || json_object_array_add(c->arr, e)) {
		json_object_put(e);
		return -1;
	}
	return push(e, json_object_new_uint64(r->start)) ||
	       push(e, json_object_new_uint64(r->end)) ||
	       push(e, json_object_new_string(mevi_kind_name(kind))) || push(e, json_bytes(&name));
}

/* "mappings": [[start, end, "kind", "name"], ...], the vma map. */
static struct json_object *json_mappings(const struct session *s, const struct process *p)
{
	struct mappings_ctx c = {json_object_new_array_ext((int)tagmap_count(p->vmas)), &s->names};

	if (!c.arr)
		return NULL;
	if (tagmap_walk(p->vmas, mappings_cb, &c)) {
		json_object_put(c.arr);
		return NULL;
	}
	return c.arr;
}

/* "rss_by_kind": resident bytes per kind of the vma map; resident memory no
 * vma annotation covers counts as anon, so the values add up to rss. */
static struct json_object *json_rss_by_kind(const struct session *s, const struct process *p)
{
	uint64_t bytes[MEVI_KIND_COUNT];
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	process_rss_by_kind(s, p, bytes);
	for (unsigned k = 0; k < MEVI_KIND_COUNT; k++) {
		if (add(o, mevi_kind_name(k), json_object_new_uint64(bytes[k]), false)) {
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}

struct ids_ctx {
	uint32_t *ids;
	size_t n, cap;
};

static int ids_cb(const struct tagmap_range *r, void *arg)
{
	struct ids_ctx *c = arg;

	if (c->n && c->ids[c->n - 1] == r->value)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		uint32_t *ids = realloc(c->ids, cap * sizeof(*ids));

		if (!ids)
			return -1;
		c->ids = ids;
		c->cap = cap;
	}
	c->ids[c->n++] = r->value;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static struct json_object *json_frames(const struct stack *st)
{
	struct json_object *a = json_object_new_array_ext((int)st->nframes);

	if (!a)
		return NULL;
	for (uint32_t i = 0; i < st->nframes; i++) {
		const struct mevi_frame *f = &st->frames[i];
		struct json_object *o = json_object_new_object();

		if (push(a, o) || add(o, "pc", json_object_new_uint64(f->pc), false) ||
		    add(o, "func", json_bytes(&f->func), false) ||
		    add(o, "module", json_bytes(&f->module), false) ||
		    add(o, "source", f->source.ptr ? json_bytes(&f->source) : NULL,
			!f->source.ptr)) {
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

/* "stacks": {"<stack_id>": [frame, ...]} for the stacks p's origins name
 * and the session knows, by ascending id. */
static struct json_object *json_stacks(const struct session *s, const struct process *p)
{
	struct json_object *o = json_object_new_object();
	struct ids_ctx c = {0};

	if (!o || tagmap_walk(p->origins, ids_cb, &c))
		goto err_put;
	if (c.n)
		qsort(c.ids, c.n, sizeof(*c.ids), cmp_u32);
	for (size_t i = 0; i < c.n; i++) {
		const struct stack *st;
		char key[16];

		if (i && c.ids[i] == c.ids[i - 1])
			continue;
		st = stacktab_get(&s->stacks, c.ids[i]);
		if (!st)
			continue;
		snprintf(key, sizeof(key), "%" PRIu32, c.ids[i]);
		if (add(o, key, json_frames(st), false))
			goto err_put;
	}
	free(c.ids);
	return o;

err_put:
	free(c.ids);
	json_object_put(o);
	return NULL;
}

/* "threads": {"<tid>": "name"}. */
static struct json_object *json_threads(const struct process *p)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	for (uint32_t i = 0; i < p->threads.n; i++) {
		char key[16];

		snprintf(key, sizeof(key), "%d", (int)p->threads.t[i].tid);
		if (add(o, key, json_bytes(&p->threads.t[i].name), false)) {
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}

static struct json_object *json_exit_status(bool has, int32_t status)
{
	return has ? json_object_new_int(status) : NULL;
}

/* Adds key: val to obj, taking val. Returns 0 or -1 (val released). A NULL
 * val is JSON null, unless it stands for a failed allocation (is_null false). */
static int add(struct json_object *obj, const char *key, struct json_object *val, bool is_null)
{
	if (!val && !is_null)
		return -1;
	if (json_object_object_add(obj, key, val)) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

/* add() of a child held in *child, which the parent owns (or which is freed)
 * either way: *child is NULL after. */
static int adopt(struct json_object *obj, const char *key, struct json_object **child)
{
	int err = add(obj, key, *child, false);

	*child = NULL;
	return err;
}

/*
 * "end": null while going, else {"how": name} plus what the way says:
 * "status" (exited; killed: the wire's 128+N), "signal" (killed), "running"
 * (a process that ended without an exit: does the kernel still run it? null
 * when not known), "offset" (recording_cut: where the loaded file stops).
 */
static struct json_object *json_end(uint8_t how, bool has_status, int32_t status,
				    const struct process *p, const struct session *s)
{
	struct json_object *o;

	if (how == ENDING_NONE)
		return NULL;
	o = json_object_new_object();
	if (!o)
		return NULL;
	if (add(o, "how", json_object_new_string(ending_name(how)), false))
		goto err_put;
	if ((how == ENDING_EXITED || how == ENDING_KILLED) && has_status &&
	    add(o, "status", json_object_new_int(status), false))
		goto err_put;
	if (how == ENDING_KILLED && add(o, "signal", json_object_new_int(status - 128), false))
		goto err_put;
	if (p && !p->has_exit_status && how != ENDING_REPLACED &&
	    add(o, "running", p->running < 0 ? NULL : json_object_new_boolean(p->running),
		p->running < 0))
		goto err_put;
	if (!p && how == ENDING_RECORDING_CUT &&
	    add(o, "offset", json_object_new_uint64(s->cut_at), false))
		goto err_put;
	return o;

err_put:
	json_object_put(o);
	return NULL;
}

/* A process's ending; one restored from a history checkpoint carries only
 * alive and exit_status, which say enough. */
static uint8_t process_end_how(const struct process *p)
{
	if (p->alive)
		return ENDING_NONE;
	if (p->end_how != ENDING_NONE)
		return p->end_how;
	return p->has_exit_status ? ending_from_status(p->exit_status) : ENDING_UNTRACKED;
}

static struct json_object *json_pid_or_null(int32_t pid)
{
	return pid > 0 ? json_object_new_int(pid) : NULL;
}

static struct json_object *json_process(const struct session *s, const struct process *p)
{
	uint8_t how = process_end_how(p);
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (add(o, "pid", json_object_new_int(p->pid), false) ||
	    add(o, "ppid", json_object_new_int(p->ppid), false) ||
	    add(o, "cmdline", json_strv(&p->cmdline), false) ||
	    add(o, "alive", json_object_new_boolean(p->alive), false) ||
	    add(o, "exit_status", json_exit_status(p->has_exit_status, p->exit_status),
		!p->has_exit_status) ||
	    add(o, "end", json_end(how, p->has_exit_status, p->exit_status, p, s),
		how == ENDING_NONE) ||
	    add(o, "host_pid", json_pid_or_null(p->host_pid), p->host_pid <= 0) ||
	    add(o, "rss", json_object_new_uint64(memmap_rss(p->map)), false) ||
	    add(o, "vsz", json_object_new_uint64(memmap_vsz(p->map)), false) ||
	    add(o, "ranges", json_deferred(ranges_serialize, p->map), false) ||
	    add(o, "swapped", json_object_new_uint64(process_swapped(p)), false) ||
	    add(o, "rss_by_kind", json_rss_by_kind(s, p), false) ||
	    add(o, "mappings", json_mappings(s, p), false) ||
	    add(o, "origins", json_deferred(tags_serialize, p->origins), false) ||
	    add(o, "stacks", json_stacks(s, p), false) ||
	    add(o, "touches", json_deferred(tags_serialize, p->touches), false) ||
	    add(o, "written", heatmap_json(p->written), false) ||
	    add(o, "threads", json_threads(p), false)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Returns the session object, or NULL on OOM; *empty tells that the pid
 * filter left no process (the session is then omitted). */
static struct json_object *json_session(const struct session *s, bool has_pid, int32_t pid,
					bool *empty)
{
	struct json_object *o = json_object_new_object();
	struct json_object *procs = json_object_new_array();

	*empty = has_pid;
	if (!o || !procs)
		goto err_put;
	for (const struct process *p = s->procs_head; p; p = p->next) {
		struct json_object *jp;

		if (has_pid && p->pid != pid)
			continue;
		*empty = false;
		jp = json_process(s, p);
		if (!jp || json_object_array_add(procs, jp)) {
			json_object_put(jp);
			goto err_put;
		}
	}
	if (add(o, "id", json_object_new_uint64(s->id), false) ||
	    add(o, "argv", json_strv(&s->argv), false) ||
	    add(o, "launcher_pid", json_object_new_int(s->launcher_pid), false) ||
	    add(o, "alive", json_object_new_boolean(s->alive), false) ||
	    add(o, "exit_status", json_exit_status(s->has_exit_status, s->exit_status),
		!s->has_exit_status) ||
	    add(o, "mode",
		json_object_new_string(s->mode == MEVI_MODE_SAMPLED ? "sampled" : "exact"),
		false) ||
	    add(o, "started_at", json_object_new_uint64(s->started_at), false) ||
	    add(o, "sample_ms", json_object_new_uint64(s->sample_ms), false) ||
	    add(o, "recorded", json_object_new_boolean(s->recorded), false) ||
	    add(o, "end", json_end(s->end_how, s->has_exit_status, s->exit_status, NULL, s),
		s->end_how == ENDING_NONE) ||
	    add(o, "cut_at", s->cut ? json_object_new_uint64(s->cut_at) : NULL, !s->cut) ||
	    add(o, "launcher_host_pid", json_pid_or_null(s->launcher_host_pid),
		s->launcher_host_pid <= 0) ||
	    add(o, "history", json_object_new_boolean(s->log != NULL), false) ||
	    add(o, "engine", s->engine[0] ? json_object_new_string(s->engine) : NULL,
		!s->engine[0]) ||
	    add(o, "reconcile_corrections", json_object_new_uint64(s->engine_corrections), false) ||
	    add(o, "ring_drops", json_object_new_uint64(s->engine_drops), false))
		goto err_put;
	if (adopt(o, "processes", &procs))
		goto err_put;
	return o;

err_put:
	json_object_put(procs);
	json_object_put(o);
	return NULL;
}

struct json_object *api_state_build(const struct session_registry *reg, bool has_pid, int32_t pid)
{
	struct json_object *root = json_object_new_object();
	struct json_object *sessions = json_object_new_array();

	if (!root || !sessions)
		goto err_put;
	for (const struct session *s = reg->head; s; s = s->next) {
		bool empty;
		struct json_object *js = json_session(s, has_pid, pid, &empty);

		if (!js)
			goto err_put;
		if (empty) {
			json_object_put(js);
			continue;
		}
		if (json_object_array_add(sessions, js)) {
			json_object_put(js);
			goto err_put;
		}
	}
	if (adopt(root, "sessions", &sessions))
		goto err_put;
	return root;

err_put:
	json_object_put(sessions);
	json_object_put(root);
	return NULL;
}

struct json_object *api_state_build_at(const struct session *s, const struct eventlog_pos *pos)
{
	struct json_object *root = json_object_new_object();
	struct json_object *sessions = json_object_new_array();
	struct json_object *at = json_object_new_object();
	struct json_object *js = NULL;
	bool empty;

	if (!root || !sessions || !at)
		goto err_put;
	js = json_session(s, false, 0, &empty);
	/* The replayed copy keeps no log of its own; the session it shows does. */
	if (js && add(js, "history", json_object_new_boolean(true), false)) {
		json_object_put(js);
		js = NULL;
	}
	if (!js || json_object_array_add(sessions, js)) {
		json_object_put(js);
		goto err_put;
	}
	if (add(at, "ts", json_object_new_uint64(pos->ts), false) ||
	    add(at, "prev_ts", json_object_new_uint64(pos->prev_ts), false) ||
	    add(at, "next_ts", json_object_new_uint64(pos->next_ts), false) ||
	    add(at, "end_ts", json_object_new_uint64(pos->end_ts), false) ||
	    add(at, "applied", json_object_new_uint64(pos->applied), false) ||
	    add(at, "events", json_object_new_uint64(pos->events), false) ||
	    add(at, "replayed", json_object_new_uint64(pos->replayed), false))
		goto err_put;
	if (adopt(root, "sessions", &sessions) || adopt(root, "at", &at))
		goto err_put;
	return root;

err_put:
	json_object_put(at);
	json_object_put(sessions);
	json_object_put(root);
	return NULL;
}

struct json_object *api_timeline_build(const struct session *s)
{
	static const char *const kind[] = {[MEVI_EV_PROC_START] = "start",
					   [MEVI_EV_PROC_EXEC] = "exec",
					   [MEVI_EV_PROC_EXIT] = "exit"};
	struct json_object *o = json_object_new_object();
	struct json_object *markers = json_object_new_array();
	struct json_object *rss = json_object_new_array();
	const struct eventlog_marker *m;
	uint32_t n = 0;
	bool truncated = false;

	if (!o || !markers || !rss)
		goto err_put;
	if (!s->log)
		goto err_put;
	m = eventlog_markers(s->log, &n, &truncated);
	for (uint32_t i = 0; i < n; i++) {
		struct json_object *e = json_object_new_array_ext(3);

		if (!e || json_object_array_add(markers, e)) {
			json_object_put(e);
			goto err_put;
		}
		if (json_object_array_add(e, json_object_new_uint64(m[i].ts)) ||
		    json_object_array_add(e, json_object_new_string(kind[m[i].type])) ||
		    json_object_array_add(e, json_object_new_int(m[i].pid)))
			goto err_put;
	}
	for (uint32_t i = 0; i < s->rss_history.n; i++) {
		struct json_object *e = json_object_new_array_ext(2);

		if (!e || json_object_array_add(rss, e)) {
			json_object_put(e);
			goto err_put;
		}
		if (json_object_array_add(e, json_object_new_uint64(s->rss_history.pts[i].ts)) ||
		    json_object_array_add(e, json_object_new_uint64(s->rss_history.pts[i].value)))
			goto err_put;
	}
	if (add(o, "id", json_object_new_uint64(s->id), false) ||
	    add(o, "events", json_object_new_uint64(eventlog_events(s->log)), false) ||
	    add(o, "end_ts", json_object_new_uint64(eventlog_end_ts(s->log)), false) ||
	    add(o, "history_bytes", json_object_new_uint64(eventlog_total_bytes(s->log)), false) ||
	    add(o, "spilled", json_object_new_boolean(eventlog_spilled(s->log)), false) ||
	    add(o, "recorded", json_object_new_boolean(s->recorded), false) ||
	    add(o, "end", json_end(s->end_how, s->has_exit_status, s->exit_status, NULL, s),
		s->end_how == ENDING_NONE) ||
	    add(o, "cut_at", s->cut ? json_object_new_uint64(s->cut_at) : NULL, !s->cut) ||
	    add(o, "launcher_host_pid", json_pid_or_null(s->launcher_host_pid),
		s->launcher_host_pid <= 0) ||
	    add(o, "markers_truncated", json_object_new_boolean(truncated), false))
		goto err_put;
	if (adopt(o, "markers", &markers) || adopt(o, "rss", &rss))
		goto err_put;
	return o;

err_put:
	json_object_put(rss);
	json_object_put(markers);
	json_object_put(o);
	return NULL;
}

struct json_object *api_health_build(const struct session_registry *reg, uint32_t launchers,
				     uint32_t tabs)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (add(o, "status", json_object_new_string("ok"), false) ||
	    add(o, "sessions", json_object_new_int64(reg->count), false) ||
	    add(o, "version", json_object_new_string(mevi_version), false) ||
	    add(o, "pid", json_object_new_int((int)getpid()), false) ||
	    add(o, "launchers", json_object_new_int64(launchers), false) ||
	    add(o, "tabs", json_object_new_int64(tabs), false)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

const char *api_json_string(struct json_object *jso, size_t *len)
{
	return json_object_to_json_string_length(
	    jso, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}
