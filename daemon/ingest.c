#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "procfs.h"
#include "session.h"

int ingest_init(struct ingest *in, struct session_registry *reg, void *owner,
		const struct mevi_decoder_limits *limits, ingest_takeover_fn takeover,
		void *takeover_ctx)
{
	memset(in, 0, sizeof(*in));
	in->reg = reg;
	in->owner = owner;
	in->takeover = takeover;
	in->takeover_ctx = takeover_ctx;
	return mevi_decoder_init(&in->dec, limits);
}

void ingest_destroy(struct ingest *in)
{
	mevi_decoder_destroy(&in->dec);
}

/* Applies one event. Returns 0 or -errno with in->why set. */
static int ingest_event(struct ingest *in, const struct mevi_event *ev)
{
	int err;

	if (!in->session) {
		struct session *s = NULL;
		void *other = NULL;

		if (ev->type != MEVI_EV_SESSION_START) {
			snprintf(in->why, sizeof(in->why),
				 "the first event must be session_start, not %s",
				 mevi_event_type_name(ev->type));
			return -EPROTO;
		}
		err = session_registry_start(in->reg, ev, in->owner, &s, &other);
		in->session = s;
		if (s) {
			s->launcher_host_pid = in->peer_pid;
			s->launcher_same_pidns = procfs_same_pidns(in->peer_pid);
		}
		if (other && in->takeover)
			in->takeover(in->takeover_ctx, other);
		if (err) {
			snprintf(in->why, sizeof(in->why), "session_start: %s", strerror(-err));
			return err;
		}
		in->events++;
		return 0;
	}
	err = session_apply(in->reg, in->session, ev);
	if (err < 0) {
		if (err == -EPROTO && ev->type == MEVI_EV_SESSION_START)
			snprintf(in->why, sizeof(in->why),
				 "a second session_start on one connection");
		else if (err == -EPROTO)
			snprintf(in->why, sizeof(in->why), "%s after session_end",
				 mevi_event_type_name(ev->type));
		else
			snprintf(in->why, sizeof(in->why), "%s for pid %d: %s",
				 mevi_event_type_name(ev->type), (int)ev->pid, strerror(-err));
		return err;
	}
	in->events++;
	return 0;
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
			if (ret)
				return ret;
		}
		ret = 0;
	}
	if (ret == -EBADMSG) {
		snprintf(in->why, sizeof(in->why), "bad input: %s (%s)",
			 mevi_decoder_errmsg(&in->dec),
			 mevi_decode_error_name(mevi_decoder_error(&in->dec)));
	} else if (ret < 0) {
		snprintf(in->why, sizeof(in->why), "decoder: %s", strerror(-ret));
	}
	return ret < 0 ? ret : 0;
}
