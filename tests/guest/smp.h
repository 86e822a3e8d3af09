/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* The guest's CPUs (smp.c) and the live re-patch it drives (repatch.c). */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include <stdbool.h>
#include <stdint.h>
#include <asm/pvpatch.h>
#include "idt.h"

#define MAX_CPUS	4
#define CPU_STACK_SIZE	16384

struct cpu {
	unsigned int index;
	uint32_t apic_id;
	uintptr_t stack_top;
	volatile int online;
	volatile unsigned long kicks;		/* VEC_KICK interrupts taken */
	void (*volatile call)(void);		/* smp_call(): run on this CPU */
	volatile unsigned long calls_done;
	/* the rendezvous (NMI) */
	unsigned int stop_gen;			/* last stop answered */
	struct pvpatch_cpu_context ctx;		/* where that NMI interrupted it */
	uint64_t gdt[3] __attribute__((aligned(8)));
};

extern struct cpu cpus[MAX_CPUS];
extern unsigned int ncpus;
extern volatile unsigned long host_nmis;	/* NMIs that were not a stop: the host's */

void smp_boot(void);
struct cpu *this_cpu(void);
/* Run fn on CPU cpu (from its call IPI) and wait for it; false: it did not. */
bool smp_call(unsigned int cpu, void (*fn)(void));
void smp_nmi(struct frame *f);

/* The rendezvous hooks for pvpatch_repatch(). */
extern const struct pvpatch_rendezvous smp_rendezvous_proto;
extern volatile unsigned long repatch_gen;	/* re-patches written (bumped while stopped) */
extern uint64_t rv_stop_cost, rv_write_cost;	/* last stop: TSC in stop(), stop to release */

/* repatch.c: the schedule, the host trigger, the stress workload. */
void repatch_run(void);
void repatch_ap_work(struct cpu *c);
extern volatile int stress_on;
/* The CALL backends that count (backends.c), per CPU index. */
extern volatile unsigned long be_io_delay_calls[MAX_CPUS], be_sched_yield_calls[MAX_CPUS];

#endif
