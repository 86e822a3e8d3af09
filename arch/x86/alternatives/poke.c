// SPDX-License-Identifier: MIT
/*
 * The one place that writes to text.  Early at boot (one CPU, interrupts
 * off, text writable) a byte copy is enough; a kernel that patches later
 * passes its own poke (a temporary writable mapping, breakpoint-based
 * live patching), and the hosted tests pass one that asserts every write
 * stays inside a site or the thunk area.
 */
#include "internal.h"

void text_poke(struct pvpatch *pv, void *addr, const void *src, size_t len)
{
	volatile uint8_t *d = addr;
	const uint8_t *s = src;
	size_t i = 0;

	if (pv->poke) {
		pv->poke(addr, src, len, pv->poke_arg);
		return;
	}
	/* Volatile: the compiler must not turn this into a memcpy call. */
	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		__builtin_memcpy(&w, s + i, 8);
		*(volatile uint64_t *)(d + i) = w;
	}
	for (; i < len; i++)
		d[i] = s[i];
}
