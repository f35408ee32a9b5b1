/*
 * access — the HTTP token (random, in SOCKET.token, compared in constant time) and
 * the peer's uid by sock_diag or SO_PEERCRED: who is admitted (contract: access.h).
 */
#include "access.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <libwebsockets.h>

#include "log.h"
#include "monotime.h"

static int fill_random(void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom((char *)buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	return 0;
}

/* Writes the token to path: a fresh 0600 file renamed over any old one. */
static int write_token_file(const char *path, const char *token)
{
	char tmp[sizeof(((struct access *)0)->path) + 8];
	size_t len = strlen(token);
	int fd, ret = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, token, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		ret = errno ? -errno : -EIO;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int access_init(struct access *a, const char *socket_path, bool exposed, char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[ACCESS_TOKEN_BYTES];
	int ret;

	memset(a, 0, sizeof(*a));
	a->diag_fd = -1;
	a->uid = getuid();
	a->exposed = exposed;
	ret = fill_random(raw, sizeof(raw));
	if (ret) {
		snprintf(err, errlen, "cannot make the access token (getrandom): %s",
			 strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		a->token[2 * i] = hex[raw[i] >> 4];
		a->token[2 * i + 1] = hex[raw[i] & 15];
	}
	a->token[ACCESS_TOKEN_LEN] = '\0';
	explicit_bzero(raw, sizeof(raw));
	access_set_port(a, 0);
	if (!socket_path)
		return 0;
	if ((size_t)snprintf(a->path, sizeof(a->path), "%s.token", socket_path) >=
	    sizeof(a->path)) {
		a->path[0] = '\0';
		snprintf(err, errlen, "socket path %s is too long for its token file", socket_path);
		return -ENAMETOOLONG;
	}
	ret = write_token_file(a->path, a->token);
	if (ret) {
		snprintf(err, errlen, "cannot write the access token to %s: %s", a->path,
			 strerror(-ret));
		a->path[0] = '\0';
		return ret;
	}
	return 0;
}

void access_set_port(struct access *a, int port)
{
	snprintf(a->cookie, sizeof(a->cookie), "mevi_token_%d", port);
}

void access_destroy(struct access *a)
{
	if (a->path[0])
		unlink(a->path);
	a->path[0] = '\0';
	if (a->diag_fd >= 0)
		close(a->diag_fd);
	a->diag_fd = -1;
	explicit_bzero(a->token, sizeof(a->token));
}

bool access_token_equal(const struct access *a, const char *s, size_t len)
{
	unsigned char diff = 0;

	if (len != ACCESS_TOKEN_LEN || !a->token[0])
		return false;
	for (size_t i = 0; i < ACCESS_TOKEN_LEN; i++)
		diff |= (unsigned char)(a->token[i] ^ s[i]);
	return diff == 0;
}

const char *access_cookie_value(const char *header, const char *name, size_t *len)
{
	size_t nlen = strlen(name);
	const char *p = header;

	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t plen = end ? (size_t)(end - p) : strlen(p);

		if (plen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			*len = plen - nlen - 1;
			while (*len && p[nlen + *len] == ' ')
				(*len)--;
			return p + nlen + 1;
		}
		p = end;
	}
	return NULL;
}

int access_cookie(const struct access *a, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s=%s; Path=/; HttpOnly; SameSite=Strict", a->cookie, a->token);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

unsigned access_status(enum access_verdict v)
{
	return v == ACCESS_NO_TOKEN ? 401 : 403;
}

/* One exact sock_diag lookup: the TCP socket whose local end is peer and
 * whose remote end is local (that is, the other end of our connection). */
static int diag_lookup(int diag_fd, const struct sockaddr_storage *local,
		       const struct sockaddr_storage *peer, uid_t *uid)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	union {
		struct nlmsghdr nlh;
		char buf[1024];
	} resp;
	struct sockaddr_nl nladdr = {.nl_family = AF_NETLINK};
	struct inet_diag_msg *m;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.nlh.nlmsg_seq = 1;
	req.r.sdiag_family = (uint8_t)peer->ss_family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (peer->ss_family == AF_INET) {
		const struct sockaddr_in *p = (const void *)peer, *l = (const void *)local;

		req.r.id.idiag_sport = p->sin_port;
		req.r.id.idiag_dport = l->sin_port;
		memcpy(req.r.id.idiag_src, &p->sin_addr, 4);
		memcpy(req.r.id.idiag_dst, &l->sin_addr, 4);
	} else if (peer->ss_family == AF_INET6) {
		const struct sockaddr_in6 *p = (const void *)peer, *l = (const void *)local;

		req.r.id.idiag_sport = p->sin6_port;
		req.r.id.idiag_dport = l->sin6_port;
		memcpy(req.r.id.idiag_src, &p->sin6_addr, 16);
		memcpy(req.r.id.idiag_dst, &l->sin6_addr, 16);
	} else {
		return -EAFNOSUPPORT;
	}
	if (sendto(diag_fd, &req, sizeof(req), 0, (struct sockaddr *)&nladdr, sizeof(nladdr)) < 0)
		return -errno;
	do
		n = recv(diag_fd, &resp, sizeof(resp), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (!NLMSG_OK(&resp.nlh, (size_t)n))
		return -EPROTO;
	if (resp.nlh.nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(&resp.nlh);

		return e->error ? e->error : -ENOENT;
	}
	if (resp.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    resp.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EPROTO;
	m = NLMSG_DATA(&resp.nlh);
	/* The exact lookup may fall back to a listener on the address: only the
	 * very socket of the 4-tuple counts. */
	if (m->id.idiag_sport != req.r.id.idiag_sport ||
	    m->id.idiag_dport != req.r.id.idiag_dport ||
	    memcmp(m->id.idiag_src, req.r.id.idiag_src, sizeof(m->id.idiag_src)) ||
	    memcmp(m->id.idiag_dst, req.r.id.idiag_dst, sizeof(m->id.idiag_dst)))
		return -ENOENT;
	/* A peer that closed its end may already be a timewait mini-socket
	 * (an orphaned FIN_WAIT2 becomes one), which the kernel reports as uid
	 * 0: a request sent just before close() would pass for root's. Only a
	 * socket some process still holds (it has an inode) counts. */
	if (m->idiag_inode == 0)
		return -ENOENT;
	*uid = m->idiag_uid;
	return 0;
}

int access_peer_uid(int diag_fd, int fd, uid_t *uid)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);

	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
		return -errno;
	if (peer.ss_family == AF_UNIX) {
		struct ucred cred;
		socklen_t len = sizeof(cred);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
			return -errno;
		*uid = cred.uid;
		return 0;
	}
	if (diag_fd < 0)
		return -EBADF;
	return diag_lookup(diag_fd, &local, &peer, uid);
}

/* The token the request presents, copied into buf: ?token=, Authorization:
 * Bearer, then the cookie. Returns its length, or -1 when none. */
static int presented_token(const struct access *a, struct lws *wsi, char *buf, size_t len)
{
	char hdr[1024];
	const char *v;
	size_t vlen;
	int n;

	/* lws copies "token=VALUE" whole before skipping the name. */
	v = lws_get_urlarg_by_name(wsi, "token=", hdr, (int)sizeof(hdr));
	if (v)
		return snprintf(buf, len, "%s", v) < (int)len ? (int)strlen(buf) : -1;
	n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n > 0 && n < (int)sizeof(hdr) &&
	    lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
	    strncasecmp(hdr, "Bearer ", 7) == 0) {
		v = hdr + 7;
		while (*v == ' ')
			v++;
		return snprintf(buf, len, "%s", v) < (int)len ? (int)strlen(buf) : -1;
	}
	n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE);
	if (n > 0 && n < (int)sizeof(hdr) &&
	    lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_COOKIE) > 0 &&
	    (v = access_cookie_value(hdr, a->cookie, &vlen)) && vlen < len) {
		memcpy(buf, v, vlen);
		buf[vlen] = '\0';
		return (int)vlen;
	}
	return -1;
}

enum access_verdict access_check(struct access *a, struct lws *wsi, struct access_peer *peer,
				 char *msg, size_t msglen)
{
	char tok[ACCESS_TOKEN_LEN + 8];
	int n = presented_token(a, wsi, tok, sizeof(tok));

	if (n >= 0 && access_token_equal(a, tok, (size_t)n))
		return ACCESS_BY_TOKEN;
	/* A stale cookie (an earlier mevid's token) does not stand in the way
	 * of the uid rule. */
	if (!a->exposed) {
		if (!peer->known) {
			uint64_t t0 = mono_ns();

			if (a->diag_fd < 0)
				a->diag_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
						    NETLINK_SOCK_DIAG);
			peer->err = access_peer_uid(a->diag_fd, lws_get_socket_fd(wsi), &peer->uid);
			peer->known = true;
			a->lookups++;
			a->lookup_ns += mono_ns() - t0;
			if (peer->err)
				log_debug("peer uid lookup failed: %s", strerror(-peer->err));
		}
		if (!peer->err && (peer->uid == a->uid || peer->uid == 0))
			return ACCESS_BY_UID;
	}
	if (n >= 0) {
		snprintf(msg, msglen,
			 "wrong token (mevid makes a new one each time it starts): open the URL "
			 "mevid or mevi-run printed, or send the token kept in %s",
			 a->path[0] ? a->path : "the token file beside mevid's socket");
		return ACCESS_BAD_TOKEN;
	}
	if (a->exposed)
		snprintf(
		    msg, msglen,
		    "this mevid is open to the network and admits only its token: open the URL "
		    "it printed (/?token=...), or send Authorization: Bearer with the token "
		    "kept in %s",
		    a->path[0] ? a->path : "the token file beside its socket");
	else
		snprintf(msg, msglen,
			 "this mevid belongs to uid %u: open the URL it printed (/?token=...), or "
			 "send Authorization: Bearer with the token kept in %s",
			 (unsigned)a->uid,
			 a->path[0] ? a->path : "the token file beside its socket");
	return ACCESS_NO_TOKEN;
}
