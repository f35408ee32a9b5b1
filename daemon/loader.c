/* loader — .mevi recordings into the registry (through the ingest driver) and out of a history. */
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
#include "ingest.h"
#include "log.h"
#include "recording.h"
#include "session.h"

/*
 * Feeds the batches of p[off..len) to a LOAD ingest. Returns 0 with *off at
 * the end of the last complete batch (*cut when a partial batch follows it),
 * or -errno with one sentence in err.
 */
static int load_batches(struct ingest *in, struct mevi_decoder *dec, const unsigned char *p,
			size_t len, size_t *off, bool *cut, uint64_t *batches, char *err,
			size_t errlen)
{
	while (*off < len) {
		const struct mevi_event *evs;
		uint32_t count;
		size_t blen;
		int ret = mevi_msgpack_measure(p + *off, len - *off, &blen);

		if (ret == -ENODATA && in->session) {
			/* The writer died mid-batch: keep every complete batch. */
			*cut = true;
			return 0;
		}
		if (ret == -ENODATA) {
			snprintf(err, errlen,
				 "truncated recording: the batch at byte offset %zu is incomplete "
				 "(%zu bytes present); nothing was loaded",
				 *off, len - *off);
			return -ENODATA;
		}
		if (ret)
			blen = len - *off; /* the decoder names the bad byte */
		ret = mevi_decoder_feed(dec, p + *off, blen);
		if (!ret)
			ret = mevi_decoder_next(dec, &evs, &count);
		if (ret == 0) {
			snprintf(err, errlen, "bad batch at byte offset %zu", *off);
			return -EBADMSG;
		}
		if (ret == -EBADMSG) {
			snprintf(err, errlen, "bad batch at byte offset %zu: %s (%s)", *off,
				 mevi_decoder_errmsg(dec),
				 mevi_decode_error_name(mevi_decoder_error(dec)));
			return ret;
		}
		if (ret < 0) {
			snprintf(err, errlen, "out of memory");
			return ret;
		}
		for (uint32_t i = 0; i < count; i++) {
			ret = ingest_event(in, &evs[i]);
			if (ret < 0) {
				snprintf(err, errlen,
					 "batch at byte offset %zu, event %" PRIu32 ": %s", *off, i,
					 in->why);
				return ret;
			}
		}
		(*batches)++;
		*off += blen;
	}
	return 0;
}

int loader_load(struct session_registry *reg, const void *buf, size_t len, struct session **out,
		char *err, size_t errlen)
{
	const struct session_observer *obs = reg->obs;
	struct mevi_recording_header h;
	struct mevi_decoder dec;
	struct ingest in;
	struct session *s;
	uint64_t batches = 0;
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
	ingest_start(&in, reg, INGEST_LOAD);
	ret = load_batches(&in, &dec, buf, len, &off, &cut, &batches, err, errlen);
	mevi_decoder_destroy(&dec);
	reg->obs = obs;
	reg->quiet = quiet;
	s = in.session;
	if (!ret && !s) {
		snprintf(err, errlen, "no session_start in the recording");
		ret = -EBADMSG;
	}
	if (ret) {
		if (s)
			session_registry_discard(reg, s);
		return ret;
	}
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
			 off, batches, in.events);
	else if (cut)
		log_warn("recording cut short: loaded the %" PRIu64 " complete batches (%" PRIu64
			 " events) before byte offset %zu; the %zu bytes after it are a "
			 "partial batch (its writer died) and were dropped",
			 batches, in.events, off, len - off);
	else
		log_info("loaded a recording: %" PRIu64 " events in %" PRIu64
			 " batches (%zu bytes)",
			 in.events, batches, len);
	/* detach may have evicted it already when max-ended-sessions is 0 */
	for (struct session *t = reg->head; t; t = t->next)
		if (t == s)
			*out = s;
	return 0;
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
