/*
 * recording — packs and parses, by hand and allocation-free, the header of a
 * .mevi recording (contract: recording.h).
 */
#include "recording.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "event.h"

int mevi_recording_header_pack(msgpack_packer *pk, const struct mevi_recording_header *h)
{
	if (pk->callback(pk->data, MEVI_RECORDING_MAGIC, MEVI_RECORDING_MAGIC_LEN) ||
	    msgpack_pack_array(pk, 3) || msgpack_pack_uint32(pk, h->format_version) ||
	    msgpack_pack_uint32(pk, h->proto_version) || msgpack_pack_uint64(pk, h->created_at))
		return -ENOMEM;
	return 0;
}

/*
 * Reads one msgpack uint at p[*off]. Returns 0, -ENODATA when the buffer ends
 * inside it, -EBADMSG when it is not a uint.
 */
static int read_uint(const unsigned char *p, size_t len, size_t *off, uint64_t *v)
{
	size_t n, i;
	unsigned char b;

	if (*off >= len)
		return -ENODATA;
	b = p[(*off)++];
	if (b <= 0x7f) {
		*v = b;
		return 0;
	}
	switch (b) {
	case 0xcc:
		n = 1;
		break;
	case 0xcd:
		n = 2;
		break;
	case 0xce:
		n = 4;
		break;
	case 0xcf:
		n = 8;
		break;
	default:
		return -EBADMSG;
	}
	if (len - *off < n)
		return -ENODATA;
	*v = 0;
	for (i = 0; i < n; i++)
		*v = (*v << 8) | p[(*off)++];
	return 0;
}

int mevi_recording_header_parse(const void *buf, size_t len, struct mevi_recording_header *h,
				char *err, size_t errlen)
{
	static const char *const field[] = {"format_version", "proto_version", "created_at"};
	const unsigned char *p = buf;
	uint64_t v[3] = {0, 0, 0};
	size_t off = MEVI_RECORDING_MAGIC_LEN, count;
	int ret;

	memset(h, 0, sizeof(*h));
	if (len < MEVI_RECORDING_MAGIC_LEN && memcmp(p, MEVI_RECORDING_MAGIC, len) == 0) {
		snprintf(err, errlen, "truncated recording: %zu bytes, shorter than the header",
			 len);
		return -ENODATA;
	}
	if (len < MEVI_RECORDING_MAGIC_LEN ||
	    memcmp(p, MEVI_RECORDING_MAGIC, MEVI_RECORDING_MAGIC_LEN) != 0) {
		snprintf(err, errlen,
			 "not a mevi recording (the file does not start with "
			 "\"MEVIREC\\n\")");
		return -EBADMSG;
	}
	if (off >= len) {
		snprintf(err, errlen, "truncated recording: the header ends after the magic");
		return -ENODATA;
	}
	/* fixarray (0x90..0x9f) or array16; a bigger header is not plausible. */
	if (p[off] >= 0x90 && p[off] <= 0x9f) {
		count = p[off] & 0x0f;
		off++;
	} else if (p[off] == 0xdc) {
		if (len - off < 3) {
			snprintf(err, errlen, "truncated recording: inside the header");
			return -ENODATA;
		}
		count = ((size_t)p[off + 1] << 8) | p[off + 2];
		off += 3;
	} else {
		snprintf(err, errlen,
			 "malformed recording header: byte 0x%02x at offset %zu is "
			 "not an array",
			 p[off], off);
		return -EBADMSG;
	}
	if (count < 1) {
		snprintf(err, errlen, "malformed recording header: empty array");
		return -EBADMSG;
	}
	for (size_t i = 0; i < 3 && i < count; i++) {
		ret = read_uint(p, len, &off, &v[i]);
		if (ret == -ENODATA) {
			snprintf(err, errlen, "truncated recording: the header ends inside %s",
				 field[i]);
			return ret;
		}
		if (ret) {
			snprintf(err, errlen,
				 "malformed recording header: %s is not an unsigned "
				 "integer",
				 field[i]);
			return ret;
		}
		if (i == 0 && v[0] != MEVI_RECORDING_FORMAT) {
			h->format_version = v[0] > UINT32_MAX ? UINT32_MAX : (uint32_t)v[0];
			snprintf(err, errlen,
				 "recording format version %" PRIu64 " is not supported "
				 "(this mevi reads version %d)%s",
				 v[0], MEVI_RECORDING_FORMAT,
				 v[0] > MEVI_RECORDING_FORMAT ? ": it was written by a newer mevi"
							      : "");
			return v[0] > MEVI_RECORDING_FORMAT ? -EPROTONOSUPPORT : -EBADMSG;
		}
	}
	if (count != 3) {
		snprintf(err, errlen, "malformed recording header: %zu elements, expected 3",
			 count);
		return -EBADMSG;
	}
	h->format_version = (uint32_t)v[0];
	h->proto_version = v[1] > UINT32_MAX ? UINT32_MAX : (uint32_t)v[1];
	h->created_at = v[2];
	if (v[1] != MEVI_PROTO_VERSION) {
		snprintf(err, errlen,
			 "recording protocol version %" PRIu64 " is not supported "
			 "(this mevi speaks version %d)%s",
			 v[1], MEVI_PROTO_VERSION,
			 v[1] > MEVI_PROTO_VERSION ? ": it was written by a newer mevi" : "");
		return -EPROTONOSUPPORT;
	}
	return (int)off;
}
