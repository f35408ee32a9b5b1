/*
 * bench_peer_uid — what the peer-uid rule of issue 15 (daemon/access.h) costs:
 *
 *  - the lookup itself, access_peer_uid(): one exact sock_diag request for a
 *    loopback TCP peer (IPv4, and with 2,000 other loopback connections open,
 *    to show it does not scan), SO_PEERCRED for a Unix peer; median and p99
 *    of many calls;
 *  - in a real mevid, per HTTP request on a fresh connection (GET /api/state
 *    admitted by uid, so one lookup, against the same request with the token,
 *    no lookup) and per websocket connect (/stream by uid against
 *    /stream?token=): medians of interleaved runs and their difference, and
 *    mevid's own count and average from its log.
 *
 * Prints numbers; fails only when something does not work (exit 1).
 * Usage: bench_peer_uid [CALLS] [REQUESTS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "harness.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v and returns its q-quantile (0.5: the median). */
static double quantile_us(uint64_t *v, size_t n, double q)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return (double)v[(size_t)((double)(n - 1) * q)] / 1000.0;
}

/* A connected loopback TCP pair: *srv is the accepted end. Returns 0 or -1. */
static int tcp_pair(int lfd, const struct sockaddr_in *addr, int *cli, int *srv)
{
	*cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*cli < 0 || connect(*cli, (const struct sockaddr *)addr, sizeof(*addr)) < 0)
		return -1;
	*srv = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return *srv < 0 ? -1 : 0;
}

/* Times n lookups of fd's peer; prints the median and p99. */
static int time_lookups(const char *what, int diag, int fd, size_t n)
{
	uint64_t *v = calloc(n, sizeof(*v));
	uid_t uid = (uid_t)-1;

	if (!v)
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		int ret = access_peer_uid(diag, fd, &uid);

		v[i] = now_ns() - t0;
		if (ret || uid != getuid()) {
			fprintf(stderr, "%s: lookup failed: %s (uid %d)\n", what,
				strerror(ret ? -ret : EPROTO), (int)uid);
			free(v);
			return -1;
		}
	}
	printf("  %-44s median %6.2f us, p99 %6.2f us (%zu calls)\n", what, quantile_us(v, n, 0.5),
	       quantile_us(v, n, 0.99), n);
	free(v);
	return 0;
}

static int bench_lookup(size_t n)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t alen = sizeof(addr);
	enum { OTHERS = 2000 };
	static int others[OTHERS][2];
	int lfd, diag, cli, srv, ret = -1, sv[2];

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	diag = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (lfd < 0 || diag < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(lfd, 4096) < 0 || getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0 ||
	    tcp_pair(lfd, &addr, &cli, &srv)) {
		perror("bench_peer_uid: loopback setup");
		return -1;
	}
	printf("the lookup (access_peer_uid):\n");
	if (time_lookups("loopback TCP (sock_diag, exact 4-tuple)", diag, srv, n))
		goto out;
	for (int i = 0; i < OTHERS; i++)
		if (tcp_pair(lfd, &addr, &others[i][0], &others[i][1])) {
			perror("bench_peer_uid: more connections");
			goto out;
		}
	if (time_lookups("  ... with 2,000 other loopback connections", diag, srv, n))
		goto out;
	for (int i = 0; i < OTHERS; i++) {
		close(others[i][0]);
		close(others[i][1]);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    time_lookups("Unix socket (SO_PEERCRED)", diag, sv[0], n))
		goto out;
	close(sv[0]);
	close(sv[1]);
	ret = 0;
out:
	close(cli);
	close(srv);
	close(lfd);
	close(diag);
	return ret;
}

/* Times one fresh-connection "GET path" with extra headers hdrs, reading
 * in big reads until the end of the answer's head (websocket) or until mevid
 * closes (Connection: close): the harness reads heads a byte at a time,
 * which would drown the lookup. expect: the status line's start. */
static int request_us(int port, const char *path, const char *hdrs, const char *expect,
		      uint64_t *out)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[512], buf[65536];
	uint64_t t0 = now_ns();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), n, len;
	bool ws = strstr(hdrs, "Upgrade:") != NULL;
	size_t got = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", path,
		       port, hdrs);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    write(fd, req, (size_t)len) != len) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((n = (int)read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
		got += (size_t)n;
		buf[got] = '\0';
		if (ws && strstr(buf, "\r\n\r\n"))
			break;
	}
	*out = now_ns() - t0;
	close(fd);
	buf[got] = '\0';
	if (strncmp(buf, expect, strlen(expect)) != 0) {
		fprintf(stderr, "GET %s: %.40s\n", path, buf);
		return -1;
	}
	return 0;
}

/* Prints the medians of by-uid (a) and by-token (b) times and the difference:
 * what the lookup adds to one what. */
static void print_pair(const char *name, const char *what, uint64_t *a, uint64_t *b, size_t n)
{
	double uid = quantile_us(a, n, 0.5), tok = quantile_us(b, n, 0.5);

	printf("  %-20s by uid (one lookup)   median %7.1f us\n", name, uid);
	printf("  %-20s by token (no lookup)  median %7.1f us\n", name, tok);
	printf("  -> the lookup per %-20s         %+7.1f us\n", what, uid - tok);
}

#define WS_HEADERS                                                                                 \
	"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"               \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

static int bench_mevid(size_t n)
{
	struct mevid_proc m = {0};
	char token[ACCESS_TOKEN_LEN + 1] = "", path[256], close_bearer[160], ws_bearer[320];
	uint64_t *a = calloc(n, sizeof(*a)), *b = calloc(n, sizeof(*b));
	int fd, ret = -1;
	ssize_t got;

	if (!a || !b || mevid_spawn(&m, NULL)) {
		fprintf(stderr, "bench_peer_uid: cannot start mevid\n");
		goto out_free;
	}
	snprintf(path, sizeof(path), "%s.token", m.sock);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	got = fd < 0 ? -1 : read(fd, token, ACCESS_TOKEN_LEN);
	if (fd >= 0)
		close(fd);
	if (got != ACCESS_TOKEN_LEN) {
		fprintf(stderr, "bench_peer_uid: cannot read %s\n", path);
		goto out_stop;
	}
	snprintf(close_bearer, sizeof(close_bearer),
		 "Connection: close\r\nAuthorization: Bearer %s\r\n", token);
	snprintf(ws_bearer, sizeof(ws_bearer), "%sAuthorization: Bearer %s\r\n", WS_HEADERS, token);
	printf("in mevid (fresh connection each, %zu of each, interleaved):\n", n);
	for (size_t i = 0; i < n; i++)
		if (request_us(m.port, "/api/state", "Connection: close\r\n", "HTTP/1.1 200",
			       &a[i]) ||
		    request_us(m.port, "/api/state", close_bearer, "HTTP/1.1 200", &b[i]))
			goto out_stop;
	print_pair("GET /api/state", "HTTP request", a, b, n);
	for (size_t i = 0; i < n; i++)
		if (request_us(m.port, "/stream", WS_HEADERS, "HTTP/1.1 101", &a[i]) ||
		    request_us(m.port, "/stream", ws_bearer, "HTTP/1.1 101", &b[i]))
			goto out_stop;
	print_pair("websocket connect", "websocket connect", a, b, n);
	ret = 0;
out_stop:
	mevid_stop(&m);
	{
		FILE *f = fopen(m.log, "r");
		char line[512];

		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "peer uid lookups"))
				printf("  mevid's own count: %s", strstr(line, "peer uid lookups"));
		if (f)
			fclose(f);
	}
out_free:
	free(a);
	free(b);
	return ret;
}

int main(int argc, char **argv)
{
	size_t calls = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
	size_t reqs = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;

	struct rlimit rl;

	/* 2,000 extra connections are 4,000 descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!calls || !reqs) {
		fprintf(stderr, "usage: bench_peer_uid [CALLS] [REQUESTS]\n");
		return 2;
	}
	if (bench_lookup(calls) || bench_mevid(reqs))
		return 1;
	return 0;
}
