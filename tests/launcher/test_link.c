/*
 * The link's backpressure (launcher/link.h): while mevid reads, every batch
 * arrives whole and in order; when more than the hard limit would be queued,
 * the link drops the connection and what was queued, counts a drop, schedules
 * a reconnection (which resends a snapshot) and sends nothing more until
 * then. It never grows past the limit. link.c is included to reach the
 * connection without a daemon: one end of a socketpair plays mevid.
 */
#include "../../launcher/link.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define LIMIT (64u << 10)
#define BATCH 4096u

struct rig {
	struct event_base *base;
	struct link l;
	int peer; /* mevid's end */
};

static void snapshot_none(bool resume, void *ctx)
{
}

static void rig_up(struct rig *r)
{
	int sv[2];

	r->base = event_base_new();
	assert_non_null(r->base);
	assert_int_equal(
	    link_init(&r->l, r->base, "/nonexistent/mevid.sock", false, snapshot_none, NULL), 0);
	r->l.hard_limit = LIMIT;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	r->peer = sv[1];
	assert_int_equal(attach_fd(&r->l, sv[0]), 0);
	r->l.hello_seen = true;
}

static void rig_down(struct rig *r)
{
	drop_connection(&r->l, false);
	event_free(r->l.retry_ev);
	close(r->peer);
	event_base_free(r->base);
}

/* Reads what the peer has, appending to buf at *got. */
static void drain(struct rig *r, unsigned char *buf, size_t cap, size_t *got)
{
	for (;;) {
		ssize_t n = recv(r->peer, buf + *got, cap - *got, MSG_DONTWAIT);

		if (n <= 0)
			return;
		*got += (size_t)n;
	}
}

static void a_reading_daemon_gets_every_byte_in_order(void **unused)
{
	static unsigned char batch[BATCH], seen[64 * BATCH];
	struct rig r;
	size_t got = 0;

	rig_up(&r);
	for (unsigned i = 0; i < 64; i++) {
		memset(batch, (int)i, sizeof(batch));
		link_send(batch, sizeof(batch), &r.l);
		/* mevid keeps up: the loop writes, the peer reads. */
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		drain(&r, seen, sizeof(seen), &got);
	}
	for (int spins = 0; got < sizeof(seen) && spins < 1000; spins++) {
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		drain(&r, seen, sizeof(seen), &got);
	}
	assert_true(r.l.up);
	assert_int_equal(r.l.drops, 0);
	assert_int_equal(r.l.bytes_sent, sizeof(seen));
	assert_int_equal(got, sizeof(seen));
	for (size_t i = 0; i < sizeof(seen); i++)
		if (seen[i] != (unsigned char)(i / BATCH))
			fail_msg("byte %zu is %u, not %zu", i, seen[i], i / BATCH);
	rig_down(&r);
}

static void a_stalled_daemon_costs_a_reconnect_not_memory(void **unused)
{
	static unsigned char batch[BATCH];
	struct rig r;
	unsigned sent = 0;

	rig_up(&r);
	/* Nobody reads and the loop does not run: the socket takes what its
	 * buffer holds (batches are sent at once while nothing is queued),
	 * then everything stays queued. */
	while (r.l.up && sent < 4096) {
		link_send(batch, sizeof(batch), &r.l);
		if (r.l.up)
			assert_true(evbuffer_get_length(bufferevent_get_output(r.l.bev)) <= LIMIT);
		sent++;
	}
	assert_false(r.l.up);
	assert_int_equal(r.l.bytes_sent, (size_t)(sent - 1) * BATCH); /* all but the last */
	/* What the socket took is still readable; the rest was queued, and
	 * the batch that would have taken the queue past the limit dropped
	 * the connection. */
	static unsigned char got_bytes[4096 * BATCH];
	size_t got = 0;

	drain(&r, got_bytes, sizeof(got_bytes), &got);
	assert_true(got > 0);
	size_t queued = r.l.bytes_sent - got;

	assert_true(queued <= LIMIT);
	assert_true(queued + BATCH > LIMIT);
	assert_int_equal(r.l.drops, 1);
	assert_null(r.l.bev);
	assert_true(event_pending(r.l.retry_ev, EV_TIMEOUT, NULL)); /* reconnect, snapshot */
	/* Down: batches are counted and dropped, nothing is queued. */
	link_send(batch, sizeof(batch), &r.l);
	assert_int_equal(r.l.drops, 2);
	assert_int_equal(r.l.bytes_sent, (size_t)(sent - 1) * BATCH);
	rig_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_reading_daemon_gets_every_byte_in_order),
	    cmocka_unit_test(a_stalled_daemon_costs_a_reconnect_not_memory),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
