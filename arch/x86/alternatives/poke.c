// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The one place that writes to text.  A kernel that patches late passes its
 * own poke (a temporary writable mapping, breakpoint-based live patching),
 * and the hosted tests pass one that asserts every write stays inside a site
 * or the thunk area.  Without one (pv->poke NULL) this file's default runs,
 * which is what Linux's text_poke_early() does for boot-time alternatives:
 *
 *   1. save RFLAGS and cli: an interrupt handler on this CPU must not run a
 *      site (or a thunk) while it is half written -- early interrupt
 *      handlers can contain sites too.  NMIs are not stopped: a kernel whose
 *      NMI handlers contain sites must patch them before it enables NMIs,
 *      or pass its own poke;
 *   2. copy, with no undefined behaviour (no unaligned 8-byte access
 *      through a uint64_t pointer): volatile byte stores for the unaligned
 *      head and tail, volatile aligned 8-byte stores for the middle.
 *      Volatile so the compiler neither drops nor reorders them nor turns
 *      the loops into a call of memcpy (the runtime links with nothing from
 *      outside);
 *   3. serialise the instruction stream before running on: the CPU may
 *      already have fetched, decoded or cached the old bytes (possibly
 *      through another linear address: the SDM's self-modifying-code
 *      snooping only covers writes through the same one), and a serialising
 *      instruction discards all of that.  The one used is IRET to the next
 *      instruction, Linux's sync_core() fallback: CPUID serialises too but
 *      causes a VM exit under every hypervisor (and pvpatch runs in guests),
 *      SERIALIZE needs a CPUID feature check the patcher does not make, and
 *      IRET is architecturally serialising at any privilege level without
 *      exiting;
 *   4. sti only if IF was set before: patching with interrupts already off
 *      (the usual early-boot case) must not turn them on.
 *
 * cli and sti need ring 0 (or IOPL 3): hosted tools and fuzzers pass a poke
 * of their own, and so does a kernel whose interrupt flag is virtualised
 * (Xen PV) or that patches with other CPUs running.  The inline assembly pushes below %rsp, which the runtime's
 * flags allow (-mno-red-zone, as in every kernel).
 */
#include "internal.h"

#define X86_EFLAGS_IF	0x200ul

static inline unsigned long save_flags_cli(void)
{
	unsigned long flags;

	__asm__ volatile("pushfq\n\t"
			 "popq %0\n\t"
			 "cli"
			 : "=r"(flags) : : "memory");
	return flags;
}

/*
 * IRET to the next instruction: it pops RIP, CS, RFLAGS, RSP and SS, so push
 * them as they are (RSP as it will be once SS is popped), RIP being the
 * label after the iretq.  RIP-relative, so it links at any address.
 */
static inline void iret_to_self(void)
{
	unsigned int sel;

	__asm__ volatile("mov %%ss, %0\n\t"
			 "pushq %q0\n\t"
			 "pushq %%rsp\n\t"
			 "addq $8, (%%rsp)\n\t"
			 "pushfq\n\t"
			 "mov %%cs, %0\n\t"
			 "pushq %q0\n\t"
			 "leaq 1f(%%rip), %q0\n\t"
			 "pushq %q0\n\t"
			 "iretq\n"
			 "1:"
			 : "=&r"(sel) : : "cc", "memory");
}

static inline void restore_if(unsigned long flags)
{
	if (flags & X86_EFLAGS_IF)
		__asm__ volatile("sti" : : : "memory");
}

static void copy_text(uint8_t *dst, const uint8_t *src, size_t len)
{
	volatile uint8_t *d = dst;
	size_t i = 0;

	for (; i < len && ((uintptr_t)dst + i) % 8; i++)
		d[i] = src[i];
	for (; len - i >= 8; i += 8) {
		uint64_t w;

		__builtin_memcpy(&w, src + i, 8);	/* an unaligned load, inlined */
		*(volatile uint64_t *)(void *)(dst + i) = w;	/* aligned: see the loop above */
	}
	for (; i < len; i++)
		d[i] = src[i];
}

void text_poke(struct pvpatch *pv, void *addr, const void *src, size_t len)
{
	unsigned long flags;

	if (pv->poke) {
		pv->poke(addr, src, len, pv->poke_arg);
		return;
	}
	flags = save_flags_cli();
	copy_text(addr, src, len);
	iret_to_self();
	restore_if(flags);
}
