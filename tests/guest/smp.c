// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Every CPU QEMU gives the guest.  The boot CPU patches (pvpatch_boot(),
 * one CPU, interrupts off), then starts the others one at a time with
 * INIT-SIPI-SIPI through its local APIC: each gets its own stack, GDT and
 * enabled local APIC, loads the IDT and idles with interrupts on, running
 * what smp_call() sends it.  How many CPUs there are comes from fw_cfg
 * (key 0x05, the number of boot CPUs); QEMU numbers their APIC IDs 0..N-1.
 *
 * The rendezvous of pvpatch_repatch() is here too.  stop() sends an NMI to
 * every other CPU: NMIs are taken with interrupts off, so a CPU in an
 * irq_disable ... irq_enable section (or in the middle of a site, a thunk
 * or a backend, which is what pvpatch's quiescence check is for) stops all
 * the same.  The handler records the interrupted RIP and RSP and its CPU's
 * stack top (the guest has one stack per CPU, no IST: interrupts nest on
 * it, so [RSP, top) holds every frame the CPU would return through), says
 * so and spins without touching a site.  While it spins, the CPU takes no
 * other NMI (the next one is held until its IRET), so a stop never nests;
 * an NMI that is not a stop (the host's, QMP inject-nmi) only counts.
 * release() lets them go; after a write each executes CPUID, which
 * serialises (Linux's sync_core()), before its IRET back into the text.
 */
#include <asm/pvops-gen.h>
#include "console.h"
#include "guest.h"
#include "io.h"
#include "smp.h"

#define SMP_TRAMPOLINE	0x8000		/* trampoline.S; SIPI vector 0x08 */
#define APIC_ICR_LO	(0x300 / 4)
#define APIC_ICR_HI	(0x310 / 4)
#define APIC_SVR	(0xf0 / 4)
#define APIC_TPR	(0x80 / 4)
#define APIC_EOI	(0xb0 / 4)
#define ICR_BUSY	(1u << 12)
#define ICR_INIT	0x4500u		/* INIT, level assert */
#define ICR_SIPI	0x4600u
#define ICR_NMI_OTHERS	0xc4400u	/* all excluding self, assert, NMI */
#define SPIN_MAX	400000000ul

struct cpu cpus[MAX_CPUS];
unsigned int ncpus = 1;
volatile unsigned long host_nmis;
uintptr_t ap_boot_stack;			/* trampoline.S */
static volatile unsigned int ap_starting;

extern char ap_trampoline[], ap_trampoline_end[], stack_top[];
static uint8_t ap_stacks[MAX_CPUS][CPU_STACK_SIZE] __attribute__((aligned(16)));

static const uint64_t gdt_template[3] = { 0, 0x00af9a000000ffffull, 0x00cf92000000ffffull };

static void cpu_relax(void)
{
	asm volatile("pause" ::: "memory");
}

static void serialise(void)
{
	uint32_t a = 0, b, c = 0, d;

	asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
}

static void icr_send(uint32_t dest_apic, uint32_t lo)
{
	while (APIC_BASE[APIC_ICR_LO] & ICR_BUSY)
		cpu_relax();
	APIC_BASE[APIC_ICR_HI] = dest_apic << 24;
	APIC_BASE[APIC_ICR_LO] = lo;
}

struct cpu *this_cpu(void)
{
	uint32_t id = apic_id();

	for (unsigned int i = 0; i < ncpus; i++)
		if (cpus[i].apic_id == id)
			return &cpus[i];
	return &cpus[0];
}

/* fw_cfg key 0x05: the number of CPUs QEMU started (-smp N). */
static unsigned int fwcfg_nb_cpus(void)
{
	unsigned int n;

	outw(0x510, 0x05);
	n = inb(0x511);
	n |= (unsigned int)inb(0x511) << 8;
	return n;
}

static void cpu_tables_load(struct cpu *c)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr = { sizeof(c->gdt) - 1, (uint64_t)c->gdt };

	for (unsigned int i = 0; i < 3; i++)
		c->gdt[i] = gdt_template[i];
	asm volatile("lgdt %0\n\t"
		     "movl $0x10, %%eax\n\t"
		     "movl %%eax, %%ds\n\tmovl %%eax, %%es\n\tmovl %%eax, %%ss"
		     : : "m"(gdtr) : "rax", "memory");
	idt_load();
	APIC_BASE[APIC_SVR] = 0x100 | VEC_SPURIOUS;	/* software enable */
	APIC_BASE[APIC_TPR] = 0;
}

static void on_call(struct frame *f)
{
	struct cpu *c = this_cpu();
	void (*fn)(void) = c->call;

	(void)f;
	if (fn)
		fn();
	c->call = NULL;
	__atomic_add_fetch(&c->calls_done, 1, __ATOMIC_RELEASE);
	APIC_BASE[APIC_EOI] = 0;
}

void ap_main(void);

void ap_main(void)
{
	struct cpu *c = &cpus[ap_starting];

	cpu_tables_load(c);
	c->apic_id = apic_id();
	__atomic_store_n(&c->online, 1, __ATOMIC_RELEASE);
	for (;;) {
		if (__atomic_load_n(&stress_on, __ATOMIC_ACQUIRE))
			repatch_ap_work(c);
		asm volatile("sti; hlt; cli" ::: "memory");
	}
}

static bool wait_online(struct cpu *c)
{
	for (unsigned long i = 0; i < SPIN_MAX / 8; i++) {
		if (__atomic_load_n(&c->online, __ATOMIC_ACQUIRE))
			return true;
		cpu_relax();
	}
	return false;
}

void smp_boot(void)
{
	unsigned int n = fwcfg_nb_cpus();

	cpus[0].apic_id = apic_id();
	cpus[0].stack_top = (uintptr_t)stack_top;
	cpus[0].online = 1;
	idt_set_handler(VEC_CALL, on_call);
	if (n > MAX_CPUS) {
		kprintf("# smp: %u CPUs, the guest runs %u\n", n, MAX_CPUS);
		n = MAX_CPUS;
	}
	if (n <= 1)
		return;
	memcpy((void *)SMP_TRAMPOLINE, ap_trampoline, (size_t)(ap_trampoline_end - ap_trampoline));
	for (unsigned int i = 1; i < n; i++) {
		struct cpu *c = &cpus[i];

		c->index = i;
		c->stack_top = (uintptr_t)(ap_stacks[i] + CPU_STACK_SIZE);
		ap_boot_stack = c->stack_top;
		ap_starting = i;
		ncpus = i + 1;		/* this_cpu() finds it once it is up */
		c->apic_id = 0xff;
		icr_send(i, ICR_INIT);
		icr_send(i, ICR_SIPI | (SMP_TRAMPOLINE >> 12));
		if (!wait_online(c)) {
			icr_send(i, ICR_SIPI | (SMP_TRAMPOLINE >> 12));
			if (!wait_online(c))
				panic("CPU %u (APIC ID %u) did not start", i, i);
		}
		if (c->apic_id != i)
			panic("CPU %u came up with APIC ID %u", i, c->apic_id);
	}
	kprintf("# smp: %u CPUs up\n", ncpus);
}

bool smp_call(unsigned int cpu, void (*fn)(void))
{
	struct cpu *c = &cpus[cpu];
	unsigned long done = c->calls_done;

	if (cpu == 0 || cpu >= ncpus)
		return false;
	c->call = fn;
	icr_send(c->apic_id, 0x4000 | VEC_CALL);
	for (unsigned long i = 0; i < SPIN_MAX; i++) {
		if (__atomic_load_n(&c->calls_done, __ATOMIC_ACQUIRE) != done)
			return true;
		cpu_relax();
	}
	return false;
}

/* --- the rendezvous --------------------------------------------------------- */
static volatile unsigned int rv_gen, rv_released, rv_stopped, rv_left;
static volatile bool rv_wrote;
volatile unsigned long repatch_gen;
uint64_t rv_stop_cost, rv_write_cost;
static uint64_t rv_stopped_at;
static unsigned int rv_retrying, rv_seed = 1;

void smp_nmi(struct frame *f)
{
	struct cpu *c = this_cpu();
	unsigned int gen = __atomic_load_n(&rv_gen, __ATOMIC_ACQUIRE);

	if (c == &cpus[0] || gen == c->stop_gen) {
		__atomic_add_fetch(&host_nmis, 1, __ATOMIC_RELAXED);
		return;
	}
	c->stop_gen = gen;
	c->ctx.rip = f->rip;
	c->ctx.rsp = f->rsp;
	c->ctx.stack_top = c->stack_top;
	__atomic_add_fetch(&rv_stopped, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&rv_released, __ATOMIC_ACQUIRE) != gen)
		cpu_relax();
	if (rv_wrote)
		serialise();
	__atomic_add_fetch(&rv_left, 1, __ATOMIC_RELEASE);
}

static int rv_stop(void *arg, struct pvpatch_cpu_context *ctx, unsigned int max)
{
	unsigned int gen = rv_gen + 1, want = ncpus - 1, k = 0;
	uint64_t t0;
	unsigned long i;

	(void)arg;
	/* A retry right after a release would find the CPUs where they were:
	 * let them run on for a while, a varying while. */
	if (rv_retrying) {
		rv_seed = rv_seed * 1103515245u + 12345u;
		for (unsigned int n = (rv_seed >> 8) % 20000; n; n--)
			cpu_relax();
	}
	t0 = rdtsc_raw();
	rv_stopped = 0;
	rv_left = 0;
	rv_wrote = false;
	__atomic_store_n(&rv_gen, gen, __ATOMIC_RELEASE);
	if (want)
		icr_send(0, ICR_NMI_OTHERS);
	for (i = 0; i < SPIN_MAX && __atomic_load_n(&rv_stopped, __ATOMIC_ACQUIRE) < want; i++)
		cpu_relax();
	if (i == SPIN_MAX) {
		/* the ones that did stop go on; a late one finds itself released */
		__atomic_store_n(&rv_released, gen, __ATOMIC_RELEASE);
		return -1;
	}
	for (unsigned int c = 1; c < ncpus && k < max; c++)
		ctx[k++] = cpus[c].ctx;
	rv_stopped_at = rdtsc_raw();
	rv_stop_cost = rv_stopped_at - t0;
	return (int)k;
}

static void rv_release(void *arg, bool wrote)
{
	unsigned int want = rv_stopped;

	(void)arg;
	rv_retrying = !wrote;

	if (wrote) {
		rv_write_cost = rdtsc_raw() - rv_stopped_at;
		repatch_gen++;		/* the workload's results are judged per generation */
	}
	rv_wrote = wrote;
	__atomic_store_n(&rv_released, rv_gen, __ATOMIC_RELEASE);
	while (__atomic_load_n(&rv_left, __ATOMIC_ACQUIRE) < want)
		cpu_relax();
}

static void rv_sync(void *arg)
{
	(void)arg;
	serialise();
}

const struct pvpatch_rendezvous smp_rendezvous_proto = {
	.stop = rv_stop, .release = rv_release, .sync = rv_sync,
};
