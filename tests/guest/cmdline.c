/*
 * The guest's command line (multiboot):
 *   pvpatch=off                 leave every site native
 *   pvpatch.debug               dump every site's bytes before and after
 *   pvpatch.profile=NAME        use this built-in profile (default: detected)
 *   pvpatch.op=OP:MODE[,...]    force ops into a mode
 *   pvpatch.site=WHERE:MODE     force one site; WHERE is 0xADDR or FUNC+0xOFF
 *   bench=N                     run the benchmarks with N iterations
 *   pvpatch.test_bad_override   (tests) expect a refused override
 */
#include <asm/pvops-gen.h>
#include "console.h"
#include "guest.h"
#include "io.h"

struct cmdline cmd;

static const char *const modes[PVPATCH_NR_MODES] = { "native", "nop", "inline", "call" };

const char *mode_name(unsigned int m)
{
	static const char *const upper[PVPATCH_NR_MODES] = { "NATIVE", "NOP", "INLINE", "CALL" };

	return m < PVPATCH_NR_MODES ? upper[m] : "?";
}

int mode_from_name(const char *s, size_t len)
{
	for (unsigned int m = 0; m < PVPATCH_NR_MODES; m++) {
		size_t n = strlen(modes[m]);

		if (n == len) {
			size_t i;

			for (i = 0; i < n; i++)
				if ((s[i] | 0x20) != modes[m][i])
					break;
			if (i == n)
				return (int)m;
		}
	}
	return -1;
}

int op_from_name(const char *s, size_t len)
{
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
		const char *name = pvpatch_op_table[op].name;

		if (name && strlen(name) == len && !strncmp(name, s, len))
			return (int)op;
	}
	return -1;
}

static unsigned long parse_num(const char *s, size_t len, bool *ok)
{
	unsigned long v = 0;
	unsigned int base = 10;

	*ok = len > 0;
	if (len > 2 && s[0] == '0' && (s[1] | 0x20) == 'x') {
		base = 16;
		s += 2;
		len -= 2;
	}
	for (; len; s++, len--) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (base == 16 && (*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			d = (unsigned int)((*s | 0x20) - 'a' + 10);
		else
			return *ok = false, 0;
		v = v * base + d;
	}
	return v;
}

/* OP:MODE,OP:MODE */
static void parse_ops(const char *v, size_t len)
{
	while (len) {
		size_t n = 0, colon = 0;
		int op, mode;

		while (n < len && v[n] != ',') {
			if (v[n] == ':')
				colon = n;
			n++;
		}
		op = colon ? op_from_name(v, colon) : -1;
		mode = colon ? mode_from_name(v + colon + 1, n - colon - 1) : -1;
		if (op < 0 || mode < 0)
			kprintf("pvpatch: ignoring bad op override '%.*s'\n", (int)n, v);
		else
			cmd.op_mode[op] = mode;
		v += n;
		len -= n;
		if (len) {
			v++;
			len--;
		}
	}
}

/* 0xADDR:MODE or FUNC+0xOFF:MODE */
static void parse_site(const char *v, size_t len)
{
	size_t colon = len, plus = len;
	struct pvpatch_override *o;
	bool ok = true;
	int mode;

	for (size_t i = 0; i < len; i++) {
		if (v[i] == ':')
			colon = i;
		if (v[i] == '+' && plus == len)
			plus = i;
	}
	mode = colon < len ? mode_from_name(v + colon + 1, len - colon - 1) : -1;
	if (mode < 0 || cmd.n_sites >= MAX_OVERRIDES) {
		kprintf("pvpatch: ignoring bad site override '%.*s'\n", (int)len, v);
		return;
	}
	o = &cmd.site[cmd.n_sites];
	o->mode = (uint8_t)mode;
	if (plus < colon) {
		size_t n = plus < sizeof(cmd.site_func[0]) - 1 ? plus : sizeof(cmd.site_func[0]) - 1;

		memcpy(cmd.site_func[cmd.n_sites], v, n);
		cmd.site_func[cmd.n_sites][n] = 0;
		o->func = cmd.site_func[cmd.n_sites];
		o->addr = parse_num(v + plus + 1, colon - plus - 1, &ok);
	} else {
		o->func = NULL;
		o->addr = parse_num(v, colon, &ok);
	}
	if (!ok) {
		kprintf("pvpatch: ignoring bad site override '%.*s'\n", (int)len, v);
		return;
	}
	cmd.n_sites++;
}

static bool key_is(const char *w, size_t klen, const char *key)
{
	return strlen(key) == klen && !strncmp(w, key, klen);
}

void cmdline_parse(const char *s)
{
	static char profile[32];

	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
		cmd.op_mode[op] = -1;
	while (s && *s) {
		const char *w = s, *eq;
		size_t len = 0, klen;

		while (w[len] && w[len] != ' ')
			len++;
		s = w + len;
		while (*s == ' ')
			s++;
		for (eq = w; eq < w + len && *eq != '='; eq++)
			;
		klen = (size_t)(eq - w);
		const char *v = eq < w + len ? eq + 1 : w + len;
		size_t vlen = (size_t)(w + len - v);
		bool ok;

		if (key_is(w, klen, "pvpatch") && vlen == 3 && !strncmp(v, "off", 3)) {
			cmd.off = true;
		} else if (key_is(w, klen, "pvpatch.debug")) {
			cmd.debug = true;
		} else if (key_is(w, klen, "pvpatch.profile") && vlen < sizeof(profile)) {
			memcpy(profile, v, vlen);
			profile[vlen] = 0;
			cmd.profile = profile;
		} else if (key_is(w, klen, "pvpatch.op")) {
			parse_ops(v, vlen);
		} else if (key_is(w, klen, "pvpatch.site")) {
			parse_site(v, vlen);
		} else if (key_is(w, klen, "pvpatch.test_bad_override")) {
			cmd.expect_bad_override = true;
		} else if (key_is(w, klen, "bench")) {
			cmd.bench = (unsigned int)parse_num(v, vlen, &ok);
		}
	}
}
