// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Turn objdump's disassembly of a .text section into the reference file
 * insn-diff reads (format described there).
 *
 *   objdump -d -z -w --insn-width=15 -j .text ELF |
 *	insn-ref TEXT_FILE_OFFSET TEXT_SIZE TEXT_ADDRESS OUT.ref
 *
 * In C because the reference for a large binary is millions of lines, and
 * the tests must stay fast when nothing is cached (CI starts clean).
 *
 * Per line "  addr:\tbytes\ttext":
 *   "(bad)" in the text	a length 0 entry: objdump found no instruction
 *   ".byte", or prefixes only	skipped (cut by a symbol's end, or prefixes
 *				objdump could not attach to anything)
 *   otherwise			an entry with the number of bytes shown,
 *				after splitting off fwait (below)
 *
 * objdump shows 9B followed by an x87 instruction as one (fstsw, fstenv, or
 * the x87 mnemonic alone), treating 9B like a prefix.  But 9B (fwait) is an
 * instruction of its own: the CPU can take an interrupt between the two,
 * and the decoder measures it alone.  So each fwait, with the prefixes
 * before it, is split off the front of the line; what remains is dropped
 * if it is nothing but prefixes (objdump shows "9B F0" as "lock fwait").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entries {
	uint32_t *off;
	uint8_t *len;
	size_t n, cap;
};

static void add(struct entries *e, uint64_t off, unsigned int len)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 1 << 16;
		e->off = realloc(e->off, e->cap * sizeof(*e->off));
		e->len = realloc(e->len, e->cap);
		if (!e->off || !e->len) {
			fprintf(stderr, "insn-ref: out of memory\n");
			exit(2);
		}
	}
	e->off[e->n] = (uint32_t)off;
	e->len[e->n] = (uint8_t)len;
	e->n++;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int is_prefix_byte(uint8_t b)
{
	return b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e ||
	       b == 0x64 || b == 0x65 || b == 0x66 || b == 0x67 ||
	       b == 0xf0 || b == 0xf2 || b == 0xf3 || (b & 0xf0) == 0x40;
}

/* Is the text nothing but the names objdump gives loose prefixes? */
static int prefix_only(const char *text)
{
	static const char *const words[] = {
		"data16", "data32", "addr16", "addr32", "cs", "ds", "es", "ss",
		"fs", "gs", "lock", "rep", "repz", "repnz", "repe", "repne",
		"bnd", "notrack", "xacquire", "xrelease",
	};
	const char *p = text;
	int seen = 0;

	for (;;) {
		size_t n, i;
		int ok = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n')
			return seen;
		n = strcspn(p, " \t\n");
		if (n >= 3 && !strncmp(p, "rex", 3))
			ok = 1;
		for (i = 0; !ok && i < sizeof(words) / sizeof(words[0]); i++)
			ok = strlen(words[i]) == n && !strncmp(p, words[i], n);
		if (!ok)
			return 0;
		seen = 1;
		p += n;
	}
}

/*
 * Add the instructions of one line of n bytes at off, fwait split off.
 * Returns 1 if a remainder of prefixes was dropped.
 */
static int add_line(struct entries *e, uint64_t off, const uint8_t *b,
		    unsigned int n)
{
	unsigned int start = 0, i;

	for (;;) {
		i = start;
		while (i < n && is_prefix_byte(b[i]))
			i++;
		if (i + 1 < n && b[i] == 0x9b) {
			add(e, off + start, i + 1 - start);
			start = i + 1;
			continue;
		}
		break;
	}
	for (i = start; i < n; i++)
		if (!is_prefix_byte(b[i]))
			break;
	if (i == n)
		return 1;
	add(e, off + start, n - start);
	return 0;
}

static void put_le(uint8_t *p, uint64_t v, unsigned int n)
{
	while (n--) {
		*p++ = (uint8_t)v;
		v >>= 8;
	}
}

int main(int argc, char **argv)
{
	uint64_t text_off, text_size, text_addr, rejected = 0;
	struct entries e = { 0 };
	static char line[4096];
	uint8_t h[56];
	size_t i;
	FILE *out;

	if (argc != 5) {
		fprintf(stderr, "usage: objdump -d -z -w --insn-width=15 -j .text ELF"
			" | insn-ref TEXT_OFF TEXT_SIZE TEXT_ADDR OUT\n");
		return 2;
	}
	text_off = strtoull(argv[1], NULL, 0);
	text_size = strtoull(argv[2], NULL, 0);
	text_addr = strtoull(argv[3], NULL, 0);

	while (fgets(line, sizeof(line), stdin)) {
		const char *p = line, *text;
		uint64_t addr = 0;
		uint8_t bytes[16];
		unsigned int n = 0;
		int digits = 0, hi, lo;

		while (*p == ' ')
			p++;
		while (hexval(*p) >= 0) {
			addr = addr << 4 | (uint64_t)hexval(*p++);
			digits++;
		}
		if (!digits || p[0] != ':' || p[1] != '\t')
			continue;		/* headers, symbols, blank lines */
		p += 2;
		while ((hi = hexval(p[0])) >= 0 && (lo = hexval(p[1])) >= 0) {
			if (n == sizeof(bytes))
				break;
			bytes[n++] = (uint8_t)(hi << 4 | lo);
			p += 2;
			if (*p != ' ')
				break;
			while (*p == ' ')
				p++;
		}
		if (!n || *p != '\t' || n > 15)
			continue;		/* a continuation line */
		text = p + 1;
		if (addr < text_addr || addr - text_addr >= text_size) {
			fprintf(stderr, "insn-ref: address %" PRIx64
				" outside .text\n", addr);
			return 2;
		}
		if (strstr(text, "(bad)")) {
			rejected++;
			add(&e, addr - text_addr, 0);
		} else if (!strncmp(text, ".byte", 5) || prefix_only(text)) {
			rejected++;
		} else if (add_line(&e, addr - text_addr, bytes, n)) {
			rejected++;
		}
	}
	if (ferror(stdin)) {
		perror("insn-ref: stdin");
		return 2;
	}

	out = fopen(argv[4], "wb");
	if (!out) {
		perror(argv[4]);
		return 2;
	}
	memcpy(h, "PVINSREF", 8);
	put_le(h + 8, 1, 4);
	put_le(h + 12, 0, 4);
	put_le(h + 16, text_off, 8);
	put_le(h + 24, text_size, 8);
	put_le(h + 32, text_addr, 8);
	put_le(h + 40, e.n, 8);
	put_le(h + 48, rejected, 8);
	fwrite(h, 1, sizeof(h), out);
	for (i = 0; i < e.n; i++) {
		uint8_t b[4];

		put_le(b, e.off[i], 4);
		fwrite(b, 1, 4, out);
	}
	fwrite(e.len, 1, e.n, out);
	if (fclose(out)) {
		perror(argv[4]);
		return 2;
	}
	free(e.off);
	free(e.len);
	return 0;
}
