#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decoder.h"
#include "ending.h"
#include "eventlog.h"
#include "log.h"
#include "recording.h"
#include "session.h"

/*
 * Measures the msgpack object at p[0..len) without allocating anything.
 * Returns 0 with *objlen, -ENODATA when it does not end within len, or
 * -EBADMSG on the never-valid byte 0xc1.
 */
static int msgpack_measure(const unsigned char *p, size_t len, size_t *objlen)
{
	uint64_t pending = 1;
	size_t off = 0;

	while (pending) {
		unsigned char b;
		uint64_t n = 0, payload = 0, children = 0;
		size_t trail = 0;

		/* Every pending item needs at least one byte. */
		if (pending > len - off)
			return -ENODATA;
		b = p[off++];
		pending--;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
			continue;
		if (b >= 0x80 && b <= 0x8f) {
			children = 2u * (b & 0x0f);
		} else if (b >= 0x90 && b <= 0x9f) {
			children = b & 0x0f;
		} else if (b >= 0xa0 && b <= 0xbf) {
			payload = b & 0x1f;
		} else {
			switch (b) {
			case 0xc1:
				return -EBADMSG;
			case 0xc4:
			case 0xd9:
				trail = 1;
				break;
			case 0xc5:
			case 0xda:
				trail = 2;
				break;
			case 0xc6:
			case 0xdb:
				trail = 4;
				break;
			case 0xc7:
				trail = 1;
				payload = 1;
				break;
			case 0xc8:
				trail = 2;
				payload = 1;
				break;
			case 0xc9:
				trail = 4;
				payload = 1;
				break;
			case 0xca:
				payload = 4;
				break;
			case 0xcb:
				payload = 8;
				break;
			case 0xcc:
			case 0xd0:
				payload = 1;
				break;
			case 0xcd:
			case 0xd1:
				payload = 2;
				break;
			case 0xce:
			case 0xd2:
				payload = 4;
				break;
			case 0xcf:
			case 0xd3:
				payload = 8;
				break;
			case 0xd4:
				payload = 2;
				break;
			case 0xd5:
				payload = 3;
				break;
			case 0xd6:
				payload = 5;
				break;
			case 0xd7:
				payload = 9;
				break;
			case 0xd8:
				payload = 17;
				break;
			case 0xdc:
				trail = 2;
				break;
			case 0xdd:
				trail = 4;
				break;
			case 0xde:
				trail = 2;
				break;
			case 0xdf:
				trail = 4;
				break;
			}
		}
		if (trail) {
			if (len - off < trail)
				return -ENODATA;
			for (size_t i = 0; i < trail; i++)
				n = (n << 8) | p[off++];
			if (b == 0xdc || b == 0xdd)
				children = n;
			else if (b == 0xde || b == 0xdf)
				children = 2 * n;
			else
				payload += n; /* str/bin length; ext: type byte + length */
		}
		if (payload > len - off)
			return -ENODATA;
		off += payload;
		pending += children;
	}
	*objlen = off;
	return 0;
}

/* A dummy connection for the loaded session while it is being applied. */
static char loader_conn;

int loader_load(struct session_registry *reg, const void *buf, size_t len, struct session **out,
		char *err, size_t errlen)
{
	const unsigned char *p = buf;
	const struct session_observer *obs = reg->obs;
	struct mevi_recording_header h;
	struct mevi_decoder dec;
	struct session *s = NULL;
	uint64_t batches = 0, events = 0;
	bool quiet = reg->quiet, cut = false, no_end;
	size_t off;
	int ret;

	*out = NULL;
	if (len > LOADER_MAX_BYTES) {
		snprintf(err, errlen, "recording of %zu bytes is over the limit of %zu bytes", len,
			 LOADER_MAX_BYTES);
		return -EFBIG;
	}
	ret = mevi_recording_header_parse(buf, len, &h, err, errlen);
	if (ret < 0)
		return ret;
	off = (size_t)ret;
	if (off == len) {
		snprintf(err, errlen, "empty recording: no batch after the header");
		return -EBADMSG;
	}
	if (mevi_decoder_init(&dec, NULL)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* No per-event deltas for tabs: they get one snapshot at the end; no
	 * life-cycle lines for what is only a file being read. */
	reg->obs = NULL;
	reg->quiet = true;
	while (off < len) {
		const struct mevi_event *evs;
		uint32_t count;
		size_t blen;

		ret = msgpack_measure(p + off, len - off, &blen);
		if (ret == -ENODATA && s) {
			/* The writer died mid-batch: keep every complete batch. */
			cut = true;
			break;
		}
		if (ret == -ENODATA) {
			snprintf(err, errlen,
				 "truncated recording: the batch at byte offset %zu is incomplete "
				 "(%zu bytes present); nothing was loaded",
				 off, len - off);
			goto err_drop;
		}
		if (ret)
			blen = len - off; /* the decoder names the bad byte */
		ret = mevi_decoder_feed(&dec, p + off, blen);
		if (!ret)
			ret = mevi_decoder_next(&dec, &evs, &count);
		if (ret == 0) {
			ret = -EBADMSG;
			snprintf(err, errlen, "bad batch at byte offset %zu", off);
			goto err_drop;
		}
		if (ret < 0) {
			if (ret == -EBADMSG)
				snprintf(err, errlen, "bad batch at byte offset %zu: %s (%s)", off,
					 mevi_decoder_errmsg(&dec),
					 mevi_decode_error_name(mevi_decoder_error(&dec)));
			else
				snprintf(err, errlen, "out of memory");
			goto err_drop;
		}
		for (uint32_t i = 0; i < count; i++) {
			const struct mevi_event *ev = &evs[i];

			if (!s) {
				if (ev->type != MEVI_EV_SESSION_START) {
					snprintf(
					    err, errlen,
					    "batch at byte offset %zu: the first event must be "
					    "session_start, not %s",
					    off, mevi_event_type_name(ev->type));
					ret = -EBADMSG;
					goto err_drop;
				}
				ret = session_registry_start_new(reg, ev, &loader_conn, &s);
				if (s)
					s->recorded = true; /* never probed: pids of the past */
			} else if (ev->type == MEVI_EV_SESSION_START) {
				ret = session_resume(reg, s, ev);
				if (ret == -EINVAL) {
					snprintf(err, errlen,
						 "batch at byte offset %zu, event %" PRIu32
						 ": a session_start of another session",
						 off, i);
					ret = -EBADMSG;
					goto err_drop;
				}
			} else {
				ret = session_apply(reg, s, ev);
				if (ret == -EPROTO) {
					snprintf(err, errlen,
						 "batch at byte offset %zu, event %" PRIu32
						 ": %s after session_end",
						 off, i, mevi_event_type_name(ev->type));
					ret = -EBADMSG;
					goto err_drop;
				}
			}
			if (ret < 0) {
				snprintf(err, errlen,
					 "batch at byte offset %zu, event %" PRIu32
					 ": %s for pid %d: %s",
					 off, i, mevi_event_type_name(ev->type), (int)ev->pid,
					 strerror(-ret));
				if (ret != -ENOMEM)
					ret = -EBADMSG;
				goto err_drop;
			}
			events++;
		}
		batches++;
		off += blen;
	}
	mevi_decoder_destroy(&dec);
	reg->obs = obs;
	reg->quiet = quiet;
	s->recorded = true;
	/* A recording that stops before its session_end was cut, on a batch
	 * boundary or not. */
	s->cut = cut || !s->ended;
	s->cut_at = s->cut ? off : 0;
	no_end = !cut && s->cut;
	session_registry_detach_how(reg, s, ENDING_RECORDING_CUT);
	if (obs && obs->reshaped)
		obs->reshaped(reg->obs_ctx); /* tabs get a snapshot with it */
	if (no_end)
		log_warn("recording cut short: it stops at byte offset %zu, after %" PRIu64
			 " complete batches (%" PRIu64 " events), without the session's end",
			 off, batches, events);
	else if (cut)
		log_warn("recording cut short: loaded the %" PRIu64 " complete batches (%" PRIu64
			 " events) before byte offset %zu; the %zu bytes after it are a "
			 "partial batch (its writer died) and were dropped",
			 batches, events, off, len - off);
	else
		log_info("loaded a recording: %" PRIu64 " events in %" PRIu64
			 " batches (%zu bytes)",
			 events, batches, len);
	/* detach may have evicted it already when max-ended-sessions is 0 */
	*out = NULL;
	for (struct session *t = reg->head; t; t = t->next)
		if (t == s)
			*out = s;
	return 0;

err_drop:
	mevi_decoder_destroy(&dec);
	if (s)
		session_registry_discard(reg, s);
	reg->obs = obs;
	reg->quiet = quiet;
	return ret;
}

int loader_load_file(struct session_registry *reg, const char *path, struct session **out,
		     char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s", strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "not a regular file");
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > LOADER_MAX_BYTES) {
		close(fd);
		snprintf(err, errlen, "%" PRIu64 " bytes, over the limit of %zu bytes",
			 (uint64_t)st.st_size, LOADER_MAX_BYTES);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	ret = loader_load(reg, buf, got, out, err, errlen);
	free(buf);
	return ret;
}

struct encode_ctx {
	msgpack_sbuffer *out;
	struct mevi_batch_encoder enc;
};

static int encode_cb(void *arg, const struct mevi_event *ev)
{
	struct encode_ctx *c = arg;

	if (mevi_batch_encoder_add(&c->enc, ev))
		return -ENOMEM;
	if (c->enc.count >= LOADER_BATCH_EVENTS && mevi_batch_encoder_finish(&c->enc, c->out))
		return -ENOMEM;
	return 0;
}

int loader_encode(const struct session *s, msgpack_sbuffer *out)
{
	struct mevi_recording_header h = {
	    .format_version = MEVI_RECORDING_FORMAT,
	    .proto_version = MEVI_PROTO_VERSION,
	    .created_at = s->started_at,
	};
	struct encode_ctx c = {.out = out};
	msgpack_packer pk;
	int ret;

	if (!s->log)
		return -ENOENT;
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	if (mevi_recording_header_pack(&pk, &h))
		return -ENOMEM;
	mevi_batch_encoder_init(&c.enc);
	ret = eventlog_walk(s->log, UINT64_MAX, encode_cb, &c);
	if (!ret && mevi_batch_encoder_finish(&c.enc, out))
		ret = -ENOMEM;
	mevi_batch_encoder_destroy(&c.enc);
	return ret;
}
