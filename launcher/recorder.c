/* recorder — --record FILE: writing the session as a .mevi recording. */
#include "recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "event.h"
#include "log.h"
#include "recording.h"

/* Writes all of buf to fd. Returns 0 or -errno. */
static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

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
	r->fd = -1;
	snprintf(r->path, sizeof(r->path), "%s", path);
	/* Memory layouts and command lines: readable by the user only. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* r->f only says "recording" to the callers; writes bypass stdio so
	 * that nothing waits in a buffer a SIGKILL would lose. */
	r->f = fdopen(fd, "w");
	if (!r->f) {
		err = -errno;
		close(fd);
		return err;
	}
	r->fd = fd;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	err = mevi_recording_header_pack(&pk, &h);
	if (!err)
		err = write_all(fd, sb.data, sb.size);
	r->bytes = sb.size;
	msgpack_sbuffer_destroy(&sb);
	if (err) {
		fclose(r->f);
		r->f = NULL;
		r->fd = -1;
	}
	return err;
}

void recorder_write(struct recorder *r, const void *batch, size_t len)
{
	int err;

	if (!r->f)
		return;
	err = write_all(r->fd, batch, len);
	if (err) {
		log_error("recording to %s stopped: %s; the program carries on", r->path,
			  strerror(-err));
		r->failed = true;
		fclose(r->f);
		r->f = NULL;
		r->fd = -1;
		return;
	}
	r->bytes += len;
}

int recorder_close(struct recorder *r)
{
	int err = r->failed ? -EIO : 0;

	if (!r->f)
		return err;
	if (fsync(r->fd) != 0)
		err = -errno;
	if (fclose(r->f) != 0 && !err)
		err = -errno;
	r->f = NULL;
	r->fd = -1;
	return err;
}
