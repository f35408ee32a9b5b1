/*
 * heat_events — heat across THP, mremap, fork and exec.
 *
 * Prints "<NAME> <pid> <start> <end>" lines (hex) for what the test checks,
 * sleeping PHASE_MS between phases so that mevi-run --heat=100 scans in
 * between:
 *   THP   a 2 MiB-aligned huge-page-advised region, written whole once;
 *   MOVED a 16-page buffer written, moved by mremap, then only its first
 *         page written again (OLD is where it was);
 *   CHILD a buffer a fork child maps and writes;
 *   EXEC  a buffer the child writes after exec'ing this program again.
 * Also prints "SMAPS_THP <kB before> <kB after>": AnonHugePages of the THP
 * region after it was populated and after one more byte was written into it
 * (a write to a write-protected huge page splits it).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE	 4096UL
#define HUGE	 (2UL << 20)
#define PHASE_MS 500

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, ms % 1000 * 1000000};

	nanosleep(&ts, NULL);
}

static char *anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

static void say(const char *name, const void *p, size_t len)
{
	printf("%s %d %lx %lx\n", name, (int)getpid(), (unsigned long)p, (unsigned long)p + len);
	fflush(stdout);
}

/* AnonHugePages (kB) of the smaps entry holding p. */
static long thp_kb(const void *p)
{
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)p >= s && (uintptr_t)p < e;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	char *raw, *thp, *buf, *moved, *child;
	long before, after;
	pid_t pid;
	int st;

	if (argc > 1 && !strcmp(argv[1], "execd")) {
		nap(PHASE_MS);
		buf = anon(8 * PAGE);
		nap(PHASE_MS); /* watched before written */
		memset(buf, 3, 8 * PAGE);
		say("EXEC", buf, 8 * PAGE);
		nap(PHASE_MS);
		return 0;
	}
	nap(PHASE_MS); /* mevi-run watches from here on */

	raw = anon(2 * HUGE);
	thp = (char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
	madvise(thp, HUGE, MADV_HUGEPAGE);
	buf = anon(16 * PAGE);
	nap(PHASE_MS);
	memset(thp, 1, HUGE);
	memset(buf, 1, 16 * PAGE);
	before = thp_kb(thp);
	nap(PHASE_MS);
	thp[PAGE * 3] = 2; /* one page of the (write-protected) huge page */
	after = thp_kb(thp);
	printf("SMAPS_THP %ld %ld\n", before, after);
	say("THP", thp, HUGE);

	/* mremap: move the written buffer, then write its first page only. */
	say("OLD", buf, 16 * PAGE);
	moved = mremap(buf, 16 * PAGE, 32 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, anon(64 * PAGE));
	if (moved == MAP_FAILED) {
		perror("mremap");
		return 2;
	}
	nap(PHASE_MS);
	moved[0] = 9;
	say("MOVED", moved, 16 * PAGE);
	nap(PHASE_MS);

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		nap(PHASE_MS);
		child = anon(8 * PAGE);
		nap(PHASE_MS);
		memset(child, 2, 8 * PAGE);
		say("CHILD", child, 8 * PAGE);
		nap(PHASE_MS);
		execl("/proc/self/exe", argv[0], "execd", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return 3;
	nap(PHASE_MS);
	return 0;
}
