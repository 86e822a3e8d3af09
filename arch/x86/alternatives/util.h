/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Freestanding string and output helpers shared by the patcher and the
 * negotiation (no libc in a kernel's runtime; not for kernels).
 */
#ifndef PVPATCH_UTIL_H
#define PVPATCH_UTIL_H

#include <stddef.h>

static inline size_t pv_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static inline int pv_strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

/* Set bits in a register mask (a loop: __builtin_popcount may be a libgcc
 * call, and the runtime links with nothing). */
static inline unsigned int pv_bits(unsigned int m)
{
	unsigned int n = 0;

	for (; m; m &= m - 1)
		n++;
	return n;
}

/* Clear n bytes (a loop, not a memset call: the runtime links with nothing). */
static inline void pv_zero(void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((unsigned char *)p)[i] = 0;
}

/* Whether s[0..len) is exactly the string t. */
static inline int pv_eq(const char *s, size_t len, const char *t)
{
	size_t i = 0;

	for (; i < len && t[i] && s[i] == t[i]; i++)
		;
	return i == len && !t[i];
}

/* One output line, built in place and printed whole (the print hook takes
 * lines); text past the buffer is dropped. */
struct pv_line {
	char buf[200];
	unsigned int n;
};

static inline void put_s(struct pv_line *l, const char *s)
{
	while (*s && l->n < sizeof(l->buf) - 1)
		l->buf[l->n++] = *s++;
}

static inline void put_sn(struct pv_line *l, const char *s, size_t len)
{
	for (size_t i = 0; i < len && s[i] && l->n < sizeof(l->buf) - 1; i++)
		l->buf[l->n++] = s[i];
}

static inline void put_u(struct pv_line *l, unsigned long v)
{
	char tmp[24];
	int i = 0;

	do
		tmp[i++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (i && l->n < sizeof(l->buf) - 1)
		l->buf[l->n++] = tmp[--i];
}

static inline void put_x(struct pv_line *l, unsigned long v, int digits)
{
	for (int i = digits - 1; i >= 0 && l->n < sizeof(l->buf) - 1; i--)
		l->buf[l->n++] = "0123456789abcdef"[(v >> (4 * i)) & 0xf];
}

static inline void line_print(void (*print)(const char *), struct pv_line *l)
{
	l->buf[l->n] = 0;
	if (print)
		print(l->buf);
	l->n = 0;
}

#endif
