/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* What the parts of the guest kernel share. */
#ifndef GUEST_H
#define GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <asm/pvpatch.h>
#include <asm/pvpatch-boot.h>

/* --- boot information (multiboot) -------------------------------------- */
struct boot_info {
	uint64_t mem_bytes;	/* RAM per the boot loader: (1 MiB + mem_upper) */
	const char *cmdline;
};
extern struct boot_info boot;

/* --- the hypervisor, as negotiated at boot (pvsetup.c) ---------------- */
extern struct pvpatch_negotiation neg;
const char *hv_name(void);	/* "none", "tcg", "kvm" or "other" */

/*
 * KVM PV EOI (backends.c): the guest registers a word with
 * MSR_KVM_PV_EOI_EN; when KVM injects an interrupt that may be acknowledged
 * that way it sets bit 0, and clearing it is the EOI, without an exit.
 */
#define MSR_KVM_PV_EOI_EN		0x4b564d04u
struct pv_eoi_stats {
	volatile uint32_t word __attribute__((aligned(8)));	/* registered with KVM */
	bool enabled;
	unsigned long fast;	/* EOIs done by clearing the flag */
	unsigned long apic;	/* EOIs written to the APIC */
};
extern struct pv_eoi_stats pv_eoi;
void pv_eoi_enable(void);

/* --- the guest's own command-line words (cmdline.c) -------------------- */
struct cmdline {
	unsigned int bench;		/* bench=N: iterations (0: no benchmarks) */
	bool expect_bad_override;	/* a test forces a bad override */
	bool dump_sites;		/* guest.dump_sites */
	unsigned int repatch_rounds;	/* guest.repatch_rounds=N (with pvpatch.repatch=) */
	bool repatch_unsafe;		/* guest.repatch_unsafe: no quiescence check */
	bool repatch_host;		/* guest.repatch_host: re-patch on the host's NMI */
};
extern struct cmdline cmd;
void cmdline_parse(const char *s);

/* --- patching (pvsetup.c) ------------------------------------------------ */
extern struct pvpatch pv;
void pvsetup(void);
void pv_renegotiate(struct pvpatch_negotiation *n, const char *profile);
void dump_sites(const char *kind);
void report_modes(const char *when);
void site_describe(uint64_t rip, char *buf, size_t size);
const struct pvpatch_site *site_find(const void *fn, unsigned int op);
unsigned int sites_of_op(unsigned int op, unsigned int mode);

/* A site of op runs a KVM hypercall (vmcall hangs under this machine's KVM). */
bool op_is_kvm_hypercall(unsigned int op);

/* --- the native code of call-backed ops (native.c) ------------------------ */
unsigned long native_calibrate_tsc(void);
unsigned long native_get_wallclock(void);
unsigned long native_mem_size(void);
uint64_t tsc_hz_pit(void);

/* --- local APIC, timers (apic.c) ----------------------------------------- */
#define APIC_BASE ((volatile uint32_t *)0xfee00000ul)
void apic_init(void);
uint32_t apic_id(void);
void pit_irq_init(void);
extern volatile unsigned long pit_ticks, apic_ticks, kick_ticks;

/* --- a few symbols by name, for FUNC+OFF overrides (section .ksyms) ----- */
struct ksym {
	const char *name;
	const void *addr;
};
#define KSYM(fn) \
	static const struct ksym __ksym_##fn __attribute__((used, section(".ksyms"))) = \
		{ #fn, (const void *)fn }

/* --- the test page tables (tests.c) ------------------------------------- */
extern uint64_t boot_pml4[], boot_pdpt[], boot_pd[];

/* --- tests and benchmarks ------------------------------------------------- */
void ktap_run(void);
unsigned int ktap_failures(void);
void bench_run(unsigned int iterations);
void workload_run(void);
unsigned int workload_asm(void);

#endif
