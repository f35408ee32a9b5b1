/*
 * history — the bounded RSS time series: add a point, halve the series when it
 * is full (contract: history.h).
 */
#include "history.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"

void history_init(struct history *h, uint32_t cap)
{
	MEVI_ASSERT(cap >= 4);
	h->pts = NULL;
	h->n = 0;
	h->alloc = 0;
	h->cap = cap;
	h->spacing = HISTORY_INITIAL_SPACING_NS;
}

void history_destroy(struct history *h)
{
	free(h->pts);
	h->pts = NULL;
	h->n = 0;
	h->alloc = 0;
}

void history_reset(struct history *h)
{
	h->n = 0;
	h->spacing = HISTORY_INITIAL_SPACING_NS;
}

/* Keeps points 0, 2, 4, ... and the last one; doubles the spacing. */
static void history_compact(struct history *h)
{
	struct history_point last = h->pts[h->n - 1];
	uint32_t j = 0;

	for (uint32_t i = 0; i < h->n - 1; i += 2)
		h->pts[j++] = h->pts[i];
	h->pts[j++] = last;
	h->n = j;
	h->spacing *= 2;
}

int history_add(struct history *h, uint64_t ts, uint64_t value)
{
	if (h->n > 0 && ts < h->pts[h->n - 1].ts)
		ts = h->pts[h->n - 1].ts;
	if (h->n >= 2 && ts - h->pts[h->n - 2].ts < h->spacing) {
		h->pts[h->n - 1].ts = ts;
		h->pts[h->n - 1].value = value;
		return 0;
	}
	if (h->n == h->cap)
		history_compact(h);
	if (h->n == h->alloc) {
		uint32_t alloc = h->alloc ? h->alloc * 2 : 8;
		struct history_point *pts;

		if (alloc > h->cap)
			alloc = h->cap;
		pts = realloc(h->pts, alloc * sizeof(*pts));
		if (!pts)
			return -ENOMEM;
		h->pts = pts;
		h->alloc = alloc;
	}
	h->pts[h->n].ts = ts;
	h->pts[h->n].value = value;
	h->n++;
	return 0;
}
