/*
 * test_access — daemon/access.c without a server: the token (randomness,
 * file mode, constant-time comparison), cookie parsing, and the peer-uid
 * lookup (sock_diag by exact 4-tuple over IPv4 and IPv6 loopback, and
 * SO_PEERCRED), including a peer of another uid when run as root; and the
 * socket-path rule of proto/sockpath.h (a relative XDG_RUNTIME_DIR, directory
 * trust). Prints the cost of one lookup.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "access.h"
#include "sockpath.h"

static void test_token_and_file(void **state)
{
	char dir[] = "/tmp/mevi-access-XXXXXX", sock[64], path[80], err[256], buf[128];
	struct access a, b;
	struct stat st;
	int fd;
	ssize_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/mevid.sock", dir);
	assert_int_equal(access_init(&a, sock, false, err, sizeof(err)), 0);
	assert_int_equal(strlen(a.token), ACCESS_TOKEN_LEN);
	snprintf(path, sizeof(path), "%s.token", sock);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_int_equal(n, ACCESS_TOKEN_LEN + 1);
	assert_memory_equal(buf, a.token, ACCESS_TOKEN_LEN);
	assert_true(access_token_equal(&a, buf, ACCESS_TOKEN_LEN));
	buf[5] ^= 1;
	assert_false(access_token_equal(&a, buf, ACCESS_TOKEN_LEN));
	assert_false(access_token_equal(&a, a.token, ACCESS_TOKEN_LEN - 1));
	assert_false(access_token_equal(&a, "", 0));
	/* A second daemon start makes another token and replaces the file. */
	assert_int_equal(access_init(&b, NULL, false, err, sizeof(err)), 0);
	assert_string_not_equal(a.token, b.token);
	access_set_port(&a, 5001);
	assert_int_equal(access_cookie(&a, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "mevi_token_5001="));
	assert_non_null(strstr(buf, "HttpOnly"));
	assert_non_null(strstr(buf, "SameSite=Strict"));
	access_destroy(&a);
	access_destroy(&b);
	assert_int_equal(stat(path, &st), -1);
	rmdir(dir);
}

static void test_cookie_value(void **state)
{
	size_t len = 0;
	const char *v;

	(void)state;
	v = access_cookie_value("a=1; mevi_token_5001=abc; b=2", "mevi_token_5001", &len);
	assert_non_null(v);
	assert_int_equal(len, 3);
	assert_memory_equal(v, "abc", 3);
	v = access_cookie_value("mevi_token_50011=zz;mevi_token_5001=q", "mevi_token_5001", &len);
	assert_non_null(v);
	assert_int_equal(len, 1);
	assert_null(access_cookie_value("mevi_token_5002=abc", "mevi_token_5001", &len));
	assert_null(access_cookie_value("", "mevi_token_5001", &len));
}

/* A connected TCP pair over loopback (family AF_INET or AF_INET6): *srv is
 * the accepted end, *cli the connecting one. */
static int tcp_pair(int family, int *srv, int *cli)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0)
		return -errno;
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_addr = in6addr_loopback;
		len = sizeof(*s);
	}
	if (bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)&ss, &len) < 0) {
		close(l);
		return -errno;
	}
	*cli = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*cli < 0 || connect(*cli, (struct sockaddr *)&ss, len) < 0) {
		close(l);
		return -errno;
	}
	*srv = accept(l, NULL, NULL);
	close(l);
	return *srv < 0 ? -errno : 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void lookup_family(int family)
{
	int diag = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	int srv = -1, cli = -1, ret;
	uid_t uid = (uid_t)-1;
	uint64_t t0;
	const int rounds = 2000;

	assert_true(diag >= 0);
	ret = tcp_pair(family, &srv, &cli);
	if (ret == -EADDRNOTAVAIL || ret == -EAFNOSUPPORT) {
		close(diag);
		printf("# skip IPv6: no ::1 here\n");
		return;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(access_peer_uid(diag, srv, &uid), 0);
	assert_int_equal(uid, getuid());
	t0 = now_ns();
	for (int i = 0; i < rounds; i++)
		assert_int_equal(access_peer_uid(diag, srv, &uid), 0);
	printf("# peer uid lookup over %s (sock_diag): %.2f us\n",
	       family == AF_INET ? "IPv4" : "IPv6", (double)(now_ns() - t0) / rounds / 1000.0);
	close(cli);
	close(srv);
	close(diag);
}

static void test_peer_uid_ipv4(void **state)
{
	(void)state;
	lookup_family(AF_INET);
}

static void test_peer_uid_ipv6(void **state)
{
	(void)state;
	lookup_family(AF_INET6);
}

/* The other end owned by another uid: a child that drops to nobody and
 * connects; sock_diag must report 65534. */
static void test_peer_uid_other_user(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int diag, l, srv, p[2];
	uid_t uid = 0;
	pid_t pid;
	char c;

	(void)state;
	if (getuid() != 0) {
		skip();
		return;
	}
	diag = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(1);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(2);
		if (read(p[0], &c, 1) < 0)
			_exit(3);
		_exit(0);
	}
	srv = accept(l, NULL, NULL);
	assert_true(srv >= 0);
	assert_int_equal(access_peer_uid(diag, srv, &uid), 0);
	assert_int_equal(uid, 65534);
	/* SO_PEERCRED on a Unix pair: our own uid. */
	{
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		uid = 12345;
		assert_int_equal(access_peer_uid(diag, sv[0], &uid), 0);
		assert_int_equal(uid, getuid());
		close(sv[0]);
		close(sv[1]);
	}
	assert_int_equal(write(p[1], "x", 1), 1);
	waitpid(pid, NULL, 0);
	close(srv);
	close(l);
	close(diag);
	close(p[0]);
	close(p[1]);
}

/* A peer that sends and closes at once: its socket turns into a timewait
 * mini-socket that sock_diag reports as uid 0. It must not pass for root. */
static void test_peer_closed_is_not_root(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int diag, l, srv, ret;
	uid_t uid = 12345;
	pid_t pid;
	char c;

	(void)state;
	if (getuid() != 0) {
		skip();
		return;
	}
	diag = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	pid = fork();
	if (pid == 0) {
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(1);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || write(fd, "x", 1) != 1)
			_exit(2);
		_exit(0); /* closes: FIN_WAIT -> timewait mini-socket */
	}
	srv = accept(l, NULL, NULL);
	assert_true(srv >= 0);
	waitpid(pid, NULL, 0);
	assert_int_equal(read(srv, &c, 1), 1);
	assert_int_equal(read(srv, &c, 1), 0); /* the peer's FIN */
	usleep(20000);
	ret = access_peer_uid(diag, srv, &uid);
	printf("# closed peer: ret %d uid %u\n", ret, (unsigned)uid);
	assert_true(ret != 0 || uid == 65534);
	assert_false(ret == 0 && uid == 0);
	close(srv);
	close(l);
	close(diag);
}

/* The one socket-path rule both binaries use (proto/sockpath.h). */
static void test_sockpath_rule(void **state)
{
	char buf[108], want[64], dir[] = "/tmp/mevi-sockpath-XXXXXX", path[96], err[512];
	const char *old_x = getenv("XDG_RUNTIME_DIR"), *old_m = getenv("MEVI_SOCKET");
	char *saved_x = old_x ? strdup(old_x) : NULL, *saved_m = old_m ? strdup(old_m) : NULL;

	(void)state;
	unsetenv("MEVI_SOCKET");
	snprintf(want, sizeof(want), "/tmp/mevi-%u/mevid.sock", (unsigned)getuid());
	setenv("XDG_RUNTIME_DIR", "relative/dir", 1); /* ignored, as the spec says */
	assert_int_equal(sockpath_resolve(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	setenv("XDG_RUNTIME_DIR", "/run/user/1234", 1);
	assert_int_equal(sockpath_resolve(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/user/1234/mevi/mevid.sock");
	setenv("MEVI_SOCKET", "/x/env.sock", 1);
	assert_int_equal(sockpath_resolve(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/x/env.sock");
	assert_int_equal(sockpath_resolve("/x/arg.sock", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/x/arg.sock");

	/* Directory trust: private is fine, listable or writable by others is
	 * not, traversable only (0711) is; missing says -ENOENT; a symlink and
	 * another owner are refused. */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/mevid.sock", dir);
	assert_int_equal(sockpath_check_dir(path, err, sizeof(err)), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(sockpath_check_dir(path, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "open to other users"));
	assert_int_equal(chmod(dir, 0711), 0);
	assert_int_equal(sockpath_check_dir(path, err, sizeof(err)), 0);
	assert_int_equal(chmod(dir, 0700), 0);
	if (getuid() == 0) {
		assert_int_equal(chown(dir, 65534, 65534), 0);
		assert_int_equal(sockpath_check_dir(path, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "belongs to uid 65534"));
		assert_int_equal(chown(dir, 0, 0), 0);
	}
	{
		char link[96], lpath[112];

		snprintf(link, sizeof(link), "%s-link", dir);
		assert_int_equal(symlink(dir, link), 0);
		snprintf(lpath, sizeof(lpath), "%s/mevid.sock", link);
		assert_int_not_equal(sockpath_check_dir(lpath, err, sizeof(err)), 0);
		unlink(link);
	}
	rmdir(dir);
	assert_int_equal(sockpath_check_dir(path, err, sizeof(err)), -ENOENT);

	if (saved_x)
		setenv("XDG_RUNTIME_DIR", saved_x, 1);
	else
		unsetenv("XDG_RUNTIME_DIR");
	if (saved_m)
		setenv("MEVI_SOCKET", saved_m, 1);
	else
		unsetenv("MEVI_SOCKET");
	free(saved_x);
	free(saved_m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_and_file),	    cmocka_unit_test(test_cookie_value),
	    cmocka_unit_test(test_peer_uid_ipv4),	    cmocka_unit_test(test_peer_uid_ipv6),
	    cmocka_unit_test(test_peer_uid_other_user),	    cmocka_unit_test(test_sockpath_rule),
	    cmocka_unit_test(test_peer_closed_is_not_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
