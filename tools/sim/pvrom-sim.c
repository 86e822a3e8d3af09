// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * pvrom-sim: what `pvrom check` runs -- the kernel's own negotiation and
 * patcher (arch/x86/negotiate, arch/x86/alternatives), built for the host,
 * applied to a copy of a guest's text (thunk area included) and site
 * records laid out at their original distances, with the backends the
 * guest registered, so that every decision and every byte written is the
 * one the guest would make at boot for the same facts and command line.
 *
 *   pvrom-sim TEXT TEXT_ADDR SITES SITES_ADDR BACKENDS SYMBOLS THUNKS_ADDR \
 *             THUNKS_SIZE ROM KVM_FEATURES VMPORT GETHZ SIGNATURE CMDLINE
 *
 * TEXT, SITES, BACKENDS: raw section bytes (BACKENDS: the .pvpatch.backends
 * records); SYMBOLS: "name address" lines (func+offset overrides); ROM: the
 * fw_cfg ROM, or "-" for none.  Prints one JSON object per line: the
 * negotiation, every site (mode and bytes), the rejections, the report.
 * Exit status 0, or 2 on unusable input.
 *
 *   pvrom-sim --text-out FILE ARGS...
 *
 * also writes the text as patched (TEXT's bytes, sites and thunk area
 * written; backend families not freed) to FILE: what `pvrom image` puts in
 * a pre-patched copy of the kernel.
 *
 *   pvrom-sim --stack-align N [--text-out FILE] ARGS...
 *
 * patches with struct pvpatch.stack_align N (8 or 16), the kernel's
 * PVPATCH_STACK_ALIGN (its ELF's .pvpatch.stack_align byte); without it 0,
 * what a kernel that never sets it gets: 16.
 *
 *   pvrom-sim --verdict ROM
 *
 * What the kernel makes of a ROM by itself (`pvrom dump`): its parser
 * (pvpatch_rom_policy(), every condition holding) accepts or refuses it;
 * then each entry alone -- the others turned into entries for an unknown
 * op, which the parser ignores -- gives the op's policy, checked by
 * pvpatch_op_policy_check().  One JSON object per line: the ROM, then one
 * per entry (op, the mode the policy gets, the reason its sites refuse it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <asm/pvpatch-boot.h>

static uint8_t *base;
static uint64_t lo, span;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "pvrom-sim: %s: %s\n", what, why);
	exit(2);
}

static void *host(uint64_t guest)
{
	if (guest < lo || guest - lo >= span)
		die("layout", "an address outside the text and records");
	return base + (guest - lo);
}

static uint64_t guest(const void *h)
{
	return lo + (uint64_t)((const uint8_t *)h - base);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0;

	if (!f)
		die(path, strerror(errno));
	*len = 0;
	for (;;) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				die(path, "out of memory");
		}
		size_t n = fread(buf + *len, 1, cap - *len, f);

		*len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	return buf;
}

static struct {
	char name[64];
	uint64_t addr;
} syms[8192];
static unsigned int nsyms;

static uintptr_t lookup(const char *func)
{
	for (unsigned int i = 0; i < nsyms; i++)
		if (!strcmp(syms[i].name, func))
			return (uintptr_t)host(syms[i].addr);
	return 0;
}

/* Text is plain memory here: a copy, not the kernel's default poke. */
static void poke(void *addr, const void *src, size_t len, void *arg)
{
	(void)arg;
	memcpy(addr, src, len);
}

static void print_hook(const char *s)
{
	(void)s;
}

static uint64_t num(const char *s, const char *what)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	if (!*s || *end)
		die(what, "not a number");
	return v;
}

/* CRC-32 as zlib's: a ROM's checksum after the sim changed an entry. */
static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = ~0u;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static uint32_t get(const uint8_t *p, unsigned int size)
{
	uint32_t v = 0;

	memcpy(&v, p, size);	/* little-endian host, as the ROM */
	return v;
}

static void put(uint8_t *p, unsigned int size, uint32_t v)
{
	memcpy(p, &v, size);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++)
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	putchar('"');
}

/* The CPUID a guest would see, for entries conditioned on CPUID bits:
 * "LEAF[.SUB]=EAX:EBX:ECX:EDX,..." (hex); leaves not given read 0, and the
 * maximum of each range is its largest leaf given. */
static struct {
	uint32_t leaf, sub, r[4];
} cpuids[256];
static unsigned int ncpuids;

static void cpuid_parse(const char *s)
{
	while (s && *s && ncpuids < 256) {
		unsigned int l, sub = 0;
		int used = 0;

		if (sscanf(s, "%x.%x=%x:%x:%x:%x%n", &l, &sub, &cpuids[ncpuids].r[0],
			   &cpuids[ncpuids].r[1], &cpuids[ncpuids].r[2], &cpuids[ncpuids].r[3],
			   &used) != 6) {
			sub = 0;
			if (sscanf(s, "%x=%x:%x:%x:%x%n", &l, &cpuids[ncpuids].r[0],
				   &cpuids[ncpuids].r[1], &cpuids[ncpuids].r[2],
				   &cpuids[ncpuids].r[3], &used) != 5)
				die("CPUID", "not LEAF[.SUB]=EAX:EBX:ECX:EDX,...");
		}
		cpuids[ncpuids].leaf = l;
		cpuids[ncpuids].sub = sub;
		ncpuids++;
		s += used;
		if (*s == ',')
			s++;
	}
}

static void cpuid_table(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	r[0] = r[1] = r[2] = r[3] = 0;
	if ((leaf & 0xffff) == 0) {	/* a range's maximum */
		for (unsigned int i = 0; i < ncpuids; i++)
			if ((cpuids[i].leaf & 0xffff0000u) == leaf && cpuids[i].leaf > r[0])
				r[0] = cpuids[i].leaf;
	}
	for (unsigned int i = 0; i < ncpuids; i++)
		if (cpuids[i].leaf == leaf && cpuids[i].sub == subleaf)
			memcpy(r, cpuids[i].r, sizeof(cpuids[i].r));
}

#define NO_OP 0xffffu	/* an op number no kernel knows */
_Static_assert(NO_OP > PVPATCH_MAX_OP, "NO_OP must be unknown");

/* Every CPUID bit set, every leaf present: every CPUID condition holds. */
static void cpuid_every(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	(void)leaf;
	(void)subleaf;
	r[0] = r[1] = r[2] = r[3] = ~0u;
}

static int verdict(const char *path)
{
	static struct pvpatch_rom_store store;
	struct pvpatch_hv_facts every = {
		.kvm_features = ~0u, .vmport = 1, .vmport_gethz = 1, .hypervisor = 1,
		.max_leaf = ~0u, .cpuid = cpuid_every,
	};
	const struct pvpatch_rom_env env = { .facts = &every };
	struct pvpatch_policy pol;
	const char *why = NULL;
	size_t len;
	uint8_t *rom = slurp(path, &len), *one;
	uint32_t total, n, off, v2;
	int refused = pvpatch_rom_policy(rom, len, &env, &pol, &store, &why);

	printf("{\"rom\": \"%s\", \"why\": ", refused ? "refused" : "used");
	json_str(why);
	printf(", \"hypervisor\": ");
	json_str(refused ? "" : store.hypervisor);
	printf(", \"entries\": %u, \"ignored\": %u, \"overrides\": %u}\n",
	       refused ? 0 : store.entries_used, refused ? 0 : store.entries_ignored,
	       refused ? 0 : pol.n_overrides);
	if (refused)
		return 0;

	/* The parser accepted it: every offset and length below is in bounds.
	 * Version 2 moves the counts, not magic..checksum nor an entry's
	 * entry_len and op. */
	_Static_assert(PVPATCH_ROM_ENTRY_OFF_OP == PVPATCH_ROM_ENTRY_V2_OFF_OP &&
		       PVPATCH_ROM_ENTRY_OFF_ENTRY_LEN == PVPATCH_ROM_ENTRY_V2_OFF_ENTRY_LEN,
		       "entry_len and op where version 1 has them");
	v2 = get(rom + PVPATCH_ROM_HEADER_OFF_VERSION, 2) == 2;
	total = get(rom + PVPATCH_ROM_HEADER_OFF_TOTAL_LEN, 4);
	n = get(rom + (v2 ? PVPATCH_ROM_HEADER_V2_OFF_N_ENTRIES : PVPATCH_ROM_HEADER_OFF_N_ENTRIES), 2);
	one = malloc(total);
	if (!one)
		die(path, "out of memory");
	off = get(rom + (v2 ? PVPATCH_ROM_HEADER_V2_OFF_ENTRIES_OFF :
			      PVPATCH_ROM_HEADER_OFF_ENTRIES_OFF), 4);
	for (uint32_t k = 0, at = off; k < n; k++) {
		unsigned int op = get(rom + at + PVPATCH_ROM_ENTRY_OFF_OP, 2);
		int reason;

		/* A signature condition holds for that signature. */
		memset(every.signature, 0, sizeof(every.signature));
		if (v2)
			memcpy(every.signature, rom + at + PVPATCH_ROM_ENTRY_V2_OFF_COND_SIG, 12);

		memcpy(one, rom, total);
		for (uint32_t i = 0, o = off; i < n; i++) {
			if (i != k)
				put(one + o + PVPATCH_ROM_ENTRY_OFF_OP, 2, NO_OP);
			o += get(rom + o + PVPATCH_ROM_ENTRY_OFF_ENTRY_LEN, 2);
		}
		put(one + PVPATCH_ROM_HEADER_OFF_CHECKSUM, 4, 0);
		put(one + PVPATCH_ROM_HEADER_OFF_CHECKSUM, 4, crc32(one, total));
		if (pvpatch_rom_policy(one, total, &env, &pol, &store, &why))
			die(path, "an entry alone is refused");
		/* The n - 1 others carry NO_OP: ignored.  This one too when the
		 * kernel does not know its op, mode, condition or backend id. */
		if (op > PVPATCH_MAX_OP || !pvpatch_op_table[op].name || store.entries_ignored == n) {
			printf("{\"entry\": %u, \"op\": %u, \"known\": false}\n", k, op);
		} else {
			reason = pvpatch_op_policy_check(op, &pol.op[op]);
			printf("{\"entry\": %u, \"op\": %u, \"known\": true, \"mode\": %u, "
			       "\"insns\": %u, \"reason\": ", k, op, pol.op[op].mode,
			       pol.op[op].tmpl ? pol.op[op].tmpl->n_insns : 0);
			json_str(reason ? pvpatch_reason_str(reason) : "");
			printf("}\n");
		}
		at += get(rom + at + PVPATCH_ROM_ENTRY_OFF_ENTRY_LEN, 2);
	}
	free(one);
	return 0;
}

int main(int argc, char **argv)
{
	static struct pvpatch_negotiation neg;
	size_t tlen, slen, blen, rlen = 0, symlen;
	uint64_t taddr, saddr, hi, thunks, thunks_size;
	struct pvpatch_backend_rec *recs;
	uint8_t *text, *sites, *rom = NULL, *saved;
	struct pvpatch_site_state *state;
	struct pvpatch_thunk_slot *tindex;
	struct pvpatch pv;
	char *symtext;
	unsigned int n;
	size_t slots;
	const char *text_out = NULL;
	unsigned int stack_align = 0;	/* as a kernel that never set it: 16 */

	if (argc == 3 && !strcmp(argv[1], "--verdict"))
		return verdict(argv[2]);
	if (argc > 2 && !strcmp(argv[1], "--stack-align")) {
		stack_align = (unsigned int)num(argv[2], "STACK_ALIGN");
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	if (argc > 2 && !strcmp(argv[1], "--text-out")) {
		text_out = argv[2];
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	if (argc != 16)
		die("usage", "pvrom-sim [--stack-align N] [--text-out FILE] TEXT TEXT_ADDR SITES SITES_ADDR BACKENDS SYMBOLS "
			     "THUNKS_ADDR THUNKS_SIZE ROM KVM_FEATURES VMPORT GETHZ SIGNATURE CMDLINE "
			     "CPUID");
	text = slurp(argv[1], &tlen);
	taddr = num(argv[2], "TEXT_ADDR");
	sites = slurp(argv[3], &slen);
	saddr = num(argv[4], "SITES_ADDR");
	recs = (struct pvpatch_backend_rec *)slurp(argv[5], &blen);
	symtext = (char *)slurp(argv[6], &symlen);
	thunks = num(argv[7], "THUNKS_ADDR");
	thunks_size = num(argv[8], "THUNKS_SIZE");
	if (strcmp(argv[9], "-"))
		rom = slurp(argv[9], &rlen);
	neg.facts.kvm_features = (uint32_t)num(argv[10], "KVM_FEATURES");
	neg.facts.vmport = (uint8_t)num(argv[11], "VMPORT");
	neg.facts.vmport_gethz = (uint8_t)num(argv[12], "GETHZ");
	snprintf(neg.facts.signature, sizeof(neg.facts.signature), "%s", argv[13]);
	neg.facts.hypervisor = argv[13][0] != 0;
	cpuid_parse(argv[15]);
	neg.facts.cpuid = cpuid_table;
	neg.facts.max_leaf = neg.facts.hypervisor ? 0x40000001 : 0;
	if (slen % PVPATCH_SITE_SIZE)
		die(argv[3], "not a whole number of records");
	if (blen % sizeof(*recs))
		die(argv[5], "not a whole number of backend records");

	/* Text (with the thunk area) and records at their distance in the guest. */
	lo = taddr < saddr ? taddr : saddr;
	hi = taddr + tlen > saddr + slen ? taddr + tlen : saddr + slen;
	span = hi - lo;
	if (span > (1u << 30))
		die("layout", "text and records are too far apart");
	if (thunks_size && (thunks < taddr || thunks + thunks_size > taddr + tlen))
		die("layout", "the thunk area is not inside the text");
	base = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		die("mmap", strerror(errno));
	memcpy(host(taddr), text, tlen);
	memcpy(host(saddr), sites, slen);
	for (size_t i = 0; i < blen / sizeof(*recs); i++)
		if (recs[i].fn >= taddr && recs[i].fn < taddr + tlen)
			recs[i].fn = (uint64_t)(uintptr_t)host(recs[i].fn);
		else
			recs[i].fn = 0;
	for (char *line = strtok(symtext, "\n"); line && symlen && nsyms < 8192;
	     line = strtok(NULL, "\n")) {
		if (sscanf(line, "%63s %" SCNx64, syms[nsyms].name, &syms[nsyms].addr) == 2)
			nsyms++;
	}

	/* What pvpatch_boot() does, the observation and fw_cfg aside. */
	pvpatch_cmdline_parse(argv[14], &neg.cmd, print_hook);
	pvpatch_backends_collect(&neg, recs, blen / sizeof(*recs), print_hook);
	pvpatch_negotiate(&neg, rom, rom ? (long)rlen : -1, NULL, print_hook);
	printf("{\"source\": \"%s\", \"rom\": \"%s\", \"why\": \"%s\", \"hypervisor\": \"%s\", "
	       "\"entries\": %u, \"ignored\": %u}\n", neg.source,
	       !rom ? "none" : neg.rom_refused ? "refused" : "used",
	       neg.rom_refused ? neg.rom_refused : "", neg.store.hypervisor,
	       neg.store.entries_used, neg.store.entries_ignored);

	n = (unsigned int)(slen / PVPATCH_SITE_SIZE);
	state = calloc(n ? n : 1, sizeof(*state));
	saved = calloc(n ? n : 1, PVPATCH_MAX_SITE);
	/* as the guest's linker fragment reserves: the fewer of the two bounds */
	slots = PVPATCH_THUNK_SLOTS(n) < PVPATCH_THUNK_SLOTS_AREA(thunks_size) ?
		PVPATCH_THUNK_SLOTS(n) : PVPATCH_THUNK_SLOTS_AREA(thunks_size);
	tindex = calloc(slots, sizeof(*tindex));
	pv = (struct pvpatch){
		.sites = host(saddr), .sites_end = (const struct pvpatch_site *)host(saddr) + n,
		.text_start = (uintptr_t)host(taddr), .text_end = (uintptr_t)host(taddr) + tlen,
		.state = state, .saved = saved, .saved_size = (size_t)n * PVPATCH_MAX_SITE,
		.thunks = thunks_size ? host(thunks) : NULL, .thunks_size = thunks_size,
		.thunk_index = tindex, .thunk_slots = slots,
		.poke = poke, .lookup = lookup, .print = print_hook, .stack_align = stack_align,
	};
	if (neg.cmd.poison)
		pv.flags |= PVPATCH_F_POISON;	/* the poison stubs land where the guest's do */
	if (!state || !saved || !tindex || pvpatch_apply(&pv, &neg.policy, &neg.report))
		die("patcher", "the site table is unusable");
	for (unsigned int i = 0; i < n; i++) {
		const struct pvpatch_site *s = &pv.sites[i];
		const uint8_t *p = pvpatch_site_addr(s);

		printf("{\"site\": %" PRIu64 ", \"op\": %u, \"mode\": %u, \"invalid\": \"%s\", "
		       "\"bytes\": \"", guest(p), s->op, state[i].mode,
		       state[i].reason ? pvpatch_reason_str(state[i].reason) : "");
		for (unsigned int b = 0; !state[i].reason && b < s->site_len; b++)
			printf("%02x", p[b]);
		printf("\"}\n");
	}
	for (unsigned int k = 0; k < neg.report.n_rejects && k < PVPATCH_MAX_REJECTS; k++) {
		const struct pvpatch_reject *j = &neg.report.rejects[k];

		printf("{\"reject\": %" PRIu64 ", \"op\": %u, \"wanted\": %u, \"got\": %u, "
		       "\"reason\": \"%s\"}\n", j->site ? guest((void *)j->site) : 0, j->op,
		       j->wanted, j->got, pvpatch_reason_str(j->reason));
	}
	if (text_out) {
		FILE *f = fopen(text_out, "wb");

		if (!f || fwrite(host(taddr), 1, tlen, f) != tlen || fclose(f))
			die(text_out, "cannot write");
	}
	printf("{\"sites\": %u, \"invalid\": %u, \"fallbacks\": %u, \"rejected\": %u, "
	       "\"modes\": [%u, %u, %u, %u]}\n", neg.report.sites, neg.report.invalid,
	       neg.report.fallbacks, neg.report.n_rejects, neg.report.mode[0], neg.report.mode[1],
	       neg.report.mode[2], neg.report.mode[3]);
	return 0;
}
