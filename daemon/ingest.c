/* ingest — one driver from an event stream (live, recording, replay) into the session registry. */
#include "ingest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "procfs.h"
#include "session.h"

void ingest_start(struct ingest *in, struct session_registry *reg, enum ingest_policy policy)
{
	memset(in, 0, sizeof(*in));
	in->reg = reg;
	in->policy = policy;
}

int ingest_init(struct ingest *in, struct session_registry *reg, void *owner,
		const struct mevi_decoder_limits *limits, ingest_takeover_fn takeover,
		void *takeover_ctx)
{
	int err;

	ingest_start(in, reg, INGEST_LIVE);
	in->owner = owner;
	in->takeover = takeover;
	in->takeover_ctx = takeover_ctx;
	err = mevi_decoder_init(&in->dec, limits);
	in->has_decoder = !err;
	return err;
}

void ingest_destroy(struct ingest *in)
{
	if (in->has_decoder)
		mevi_decoder_destroy(&in->dec);
	in->has_decoder = false;
}

void ingest_continue(struct ingest *in, struct session *s)
{
	in->session = s;
}

/* Records why the stream stops; returns err. */
static int fail(struct ingest *in, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ingest *in, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(in->why, sizeof(in->why), fmt, ap);
	va_end(ap);
	return err;
}

/* The stream's first event: it must be session_start, which makes the
 * session as the policy says. */
static int ingest_first(struct ingest *in, const struct mevi_event *ev)
{
	struct session *s = NULL;
	void *other = NULL;
	int err;

	if (ev->type != MEVI_EV_SESSION_START)
		return fail(in, in->policy == INGEST_LIVE ? -EPROTO : -EBADMSG,
			    "the first event must be session_start, not %s",
			    mevi_event_type_name(ev->type));
	if (in->policy == INGEST_LIVE) {
		err = session_registry_start(in->reg, ev, in->owner, &s, &other);
		if (s) {
			s->launcher_host_pid = in->peer_pid;
			s->launcher_same_pidns = procfs_same_pidns(in->peer_pid);
		}
		if (other && in->takeover)
			in->takeover(in->takeover_ctx, other);
	} else {
		err = session_registry_start_pinned(in->reg, ev, &s);
		if (s && in->policy == INGEST_LOAD)
			s->recorded = true; /* never probed: pids of the past */
		if (s && in->policy == INGEST_REPLAY)
			s->id = in->replay_id;
	}
	in->session = s;
	if (err)
		return fail(in, err, "session_start: %s", strerror(-err));
	return 0;
}

/* A later session_start: a reconnect inside a recording or a history. */
static int ingest_restart(struct ingest *in, const struct mevi_event *ev)
{
	int err;

	if (in->policy == INGEST_LIVE)
		return fail(in, -EPROTO, "a second session_start on one connection");
	err = session_resume(in->reg, in->session, ev);
	if (err == -EINVAL)
		return fail(in, -EBADMSG, "a session_start of another session");
	if (err)
		return fail(in, err, "session_start: %s", strerror(-err));
	return 0;
}

int ingest_event(struct ingest *in, const struct mevi_event *ev)
{
	int err;

	if (in->why[0])
		return -EPROTO; /* failed before */
	if (!in->session)
		err = ingest_first(in, ev);
	else if (ev->type == MEVI_EV_SESSION_START)
		err = ingest_restart(in, ev);
	else
		err = session_apply(in->reg, in->session, ev);
	if (err == -EPROTO && in->policy == INGEST_REPLAY && !in->why[0])
		err = 1; /* the live session refused it too */
	if (err < 0 && !in->why[0]) {
		if (err == -EPROTO)
			fail(in, in->policy == INGEST_LIVE ? -EPROTO : -EBADMSG,
			     "%s after session_end", mevi_event_type_name(ev->type));
		else
			fail(in, err, "%s for pid %d: %s", mevi_event_type_name(ev->type),
			     (int)ev->pid, strerror(-err));
		if (err != -ENOMEM && in->policy == INGEST_LOAD)
			err = -EBADMSG;
	}
	if (err < 0)
		return err;
	in->events++;
	return err > 0; /* session_apply dropped it, or a replay skipped it */
}

int ingest_feed(struct ingest *in, const void *buf, size_t len)
{
	const struct mevi_event *events;
	uint32_t count;
	int ret;

	if (in->why[0])
		return -EPROTO; /* failed before */
	ret = mevi_decoder_feed(&in->dec, buf, len);
	while (ret == 0) {
		ret = mevi_decoder_next(&in->dec, &events, &count);
		if (ret <= 0)
			break;
		for (uint32_t i = 0; i < count; i++) {
			ret = ingest_event(in, &events[i]);
			if (ret < 0)
				return ret;
		}
		ret = 0;
	}
	if (ret == -EBADMSG)
		fail(in, ret, "bad input: %s (%s)", mevi_decoder_errmsg(&in->dec),
		     mevi_decode_error_name(mevi_decoder_error(&in->dec)));
	else if (ret < 0)
		fail(in, ret, "decoder: %s", strerror(-ret));
	return ret < 0 ? ret : 0;
}
