// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Kernel-like code using the ops the way a kernel does: interrupt-safe
 * locks, page table updates with TLB flushes, address space switches,
 * CPU and MSR setup, IPIs, timekeeping and the idle loop.  Sixteen
 * "devices" instantiate the driver paths, so the guest carries hundreds of
 * sites with the registers the compiler chose at each.  workload_run()
 * executes the paths that are safe on every profile.
 */
#include <asm/pvops-gen.h>
#include "console.h"
#include "guest.h"
#include "io.h"

#define NOINLINE __attribute__((noinline))

/* --- locks ----------------------------------------------------------------- */
struct spinlock {
	volatile uint32_t locked;
	uint32_t owner_cpu;
};

static inline unsigned long spin_lock_irqsave(struct spinlock *l)
{
	unsigned long flags = pv_save_fl();

	pv_irq_disable();
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		pv_sched_yield(l->owner_cpu);	/* let the holder's vCPU run */
	return flags;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, unsigned long flags)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
	pv_restore_fl(flags);
}

/* --- memory management ------------------------------------------------------- */
struct mm {
	unsigned long pgd;
	uint64_t *ptes;
	unsigned long base;
	unsigned int npages;
};

static NOINLINE void mm_map(struct mm *mm, unsigned int i, uint64_t phys, uint64_t prot)
{
	pv_set_pte(&mm->ptes[i], phys | prot);
	pv_flush_tlb_one((void *)(mm->base + ((unsigned long)i << 12)));
}

static NOINLINE void mm_unmap_range(struct mm *mm, unsigned int from, unsigned int to)
{
	for (unsigned int i = from; i < to; i++)
		pv_set_pte(&mm->ptes[i], 0);
	if (to - from > 32)
		pv_flush_tlb_local();
	else
		for (unsigned int i = from; i < to; i++)
			pv_flush_tlb_one((void *)(mm->base + ((unsigned long)i << 12)));
}

static NOINLINE void switch_mm(struct mm *prev, struct mm *next)
{
	if (prev->pgd != next->pgd)
		pv_write_cr3(next->pgd);
}

static NOINLINE unsigned long page_fault_address(void)
{
	return pv_read_cr2();
}

static NOINLINE void mm_protect(struct mm *mm, unsigned int i, uint64_t clear)
{
	unsigned long flags = pv_save_fl();

	pv_irq_disable();
	pv_set_pte(&mm->ptes[i], mm->ptes[i] & ~clear);
	pv_flush_tlb_one((void *)(mm->base + ((unsigned long)i << 12)));
	pv_restore_fl(flags);
}

/* --- CPU setup ------------------------------------------------------------------ */
static NOINLINE uint32_t cpu_features(void)
{
	uint32_t a, b, c, d;

	pv_cpuid(1, 0, &a, &b, &c, &d);
	return c;
}

static NOINLINE void cpu_init(void)
{
	uint32_t lo, hi;
	unsigned long cr0 = pv_read_cr0(), cr4 = pv_read_cr4();

	pv_write_cr0(cr0 | 0x20);	/* NE */
	pv_write_cr4(cr4);
	pv_clts();
	pv_rdmsr(0xc0000080, &lo, &hi);	/* EFER */
	pv_wrmsr(0xc0000080, lo, hi);
	pv_wbinvd();
}

static NOINLINE void cpu_load_tables(void *gdt, void *idt)
{
	pv_load_gdt(gdt);
	pv_load_idt(idt);
}

/* --- APIC and IPIs --------------------------------------------------------------- */
static NOINLINE void smp_send_reschedule(uint32_t cpu)
{
	pv_send_ipi((void *)APIC_BASE, cpu << 24, 0x4000 | 0xfd);
}

static NOINLINE void smp_call_function_single(uint32_t cpu, uint32_t vector)
{
	pv_send_ipi((void *)APIC_BASE, cpu << 24, 0x4000 | vector);
}

static NOINLINE void kvm_kick(uint32_t cpu)
{
	pv_kick_cpu((void *)APIC_BASE, cpu << 24);
}

static NOINLINE void irq_exit_eoi(void)
{
	pv_apic_eoi((void *)APIC_BASE);
}

static NOINLINE unsigned long task_priority_raise(unsigned long prio)
{
	unsigned long old = pv_read_cr8();

	pv_write_cr8(prio);
	return old;
}

/* --- time ---------------------------------------------------------------------- */
static NOINLINE uint64_t clock_cycles(void)
{
	uint32_t lo, hi;

	pv_read_tsc(&lo, &hi);
	return (uint64_t)hi << 32 | lo;
}

static NOINLINE void udelay_isa(unsigned int n)
{
	while (n--)
		pv_io_delay();
}

static NOINLINE uint64_t time_init(void)
{
	return pv_calibrate_tsc() ^ pv_get_wallclock();
}

static NOINLINE uint64_t mem_init(void)
{
	return pv_mem_size() >> 12;
}

/* --- idle ------------------------------------------------------------------------ */
static NOINLINE void cpu_idle(volatile int *need_resched)
{
	while (!*need_resched) {
		pv_irq_disable();
		if (*need_resched) {
			pv_irq_enable();
			break;
		}
		pv_safe_halt();
	}
}

static NOINLINE void cpu_stop(void)
{
	pv_irq_disable();
	pv_halt();
}

/* --- sixteen devices: interrupt handlers and register access ------------------ */
struct device {
	struct spinlock lock;
	unsigned long events;
	uint64_t last;
	struct mm *mm;
	uint32_t cpu;
};

#define DEVICE(n)								\
	static struct device dev##n;						\
	static NOINLINE void dev##n##_irq(void)					\
	{									\
		unsigned long f = spin_lock_irqsave(&dev##n.lock);		\
		dev##n.events++;						\
		dev##n.last = clock_cycles();					\
		spin_unlock_irqrestore(&dev##n.lock, f);			\
		pv_apic_eoi((void *)APIC_BASE);					\
	}									\
	static NOINLINE void dev##n##_reset(void)				\
	{									\
		unsigned long f = spin_lock_irqsave(&dev##n.lock);		\
		outb(0x80 + (n & 1), (uint8_t)n);				\
		pv_io_delay();							\
		pv_io_delay();							\
		dev##n.events = 0;						\
		spin_unlock_irqrestore(&dev##n.lock, f);			\
	}									\
	static NOINLINE void dev##n##_dma_map(uint64_t phys, unsigned int i)	\
	{									\
		if (dev##n.mm)							\
			mm_map(dev##n.mm, i, phys, 3);				\
		pv_set_pte(&dev##n.mm->ptes[i + 1], phys + 4096);		\
		pv_flush_tlb_one((void *)(dev##n.mm->base + (i << 12)));	\
	}									\
	static NOINLINE void dev##n##_notify(void)				\
	{									\
		smp_call_function_single(dev##n.cpu, 0xf0 + (n & 7));		\
		pv_kick_cpu((void *)APIC_BASE, dev##n.cpu << 24);		\
	}									\
	static NOINLINE unsigned long dev##n##_poll(void)			\
	{									\
		unsigned long f = pv_save_fl();					\
		unsigned long e;						\
		pv_irq_disable();						\
		e = dev##n.events;						\
		pv_restore_fl(f);						\
		return e;							\
	}

DEVICE(0) DEVICE(1) DEVICE(2) DEVICE(3) DEVICE(4) DEVICE(5) DEVICE(6) DEVICE(7)
DEVICE(8) DEVICE(9) DEVICE(10) DEVICE(11) DEVICE(12) DEVICE(13) DEVICE(14) DEVICE(15)

#define DEV_FNS(n) { dev##n##_irq, dev##n##_reset, dev##n##_dma_map, dev##n##_notify, dev##n##_poll }
static const struct {
	void (*irq)(void);
	void (*reset)(void);
	void (*dma_map)(uint64_t, unsigned int);
	void (*notify)(void);
	unsigned long (*poll)(void);
} devices[] = {
	DEV_FNS(0), DEV_FNS(1), DEV_FNS(2), DEV_FNS(3), DEV_FNS(4), DEV_FNS(5), DEV_FNS(6),
	DEV_FNS(7), DEV_FNS(8), DEV_FNS(9), DEV_FNS(10), DEV_FNS(11), DEV_FNS(12),
	DEV_FNS(13), DEV_FNS(14), DEV_FNS(15),
};

/* Reachable, so that the compiler keeps every path; called with run = 0. */
static NOINLINE void workload_paths(int run, volatile int *flag)
{
	static uint64_t pt[512];
	static struct mm a = { .ptes = pt }, b = { .pgd = 1, .ptes = pt };

	if (!run)
		return;
	switch_mm(&a, &b);
	mm_unmap_range(&a, 0, 64);
	mm_protect(&a, 1, 2);
	cpu_init();
	cpu_load_tables(NULL, NULL);
	smp_send_reschedule(1);
	kvm_kick(1);
	irq_exit_eoi();
	task_priority_raise(2);
	udelay_isa(10);
	cpu_idle(flag);
	cpu_stop();
	(void)page_fault_address();
	for (unsigned int i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		devices[i].reset();
		devices[i].dma_map(0, i);
		devices[i].notify();
	}
}

void workload_run(void)
{
	static volatile int never;
	unsigned long sum = 0;
	uint64_t t0 = clock_cycles();

	/* The paths that are safe whatever each site became. */
	for (unsigned int i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		devices[i].poll();
		sum += devices[i].poll();
	}
	sum += cpu_features() + (unsigned long)(clock_cycles() - t0 > 0) + mem_init();
	sum += workload_asm();
	workload_paths(never, &never);
	kprintf("# workload ran, checksum %lu\n", sum);
	(void)time_init;
}
