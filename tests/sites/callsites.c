// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Many call sites of every op, in functions whose register pressure differs,
 * so that the compiler allocates different registers at different sites.
 * Built at -O0, -O2 and -Os with the framework headers (and once without
 * them); tools/pvsites must verify every site.  Never executed.
 */
#include <stddef.h>
#include <asm/pvops-gen.h>

/* Parameters exist to vary register allocation, not all are used. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

volatile unsigned long sink[8];

#define A6 unsigned long a, unsigned long b, unsigned long c, \
	   unsigned long d, unsigned long e, unsigned long f

/* Ops with one compiler-chosen input: the argument comes from each
 * parameter register, from an expression, and under register pressure. */
#define IN1(op, T)							\
	void op##_p1(A6) { pv_##op((T)a); sink[0] = b; }		\
	void op##_p2(A6) { pv_##op((T)b); sink[0] = a; }		\
	void op##_p3(A6) { pv_##op((T)c); }				\
	void op##_p4(A6) { pv_##op((T)d); }				\
	void op##_p5(A6) { pv_##op((T)e); }				\
	void op##_p6(A6) { pv_##op((T)f); }				\
	void op##_x(A6) { pv_##op((T)(a * b + c)); sink[1] = d ^ e ^ f; } \
	void op##_live(A6)						\
	{								\
		unsigned long x = a * b, y = c * d, z = e * f, w = a ^ f; \
		pv_##op((T)(x + y));					\
		sink[0] = x; sink[1] = y; sink[2] = z; sink[3] = w;	\
		sink[4] = a; sink[5] = b; sink[6] = c; sink[7] = d + e;	\
	}

/* Ops with one compiler-chosen output. */
#define OUT1(op)							\
	unsigned long op##_r(void) { return pv_##op(); }		\
	void op##_s(A6) { sink[0] = pv_##op() + a; }			\
	unsigned long op##_two(A6) { return pv_##op() * b + pv_##op() * c; } \
	void op##_live(A6)						\
	{								\
		unsigned long x = a * b, y = c * d, z = e * f;		\
		unsigned long v = pv_##op();				\
		sink[0] = x; sink[1] = y; sink[2] = z; sink[3] = v;	\
		sink[4] = a; sink[5] = b; sink[6] = c; sink[7] = d + e; \
	}

/* Ops with neither (or only pinned) operands. */
#define PLAIN(op)							\
	void op##_1(void) { pv_##op(); }				\
	void op##_2(A6) { sink[0] = a; pv_##op(); sink[1] = b; pv_##op(); }

PLAIN(irq_disable)
PLAIN(irq_enable)
PLAIN(safe_halt)
PLAIN(halt)
PLAIN(wbinvd)
PLAIN(io_delay)
PLAIN(flush_tlb_local)
PLAIN(clts)
PLAIN(swapgs)
PLAIN(flush_tlb_global)

OUT1(save_fl)
OUT1(read_cr0)
OUT1(read_cr2)
OUT1(read_cr3)
OUT1(read_cr4)
OUT1(read_cr8)
OUT1(calibrate_tsc)
OUT1(get_wallclock)
OUT1(mem_size)
OUT1(store_tr)
OUT1(read_dr6)
OUT1(read_dr7)

IN1(restore_fl, unsigned long)
IN1(write_cr0, unsigned long)
IN1(write_cr3, unsigned long)
IN1(write_cr4, unsigned long)
IN1(write_cr8, unsigned long)
IN1(flush_tlb_one, void *)
IN1(apic_eoi, void *)
IN1(load_idt, void *)
IN1(load_gdt, void *)
IN1(sched_yield, uint32_t)
IN1(load_tr, uint16_t)
IN1(load_ldt, uint16_t)
IN1(load_gs_index, uint32_t)
IN1(write_dr6, unsigned long)
IN1(write_dr7, unsigned long)
IN1(write_cr2, unsigned long)

/* Several results live at once: store_tr's output lands in more registers. */
unsigned long store_tr_many(A6)
{
	unsigned long x = a * b, y = c * d;
	uint32_t t0 = pv_store_tr(), t1 = pv_store_tr(), t2 = pv_store_tr();

	sink[0] = x; sink[1] = y; sink[2] = e; sink[3] = f;
	return (unsigned long)t0 * t1 * t2 + x * y;
}

/* One compiler-chosen input and one output. */
unsigned long preempted_1(A6) { return pv_vcpu_is_preempted((uint32_t)a) + b; }
void preempted_2(A6) { sink[0] = pv_vcpu_is_preempted((uint32_t)(c * d)); sink[1] = a ^ f; }
unsigned long preempted_3(A6)
{
	unsigned long x = a * b, y = c * d;
	uint32_t p0 = pv_vcpu_is_preempted((uint32_t)e), p1 = pv_vcpu_is_preempted((uint32_t)f);
	uint32_t p2 = pv_vcpu_is_preempted((uint32_t)x);

	sink[0] = x; sink[1] = y; sink[2] = e; sink[3] = f;
	return (unsigned long)p0 * p1 * p2 + x * y;
}
unsigned long steal_3(A6)
{
	unsigned long x = a * b, y = c * d;
	uint64_t s0 = pv_steal_clock((uint32_t)e), s1 = pv_steal_clock((uint32_t)f);
	uint64_t s2 = pv_steal_clock((uint32_t)x);

	sink[0] = x; sink[1] = y; sink[2] = e; sink[3] = f;
	return s0 * s1 * s2 + x * y;
}
unsigned long steal_1(A6) { return pv_steal_clock((uint32_t)f) + pv_steal_clock((uint32_t)e); }
void steal_2(A6)
{
	unsigned long x = a * b, y = c * d, z = e * f;

	sink[0] = pv_steal_clock((uint32_t)(x + y)); sink[1] = x; sink[2] = y; sink[3] = z;
}

/* Interrupt save/restore around a critical section, as a kernel does. */
void irq_section(A6)
{
	unsigned long fl = pv_save_fl();

	pv_irq_disable();
	sink[0] = a + b + c + d + e + f;
	pv_restore_fl(fl);
}

/* Two compiler-chosen inputs. */
void set_pte_1(A6) { pv_set_pte((void *)a, b); }
void set_pte_2(A6) { pv_set_pte((void *)f, e); sink[0] = a; }
void set_pte_3(A6) { pv_set_pte((void *)(a + 8 * b), c | d); sink[1] = e ^ f; }
void set_pte_4(A6)
{
	unsigned long x = a * b, y = c * d, z = e * f;

	pv_set_pte((void *)(x + 8), y ^ z);
	sink[0] = x; sink[1] = y; sink[2] = z; sink[3] = a; sink[4] = b;
	sink[5] = c; sink[6] = d; sink[7] = e + f;
}

void kick_cpu_1(A6) { pv_kick_cpu((void *)a, (uint32_t)b); }
void kick_cpu_2(A6) { pv_kick_cpu((void *)e, (uint32_t)f << 24); sink[0] = c; }
void kick_cpu_3(A6)
{
	unsigned long x = a * b, y = c * d, z = e * f;

	pv_kick_cpu((void *)(x + 0xfee00000), (uint32_t)(y << 24));
	sink[0] = x; sink[1] = y; sink[2] = z; sink[3] = a; sink[4] = b;
	sink[5] = c; sink[6] = d + e + f;
}

/* Three compiler-chosen inputs. */
void send_ipi_1(A6) { pv_send_ipi((void *)a, (uint32_t)b, (uint32_t)c); }
void send_ipi_2(A6) { pv_send_ipi((void *)f, (uint32_t)e, (uint32_t)d); sink[0] = a; }
void send_ipi_3(A6)
{
	unsigned long x = a * b, y = c * d, z = e * f;

	pv_send_ipi((void *)(x + 0xfee00000), (uint32_t)(y << 24), (uint32_t)z | 0x4000);
	sink[0] = x; sink[1] = y; sink[2] = z; sink[3] = a; sink[4] = b;
	sink[5] = c; sink[6] = d + e + f;
}

/* Pinned operands. */
void cpuid_1(A6)
{
	uint32_t eax, ebx, ecx, edx;

	pv_cpuid((uint32_t)a, (uint32_t)b, &eax, &ebx, &ecx, &edx);
	sink[0] = eax; sink[1] = ebx; sink[2] = ecx; sink[3] = edx;
	pv_cpuid(0x40000000, 0, &eax, &ebx, &ecx, &edx);
	sink[4] = eax + ebx + ecx + edx + c;
}

unsigned long msr_rw(A6)
{
	uint32_t lo, hi;

	pv_rdmsr((uint32_t)a, &lo, &hi);
	pv_wrmsr((uint32_t)b, lo | (uint32_t)c, hi);
	pv_wrmsr(0xc0000080, (uint32_t)d, (uint32_t)(d >> 32));
	return ((unsigned long)hi << 32 | lo) + e + f;
}

/* Port I/O: pinned port and value, string forms with consumed registers. */
unsigned long port_io(A6)
{
	pv_outb((uint16_t)a, (uint8_t)b);
	pv_outw(0x510, (uint16_t)c);
	pv_outl(0xcf8, (uint32_t)d);
	return pv_inb((uint16_t)e) + pv_inw(0x511) + pv_inl((uint16_t)f);
}

void string_io(A6)
{
	static const volatile uint8_t msg[4] = { 1, 2, 3, 4 };
	uint32_t buf[4];

	pv_insb((uint16_t)a, buf, 4);
	pv_insw((uint16_t)a, buf, b);
	pv_insl(0x511, buf, 4);
	sink[0] = buf[0] + buf[3] + c;
	pv_outsb((uint16_t)d, msg, 4);
	pv_outsw((uint16_t)d, buf, e);
	pv_outsl(0x80, buf, 4);
	sink[1] = f;
}

/* GS bases (u64 and hi:lo forms), optional outputs, u64 MSR forms. */
void gs_bases(A6)
{
	pv_write_gs_baseq(a);
	pv_write_kernel_gs_baseq(b + c);
	pv_write_gs_base((uint32_t)d, 0);
	pv_write_kernel_gs_base(0, (uint32_t)e);
	sink[0] = f;
}

unsigned long kernel_forms(A6)
{
	uint32_t eax, edx;

	pv_cpuid((uint32_t)a, 0, &eax, NULL, NULL, &edx);
	pv_cpuid(1, 0, NULL, NULL, NULL, NULL);
	pv_wrmsrq((uint32_t)b, c);
	return eax + edx + pv_rdmsrq((uint32_t)d) + pv_read_tscq();
}

unsigned long tsc_delta(A6)
{
	uint32_t lo0, hi0, lo1, hi1;

	pv_read_tsc(&lo0, &hi0);
	sink[0] = a * b;
	pv_read_tsc(&lo1, &hi1);
	return ((unsigned long)hi1 << 32 | lo1) - ((unsigned long)hi0 << 32 | lo0) + c;
}

/* The native code of the call-backed ops: a kernel provides these (the
 * guest calibrates against the PIT and reads the CMOS clock); this object
 * is never run, so any definition links. */
unsigned long native_calibrate_tsc(void) { return 1000000; }
unsigned long native_get_wallclock(void) { return 0; }
unsigned long native_mem_size(void) { return 128ul << 20; }
