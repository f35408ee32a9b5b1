/*
 * assets — the frontend files compiled into mevid, and content types.
 *
 * At build time daemon/asset_gen turns every file of frontend/dist into
 * generated C (assets_data.c in the build tree): its URL path, content type,
 * bytes, a `gzip -9 -n` variant when that is smaller, and an ETag (a hash of
 * the bytes). Files under /assets/ carry a content hash in their names (Vite)
 * and are cached for a year as immutable; everything else must be
 * revalidated (Cache-Control: no-cache, answered with 304 on a matching
 * If-None-Match). When the frontend was not built, the only asset is a page
 * saying so and how to build it.
 *
 * Everything here is static, read-only data.
 */
#ifndef MEVI_DAEMON_ASSETS_H
#define MEVI_DAEMON_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

struct asset {
	const char *path; /* URL path, "/index.html" */
	const char *content_type;
	const unsigned char *data;
	size_t len;
	const unsigned char *gz; /* NULL when gzip does not help */
	size_t gz_len;
	const char *etag; /* quoted, e.g. "\"9f3a...\"" */
	bool immutable;
};

/* Generated: every embedded file (assets_embedded_count may be 0). */
extern const struct asset assets_embedded[];
extern const size_t assets_embedded_count;

/* The asset served for URL path (query string removed): "/" is
 * "/index.html". Returns NULL when there is none. */
const struct asset *assets_find(const char *path);

/* True when the frontend was embedded (false: the placeholder page). */
bool assets_frontend_built(void);

#endif /* MEVI_DAEMON_ASSETS_H */
