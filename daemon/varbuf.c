/* varbuf — growing the history's byte writer; strings in and out of it. */
#include "varbuf.h"

#include <stdlib.h>

void wb_grow(struct wbuf *w, size_t n)
{
	size_t cap = w->cap ? w->cap : 256;
	unsigned char *p;

	while (cap < w->len + n)
		cap *= 2;
	p = realloc(w->p, cap);
	if (!p) {
		w->failed = true;
		return;
	}
	w->p = p;
	w->cap = cap;
}

void wb_str(struct wbuf *w, struct mevi_str s)
{
	wb_uv(w, s.len);
	wb_bytes(w, s.ptr, s.len);
}

void wb_strv(struct wbuf *w, const struct mevi_strv *v)
{
	wb_uv(w, v->count);
	for (uint32_t i = 0; i < v->count; i++)
		wb_str(w, v->items[i]);
}

struct mevi_str rb_str(struct rbuf *r)
{
	uint64_t len = rb_uv(r);
	struct mevi_str s = {"", 0};

	if (r->bad || len > r->len - r->off) {
		r->bad = true;
		return s;
	}
	s = (struct mevi_str){(const char *)r->p + r->off, (uint32_t)len};
	r->off += len;
	return s;
}

void rb_strv(struct rbuf *r, struct mevi_strv *v)
{
	uint64_t count = rb_uv(r);

	v->count = 0;
	v->items = NULL;
	if (r->bad || count > r->len - r->off) {
		r->bad = true;
		return;
	}
	if (count > r->cap_strs) {
		struct mevi_str *s = realloc(r->strs, count * sizeof(*s));

		if (!s) {
			r->nomem = true;
			r->bad = true;
			return;
		}
		r->strs = s;
		r->cap_strs = (uint32_t)count;
	}
	for (uint64_t i = 0; i < count; i++) {
		r->strs[i] = rb_str(r);
		if (r->bad)
			return;
	}
	v->count = (uint32_t)count;
	v->items = r->strs;
}

void rb_free(struct rbuf *r)
{
	free(r->strs);
	r->strs = NULL;
	r->cap_strs = 0;
}
