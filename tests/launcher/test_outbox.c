/*
 * The outbox's coalescing (launcher/outbox.h): neighbouring page-state
 * changes of one process and state become one range, either side; a change
 * of pid, state or first-touching thread starts a new one; each touched run
 * is followed by its touch event; threads touching by turns keep a run each,
 * up to OUTBOX_RUNS; a change overlapping an open run, or any other event,
 * sends the open runs first, oldest first, so that the last word on a page
 * stays last; discard drops what was not flushed; process events carry
 * their command line split into arguments.
 * Batches are decoded with the daemon's own decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decoder.h"
#include "memmap.h"
#include "outbox.h"

#define P 4096u

struct seen {
	struct mevi_event ev[64];
	uint32_t n;
	unsigned batches;
	void *lines; /* NULL, or char[4][64]: the command lines of events 0..3 */
};

/* Writes a process event's command line as "a|b|c" into out. */
static void keep_cmdline(const struct mevi_event *ev, char *out)
{
	const struct mevi_strv *sv =
	    ev->type == MEVI_EV_PROC_START ? &ev->proc_start.cmdline : &ev->proc_exec.cmdline;

	*out = '\0';
	for (uint32_t k = 0; k < sv->count; k++)
		out +=
		    sprintf(out, "%s%.*s", k ? "|" : "", (int)sv->items[k].len, sv->items[k].ptr);
}

/* The sink: decodes each batch and keeps its events; strings only as the
 * command lines of process events, in lines when it is set. */
static void sink(const void *batch, size_t len, void *arg)
{
	struct seen *s = arg;
	struct mevi_decoder d;
	const struct mevi_event *evs;
	uint32_t n;

	assert_int_equal(mevi_decoder_init(&d, NULL), 0);
	assert_int_equal(mevi_decoder_feed(&d, batch, len), 0);
	assert_int_equal(mevi_decoder_next(&d, &evs, &n), 1);
	for (uint32_t i = 0; i < n; i++) {
		assert_true(s->n < 64);
		if (s->lines &&
		    (evs[i].type == MEVI_EV_PROC_START || evs[i].type == MEVI_EV_PROC_EXEC)) {
			assert_true(s->n < 4);
			keep_cmdline(&evs[i], ((char(*)[64])s->lines)[s->n]);
		}
		s->ev[s->n++] = evs[i];
	}
	s->batches++;
	mevi_decoder_destroy(&d);
}

static void assert_state(const struct mevi_event *ev, int pid, uint64_t s, uint64_t e,
			 uint8_t state)
{
	assert_int_equal(ev->type, MEVI_EV_STATE);
	assert_int_equal(ev->pid, pid);
	assert_int_equal(ev->state.range.start, s);
	assert_int_equal(ev->state.range.end, e);
	assert_int_equal(ev->state.state, state);
}

static void adjacent_pages_merge_either_side(void **unused)
{
	struct seen s = {0};
	struct outbox ob;

	outbox_init(&ob, sink, &s);
	outbox_state(&ob, 7, 4 * P, 5 * P, MEVI_STATE_RESIDENT);
	outbox_state(&ob, 7, 5 * P, 6 * P, MEVI_STATE_RESIDENT); /* after */
	outbox_state(&ob, 7, 3 * P, 4 * P, MEVI_STATE_RESIDENT); /* before */
	assert_true(outbox_pending(&ob));
	outbox_flush(&ob);
	assert_int_equal(s.batches, 1);
	assert_int_equal(s.n, 1);
	assert_state(&s.ev[0], 7, 3 * P, 6 * P, MEVI_STATE_RESIDENT);
	assert_int_equal(ob.events_total, 1);
	assert_false(outbox_pending(&ob));
	outbox_destroy(&ob);
}

static void pid_state_or_gap_break_the_run(void **unused)
{
	struct seen s = {0};
	struct outbox ob;

	outbox_init(&ob, sink, &s);
	outbox_state(&ob, 7, 0, P, MEVI_STATE_RESIDENT);
	outbox_state(&ob, 8, P, 2 * P, MEVI_STATE_RESIDENT);	      /* other pid */
	outbox_state(&ob, 8, 2 * P, 3 * P, MEVI_STATE_NOT_RESIDENT);  /* other state */
	outbox_state(&ob, 8, 9 * P, 10 * P, MEVI_STATE_NOT_RESIDENT); /* a gap */
	outbox_flush(&ob);
	assert_int_equal(s.n, 4);
	assert_state(&s.ev[0], 7, 0, P, MEVI_STATE_RESIDENT);
	assert_state(&s.ev[1], 8, P, 2 * P, MEVI_STATE_RESIDENT);
	assert_state(&s.ev[2], 8, 2 * P, 3 * P, MEVI_STATE_NOT_RESIDENT);
	assert_state(&s.ev[3], 8, 9 * P, 10 * P, MEVI_STATE_NOT_RESIDENT);
	outbox_destroy(&ob);
}

static void touches_merge_per_thread_and_follow_their_state(void **unused)
{
	struct seen s = {0};
	struct outbox ob;

	outbox_init(&ob, sink, &s);
	outbox_state_touch(&ob, 7, 0, P, MEVI_STATE_RESIDENT, 100);
	outbox_state_touch(&ob, 7, P, 2 * P, MEVI_STATE_RESIDENT, 100);
	outbox_state_touch(&ob, 7, 2 * P, 3 * P, MEVI_STATE_RESIDENT, 101); /* other thread */
	outbox_state(&ob, 7, 3 * P, 4 * P, MEVI_STATE_RESIDENT);	    /* no thread */
	outbox_flush(&ob);
	assert_int_equal(s.n, 5);
	assert_state(&s.ev[0], 7, 0, 2 * P, MEVI_STATE_RESIDENT);
	assert_int_equal(s.ev[1].type, MEVI_EV_TOUCH);
	assert_int_equal(s.ev[1].touch.range.start, 0);
	assert_int_equal(s.ev[1].touch.range.end, 2 * P);
	assert_int_equal(s.ev[1].touch.tid, 100);
	assert_state(&s.ev[2], 7, 2 * P, 3 * P, MEVI_STATE_RESIDENT);
	assert_int_equal(s.ev[3].type, MEVI_EV_TOUCH);
	assert_int_equal(s.ev[3].touch.tid, 101);
	assert_state(&s.ev[4], 7, 3 * P, 4 * P, MEVI_STATE_RESIDENT);
	outbox_destroy(&ob);
}

static void assert_touch(const struct mevi_event *ev, uint64_t s, uint64_t e, int tid)
{
	assert_int_equal(ev->type, MEVI_EV_TOUCH);
	assert_int_equal(ev->touch.range.start, s);
	assert_int_equal(ev->touch.range.end, e);
	assert_int_equal(ev->touch.tid, tid);
}

static void threads_touching_by_turns_keep_a_run_each(void **unused)
{
	struct seen s = {0};
	struct outbox ob;

	outbox_init(&ob, sink, &s);
	for (uint64_t i = 0; i < 4; i++) {
		outbox_state_touch(&ob, 7, i * P, (i + 1) * P, MEVI_STATE_RESIDENT, 100);
		outbox_state_touch(&ob, 7, (20 - i) * P, (21 - i) * P, MEVI_STATE_RESIDENT, 101);
		outbox_state_touch(&ob, 8, i * P, (i + 1) * P, MEVI_STATE_RESIDENT, 102);
	}
	outbox_flush(&ob);
	assert_int_equal(s.n, 6);
	assert_state(&s.ev[0], 7, 0, 4 * P, MEVI_STATE_RESIDENT);
	assert_touch(&s.ev[1], 0, 4 * P, 100);
	assert_state(&s.ev[2], 7, 17 * P, 21 * P, MEVI_STATE_RESIDENT);
	assert_touch(&s.ev[3], 17 * P, 21 * P, 101);
	assert_state(&s.ev[4], 8, 0, 4 * P, MEVI_STATE_RESIDENT);
	assert_touch(&s.ev[5], 0, 4 * P, 102);
	outbox_destroy(&ob);
}

/* More keys than open runs: the oldest goes first, and no page is lost. */
static void the_oldest_run_makes_room(void **unused)
{
	struct seen s = {0};
	struct outbox ob;

	outbox_init(&ob, sink, &s);
	for (int t = 0; t <= OUTBOX_RUNS; t++)
		outbox_state_touch(&ob, 7, (uint64_t)t * 10 * P, ((uint64_t)t * 10 + 1) * P,
				   MEVI_STATE_RESIDENT, 100 + t);
	assert_int_equal(ob.events_total, 2); /* the first run, sent when the last opened */
	outbox_state_touch(&ob, 7, P, 2 * P, MEVI_STATE_RESIDENT, 100); /* sent: a new run */
	outbox_flush(&ob);
	assert_int_equal(s.n, 2 * (OUTBOX_RUNS + 2));
	assert_state(&s.ev[0], 7, 0, P, MEVI_STATE_RESIDENT);
	assert_touch(&s.ev[1], 0, P, 100);
	for (int t = 1; t <= OUTBOX_RUNS; t++)
		assert_touch(&s.ev[2 * t + 1], (uint64_t)t * 10 * P, ((uint64_t)t * 10 + 1) * P,
			     100 + t);
	assert_state(&s.ev[2 * OUTBOX_RUNS + 2], 7, P, 2 * P, MEVI_STATE_RESIDENT);
	outbox_destroy(&ob);
}

/*
 * What overlaps an open run sends every open run first: a page dropped after
 * its touch, then touched again, ends resident; a run is not extended over
 * another run's pages.
 */
static void an_overlapping_change_comes_after_the_open_runs(void **unused)
{
	struct seen s = {0};
	struct outbox ob;

	outbox_init(&ob, sink, &s);
	outbox_state_touch(&ob, 7, 0, 2 * P, MEVI_STATE_RESIDENT, 100);
	outbox_state_touch(&ob, 7, 10 * P, 11 * P, MEVI_STATE_RESIDENT, 101);
	outbox_state(&ob, 7, P, 3 * P, MEVI_STATE_NOT_RESIDENT); /* overlaps the first */
	assert_int_equal(ob.events_total, 4);			 /* both runs went first */
	outbox_state_touch(&ob, 7, 2 * P, 3 * P, MEVI_STATE_RESIDENT, 100); /* overlaps again */
	outbox_state_touch(&ob, 7, 3 * P, 4 * P, MEVI_STATE_RESIDENT, 100); /* extends that */
	outbox_flush(&ob);
	assert_int_equal(s.n, 7);
	assert_state(&s.ev[0], 7, 0, 2 * P, MEVI_STATE_RESIDENT);
	assert_touch(&s.ev[1], 0, 2 * P, 100);
	assert_state(&s.ev[2], 7, 10 * P, 11 * P, MEVI_STATE_RESIDENT);
	assert_touch(&s.ev[3], 10 * P, 11 * P, 101);
	assert_state(&s.ev[4], 7, P, 3 * P, MEVI_STATE_NOT_RESIDENT);
	assert_state(&s.ev[5], 7, 2 * P, 4 * P, MEVI_STATE_RESIDENT);
	assert_touch(&s.ev[6], 2 * P, 4 * P, 100);

	/* Applied in order, the map says what happened last to each page. */
	struct memmap *m = memmap_new();
	struct memmap_range r;

	assert_non_null(m);
	for (uint32_t i = 0; i < s.n; i++)
		if (s.ev[i].type == MEVI_EV_STATE)
			memmap_set(m, s.ev[i].state.range.start, s.ev[i].state.range.end,
				   s.ev[i].state.state);
	assert_true(memmap_lookup(m, P, &r));
	assert_int_equal(r.state, MEVI_STATE_NOT_RESIDENT);
	assert_true(memmap_lookup(m, 2 * P, &r));
	assert_int_equal(r.state, MEVI_STATE_RESIDENT);
	memmap_free(m);
	outbox_destroy(&ob);
}

/* A batch that fills while the open runs are sent is cut there, and the
 * runs are each sent once, in order (sending them used to flush them again,
 * recursing until mevi-run's stack ran out). */
static void runs_filling_a_batch_are_sent_once(void **unused)
{
	struct seen s = {0};
	struct outbox ob;

	outbox_init(&ob, sink, &s);
	ob.max_events = 3;
	for (int t = 0; t < 4; t++)
		outbox_state_touch(&ob, 7, (uint64_t)t * 10 * P, ((uint64_t)t * 10 + 1) * P,
				   MEVI_STATE_RESIDENT, 100 + t);
	outbox_flush(&ob);
	assert_false(outbox_pending(&ob));
	assert_int_equal(s.n, 8);
	assert_true(s.batches >= 3);
	for (int t = 0; t < 4; t++) {
		assert_state(&s.ev[2 * t], 7, (uint64_t)t * 10 * P, ((uint64_t)t * 10 + 1) * P,
			     MEVI_STATE_RESIDENT);
		assert_touch(&s.ev[2 * t + 1], (uint64_t)t * 10 * P, ((uint64_t)t * 10 + 1) * P,
			     100 + t);
	}
	outbox_destroy(&ob);
}

static void other_events_close_the_run_in_order(void **unused)
{
	struct seen s = {0};
	struct outbox ob;
	struct mevi_event ex = {.type = MEVI_EV_PROC_EXIT, .pid = 7};

	outbox_init(&ob, sink, &s);
	outbox_state(&ob, 7, 0, P, MEVI_STATE_RESIDENT);
	outbox_emit(&ob, &ex);
	outbox_state(&ob, 7, P, 2 * P, MEVI_STATE_RESIDENT); /* adjacent, but after */
	outbox_flush(&ob);
	assert_int_equal(s.n, 3);
	assert_state(&s.ev[0], 7, 0, P, MEVI_STATE_RESIDENT);
	assert_int_equal(s.ev[1].type, MEVI_EV_PROC_EXIT);
	assert_state(&s.ev[2], 7, P, 2 * P, MEVI_STATE_RESIDENT);
	outbox_destroy(&ob);
}

static void discard_drops_what_was_not_flushed(void **unused)
{
	struct seen s = {0};
	struct outbox ob;

	outbox_init(&ob, sink, &s);
	outbox_state(&ob, 7, 0, P, MEVI_STATE_RESIDENT);
	outbox_discard(&ob);
	assert_false(outbox_pending(&ob));
	outbox_flush(&ob);
	assert_int_equal(s.batches, 0);
	outbox_state(&ob, 7, P, 2 * P, MEVI_STATE_RESIDENT);
	outbox_flush(&ob);
	assert_int_equal(s.n, 1);
	assert_state(&s.ev[0], 7, P, 2 * P, MEVI_STATE_RESIDENT);
	outbox_destroy(&ob);
}

static void proc_events_carry_the_split_command_line(void **unused)
{
	char lines[4][64] = {{0}};
	struct seen s = {.lines = lines};
	struct outbox ob;

	outbox_init(&ob, sink, &s);
	outbox_proc(&ob, MEVI_EV_PROC_START, 9, 0, MEVI_PROC_INHERIT_MAP, "sh\0-c\0\0", 7);
	outbox_proc(&ob, MEVI_EV_PROC_EXEC, 9, 0, 0, "renamed", 7); /* no last NUL */
	outbox_proc(&ob, MEVI_EV_PROC_START, 10, 9, 0, "", 0);
	outbox_flush(&ob);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.ev[0].type, MEVI_EV_PROC_START);
	assert_int_equal(s.ev[0].pid, 9);
	assert_int_equal(s.ev[0].proc_start.ppid, 1); /* unknown parent: init */
	assert_int_equal(s.ev[0].proc_start.flags, MEVI_PROC_INHERIT_MAP);
	assert_string_equal(lines[0], "sh|-c|");
	assert_int_equal(s.ev[1].type, MEVI_EV_PROC_EXEC);
	assert_string_equal(lines[1], "renamed");
	assert_int_equal(s.ev[2].proc_start.ppid, 9);
	assert_string_equal(lines[2], "");
	outbox_destroy(&ob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(adjacent_pages_merge_either_side),
	    cmocka_unit_test(pid_state_or_gap_break_the_run),
	    cmocka_unit_test(touches_merge_per_thread_and_follow_their_state),
	    cmocka_unit_test(threads_touching_by_turns_keep_a_run_each),
	    cmocka_unit_test(the_oldest_run_makes_room),
	    cmocka_unit_test(an_overlapping_change_comes_after_the_open_runs),
	    cmocka_unit_test(runs_filling_a_batch_are_sent_once),
	    cmocka_unit_test(other_events_close_the_run_in_order),
	    cmocka_unit_test(discard_drops_what_was_not_flushed),
	    cmocka_unit_test(proc_events_carry_the_split_command_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
