/*
 * dump_recording — prints the events of a .mevi recording as JSON lines, for
 * the launcher tests (Python has no msgpack module here).
 *
 *     dump_recording FILE
 *
 * One line per event: {"type": "origin", "pid": 4243, "ts": 120000, ...}
 * with the fields of proto/PROTOCOL.md section 3 by name. Strings are
 * printed with JSON escapes (bytes >= 0x80 as \u00XX, one per byte). Exits 1
 * with a message on a file the decoder refuses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "event.h"
#include "recording.h"

static void put_str(struct mevi_str s)
{
	putchar('"');
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void put_strv(struct mevi_strv v)
{
	putchar('[');
	for (uint32_t i = 0; i < v.count; i++) {
		if (i)
			putchar(',');
		put_str(v.items[i]);
	}
	putchar(']');
}

static void put_range(const char *a, const char *b, struct mevi_range r)
{
	printf(",\"%s\":%llu,\"%s\":%llu", a, (unsigned long long)r.start, b,
	       (unsigned long long)r.end);
}

static void dump(const struct mevi_event *ev)
{
	printf("{\"type\":\"%s\",\"pid\":%d,\"ts\":%llu", mevi_event_type_name(ev->type), ev->pid,
	       (unsigned long long)ev->ts);
	switch (ev->type) {
	case MEVI_EV_SESSION_START:
		printf(",\"version\":%u,\"mode\":%u,\"resume\":%s,\"argv\":",
		       ev->session_start.version, ev->session_start.mode,
		       ev->session_start.resume ? "true" : "false");
		put_strv(ev->session_start.argv);
		break;
	case MEVI_EV_SESSION_END:
		printf(",\"status\":%d", ev->session_end.status);
		break;
	case MEVI_EV_PROC_START:
		printf(",\"ppid\":%d,\"flags\":%u,\"cmdline\":", ev->proc_start.ppid,
		       ev->proc_start.flags);
		put_strv(ev->proc_start.cmdline);
		break;
	case MEVI_EV_PROC_EXEC:
		printf(",\"cmdline\":");
		put_strv(ev->proc_exec.cmdline);
		break;
	case MEVI_EV_PROC_EXIT:
		printf(",\"status\":%d", ev->proc_exit.status);
		break;
	case MEVI_EV_MAP:
		put_range("start", "end", ev->map.range);
		printf(",\"state\":%u", ev->map.state);
		break;
	case MEVI_EV_UNMAP:
		put_range("start", "end", ev->unmap.range);
		break;
	case MEVI_EV_REMAP:
		put_range("from_start", "from_end", ev->remap.from);
		put_range("to_start", "to_end", ev->remap.to);
		break;
	case MEVI_EV_STATE:
		put_range("start", "end", ev->state.range);
		printf(",\"state\":%u", ev->state.state);
		break;
	case MEVI_EV_STACK:
		printf(",\"stack_id\":%u,\"frames\":[", ev->stack.id);
		for (uint32_t i = 0; i < ev->stack.nframes; i++) {
			const struct mevi_frame *f = &ev->stack.frames[i];

			printf("%s[%llu,", i ? "," : "", (unsigned long long)f->pc);
			put_str(f->func);
			putchar(',');
			put_str(f->module);
			putchar(',');
			if (f->source.ptr)
				put_str(f->source);
			else
				printf("null");
			putchar(']');
		}
		putchar(']');
		break;
	case MEVI_EV_ORIGIN:
		put_range("start", "end", ev->origin.range);
		printf(",\"stack_id\":%u", ev->origin.stack_id);
		break;
	case MEVI_EV_VMA:
		put_range("start", "end", ev->vma.range);
		printf(",\"kind\":%u,\"name\":", ev->vma.kind);
		put_str(ev->vma.name);
		break;
	case MEVI_EV_THREAD:
		printf(",\"tid\":%d,\"name\":", ev->thread.tid);
		put_str(ev->thread.name);
		break;
	case MEVI_EV_TOUCH:
		put_range("start", "end", ev->touch.range);
		printf(",\"tid\":%d", ev->touch.tid);
		break;
	case MEVI_EV_WRITTEN:
		put_range("start", "end", ev->written.range);
		printf(",\"t\":%llu", (unsigned long long)ev->written.t);
		break;
	case MEVI_EV_SAMPLING:
		printf(",\"sample_ms\":%u", ev->sampling.sample_ms);
		break;
	}
	printf("}\n");
}

int main(int argc, char **argv)
{
	struct mevi_recording_header h;
	struct mevi_decoder d;
	char err[256];
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	FILE *f;
	int hlen, ret;

	if (argc != 2) {
		fprintf(stderr, "usage: dump_recording FILE\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f) {
		fprintf(stderr, "dump_recording: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			buf = realloc(buf, cap);
			if (!buf)
				return 1;
		}
		size_t n = fread(buf + len, 1, cap - len, f);

		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	hlen = mevi_recording_header_parse(buf, len, &h, err, sizeof(err));
	if (hlen < 0) {
		fprintf(stderr, "dump_recording: %s\n", err);
		return 1;
	}
	if (mevi_decoder_init(&d, NULL) || mevi_decoder_feed(&d, buf + hlen, len - (size_t)hlen))
		return 1;
	for (;;) {
		const struct mevi_event *evs;
		uint32_t count;

		ret = mevi_decoder_next(&d, &evs, &count);
		if (ret <= 0)
			break;
		for (uint32_t i = 0; i < count; i++)
			dump(&evs[i]);
	}
	if (ret < 0) {
		fprintf(stderr, "dump_recording: %s\n", mevi_decoder_errmsg(&d));
		return 1;
	}
	mevi_decoder_destroy(&d);
	free(buf);
	return 0;
}
