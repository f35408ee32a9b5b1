/*
 * assets — lookup in the frontend compiled into mevid, and the placeholder page
 * served when it was built without one (the table is generated: asset_gen.c).
 */
#include "assets.h"

#include <string.h>

static const char placeholder_html[] =
    "<!doctype html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mevi</title>\n"
    "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42em;margin:3em auto;"
    "padding:0 1em;color:#222}code{background:#eee;padding:0 .3em}</style></head>\n"
    "<body><h1>mevi</h1>\n"
    "<p>mevid is running, but this binary was built without its web frontend.</p>\n"
    "<p>To build it in: install Node.js and npm, run <code>npm ci</code> in "
    "<code>frontend/</code>, then rebuild with <code>cmake -DMEVI_FRONTEND=ON</code> "
    "(the default). During frontend development, <code>mevid --web-root "
    "frontend/dist</code> serves the files from disk.</p>\n"
    "<p>Meanwhile the state is available as JSON at <a href=\"/api/state\">/api/state</a>, "
    "and live at the <code>/stream</code> websocket.</p>\n"
    "</body></html>\n";

static const struct asset placeholder = {
    .path = "/index.html",
    .content_type = "text/html; charset=utf-8",
    .data = (const unsigned char *)placeholder_html,
    .len = sizeof(placeholder_html) - 1,
    .etag = "\"mevi-placeholder-1\"", /* bump when the text above changes */
};

bool assets_frontend_built(void)
{
	return assets_embedded_count > 0;
}

const struct asset *assets_find(const char *path)
{
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (size_t i = 0; i < assets_embedded_count; i++)
		if (strcmp(assets_embedded[i].path, path) == 0)
			return &assets_embedded[i];
	if (!assets_embedded_count && strcmp(path, placeholder.path) == 0)
		return &placeholder;
	return NULL;
}
