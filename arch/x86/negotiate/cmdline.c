// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The pvpatch options of the kernel command line (asm/pvpatch-boot.h).
 * Words are separated by blanks; words that are not pvpatch options are
 * the kernel's and are skipped.  A malformed option is reported and
 * ignored: a typo on the command line must not stop a boot.
 */
#include <asm/pvpatch-boot.h>
#include "../alternatives/util.h"

int pvpatch_mode_parse(const char *s, size_t len)
{
	for (unsigned int m = 0; m < PVPATCH_NR_MODES; m++) {
		const char *name = pvpatch_mode_names[m];
		size_t i = 0;

		while (i < len && name[i] && (s[i] | 0x20) == (name[i] | 0x20))
			i++;
		if (i == len && !name[i])
			return (int)m;
	}
	return -1;
}

static int op_parse(const char *s, size_t len)
{
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
		if (pvpatch_op_table[op].name && pv_eq(s, len, pvpatch_op_table[op].name))
			return (int)op;
	return -1;
}

/* Decimal or 0x hex, the whole of s[0..len); false when it is not. */
static bool parse_num(const char *s, size_t len, uintptr_t *v)
{
	unsigned int base = 10;

	*v = 0;
	if (len > 2 && s[0] == '0' && (s[1] | 0x20) == 'x') {
		base = 16;
		s += 2;
		len -= 2;
	}
	if (!len || len > (base == 16 ? 16 : 19))
		return false;
	for (; len; s++, len--) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (base == 16 && (*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			d = (unsigned int)((*s | 0x20) - 'a' + 10);
		else
			return false;
		*v = *v * base + d;
	}
	return true;
}

static void bad(struct pvpatch_cmdline *cmd, void (*print)(const char *), const char *what,
		const char *w, size_t len)
{
	struct pv_line l = { .n = 0 };

	cmd->n_bad++;
	put_s(&l, "pvpatch: ignoring ");
	put_s(&l, what);
	put_s(&l, " '");
	put_sn(&l, w, len);
	put_s(&l, "'");
	line_print(print, &l);
}

/* OP:MODE[,OP:MODE...] */
static void parse_ops(struct pvpatch_cmdline *cmd, const char *v, size_t len,
		      void (*print)(const char *))
{
	while (len) {
		size_t n = 0, colon = 0;
		int op, mode;

		while (n < len && v[n] != ',') {
			if (v[n] == ':' && !colon)
				colon = n;
			n++;
		}
		op = colon ? op_parse(v, colon) : -1;
		mode = colon ? pvpatch_mode_parse(v + colon + 1, n - colon - 1) : -1;
		if (op < 0 || mode < 0)
			bad(cmd, print, "bad op override", v, n);
		else
			cmd->op_mode[op] = (int8_t)mode;
		v += n;
		len -= n;
		if (len) {
			v++;
			len--;
		}
	}
}

/* PROFILE[,PROFILE...]@N: the kernel switches every N timer ticks. */
static void parse_repatch(struct pvpatch_cmdline *cmd, const char *v, size_t len,
			  void (*print)(const char *))
{
	struct pvpatch_cmdline_repatch r = { .n = 0 };
	size_t at = len;
	uintptr_t every = 0;

	while (at && v[at - 1] != '@')
		at--;
	if (!at || !parse_num(v + at, len - at, &every) || !every || every > 0xffffffffu) {
		bad(cmd, print, "bad re-patch schedule", v, len);
		return;
	}
	for (size_t i = 0, start = 0; i < at; i++) {
		size_t n;

		if (v[i] != ',' && v[i] != '@')
			continue;
		n = i - start;
		if (!n || n >= PVPATCH_NAME_MAX || r.n >= PVPATCH_REPATCH_MAX_PROFILES) {
			bad(cmd, print, "bad re-patch schedule", v, len);
			return;
		}
		for (size_t k = 0; k < n; k++)
			r.profile[r.n][k] = v[start + k];
		r.n++;
		start = i + 1;
	}
	r.every = (unsigned int)every;
	cmd->repatch = r;
}

/* 0xADDR:MODE or FUNC+0xOFF:MODE */
static void parse_site(struct pvpatch_cmdline *cmd, const char *v, size_t len,
		       void (*print)(const char *))
{
	size_t colon = len, plus = len;
	struct pvpatch_override o = { 0 };
	char *func = cmd->site_func[cmd->n_sites < PVPATCH_CMDLINE_MAX_SITES ? cmd->n_sites : 0];
	int mode;

	for (size_t i = 0; i < len; i++) {
		if (v[i] == ':')
			colon = i;
		if (v[i] == '+' && plus == len)
			plus = i;
	}
	mode = colon < len ? pvpatch_mode_parse(v + colon + 1, len - colon - 1) : -1;
	if (mode < 0 || cmd->n_sites >= PVPATCH_CMDLINE_MAX_SITES) {
		bad(cmd, print, mode < 0 ? "bad site override" : "site override past the limit",
		    v, len);
		return;
	}
	o.mode = (uint8_t)mode;
	if (plus < colon) {
		if (!plus || plus >= PVPATCH_NAME_MAX ||
		    !parse_num(v + plus + 1, colon - plus - 1, &o.addr)) {
			bad(cmd, print, "bad site override", v, len);
			return;
		}
		for (size_t i = 0; i < plus; i++)
			func[i] = v[i];
		func[plus] = 0;
		o.func = func;
	} else if (!parse_num(v, colon, &o.addr)) {
		bad(cmd, print, "bad site override", v, len);
		return;
	}
	cmd->site[cmd->n_sites++] = o;
}

void pvpatch_cmdline_parse(const char *s, struct pvpatch_cmdline *cmd,
			   void (*print)(const char *))
{
	pv_zero(cmd, sizeof(*cmd));
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
		cmd->op_mode[op] = -1;
	while (s && *s) {
		const char *w = s, *v;
		size_t len = 0, klen = 0, vlen;

		while (w[len] && w[len] != ' ' && w[len] != '\t' && w[len] != '\n')
			len++;
		s = w + len;
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		while (klen < len && w[klen] != '=')
			klen++;
		v = klen < len ? w + klen + 1 : w + len;
		vlen = (size_t)(w + len - v);

		if (len < 7 || !pv_eq(w, 7, "pvpatch"))
			continue;
		if (pv_eq(w, klen, "pvpatch") && pv_eq(v, vlen, "off"))
			cmd->off = true;
		else if (pv_eq(w, len, "pvpatch.debug"))
			cmd->debug = true;
		else if (pv_eq(w, len, "pvpatch.poison"))
			cmd->poison = true;
		else if (pv_eq(w, klen, "pvpatch.profile") && vlen && vlen < PVPATCH_NAME_MAX) {
			for (size_t i = 0; i < vlen; i++)
				cmd->profile[i] = v[i];
			cmd->profile[vlen] = 0;
		} else if (pv_eq(w, klen, "pvpatch.op") && vlen)
			parse_ops(cmd, v, vlen, print);
		else if (pv_eq(w, klen, "pvpatch.site") && vlen)
			parse_site(cmd, v, vlen, print);
		else if (pv_eq(w, klen, "pvpatch.repatch") && vlen)
			parse_repatch(cmd, v, vlen, print);
		else
			bad(cmd, print, "unknown option", w, len);
	}
}
