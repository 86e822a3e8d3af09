/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* Exceptions and interrupts of the guest. */
#ifndef GUEST_IDT_H
#define GUEST_IDT_H

#include <stdint.h>

struct frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

#define VEC_PIT		32	/* IRQ0 through the 8259 */
#define VEC_SPURIOUS_PIC 39
#define VEC_APIC_TIMER	240
#define VEC_KICK	242
#define VEC_CALL	243	/* smp_call() */
#define VEC_SPURIOUS	255

void idt_init(void);
void idt_load(void);	/* on this CPU */
/* Handler for an interrupt vector (not exceptions), NULL to ignore it. */
void idt_set_handler(unsigned int vec, void (*fn)(struct frame *f));
/* The next exception of this vector is expected: record it and skip the
 * faulting instruction of len bytes instead of failing the boot. */
void idt_expect_fault(unsigned int vec, unsigned int insn_len);
unsigned int idt_faults_seen(void);

#endif
