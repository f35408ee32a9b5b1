#include "recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "event.h"
#include "log.h"
#include "recording.h"

int recorder_open(struct recorder *r, const char *path, uint64_t created_at_ns)
{
	struct mevi_recording_header h = {
	    .format_version = MEVI_RECORDING_FORMAT,
	    .proto_version = MEVI_PROTO_VERSION,
	    .created_at = created_at_ns,
	};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int fd, err = 0;

	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s", path);
	/* Memory layouts and command lines: readable by the user only. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r->f = fdopen(fd, "w");
	if (!r->f) {
		err = -errno;
		close(fd);
		return err;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	err = mevi_recording_header_pack(&pk, &h);
	if (!err && fwrite(sb.data, 1, sb.size, r->f) != sb.size)
		err = errno ? -errno : -EIO;
	r->bytes = sb.size;
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
