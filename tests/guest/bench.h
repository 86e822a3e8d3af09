/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* The benchmark functions (bench-ops.c built twice, bench-pvops.c twice). */
#ifndef GUEST_BENCH_H
#define GUEST_BENCH_H

#define BENCH_OPS(X) X(empty) X(io_delay) X(read_cr3) X(write_cr3) X(read_cr0) \
	X(read_cr8) X(save_fl) X(restore_fl) X(irq_disable) X(irq_enable) X(read_tsc) \
	X(cpuid) X(rdmsr) X(flush_tlb_one) X(sched_yield) X(mem_size) X(apic_eoi)

#define DECLARE(x) void bench_pv_##x(void); void bench_native_##x(void); \
	void bench_ind_##x(void); void bench_ret_##x(void);
BENCH_OPS(DECLARE)
#undef DECLARE

/* The CR3 the write_cr3 benchmarks load (the current one). */
extern volatile unsigned long bench_cr3;

/* The pv_ops-style table bench-pvops.c calls through (bench.c fills it). */
struct pv_ops_table {
#define SLOT(x) void (*x)(void);
	BENCH_OPS(SLOT)
#undef SLOT
};
extern struct pv_ops_table pv_ops;

#endif
