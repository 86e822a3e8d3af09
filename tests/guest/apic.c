// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Interrupt sources the tests use: the 8259 PIC with the PIT on IRQ0 (to
 * wake hlt), and the local APIC (xAPIC, MMIO at 0xfee00000) with its timer
 * and self-IPIs, whose handler acknowledges through the apic_eoi op.
 */
#include <asm/pvops-gen.h>
#include "guest.h"
#include "idt.h"
#include "io.h"
#include "smp.h"

volatile unsigned long pit_ticks, apic_ticks, kick_ticks;

#define APIC_ID		(0x20 / 4)
#define APIC_SVR	(0xf0 / 4)
#define APIC_LVT_TIMER	(0x320 / 4)
#define APIC_TIMER_INIT	(0x380 / 4)
#define APIC_TIMER_DIV	(0x3e0 / 4)

uint32_t apic_id(void)
{
	return APIC_BASE[APIC_ID] >> 24;
}

static void on_apic_timer(struct frame *f)
{
	(void)f;
	apic_ticks++;
	pv_apic_eoi((void *)APIC_BASE);
}

static void on_kick(struct frame *f)
{
	(void)f;
	kick_ticks++;
	this_cpu()->kicks++;
	pv_apic_eoi((void *)APIC_BASE);
}

static void on_pit(struct frame *f)
{
	(void)f;
	pit_ticks++;
	outb(0x20, 0x20);	/* 8259 EOI */
}

static void on_spurious(struct frame *f)
{
	(void)f;
}

void apic_init(void)
{
	APIC_BASE[APIC_SVR] = 0x100 | VEC_SPURIOUS;	/* software enable */
	APIC_BASE[APIC_TIMER_DIV] = 0x3;		/* divide by 16 */
	APIC_BASE[APIC_LVT_TIMER] = VEC_APIC_TIMER;	/* one-shot */
	idt_set_handler(VEC_APIC_TIMER, on_apic_timer);
	idt_set_handler(VEC_KICK, on_kick);
	idt_set_handler(VEC_SPURIOUS, on_spurious);
	idt_set_handler(VEC_SPURIOUS_PIC, on_spurious);
}

/* PIC remapped to 0x20-0x2f, only IRQ0 unmasked; PIT channel 0 at 1 kHz. */
void pit_irq_init(void)
{
	uint16_t div = 1193182 / 1000;

	outb(0x20, 0x11);
	outb(0xa0, 0x11);
	outb(0x21, 0x20);
	outb(0xa1, 0x28);
	outb(0x21, 0x04);
	outb(0xa1, 0x02);
	outb(0x21, 0x01);
	outb(0xa1, 0x01);
	outb(0x21, 0xfe);	/* IRQ0 only */
	outb(0xa1, 0xff);
	outb(0x43, 0x34);	/* channel 0, rate generator */
	outb(0x40, (uint8_t)div);
	outb(0x40, (uint8_t)(div >> 8));
	idt_set_handler(VEC_PIT, on_pit);
}
