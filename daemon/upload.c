/*
 * upload — streams one POST /api/recordings body into an unnamed temporary file,
 * checks its header early, and hands it to the loader (contract: upload.h).
 */
#include "upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "loader.h"

void upload_init(struct upload *u)
{
	memset(u, 0, sizeof(*u));
	u->fd = -1;
}

/* An unnamed 0600 file in dir: O_TMPFILE, else a mkstemp'd name unlinked at
 * once (file systems without O_TMPFILE). */
static int tmpfile_in(const char *dir)
{
	char path[64];
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : -errno;
	snprintf(path, sizeof(path), "%s/mevid-upload-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

int upload_open(struct upload *u, uint64_t len)
{
	int fd;

	upload_close(u);
	fd = tmpfile_in("/var/tmp");
	if (fd < 0)
		fd = tmpfile_in("/tmp");
	if (fd < 0)
		return fd;
	u->fd = fd;
	u->want = len;
	return 0;
}

int upload_write(struct upload *u, const void *data, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = data;

	if (u->fd < 0)
		return -EBADF;
	if (len > u->want - u->got)
		return -EMSGSIZE;
	if (!u->header_ok) {
		struct mevi_recording_header h;
		size_t take = sizeof(u->head) - u->head_len;
		int ret;

		if (take > len)
			take = len;
		memcpy(u->head + u->head_len, p, take);
		u->head_len += take;
		ret = mevi_recording_header_parse(u->head, u->head_len, &h, err, errlen);
		if (ret > 0)
			u->header_ok = true;
		else if (ret != -ENODATA)
			return ret;
	}
	while (len) {
		ssize_t n = write(u->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int ret = -errno;

			snprintf(err, errlen, "cannot store the upload: %s", strerror(-ret));
			return ret;
		}
		p += n;
		len -= (size_t)n;
		u->got += (uint64_t)n;
	}
	return 0;
}

int upload_finish(struct upload *u, struct session_registry *reg, struct session **out, char *err,
		  size_t errlen)
{
	void *map = NULL;
	int ret;

	*out = NULL;
	if (u->fd < 0) {
		snprintf(err, errlen, "no upload");
		return -EBADF;
	}
	if (u->got == 0) {
		snprintf(err, errlen, "empty body: not a mevi recording");
		upload_close(u);
		return -EBADMSG;
	}
	map = mmap(NULL, (size_t)u->got, PROT_READ, MAP_PRIVATE, u->fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		snprintf(err, errlen, "cannot read the upload back: %s", strerror(-ret));
		upload_close(u);
		return ret;
	}
	ret = loader_load(reg, map, (size_t)u->got, out, err, errlen);
	munmap(map, (size_t)u->got);
	upload_close(u);
	return ret;
}

void upload_close(struct upload *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	u->want = u->got = 0;
	u->header_ok = false;
	u->head_len = 0;
}
