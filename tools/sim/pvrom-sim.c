/*
 * pvrom-sim: what `pvrom check` runs -- the kernel's own ROM parser and
 * patcher, built for the host, applied to a copy of a guest's text and
 * site records laid out at their original distances, so that every
 * decision is the one the guest would make at boot.
 *
 *   pvrom-sim TEXT TEXT_ADDR SITES SITES_ADDR BACKENDS SYMBOLS ROM \
 *             KVM_FEATURES VMPORT GETHZ
 *
 * TEXT, SITES: raw section bytes; BACKENDS: little-endian u64 guest
 * addresses indexed by op; SYMBOLS: "name address" lines (for func+offset
 * overrides); ROM: the ROM, or "-" for the all-native policy.  Prints one
 * JSON object per line: the ROM verdict, every site, then the report.
 * Exit status 0, or 2 on unusable input.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <asm/pvpatch.h>

#define THUNKS (64 * 1024)

static uint8_t *base;
static uint64_t lo;

static void *host(uint64_t guest)
{
	return base + (guest - lo);
}

static uint64_t guest(const void *h)
{
	return lo + (uint64_t)((const uint8_t *)h - base);
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "pvrom-sim: %s: %s\n", what, why);
	exit(2);
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
} syms[4096];
static unsigned int nsyms;

static uintptr_t lookup(const char *func)
{
	for (unsigned int i = 0; i < nsyms; i++)
		if (!strcmp(syms[i].name, func))
			return (uintptr_t)host(syms[i].addr);
	return 0;
}

/* A plain copy: the default poke executes cli/sti, which user mode may not. */
static void poke_copy(void *addr, const void *src, size_t len, void *arg)
{
	(void)arg;
	memcpy(addr, src, len);
}

static void print_hook(const char *s)
{
	(void)s;
}

int main(int argc, char **argv)
{
	static struct pvpatch_policy pol;
	static struct pvpatch_rom_store store;
	static struct pvpatch_report rep;
	const void *backends[PVPATCH_MAX_OP + 1] = { 0 };
	size_t tlen, slen, blen, rlen = 0, symlen;
	uint64_t taddr, saddr, hi, span;
	struct pvpatch_hv_facts facts;
	struct pvpatch_site_state *state;
	uint8_t *text, *sites, *bk, *rom = NULL, *saved;
	const char *why = NULL;
	struct pvpatch pv;
	char *symtext;
	unsigned int n;

	if (argc != 11)
		die("usage", "pvrom-sim TEXT TEXT_ADDR SITES SITES_ADDR BACKENDS SYMBOLS ROM "
			     "KVM_FEATURES VMPORT GETHZ");
	text = slurp(argv[1], &tlen);
	taddr = strtoull(argv[2], NULL, 0);
	sites = slurp(argv[3], &slen);
	saddr = strtoull(argv[4], NULL, 0);
	bk = slurp(argv[5], &blen);
	symtext = (char *)slurp(argv[6], &symlen);
	if (strcmp(argv[7], "-"))
		rom = slurp(argv[7], &rlen);
	facts.kvm_features = (uint32_t)strtoul(argv[8], NULL, 0);
	facts.vmport = (uint8_t)atoi(argv[9]);
	facts.vmport_gethz = (uint8_t)atoi(argv[10]);
	if (slen % PVPATCH_SITE_SIZE)
		die(argv[3], "not a whole number of records");

	/* Text and records at their distance in the guest, then the thunks. */
	lo = taddr < saddr ? taddr : saddr;
	hi = taddr + tlen > saddr + slen ? taddr + tlen : saddr + slen;
	span = hi - lo;
	if (span > (1u << 30))
		die("layout", "text and records are too far apart");
	base = mmap(NULL, span + THUNKS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		die("mmap", strerror(errno));
	memcpy(host(taddr), text, tlen);
	memcpy(host(saddr), sites, slen);
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP && (op + 1) * 8 <= blen; op++) {
		uint64_t a;

		memcpy(&a, bk + op * 8, 8);
		if (a >= taddr && a < taddr + tlen)
			backends[op] = host(a);
	}
	for (char *line = strtok(symtext, "\n"); line && symlen && nsyms < 4096;
	     line = strtok(NULL, "\n")) {
		if (sscanf(line, "%63s %" SCNx64, syms[nsyms].name, &syms[nsyms].addr) == 2)
			nsyms++;
	}

	if (rom && pvpatch_rom_policy(rom, rlen, &facts, backends, &pol, &store, &why)) {
		printf("{\"rom\": \"refused\", \"why\": \"%s\"}\n", why);
		for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
			pol.op[op].backend = backends[op];
	} else {
		printf("{\"rom\": \"%s\", \"hypervisor\": \"%s\", \"entries\": %u, \"ignored\": %u}\n",
		       rom ? "used" : "none", rom ? store.hypervisor : "", store.entries_used,
		       store.entries_ignored);
	}

	n = (unsigned int)(slen / PVPATCH_SITE_SIZE);
	state = calloc(n ? n : 1, sizeof(*state));
	saved = calloc(n ? n : 1, PVPATCH_MAX_SITE);
	pv = (struct pvpatch){
		.sites = host(saddr), .sites_end = (const struct pvpatch_site *)host(saddr) + n,
		.text_start = (uintptr_t)host(taddr), .text_end = (uintptr_t)host(taddr) + tlen,
		.state = state, .saved = saved, .saved_size = (size_t)n * PVPATCH_MAX_SITE,
		.thunks = base + span + (16 - span % 16) % 16, .thunks_size = THUNKS - 16,
		.poke = poke_copy, .lookup = lookup, .print = print_hook,
	};
	if (!state || !saved || pvpatch_apply(&pv, &pol, &rep))
		die("patcher", "the site table is unusable");
	for (unsigned int i = 0; i < n; i++) {
		const struct pvpatch_site *s = &pv.sites[i];

		printf("{\"site\": %" PRIu64 ", \"op\": %u, \"mode\": %u, \"invalid\": \"%s\"}\n",
		       guest(pvpatch_site_addr(s)), s->op, state[i].mode,
		       state[i].reason ? pvpatch_reason_str(state[i].reason) : "");
	}
	for (unsigned int k = 0; k < rep.n_rejects && k < PVPATCH_MAX_REJECTS; k++) {
		const struct pvpatch_reject *j = &rep.rejects[k];

		printf("{\"reject\": %" PRIu64 ", \"op\": %u, \"wanted\": %u, \"got\": %u, "
		       "\"reason\": \"%s\"}\n", j->site ? guest((void *)j->site) : 0, j->op,
		       j->wanted, j->got, pvpatch_reason_str(j->reason));
	}
	printf("{\"sites\": %u, \"invalid\": %u, \"fallbacks\": %u, \"rejected\": %u, "
	       "\"modes\": [%u, %u, %u, %u]}\n", rep.sites, rep.invalid, rep.fallbacks,
	       rep.n_rejects, rep.mode[0], rep.mode[1], rep.mode[2], rep.mode[3]);
	return 0;
}
