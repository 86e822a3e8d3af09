// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Plain C CALL backends (PVPATCH_REGISTER_C_BACKEND) whose write sets the
 * liveness pass must find (tests/tools/test_backend_writes.py checks each
 * against its own reading of objdump), and some it must refuse.  Built as
 * kernel code (no SSE); backends-sse.c is the one file with SSE.  Never
 * executed.
 */
#include <asm/pvops-gen.h>
#include <asm/pvpatch-boot.h>

unsigned long bw_sink;
void (*volatile bw_hook)(void);
unsigned long bw_sse_helper(unsigned long v);	/* backends-sse.c */

#define NOINLINE __attribute__((noinline))

/* rax only. */
unsigned long bw_const(void)
{
	return 0x200;
}
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_SAVE_FL, bw_const);

/* What gcc uses to compute the value it stores. */
void bw_store(unsigned long v)
{
	bw_sink = v * 3 + 1;
}
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_WRITE_CR3, bw_store);

/* Writes r10, which no caller sees in its own code. */
NOINLINE void bw_r10(void)
{
	asm volatile("xor %%r10d, %%r10d" ::: "r10");
}

/* Calls bw_r10: r10 and rax. */
unsigned long bw_trans(void)
{
	bw_r10();
	return 1;
}
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_READ_CR3, bw_trans);

/* Mutual recursion, each writing one register of its own. */
NOINLINE unsigned long bw_even(unsigned long n);
NOINLINE unsigned long bw_odd(unsigned long n)
{
	asm volatile("xor %%r8d, %%r8d" ::: "r8");
	return n ? bw_even(n - 1) : 0;
}
NOINLINE unsigned long bw_even(unsigned long n)
{
	asm volatile("xor %%r9d, %%r9d" ::: "r9");
	return n ? bw_odd(n - 1) : 1;
}
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_READ_CR0, bw_even);

/* A cold part (bw_split.cold, in .text.unlikely) that jumps back into the
 * middle of bw_split and calls a cold function: rdi, rsi and r11 there. */
__attribute__((cold, noinline)) void bw_cold_path(unsigned long v)
{
	asm volatile("xor %%r11d, %%r11d" ::: "r11");
	bw_sink = v;
}
unsigned long bw_split(unsigned long v)
{
	if (__builtin_expect(v == 42, 0)) {
		bw_cold_path(v);
		bw_sink += v * 7;
		asm volatile("xor %%esi, %%esi" ::: "rsi");
	}
	return v + 1;
}
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_READ_CR3, bw_split);

/* Through a function pointer: not analysed. */
unsigned long bw_indirect(void)
{
	bw_hook();
	return 2;
}
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_READ_CR2, bw_indirect);

/* A pvpatch site inside: not analysed. */
unsigned long bw_site(void)
{
	return pv_save_fl() + 1;
}
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_READ_CR4, bw_site);

/* Calls the SSE file: not analysed. */
unsigned long bw_calls_sse(unsigned long v)
{
	return bw_sse_helper(v) + 1;
}
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_READ_CR8, bw_calls_sse);

/* A call the kernel redirects at run time (ftrace): every caller-saved
 * register, whatever this __fentry__ does. */
__attribute__((noipa)) void __fentry__(void)
{
}
unsigned long bw_traced(void)
{
	__fentry__();
	return 3;
}
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_MEM_SIZE, bw_traced);

/* Assembly: cmpxchg writes rax when it fails, which capstone does not report
 * (the pass adds it); the int3 after ret (-mharden-sls=all) never runs. */
unsigned long bw_cmpxchg(unsigned long *p, unsigned long old, unsigned long new);
asm(".pushsection .text\n"
    ".globl bw_cmpxchg\n.type bw_cmpxchg, @function\n"
    "bw_cmpxchg:\n"
    "	lock cmpxchg %rdx, (%rdi)\n"
    "	ret\n"
    "	int3\n"
    ".size bw_cmpxchg, . - bw_cmpxchg\n"
    ".popsection\n");
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_WRITE_CR0, bw_cmpxchg);

/* capstone reports shld %cl's destination as only read. */
unsigned long bw_shld(unsigned long a, unsigned long b);
asm(".pushsection .text\n"
    ".globl bw_shld\n.type bw_shld, @function\n"
    "bw_shld:\n"
    "	shld %cl, %rdi, %r11\n"
    "	cmp %rdx, %rsi\n"
    "	ret\n"
    ".size bw_shld, . - bw_shld\n"
    ".popsection\n");
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_READ_CR0, bw_shld);

/* A ud2 (BUG()) that does not follow a ret: not analysed. */
unsigned long bw_ud2(void);
asm(".pushsection .text\n"
    ".globl bw_ud2\n.type bw_ud2, @function\n"
    "bw_ud2:\n"
    "	ud2\n"
    "	xor %eax, %eax\n"
    "	ret\n"
    ".size bw_ud2, . - bw_ud2\n"
    ".popsection\n");
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_WRITE_CR4, bw_ud2);

/* Register-preserving: its record is not the pass's business. */
PVPATCH_BACKEND_IN("irq") unsigned long bw_preserving(void)
{
	return 0x200;
}
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_SAVE_FL, bw_preserving);
