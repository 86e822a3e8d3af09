// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * In-guest benchmarks: for each op, the cost of one call at its patched
 * site (bench_pv_*), of the same op in the framework-free build
 * (bench_native_*), through a pv_ops-style indirect call (bench_ind_*) and
 * through its retpoline form (bench_ret_*), all in this one boot.  Costs are
 * TSC deltas around calls, less the same around calls of an empty function
 * (so an indirect call's own cost counts):
 * exact guest instruction counts under TCG with -icount shift=0, cycles
 * under KVM.  Interrupts are off while measuring.
 */
#include "bench.h"
#include "console.h"
#include "guest.h"
#include "io.h"

volatile unsigned long bench_cr3;

#define FILL(x) .x = bench_native_##x,
struct pv_ops_table pv_ops = { BENCH_OPS(FILL) };

struct bench {
	const char *name;
	unsigned int op;
	void (*fn[4])(void);
};

#define ENTRY(x) { #x, PVPATCH_OP_##x, { bench_pv_##x, bench_native_##x, bench_ind_##x, bench_ret_##x } },
#define PVPATCH_OP_empty 0
#define PVPATCH_OP_io_delay PVPATCH_OP_IO_DELAY
#define PVPATCH_OP_read_cr3 PVPATCH_OP_READ_CR3
#define PVPATCH_OP_write_cr3 PVPATCH_OP_WRITE_CR3
#define PVPATCH_OP_read_cr0 PVPATCH_OP_READ_CR0
#define PVPATCH_OP_read_cr8 PVPATCH_OP_READ_CR8
#define PVPATCH_OP_save_fl PVPATCH_OP_SAVE_FL
#define PVPATCH_OP_restore_fl PVPATCH_OP_RESTORE_FL
#define PVPATCH_OP_irq_disable PVPATCH_OP_IRQ_DISABLE
#define PVPATCH_OP_irq_enable PVPATCH_OP_IRQ_ENABLE
#define PVPATCH_OP_read_tsc PVPATCH_OP_READ_TSC
#define PVPATCH_OP_cpuid PVPATCH_OP_CPUID
#define PVPATCH_OP_rdmsr PVPATCH_OP_RDMSR
#define PVPATCH_OP_flush_tlb_one PVPATCH_OP_FLUSH_TLB_ONE
#define PVPATCH_OP_sched_yield PVPATCH_OP_SCHED_YIELD
#define PVPATCH_OP_mem_size PVPATCH_OP_MEM_SIZE
#define PVPATCH_OP_apic_eoi PVPATCH_OP_APIC_EOI
static const struct bench benches[] = { BENCH_OPS(ENTRY) };

static const char *const variant[4] = { "patched", "native_build", "pvops_indirect", "retpoline" };

#define MAX_ITER 512
#define BATCH 8		/* calls per sample: amortizes the rdtsc pair */
static int64_t samples[MAX_ITER];

static void sort(int64_t *a, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j > 0 && a[j - 1] > a[j]; j--) {
			int64_t t = a[j];

			a[j] = a[j - 1];
			a[j - 1] = t;
		}
}

static uint64_t batch(void (*fn)(void))
{
	uint64_t t0 = rdtsc_raw();

	for (int k = 0; k < BATCH; k++)
		fn();
	return rdtsc_raw() - t0;
}

/*
 * Cost of one call of fn beyond an empty function's: each sample times a
 * batch of fn right after a batch of the empty function and keeps the
 * difference, so drift and the timing overhead cancel pairwise.  Median
 * and minimum over the samples.  Exact under TCG with -icount.
 */
static void measure(void (*fn)(void), void (*empty)(void), unsigned int n,
		    long *median, long *min)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t e = batch(empty);

		samples[i] = (int64_t)batch(fn) - (int64_t)e;
	}
	sort(samples, n);
	*median = (long)(samples[n / 2] / BATCH);
	*min = (long)(samples[0] / BATCH);
}

void bench_run(unsigned int iterations)
{
	unsigned long flags;
	unsigned int n = iterations < MAX_ITER ? iterations : MAX_ITER;

	if (n < 3)
		n = 3;
	asm volatile("pushf; pop %0; cli" : "=r"(flags) : : "memory");
	asm volatile("mov %%cr3, %0" : "=r"(bench_cr3) : : "memory");
	for (unsigned int b = 1; b < sizeof(benches) / sizeof(benches[0]); b++) {
		const struct bench *be = &benches[b];
		const struct pvpatch_site *s = site_find(be->fn[0], be->op);
		unsigned int mode = s ? pv.state[s - pv.sites].mode : PVPATCH_MODE_NATIVE;
		long med[4], min[4];

		if (op_is_kvm_hypercall(be->op)) {
			kprintf("# bench %s skipped: its site is a KVM hypercall\n", be->name);
			continue;
		}
		for (int v = 0; v < 4; v++)
			measure(be->fn[v], bench_pv_empty, n, &med[v], &min[v]);
		kprintf("# pvpatch-bench: {\"op\": \"%s\", \"mode\": \"%s\", \"unit\": \"tsc\"",
			be->name, pvpatch_mode_name(mode));
		for (int v = 0; v < 4; v++)
			kprintf(", \"%s\": %ld", variant[v], med[v]);
		for (int v = 0; v < 4; v++)
			kprintf(", \"%s_min\": %ld", variant[v], min[v]);
		kprintf("}\n");
	}
	asm volatile("sti");
}
