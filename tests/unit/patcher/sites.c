// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Real call sites for the hosted patcher tests, compiled with the framework
 * headers as kernel code is (-mno-red-zone).  Each function holds one site
 * (or a few of one op); the tests find a site's record by op and function.
 * User-legal ops are executed in every mode; privileged ones only once
 * patched to something user-legal (CALL, INLINE, NOP).
 */
#include <asm/pvops-gen.h>
#include "sites.h"

#define NOINLINE __attribute__((noinline))

NOINLINE uint64_t site_read_tsc(void)
{
	uint32_t lo, hi;

	pv_read_tsc(&lo, &hi);
	return (uint64_t)hi << 32 | lo;
}

NOINLINE void site_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	pv_cpuid(leaf, subleaf, &out[0], &out[1], &out[2], &out[3]);
}

NOINLINE unsigned long site_save_fl(void)
{
	return pv_save_fl();
}

NOINLINE void site_restore_fl(unsigned long flags)
{
	pv_restore_fl(flags);
}

/* cli: run only once patched to a CALL. */
NOINLINE void site_irq_disable(void)
{
	pv_irq_disable();
}

NOINLINE void site_io_delay(void)
{
	pv_io_delay();
}

NOINLINE void site_write_cr3(unsigned long val)
{
	pv_write_cr3(val);
}

/* Many values live across the site, in caller-saved registers too: a CALL
 * through a thunk must preserve all of them. */
NOINLINE unsigned long site_write_cr3_live(unsigned long a, unsigned long b, unsigned long c,
					   unsigned long d, unsigned long e, unsigned long f)
{
	unsigned long x = a * 3, y = b * 5, z = c * 7, w = d * 11, v = e * 13, u = f * 17;

	pv_write_cr3(a ^ f);
	return a + b * 2 + c * 4 + d * 8 + e * 16 + f * 32 + x + (y << 1) + (z << 2) +
	       (w << 3) + (v << 4) + (u << 5);
}

NOINLINE unsigned long site_read_cr3(void)
{
	return pv_read_cr3();
}

NOINLINE unsigned long site_read_cr3_live(unsigned long a, unsigned long b, unsigned long c)
{
	unsigned long x = a * b, y = b * c;
	unsigned long v = pv_read_cr3();

	return v + x * 3 + y * 5 + a + b + c;
}

NOINLINE void site_sched_yield(uint32_t cpu)
{
	pv_sched_yield(cpu);
}

/* Values live across a 16-byte site: room for a call that saves inline. */
NOINLINE unsigned long site_sched_yield_live(unsigned long a, unsigned long b, unsigned long c,
					     unsigned long d, unsigned long e, unsigned long f)
{
	unsigned long x = a * 3, y = b * 5, z = c * 7, w = d * 11, v = e * 13, u = f * 17;

	pv_sched_yield((uint32_t)(a ^ f));
	return a + b * 2 + c * 4 + d * 8 + e * 16 + f * 32 + x + (y << 1) + (z << 2) +
	       (w << 3) + (v << 4) + (u << 5);
}

NOINLINE uint64_t site_mem_size(void)
{
	return pv_mem_size();
}

NOINLINE void site_send_ipi(void *apic, uint32_t dest, uint32_t icr)
{
	pv_send_ipi(apic, dest, icr);
}

/* The same op with its arguments in other registers (a permutation the
 * CALL argument moves must untangle). */
NOINLINE void site_send_ipi_swapped(uint32_t icr, uint32_t dest, void *apic)
{
	pv_send_ipi(apic, dest, icr);
}

NOINLINE void site_set_pte(uint64_t *ptep, uint64_t pte)
{
	pv_set_pte(ptep, pte);
}

NOINLINE void site_rdmsr(uint32_t msr, uint32_t out[2])
{
	pv_rdmsr(msr, &out[0], &out[1]);
}

/* Values live across a site with two outputs (the thunk's stack slots). */
NOINLINE unsigned long site_rdmsr_live(unsigned long a, unsigned long b, unsigned long c,
				       unsigned long d, unsigned long e, unsigned long f)
{
	unsigned long x = a * 3, y = b * 5, z = c * 7, w = d * 11, v = e * 13, u = f * 17;
	uint32_t lo, hi;

	pv_rdmsr((uint32_t)(a ^ f), &lo, &hi);
	return a + b * 2 + c * 4 + d * 8 + e * 16 + f * 32 + x + (y << 1) + (z << 2) +
	       (w << 3) + (v << 4) + (u << 5) + ((unsigned long)hi << 32 | lo);
}

unsigned long native_mem_size(void)
{
	return 0x12345000ul;
}

unsigned long native_calibrate_tsc(void)
{
	return 2000000;
}

unsigned long native_get_wallclock(void)
{
	return 1700000000;
}
