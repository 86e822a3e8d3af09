/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* Serial console (COM1), printf, and leaving QEMU. */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

#include <stdarg.h>
#include <stdint.h>

void console_init(void);
void console_puts(const char *s);
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vkprintf(const char *fmt, va_list ap);
int ksnprintf(char *buf, unsigned long size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* isa-debug-exit: QEMU exits with status (code << 1) | 1. */
#define EXIT_PASS	0x00	/* every test passed: status 1 */
#define EXIT_FAIL	0x01	/* some test failed: status 3 */
#define EXIT_PANIC	0x02	/* the guest cannot go on: status 5 */
#define EXIT_FAULT	0x10	/* + vector: an unexpected exception */
__attribute__((noreturn)) void guest_exit(unsigned int code);
__attribute__((noreturn)) void panic(const char *fmt, ...);

#endif
