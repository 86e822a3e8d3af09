/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* A .S caller that does not opt in: its site is never widened, though rax,
 * rcx, ... are dead after it (tests/tools/test_liveness.py).  Never executed. */
#include <asm/pvops-gen.inc>

	.text
	.globl lv_noopt
	.type lv_noopt, @function
lv_noopt:
	call lv_helper
	pv_read_cr3 %rbx
	ret
	.size lv_noopt, . - lv_noopt
