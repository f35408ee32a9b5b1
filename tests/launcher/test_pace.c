/*
 * pace (launcher/pace.h): the period doubles on each idle tick up to its
 * maximum, goes back to the base on a busy one, stays fixed when the maximum
 * is not above the base, and a timer that was deleted is not added back.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <event2/event.h>

#include "pace.h"

static void nop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static bool pending(struct event *ev)
{
	return event_pending(ev, EV_TIMEOUT, NULL);
}

static void test_doubles_then_resets(void **state)
{
	struct event_base *base = event_base_new();
	struct event *ev = event_new(base, -1, EV_PERSIST, nop_cb, NULL);
	struct pace p;
	const unsigned want[] = {8, 16, 32, 64, 64};

	(void)state;
	pace_init(&p, ev, 4, 64);
	assert_int_equal(p.now_ms, 4);
	assert_int_equal(pace_start(&p), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		pace_tick(&p, false);
		assert_int_equal(p.now_ms, want[i]);
		assert_true(pending(ev));
	}
	pace_tick(&p, true);
	assert_int_equal(p.now_ms, 4);
	pace_tick(&p, false);
	assert_int_equal(p.now_ms, 8);
	event_free(ev);
	event_base_free(base);
}

static void test_fixed(void **state)
{
	struct event_base *base = event_base_new();
	struct event *ev = event_new(base, -1, EV_PERSIST, nop_cb, NULL);
	struct pace p;

	(void)state;
	pace_init(&p, ev, 10, 5); /* a maximum below the base: fixed */
	assert_int_equal(pace_start(&p), 0);
	pace_tick(&p, false);
	pace_tick(&p, false);
	assert_int_equal(p.now_ms, 10);
	event_free(ev);
	event_base_free(base);
}

static void test_deleted_stays_deleted(void **state)
{
	struct event_base *base = event_base_new();
	struct event *ev = event_new(base, -1, EV_PERSIST, nop_cb, NULL);
	struct pace p;

	(void)state;
	pace_init(&p, ev, 4, 64);
	assert_int_equal(pace_start(&p), 0);
	event_del(ev); /* as at a detach or the end */
	pace_tick(&p, false);
	pace_tick(&p, true);
	assert_false(pending(ev));
	event_free(ev);
	event_base_free(base);
}

/* The timer fires at the paced period: after idle ticks up to 64 ms, a
 * loop stopped by a 40 ms timer sees no tick; back at the base it does. */
static int fired;

static void count_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fired++;
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void test_fires_at_pace(void **state)
{
	struct event_base *base = event_base_new();
	struct event *ev = event_new(base, -1, EV_PERSIST, count_cb, NULL);
	struct event *stop = evtimer_new(base, stop_cb, base);
	struct timeval forty = {0, 40 * 1000};
	struct pace p;

	(void)state;
	pace_init(&p, ev, 4, 64);
	assert_int_equal(pace_start(&p), 0);
	for (int i = 0; i < 5; i++)
		pace_tick(&p, false);
	fired = 0;
	evtimer_add(stop, &forty);
	event_base_dispatch(base);
	assert_int_equal(fired, 0);
	pace_tick(&p, true);
	fired = 0;
	evtimer_add(stop, &forty);
	event_base_dispatch(base);
	/* ~9 at 4 ms; at least the first, whose deadline precedes the stop's
	 * (timers run in deadline order, however late the loop runs). */
	assert_true(fired >= 1);
	event_free(stop);
	event_free(ev);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_doubles_then_resets),
	    cmocka_unit_test(test_fixed),
	    cmocka_unit_test(test_deleted_stays_deleted),
	    cmocka_unit_test(test_fires_at_pace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
