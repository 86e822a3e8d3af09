/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The library's negotiation (arch/x86/negotiate) under the ROM fuzzer: the
 * same ROM bytes go through the kernel's fw_cfg reader (a fake fw_cfg
 * device behind the port hooks, its file directory partly from the input)
 * into pvpatch_negotiate() with one of a few command lines, and through
 * pvpatch_cmdline_parse() as a command line themselves.  Included by
 * fuzz-rom.c after its CHECK() and policy checks.
 */
#include <asm/pvpatch-boot.h>

/* --- a fake fw_cfg: signature, a directory with the ROM file, the ROM ------ */
static struct {
	const uint8_t *rom;
	size_t rom_len;
	uint8_t dir[4 + 3 * 64];	/* count, then up to three entries */
	uint16_t sel;
	size_t at;
} fw;

static void fw_outw(uint16_t port, uint16_t v)
{
	CHECK(port == 0x510, "fw_cfg selector written at port %#x", port);
	fw.sel = v;
	fw.at = 0;
}

static uint8_t fw_inb(uint16_t port)
{
	size_t at = fw.at++;

	CHECK(port == 0x511, "fw_cfg data read at port %#x", port);
	switch (fw.sel) {
	case 0x00:
		return at < 4 ? (uint8_t)"QEMU"[at] : 0;
	case 0x19:
		return at < sizeof(fw.dir) ? fw.dir[at] : 0;
	case 0x20:
		return at < fw.rom_len ? fw.rom[at] : 0;
	}
	return 0xff;
}

static void fw_entry(unsigned int i, uint32_t size, uint16_t sel, const char *name)
{
	uint8_t *e = fw.dir + 4 + 64 * i;

	e[0] = (uint8_t)(size >> 24), e[1] = (uint8_t)(size >> 16);
	e[2] = (uint8_t)(size >> 8), e[3] = (uint8_t)size;
	e[4] = (uint8_t)(sel >> 8), e[5] = (uint8_t)sel;
	snprintf((char *)e + 8, 56, "%s", name);
}

/* Read the ROM back through pvpatch_fwcfg_read() into an exact-size buffer:
 * it must stop at the buffer whatever size the directory claims. */
static long fwcfg_roundtrip(const uint8_t *rom, size_t len, uint8_t sel, uint8_t *out,
			    size_t out_size)
{
	const struct pvpatch_env env = { .inb = fw_inb, .outw = fw_outw };
	uint32_t claimed = sel & 1 ? (uint32_t)len : (uint32_t)len + (sel >> 1);
	long got;

	memset(&fw, 0, sizeof(fw));
	fw.rom = rom;
	fw.rom_len = len;
	fw.dir[3] = 3;
	fw_entry(0, 7, 0x21, "etc/other");
	fw_entry(1, claimed, 0x20, PVPATCH_ROM_FWCFG_NAME);
	fw_entry(2, 9, 0x22, "opt/org.pvpatch/rom2");
	got = pvpatch_fwcfg_read(&env, PVPATCH_ROM_FWCFG_NAME, out, out_size);
	CHECK(got == (long)claimed, "fw_cfg read returned %ld for a %u-byte file", got, claimed);
	CHECK(!memcmp(out, rom, claimed < out_size ? claimed : out_size),
	      "fw_cfg read other bytes than the file's");
	return got;
}

/* --- the command line ------------------------------------------------------- */
static void check_cmdline(const struct pvpatch_cmdline *c)
{
	CHECK(memchr(c->profile, 0, sizeof(c->profile)), "profile not NUL-terminated");
	CHECK(c->n_sites <= PVPATCH_CMDLINE_MAX_SITES, "%u site overrides", c->n_sites);
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
		CHECK(c->op_mode[op] >= -1 && c->op_mode[op] < PVPATCH_NR_MODES,
		      "op %u mode %d", op, c->op_mode[op]);
	for (unsigned int i = 0; i < c->n_sites; i++) {
		CHECK(c->site[i].mode < PVPATCH_NR_MODES, "site override mode %u", c->site[i].mode);
		CHECK(!c->site[i].func || (c->site[i].func == c->site_func[i] &&
					   memchr(c->site_func[i], 0, PVPATCH_NAME_MAX)),
		      "site override %u names a function outside its slot", i);
	}
}

static void print_nothing(const char *s)
{
	(void)s;
}

static const char *const cmdlines[] = {
	"",
	"pvpatch=off",
	"pvpatch.profile=paravirt",
	"pvpatch.profile=no-such-profile",
	"pvpatch.op=read_cr3:call,io_delay:nop,bogus:call pvpatch.site=0x1000:native",
	"root=/dev/sda pvpatch.site=workload_fn+0x10:call pvpatch.site=f+zz:nop pvpatch.debug",
};

/*
 * What negotiation must make of this ROM, given what pvpatch_rom_policy()
 * said of it (ret, why, pol): off, or the ROM's policy, or a built-in one,
 * then the command line on top.
 */
static void check_negotiation(const uint8_t *rom, size_t len, const struct pvpatch_hv_facts *fp,
			      const void *const *be, int ret, const char *why,
			      const struct pvpatch_policy *rom_pol, uint8_t sel)
{
	static struct pvpatch_negotiation neg;
	uint8_t *copy = malloc(len ? len : 1);
	long got = fwcfg_roundtrip(rom, len, sel, copy, len);
	char *line = malloc(len + 1);
	const struct pvpatch_policy *p = &neg.policy;

	/* The ROM bytes as a command line. */
	memcpy(line, rom, len);
	line[len] = 0;
	pvpatch_cmdline_parse(line, &neg.cmd, print_nothing);
	check_cmdline(&neg.cmd);
	free(line);

	memset(&neg, 0x5a, sizeof(neg));
	pvpatch_cmdline_parse(cmdlines[sel % (sizeof(cmdlines) / sizeof(cmdlines[0]))], &neg.cmd,
			      print_nothing);
	check_cmdline(&neg.cmd);
	memset(&neg.facts, 0, sizeof(neg.facts));
	if (fp)
		neg.facts = *fp;
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
		neg.backend[op] = be ? be[op] : NULL;
		neg.preserves[op] = (uint8_t)(op & 1);
		neg.writes[op] = writes[op];
	}
	neg.recs = id_recs;
	neg.n_recs = sizeof(id_recs) / sizeof(id_recs[0]);
	pvpatch_negotiate(&neg, copy, (size_t)got > len ? -1 : got, NULL, print_nothing);
	free(copy);

	CHECK(memchr(neg.source, 0, sizeof(neg.source)), "source not NUL-terminated");
	if (neg.cmd.off) {
		CHECK(!strcmp(neg.source, "off"), "pvpatch=off, yet source %s", neg.source);
		for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
			CHECK(p->op[op].mode == PVPATCH_MODE_NATIVE, "pvpatch=off, op %u not native", op);
		return;
	}
	if ((size_t)got > len) {
		CHECK(!neg.rom_refused, "a truncated ROM read was parsed");
	} else if (!ret && fp) {
		CHECK(!strncmp(neg.source, "rom:", 4), "a sound ROM gave source %s", neg.source);
		for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
			if (neg.cmd.op_mode[op] < 0)
				CHECK(p->op[op].mode == rom_pol->op[op].mode &&
				      p->op[op].params[0] == rom_pol->op[op].params[0],
				      "op %u: negotiation and the ROM parser disagree", op);
	} else if (fp) {
		CHECK(neg.rom_refused && !strcmp(neg.rom_refused, why),
		      "ROM refused (%s) but negotiation says %s", why,
		      neg.rom_refused ? neg.rom_refused : "accepted");
		CHECK(!strncmp(neg.source, "built-in:", 9) || !strncmp(neg.source, "unknown-profile:", 16),
		      "a refused ROM gave source %s", neg.source);
	}
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
		CHECK(p->op[op].mode < PVPATCH_NR_MODES, "op %u mode %u", op, p->op[op].mode);
		CHECK(neg.cmd.op_mode[op] < 0 || p->op[op].mode == neg.cmd.op_mode[op],
		      "op %u: the command line's mode was not applied", op);
		CHECK(p->op[op].backend_id ||
		      (p->op[op].backend == neg.backend[op] && p->op[op].preserves == neg.preserves[op] &&
		       p->op[op].writes == neg.writes[op]),
		      "op %u: not the registered backend", op);
	}
	CHECK(p->n_overrides <= PVPATCH_ROM_MAX_OVERRIDES + PVPATCH_CMDLINE_MAX_SITES &&
	      (!p->n_overrides || p->overrides == neg.overrides),
	      "%u overrides outside the negotiation's storage", p->n_overrides);
	CHECK(p->n_overrides >= neg.cmd.n_sites, "command line site overrides lost");
}
