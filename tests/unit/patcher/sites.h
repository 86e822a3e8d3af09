/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* Call sites the hosted patcher tests patch and execute (sites.c). */
#ifndef PVPATCH_TEST_SITES_H
#define PVPATCH_TEST_SITES_H

#include <stdint.h>

uint64_t site_read_tsc(void);
void site_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
unsigned long site_save_fl(void);
void site_restore_fl(unsigned long flags);
void site_io_delay(void);
void site_write_cr3(unsigned long val);
unsigned long site_write_cr3_live(unsigned long a, unsigned long b, unsigned long c,
				  unsigned long d, unsigned long e, unsigned long f);
unsigned long site_read_cr3(void);
unsigned long site_read_cr3_live(unsigned long a, unsigned long b, unsigned long c);
void site_sched_yield(uint32_t cpu);
uint64_t site_mem_size(void);
void site_send_ipi(void *apic, uint32_t dest, uint32_t icr);
void site_send_ipi_swapped(uint32_t icr, uint32_t dest, void *apic);
void site_set_pte(uint64_t *ptep, uint64_t pte);
void site_rdmsr(uint32_t msr, uint32_t out[2]);
unsigned long site_rdmsr_live(unsigned long a, unsigned long b, unsigned long c,
			      unsigned long d, unsigned long e, unsigned long f);
void site_irq_disable(void);

/* backends-preserve.c */
extern unsigned long pbe_cr3_seen;
extern unsigned int pbe_calls;
extern unsigned long pbe_cpu_seen;
void pbe_write_cr3(unsigned long v);
unsigned long pbe_read_cr3(void);
void pbe_irq_disable(void);
void pbe_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c,
	       uint32_t *d);
void pbe_rdmsr(uint32_t msr, uint32_t *lo, uint32_t *hi);
void pbe_sched_yield(uint32_t cpu);
unsigned long site_sched_yield_live(unsigned long a, unsigned long b, unsigned long c,
				    unsigned long d, unsigned long e, unsigned long f);

/* sites-asm.S: operands in %rbp */
void site_write_cr3_rbp(unsigned long val);
unsigned long site_read_cr3_rbp(void);

/* The native code of the call-backed ops (sites.c). */
extern unsigned long native_mem_size(void);
extern unsigned long native_calibrate_tsc(void);
extern unsigned long native_get_wallclock(void);

/* sites-asm.S: sites with every call-clobbered register dead after them */
void site_write_cr3_dead(unsigned long val);
unsigned long site_save_fl_dead(void);

/* sites-asm.S: poison probes, every register stored to out[] after the site */
unsigned long site_poison_yield(uint64_t out[16], uint32_t cpu);
unsigned long site_poison_save_fl(uint64_t out[16]);

/* sites-asm.S: plain backends with exactly known write sets, and probes
 * keeping every caller-saved register live across their site */
void abe_write_cr3_r10(unsigned long val);	/* writes r10 */
unsigned long abe_save_fl_rax(void);		/* writes rax: 0x1246 */
extern unsigned long abe_seen;
void site_probe_write_cr3(uint64_t out[16], unsigned long val);
void site_probe_save_fl(uint64_t out[16]);

#endif
