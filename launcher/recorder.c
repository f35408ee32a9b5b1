#include "recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "event.h"
#include "log.h"

int recorder_open(struct recorder *r, const char *path, uint64_t created_at_ns)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int err = 0;

	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->f = fopen(path, "we");
	if (!r->f)
		return -errno;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, RECORDER_FORMAT_VERSION);
	msgpack_pack_uint32(&pk, MEVI_PROTO_VERSION);
	msgpack_pack_uint64(&pk, created_at_ns);
	if (fwrite(RECORDER_MAGIC, 1, 8, r->f) != 8 || fwrite(sb.data, 1, sb.size, r->f) != sb.size)
		err = -errno ? -errno : -EIO;
	r->bytes = 8 + sb.size;
	msgpack_sbuffer_destroy(&sb);
	if (err) {
		fclose(r->f);
		r->f = NULL;
	}
	return err;
}

void recorder_write(struct recorder *r, const void *batch, size_t len)
{
	if (!r->f)
		return;
	if (fwrite(batch, 1, len, r->f) != len) {
		log_error("recording to %s stopped: %s; the program carries on", r->path,
			  strerror(errno ? errno : EIO));
		r->failed = true;
		fclose(r->f);
		r->f = NULL;
		return;
	}
	r->bytes += len;
}

int recorder_close(struct recorder *r)
{
	int err = r->failed ? -EIO : 0;

	if (!r->f)
		return err;
	if (fflush(r->f) != 0 || fsync(fileno(r->f)) != 0)
		err = -errno;
	if (fclose(r->f) != 0 && !err)
		err = -errno;
	r->f = NULL;
	return err;
}
