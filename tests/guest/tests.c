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
#include "raw.h"
#include "smp.h"

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

/* The mode the first site of op in fn has now. */
static unsigned int mode_at(const void *fn, unsigned int op)
{
	const struct pvpatch_site *s = site_find(fn, op);

	return s ? pv.state[s - pv.sites].mode : PVPATCH_MODE_NATIVE;
}

/* A site holding a KVM hypercall: it must contain `mov $nr, %eax` and
 * `vmcall`; its bytes are printed for tools/pvboot to decode.  It is not
 * run: vmcall hangs under this machine's KVM. */
/* A rel32 jmp at p: where it goes. */
static uintptr_t jmp_target(const uint8_t *p)
{
	int32_t rel = (int32_t)(p[1] | p[2] << 8 | p[3] << 16 | (uint32_t)p[4] << 24);

	return (uintptr_t)p + 5 + (intptr_t)rel;
}

/* The code an INLINE site runs: the site itself, or, when the template did
 * not fit the site, the out-of-line stub it jumps to, up to and including
 * the stub's jmp back to the site's end. */
static const uint8_t *inline_code(const struct pvpatch_site *s, unsigned int *len)
{
	const uint8_t *p = pvpatch_site_addr(s);
	uintptr_t end = (uintptr_t)p + s->site_len;

	*len = s->site_len;
	if (s->site_len < 5 || p[0] != 0xe9 || jmp_target(p) == end)
		return p;
	p = (const uint8_t *)jmp_target(p);
	for (unsigned int i = 0; i < 128; i++) {
		if (p[i] == 0xe9 && jmp_target(p + i) == end) {
			*len = i + 5;
			break;
		}
	}
	return p;
}

static bool is_kvm_hypercall(const void *fn, unsigned int op, char *why, size_t size,
			     uint32_t nr, enum result *res)
{
	const struct pvpatch_site *s = site_find(fn, op);
	const struct pvpatch_template *t = neg.policy.op[op].tmpl;
	const uint8_t *p;
	unsigned int len;
	bool vmcall = false, nr_ok = false;

	if (!s || pv.state[s - pv.sites].mode != PVPATCH_MODE_INLINE || !op_is_kvm_hypercall(op))
		return false;
	p = inline_code(s, &len);
	kprintf("# pvpatch-fitted: {\"op\": \"%s\", \"nr\": %u, \"bytes\": \"",
		pvpatch_op_table[op].name, nr);
	for (unsigned int i = 0; i < len; i++) {
		kprintf("%02x", p[i]);
		if (i + 3 <= len && p[i] == 0x0f && p[i + 1] == 0x01 && p[i + 2] == 0xc1)
			vmcall = true;
		if (i + 5 <= len && p[i] == 0xb8 &&
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
	/* Outputs a caller does not want: NULL (a kernel's cpuid_eax()). */
	raw_cpuid(0, raw);
	r[0] = 0;
	pv_cpuid(0, 0, &r[0], NULL, NULL, NULL);
	CHECK(r[0] == raw[0], "cpuid(0) eax alone: %x, raw %x", r[0], raw[0]);
	pv_cpuid(0, 0, NULL, &r[1], NULL, &r[3]);
	CHECK(r[1] == raw[1] && r[3] == raw[3], "cpuid(0) ebx, edx alone: %x %x, raw %x %x",
	      r[1], r[3], raw[1], raw[3]);
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
	/* The u64 forms, on the same op. */
	pv_wrmsrq(msr, 0x00007ffe12345678ull);
	asm volatile("rdmsr" : "=a"(rlo), "=d"(rhi) : "c"(msr));
	CHECK(rlo == 0x12345678 && rhi == 0x7ffe, "wrmsrq: MSR is %x:%x", rhi, rlo);
	CHECK(pv_rdmsrq(msr) == 0x00007ffe12345678ull, "rdmsrq 0x%lx", pv_rdmsrq(msr));
	pv_wrmsrq(msr, 0);
	return PASS;
}

#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
static volatile uint64_t gs_area[2] = { 0x1122334455667788ull, 0x99 };

static NOINLINE enum result t_gs_base(char *why, size_t size)
{
	uint64_t v;

	pv_write_gs_baseq((uintptr_t)gs_area);
	asm volatile("mov %%gs:0, %0" : "=r"(v));
	CHECK(raw_rdmsr(MSR_GS_BASE) == (uintptr_t)gs_area, "write_gs_base: GS base 0x%lx",
	      raw_rdmsr(MSR_GS_BASE));
	CHECK(v == gs_area[0], "%%gs:0 reads 0x%lx, not 0x%lx", v, gs_area[0]);
	pv_write_gs_base(0, 0);
	CHECK(raw_rdmsr(MSR_GS_BASE) == 0, "write_gs_base(0, 0) left 0x%lx", raw_rdmsr(MSR_GS_BASE));
	pv_write_kernel_gs_baseq(0x00007fff00001000ull);
	CHECK(raw_rdmsr(MSR_KERNEL_GS_BASE) == 0x00007fff00001000ull,
	      "write_kernel_gs_base: KERNEL_GS_BASE 0x%lx", raw_rdmsr(MSR_KERNEL_GS_BASE));
	pv_write_kernel_gs_base(0, 0);
	return PASS;
}

static NOINLINE enum result t_swapgs(char *why, size_t size)
{
	uint64_t a, b;

	asm volatile("cli");
	raw_wrmsr(MSR_GS_BASE, 0x1000);
	raw_wrmsr(MSR_KERNEL_GS_BASE, 0x2000);
	pv_swapgs();
	a = raw_rdmsr(MSR_GS_BASE);
	b = raw_rdmsr(MSR_KERNEL_GS_BASE);
	pv_swapgs();
	CHECK(raw_rdmsr(MSR_GS_BASE) == 0x1000, "second swapgs: GS base 0x%lx", raw_rdmsr(MSR_GS_BASE));
	raw_wrmsr(MSR_GS_BASE, 0);
	raw_wrmsr(MSR_KERNEL_GS_BASE, 0);
	asm volatile("sti");
	CHECK(a == 0x2000 && b == 0x1000, "after swapgs GS base 0x%lx, KERNEL_GS_BASE 0x%lx", a, b);
	return PASS;
}

static unsigned long raw_dr6(void)
{
	unsigned long v;

	asm volatile("mov %%dr6, %0" : "=r"(v));
	return v;
}

static unsigned long raw_dr7(void)
{
	unsigned long v;

	asm volatile("mov %%dr7, %0" : "=r"(v));
	return v;
}

static NOINLINE enum result t_debugreg(char *why, size_t size)
{
	unsigned long dr7 = pv_read_dr7(), dr6 = pv_read_dr6();

	CHECK(dr7 == raw_dr7() && dr6 == raw_dr6(), "read_dr7 0x%lx read_dr6 0x%lx, raw 0x%lx 0x%lx",
	      dr7, dr6, raw_dr7(), raw_dr6());
	/* No breakpoint enabled: LE (bit 8), and B0 in DR6, are only state. */
	pv_write_dr7(0x500);
	CHECK((raw_dr7() & 0x1ff) == 0x100, "write_dr7(0x500): DR7 is 0x%lx", raw_dr7());
	CHECK(pv_read_dr7() == raw_dr7(), "read_dr7 0x%lx, raw 0x%lx", pv_read_dr7(), raw_dr7());
	pv_write_dr6(0xffff0ff1);
	CHECK(raw_dr6() & 1, "write_dr6: B0 not set (DR6 0x%lx)", raw_dr6());
	CHECK(pv_read_dr6() == raw_dr6(), "read_dr6 0x%lx, raw 0x%lx", pv_read_dr6(), raw_dr6());
	pv_write_dr6(0xffff0ff0);
	pv_write_dr7(dr7);
	CHECK(!(raw_dr6() & 1) && raw_dr7() == dr7, "DR6 0x%lx DR7 0x%lx not restored",
	      raw_dr6(), raw_dr7());
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

/* The code a site runs: the site, or under pvpatch.poison the poison stub
 * its jmp goes to (the site's job first, then the poison stores). */
static const uint8_t *site_code(const struct pvpatch_site *s)
{
	const uint8_t *p = pvpatch_site_addr(s);
	uintptr_t t;

	if (!(pv.flags & PVPATCH_F_POISON) || s->site_len < 5 || p[0] != 0xe9)
		return p;
	t = jmp_target(p);
	if (t >= (uintptr_t)pv.thunks && t < (uintptr_t)pv.thunks + pv.thunks_size)
		return (const uint8_t *)t;
	return p;
}

static NOINLINE enum result t_io_delay(char *why, size_t size)
{
	const struct pvpatch_site *s = site_find(t_io_delay, PVPATCH_OP_IO_DELAY);
	const uint8_t *p = site_code(s);
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

/*
 * The CPU a test's op names: another one when there is one (its effect is
 * checked there), else this one.  On another CPU the TLB tests run the op
 * through smp_call(), as a kernel's TLB shootdown does: that CPU first
 * caches TEST_VA -> a, this one points the PTE at b, then that CPU flushes
 * and must see b.
 */
static unsigned int target_cpu(void)
{
	return ncpus > 1 ? 1 : 0;
}

static volatile uint64_t remote_seen;

static void remote_touch(void)
{
	asm volatile("invlpg (%0)" : : "r"(TEST_VA) : "memory");
	remote_seen = *TEST_VA;
}

static void remote_flush_one(void)
{
	pv_flush_tlb_one((void *)TEST_VA);
	remote_seen = *TEST_VA;
}

static void remote_flush_local(void)
{
	pv_flush_tlb_local();
	remote_seen = *TEST_VA;
}

/* On the other CPU: CR4.PGE on, TEST_VA cached as a global translation. */
static unsigned long remote_cr4;

static void remote_pge_touch(void)
{
	remote_cr4 = raw_cr4();
	asm volatile("mov %0, %%cr4" : : "r"(remote_cr4 | 0x80) : "memory");
	asm volatile("invlpg (%0)" : : "r"(TEST_VA) : "memory");
	remote_seen = *TEST_VA;
}

static void remote_flush_global(void)
{
	pv_flush_tlb_global();
	remote_seen = *TEST_VA;
	asm volatile("mov %0, %%cr4" : : "r"(remote_cr4) : "memory");
}

/* TEST_VA -> a cached on CPU t, then the PTE pointing at b. */
static bool remote_map_a_then_b(unsigned int t)
{
	test_pt[0] = (uint64_t)page_a | 3;
	asm volatile("invlpg (%0)" : : "r"(TEST_VA) : "memory");
	if (!smp_call(t, remote_touch) || remote_seen != 0xaaaa)
		return false;
	test_pt[0] = (uint64_t)page_b | 3;
	return true;
}

static NOINLINE enum result t_flush_tlb_one(char *why, size_t size)
{
	unsigned int t = target_cpu();

	map_a_then_b();
	pv_flush_tlb_one((void *)TEST_VA);
	CHECK(*TEST_VA == 0xbbbb, "after flush_tlb_one the old page is still mapped");
	if (t) {
		CHECK(remote_map_a_then_b(t), "CPU %u did not map page a", t);
		CHECK(smp_call(t, remote_flush_one), "CPU %u did not run flush_tlb_one", t);
		CHECK(remote_seen == 0xbbbb, "after flush_tlb_one CPU %u still maps the old page", t);
	}
	return PASS;
}

static NOINLINE enum result t_flush_tlb_local(char *why, size_t size)
{
	unsigned int t = target_cpu();

	map_a_then_b();
	pv_flush_tlb_local();
	CHECK(*TEST_VA == 0xbbbb, "after flush_tlb_local the old page is still mapped");
	if (t) {
		CHECK(remote_map_a_then_b(t), "CPU %u did not map page a", t);
		CHECK(smp_call(t, remote_flush_local), "CPU %u did not run flush_tlb_local", t);
		CHECK(remote_seen == 0xbbbb, "after flush_tlb_local CPU %u still maps the old page", t);
	}
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

static NOINLINE enum result t_flush_tlb_global(char *why, size_t size)
{
	unsigned long cr4 = raw_cr4(), after;

	asm volatile("mov %0, %%cr4" : : "r"(cr4 | 0x80) : "memory");	/* PGE */
	test_pt[0] = (uint64_t)page_a | 0x103;				/* global */
	asm volatile("invlpg (%0)" : : "r"(TEST_VA) : "memory");
	(void)*TEST_VA;
	test_pt[0] = (uint64_t)page_b | 0x103;
	pv_flush_tlb_global();
	after = raw_cr4();
	asm volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
	CHECK(*TEST_VA == 0xbbbb, "after flush_tlb_global the old global page is still mapped");
	CHECK(after == (cr4 | 0x80), "flush_tlb_global left CR4 0x%lx, was 0x%lx", after, cr4 | 0x80);
	if (target_cpu()) {
		unsigned int t = target_cpu();

		test_pt[0] = (uint64_t)page_a | 0x103;
		CHECK(smp_call(t, remote_pge_touch) && remote_seen == 0xaaaa,
		      "CPU %u did not map the global page a", t);
		test_pt[0] = (uint64_t)page_b | 0x103;
		CHECK(smp_call(t, remote_flush_global), "CPU %u did not run flush_tlb_global", t);
		CHECK(remote_seen == 0xbbbb, "after flush_tlb_global CPU %u still maps the old page", t);
	}
	return PASS;
}

static NOINLINE enum result t_write_cr2(char *why, size_t size)
{
	unsigned long v;

	pv_write_cr2(0x12345000);
	asm volatile("mov %%cr2, %0" : "=r"(v));
	CHECK(v == 0x12345000, "write_cr2: CR2 is 0x%lx", v);
	CHECK(pv_read_cr2() == 0x12345000, "read_cr2 after write_cr2: 0x%lx", pv_read_cr2());
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

/* A GDT of our own: the boot GDT's code and data, a 64-bit TSS at 0x18
 * and an LDT at 0x28 (system descriptors: 16 bytes each). */
static uint64_t test_gdt[7] __attribute__((aligned(16)));
static uint8_t test_tss[104] __attribute__((aligned(16)));
static uint64_t test_ldt[1];

static void sys_desc(uint64_t *d, const void *base, uint32_t limit, unsigned int type)
{
	uint64_t b = (uintptr_t)base;

	d[0] = (limit & 0xffff) | (b & 0xffffff) << 16 | (uint64_t)type << 40 | 1ull << 47 |
	       (uint64_t)(limit >> 16 & 0xf) << 48 | (b >> 24 & 0xff) << 56;
	d[1] = b >> 32;
}

static NOINLINE enum result t_tr_ldt(char *why, size_t size)
{
	struct desc_ptr boot_gdt, mine;
	uint16_t ldt;
	uint32_t tr;

	asm volatile("sgdt %0" : "=m"(boot_gdt));
	memcpy(test_gdt, (const void *)boot_gdt.base, 3 * 8);
	sys_desc(&test_gdt[3], test_tss, sizeof(test_tss) - 1, 9);	/* available TSS */
	sys_desc(&test_gdt[5], test_ldt, sizeof(test_ldt) - 1, 2);	/* LDT */
	mine.limit = sizeof(test_gdt) - 1;
	mine.base = (uintptr_t)test_gdt;
	pv_load_gdt((const volatile struct desc_ptr *)&mine);
	pv_load_tr(0x18);
	tr = pv_store_tr();
	CHECK(tr == 0x18, "store_tr after load_tr(0x18): 0x%x", tr);
	asm volatile("str %0" : "=r"(tr));
	CHECK(tr == 0x18, "str after load_tr(0x18): 0x%x", tr);
	CHECK((test_gdt[3] >> 40 & 0xf) == 0xb, "the TSS descriptor is not busy (type %lu)",
	      test_gdt[3] >> 40 & 0xf);
	pv_load_ldt(0x28);
	asm volatile("sldt %0" : "=r"(ldt));
	CHECK(ldt == 0x28, "sldt after load_ldt(0x28): 0x%x", ldt);
	pv_load_ldt(0);
	asm volatile("sldt %0" : "=r"(ldt));
	CHECK(ldt == 0, "sldt after load_ldt(0): 0x%x", ldt);
	pv_load_gdt(&boot_gdt);
	return PASS;
}

/* As Linux's native_load_gs_index(): the selector changes, the active GS
 * base (the kernel's) does not; the user one is the descriptor's base. */
static NOINLINE enum result t_load_gs_index(char *why, size_t size)
{
	uint16_t gs;
	uint64_t base, kbase;

	asm volatile("cli");
	raw_wrmsr(MSR_GS_BASE, 0x3000);
	raw_wrmsr(MSR_KERNEL_GS_BASE, 0x4000);
	pv_load_gs_index(0x10);
	asm volatile("mov %%gs, %0" : "=r"(gs));
	base = raw_rdmsr(MSR_GS_BASE);
	kbase = raw_rdmsr(MSR_KERNEL_GS_BASE);
	pv_load_gs_index(0);
	raw_wrmsr(MSR_GS_BASE, 0);
	raw_wrmsr(MSR_KERNEL_GS_BASE, 0);
	asm volatile("sti");
	CHECK(gs == 0x10, "%%gs is 0x%x after load_gs_index(0x10)", gs);
	CHECK(base == 0x3000, "the active GS base changed: 0x%lx", base);
	CHECK(kbase == 0, "the user GS base is 0x%lx, not the descriptor's 0", kbase);
	return PASS;
}

/* --- port I/O on devices QEMU has: CMOS NVRAM, PCI configuration, fw_cfg -- */
#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define PCI_ADDR 0xcf8
#define PCI_DATA 0xcfc
#define FW_CFG_SEL 0x510
#define FW_CFG_DATA 0x511

static uint8_t cmos_raw(uint8_t reg)
{
	outb(CMOS_INDEX, reg);
	return inb(CMOS_DATA);
}

static NOINLINE enum result t_port_io(char *why, size_t size)
{
	uint32_t id;
	uint8_t b;

	asm volatile("cli");
	pv_outb(CMOS_INDEX, 0x40);	/* an NVRAM byte (NMIs stay enabled) */
	pv_outb(CMOS_DATA, 0x5a);
	b = cmos_raw(0x40);
	CHECK(b == 0x5a, "outb: CMOS 0x40 reads 0x%x, not 0x5a", b);
	outb(CMOS_INDEX, 0x40);
	outb(CMOS_DATA, 0xa5);
	pv_outb(CMOS_INDEX, 0x40);
	b = pv_inb(CMOS_DATA);
	CHECK(b == 0xa5, "inb: CMOS 0x40 reads 0x%x, not 0xa5", b);

	pv_outl(PCI_ADDR, 0x80000000u);	/* bus 0, device 0, register 0 */
	CHECK(inl(PCI_ADDR) == 0x80000000u, "outl: PCI address 0x%x", inl(PCI_ADDR));
	CHECK(pv_inl(PCI_ADDR) == 0x80000000u, "inl: PCI address 0x%x", pv_inl(PCI_ADDR));
	id = inl(PCI_DATA);
	CHECK(id != 0xffffffffu && pv_inl(PCI_DATA) == id, "inl: host bridge id 0x%x, raw 0x%x",
	      pv_inl(PCI_DATA), id);
	CHECK(pv_inw(PCI_DATA) == (id & 0xffff), "inw: vendor 0x%x, raw 0x%x", pv_inw(PCI_DATA),
	      id & 0xffff);

	outw(FW_CFG_SEL, 1);		/* FW_CFG_ID, then the signature key */
	pv_outw(FW_CFG_SEL, 0);
	b = inb(FW_CFG_DATA);
	asm volatile("sti");
	CHECK(b == 'Q', "outw: fw_cfg key 0 starts with 0x%x, not 'Q'", b);
	return PASS;
}

static NOINLINE enum result t_string_io(char *why, size_t size)
{
	char sig[5] = "";
	uint32_t id, l[3] = { 0 }, addr[2] = { 0x80000000u, 0x80000008u };
	uint16_t w[3] = { 0 }, key = 0;
	static const volatile uint8_t nv[2] = { 0x11, 0x22 };
	uint8_t b;

	asm volatile("cli");
	outw(FW_CFG_SEL, 0);		/* the signature: "QEMU" */
	pv_insb(FW_CFG_DATA, sig, 4);
	outl(PCI_ADDR, 0x80000000u);
	id = inl(PCI_DATA);
	pv_insl(PCI_DATA, l, 3);
	pv_insw(PCI_DATA, w, 3);
	pv_outsl(PCI_ADDR, addr, 2);	/* the last one stays */
	CHECK(inl(PCI_ADDR) == addr[1], "outsl: PCI address 0x%x", inl(PCI_ADDR));
	outb(CMOS_INDEX, 0x41);
	pv_outsb(CMOS_DATA, nv, 2);
	b = cmos_raw(0x41);
	outw(FW_CFG_SEL, 1);
	pv_outsw(FW_CFG_SEL, &key, 1);
	sig[4] = (char)inb(FW_CFG_DATA);	/* 'Q' again */
	asm volatile("sti");
	CHECK(!memcmp(sig, "QEMUQ", 5), "insb/outsw: fw_cfg signature '%c%c%c%c' then '%c'",
	      sig[0], sig[1], sig[2], sig[3], sig[4]);
	for (int i = 0; i < 3; i++) {
		CHECK(l[i] == id, "insl: word %d is 0x%x, not 0x%x", i, l[i], id);
		CHECK(w[i] == (id & 0xffff), "insw: word %d is 0x%x, not 0x%x", i, w[i], id & 0xffff);
	}
	CHECK(b == 0x22, "outsb: CMOS 0x41 reads 0x%x, not 0x22", b);
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

/* The IPI tests send to target_cpu() and count the kicks it took. */
static NOINLINE enum result t_send_ipi(char *why, size_t size)
{
	struct cpu *c = &cpus[target_cpu()];
	unsigned long t = c->kicks;
	enum result r;

	if (is_kvm_hypercall(t_send_ipi, PVPATCH_OP_SEND_IPI, why, size, 10, &r))
		return r;
	asm volatile("sti");
	pv_send_ipi((void *)APIC_BASE, c->apic_id << 24, 0x4000 | VEC_KICK);
	CHECK(wait_ticks(&c->kicks, t), "IPI not delivered to CPU %u", c->index);
	return PASS;
}

static NOINLINE enum result t_kick_cpu(char *why, size_t size)
{
	struct cpu *c = &cpus[target_cpu()];
	unsigned long t = c->kicks;
	enum result r;

	if (is_kvm_hypercall(t_kick_cpu, PVPATCH_OP_KICK_CPU, why, size, 5, &r))
		return r;
	asm volatile("sti");
	pv_kick_cpu((void *)APIC_BASE, c->apic_id << 24);
	CHECK(wait_ticks(&c->kicks, t), "kick not delivered to CPU %u", c->index);
	return PASS;
}

/* A lock another CPU holds: this one waits, yielding to the holder by name,
 * until the holder (which runs holder_release() from its call IPI) lets go. */
static volatile uint32_t yield_lock;

static void holder_release(void)
{
	for (unsigned int i = 0; i < 100000; i++)
		asm volatile("pause");
	__atomic_store_n(&yield_lock, 0, __ATOMIC_RELEASE);
}

static NOINLINE enum result t_sched_yield(char *why, size_t size)
{
	struct cpu *c = &cpus[target_cpu()];
	unsigned long done = c->calls_done, n = 0;
	enum result r;

	if (is_kvm_hypercall(t_sched_yield, PVPATCH_OP_SCHED_YIELD, why, size, 11, &r))
		return r;
	if (!c->index) {
		pv_sched_yield(apic_id());
		return PASS;
	}
	yield_lock = 1;
	c->call = holder_release;
	pv_send_ipi((void *)APIC_BASE, c->apic_id << 24, 0x4000 | VEC_CALL);
	while (__atomic_load_n(&yield_lock, __ATOMIC_ACQUIRE) && n++ < 400000000ul)
		pv_sched_yield(c->apic_id);
	CHECK(!yield_lock, "the lock CPU %u held was never released", c->index);
	while (c->calls_done == done)
		asm volatile("pause");
	return PASS;
}

static NOINLINE enum result t_vcpu_is_preempted(char *why, size_t size)
{
	uint32_t p = pv_vcpu_is_preempted(apic_id());

	CHECK(p == 0, "the running vCPU is reported preempted (%u)", p);
	return PASS;
}

/* --- time and memory ----------------------------------------------------- */
/* Both sides may be PIT calibrations, which a busy host (a preempted vCPU
 * in a PIT window) can skew by percents: up to three tries, each printed
 * (eight with several CPUs: multi-threaded TCG's vCPU threads share the
 * host's cores with each other, and its TSC is the host's, not -icount's:
 * there two PIT calibrations of a loaded host agree within 10%, not 1%). */
static NOINLINE enum result t_calibrate_tsc(char *why, size_t size)
{
	uint64_t hz = 0, pit = 0, diff = 0;
	unsigned int pct = ncpus > 1 && !strcmp(hv_name(), "tcg") ? 10 : 1;

	for (int try = 0; try < (ncpus > 1 ? 8 : 3); try++) {
		hz = pv_calibrate_tsc();
		pit = tsc_hz_pit();
		diff = hz > pit ? hz - pit : pit - hz;
		kprintf("# calibrate_tsc %s: %lu Hz, PIT calibration %lu Hz\n",
			pvpatch_mode_name(mode_at(t_calibrate_tsc, PVPATCH_OP_CALIBRATE_TSC)), hz, pit);
		if (hz > 0 && diff * 100 <= pit * pct)
			break;
	}
	CHECK(hz > 0, "calibrate_tsc returned 0");
	CHECK(diff * 100 <= pit * pct, "calibrate_tsc %lu Hz is not within %u%% of the PIT's %lu Hz",
	      hz, pct, pit);
	return PASS;
}

static NOINLINE enum result t_get_wallclock(char *why, size_t size)
{
	unsigned long t = pv_get_wallclock(), n = native_get_wallclock();

	CHECK(t > 1577836800ul, "wall clock %lu is before 2020", t);
	CHECK(t + 2 >= n && n + 2 >= t, "wall clock %lu, CMOS %lu", t, n);
	return PASS;
}

static NOINLINE enum result t_steal_clock(char *why, size_t size)
{
	uint64_t ns = pv_steal_clock(apic_id());

	CHECK(ns == 0, "steal time %lu ns with no steal-time area registered", ns);
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
	{ "write_gs_base reaches gs:0, write_kernel_gs_base", t_gs_base },
	{ "swapgs exchanges the GS bases", t_swapgs },
	{ "read_dr6 write_dr6 read_dr7 write_dr7", t_debugreg },
	{ "io_delay", t_io_delay },
	{ "flush_tlb_one drops the old translation, here and there", t_flush_tlb_one },
	{ "flush_tlb_local drops the old translation, here and there", t_flush_tlb_local },
	{ "read_cr3 and write_cr3 reload the page tables", t_cr3 },
	{ "set_pte maps the new page", t_set_pte },
	{ "flush_tlb_global drops a global translation, here and there", t_flush_tlb_global },
	{ "write_cr2", t_write_cr2 },
	{ "read_cr2 is the faulting address", t_read_cr2 },
	{ "load_idt load_gdt", t_load_idt_gdt },
	{ "load_tr store_tr load_ldt", t_tr_ldt },
	{ "load_gs_index keeps the kernel GS base", t_load_gs_index },
	{ "outb inb inl inw outl outw on CMOS, PCI and fw_cfg", t_port_io },
	{ "insb insw insl outsb outsw outsl", t_string_io },
	{ "apic_eoi acknowledges the APIC timer", t_apic_eoi },
	{ "send_ipi delivers an IPI to the CPU named", t_send_ipi },
	{ "kick_cpu delivers a kick to the CPU named", t_kick_cpu },
	{ "sched_yield to the CPU holding a lock", t_sched_yield },
	{ "vcpu_is_preempted is false for this vCPU", t_vcpu_is_preempted },
	{ "calibrate_tsc within 1% of the PIT", t_calibrate_tsc },
	{ "get_wallclock matches the CMOS clock", t_get_wallclock },
	{ "steal_clock is 0 without steal time", t_steal_clock },
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
