#include "harness.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <msgpack.h>

#include "decoder.h"

const char *harness_mevid = MEVID_PATH;

/* Daemons started by mevid_spawn(), killed at exit if a failed test left
 * them running. */
static pid_t spawned[64];
static int nspawned;

static void kill_spawned(void)
{
	for (int i = 0; i < nspawned; i++) {
		int st;

		if (spawned[i] > 0 && waitpid(spawned[i], &st, WNOHANG) == 0) {
			kill(spawned[i], SIGKILL);
			waitpid(spawned[i], &st, 0);
		}
	}
	nspawned = 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads exactly len bytes before the deadline. Returns 0, or -1. */
static int read_full(int fd, void *buf, size_t len, uint64_t deadline)
{
	char *p = buf;

	while (len > 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ms();
		ssize_t n;

		if (now >= deadline)
			return -1;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		n = read(fd, p, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			poll(&pfd, 1, 1000);
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int harness_tmpdir(struct mevid_proc *m)
{
	strcpy(m->dir, "/tmp/mevid-test-XXXXXX");
	if (!mkdtemp(m->dir))
		return -1;
	snprintf(m->sock, sizeof(m->sock), "%s/mevid.sock", m->dir);
	snprintf(m->log, sizeof(m->log), "%s/mevid.log", m->dir);
	return 0;
}

/*
 * MEVID_TEST_WRAPPER="valgrind --error-exitcode=99 ..." runs the daemons of
 * mevid_spawn() under that command. Fills argv with its words; returns how
 * many (at most max).
 */
static size_t wrapper_args(const char **argv, size_t max)
{
	static char buf[512];
	const char *env = getenv("MEVID_TEST_WRAPPER");
	size_t n = 0;

	if (!env || !*env)
		return 0;
	snprintf(buf, sizeof(buf), "%s", env);
	for (char *tok = strtok(buf, " "); tok && n < max; tok = strtok(NULL, " "))
		argv[n++] = tok;
	return n;
}

int mevid_spawn(struct mevid_proc *m, const char *const *args)
{
	const char *argv[32];
	char url[128];
	size_t n = 0;
	uint64_t deadline;
	int fd;

	if (!m->dir[0] && harness_tmpdir(m))
		return -1;
	n = wrapper_args(argv, 16);
	argv[n++] = harness_mevid;
	argv[n++] = "--foreground";
	argv[n++] = "--socket";
	argv[n++] = m->sock;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	for (size_t i = 0; args && args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	m->pid = fork();
	if (m->pid < 0)
		return -1;
	if (m->pid == 0) {
		int log = open(m->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* Dies with the test, even when the test is killed by its timeout. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (log >= 0) {
			dup2(log, STDOUT_FILENO);
			dup2(log, STDERR_FILENO);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (nspawned == 0)
		atexit(kill_spawned);
	if (nspawned < (int)(sizeof(spawned) / sizeof(spawned[0])))
		spawned[nspawned++] = m->pid;
	deadline = now_ms() + 15000;
	while (now_ms() < deadline) {
		fd = fl_connect(m->sock, url, sizeof(url));
		if (fd >= 0) {
			const char *colon = strrchr(url, ':');

			close(fd);
			m->port = colon ? atoi(colon + 1) : 0;
			return m->port > 0 ? 0 : -1;
		}
		if (!mevid_alive(m))
			return -1;
		usleep(10000);
	}
	return -1;
}

bool mevid_alive(struct mevid_proc *m)
{
	int st;

	return m->pid > 0 && waitpid(m->pid, &st, WNOHANG) == 0;
}

int mevid_stop(struct mevid_proc *m)
{
	int st;
	uint64_t deadline = now_ms() + 20000;

	if (m->pid <= 0)
		return -1;
	kill(m->pid, SIGTERM);
	while (now_ms() < deadline) {
		pid_t r = waitpid(m->pid, &st, WNOHANG);

		if (r == m->pid) {
			m->pid = 0;
			return st;
		}
		usleep(5000);
	}
	kill(m->pid, SIGKILL);
	waitpid(m->pid, &st, 0);
	m->pid = 0;
	return -1;
}

int mevid_run(const char *const *args, char *err, size_t errlen, int timeout_ms)
{
	const char *argv[32];
	size_t n = 0, got = 0;
	int fds[2], st;
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	pid_t pid;

	argv[n++] = harness_mevid;
	for (size_t i = 0; args && args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv(harness_mevid, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		uint64_t now = now_ms();
		ssize_t r;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
			break;
		r = read(fds[0], err + got, errlen - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == errlen - 1)
			break;
	}
	err[got] = '\0';
	close(fds[0]);
	while (now_ms() < deadline) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(5000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

long proc_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* --- fake launcher ------------------------------------------------------ */

int fl_connect(const char *sock, char *url, size_t urllen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	msgpack_unpacker up;
	msgpack_unpacked res;
	uint64_t deadline = now_ms() + 3000;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ret = -1;

	if (fd < 0)
		return -1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	msgpack_unpacker_init(&up, 1024);
	msgpack_unpacked_init(&res);
	while (ret < 0) {
		struct mevi_hello h;
		char c;

		if (read_full(fd, &c, 1, deadline))
			break;
		msgpack_unpacker_reserve_buffer(&up, 1);
		*msgpack_unpacker_buffer(&up) = c;
		msgpack_unpacker_buffer_consumed(&up, 1);
		if (msgpack_unpacker_next(&up, &res) != MSGPACK_UNPACK_SUCCESS)
			continue;
		if (mevi_hello_from_object(&res.data, &h) != MEVI_DECODE_OK)
			break;
		if (url)
			snprintf(url, urllen, "%.*s", (int)h.url.len, h.url.ptr);
		ret = 0;
	}
	msgpack_unpacked_destroy(&res);
	msgpack_unpacker_destroy(&up);
	if (ret) {
		close(fd);
		return -1;
	}
	return fd;
}

int fl_send(int fd, const struct mevi_event *events, size_t n)
{
	struct mevi_batch_encoder enc;
	msgpack_sbuffer out;
	int ret = 0;

	mevi_batch_encoder_init(&enc);
	msgpack_sbuffer_init(&out);
	for (size_t i = 0; i < n && !ret; i++)
		ret = mevi_batch_encoder_add(&enc, &events[i]);
	if (!ret)
		ret = mevi_batch_encoder_finish(&enc, &out);
	if (!ret)
		ret = write_full(fd, out.data, out.size);
	msgpack_sbuffer_destroy(&out);
	mevi_batch_encoder_destroy(&enc);
	return ret ? -1 : 0;
}

int fl_send_raw(int fd, const void *buf, size_t len)
{
	return write_full(fd, buf, len);
}

bool fl_closed_by_peer(int fd, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	char buf[256];

	while (now_ms() < deadline) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return true;
	}
	return false;
}

struct mevi_event ev_session_start(int32_t launcher_pid, uint64_t started_at, bool resume,
				   struct mevi_strv argv)
{
	struct mevi_event ev = {.type = MEVI_EV_SESSION_START, .pid = launcher_pid};

	ev.session_start.version = MEVI_PROTO_VERSION;
	ev.session_start.mode = MEVI_MODE_EXACT;
	ev.session_start.resume = resume;
	ev.session_start.started_at = started_at;
	ev.session_start.argv = argv;
	return ev;
}

struct mevi_event ev_proc_start(int32_t pid, int32_t ppid, uint32_t flags, struct mevi_strv cmd)
{
	struct mevi_event ev = {.type = MEVI_EV_PROC_START, .pid = pid};

	ev.proc_start.ppid = ppid;
	ev.proc_start.flags = flags;
	ev.proc_start.cmdline = cmd;
	return ev;
}

struct mevi_event ev_simple(uint8_t type, int32_t pid, int32_t status)
{
	struct mevi_event ev = {.type = type, .pid = pid};

	if (type == MEVI_EV_SESSION_END)
		ev.session_end.status = status;
	else if (type == MEVI_EV_PROC_EXIT)
		ev.proc_exit.status = status;
	return ev;
}

struct mevi_event ev_range(uint8_t type, int32_t pid, uint64_t start, uint64_t end, uint8_t state)
{
	struct mevi_event ev = {.type = type, .pid = pid};

	switch (type) {
	case MEVI_EV_MAP:
		ev.map.range = (struct mevi_range){start, end};
		ev.map.state = state;
		break;
	case MEVI_EV_UNMAP:
		ev.unmap.range = (struct mevi_range){start, end};
		break;
	case MEVI_EV_STATE:
		ev.state.range = (struct mevi_range){start, end};
		ev.state.state = state;
		break;
	default:
		break;
	}
	return ev;
}

/* --- HTTP ----------------------------------------------------------------- */

static int tcp_connect(int port, int rcvbuf)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads the response head (up to and including the blank line) one byte at a
 * time, so that nothing after it is consumed. Returns a malloc'd string. */
static char *read_head(int fd, uint64_t deadline)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	while (buf) {
		if (len + 1 >= cap)
			break;
		if (read_full(fd, buf + len, 1, deadline))
			break;
		len++;
		if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0) {
			buf[len] = '\0';
			for (char *p = buf; *p; p++) {
				/* lower-case header names (not the status line) */
				if (p != buf && p[-1] == '\n')
					for (char *q = p; *q && *q != ':' && *q != '\r'; q++)
						*q = (char)tolower((unsigned char)*q);
			}
			return buf;
		}
	}
	free(buf);
	return NULL;
}

const char *http_header(const struct http_reply *r, const char *name, char *buf, size_t len)
{
	size_t nlen = strlen(name);

	for (const char *p = r->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");

		if (!eol)
			break;
		if ((size_t)(eol - p) > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;

			while (*v == ' ')
				v++;
			snprintf(buf, len, "%.*s", (int)(eol - v), v);
			return buf;
		}
		p = eol + 2;
	}
	return NULL;
}

int http_request(int port, const char *method, const char *path, const char *extra_headers,
		 struct http_reply *r)
{
	return http_request_body(port, method, path, extra_headers, NULL, 0, r);
}

int http_request_body(int port, const char *method, const char *path, const char *extra_headers,
		      const void *body, size_t len, struct http_reply *r)
{
	uint64_t deadline = now_ms() + 10000;
	char req[2048], val[64], hdrs[1200];
	int fd = tcp_connect(port, 0);
	size_t cap, clen = (size_t)-1;

	if (body) {
		snprintf(hdrs, sizeof(hdrs), "%sContent-Length: %zu\r\n",
			 extra_headers ? extra_headers : "", len);
		extra_headers = hdrs;
	}

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return -1;
	if (extra_headers && strncasecmp(extra_headers, "host:", 5) == 0)
		snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nConnection: close\r\n%s\r\n", method,
			 path, extra_headers);
	else
		snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s\r\n",
			 method, path, port, extra_headers ? extra_headers : "");
	if (write_full(fd, req, strlen(req)))
		goto err;
	/* A server may answer (413) before reading the body: a failed write is
	 * not an error when an answer follows. */
	if (body && len)
		write_full(fd, body, len);
	r->headers = read_head(fd, deadline);
	if (!r->headers || sscanf(r->headers, "HTTP/1.%*d %d", &r->status) != 1)
		goto err;
	if (http_header(r, "content-length", val, sizeof(val)))
		clen = strtoull(val, NULL, 10);
	if (strcmp(method, "HEAD") == 0 || r->status == 304 || r->status == 204)
		clen = 0;
	cap = clen != (size_t)-1 ? clen + 1 : 65536;
	r->body = malloc(cap);
	if (!r->body)
		goto err;
	if (clen != (size_t)-1) {
		if (clen && read_full(fd, r->body, clen, deadline))
			goto err;
		r->body_len = clen;
	} else {
		for (;;) {
			ssize_t n;

			if (r->body_len + 1 == cap) {
				char *b = realloc(r->body, cap * 2);

				if (!b)
					goto err;
				r->body = b;
				cap *= 2;
			}
			n = read(fd, r->body + r->body_len, cap - 1 - r->body_len);
			if (n <= 0)
				break;
			r->body_len += (size_t)n;
		}
	}
	r->body[r->body_len] = '\0';
	close(fd);
	return 0;
err:
	close(fd);
	http_reply_free(r);
	return -1;
}

void http_reply_free(struct http_reply *r)
{
	free(r->headers);
	free(r->body);
	r->headers = r->body = NULL;
}

/* --- websocket ---------------------------------------------------------------- */

int ws_connect(int port, const char *path, const char *origin, int *status, int rcvbuf)
{
	uint64_t deadline = now_ms() + 5000;
	char req[1024], orig[512] = "";
	char *head;
	int fd = tcp_connect(port, rcvbuf);

	*status = 0;
	if (fd < 0)
		return -1;
	if (origin)
		snprintf(orig, sizeof(orig), "Origin: %s\r\n", origin);
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		 "Sec-WebSocket-Version: 13\r\n%s\r\n",
		 path, port, orig);
	if (write_full(fd, req, strlen(req)))
		goto err;
	head = read_head(fd, deadline);
	if (!head)
		goto err;
	sscanf(head, "HTTP/1.%*d %d", status);
	free(head);
	if (*status != 101)
		goto err;
	return fd;
err:
	close(fd);
	return -1;
}

int ws_read_message(int fd, char **data, size_t *len, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	char *msg = NULL;
	size_t mlen = 0;
	int op = -1;

	for (;;) {
		unsigned char h[2], ext[8], mask[4];
		uint64_t plen;
		int fop;
		bool fin;
		char *p;

		if (read_full(fd, h, 2, deadline))
			goto err;
		fin = h[0] & 0x80;
		fop = h[0] & 0x0f;
		plen = h[1] & 0x7f;
		if (plen == 126) {
			if (read_full(fd, ext, 2, deadline))
				goto err;
			plen = ((uint64_t)ext[0] << 8) | ext[1];
		} else if (plen == 127) {
			if (read_full(fd, ext, 8, deadline))
				goto err;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = (plen << 8) | ext[i];
		}
		if ((h[1] & 0x80) && read_full(fd, mask, 4, deadline))
			goto err;
		p = malloc(plen + 1);
		if (!p || (plen && read_full(fd, p, plen, deadline))) {
			free(p);
			goto err;
		}
		if (fop >= 8 && fop != 8) { /* ping / pong */
			free(p);
			continue;
		}
		if (fop == 8) {
			free(msg);
			*data = p;
			*len = plen;
			return 8;
		}
		if (fop != 0)
			op = fop;
		{
			char *m = realloc(msg, mlen + plen + 1);

			if (!m) {
				free(p);
				goto err;
			}
			msg = m;
			memcpy(msg + mlen, p, plen);
			mlen += plen;
			free(p);
		}
		if (fin)
			break;
	}
	*data = msg;
	*len = mlen;
	return op;
err:
	free(msg);
	return -1;
}

int ws_send(int fd, int op, const void *data, size_t len)
{
	unsigned char h[14];
	size_t hl = 0;
	const unsigned char mask[4] = {1, 2, 3, 4};
	unsigned char *buf;
	int ret;

	h[hl++] = (unsigned char)(0x80 | op);
	if (len < 126) {
		h[hl++] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		h[hl++] = 0x80 | 126;
		h[hl++] = (unsigned char)(len >> 8);
		h[hl++] = (unsigned char)len;
	} else {
		h[hl++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			h[hl++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	memcpy(h + hl, mask, 4);
	hl += 4;
	buf = malloc(hl + len);
	if (!buf)
		return -1;
	memcpy(buf, h, hl);
	for (size_t i = 0; i < len; i++)
		buf[hl + i] = ((const unsigned char *)data)[i] ^ mask[i % 4];
	ret = write_full(fd, buf, hl + len);
	free(buf);
	return ret;
}
