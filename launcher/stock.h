/*
 * stock — mevi-run's side of mevid's engine stock (proto/stockmsg.h): takes the
 * set of eBPF programs a running mevid loaded ahead of time, so that the
 * kernel's load and verification (6-7 ms here) are off PROGRAM's start-up.
 *
 * Synchronous and short: it runs on PROGRAM's start-up path. No mevid, no
 * stock, another build or configuration, or no answer within timeout_ms:
 * the caller loads the programs itself (launcher/ebpf.h), as it would have.
 *
 * Trust: the socket's directory must pass proto/sockpath.h's rule, and the
 * peer must run as our own uid (not merely root): descriptors are taken from
 * ourselves only.
 */
#ifndef MEVI_LAUNCHER_STOCK_H
#define MEVI_LAUNCHER_STOCK_H

#include <stddef.h>
#include <stdint.h>

#include "stockmsg.h"

/* How long PROGRAM's start-up waits for mevid's answer at most. */
#define STOCK_TIMEOUT_MS 40

/*
 * Asks the mevid serving socket_path (the launcher socket: the stock's is
 * beside it) for its loaded set, built and configured as id names (config
 * is that configuration: mevid may load a set for it ahead of the next
 * launcher when it has none), and returns at once: the connection (close-on-exec; stock_take() reads the
 * answer and closes it), so that mevid answers while the caller goes on.
 * Else a negative errno, and a sentence in why (whylen bytes): -ENOENT or
 * -ECONNREFUSED (no mevid), -EPERM (not trusted), -ENAMETOOLONG.
 */
int stock_ask(const char *socket_path, uint64_t id, const struct mevi_stock_config *config,
	      char *why, size_t whylen);

/* The most descriptors an answer carries. */
#define STOCK_FDS_MAX 64

/* What mevid's stock answered. */
struct stock_answer {
	uint64_t mask;		/* granted: the skeleton's slots fds fill */
	int fds[STOCK_FDS_MAX]; /* close-on-exec, the caller's */
	size_t nfds;
	/* The ids of the skeleton's syscall tracepoints (bpfskel.h:
	 * bpfskel_sys_exit_names, in that order), granted or not; ntp 0 when
	 * mevid could not read them. */
	uint32_t tp[MEVI_STOCK_TP_MAX];
	size_t ntp;
};

/*
 * Reads the answer on fd (stock_ask's) within timeout_ms and closes fd.
 * Returns 0 with the set in *a; else a negative errno and a sentence in why,
 * with no descriptor in *a: -EAGAIN (mevid had none for us: its sentence;
 * a->tp is filled all the same), -ETIMEDOUT, -EPROTO (a malformed answer).
 */
int stock_take(int fd, int timeout_ms, struct stock_answer *a, char *why, size_t whylen);

#endif /* MEVI_LAUNCHER_STOCK_H */
