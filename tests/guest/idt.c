// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* The IDT: exceptions end the boot with a report naming the vector, the
 * RIP and, when the RIP is inside a pvpatch site, the op; interrupts go to
 * handlers the tests install. */
#include <asm/pvops-gen.h>
#include "console.h"
#include "guest.h"
#include "idt.h"
#include "smp.h"

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
};

extern const struct { uint64_t vec; void (*fn)(void); } isr_table[], isr_table_end[];

static struct idt_entry idt[256] __attribute__((aligned(16)));
static void (*handlers[256])(struct frame *f);
static int expect_vec = -1;
static unsigned int expect_len, faults_seen;

/* Every CPU loads the one IDT (smp.c's APs too). */
void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) desc = { sizeof(idt) - 1, (uint64_t)idt };

	pv_load_idt(&desc);
}

void idt_init(void)
{
	for (const typeof(isr_table[0]) *e = isr_table; e < isr_table_end; e++) {
		uint64_t a = (uint64_t)e->fn;

		idt[e->vec] = (struct idt_entry){
			.off_lo = (uint16_t)a, .sel = 0x08, .type = 0x8e,
			.off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32),
		};
	}
	idt_load();
}

void idt_set_handler(unsigned int vec, void (*fn)(struct frame *f))
{
	handlers[vec] = fn;
}

void idt_expect_fault(unsigned int vec, unsigned int insn_len)
{
	expect_vec = (int)vec;
	expect_len = insn_len;
}

unsigned int idt_faults_seen(void)
{
	return faults_seen;
}

void trap(struct frame *f);

void trap(struct frame *f)
{
	char where[96];

	if (f->vector >= 32) {
		if (handlers[f->vector])
			handlers[f->vector](f);
		return;
	}
	if (f->vector == 2) {
		smp_nmi(f);	/* a re-patch's stop, or the host's NMI */
		return;
	}
	if ((int)f->vector == expect_vec) {
		expect_vec = -1;
		faults_seen++;
		f->rip += expect_len;
		return;
	}
	site_describe(f->rip, where, sizeof(where));
	kprintf("\nFAULT: vector %lu error 0x%lx at rip 0x%lx%s\n", f->vector, f->error,
		f->rip, where);
	kprintf("# pvpatch-fault: {\"vector\": %lu, \"rip\": %lu}\n", f->vector, f->rip);
	guest_exit(EXIT_FAULT + (unsigned int)f->vector);
}
