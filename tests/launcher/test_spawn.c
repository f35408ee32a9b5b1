/*
 * The eBPF engine's split in steps (launcher/spawn.h): what the original
 * process hands over reaches the tracer whole (the note, and descriptors that
 * work and are close-on-exec), PROGRAM then runs with the launcher's pid and
 * exit status, without waiting for the tracer's release; a call-off, or an original that dies first (its hello unread:
 * a reset), sends the tracer away; a hand-over the tracer did not expect is
 * refused with nothing kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "spawn.h"

/* What the tracer saw, written to the test over a pipe. */
struct report {
	int err;      /* spawn_receive()'s return */
	size_t nfds;  /* descriptors received */
	char note[8]; /* the note received */
	int cloexec;  /* the first descriptor is close-on-exec */
	int wrote;    /* writing through the first descriptor worked */
	int kept;     /* descriptors more than before receiving */
	char after;   /* 'x': PROGRAM exec'd with no release (0: not handed over) */
};

enum original_does { HAND_OVER, HAND_OVER_LONG, CALL_OFF, DIE };

static char *const program[] = {"sh", "-c", "exit 7", NULL};

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* The tracer's side: receives, reports, waits for PROGRAM's exec. */
static void __attribute__((noreturn)) tracer(struct spawn *sp, int res)
{
	struct report rep = {0};
	int fds[4] = {-1, -1, -1, -1};

	int before = open_fds();

	rep.err = spawn_receive(sp, rep.note, sizeof(rep.note), fds, 4, &rep.nfds);
	if (rep.err == 0 && rep.nfds > 0) {
		rep.cloexec = (fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0;
		rep.wrote = write(fds[0], "via-fd", 6) == 6;
	}
	rep.kept = open_fds() - before;
	if (write(res, &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	if (rep.err == 0) {
		/* Handed over, PROGRAM goes on by itself: its exec is seen
		 * with no release, which is then a no-op. */
		char after = spawn_wait_exec(sp, NULL, NULL) == 0 ? 'x' : '!';

		spawn_release(sp, true);
		if (write(res, &after, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

/*
 * Runs a launcher that splits and whose original does what; returns its exit
 * status (PROGRAM's own when handed over) and fills *rep with what the tracer
 * saw. *data_end is the read end of the pipe whose write end was handed over.
 */
static int run(enum original_does what, struct report *rep, int *data_end)
{
	int res[2], data[2], status;
	pid_t launcher;

	assert_int_equal(pipe(res), 0);
	assert_int_equal(pipe2(data, O_CLOEXEC), 0);
	launcher = fork();
	assert_true(launcher >= 0);
	if (launcher == 0) {
		struct spawn sp;
		int fds[2] = {data[1], data[1]};

		close(res[0]);
		close(data[0]);
		if (spawn_split(&sp, program) == 0)
			tracer(&sp, res[1]);
		close(res[1]);
		switch (what) {
		case HAND_OVER:
			spawn_hand_over(&sp, program, "NOTE1234", 8, fds, 2);
		case HAND_OVER_LONG: /* a note longer than the tracer takes */
			spawn_hand_over(&sp, program, "NOTE12345678", 12, fds, 2);
		case CALL_OFF:
			spawn_call_off(&sp);
			_exit(3);
		case DIE: {
			/* After the tracer's hello, unread: its receive sees a reset. */
			struct pollfd p = {.fd = sp.fd, .events = POLLIN};

			poll(&p, 1, 10000);
			_exit(9);
		}
		}
		_exit(1);
	}
	close(res[1]);
	close(data[1]);
	assert_int_equal(waitpid(launcher, &status, 0), launcher);
	memset(rep, 0, sizeof(*rep));
	assert_int_equal(read(res[0], rep, sizeof(*rep)), sizeof(*rep));
	if (read(res[0], &rep->after, 1) != 1) /* EOF: the tracer is gone */
		rep->after = 0;
	close(res[0]);
	*data_end = data[0];
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_hand_over(void **state)
{
	struct report rep;
	char buf[8] = {0};
	int data, status = run(HAND_OVER, &rep, &data);

	assert_int_equal(status, 7); /* PROGRAM ran, with the launcher's pid */
	assert_int_equal(rep.err, 0);
	assert_int_equal(rep.nfds, 2);
	assert_memory_equal(rep.note, "NOTE1234", 8);
	assert_true(rep.cloexec);
	assert_true(rep.wrote);
	assert_int_equal(rep.kept, 2);
	assert_int_equal(rep.after, 'x');
	assert_int_equal(read(data, buf, 6), 6);
	assert_string_equal(buf, "via-fd");
	close(data);
}

static void test_call_off(void **state)
{
	struct report rep;
	int data, status = run(CALL_OFF, &rep, &data);

	assert_int_equal(status, 3); /* the original went on alone */
	assert_int_equal(rep.err, -ECANCELED);
	assert_int_equal(rep.nfds, 0);
	assert_int_equal(rep.kept, 0);
	close(data);
}

static void test_original_dies(void **state)
{
	struct report rep;
	int data, status = run(DIE, &rep, &data);

	assert_int_equal(status, 9);
	assert_int_equal(rep.err, -ECANCELED);
	close(data);
}

static void test_unexpected_hand_over(void **state)
{
	struct report rep;
	int data, status = run(HAND_OVER_LONG, &rep, &data);

	/* Refused: nothing kept, and PROGRAM runs untracked all the same. */
	assert_int_equal(rep.err, -EPROTO);
	assert_int_equal(rep.nfds, 0);
	assert_int_equal(rep.kept, 0);
	assert_int_equal(status, 7);
	close(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hand_over),
	    cmocka_unit_test(test_call_off),
	    cmocka_unit_test(test_original_dies),
	    cmocka_unit_test(test_unexpected_hand_over),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
