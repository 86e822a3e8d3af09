// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Differential test of insn_decode() against a reference disassembler.
 *
 *   insn-diff [-v] ELF REF [ELF REF ...]
 *
 * REF lists where the reference (objdump or capstone, see difftest.py)
 * decoded an instruction in the ELF's .text and how long it was.  At every
 * such offset we decode independently, so one disagreement cannot hide the
 * next, and data in .text only costs the offsets where the reference itself
 * gave up.  A length that differs from the reference is a mismatch;
 * INSN_ERR_UNSUPPORTED is counted, never compared.  Length 0 marks an
 * offset where the reference found no valid instruction: decoding one there
 * is not an error (the reference may not know it), but it is counted and
 * shown, as the place to look for a decoder that accepts too much.
 *
 * REF format, little-endian: "PVINSREF", u32 version (1), u32 0,
 * u64 .text file offset, u64 .text size, u64 .text address, u64 count,
 * u64 reference lines rejected, then count u32 offsets (ascending), then
 * count u8 lengths.
 *
 * Output: every mismatch (up to a limit), one line per file, the most
 * frequent unsupported opcodes, and a last line "insn-diff: compared=..."
 * for scripts.  Exit status 0 if no mismatch, 1 if any, 2 on bad input.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insn.h"

#define MAX_MISMATCH_REPORT 50

struct ref {
	uint64_t text_off, text_size, text_addr, count, rejected;
	uint32_t *off;
	uint8_t *len;
};

/* Unsupported instructions, keyed by encoding, map and opcode. */
struct unsup {
	uint64_t count;
	uint8_t example[INSN_MAX_LEN];
	unsigned int example_len;
	const char *file;
	uint64_t addr;
};

enum { KEY_LEGACY, KEY_VEX, KEY_EVEX, KEY_OTHER, NR_KEYS };
typedef struct unsup histogram[NR_KEYS][32][256];

/* What we refused, and what we decoded where the reference found nothing. */
static histogram unsup, overreach;

static uint64_t get_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

static void *read_file_range(const char *path, uint64_t off, uint64_t size)
{
	FILE *f = fopen(path, "rb");
	void *buf;

	if (!f) {
		perror(path);
		return NULL;
	}
	buf = malloc(size ? size : 1);
	if (!buf || fseek(f, (long)off, SEEK_SET) ||
	    fread(buf, 1, size, f) != size) {
		fprintf(stderr, "%s: cannot read %" PRIu64 " bytes at %" PRIu64 "\n",
			path, size, off);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	return buf;
}

static int read_ref(const char *path, struct ref *ref)
{
	FILE *f = fopen(path, "rb");
	uint8_t h[56];
	uint64_t i;

	if (!f) {
		perror(path);
		return -1;
	}
	if (fread(h, 1, sizeof(h), f) != sizeof(h) ||
	    memcmp(h, "PVINSREF", 8) || get_le(h + 8, 4) != 1) {
		fprintf(stderr, "%s: not a version 1 reference file\n", path);
		fclose(f);
		return -1;
	}
	ref->text_off = get_le(h + 16, 8);
	ref->text_size = get_le(h + 24, 8);
	ref->text_addr = get_le(h + 32, 8);
	ref->count = get_le(h + 40, 8);
	ref->rejected = get_le(h + 48, 8);
	ref->off = malloc(ref->count * 4 + 1);
	ref->len = malloc(ref->count + 1);
	if (!ref->off || !ref->len) {
		fprintf(stderr, "%s: out of memory\n", path);
		fclose(f);
		return -1;
	}
	for (i = 0; i < ref->count; i++) {
		uint8_t b[4];

		if (fread(b, 1, 4, f) != 4)
			goto short_file;
		ref->off[i] = (uint32_t)get_le(b, 4);
	}
	if (fread(ref->len, 1, ref->count, f) != ref->count)
		goto short_file;
	fclose(f);
	return 0;
short_file:
	fprintf(stderr, "%s: truncated\n", path);
	fclose(f);
	return -1;
}

/* Which opcode an unsupported instruction has, from its bytes alone. */
static struct unsup *histogram_slot(histogram h, const uint8_t *p,
				    size_t avail)
{
	size_t i = 0;

	while (i < avail && i < INSN_MAX_LEN &&
	       (p[i] == 0x66 || p[i] == 0x67 || p[i] == 0xf0 || p[i] == 0xf2 ||
		p[i] == 0xf3 || p[i] == 0x26 || p[i] == 0x2e || p[i] == 0x36 ||
		p[i] == 0x3e || p[i] == 0x64 || p[i] == 0x65 ||
		(p[i] & 0xf0) == 0x40))
		i++;
	if (i + 1 >= avail)
		return &h[KEY_OTHER][0][0];
	if (p[i] == 0x0f) {
		if ((p[i + 1] == 0x38 || p[i + 1] == 0x3a) && i + 2 < avail)
			return &h[KEY_LEGACY][p[i + 1] == 0x38 ? 2 : 3][p[i + 2]];
		return &h[KEY_LEGACY][1][p[i + 1]];
	}
	if (p[i] == 0xc5 && i + 2 < avail)
		return &h[KEY_VEX][1][p[i + 2]];
	if (p[i] == 0xc4 && i + 3 < avail)
		return &h[KEY_VEX][p[i + 1] & 0x1f][p[i + 3]];
	if (p[i] == 0x62 && i + 4 < avail)
		return &h[KEY_EVEX][p[i + 1] & 7][p[i + 4]];
	return &h[KEY_LEGACY][0][p[i]];
}

static void print_bytes(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%s%02x", i ? " " : "", p[i]);
}

static void print_key(unsigned int enc, unsigned int map, unsigned int op)
{
	static const char *const legacy[] = { "", "0f ", "0f 38 ", "0f 3a " };

	switch (enc) {
	case KEY_LEGACY:
		printf("%s%02x", legacy[map], op);
		break;
	case KEY_VEX:
		printf("vex.m%u %02x", map, op);
		break;
	case KEY_EVEX:
		printf("evex.m%u %02x", map, op);
		break;
	default:
		printf("(prefixes only)");
	}
}

static void histogram_add(histogram h, const uint8_t *p, size_t avail,
			  unsigned int len, const char *file, uint64_t addr)
{
	struct unsup *u = histogram_slot(h, p, avail);

	if (!u->count++) {
		if (len > avail)
			len = avail;
		u->example_len = len < INSN_MAX_LEN ? len : INSN_MAX_LEN;
		memcpy(u->example, p, u->example_len);
		u->file = file;
		u->addr = addr;
	}
}

static void histogram_print(histogram h, unsigned int top)
{
	unsigned int n, enc, map, op;

	if (!top)
		return;

	for (n = 0; n < top; n++) {
		struct unsup *best = NULL;
		unsigned int be = 0, bm = 0, bo = 0;

		for (enc = 0; enc < NR_KEYS; enc++)
			for (map = 0; map < 32; map++)
				for (op = 0; op < 256; op++) {
					struct unsup *u = &h[enc][map][op];

					if (u->count && (!best || u->count > best->count)) {
						best = u;
						be = enc;
						bm = map;
						bo = op;
					}
				}
		if (!best) {
			if (!n)
				printf("  (none)\n");
			break;
		}
		printf("  %10" PRIu64 "  ", best->count);
		print_key(be, bm, bo);
		printf("\te.g. ");
		print_bytes(best->example, best->example_len);
		printf("  (%s+0x%" PRIx64 ")\n", best->file, best->addr);
		best->count = 0;	/* printed: let the next one win */
	}
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int main(int argc, char **argv)
{
	uint64_t t_compared = 0, t_supported = 0, t_mismatch = 0, t_rejected = 0;
	uint64_t t_overreach = 0;
	unsigned int reported = 0;
	int verbose = 0, i;

	if (argc > 1 && !strcmp(argv[1], "-v")) {
		verbose = 1;
		argv++;
		argc--;
	}
	if (argc < 3 || (argc - 1) % 2) {
		fprintf(stderr, "usage: insn-diff [-v] ELF REF [ELF REF ...]\n");
		return 2;
	}

	for (i = 1; i < argc; i += 2) {
		const char *elf = argv[i], *name = base_name(elf);
		uint64_t compared = 0, supported = 0, mismatch = 0;
		uint64_t bad = 0, overreached = 0, k;
		struct ref ref;
		uint8_t *text;

		if (read_ref(argv[i + 1], &ref))
			return 2;
		text = read_file_range(elf, ref.text_off, ref.text_size);
		if (!text)
			return 2;

		for (k = 0; k < ref.count; k++) {
			uint64_t off = ref.off[k];
			size_t avail;
			struct insn insn;
			int len;

			if (off >= ref.text_size) {
				fprintf(stderr, "%s: offset %" PRIu64 " outside .text\n",
					argv[i + 1], off);
				return 2;
			}
			avail = ref.text_size - off;
			len = insn_decode(&insn, text + off, avail);
			if (!ref.len[k]) {
				bad++;
				if (len > 0) {
					overreached++;
					histogram_add(overreach, text + off, avail,
						      len, name, ref.text_addr + off);
				}
				continue;
			}
			compared++;
			if (len == INSN_ERR_UNSUPPORTED) {
				histogram_add(unsup, text + off, avail, ref.len[k],
					      name, ref.text_addr + off);
				continue;
			}
			if (len == ref.len[k]) {
				supported++;
				continue;
			}
			/* A wrong length, or "truncated" inside .text. */
			mismatch++;
			if (reported++ < MAX_MISMATCH_REPORT || verbose) {
				printf("MISMATCH %s+0x%" PRIx64 ": ", name,
				       ref.text_addr + off);
				print_bytes(text + off, ref.len[k]);
				printf("  reference %u, insn_decode %d%s%s\n",
				       ref.len[k], len, len < 0 ? " " : "",
				       len < 0 ? insn_strerror(len) : "");
			}
		}
		printf("%s: %" PRIu64 " compared, %" PRIu64 " supported (%.3f%%), "
		       "%" PRIu64 " unsupported, %" PRIu64 " mismatches; "
		       "reference rejected %" PRIu64 " (%" PRIu64 " \"(bad)\", "
		       "of which we decode %" PRIu64 ")\n",
		       name, compared, supported,
		       compared ? 100.0 * supported / compared : 0.0,
		       compared - supported - mismatch, mismatch, ref.rejected,
		       bad, overreached);
		t_compared += compared;
		t_supported += supported;
		t_mismatch += mismatch;
		t_rejected += ref.rejected;
		t_overreach += overreached;
		free(text);
		free(ref.off);
		free(ref.len);
	}

	printf("most frequent unsupported opcodes:\n");
	histogram_print(unsup, verbose ? 100 : 15);
	if (t_overreach) {
		printf("decoded where the reference found no instruction:\n");
		histogram_print(overreach, verbose ? 100 : 15);
	}
	printf("insn-diff: compared=%" PRIu64 " supported=%" PRIu64
	       " unsupported=%" PRIu64 " mismatches=%" PRIu64
	       " share=%.3f%% rejected_by_reference=%" PRIu64
	       " decoded_where_rejected=%" PRIu64 "\n",
	       t_compared, t_supported, t_compared - t_supported - t_mismatch,
	       t_mismatch, t_compared ? 100.0 * t_supported / t_compared : 0.0,
	       t_rejected, t_overreach);
	return t_mismatch ? 1 : 0;
}
