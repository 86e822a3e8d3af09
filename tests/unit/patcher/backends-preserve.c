/*
 * Register-preserving backends (PVPATCH_BACKEND), built as kernel code is
 * (-mgeneral-regs-only, no sanitizer): they keep every register but their
 * result, so CALL sites save nothing around them.
 */
#include <asm/pvpatch.h>
#include "sites.h"

unsigned long pbe_cr3_seen;
unsigned int pbe_calls;

PVPATCH_BACKEND void pbe_write_cr3(unsigned long v)
{
	pbe_cr3_seen = v;
	pbe_calls++;
}

PVPATCH_BACKEND unsigned long pbe_read_cr3(void)
{
	pbe_calls++;
	return 0xdef000;
}

PVPATCH_BACKEND void pbe_irq_disable(void)
{
	pbe_calls++;
}
