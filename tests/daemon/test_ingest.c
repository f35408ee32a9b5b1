/*
 * Unit tests of the ingest driver (daemon/ingest.c): what each policy (live,
 * load, replay) does with a session_start, a second one, one of another
 * session, events after session_end and events for exited processes; the
 * pinned sessions of loads and replays; the live byte path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "event.h"
#include "ingest.h"
#include "memmap.h"
#include "session.h"

#define LPID 500

static struct mevi_event start_ev(uint64_t started_at)
{
	return (struct mevi_event){
	    .type = MEVI_EV_SESSION_START,
	    .pid = LPID,
	    .ts = 0,
	    .session_start = {.version = MEVI_PROTO_VERSION, .started_at = started_at},
	};
}

static struct mevi_event map_ev(int32_t pid, uint64_t ts)
{
	return (struct mevi_event){
	    .type = MEVI_EV_MAP,
	    .pid = pid,
	    .ts = ts,
	    .map = {.range = {0x10000, 0x20000}, .state = MEVI_STATE_RESIDENT},
	};
}

static struct mevi_event simple_ev(uint8_t type, int32_t pid, uint64_t ts)
{
	return (struct mevi_event){.type = type, .pid = pid, .ts = ts};
}

static void test_live(void **state)
{
	struct session_registry reg;
	struct ingest in;
	struct mevi_event ev = map_ev(1, 1);
	char conn;

	(void)state;
	session_registry_init(&reg, 4, NULL, NULL);
	assert_int_equal(ingest_init(&in, &reg, &conn, NULL, NULL, NULL), 0);
	assert_int_equal(ingest_event(&in, &ev), -EPROTO);
	assert_string_equal(in.why, "the first event must be session_start, not map");
	ev = start_ev(1);
	assert_int_equal(ingest_event(&in, &ev), -EPROTO); /* failed for good */
	ingest_destroy(&in);

	assert_int_equal(ingest_init(&in, &reg, &conn, NULL, NULL, NULL), 0);
	assert_int_equal(ingest_event(&in, &ev), 0);
	assert_non_null(in.session);
	assert_ptr_equal(in.session->conn, &conn);
	assert_false(in.session->pinned);
	ev = map_ev(7, 2);
	assert_int_equal(ingest_event(&in, &ev), 0);
	ev = start_ev(1);
	assert_int_equal(ingest_event(&in, &ev), -EPROTO);
	assert_string_equal(in.why, "a second session_start on one connection");
	ingest_destroy(&in);

	/* After session_end, nothing. */
	assert_int_equal(ingest_init(&in, &reg, &conn, NULL, NULL, NULL), 0);
	ev = start_ev(2);
	assert_int_equal(ingest_event(&in, &ev), 0);
	ev = simple_ev(MEVI_EV_SESSION_END, LPID, 3);
	assert_int_equal(ingest_event(&in, &ev), 0);
	ev = map_ev(7, 4);
	assert_int_equal(ingest_event(&in, &ev), -EPROTO);
	assert_string_equal(in.why, "map after session_end");
	assert_int_equal(in.events, 2);
	ingest_destroy(&in);
	session_registry_destroy(&reg);
}

/* An event for an exited process is dropped: 1, not an error. */
static void test_dropped(void **state)
{
	struct session_registry reg;
	struct ingest in;
	struct mevi_event ev = start_ev(1);
	char conn;

	(void)state;
	session_registry_init(&reg, 4, NULL, NULL);
	assert_int_equal(ingest_init(&in, &reg, &conn, NULL, NULL, NULL), 0);
	assert_int_equal(ingest_event(&in, &ev), 0);
	ev = map_ev(7, 1);
	assert_int_equal(ingest_event(&in, &ev), 0);
	ev = simple_ev(MEVI_EV_PROC_EXIT, 7, 2);
	assert_int_equal(ingest_event(&in, &ev), 0);
	ev = map_ev(7, 3);
	assert_int_equal(ingest_event(&in, &ev), 1);
	assert_false(in.why[0]);
	ingest_destroy(&in);
	session_registry_destroy(&reg);
}

/* Loads pin a new recorded session whatever its key; pinned sessions are
 * neither detached nor evicted until unpinned. */
static void test_load(void **state)
{
	struct session_registry reg;
	struct ingest in, again;
	struct mevi_event ev = start_ev(1);
	struct session *s;

	(void)state;
	session_registry_init(&reg, 0, NULL, NULL);
	ingest_start(&in, &reg, INGEST_LOAD);
	assert_int_equal(ingest_event(&in, &ev), 0);
	s = in.session;
	assert_non_null(s);
	assert_true(s->pinned);
	assert_null(s->conn);
	assert_true(s->recorded);
	assert_int_equal(reg.detached, 0);
	assert_int_equal(session_registry_forget(&reg, s->id), -EBUSY);

	/* The same key again: a second, separate session. */
	ingest_start(&again, &reg, INGEST_LOAD);
	assert_int_equal(ingest_event(&again, &ev), 0);
	assert_ptr_not_equal(again.session, s);
	session_registry_discard(&reg, again.session);

	/* A reconnect inside the recording resumes; another session is refused. */
	ev = map_ev(7, 1);
	assert_int_equal(ingest_event(&in, &ev), 0);
	ev = start_ev(1);
	ev.ts = 2;
	assert_int_equal(ingest_event(&in, &ev), 0);
	assert_int_equal(s->nprocs, 0);
	ev = start_ev(99);
	assert_int_equal(ingest_event(&in, &ev), -EBADMSG);
	assert_string_equal(in.why, "a session_start of another session");

	/* Unpinned with max_detached 0: evicted at once. */
	session_registry_detach_how(&reg, s, 0);
	assert_null(reg.head);
	session_registry_destroy(&reg);

	/* After session_end: -EBADMSG for a file. */
	session_registry_init(&reg, 4, NULL, NULL);
	ingest_start(&in, &reg, INGEST_LOAD);
	ev = start_ev(1);
	assert_int_equal(ingest_event(&in, &ev), 0);
	ev = simple_ev(MEVI_EV_SESSION_END, LPID, 3);
	assert_int_equal(ingest_event(&in, &ev), 0);
	ev = map_ev(7, 4);
	assert_int_equal(ingest_event(&in, &ev), -EBADMSG);
	assert_string_equal(in.why, "map after session_end");
	ev = map_ev(7, 4);
	ingest_start(&again, &reg, INGEST_LOAD);
	assert_int_equal(ingest_event(&again, &ev), -EBADMSG);
	assert_string_equal(again.why, "the first event must be session_start, not map");
	session_registry_destroy(&reg);
}

/* Replays take the live id and skip what the live session refused. */
static void test_replay(void **state)
{
	struct session_registry reg;
	struct ingest in;
	struct mevi_event ev = start_ev(1);

	(void)state;
	session_registry_init(&reg, UINT32_MAX, NULL, NULL);
	reg.quiet = true;
	ingest_start(&in, &reg, INGEST_REPLAY);
	in.replay_id = 42;
	assert_int_equal(ingest_event(&in, &ev), 0);
	assert_int_equal(in.session->id, 42);
	assert_true(in.session->pinned);
	assert_false(in.session->recorded);
	ev = simple_ev(MEVI_EV_SESSION_END, LPID, 3);
	assert_int_equal(ingest_event(&in, &ev), 0);
	ev = map_ev(7, 4);
	assert_int_equal(ingest_event(&in, &ev), 1);
	assert_false(in.why[0]);
	assert_int_equal(in.events, 3);
	session_registry_destroy(&reg);
}

/* The live byte path: batches in any split, then garbage. */
static void test_feed(void **state)
{
	struct session_registry reg;
	struct mevi_batch_encoder enc;
	struct mevi_event ev = start_ev(1);
	msgpack_sbuffer sb;
	struct ingest in;
	char conn;

	(void)state;
	session_registry_init(&reg, 4, NULL, NULL);
	msgpack_sbuffer_init(&sb);
	mevi_batch_encoder_init(&enc);
	assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
	ev = map_ev(7, 1);
	assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
	assert_int_equal(mevi_batch_encoder_finish(&enc, &sb), 0);
	assert_int_equal(ingest_init(&in, &reg, &conn, NULL, NULL, NULL), 0);
	for (size_t i = 0; i < sb.size; i++)
		assert_int_equal(ingest_feed(&in, sb.data + i, 1), 0);
	assert_int_equal(in.events, 2);
	assert_int_equal(in.session->nprocs, 1);
	assert_int_equal(ingest_feed(&in, "\xc1", 1), -EBADMSG);
	assert_non_null(strstr(in.why, "bad input: "));
	assert_int_equal(ingest_feed(&in, sb.data, sb.size), -EPROTO);
	ingest_destroy(&in);
	mevi_batch_encoder_destroy(&enc);
	msgpack_sbuffer_destroy(&sb);
	session_registry_destroy(&reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_live), cmocka_unit_test(test_dropped),
	    cmocka_unit_test(test_load), cmocka_unit_test(test_replay),
	    cmocka_unit_test(test_feed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
