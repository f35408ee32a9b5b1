/*
 * gen_corpus — writes the fuzzer's seed corpus: small valid and invalid
 * inputs, each with the two configuration bytes fuzz_decoder.c expects in
 * front (limits/chunk size, split seed).
 *
 *   cmake --build build --target gen_fuzz_corpus
 *   build/tests/fuzz/gen_fuzz_corpus tests/fuzz/corpus
 *
 * The output is checked in; rerun only to change the seeds.
 */
#include <stdio.h>
#include <stdlib.h>

#include "codec_test.h"

static const char *outdir;

/* Writes one seed: config bytes, then the notation packed as msgpack. */
static void seed(const char *name, uint8_t config, uint8_t split, const char *notation)
{
	char path[4096];
	msgpack_sbuffer sb;
	FILE *f;

	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_write(&sb, (const char *)&config, 1);
	msgpack_sbuffer_write(&sb, (const char *)&split, 1);
	mp_pack(&sb, notation);
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(sb.data, 1, sb.size, f) != sb.size || fclose(f)) {
		perror(path);
		exit(1);
	}
	msgpack_sbuffer_destroy(&sb);
}

/* Config byte: bit 0 tiny limits, bits 1..3 the chunk-size index. */
#define CFG(tiny, chunk) ((uint8_t)((tiny) | ((chunk) << 1)))

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];

	/* Valid. */
	seed("valid-session", CFG(0, 7), 1,
	     "[[0, 4242, 0, 1, 0, false, 1700000000000000, [\"prog\", \"arg\"]],"
	     " [2, 4243, 10, 4242, 0, [\"prog\", \"arg\"]]]"
	     " [[1, 4242, 99, 0]]");
	seed("valid-memory", CFG(0, 4), 2,
	     "[[5, 4243, 20, 0x7f0000000000, 0x7f0000021000, 0],"
	     " [8, 4243, 21, 0x7f0000001000, 0x7f0000003000, 1],"
	     " [7, 4243, 22, 0x7f0000000000, 0x7f0000021000, 0x7f1000000000, 0x7f1000042000],"
	     " [6, 4243, 23, 0x7f1000000000, 0x7f1000001000]]");
	seed("valid-procs", CFG(0, 0), 3,
	     "[[2, 4244, 30, 4243, 1, []], [3, 4244, 31, [\"/bin/sh\", b\"-c\", \"\"]],"
	     " [4, 4244, 32, -1], [4, 4243, 33, 137]] []");
	seed("valid-tiny-limits", CFG(1, 2), 4,
	     "[[5, 1, 0, 0, 4096, 2], [3, 1, 0, [\"0123456789abcdef\"]]]");
	seed("valid-edges", CFG(0, 5), 5,
	     "[[5, 2147483647, 0xffffffffffffffff, 0x00fffffffffff000, 0x0100000000000000, 1],"
	     " [0, 1, 0, 1, 1, true, 0xffffffffffffffff, []]]");

	/* Invalid, one per error family. */
	seed("bad-c1", CFG(0, 1), 6, "[[5, 1, 0, x\"c1\"]]");
	seed("bad-not-batch", CFG(0, 7), 7, "[] {\"a\": 1}");
	seed("bad-huge-header", CFG(0, 3), 8, "[x\"ddffffffff\"]");
	seed("bad-huge-str", CFG(1, 6), 9, "[[3, 1, 0, [x\"dbfffffff0\"]]]");
	seed("bad-nested", CFG(0, 7), 10, "[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]");
	seed("bad-unknown-type", CFG(0, 7), 11, "[[9, 1, 0]]");
	seed("bad-arity", CFG(0, 7), 12, "[[6, 1, 0, 0, 4096, 1]]");
	seed("bad-fields", CFG(0, 7), 13, "[[6, 0, 0, 0, 4096]] [[4, 1, 0, 256]]");
	seed("bad-range", CFG(0, 2), 14, "[[5, 1, 0, 0x2000, 0x1000, 1]]");
	seed("bad-unaligned", CFG(0, 7), 15, "[[8, 1, 0, 0x1001, 0x2000, 1]]");
	seed("bad-limit", CFG(0, 7), 16, "[[6, 1, 0, 0, 0x0100000000001000]]");
	seed("bad-state", CFG(0, 7), 17, "[[5, 1, 0, 0, 4096, 3]]");
	seed("bad-version", CFG(0, 7), 18, "[[0, 1, 0, 2, 0, false, 0, [], 5]]");
	seed("bad-strings-tiny", CFG(1, 7), 19, "[[3, 1, 0, [\"a\", \"b\", \"c\", \"d\", \"e\"]]]");
	seed("bad-truncated", CFG(0, 0), 20, "x\"9296\" 5 1 0 0");
	return 0;
}
