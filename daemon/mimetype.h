/*
 * mimetype — content types of the files mevid serves, by file extension.
 * Shared by the embedded assets' generator and by --web-root.
 */
#ifndef MEVI_DAEMON_MIMETYPE_H
#define MEVI_DAEMON_MIMETYPE_H

/* The content type for a file name ("application/octet-stream" when the
 * extension is unknown). Returns a static string. */
const char *mimetype_of(const char *name);

#endif /* MEVI_DAEMON_MIMETYPE_H */
