// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * CALL backends: one C function per op with the signature of its pv_<op>(),
 * doing the operation natively (the paravirt profile routes every site
 * here) and registered for their op.  They are register-preserving (PVPATCH_BACKEND), so CALL sites
 * save nothing around them.  Each family (op class) lives in its own
 * section so that the families no site calls can be freed after patching.
 */
#include "guest.h"
#include "io.h"
#include "smp.h"

#define BACKEND(cls) PVPATCH_BACKEND_IN(cls)

BACKEND("irq") static void be_irq_disable(void) { asm volatile("cli" ::: "memory"); }
BACKEND("irq") static void be_irq_enable(void) { asm volatile("sti" ::: "memory"); }
BACKEND("irq") static unsigned long be_save_fl(void)
{
	unsigned long f;

	asm volatile("pushf; pop %0" : "=r"(f) : : "memory");
	return f;
}
BACKEND("irq") static void be_restore_fl(unsigned long f)
{
	asm volatile("push %0; popf" : : "r"(f) : "memory", "cc");
}
BACKEND("irq") static void be_safe_halt(void) { asm volatile("sti; hlt" ::: "memory"); }
BACKEND("irq") static void be_halt(void) { asm volatile("hlt" ::: "memory"); }

BACKEND("cpu") static void be_cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b,
				    uint32_t *c, uint32_t *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
#define CR_BACKENDS(cls, n)							\
	BACKEND(cls) static unsigned long be_read_cr##n(void)			\
	{									\
		unsigned long v;						\
		asm volatile("mov %%cr" #n ", %0" : "=r"(v) : : "memory");	\
		return v;							\
	}									\
	BACKEND(cls) static void be_write_cr##n(unsigned long v)		\
	{									\
		asm volatile("mov %0, %%cr" #n : : "r"(v) : "memory");		\
	}
CR_BACKENDS("cpu", 0)
CR_BACKENDS("mmu", 3)
CR_BACKENDS("cpu", 4)
CR_BACKENDS("apic", 8)
BACKEND("mmu") static unsigned long be_read_cr2(void)
{
	unsigned long v;

	asm volatile("mov %%cr2, %0" : "=r"(v) : : "memory");
	return v;
}
BACKEND("cpu") static void be_wbinvd(void) { asm volatile("wbinvd" ::: "memory"); }
BACKEND("cpu") static void be_clts(void) { asm volatile("clts" ::: "memory"); }

BACKEND("msr") static void be_rdmsr(uint32_t msr, uint32_t *lo, uint32_t *hi)
{
	asm volatile("rdmsr" : "=a"(*lo), "=d"(*hi) : "c"(msr) : "memory");
}
BACKEND("msr") static void be_wrmsr(uint32_t msr, uint32_t lo, uint32_t hi)
{
	asm volatile("wrmsr" : : "c"(msr), "a"(lo), "d"(hi) : "memory");
}
BACKEND("time") static void be_read_tsc(uint32_t *lo, uint32_t *hi)
{
	asm volatile("rdtsc" : "=a"(*lo), "=d"(*hi));
}
/* Calls per CPU (APIC ID), which the re-patch stress workload checks. */
volatile unsigned long be_io_delay_calls[MAX_CPUS], be_sched_yield_calls[MAX_CPUS];
#define COUNT_ON_THIS_CPU(a) \
	__atomic_add_fetch(&(a)[(APIC_BASE[0x20 / 4] >> 24) % MAX_CPUS], 1, __ATOMIC_RELAXED)

BACKEND("io") static void be_io_delay(void)
{
	COUNT_ON_THIS_CPU(be_io_delay_calls);
	outb(0x80, 0);
}

BACKEND("mmu") static void be_flush_tlb_one(void *addr)
{
	asm volatile("invlpg (%0)" : : "r"(addr) : "memory");
}
BACKEND("mmu") static void be_flush_tlb_local(void)
{
	unsigned long v;

	asm volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(v) : : "memory");
}
BACKEND("mmu") static void be_set_pte(void *ptep, uint64_t pte)
{
	*(volatile uint64_t *)ptep = pte;
}

/* The PV EOI word lives in data, which freeing the backends keeps. */
struct pv_eoi_stats pv_eoi;

/* As Linux's kvm_guest_cpu_init(): on KVM with PV_EOI, register the word
 * (identity-mapped: its address is its physical address). */
void pv_eoi_enable(void)
{
	uint64_t v = (uintptr_t)&pv_eoi.word | 1;

	if (!(neg.facts.kvm_features & (1u << PVPATCH_KVM_FEATURE_PV_EOI)))
		return;
	asm volatile("wrmsr" : : "c"(MSR_KVM_PV_EOI_EN), "a"((uint32_t)v),
		     "d"((uint32_t)(v >> 32)) : "memory");
	pv_eoi.enabled = true;
}

/* As Linux's kvm_guest_apic_eoi_write(): if KVM set the flag, clearing it is
 * the EOI; else write the APIC.  One btr: atomic with respect to this CPU,
 * the only one KVM sets the flag for. */
BACKEND("apic") static void be_apic_eoi(void *apic)
{
	bool was_set;

	asm volatile("btrl $0, %0" : "+m"(pv_eoi.word), "=@ccc"(was_set) : : "memory");
	if (was_set) {
		pv_eoi.fast++;
		return;
	}
	pv_eoi.apic++;
	((volatile uint32_t *)apic)[0xb0 / 4] = 0;
}
BACKEND("apic") static void be_send_ipi(void *apic, uint32_t dest, uint32_t icr)
{
	((volatile uint32_t *)apic)[0x310 / 4] = dest;
	((volatile uint32_t *)apic)[0x300 / 4] = icr;
}
BACKEND("sched") static void be_sched_yield(uint32_t cpu)
{
	(void)cpu;
	COUNT_ON_THIS_CPU(be_sched_yield_calls);
	asm volatile("pause");
}
/* Its own ICR writes: the apic family may be freed while sched is used. */
BACKEND("sched") static void be_kick_cpu(void *apic, uint32_t dest)
{
	((volatile uint32_t *)apic)[0x310 / 4] = dest;
	((volatile uint32_t *)apic)[0x300 / 4] = 0xf2;
}

BACKEND("time") static unsigned long be_calibrate_tsc(void) { return native_calibrate_tsc(); }
BACKEND("time") static unsigned long be_get_wallclock(void) { return native_get_wallclock(); }
BACKEND("mem") static unsigned long be_mem_size(void) { return native_mem_size(); }

BACKEND("desc") static void be_load_idt(void *d) { asm volatile("lidt (%0)" : : "r"(d) : "memory"); }
BACKEND("desc") static void be_load_gdt(void *d) { asm volatile("lgdt (%0)" : : "r"(d) : "memory"); }

BACKEND("desc") static void be_load_tr(uint16_t sel) { asm volatile("ltr %0" : : "r"(sel) : "memory"); }
BACKEND("desc") static uint32_t be_store_tr(void)
{
	uint32_t sel;

	asm volatile("str %0" : "=r"(sel) : : "memory");
	return sel;
}
BACKEND("desc") static void be_load_ldt(uint16_t sel) { asm volatile("lldt %0" : : "r"(sel) : "memory"); }
BACKEND("desc") static void be_load_gs_index(uint32_t sel)
{
	asm volatile("swapgs; mov %0, %%gs; swapgs" : : "r"(sel) : "memory");
}

/* Port I/O: the instructions themselves (a hypervisor's backend would
 * batch, emulate or forward them). */
BACKEND("io") static uint8_t be_inb(uint16_t port) { return inb(port); }
BACKEND("io") static uint16_t be_inw(uint16_t port)
{
	uint16_t v;

	asm volatile("inw %1, %0" : "=a"(v) : "d"(port) : "memory");
	return v;
}
BACKEND("io") static uint32_t be_inl(uint16_t port) { return inl(port); }
BACKEND("io") static void be_outb(uint16_t port, uint8_t v) { outb(port, v); }
BACKEND("io") static void be_outw(uint16_t port, uint16_t v) { outw(port, v); }
BACKEND("io") static void be_outl(uint16_t port, uint32_t v) { outl(port, v); }
#define STRING_IO(x)								\
	BACKEND("io") static void be_ins##x(uint16_t port, void *buf, unsigned long n) \
	{									\
		asm volatile("rep ins" #x : "+D"(buf), "+c"(n) : "d"(port) : "memory"); \
	}									\
	BACKEND("io") static void be_outs##x(uint16_t port, const volatile void *buf, \
					     unsigned long n)			\
	{									\
		asm volatile("rep outs" #x : "+S"(buf), "+c"(n) : "d"(port) : "memory"); \
	}
STRING_IO(b)
STRING_IO(w)
STRING_IO(l)

BACKEND("cpu") static void be_swapgs(void) { asm volatile("swapgs" ::: "memory"); }
BACKEND("msr") static void be_write_gs_base(uint32_t lo, uint32_t hi)
{
	asm volatile("wrmsr" : : "c"(0xc0000101), "a"(lo), "d"(hi) : "memory");
}
BACKEND("msr") static void be_write_kernel_gs_base(uint32_t lo, uint32_t hi)
{
	asm volatile("wrmsr" : : "c"(0xc0000102), "a"(lo), "d"(hi) : "memory");
}
#define DR_BACKENDS(n)								\
	BACKEND("cpu") static unsigned long be_read_dr##n(void)		\
	{									\
		unsigned long v;						\
		asm volatile("mov %%dr" #n ", %0" : "=r"(v) : : "memory");	\
		return v;							\
	}									\
	BACKEND("cpu") static void be_write_dr##n(unsigned long v)		\
	{									\
		asm volatile("mov %0, %%dr" #n : : "r"(v) : "memory");		\
	}
DR_BACKENDS(6)
DR_BACKENDS(7)
BACKEND("mmu") static void be_write_cr2(unsigned long v)
{
	asm volatile("mov %0, %%cr2" : : "r"(v) : "memory");
}
BACKEND("mmu") static void be_flush_tlb_global(void)
{
	unsigned long cr4;

	asm volatile("mov %%cr4, %0; btc $7, %0; mov %0, %%cr4; btc $7, %0; mov %0, %%cr4"
		     : "=&r"(cr4) : : "memory", "cc");
}
/* No hypervisor here publishes preemption or steal time: the answers a
 * bare machine gives, through a call. */
BACKEND("sched") static uint32_t be_vcpu_is_preempted(uint32_t cpu)
{
	(void)cpu;
	return 0;
}
BACKEND("time") static uint64_t be_steal_clock(uint32_t cpu)
{
	(void)cpu;
	return 0;
}

/* Registered with pvpatch (section .pvpatch.backends): pvpatch_boot()
 * collects them, tools/pvrom check reads them from the ELF. */
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_IRQ_DISABLE, be_irq_disable);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_IRQ_ENABLE, be_irq_enable);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_SAVE_FL, be_save_fl);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_RESTORE_FL, be_restore_fl);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_SAFE_HALT, be_safe_halt);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_HALT, be_halt);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_CPUID, be_cpuid);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_READ_CR0, be_read_cr0);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_WRITE_CR0, be_write_cr0);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_READ_CR2, be_read_cr2);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_READ_CR3, be_read_cr3);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_WRITE_CR3, be_write_cr3);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_READ_CR4, be_read_cr4);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_WRITE_CR4, be_write_cr4);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_WBINVD, be_wbinvd);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_RDMSR, be_rdmsr);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_WRMSR, be_wrmsr);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_READ_TSC, be_read_tsc);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_IO_DELAY, be_io_delay);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_FLUSH_TLB_ONE, be_flush_tlb_one);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_FLUSH_TLB_LOCAL, be_flush_tlb_local);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_SET_PTE, be_set_pte);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_APIC_EOI, be_apic_eoi);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_SEND_IPI, be_send_ipi);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_SCHED_YIELD, be_sched_yield);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_KICK_CPU, be_kick_cpu);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_CALIBRATE_TSC, be_calibrate_tsc);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_GET_WALLCLOCK, be_get_wallclock);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_MEM_SIZE, be_mem_size);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_READ_CR8, be_read_cr8);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_WRITE_CR8, be_write_cr8);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_LOAD_IDT, be_load_idt);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_LOAD_GDT, be_load_gdt);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_CLTS, be_clts);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_LOAD_TR, be_load_tr);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_STORE_TR, be_store_tr);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_LOAD_LDT, be_load_ldt);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_LOAD_GS_INDEX, be_load_gs_index);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_INB, be_inb);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_INW, be_inw);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_INL, be_inl);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_OUTB, be_outb);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_OUTW, be_outw);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_OUTL, be_outl);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_INSB, be_insb);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_INSW, be_insw);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_INSL, be_insl);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_OUTSB, be_outsb);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_OUTSW, be_outsw);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_OUTSL, be_outsl);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_SWAPGS, be_swapgs);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_WRITE_GS_BASE, be_write_gs_base);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_WRITE_KERNEL_GS_BASE, be_write_kernel_gs_base);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_READ_DR6, be_read_dr6);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_WRITE_DR6, be_write_dr6);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_READ_DR7, be_read_dr7);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_WRITE_DR7, be_write_dr7);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_WRITE_CR2, be_write_cr2);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_FLUSH_TLB_GLOBAL, be_flush_tlb_global);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_VCPU_IS_PREEMPTED, be_vcpu_is_preempted);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_STEAL_CLOCK, be_steal_clock);
