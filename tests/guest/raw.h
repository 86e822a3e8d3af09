/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The raw instructions the tests and the stress workload compare the ops'
 * sites with: written out here, never a site, so what they read is the
 * machine's state whatever the patcher did.
 */
#ifndef GUEST_RAW_H
#define GUEST_RAW_H

#include <stdint.h>

static inline unsigned long raw_flags(void)
{
	unsigned long f;

	asm volatile("pushf; pop %0" : "=r"(f) : : "memory");
	return f;
}

#define RAW_CR(n)							\
	static inline unsigned long raw_cr##n(void)			\
	{								\
		unsigned long v;					\
		asm volatile("mov %%cr" #n ", %0" : "=r"(v) : : "memory"); \
		return v;						\
	}
RAW_CR(0)
RAW_CR(3)
RAW_CR(4)
RAW_CR(8)
#undef RAW_CR

static inline void raw_cpuid(uint32_t leaf, uint32_t r[4])
{
	asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static inline uint64_t raw_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static inline void raw_wrmsr(uint32_t msr, uint64_t v)
{
	asm volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

#endif
