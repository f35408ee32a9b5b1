/* pace — see pace.h. */
#include "pace.h"

#include <event2/event.h>

static struct timeval tv_of(unsigned ms)
{
	return (struct timeval){ms / 1000, (ms % 1000) * 1000};
}

void pace_init(struct pace *p, struct event *ev, unsigned base_ms, unsigned max_ms)
{
	p->ev = ev;
	p->base_ms = base_ms;
	p->max_ms = max_ms > base_ms ? max_ms : base_ms;
	p->now_ms = base_ms;
}

int pace_start(struct pace *p)
{
	struct timeval tv = tv_of(p->base_ms);

	p->now_ms = p->base_ms;
	return event_add(p->ev, &tv);
}

void pace_tick(struct pace *p, bool busy)
{
	unsigned next = busy ? p->base_ms : p->now_ms * 2;

	if (next > p->max_ms)
		next = p->max_ms;
	if (next == p->now_ms || !event_pending(p->ev, EV_TIMEOUT, NULL))
		return;
	p->now_ms = next;
	struct timeval tv = tv_of(next);

	event_add(p->ev, &tv);
}
