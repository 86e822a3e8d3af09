// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * One function per benchmarked op, calling it once.  Built twice: with the
 * framework headers (bench_pv_*: real, patched sites) and with the
 * framework-free headers (bench_native_*: the plain instructions, as in a
 * kernel without paravirt support), and linked into one guest, so that a
 * single boot measures both.
 */
#include <asm/pvops-gen.h>
#include "bench.h"

#ifdef BENCH_NATIVE
#define B(x) bench_native_##x
#else
#define B(x) bench_pv_##x
#endif

#define NOINLINE __attribute__((noinline))

static volatile unsigned long sink, flags_value = 0x2;	/* IF clear */
static uint8_t page[4096] __attribute__((aligned(4096)));

NOINLINE void B(empty)(void) { asm volatile("" ::: "memory"); }
NOINLINE void B(io_delay)(void) { pv_io_delay(); }
NOINLINE void B(read_cr3)(void) { sink = pv_read_cr3(); }
NOINLINE void B(write_cr3)(void) { pv_write_cr3(bench_cr3); }
NOINLINE void B(read_cr0)(void) { sink = pv_read_cr0(); }
NOINLINE void B(read_cr8)(void) { sink = pv_read_cr8(); }
NOINLINE void B(save_fl)(void) { sink = pv_save_fl(); }
NOINLINE void B(restore_fl)(void) { pv_restore_fl(flags_value); }
NOINLINE void B(irq_disable)(void) { pv_irq_disable(); }
/* sti's one-instruction shadow keeps the cli from letting an interrupt in. */
NOINLINE void B(irq_enable)(void)
{
	pv_irq_enable();
	asm volatile("cli" ::: "memory");
}
NOINLINE void B(read_tsc)(void)
{
	uint32_t lo, hi;

	pv_read_tsc(&lo, &hi);
	sink = lo;
}
NOINLINE void B(cpuid)(void)
{
	uint32_t a, b, c, d;

	pv_cpuid(0, 0, &a, &b, &c, &d);
	sink = a;
}
NOINLINE void B(rdmsr)(void)
{
	uint32_t lo, hi;

	pv_rdmsr(0xc0000102, &lo, &hi);
	sink = lo;
}
NOINLINE void B(flush_tlb_one)(void) { pv_flush_tlb_one(page); }
NOINLINE void B(sched_yield)(void) { pv_sched_yield(0); }
NOINLINE void B(mem_size)(void) { sink = pv_mem_size(); }
NOINLINE void B(apic_eoi)(void) { pv_apic_eoi((void *)0xfee00000ul); }

