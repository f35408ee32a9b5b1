/*
 * bench_mevid — throughput and footprint of mevid, through its real sockets:
 *
 *  - events/s a launcher can push into mevid (pre-encoded batches, so the
 *    launcher side costs nothing), with 0, 1, 8 and 32 tabs reading /stream;
 *  - mevid's CPU use at a steady 100,000 and 1,000,000 events/s fanned out
 *    to 8 tabs, and at 100,000 events/s to 32 tabs;
 *  - mevid's RSS with 10 concurrent sessions, and with 32 tabs of which 3
 *    are stalled (never read).
 *
 * Prints numbers; never fails on timing. Usage: bench_mevid [EVENTS]; the
 * environment variable BENCH_MEVID names another mevid to measure.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "harness.h"
#include "memmap.h"

#define BATCH 4096

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of pid, in seconds. */
static double cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (p &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
		return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

/* Encodes n events for pid (map, state, unmap of rotating pages: the state
 * stays small while every event does real work) as batches of BATCH. */
static msgpack_sbuffer encode_events(int32_t pid, size_t n)
{
	msgpack_sbuffer out;
	struct mevi_batch_encoder enc;

	msgpack_sbuffer_init(&out);
	mevi_batch_encoder_init(&enc);
	for (size_t i = 0; i < n; i++) {
		uint64_t page = 0x7f0000000000 + (uint64_t)(i / 3 % 1024) * 8192;
		struct mevi_event ev;

		switch (i % 3) {
		case 0:
			ev = ev_range(MEVI_EV_MAP, pid, page, page + 4096, MEVI_STATE_NOT_RESIDENT);
			break;
		case 1:
			ev = ev_range(MEVI_EV_STATE, pid, page, page + 4096, MEVI_STATE_RESIDENT);
			break;
		default:
			ev = ev_range(MEVI_EV_UNMAP, pid, page, page + 4096, 0);
			break;
		}
		mevi_batch_encoder_add(&enc, &ev);
		if (enc.count == BATCH)
			mevi_batch_encoder_finish(&enc, &out);
	}
	mevi_batch_encoder_finish(&enc, &out);
	mevi_batch_encoder_destroy(&enc);
	return out;
}

static struct mevi_str argv_items[] = {{"bench", 5}};

static int start_session(const char *sock, int32_t lpid, int32_t pid)
{
	int fd = fl_connect(sock, NULL, 0);
	struct mevi_event evs[] = {
	    ev_session_start(lpid, (uint64_t)lpid, false, (struct mevi_strv){1, argv_items}),
	    ev_proc_start(pid, lpid, 0, (struct mevi_strv){1, argv_items}),
	};

	if (fd < 0 || fl_send(fd, evs, 2))
		return -1;
	return fd;
}

/* Waits until mevid has applied everything sent so far: /api/state drains
 * every launcher socket before answering (an unknown pid keeps it short). */
static void sync_daemon(int port)
{
	struct http_reply r;

	if (http_request(port, "GET", "/api/state?pid=1", NULL, &r) == 0)
		http_reply_free(&r);
}

struct tab {
	int fd;
	pthread_t th;
	atomic_ullong bytes;
	atomic_bool stop;
};

static void *tab_main(void *arg)
{
	struct tab *t = arg;
	static __thread char buf[1 << 16];

	while (!atomic_load(&t->stop)) {
		ssize_t n = recv(t->fd, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		atomic_fetch_add(&t->bytes, (unsigned long long)n);
	}
	return NULL;
}

static struct tab *open_tabs(int port, int n, int stalled)
{
	struct tab *tabs = calloc((size_t)n, sizeof(*tabs));
	char origin[64];
	int status;

	snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", port);
	for (int i = 0; i < n; i++) {
		tabs[i].fd = ws_connect(port, "/stream", origin, &status, i < stalled ? 4096 : 0);
		if (i >= stalled)
			pthread_create(&tabs[i].th, NULL, tab_main, &tabs[i]);
	}
	return tabs;
}

static void close_tabs(struct tab *tabs, int n, int stalled)
{
	for (int i = 0; i < n; i++) {
		atomic_store(&tabs[i].stop, true);
		shutdown(tabs[i].fd, SHUT_RDWR);
		if (i >= stalled)
			pthread_join(tabs[i].th, NULL);
		close(tabs[i].fd);
	}
	free(tabs);
}

int main(int argc, char **argv)
{
	size_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 3000000;
	const char *args[] = {"--max-ended-sessions", "4", NULL};
	struct mevid_proc m = {0};
	msgpack_sbuffer buf;
	int32_t lpid = 1000;

	signal(SIGPIPE, SIG_IGN);
	/* BENCH_MEVID=PATH measures another build's mevid (before/after runs). */
	if (getenv("BENCH_MEVID"))
		harness_mevid = getenv("BENCH_MEVID");
	if (mevid_spawn(&m, args)) {
		fprintf(stderr, "bench_mevid: cannot start %s\n", harness_mevid);
		return 1;
	}
	buf = encode_events(1, events);
	printf("mevid %s, %zu events per run (%.1f bytes/event on the wire)\n", harness_mevid,
	       events, (double)buf.size / (double)events);

	/* Each run is a new session whose process is pid 1. */
	static const int tab_counts[] = {0, 1, 8, 32};

	for (size_t k = 0; k < sizeof(tab_counts) / sizeof(tab_counts[0]); k++) {
		int tabs_n = tab_counts[k];
		struct tab *tabs = tabs_n ? open_tabs(m.port, tabs_n, 0) : NULL;
		unsigned long long bytes = 0;
		double rate;
		int fd;

		usleep(100000);
		fd = start_session(m.sock, ++lpid, 1);
		sync_daemon(m.port);
		{
			double t0 = now_s();

			fl_send_raw(fd, buf.data, buf.size);
			sync_daemon(m.port);
			rate = (double)events / (now_s() - t0);
		}
		close(fd);
		usleep(200000);
		for (int i = 0; i < tabs_n; i++)
			bytes += atomic_load(&tabs[i].bytes);
		printf("ingest with %2d tab(s): %8.0f events/s%s", tabs_n, rate,
		       tabs_n ? "" : "\n");
		if (tabs_n)
			printf(", %.1f MB fanned out (tabs that fall behind skip to a snapshot)\n",
			       (double)bytes / 1e6);
		if (tabs)
			close_tabs(tabs, tabs_n, 0);
	}

	/* CPU at steady rates: 100k and 1M events/s to 8 tabs, and the issue's
	 * target case, 100k events/s to 32 tabs (under half a core). */
	static const struct {
		size_t rate;
		int ntabs;
	} steady[] = {{100000, 8}, {1000000, 8}, {100000, 32}};
	for (size_t k = 0; k < sizeof(steady) / sizeof(steady[0]); k++) {
		const size_t rate = steady[k].rate;
		const int ntabs = steady[k].ntabs;
		struct tab *tabs = open_tabs(m.port, ntabs, 0);
		const size_t secs = 3, per_tick = rate / 100;
		msgpack_sbuffer tick = encode_events(1, per_tick);
		int fd = start_session(m.sock, ++lpid, 1);
		unsigned long long bytes = 0;
		double c0, c1, t0;

		usleep(100000);
		c0 = cpu_s(m.pid);
		t0 = now_s();
		for (size_t i = 0; i < secs * 100; i++) {
			double due = t0 + (double)(i + 1) / 100.0;

			fl_send_raw(fd, tick.data, tick.size);
			while (now_s() < due)
				usleep(500);
		}
		sync_daemon(m.port);
		c1 = cpu_s(m.pid);
		usleep(200000);
		for (int i = 0; i < ntabs; i++)
			bytes += atomic_load(&tabs[i].bytes);
		printf("steady %7zu events/s to %2d tabs: mevid uses %5.1f%% of one core, "
		       "%.1f MB per tab\n",
		       rate, ntabs, 100.0 * (c1 - c0) / (now_s() - t0),
		       (double)bytes / (1e6 * ntabs));
		close(fd);
		msgpack_sbuffer_destroy(&tick);
		close_tabs(tabs, ntabs, 0);
	}

	/* RSS with 10 concurrent sessions, each with a process of 10,000 ranges. */
	{
		int fds[10];
		long before = proc_rss_kib(m.pid);

		for (int s = 0; s < 10; s++) {
			struct mevi_event evs[1000];

			fds[s] = start_session(m.sock, ++lpid, 100 + s);
			for (int b = 0; b < 10; b++) {
				for (int i = 0; i < 1000; i++) {
					uint64_t page =
					    0x7f0000000000 + (uint64_t)(b * 1000 + i) * 8192;

					evs[i] = ev_range(MEVI_EV_MAP, 100 + s, page, page + 4096,
							  (uint8_t)(i % 2));
				}
				fl_send(fds[s], evs, 1000);
			}
		}
		sync_daemon(m.port);
		printf(
		    "RSS with 10 live sessions of 10,000 ranges each: %ld KiB (%ld KiB before)\n",
		    proc_rss_kib(m.pid), before);

		/* ... and 32 tabs of which 3 stalled, while the sessions churn. */
		{
			struct tab *tabs = open_tabs(m.port, 32, 3);
			msgpack_sbuffer churn = encode_events(100, 300000);
			long peak = 0;

			for (int r = 0; r < 10; r++) {
				long rss;

				fl_send_raw(fds[0], churn.data, churn.size);
				sync_daemon(m.port);
				rss = proc_rss_kib(m.pid);
				if (rss > peak)
					peak = rss;
			}
			printf("RSS with 32 tabs (3 stalled) during 3M events: peak %ld KiB\n",
			       peak);
			msgpack_sbuffer_destroy(&churn);
			close_tabs(tabs, 32, 3);
		}
		for (int s = 0; s < 10; s++)
			close(fds[s]);
	}
	msgpack_sbuffer_destroy(&buf);
	mevid_stop(&m);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", m.dir);
		if (getenv("BENCH_KEEP"))
			printf("log: %s\n", m.log);
		else if (system(cmd) != 0)
			return 1;
	}
	return 0;
}
