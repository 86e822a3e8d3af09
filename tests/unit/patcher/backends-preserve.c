// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Register-preserving backends (PVPATCH_BACKEND), built as kernel code is
 * (-mgeneral-regs-only, no sanitizer): they keep every register but their
 * result, so CALL sites save nothing around them.
 */
#include <asm/pvpatch.h>
#include "sites.h"

unsigned long pbe_cr3_seen;
unsigned int pbe_calls;

PVPATCH_BACKEND void pbe_write_cr3(unsigned long v)
{
	pbe_cr3_seen = v;
	pbe_calls++;
}

PVPATCH_BACKEND unsigned long pbe_read_cr3(void)
{
	pbe_calls++;
	return 0xdef000;
}

PVPATCH_BACKEND void pbe_irq_disable(void)
{
	pbe_calls++;
}

PVPATCH_BACKEND void pbe_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b,
			       uint32_t *c, uint32_t *d)
{
	uint32_t ra, rb, rc, rd;

	asm volatile("cpuid" : "=a" (ra), "=b" (rb), "=c" (rc), "=d" (rd)
			     : "a" (leaf), "c" (subleaf));
	*a = ra;
	*b = rb;
	*c = rc;
	*d = rd;
	pbe_calls++;
}

PVPATCH_BACKEND void pbe_rdmsr(uint32_t msr, uint32_t *lo, uint32_t *hi)
{
	*lo = msr + 0x21;
	*hi = msr + 0x22;
	pbe_calls++;
}

unsigned long pbe_cpu_seen;

PVPATCH_BACKEND void pbe_sched_yield(uint32_t cpu)
{
	pbe_cpu_seen = cpu;
	pbe_calls++;
}
