/*
 * ws_client — one /stream tab: its bounded queue of shared messages, written
 * in fragments, and what the tab sends back (contract: ws_client.h).
 */
#include "ws_client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "log.h"
#include "rcbuf.h"

/* One fragment at a time is copied here, behind the LWS_PRE bytes
 * libwebsockets needs in front of what it writes: the shared buffers must
 * not be written to. One loop, one write at a time: one scratch suffices. */
static unsigned char ws_scratch[LWS_PRE + WS_CLIENT_FRAGMENT];

#define WS_WRITE_CLOSE ((enum lws_write_protocol)4)

void ws_client_init(struct ws_client *c, struct stream *st, struct lws *wsi, uint64_t id,
		    uint64_t now_ms)
{
	c->stream = st;
	c->wsi = wsi;
	c->id = id;
	c->progress_ms = now_ms;
}

static void msg_free(struct ws_msg *m)
{
	rcbuf_unref(m->buf);
	free(m);
}

void ws_client_destroy(struct ws_client *c)
{
	struct ws_msg *m = c->head;

	while (m) {
		struct ws_msg *next = m->next;

		msg_free(m);
		m = next;
	}
	c->head = c->tail = NULL;
	c->off = 0;
	c->backlog = 0;
	c->queued = 0;
}

void ws_client_resync(struct ws_client *c)
{
	struct ws_msg *keep = NULL, *m = c->head;

	if (m && c->off > 0) {
		keep = m;
		m = m->next;
		keep->next = NULL;
	}
	while (m) {
		struct ws_msg *next = m->next;

		msg_free(m);
		m = next;
	}
	c->head = c->tail = keep;
	c->backlog = 0;
	c->queued = keep ? keep->buf->len - c->off : 0;
	if (!c->want_snapshot)
		c->resyncs++;
	c->want_snapshot = true;
}

/* Appends b; counted messages make up the backlog. */
static int queue_append(struct ws_client *c, struct rcbuf *b, bool counted, uint64_t now_ms)
{
	struct ws_msg *m = malloc(sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->buf = rcbuf_ref(b);
	m->counted = counted;
	if (counted)
		c->backlog += b->len;
	if (c->tail)
		c->tail->next = m;
	else
		c->head = m;
	c->tail = m;
	if (c->queued == 0)
		c->progress_ms = now_ms;
	c->queued += b->len;
	lws_callback_on_writable(c->wsi);
	return 0;
}

int ws_client_enqueue(struct ws_client *c, struct rcbuf *b, size_t limit, uint64_t now_ms)
{
	if (c->closing || c->want_snapshot)
		return 1;
	/* A tab with nothing waiting always gets the next message, however
	 * big: one that keeps up is never resynchronised. */
	if (c->backlog > 0 && c->backlog + b->len > limit) {
		log_info("tab %" PRIu64 ": fell more than %zu bytes behind: dropping %zu queued "
			 "bytes, a fresh snapshot follows",
			 c->id, limit, c->backlog);
		ws_client_resync(c);
		return 1;
	}
	return queue_append(c, b, true, now_ms);
}

int ws_client_enqueue_snapshot(struct ws_client *c, struct rcbuf *b, uint64_t now_ms)
{
	int err;

	if (c->closing)
		return 1;
	err = queue_append(c, b, false, now_ms);
	if (!err)
		c->want_snapshot = false;
	return err;
}

/* Writes the next fragment of the head message. Returns 0 or -1. */
static int write_fragment(struct ws_client *c, uint64_t now_ms)
{
	struct ws_msg *m = c->head;
	enum lws_write_protocol wp;
	size_t n = m->buf->len - c->off;

	if (n > WS_CLIENT_FRAGMENT)
		n = WS_CLIENT_FRAGMENT;
	wp = c->off == 0 ? LWS_WRITE_BINARY : LWS_WRITE_CONTINUATION;
	if (c->off + n < m->buf->len)
		wp |= LWS_WRITE_NO_FIN;
	if (c->off == 0 && m->counted) {
		c->backlog -= m->buf->len;
		m->counted = false;
	}
	memcpy(ws_scratch + LWS_PRE, m->buf->data + c->off, n);
	if (lws_write(c->wsi, ws_scratch + LWS_PRE, n, wp) < 0) {
		log_info("tab %" PRIu64 ": write failed: closing", c->id);
		return -1;
	}
	c->off += n;
	c->queued -= n;
	c->bytes_sent += n;
	c->progress_ms = now_ms;
	if (c->off == m->buf->len) {
		c->head = m->next;
		if (!c->head)
			c->tail = NULL;
		c->off = 0;
		msg_free(m);
	}
	return 0;
}

int ws_client_writable(struct ws_client *c, uint64_t now_ms)
{
	log_trace("tab %" PRIu64 ": writable, %zu bytes queued, backlog %zu%s", c->id, c->queued,
		  c->backlog, c->closing ? ", closing" : "");
	if (c->closing) {
		/* libwebsockets 4.1.6 hangs up without the close frame that
		 * lws_close_reason() prepared when WRITEABLE returns -1, so we
		 * send it ourselves (a control frame may sit between the
		 * fragments of a message). Its LWS_WRITE_CLOSE (4) is left out of
		 * the public header. */
		static const char reason[] = "mevid is shutting down";
		unsigned char *p = ws_scratch + LWS_PRE;

		p[0] = LWS_CLOSE_STATUS_GOINGAWAY >> 8;
		p[1] = LWS_CLOSE_STATUS_GOINGAWAY & 0xff;
		memcpy(p + 2, reason, sizeof(reason) - 1);
		lws_write(c->wsi, p, sizeof(reason) + 1, WS_WRITE_CLOSE);
		return -1;
	}
	/* One write per writable callback: libwebsockets 4.1 reports the pipe
	 * choked after any write until the next POLLOUT. */
	if (c->head && write_fragment(c, now_ms))
		return -1;
	if (c->head)
		lws_callback_on_writable(c->wsi);
	return 0;
}

int ws_client_enqueue_reply(struct ws_client *c, struct rcbuf *b, uint64_t now_ms)
{
	if (c->closing)
		return 1;
	return queue_append(c, b, false, now_ms);
}

int ws_client_receive(struct ws_client *c, const void *in, size_t len, bool final, bool binary)
{
	log_trace("tab %" PRIu64 ": received %zu bytes%s", c->id, len, final ? " (final)" : "");
	if (c->rx_len == 0)
		c->rx_binary = binary;
	if (len > WS_CLIENT_MAX_RX - c->rx_len) {
		static const char reason[] = "message too large";

		log_info("tab %" PRIu64 ": sent a message over %d bytes: closing", c->id,
			 WS_CLIENT_MAX_RX);
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
				 (unsigned char *)reason, sizeof(reason) - 1);
		return -1;
	}
	if (len)
		memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (!final)
		return 0;
	if (c->rx_binary) {
		c->rx_len = 0;
		return 0;
	}
	return 1;
}

void ws_client_shutdown(struct ws_client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	lws_callback_on_writable(c->wsi);
}
