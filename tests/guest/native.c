// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The native code of the ops whose native form is a call (calibrate_tsc,
 * get_wallclock, mem_size): the PIT, the CMOS clock and the boot loader's
 * memory information.
 */
#include "guest.h"
#include "smp.h"
#include "io.h"

#define PIT_HZ		1193182u

/* TSC ticks while PIT channel 2 (gated through port 0x61) counts down ms. */
static uint64_t tsc_during_pit(unsigned int ms)
{
	uint16_t latch = (uint16_t)(PIT_HZ * ms / 1000);
	uint64_t t0, t1;

	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
	outb(0x43, 0xb0);	/* channel 2, lo/hi byte, mode 0 */
	outb(0x42, (uint8_t)latch);
	outb(0x42, (uint8_t)(latch >> 8));
	t0 = rdtsc_raw();
	while (!(inb(0x61) & 0x20))
		;
	t1 = rdtsc_raw();
	return t1 - t0;
}

/*
 * Two windows: their difference cancels the fixed latency of starting the
 * count and of seeing it end, which under an emulating KVM (every port
 * access exits, and an exit can take 100 us on a busy host) would skew one
 * window by percents.  Under TCG with -icount time is exact: one estimate
 * over 1 and 5 ms.  Under a hypervisor that can preempt us: the median of
 * five estimates over 5 and 25 ms.
 */
static uint64_t estimate(unsigned int short_ms, unsigned int long_ms)
{
	uint64_t short_w = tsc_during_pit(short_ms), long_w = tsc_during_pit(long_ms);

	return long_w > short_w ? (long_w - short_w) * 1000 / (long_ms - short_ms) : 0;
}

uint64_t tsc_hz_pit(void)
{
	/* TCG with one CPU runs under -icount (tools/pvboot): time is exact;
	 * multi-threaded TCG's TSC is the host's, noisy as KVM's. */
	bool exact = !strcmp(neg.facts.signature, "TCGTCGTCGTCG") && ncpus == 1;
	int n = exact ? 1 : 5;
	uint64_t e[5];

	for (int i = 0; i < n; i++) {
		e[i] = exact ? estimate(1, 5) : estimate(5, 25);
		for (int j = i; j > 0 && e[j - 1] > e[j]; j--) {
			uint64_t t = e[j];

			e[j] = e[j - 1];
			e[j - 1] = t;
		}
	}
	return e[n / 2];
}

unsigned long native_calibrate_tsc(void)
{
	return tsc_hz_pit();
}

static uint8_t cmos(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static unsigned int bcd(uint8_t v, bool binary)
{
	return binary ? v : (v & 0x0f) + (v >> 4) * 10;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long days_from_civil(long y, unsigned int m, unsigned int d)
{
	long era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

unsigned long native_get_wallclock(void)
{
	unsigned int s, min, h, d, mon, y;
	bool binary;

	while (cmos(0x0a) & 0x80)	/* update in progress */
		;
	binary = cmos(0x0b) & 0x04;
	s = bcd(cmos(0x00), binary);
	min = bcd(cmos(0x02), binary);
	h = bcd(cmos(0x04) & 0x7f, binary);
	d = bcd(cmos(0x07), binary);
	mon = bcd(cmos(0x08), binary);
	y = bcd(cmos(0x09), binary) + 2000;
	return (unsigned long)(days_from_civil(y, mon, d) * 86400 + h * 3600 + min * 60 + s);
}

unsigned long native_mem_size(void)
{
	return boot.mem_bytes;
}
