// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The host side of the csmith differential (tests/csmith/differential.py):
 * a random program whose blocks hold sched_yield sites, linked with the
 * runtime patcher built for the host.  Before the program's own main runs,
 * the patcher patches the program's sites (text made writable with
 * mprotect) in the mode PVPATCH_CSMITH_MODE names (native, nop, call), with
 * PVPATCH_F_POISON when PVPATCH_CSMITH_POISON=1.  The program then prints
 * its checksum, and this its CALL backend's digest of the arguments seen:
 * poisoned and unpoisoned runs must print the same.
 * PVPATCH_CSMITH_WRONG_MASKS=1 first widens every record to every register
 * but rsp and rbp (the differential's negative run).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <asm/pvpatch.h>

extern const struct pvpatch_site __pvpatch_sites_start[], __pvpatch_sites_end[];
extern char __executable_start[], etext[];
int csmith_main(void);

#define THUNK_AREA	((void *)0x30000000ul)	/* within rel32 of a -no-pie text */
#define THUNK_SIZE	(1u << 20)
#define MAX_SITES	8192

static struct pvpatch pv;
static struct pvpatch_site_state state[MAX_SITES];
static uint8_t saved[MAX_SITES * PVPATCH_MAX_SITE];
static struct pvpatch_thunk_slot tindex[PVPATCH_THUNK_SLOTS(MAX_SITES)];
static struct pvpatch_policy pol;
static struct pvpatch_report rep;
static unsigned long yield_digest;

__attribute__((force_align_arg_pointer, noinline)) static void be_yield(uint32_t cpu)
{
	yield_digest = yield_digest * 31 + cpu;
}

static void poke(void *addr, const void *src, size_t len, void *arg)
{
	(void)arg;
	memcpy(addr, src, len);
}

int main(void)
{
	const char *mode = getenv("PVPATCH_CSMITH_MODE"), *poison = getenv("PVPATCH_CSMITH_POISON");
	uintptr_t start = (uintptr_t)__executable_start & ~(uintptr_t)4095;
	unsigned int m = PVPATCH_MODE_NATIVE;
	int rc;

	if (mode && !strcmp(mode, "nop"))
		m = PVPATCH_MODE_NOP;
	else if (mode && !strcmp(mode, "call"))
		m = PVPATCH_MODE_CALL;
	if (mprotect((void *)start, (size_t)((uintptr_t)etext - start),
		     PROT_READ | PROT_WRITE | PROT_EXEC) ||
	    mmap(THUNK_AREA, THUNK_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != THUNK_AREA ||
	    __pvpatch_sites_end - __pvpatch_sites_start > MAX_SITES) {
		fprintf(stderr, "harness: cannot set up\n");
		return 99;
	}
	pv = (struct pvpatch){
		.sites = __pvpatch_sites_start, .sites_end = __pvpatch_sites_end,
		.text_start = start, .text_end = (uintptr_t)etext,
		.state = state, .saved = saved, .saved_size = sizeof(saved),
		.thunks = THUNK_AREA, .thunks_size = THUNK_SIZE, .poke = poke,
		.thunk_index = tindex, .thunk_slots = PVPATCH_THUNK_SLOTS(MAX_SITES),
		.flags = poison && !strcmp(poison, "1") ? PVPATCH_F_POISON : 0,
	};
	/* The differential's negative run: every record claims every register
	 * but rsp and rbp dead after its site, which is wrong almost everywhere. */
	if (getenv("PVPATCH_CSMITH_WRONG_MASKS")) {
		uintptr_t a = (uintptr_t)__pvpatch_sites_start & ~(uintptr_t)4095;

		if (mprotect((void *)a, (size_t)((uintptr_t)__pvpatch_sites_end - a),
			     PROT_READ | PROT_WRITE))
			return 99;
		for (struct pvpatch_site *r = (struct pvpatch_site *)__pvpatch_sites_start;
		     r < (struct pvpatch_site *)__pvpatch_sites_end; r++) {
			r->clobbers = (uint16_t)~(1u << PVPATCH_REG_RSP | 1u << PVPATCH_REG_RBP);
			r->flags |= PVPATCH_SITE_F_WIDENED;
		}
	}
	pol.op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){ .mode = (uint8_t)m,
								      .backend = be_yield };
	if (pvpatch_apply(&pv, &pol, &rep)) {
		fprintf(stderr, "harness: pvpatch_apply refused the descriptor\n");
		return 99;
	}
	fprintf(stderr, "harness: %u sites, %u poisoned, %u not, %u fallbacks\n", rep.sites,
		rep.poisoned, rep.unpoisoned, rep.fallbacks);
	rc = csmith_main();
	printf("yield digest %lu\n", yield_digest);
	return rc;
}
