// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * In-guest tests, in KTAP over the serial port: after patching, every op is
 * called through its own call site and its effect checked with raw
 * instructions (IF really clear, CR3 really reloaded, the TLB entry really
 * gone, the IPI really delivered...), whatever mode the profile gave the
 * site.  A site patched to a KVM hypercall is not executed (vmcall hangs
 * under this machine's KVM): its fitted bytes are checked instead.
 */
#include <asm/pvops-gen.h>
#include "console.h"
#include "guest.h"
#include "idt.h"
#include "io.h"

#define NOINLINE __attribute__((noinline))

enum result { PASS, FAIL, SKIP };

struct test {
	const char *name;
	enum result (*fn)(char *why, size_t size);
};

#define WHY(...) ksnprintf(why, size, __VA_ARGS__)
#define CHECK(cond, ...)					\
	do {							\
		if (!(cond)) {					\
			WHY(__VA_ARGS__);			\
			return FAIL;				\
		}						\
	} while (0)

static unsigned long raw_flags(void)
{
	unsigned long f;

	asm volatile("pushf; pop %0" : "=r"(f) : : "memory");
	return f;
}

#define RAW_CR(n)							\
	static unsigned long raw_cr##n(void)				\
	{								\
		unsigned long v;					\
		asm volatile("mov %%cr" #n ", %0" : "=r"(v) : : "memory"); \
		return v;						\
	}
RAW_CR(0)
RAW_CR(3)
RAW_CR(4)
RAW_CR(8)

static void raw_cpuid(uint32_t leaf, uint32_t r[4])
{
	asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

/* The mode the first site of op in fn has now. */
static unsigned int mode_at(const void *fn, unsigned int op)
{
	const struct pvpatch_site *s = site_find(fn, op);

	return s ? pv.state[s - pv.sites].mode : PVPATCH_MODE_NATIVE;
}

/* A site holding a KVM hypercall: it must contain `mov $nr, %eax` and
 * `vmcall`; its bytes are printed for tools/pvboot to decode.  It is not
 * run: vmcall hangs under this machine's KVM. */
static bool is_kvm_hypercall(const void *fn, unsigned int op, char *why, size_t size,
			     uint32_t nr, enum result *res)
{
	const struct pvpatch_site *s = site_find(fn, op);
	const struct pvpatch_template *t = neg.policy.op[op].tmpl;
	const uint8_t *p;
	bool vmcall = false, nr_ok = false;

	if (!s || pv.state[s - pv.sites].mode != PVPATCH_MODE_INLINE || !op_is_kvm_hypercall(op))
		return false;
	p = pvpatch_site_addr(s);
	kprintf("# pvpatch-fitted: {\"op\": \"%s\", \"nr\": %u, \"bytes\": \"",
		pvpatch_op_table[op].name, nr);
	for (unsigned int i = 0; i < s->site_len; i++) {
		kprintf("%02x", p[i]);
		if (i + 3 <= s->site_len && p[i] == 0x0f && p[i + 1] == 0x01 && p[i + 2] == 0xc1)
			vmcall = true;
		if (i + 5 <= s->site_len && p[i] == 0xb8 &&
		    (uint32_t)(p[i + 1] | p[i + 2] << 8 | p[i + 3] << 16 | (uint32_t)p[i + 4] << 24) == nr)
			nr_ok = true;
	}
	kprintf("\"}\n");
	*res = vmcall && nr_ok ? PASS : FAIL;
	if (*res == PASS)
		kprintf("# %s: KVM hypercall %u fitted and checked, not executed "
			"(vmcall hangs under this KVM)\n", t->name, nr);
	else
		WHY("the fitted %s has no vmcall with eax = %u", t->name, nr);
	return true;
}

/* --- irq ----------------------------------------------------------------- */
static NOINLINE enum result t_irq_disable(char *why, size_t size)
{
	unsigned long f;

	asm volatile("sti");
	pv_irq_disable();
	f = raw_flags();
	asm volatile("sti");
	CHECK(!(f & 0x200), "IF still set after irq_disable (rflags 0x%lx)", f);
	return PASS;
}

static NOINLINE enum result t_irq_enable(char *why, size_t size)
{
	unsigned long f;

	asm volatile("cli");
	pv_irq_enable();
	f = raw_flags();
	CHECK(f & 0x200, "IF clear after irq_enable (rflags 0x%lx)", f);
	return PASS;
}

static NOINLINE enum result t_save_restore_fl(char *why, size_t size)
{
	unsigned long on, off, after;

	asm volatile("sti");
	on = pv_save_fl();
	asm volatile("cli");
	off = pv_save_fl();
	pv_restore_fl(on);
	after = raw_flags();
	CHECK((on & 0x200) && !(off & 0x200), "save_fl: IF not seen (0x%lx, 0x%lx)", on, off);
	CHECK(after & 0x200, "restore_fl did not restore IF (0x%lx)", after);
	pv_restore_fl(off);
	after = raw_flags();
	asm volatile("sti");
	CHECK(!(after & 0x200), "restore_fl did not clear IF (0x%lx)", after);
	return PASS;
}

static bool wait_ticks(volatile unsigned long *ticks, unsigned long from)
{
	for (unsigned long i = 0; i < 200000000ul; i++)
		if (*ticks != from)
			return true;
	return false;
}

static NOINLINE enum result t_halt(char *why, size_t size)
{
	unsigned long t = pit_ticks;

	asm volatile("sti");
	pv_halt();
	CHECK(pit_ticks != t || wait_ticks(&pit_ticks, t), "no timer tick woke halt");
	return PASS;
}

static NOINLINE enum result t_safe_halt(char *why, size_t size)
{
	unsigned long t = pit_ticks, f;

	asm volatile("cli");
	pv_safe_halt();
	f = raw_flags();
	CHECK(pit_ticks != t, "safe_halt returned without an interrupt");
	CHECK(f & 0x200, "IF clear after safe_halt");
	return PASS;
}

/* --- cpu, control registers, MSRs ------------------------------------------ */
static NOINLINE enum result t_cpuid(char *why, size_t size)
{
	uint32_t raw[4], r[4];
	static const uint32_t leaves[] = { 0, 1, 0x80000000u, 0x40000000u };

	for (unsigned int i = 0; i < 4; i++) {
		raw_cpuid(leaves[i], raw);
		pv_cpuid(leaves[i], 0, &r[0], &r[1], &r[2], &r[3]);
		if (leaves[i] == 1) {	/* EBX[31:24]: APIC id, same CPU here */
			r[1] &= 0x00ffffff;
			raw[1] &= 0x00ffffff;
		}
		CHECK(!memcmp(raw, r, sizeof(r)), "leaf 0x%x: %x %x %x %x != %x %x %x %x",
		      leaves[i], r[0], r[1], r[2], r[3], raw[0], raw[1], raw[2], raw[3]);
	}
	return PASS;
}

static NOINLINE enum result t_cr0_clts(char *why, size_t size)
{
	unsigned long cr0 = pv_read_cr0();

	CHECK(cr0 == raw_cr0(), "read_cr0 0x%lx, raw 0x%lx", cr0, raw_cr0());
	pv_write_cr0(cr0 | 8);	/* TS */
	CHECK(raw_cr0() & 8, "write_cr0 did not set CR0.TS");
	pv_clts();
	CHECK(!(raw_cr0() & 8), "clts left CR0.TS set");
	return PASS;
}

static NOINLINE enum result t_cr4(char *why, size_t size)
{
	unsigned long cr4 = pv_read_cr4();

	CHECK(cr4 == raw_cr4(), "read_cr4 0x%lx, raw 0x%lx", cr4, raw_cr4());
	pv_write_cr4(cr4 | 4);	/* TSD: rdtsc for ring 0 only, harmless here */
	CHECK(raw_cr4() & 4, "write_cr4 did not set CR4.TSD");
	pv_write_cr4(cr4);
	CHECK(raw_cr4() == cr4, "write_cr4 did not restore CR4");
	return PASS;
}

static NOINLINE enum result t_cr8(char *why, size_t size)
{
	pv_write_cr8(5);
	CHECK(raw_cr8() == 5, "write_cr8(5): CR8 is %lu", raw_cr8());
	CHECK(pv_read_cr8() == 5, "read_cr8 is %lu", pv_read_cr8());
	pv_write_cr8(0);
	CHECK(raw_cr8() == 0, "write_cr8(0) failed");
	return PASS;
}

static NOINLINE enum result t_msr(char *why, size_t size)
{
	const uint32_t msr = 0xc0000102;	/* KERNEL_GS_BASE */
	uint32_t lo, hi, rlo, rhi;

	pv_wrmsr(msr, 0x9abcdef0, 0x00007fff);	/* canonical: KVM checks */
	asm volatile("rdmsr" : "=a"(rlo), "=d"(rhi) : "c"(msr));
	CHECK(rlo == 0x9abcdef0 && rhi == 0x00007fff, "wrmsr: MSR is %x:%x", rhi, rlo);
	pv_rdmsr(msr, &lo, &hi);
	CHECK(lo == rlo && hi == rhi, "rdmsr %x:%x, raw %x:%x", hi, lo, rhi, rlo);
	pv_wrmsr(msr, 0, 0);
	return PASS;
}

static NOINLINE enum result t_wbinvd(char *why, size_t size)
{
	(void)why;
	(void)size;
	pv_wbinvd();	/* nothing to observe but that it ran and returned */
	return PASS;
}

static NOINLINE enum result t_read_tsc(char *why, size_t size)
{
	uint64_t a = rdtsc_raw(), b, c;
	uint32_t lo, hi;

	pv_read_tsc(&lo, &hi);
	c = rdtsc_raw();
	b = (uint64_t)hi << 32 | lo;
	CHECK(a <= b && b <= c, "read_tsc %lu outside [%lu, %lu]", b, a, c);
	return PASS;
}

static NOINLINE enum result t_io_delay(char *why, size_t size)
{
	const struct pvpatch_site *s = site_find(t_io_delay, PVPATCH_OP_IO_DELAY);
	const uint8_t *p = pvpatch_site_addr(s);
	unsigned int mode = mode_at(t_io_delay, PVPATCH_OP_IO_DELAY);

	pv_io_delay();
	if (mode == PVPATCH_MODE_NOP)
		CHECK(p[0] != 0xe6, "io_delay is NOP but its site still holds out");
	if (mode == PVPATCH_MODE_NATIVE)
		CHECK(p[0] == 0xe6 && p[1] == 0x80, "native io_delay is not out %%al, $0x80");
	return PASS;
}

/* --- paging: a 4 KiB page table at 4 GiB -------------------------------- */
static uint64_t test_pd[512] __attribute__((aligned(4096)));
static uint64_t test_pt[512] __attribute__((aligned(4096)));
static uint64_t page_a[512] __attribute__((aligned(4096)));
static uint64_t page_b[512] __attribute__((aligned(4096)));
#define TEST_VA ((volatile uint64_t *)0x100000000ul)

static void paging_init(void)
{
	page_a[0] = 0xaaaa;
	page_b[0] = 0xbbbb;
	test_pd[0] = (uint64_t)test_pt | 3;
	boot_pdpt[4] = (uint64_t)test_pd | 3;
}

/* Map TEST_VA to page a and touch it, then point the PTE at b without a
 * flush: only the flush under test makes b visible for sure. */
static void map_a_then_b(void)
{
	test_pt[0] = (uint64_t)page_a | 3;
	asm volatile("invlpg (%0)" : : "r"(TEST_VA) : "memory");
	(void)*TEST_VA;
	test_pt[0] = (uint64_t)page_b | 3;
}

static NOINLINE enum result t_flush_tlb_one(char *why, size_t size)
{
	map_a_then_b();
	pv_flush_tlb_one((void *)TEST_VA);
	CHECK(*TEST_VA == 0xbbbb, "after flush_tlb_one the old page is still mapped");
	return PASS;
}

static NOINLINE enum result t_flush_tlb_local(char *why, size_t size)
{
	map_a_then_b();
	pv_flush_tlb_local();
	CHECK(*TEST_VA == 0xbbbb, "after flush_tlb_local the old page is still mapped");
	return PASS;
}

static NOINLINE enum result t_cr3(char *why, size_t size)
{
	unsigned long cr3 = pv_read_cr3();

	CHECK(cr3 == raw_cr3(), "read_cr3 0x%lx, raw 0x%lx", cr3, raw_cr3());
	map_a_then_b();
	pv_write_cr3(cr3);
	CHECK(*TEST_VA == 0xbbbb, "after write_cr3 the old page is still mapped");
	return PASS;
}

static NOINLINE enum result t_set_pte(char *why, size_t size)
{
	test_pt[0] = (uint64_t)page_a | 3;
	asm volatile("invlpg (%0)" : : "r"(TEST_VA) : "memory");
	pv_set_pte(&test_pt[0], (uint64_t)page_b | 3);
	CHECK(test_pt[0] == ((uint64_t)page_b | 3), "set_pte wrote 0x%lx", test_pt[0]);
	asm volatile("invlpg (%0)" : : "r"(TEST_VA) : "memory");
	CHECK(*TEST_VA == 0xbbbb, "the new PTE does not map page b");
	return PASS;
}

static NOINLINE enum result t_read_cr2(char *why, size_t size)
{
	unsigned long addr = 0x200000000ul, cr2;
	unsigned int faults = idt_faults_seen();

	idt_expect_fault(14, 2);
	asm volatile("movb (%0), %%al" : : "b"(addr) : "rax", "memory");	/* 8a 03 */
	cr2 = pv_read_cr2();
	CHECK(idt_faults_seen() == faults + 1, "no page fault taken");
	CHECK(cr2 == addr, "read_cr2 0x%lx, faulting address 0x%lx", cr2, addr);
	return PASS;
}

/* --- descriptor tables ------------------------------------------------- */
struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static NOINLINE enum result t_load_idt_gdt(char *why, size_t size)
{
	struct desc_ptr idt, gdt, idt2, gdt2;
	unsigned long t;

	asm volatile("sidt %0; sgdt %1" : "=m"(idt), "=m"(gdt));
	pv_load_idt(&idt);
	pv_load_gdt(&gdt);
	asm volatile("sidt %0; sgdt %1" : "=m"(idt2), "=m"(gdt2));
	CHECK(idt2.base == idt.base && idt2.limit == idt.limit, "IDTR changed");
	CHECK(gdt2.base == gdt.base && gdt2.limit == gdt.limit, "GDTR changed");
	t = pit_ticks;
	asm volatile("sti");
	CHECK(wait_ticks(&pit_ticks, t), "no interrupt through the reloaded IDT");
	return PASS;
}

/* --- APIC, IPIs, scheduling ----------------------------------------------- */
static NOINLINE enum result t_apic_eoi(char *why, size_t size)
{
	struct pv_eoi_stats before = pv_eoi;

	asm volatile("sti");
	/* Three one-shot timer interrupts: without EOI the second never comes. */
	for (int i = 0; i < 3; i++) {
		unsigned long t = apic_ticks;

		APIC_BASE[0x380 / 4] = 1000;
		CHECK(wait_ticks(&apic_ticks, t), "APIC timer interrupt %d not delivered", i);
	}
	/* Through the backend (CALL): each EOI went one way or the other (by
	 * the flag when KVM's PV EOI is on and KVM set it). */
	kprintf("# pvpatch-pveoi: {\"enabled\": %s, \"call_sites\": %u, \"fast\": %lu, "
		"\"apic\": %lu}\n", pv_eoi.enabled ? "true" : "false",
		sites_of_op(PVPATCH_OP_APIC_EOI, PVPATCH_MODE_CALL), pv_eoi.fast - before.fast,
		pv_eoi.apic - before.apic);
	if (!sites_of_op(PVPATCH_OP_APIC_EOI, PVPATCH_MODE_CALL))
		return PASS;
	CHECK(pv_eoi.fast + pv_eoi.apic - before.fast - before.apic >= 3,
	      "%lu EOIs through the backend for 3 interrupts",
	      pv_eoi.fast + pv_eoi.apic - before.fast - before.apic);
	/* The fast path, with the flag set as KVM sets it on injecting (no
	 * interrupt is in service now, so skipping the APIC write is safe):
	 * the EOI must clear the flag and leave the APIC alone. */
	before = pv_eoi;
	pv_eoi.word |= 1;
	pv_apic_eoi((void *)APIC_BASE);
	CHECK(!(pv_eoi.word & 1), "the PV EOI flag is still set");
	CHECK(pv_eoi.fast == before.fast + 1 && pv_eoi.apic == before.apic,
	      "flag set: %lu fast, %lu APIC EOIs (want 1, 0)", pv_eoi.fast - before.fast,
	      pv_eoi.apic - before.apic);
	return PASS;
}

static NOINLINE enum result t_send_ipi(char *why, size_t size)
{
	unsigned long t = kick_ticks;
	enum result r;

	if (is_kvm_hypercall(t_send_ipi, PVPATCH_OP_SEND_IPI, why, size, 10, &r))
		return r;
	asm volatile("sti");
	pv_send_ipi((void *)APIC_BASE, apic_id() << 24, 0x4000 | 0xf2);
	CHECK(wait_ticks(&kick_ticks, t), "self IPI not delivered");
	return PASS;
}

static NOINLINE enum result t_kick_cpu(char *why, size_t size)
{
	unsigned long t = kick_ticks;
	enum result r;

	if (is_kvm_hypercall(t_kick_cpu, PVPATCH_OP_KICK_CPU, why, size, 5, &r))
		return r;
	asm volatile("sti");
	pv_kick_cpu((void *)APIC_BASE, apic_id() << 24);
	CHECK(wait_ticks(&kick_ticks, t), "kick IPI not delivered");
	return PASS;
}

static NOINLINE enum result t_sched_yield(char *why, size_t size)
{
	enum result r;

	if (is_kvm_hypercall(t_sched_yield, PVPATCH_OP_SCHED_YIELD, why, size, 11, &r))
		return r;
	pv_sched_yield(apic_id());
	return PASS;
}

/* --- time and memory ----------------------------------------------------- */
/* Both sides may be PIT calibrations, which a busy host (a preempted vCPU
 * in a PIT window) can skew by percents: up to three tries, each printed. */
static NOINLINE enum result t_calibrate_tsc(char *why, size_t size)
{
	uint64_t hz = 0, pit = 0, diff = 0;

	for (int try = 0; try < 3; try++) {
		hz = pv_calibrate_tsc();
		pit = tsc_hz_pit();
		diff = hz > pit ? hz - pit : pit - hz;
		kprintf("# calibrate_tsc %s: %lu Hz, PIT calibration %lu Hz\n",
			pvpatch_mode_name(mode_at(t_calibrate_tsc, PVPATCH_OP_CALIBRATE_TSC)), hz, pit);
		if (hz > 0 && diff * 100 <= pit)
			break;
	}
	CHECK(hz > 0, "calibrate_tsc returned 0");
	CHECK(diff * 100 <= pit, "calibrate_tsc %lu Hz is not within 1%% of the PIT's %lu Hz", hz, pit);
	return PASS;
}

static NOINLINE enum result t_get_wallclock(char *why, size_t size)
{
	unsigned long t = pv_get_wallclock(), n = native_get_wallclock();

	CHECK(t > 1577836800ul, "wall clock %lu is before 2020", t);
	CHECK(t + 2 >= n && n + 2 >= t, "wall clock %lu, CMOS %lu", t, n);
	return PASS;
}

static NOINLINE enum result t_mem_size(char *why, size_t size)
{
	unsigned long m = pv_mem_size();

	kprintf("# mem_size %s: %lu bytes, boot information %lu bytes\n",
		pvpatch_mode_name(mode_at(t_mem_size, PVPATCH_OP_MEM_SIZE)), m, boot.mem_bytes);
	CHECK(m == boot.mem_bytes, "mem_size %lu, boot information %lu", m, boot.mem_bytes);
	return PASS;
}

/* --- the patcher itself ----------------------------------------------------- */
static NOINLINE enum result t_report(char *why, size_t size)
{
	unsigned int total = 0;

	for (unsigned int m = 0; m < PVPATCH_NR_MODES; m++)
		total += neg.report.mode[m];
	CHECK(neg.report.invalid == 0, "%u site records refused", neg.report.invalid);
	CHECK(total == neg.report.sites, "modes add up to %u of %u sites", total, neg.report.sites);
	return PASS;
}

/* The target of the negative test: pvboot asks for neg_read_cr3+0:nop,
 * which read_cr3 may not take (its result would be garbage). */
NOINLINE unsigned long neg_read_cr3(void)
{
	return pv_read_cr3();
}
KSYM(neg_read_cr3);

static NOINLINE enum result t_bad_override(char *why, size_t size)
{
	const struct pvpatch_site *s = site_find(neg_read_cr3, PVPATCH_OP_READ_CR3);
	bool rejected = false;

	if (!cmd.expect_bad_override) {
		WHY("SKIP no bad override requested (guest.expect_bad_override)");
		return SKIP;
	}
	for (unsigned int k = 0; k < neg.report.n_rejects && k < PVPATCH_MAX_REJECTS; k++)
		if (neg.report.rejects[k].site == (uintptr_t)pvpatch_site_addr(s) ||
		    neg.report.rejects[k].reason == PVPATCH_E_OVERRIDE)
			rejected = true;
	CHECK(rejected, "the bad override was not reported");
	CHECK(pv.state[s - pv.sites].mode == PVPATCH_MODE_NATIVE, "the site is not native");
	CHECK(neg_read_cr3() == raw_cr3(), "the site does not read CR3");
	return PASS;
}

static const struct test tests[] = {
	{ "irq_disable clears IF", t_irq_disable },
	{ "irq_enable sets IF", t_irq_enable },
	{ "save_fl and restore_fl carry IF", t_save_restore_fl },
	{ "halt wakes on an interrupt", t_halt },
	{ "safe_halt enables interrupts and halts", t_safe_halt },
	{ "cpuid equals the raw instruction", t_cpuid },
	{ "read_cr0 write_cr0 clts", t_cr0_clts },
	{ "read_cr4 write_cr4", t_cr4 },
	{ "read_cr8 write_cr8", t_cr8 },
	{ "rdmsr wrmsr", t_msr },
	{ "wbinvd", t_wbinvd },
	{ "read_tsc", t_read_tsc },
	{ "io_delay", t_io_delay },
	{ "flush_tlb_one drops the old translation", t_flush_tlb_one },
	{ "flush_tlb_local drops the old translation", t_flush_tlb_local },
	{ "read_cr3 and write_cr3 reload the page tables", t_cr3 },
	{ "set_pte maps the new page", t_set_pte },
	{ "read_cr2 is the faulting address", t_read_cr2 },
	{ "load_idt load_gdt", t_load_idt_gdt },
	{ "apic_eoi acknowledges the APIC timer", t_apic_eoi },
	{ "send_ipi delivers a self IPI", t_send_ipi },
	{ "kick_cpu delivers a kick", t_kick_cpu },
	{ "sched_yield", t_sched_yield },
	{ "calibrate_tsc within 1% of the PIT", t_calibrate_tsc },
	{ "get_wallclock matches the CMOS clock", t_get_wallclock },
	{ "mem_size equals the boot information", t_mem_size },
	{ "patch report is consistent", t_report },
	{ "bad override refused, site stays native", t_bad_override },
};

static unsigned int failed;

unsigned int ktap_failures(void)
{
	return failed;
}

void ktap_run(void)
{
	unsigned int n = sizeof(tests) / sizeof(tests[0]);

	paging_init();
	kprintf("KTAP version 1\n1..%u\n", n);
	for (unsigned int i = 0; i < n; i++) {
		char why[160] = "";
		enum result r = tests[i].fn(why, sizeof(why));

		if (r == PASS) {
			kprintf("ok %u %s\n", i + 1, tests[i].name);
		} else if (r == SKIP) {
			const char *w = !strncmp(why, "SKIP ", 5) ? why + 5 : why;

			kprintf("ok %u %s # SKIP %s\n", i + 1, tests[i].name, w);
		} else {
			kprintf("# %s\nnot ok %u %s\n", why, i + 1, tests[i].name);
			failed++;
		}
	}
	asm volatile("sti");
}
