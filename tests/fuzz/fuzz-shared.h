/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * What the fuzz targets share: the failure macro, the op table lookup, three
 * real backends (never executed: only their addresses matter), the padding
 * the assembler writes, where the patcher may write, the shape of a
 * generated thunk and of the thunk area (only code).  A target
 * defines FUZZ_NAME (its name in failure messages) before including this.
 */
#ifndef PVPATCH_FUZZ_SHARED_H
#define PVPATCH_FUZZ_SHARED_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz-natives.h"
#include <asm/pvpatch.h>
#include "insn.h"

/* The checks are not what the fuzzer should explore: no coverage feedback
 * (and no comparison tracing) for them, which also keeps them fast. */
#define NOCOV __attribute__((no_sanitize("coverage")))

#define CHECK(c, ...)							\
	do {								\
		if (!(c)) {						\
			fprintf(stderr, FUZZ_NAME ": %s:%d: check failed: %s: ", \
				__FILE__, __LINE__, #c);		\
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
			abort();					\
		}							\
	} while (0)

static inline const struct pvpatch_op_info *op_info(unsigned int op)
{
	if (op > PVPATCH_MAX_OP || !pvpatch_op_table[op].name)
		return NULL;
	return &pvpatch_op_table[op];
}

__attribute__((noinline, used)) static void be_one(void)
{
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline, used)) static unsigned long be_two(unsigned long a)
{
	__asm__ volatile("" : "+r"(a));
	return a + 2;
}

__attribute__((noinline, used)) static unsigned long be_three(unsigned long a, unsigned long b)
{
	__asm__ volatile("" : "+r"(a), "+r"(b));
	return a ^ b ^ 3;
}

/* Padding of n bytes: one NOP, or a short JMP over int3. */
NOCOV static inline void pad_bytes(uint8_t *out, size_t n)
{
	if (n == 0)
		return;
	if (n <= 11) {
		memcpy(out, gas_nops[n], n);
		return;
	}
	out[0] = 0xeb;
	out[1] = (uint8_t)(n - 2);
	memset(out + 2, 0xcc, n - 2);
}

/*
 * The INLINE stub at `at` in the used thunk area [lo, hi) (an INLINE
 * template that did not fit its site): it decodes, calls nothing, has no
 * RIP-relative operand and no relative branch but its last instruction,
 * `jmp rel32` out of the area -- to site_end when that is not 0.  Returns
 * its length.
 */
NOCOV static inline size_t check_stub_code(uintptr_t lo, uintptr_t hi, uintptr_t at,
					   uintptr_t site_end)
{
	uintptr_t start = at;
	struct insn insn;

	for (int k = 0; k < 128 && at < hi; k++) {
		int l = insn_decode(&insn, (const uint8_t *)at, hi - at);

		CHECK(l > 0, "stub code at thunks%+ld does not decode (%d)", (long)(at - lo), l);
		CHECK(!insn_is_rip_rel(&insn), "stub at thunks%+ld: RIP-relative operand",
		      (long)(start - lo));
		if (insn.branch == INSN_BR_JMP) {
			uintptr_t t = insn_rel_target(&insn, at);

			CHECK(l == 5 && (t < lo || t >= hi) && (!site_end || t == site_end),
			      "stub at thunks%+ld jumps to %#lx, not back to its site's end %#lx",
			      (long)(start - lo), (unsigned long)t, (unsigned long)site_end);
			return at + 5 - start;
		}
		CHECK(!insn_is_rel_branch(&insn), "stub at thunks%+ld: relative branch or call",
		      (long)(start - lo));
		at += (unsigned int)l;
	}
	CHECK(0, "stub at thunks%+ld without its jump back", (long)(start - lo));
	return 0;
}

/* Whether a site at p of len bytes is `jmp stub` into the used area [lo,
 * hi) followed by int3: the stub's address, else 0. */
NOCOV static inline uintptr_t site_stub(const uint8_t *p, unsigned int len, uintptr_t lo,
					uintptr_t hi)
{
	int32_t rel;
	uintptr_t t;

	if (len < 5 || p[0] != 0xe9)
		return 0;
	memcpy(&rel, p + 1, 4);
	t = (uintptr_t)p + 5 + (intptr_t)rel;
	if (t < lo || t >= hi)
		return 0;
	for (unsigned int k = 5; k < len; k++)
		CHECK(p[k] == 0xcc, "site at %p: byte %u after the jmp to its stub is not int3",
		      (const void *)p, k);
	return t;
}

/*
 * The thunk at `at` in the used thunk area [lo, hi): it decodes, makes
 * exactly one call, to the backend (when backend is not NULL), has no other
 * relative branch, and ends with its return: `ret; int3`, or `jmp rel32` to
 * return_thunk when that is set.  Returns its length, that int3 included.
 * With backend NULL (a walk over the area) an INLINE stub is accepted too:
 * code without a call ending in a jump out of the area (check_stub_code()).
 * (The caller checks that `at` lies in the area.)
 */
NOCOV static inline size_t check_thunk_code(uintptr_t lo, uintptr_t hi, uintptr_t at,
					    const void *backend, const void *return_thunk)
{
	uintptr_t start = at;
	unsigned int calls = 0;
	struct insn insn;

	for (int k = 0; k < 128 && at < hi; k++) {
		int l = insn_decode(&insn, (const uint8_t *)at, hi - at);
		bool ret = insn.map == INSN_MAP_1B && insn.opcode == 0xc3 && !insn.vex_len;

		CHECK(l > 0, "thunk code at thunks%+ld does not decode (%d)", (long)(at - lo), l);
		if (!backend && calls == 0 && insn.branch == INSN_BR_JMP &&
		    insn_rel_target(&insn, at) != (uintptr_t)return_thunk)
			return check_stub_code(lo, hi, start, 0);
		if (insn.branch == INSN_BR_CALL) {
			CHECK(!backend || insn_rel_target(&insn, at) == (uintptr_t)backend,
			      "thunk calls %#lx, not the backend %p",
			      (unsigned long)insn_rel_target(&insn, at), backend);
			calls++;
		} else if (insn.branch == INSN_BR_JMP && return_thunk) {
			CHECK(l == 5 && insn_rel_target(&insn, at) == (uintptr_t)return_thunk,
			      "thunk at thunks%+ld jumps to %#lx, not the return thunk %p",
			      (long)(start - lo), (unsigned long)insn_rel_target(&insn, at), return_thunk);
			CHECK(calls == 1, "thunk makes %u calls", calls);
			return at + 5 - start;
		} else {
			CHECK(!insn_is_rel_branch(&insn), "thunk has a relative branch");
		}
		if (ret) {
			CHECK(!return_thunk, "thunk at thunks%+ld returns with ret, not through %p",
			      (long)(start - lo), return_thunk);
			CHECK(calls == 1, "thunk makes %u calls", calls);
			CHECK(at + 1 < hi && *(const uint8_t *)(at + 1) == 0xcc,
			      "thunk at thunks%+ld: ret without int3 after it", (long)(start - lo));
			return at + 2 - start;
		}
		at += (unsigned int)l;
	}
	CHECK(0, "thunk at thunks%+ld without its return", (long)(start - lo));
	return 0;
}

/*
 * The used thunk area [lo, lo + used) holds only code: from its start, one
 * thunk after the other, each at a multiple of 16 and checked as above, and
 * every byte between the end of one and the start of the next int3.
 */
NOCOV static inline void check_thunk_area(const uint8_t *lo, size_t used, const void *return_thunk)
{
	size_t off = 0;

	while (off < used) {
		CHECK(off % 16 == 0, "thunk at thunks+%zu, not a multiple of 16", off);
		off += check_thunk_code((uintptr_t)lo, (uintptr_t)lo + used, (uintptr_t)lo + off, NULL,
					return_thunk);
		for (; off < used && off % 16; off++)
			CHECK(lo[off] == 0xcc, "thunk area byte %zu between thunks is %#x, not int3", off,
			      lo[off]);
	}
}

/*
 * A patched site (index i, op, mode) at p, len bytes: it decodes to
 * instructions that end exactly at its end; from byte `from` on (past any
 * native code) none is RIP-relative, a jump only skips int3 padding to the
 * end, and only a CALL site calls -- once, the backend or a thunk in the used
 * area [thunk_lo, thunk_hi) that calls it and returns as return_thunk says.
 */
NOCOV static inline void check_site_code(unsigned int i, unsigned int op, unsigned int mode,
					 const uint8_t *p, unsigned int len, unsigned int from,
					 const void *backend, uintptr_t thunk_lo, uintptr_t thunk_hi,
					 const void *return_thunk)
{
	unsigned int off = 0, calls = 0;
	struct insn insn;
	uintptr_t stub = mode == PVPATCH_MODE_INLINE ? site_stub(p, len, thunk_lo, thunk_hi) : 0;

	/* An INLINE template run out of line: the stub, then nothing else. */
	if (stub) {
		check_stub_code(thunk_lo, thunk_hi, stub, (uintptr_t)p + len);
		return;
	}
	while (off < len) {
		int l = insn_decode(&insn, p + off, len - off);
		uintptr_t at = (uintptr_t)p + off;

		CHECK(l > 0, "site %u (op %u, mode %u) does not decode at +%u (%d)", i, op, mode,
		      off, l);
		if (off >= from) {
			CHECK(!insn_is_rip_rel(&insn), "site %u: RIP-relative operand", i);
			if (insn.branch == INSN_BR_CALL) {
				uintptr_t t = insn_rel_target(&insn, at);

				CHECK(mode == PVPATCH_MODE_CALL, "site %u: a call in mode %u", i, mode);
				CHECK(backend, "site %u: a call without a backend", i);
				if (t != (uintptr_t)backend) {
					CHECK(t >= thunk_lo && t < thunk_hi,
					      "site %u calls %#lx: neither the backend %p nor a used "
					      "thunk", i, (unsigned long)t, backend);
					check_thunk_code(thunk_lo, thunk_hi, t, backend, return_thunk);
				}
				calls++;
			} else if (insn.branch == INSN_BR_JMP) {
				CHECK(insn_rel_target(&insn, at) == (uintptr_t)p + len,
				      "site %u: a jump that is not over the padding", i);
				for (unsigned int k = off + (unsigned int)l; k < len; k++)
					CHECK(p[k] == 0xcc, "site %u: padding after the jump is not int3", i);
			} else {
				CHECK(!insn_is_rel_branch(&insn), "site %u: relative branch", i);
			}
		}
		off += (unsigned int)l;
	}
	CHECK(off == len, "site %u (op %u, mode %u): instructions cross the site end", i, op, mode);
	CHECK(calls == (mode == PVPATCH_MODE_CALL), "site %u: %u calls in mode %u", i, calls, mode);
}

/*
 * A write of the patcher, through the poke hook, checked against the
 * descriptor it patches: into the thunk area (returns -1), or exactly the
 * whole of one accepted site, in one write, changing it (returns the site's
 * index).  Anything else fails.  `text` names offsets in messages.
 */
NOCOV static inline int check_poke(const struct pvpatch *pv, const void *addr, const void *src,
				   size_t len, const uint8_t *text)
{
	uintptr_t a = (uintptr_t)addr, t = (uintptr_t)pv->thunks;
	unsigned int n = (unsigned int)(pv->sites_end - pv->sites);
	int site = -1;

	CHECK(len > 0 && len <= PVPATCH_MAX_SITE, "poke of %zu bytes", len);
	if (pv->thunks && a >= t && len <= pv->thunks_size && a - t <= pv->thunks_size - len)
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		uintptr_t b = (uintptr_t)pvpatch_site_addr(&pv->sites[i]);

		if (pv->state[i].reason == PVPATCH_OK && a >= b && a - b < pv->sites[i].site_len &&
		    len <= pv->sites[i].site_len - (a - b))
			site = (int)i;
	}
	CHECK(site >= 0, "poke outside accepted sites and the thunk area: text%+ld + %zu",
	      (long)(a - (uintptr_t)text), len);
	CHECK(a >= pv->text_start && a <= pv->text_end && len <= pv->text_end - a,
	      "poke outside the text range: text%+ld + %zu", (long)(a - (uintptr_t)text), len);
	/* Documented: a site is written whole, in one write, only if it changes. */
	CHECK(a == (uintptr_t)pvpatch_site_addr(&pv->sites[site]) && len == pv->sites[site].site_len,
	      "poke of part of site %d: text%+ld + %zu", site, (long)(a - (uintptr_t)text), len);
	CHECK(memcmp(addr, src, len) != 0, "poke that changes nothing at site %d", site);
	return site;
}

#endif
