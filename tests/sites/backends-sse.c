// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The one file of tests/sites/backends.c's ELF built with SSE: a plain
 * backend that writes an xmm register, which no site or thunk saves, so the
 * liveness pass leaves its record unanalysed and warns.  Never executed.
 */
#include <asm/pvops-gen.h>
#include <asm/pvpatch-boot.h>

double bw_double;

unsigned long bw_sse(unsigned long v)
{
	bw_double = (double)v * 1.5;
	return v;
}
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_READ_TSC, bw_sse);

unsigned long bw_sse_helper(unsigned long v)
{
	bw_double = (double)v * 2.5;
	return v + 7;
}
