/*
 * stream — the /stream fan-out: pending events per session, the flush timer
 * that encodes one delta for every tab, snapshots, resyncs and stalled tabs
 * (contract: stream.h).
 */
#include "stream.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <libwebsockets.h>

#include "checkpoint.h"
#include "eventlog.h"
#include "log.h"
#include "rcbuf.h"
#include "snapshot.h"
#include "ws_client.h"

static void timer_cb(uv_timer_t *t);

struct stream_pending {
	uint64_t session_id;
	struct mevi_batch_encoder enc;
};

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void stream_mark_all_resync(struct stream *st)
{
	for (struct ws_client *c = st->tabs; c; c = c->next)
		ws_client_resync(c);
}

static void pending_clear(struct stream *st)
{
	for (uint32_t i = 0; i < st->npending; i++)
		mevi_batch_encoder_destroy(&st->pending[i].enc);
	st->npending = 0;
	st->last_pending = 0;
}

static struct stream_pending *pending_get(struct stream *st, uint64_t sid)
{
	struct stream_pending *p;

	if (st->last_pending < st->npending && st->pending[st->last_pending].session_id == sid)
		return &st->pending[st->last_pending];
	for (uint32_t i = 0; i < st->npending; i++) {
		if (st->pending[i].session_id == sid) {
			st->last_pending = i;
			return &st->pending[i];
		}
	}
	if (st->npending == st->cap_pending) {
		uint32_t cap = st->cap_pending ? st->cap_pending * 2 : 8;

		p = realloc(st->pending, cap * sizeof(*p));
		if (!p)
			return NULL;
		st->pending = p;
		st->cap_pending = cap;
	}
	p = &st->pending[st->npending];
	p->session_id = sid;
	mevi_batch_encoder_init(&p->enc);
	st->last_pending = st->npending++;
	return p;
}

static void obs_applied(void *ctx, const struct session *s, const struct mevi_event *ev)
{
	struct stream *st = ctx;
	struct stream_pending *p;

	if (!st->ntabs)
		return;
	p = pending_get(st, s->id);
	if (!p || mevi_batch_encoder_add(&p->enc, ev)) {
		log_error("out of memory queueing a delta: every tab resynchronises");
		stream_mark_all_resync(st);
	}
}

static void obs_reshaped(void *ctx)
{
	stream_mark_all_resync(ctx);
}

static void obs_freeing(void *ctx, const struct session *s)
{
	struct stream *st = ctx;

	for (uint32_t i = 0; i < st->npending; i++) {
		if (st->pending[i].session_id != s->id)
			continue;
		mevi_batch_encoder_destroy(&st->pending[i].enc);
		st->pending[i] = st->pending[--st->npending];
		st->last_pending = 0;
		break;
	}
}

const struct session_observer stream_observer = {
    .applied = obs_applied,
    .reshaped = obs_reshaped,
    .freeing = obs_freeing,
};

/* Encodes the pending batches as one delta message. NULL if there is nothing
 * to send or on OOM (then every tab resynchronises). */
static struct rcbuf *encode_delta(struct stream *st, uint64_t now)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct rcbuf *b = NULL;
	uint32_t n = 0;

	for (uint32_t i = 0; i < st->npending; i++)
		n += st->pending[i].enc.count > 0;
	if (!n)
		return NULL;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (msgpack_pack_array(&pk, 3) || msgpack_pack_uint8(&pk, 1) ||
	    msgpack_pack_uint64(&pk, now) || msgpack_pack_array(&pk, n))
		goto err_oom;
	for (uint32_t i = 0; i < st->npending; i++) {
		struct stream_pending *p = &st->pending[i];

		if (!p->enc.count)
			continue;
		if (msgpack_pack_array(&pk, 2) || msgpack_pack_uint64(&pk, p->session_id) ||
		    mevi_batch_encoder_finish(&p->enc, &sb))
			goto err_oom;
	}
	b = rcbuf_from_sbuffer(&sb);
	if (!b)
		goto err_oom;
	msgpack_sbuffer_destroy(&sb);
	return b;

err_oom:
	msgpack_sbuffer_destroy(&sb);
	log_error("out of memory encoding a delta: every tab resynchronises");
	stream_mark_all_resync(st);
	return NULL;
}

static struct rcbuf *encode_snapshot(struct stream *st, uint64_t now)
{
	msgpack_sbuffer sb;
	struct rcbuf *b;

	msgpack_sbuffer_init(&sb);
	if (snapshot_encode(st->reg, now, &sb)) {
		msgpack_sbuffer_destroy(&sb);
		log_error("out of memory encoding a snapshot");
		return NULL;
	}
	b = rcbuf_from_sbuffer(&sb);
	msgpack_sbuffer_destroy(&sb);
	return b;
}

/* Closes the tabs that accepted nothing for too long. */
static void stream_check_stalls(struct stream *st, uint64_t now_ms)
{
	for (struct ws_client *c = st->tabs; c; c = c->next) {
		if (c->closing || !c->head || now_ms - c->progress_ms < st->stall_ms)
			continue;
		log_warn("tab %" PRIu64 ": accepted nothing for %u ms with %zu bytes queued: "
			 "closing it",
			 c->id, st->stall_ms, c->queued);
		c->closing = true;
		st->stalled++;
		ws_client_destroy(c);
		/* The socket is not writable, so the close cannot wait for a
		 * writable callback: lws closes it from its own timer. */
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

void stream_tick(struct stream *st)
{
	uint64_t now_ms = uv_now(st->loop);
	uint64_t now = realtime_ns();
	struct rcbuf *delta, *snap = NULL;

	if (st->stopping)
		return;
	stream_check_stalls(st, now_ms);
	delta = encode_delta(st, now);
	pending_clear(st);
	for (struct ws_client *c = st->tabs; c; c = c->next) {
		if (c->closing)
			continue;
		if (delta && !c->want_snapshot) {
			int ret = ws_client_enqueue(c, delta, st->tab_limit, now_ms);

			if (ret == 1)
				st->resyncs++;
			else if (ret < 0)
				ws_client_resync(c);
		}
		if (c->want_snapshot && !c->head) {
			if (!snap) {
				snap = encode_snapshot(st, now);
				if (!snap)
					break;
				st->snapshots++;
				st->snapshot_bytes += snap->len;
			}
			ws_client_enqueue_snapshot(c, snap, now_ms);
		}
	}
	log_trace("tick: delta %zu bytes", delta ? delta->len : 0);
	if (delta) {
		st->deltas++;
		st->delta_bytes += delta->len;
	}
	rcbuf_unref(delta);
	rcbuf_unref(snap);
}

/* Reads a non-negative integer member of a request. */
static bool req_u64(struct json_object *o, const char *key, uint64_t *out)
{
	struct json_object *v = json_object_object_get(o, key);

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	if (json_object_get_int64(v) < 0)
		return false;
	*out = json_object_get_uint64(v);
	return true;
}

static void tab_seek(struct stream *st, struct ws_client *tab, uint64_t sid, uint64_t at)
{
	struct session_registry tmp;
	struct eventlog_pos pos;
	struct session *live = session_registry_find(st->reg, sid), *s = NULL;
	const char *why = "no such session";
	msgpack_sbuffer sb;
	struct rcbuf *b;
	int ret = -ENOENT;

	memset(&tmp, 0, sizeof(tmp));
	if (live) {
		ret = checkpoint_state_at(live, at, &tmp, &s, &pos);
		if (ret == -ENOENT)
			why = "the history of this session was not kept (history budget)";
		else if (ret)
			why = "cannot read the session's history";
	}
	msgpack_sbuffer_init(&sb);
	if (snapshot_encode_moment(sid, at, ret ? NULL : s, &pos, why, realtime_ns(), &sb)) {
		log_error("tab %" PRIu64 ": out of memory answering a seek", tab->id);
		goto out;
	}
	b = rcbuf_from_sbuffer(&sb);
	if (b) {
		ws_client_enqueue_reply(tab, b, uv_now(st->loop));
		rcbuf_unref(b);
	}
out:
	msgpack_sbuffer_destroy(&sb);
	session_registry_destroy(&tmp);
}

void stream_tab_message(struct stream *st, struct ws_client *tab)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL, *type;
	uint64_t sid, at;

	if (tok)
		o = json_tokener_parse_ex(tok, tab->rx, (int)tab->rx_len);
	tab->rx_len = 0;
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !(type = json_object_object_get(o, "type")) ||
	    !json_object_is_type(type, json_type_string)) {
		log_debug("tab %" PRIu64 ": ignored a message that is not a request", tab->id);
	} else if (strcmp(json_object_get_string(type), "seek") == 0) {
		if (req_u64(o, "session", &sid) && req_u64(o, "at", &at))
			tab_seek(st, tab, sid, at);
		else
			log_debug("tab %" PRIu64 ": ignored a seek without session/at", tab->id);
	} else if (strcmp(json_object_get_string(type), "live") == 0) {
		ws_client_resync(tab);
		uv_timer_start(&st->timer, timer_cb, 0, st->interval_ms);
		st->timer_active = true;
	} else {
		log_debug("tab %" PRIu64 ": ignored a request of unknown type", tab->id);
	}
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
}

static void timer_cb(uv_timer_t *t)
{
	stream_tick(t->data);
}

int stream_init(struct stream *st, uv_loop_t *loop, struct session_registry *reg,
		unsigned interval_ms, size_t tab_limit, unsigned stall_ms)
{
	int err;

	memset(st, 0, sizeof(*st));
	st->loop = loop;
	st->reg = reg;
	st->interval_ms = interval_ms;
	st->tab_limit = tab_limit;
	st->stall_ms = stall_ms;
	st->next_tab_id = 1;
	err = uv_timer_init(loop, &st->timer);
	if (err)
		return err;
	st->timer.data = st;
	return 0;
}

struct ws_client *stream_tab_open(struct stream *st, struct lws *wsi)
{
	struct ws_client *c;

	if (st->stopping)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	ws_client_init(c, st, wsi, st->next_tab_id++, uv_now(st->loop));
	c->want_snapshot = true;
	c->next = st->tabs;
	if (st->tabs)
		st->tabs->prev = c;
	st->tabs = c;
	st->ntabs++;
	log_debug("tab %" PRIu64 ": connected (%u tabs)", c->id, st->ntabs);
	/* Snapshot at once, and flush what is pending for the other tabs. */
	uv_timer_start(&st->timer, timer_cb, 0, st->interval_ms);
	st->timer_active = true;
	return c;
}

void stream_tab_closed(struct stream *st, struct ws_client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		st->tabs = c->next;
	if (c->next)
		c->next->prev = c->prev;
	st->ntabs--;
	log_debug("tab %" PRIu64 ": closed after %" PRIu64 " bytes, %" PRIu64 " resyncs (%u tabs)",
		  c->id, c->bytes_sent, c->resyncs, st->ntabs);
	ws_client_destroy(c);
	free(c);
	if (!st->ntabs && st->timer_active) {
		uv_timer_stop(&st->timer);
		st->timer_active = false;
		pending_clear(st);
	}
}

void stream_shutdown(struct stream *st)
{
	st->stopping = true;
	for (struct ws_client *c = st->tabs; c; c = c->next)
		ws_client_shutdown(c);
}

void stream_destroy(struct stream *st)
{
	if (!st->timer_closed) {
		uv_timer_stop(&st->timer);
		uv_close((uv_handle_t *)&st->timer, NULL);
		st->timer_closed = true;
	}
	while (st->tabs)
		stream_tab_closed(st, st->tabs);
	pending_clear(st);
	free(st->pending);
	st->pending = NULL;
	st->cap_pending = 0;
}
