// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Live re-patching in the guest: what makes it re-negotiate and re-patch
 * while its other CPUs run, and the workload that checks them meanwhile.
 *
 * Triggers.  pvpatch.repatch=PROFILE[,PROFILE...]@N (parsed by the
 * library with the other pvpatch options; the guest keeps the time): every
 * N timer ticks (PIT, 1 kHz, on CPU 0) the guest re-negotiates with the
 * next profile in turn ("boot": negotiate as at boot, the fw_cfg ROM first) and
 * calls pvpatch_repatch(), guest.repatch_rounds=R times.  The host's
 * trigger is an NMI (QMP inject-nmi; QEMU raises LINT1 on every CPU, and the
 * firmware made only CPU 0's LINT1 an NMI): an NMI that is not one of the
 * rendezvous' stops counts in host_nmis, and CPU 0,
 * which polls it from its timer loop, re-negotiates exactly as at boot
 * (ROM from fw_cfg, CPUID and KVM bits, backdoor probe) and re-patches.
 *
 * The workload (CPUs 1..N-1) runs sites of most ops in a loop and checks
 * every result with raw instructions: IF after irq_disable, irq_enable,
 * save_fl/restore_fl; CR0, CR3, CR4, CR8 and an MSR read back; cpuid
 * against the instruction and this CPU's APIC ID; the TSC never going back;
 * set_pte, flush_tlb_one and flush_tlb_local on a page of its own; self
 * IPIs through send_ipi and kick_cpu arriving; mem_size; and the calls the
 * counting CALL backends (io_delay, sched_yield) saw, which must equal the
 * calls made when the site is CALL and be none otherwise.  That last check
 * holds only when no re-patch happened during the batch: repatch_gen is
 * bumped while every CPU is stopped, so an unchanged value before and
 * after a batch says the modes read before it held throughout.
 */
#include <asm/pvops-gen.h>
#include "console.h"
#include "guest.h"
#include "io.h"
#include "raw.h"
#include "smp.h"

#define NOINLINE __attribute__((noinline))
#define MAX_ROUNDS 1024
#define IF_BIT (1ul << 9)
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define STRESS_VA 0x140000000ul
#define KERNEL_WORK 20000		/* loop iterations between batches */		/* boot_pdpt[5]: a page per CPU */

volatile int stress_on;
static volatile int stress_stop;

struct ap_result {
	unsigned long batches, exact, wrong;
	const char *first_wrong;
	volatile int done;
};
static struct ap_result ap_res[MAX_CPUS];

static uint64_t stress_pd[512] __attribute__((aligned(4096)));
static uint64_t stress_pt[512] __attribute__((aligned(4096)));
static uint64_t stress_page[MAX_CPUS][2][512] __attribute__((aligned(4096)));

/* The sites whose CALL backends count, one function each so that
 * site_find() names them. */
static NOINLINE void stress_io_delay(void)
{
	pv_io_delay();
}

static NOINLINE void stress_sched_yield(uint32_t cpu)
{
	pv_sched_yield(cpu);
}

static unsigned int site_mode(const struct pvpatch_site *s)
{
	return s ? pv.state[s - pv.sites].mode : PVPATCH_MODE_NATIVE;
}

#define EXPECT(cond, what)				\
	do {						\
		if (!(cond)) {				\
			r->wrong++;			\
			if (!r->first_wrong)		\
				r->first_wrong = what;	\
		}					\
	} while (0)

static bool wait_kick(struct cpu *c, unsigned long from)
{
	for (unsigned long i = 0; i < 100000000ul; i++)
		if (c->kicks != from)
			return true;
	return false;
}

static NOINLINE void stress_batch(struct cpu *c, struct ap_result *r, uint64_t *last_tsc)
{
	unsigned int me = c->index;
	uint64_t *pte = &stress_pt[me];
	volatile uint64_t *va = (volatile uint64_t *)(STRESS_VA + ((uint64_t)me << 12));
	uint32_t a, b, cc, d, ra, rb, rc, rd, lo, hi;
	unsigned long f, v, k;
	uint64_t tsc;

	/* interrupts */
	pv_irq_disable();
	EXPECT(!(raw_flags() & IF_BIT), "irq_disable left IF set");
	pv_irq_enable();
	EXPECT(raw_flags() & IF_BIT, "irq_enable left IF clear");
	f = pv_save_fl();
	EXPECT(f & IF_BIT, "save_fl lost IF");
	pv_irq_disable();
	pv_restore_fl(f);
	EXPECT(raw_flags() & IF_BIT, "restore_fl did not restore IF");
	/* control registers */
	v = pv_read_cr3();
	EXPECT(v == raw_cr3(), "read_cr3 differs from CR3");
	pv_write_cr3(v);
	EXPECT(raw_cr3() == v, "write_cr3 did not load CR3");
	v = pv_read_cr0();
	EXPECT(v == raw_cr0(), "read_cr0 differs from CR0");
	pv_write_cr0(v);
	pv_clts();
	EXPECT(!(raw_cr0() & 8), "clts left CR0.TS set");
	v = pv_read_cr4();
	EXPECT(v == raw_cr4(), "read_cr4 differs from CR4");
	pv_write_cr4(v);
	EXPECT(raw_cr4() == v, "write_cr4 did not load CR4");
	pv_write_cr8(me & 3);
	EXPECT(raw_cr8() == (me & 3), "write_cr8 did not load CR8");
	EXPECT(pv_read_cr8() == (me & 3), "read_cr8 differs from CR8");
	pv_write_cr8(0);
	(void)pv_read_cr2();
	/* an MSR of this CPU: a value only it writes */
	k = r->batches * 16 + me;
	pv_wrmsr(MSR_KERNEL_GS_BASE, (uint32_t)k, 0xffff8000u);
	EXPECT(raw_rdmsr(MSR_KERNEL_GS_BASE) == (0xffff800000000000ull | (uint32_t)k),
	       "wrmsr did not write the MSR");
	pv_rdmsr(MSR_KERNEL_GS_BASE, &lo, &hi);
	EXPECT(lo == (uint32_t)k && hi == 0xffff8000u, "rdmsr differs from the MSR");
	/* cpuid */
	pv_cpuid(0, 0, &a, &b, &cc, &d);
	asm volatile("cpuid" : "=a"(ra), "=b"(rb), "=c"(rc), "=d"(rd) : "a"(0), "c"(0));
	EXPECT(a == ra && b == rb && cc == rc && d == rd, "cpuid(0) differs from the instruction");
	pv_cpuid(1, 0, &a, &b, &cc, &d);
	EXPECT(b >> 24 == c->apic_id, "cpuid(1) names another CPU");
	/* time */
	pv_read_tsc(&lo, &hi);
	tsc = (uint64_t)hi << 32 | lo;
	EXPECT(tsc >= *last_tsc, "read_tsc went back");
	*last_tsc = tsc;
	/* this CPU's page: map a, flush one; map b, flush all */
	pv_set_pte(pte, (uint64_t)stress_page[me][0] | 3);
	EXPECT(*pte == ((uint64_t)stress_page[me][0] | 3), "set_pte did not write the PTE");
	pv_flush_tlb_one((void *)va);
	EXPECT(*va == 0xa000 + me, "flush_tlb_one left the old page mapped");
	pv_set_pte(pte, (uint64_t)stress_page[me][1] | 3);
	pv_flush_tlb_local();
	EXPECT(*va == 0xb000 + me, "flush_tlb_local left the old page mapped");
	/* IPIs to this CPU */
	v = c->kicks;
	pv_send_ipi((void *)APIC_BASE, c->apic_id << 24, 0x4000 | VEC_KICK);
	EXPECT(wait_kick(c, v), "send_ipi: the IPI did not arrive");
	v = c->kicks;
	pv_kick_cpu((void *)APIC_BASE, c->apic_id << 24);
	EXPECT(wait_kick(c, v), "kick_cpu: the kick did not arrive");
	/* services */
	EXPECT(pv_mem_size() == boot.mem_bytes, "mem_size differs from the boot information");
	EXPECT(pv_vcpu_is_preempted(c->apic_id) == 0, "vcpu_is_preempted says preempted");
}

/* What a kernel does between its paravirt ops most of the time: no site. */
static NOINLINE void kernel_work(void)
{
	unsigned long acc = 0;

	for (unsigned int i = 0; i < KERNEL_WORK; i++)
		acc = acc * 31 + i;
	asm volatile("" : : "r"(acc));
}

void repatch_ap_work(struct cpu *c)
{
	struct ap_result *r = &ap_res[c->index];
	const struct pvpatch_site *s_io = site_find(stress_io_delay, PVPATCH_OP_IO_DELAY);
	const struct pvpatch_site *s_y = site_find(stress_sched_yield, PVPATCH_OP_SCHED_YIELD);
	uint64_t last_tsc = 0;

	stress_page[c->index][0][0] = 0xa000 + c->index;
	stress_page[c->index][1][0] = 0xb000 + c->index;
	asm volatile("sti" ::: "memory");
	while (!__atomic_load_n(&stress_stop, __ATOMIC_ACQUIRE)) {
		unsigned long g = __atomic_load_n(&repatch_gen, __ATOMIC_ACQUIRE);
		unsigned int m_io = site_mode(s_io), m_y = site_mode(s_y);
		unsigned long io = be_io_delay_calls[c->index], y = be_sched_yield_calls[c->index];

		stress_io_delay();
		stress_batch(c, r, &last_tsc);
		stress_sched_yield(c->apic_id);
		stress_sched_yield(c->apic_id);
		kernel_work();
		if (__atomic_load_n(&repatch_gen, __ATOMIC_ACQUIRE) == g) {
			r->exact++;
			EXPECT(be_io_delay_calls[c->index] - io == (m_io == PVPATCH_MODE_CALL ? 1u : 0u),
			       "io_delay: the CALL backend's count is wrong");
			EXPECT(be_sched_yield_calls[c->index] - y == (m_y == PVPATCH_MODE_CALL ? 2u : 0u),
			       "sched_yield: the CALL backend's count is wrong");
		}
		r->batches++;
	}
	asm volatile("cli" ::: "memory");
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
}

static void ap_wake(void)
{
}

/* --- CPU 0: the schedule --------------------------------------------------- */
static struct pvpatch_negotiation rneg[2];
static uint8_t scratch[PVPATCH_REPATCH_SCRATCH(2048, 65536)];
static struct pvpatch_cpu_context ctxs[MAX_CPUS];
static struct pvpatch_report rep;
static uint64_t stop_cost[MAX_ROUNDS], write_cost[MAX_ROUNDS], total_cost[MAX_ROUNDS];

struct totals {
	unsigned int rounds, changed, retries, gave_up, failed, stops, written, reclaimed;
	unsigned int n_costs;
};

static uint64_t median(uint64_t *v, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n ? v[n / 2] : 0;
}

/* Halt until the tick count reaches t or the host sends an NMI. */
static bool wait_ticks_until(unsigned long t, unsigned long host_seen)
{
	while ((long)(pit_ticks - t) < 0 && host_nmis == host_seen)
		asm volatile("sti; hlt; cli" ::: "memory");
	return host_nmis == host_seen;
}

static void paging_stress_init(void)
{
	stress_pd[0] = (uint64_t)stress_pt | 3;
	boot_pdpt[5] = (uint64_t)stress_pd | 3;
}

/* One re-patch to policy, with CPU 0's interrupts off (its timer handler
 * runs sites); the costs of the ones that wrote are kept. */
static int repatch_once(const struct pvpatch_policy *policy, struct totals *t)
{
	struct pvpatch_rendezvous rv = smp_rendezvous_proto;
	uint64_t t0;
	int rc;

	rv.ctx = ctxs;
	rv.max_ctx = MAX_CPUS;
	rv.families = pvpatch_linked_families;
	rv.n_families = pvpatch_nr_linked_families;
	rv.scratch = scratch;
	rv.scratch_size = sizeof(scratch);
	rv.tries = 200;
	if ((size_t)(pv.sites_end - pv.sites) > 2048 || pv.thunks_size > 65536)
		panic("re-patch scratch too small");
	rv_stop_cost = rv_write_cost = 0;
	asm volatile("cli" ::: "memory");
	t0 = rdtsc_raw();
	rc = pvpatch_repatch(&pv, policy, &rv, &rep);
	t0 = rdtsc_raw() - t0;
	t->stops += rep.stops;
	t->retries += rep.retries;
	if (rc == PVPATCH_RP_BUSY)
		t->gave_up++;
	else if (rc)
		t->failed++;
	if (rc) {
		kprintf("# repatch: %s (busy cpu %u addr 0x%lx at 0x%lx)\n", pvpatch_repatch_str(rc),
			rep.busy_cpu, (unsigned long)rep.busy_addr, (unsigned long)rep.busy_at);
		return rc;
	}
	t->rounds++;
	t->written += rep.written;
	t->reclaimed += rep.thunks_reclaimed;
	if (rep.written && t->n_costs < MAX_ROUNDS) {
		t->changed++;
		stop_cost[t->n_costs] = rv_stop_cost;
		write_cost[t->n_costs] = rv_write_cost;
		total_cost[t->n_costs++] = t0;
	}
	return 0;
}

static const char *schedule_name(unsigned int round)
{
	const struct pvpatch_cmdline_repatch *s = &neg.cmd.repatch;

	return s->profile[round % s->n];
}

/* Re-patch to what a fresh boot with this negotiation writes, thunks laid
 * out as that boot lays them out: through an all-NATIVE policy first,
 * which gives every thunk back (first fit then places them as at boot).
 * Poisoned, NATIVE sites run from stubs too: that step goes without
 * poison, so that it empties the area all the same. */
static void settle(const struct pvpatch_policy *final, struct totals *t)
{
	static struct pvpatch_policy native;
	unsigned int poison = pv.flags & PVPATCH_F_POISON;

	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
		native.op[op].mode = PVPATCH_MODE_NATIVE;
	pv.flags &= ~PVPATCH_F_POISON;
	repatch_once(&native, t);
	pv.flags |= poison;
	repatch_once(final, t);
}

void repatch_run(void)
{
	const struct pvpatch_cmdline_repatch *s = &neg.cmd.repatch;
	unsigned int rounds = cmd.repatch_rounds ? cmd.repatch_rounds : 40;
	unsigned long next, host_seen = 0, batches = 0, exact = 0, wrong = 0;
	struct totals t = { .rounds = 0 };
	const char *final = "none", *first_wrong = NULL;
	unsigned int k = 0;

	if (!s->n && !cmd.repatch_host)
		return;
	if (cmd.repatch_unsafe)
		pv.flags |= PVPATCH_F_NO_QUIESCE_DEBUG;
	paging_stress_init();
	__atomic_store_n(&stress_on, 1, __ATOMIC_RELEASE);
	for (unsigned int c = 1; c < ncpus; c++)
		smp_call(c, ap_wake);
	kprintf("# repatch: %u rounds, %s\n", rounds,
		s->n ? "on the command line's schedule" : "each when the host sends an NMI");
	next = pit_ticks + (s->n ? s->every : 60000);
	if (cmd.repatch_host)
		report_modes("before");
	for (unsigned int round = 0; round < rounds; round++) {
		struct pvpatch_negotiation *n = &rneg[k ^= 1];

		if (wait_ticks_until(next, host_seen) && !s->n)
			break;		/* a minute without the host's NMI */
		if (host_nmis != host_seen) {
			host_seen = host_nmis;
			kprintf("# repatch: the host asked (NMI): negotiating as at boot\n");
			final = "boot";
			next = pit_ticks + (s->n ? s->every : 60000);
		} else {
			final = schedule_name(round);
			next += s->every;
		}
		pv_renegotiate(n, final);
		if (repatch_once(&n->policy, &t))
			continue;
		if (round == rounds - 1)
			settle(&n->policy, &t);
		if (!strcmp(final, "boot")) {
			/* what the tests and reports read is this negotiation now */
			neg = *n;
			neg.report = rep;
			report_modes("after");
		}
	}
	__atomic_store_n(&stress_stop, 1, __ATOMIC_RELEASE);
	for (unsigned int c = 1; c < ncpus; c++) {
		while (!__atomic_load_n(&ap_res[c].done, __ATOMIC_ACQUIRE))
			asm volatile("pause");
		batches += ap_res[c].batches;
		exact += ap_res[c].exact;
		wrong += ap_res[c].wrong;
		if (!first_wrong)
			first_wrong = ap_res[c].first_wrong;
	}
	asm volatile("sti" ::: "memory");
	if (first_wrong)
		kprintf("# repatch: first wrong result: %s\n", first_wrong);
	dump_sites("rsite");
	kprintf("# pvpatch-repatch: {\"rounds\": %u, \"changed\": %u, \"faults\": 0, "
		"\"wrong\": %lu, \"retries\": %u, \"gave_up\": %u, \"failed\": %u, \"stops\": %u, "
		"\"cpus\": %u, \"batches\": %lu, \"exact_batches\": %lu, \"sites_written\": %u, "
		"\"thunks_reclaimed\": %u, \"final\": \"%s\", \"unsafe\": %d, \"host_nmis\": %lu, "
		"\"stop_tsc_median\": %lu, \"write_tsc_median\": %lu, \"repatch_tsc_median\": %lu}\n",
		t.rounds, t.changed, wrong, t.retries, t.gave_up, t.failed, t.stops, ncpus, batches,
		exact, t.written, t.reclaimed, final, cmd.repatch_unsafe, host_nmis,
		(unsigned long)median(stop_cost, t.n_costs), (unsigned long)median(write_cost, t.n_costs),
		(unsigned long)median(total_cost, t.n_costs));
	if (cmd.repatch_host) {
		/* the host moved or changed under us: every test again */
		kprintf("# pvpatch-rerun: {}\n");
		ktap_run();
	}
}
