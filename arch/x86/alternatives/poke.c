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

	if (pv->poke) {
		pv->poke(addr, src, len, pv->poke_arg);
		return;
	}
	for (size_t i = 0; i < len; i++)
		d[i] = s[i];
}
