// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* COM1 at 0x3f8, a small printf, and the isa-debug-exit port. */
#include "console.h"
#include "io.h"

#define COM1		0x3f8
#define DEBUG_EXIT	0xf4

void console_init(void)
{
	outb(COM1 + 1, 0x00);	/* no interrupts */
	outb(COM1 + 3, 0x80);	/* DLAB */
	outb(COM1 + 0, 0x01);	/* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8N1 */
	outb(COM1 + 2, 0xc7);	/* FIFO */
}

static void putc_raw(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

void console_puts(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			putc_raw('\r');
		putc_raw(*s);
	}
}

struct sink {
	char *buf;
	unsigned long size, n;
};

static void emit(struct sink *k, char c)
{
	if (k->buf) {
		if (k->n + 1 < k->size)
			k->buf[k->n] = c;
	} else {
		char s[2] = { c, 0 };

		console_puts(s);
	}
	k->n++;
}

static void emit_num(struct sink *k, unsigned long v, unsigned int base, int width, char pad, int neg)
{
	char tmp[24];
	int i = 0;

	do
		tmp[i++] = "0123456789abcdef"[v % base];
	while ((v /= base));
	if (neg)
		tmp[i++] = '-';
	while (i < width)
		tmp[i++] = pad;
	while (i)
		emit(k, tmp[--i]);
}

static int format(struct sink *k, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		int width = 0, lng = 0, left = 0, prec = -1;
		char pad = ' ';

		if (*fmt != '%') {
			emit(k, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '-') {
			left = 1;
			fmt++;
		}
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == '.' && fmt[1] == '*') {
			prec = va_arg(ap, int);
			fmt += 2;
		}
		while (*fmt == 'l' || *fmt == 'z') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd': {
			long v = lng ? va_arg(ap, long) : va_arg(ap, int);

			emit_num(k, v < 0 ? -(unsigned long)v : (unsigned long)v, 10, width, pad, v < 0);
			break;
		}
		case 'u':
			emit_num(k, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int), 10, width, pad, 0);
			break;
		case 'x':
			emit_num(k, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int), 16, width, pad, 0);
			break;
		case 'p':
			emit(k, '0');
			emit(k, 'x');
			emit_num(k, (unsigned long)va_arg(ap, void *), 16, width, pad, 0);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			int len = 0;

			if (!s)
				s = "(null)";
			while (s[len] && (prec < 0 || len < prec))
				len++;
			for (int i = len; !left && i < width; i++)
				emit(k, ' ');
			for (int i = 0; i < len; i++)
				emit(k, s[i]);
			for (int i = len; left && i < width; i++)
				emit(k, ' ');
			break;
		}
		case 'c':
			emit(k, (char)va_arg(ap, int));
			break;
		case '%':
			emit(k, '%');
			break;
		default:
			emit(k, '?');
		}
	}
	return (int)k->n;
}

int vkprintf(const char *fmt, va_list ap)
{
	struct sink k = { 0, 0, 0 };

	return format(&k, fmt, ap);
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vkprintf(fmt, ap);
	va_end(ap);
	return n;
}

int ksnprintf(char *buf, unsigned long size, const char *fmt, ...)
{
	struct sink k = { buf, size, 0 };
	va_list ap;

	va_start(ap, fmt);
	format(&k, fmt, ap);
	va_end(ap);
	if (size)
		buf[k.n < size ? k.n : size - 1] = 0;
	return (int)k.n;
}

void guest_exit(unsigned int code)
{
	outb(DEBUG_EXIT, (uint8_t)code);
	for (;;)
		asm volatile("cli; hlt");
}

void panic(const char *fmt, ...)
{
	va_list ap;

	console_puts("PANIC: ");
	va_start(ap, fmt);
	vkprintf(fmt, ap);
	va_end(ap);
	console_puts("\n");
	guest_exit(EXIT_PANIC);
}
