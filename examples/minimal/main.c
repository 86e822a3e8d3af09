// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * examples/minimal: the smallest kernel that adopts pvpatch (docs/porting.md).
 * Serial console, an IDT that reports exceptions, pvpatch_boot() once on
 * the boot CPU, a second CPU started with INIT-SIPI-SIPI, KTAP results,
 * isa-debug-exit.  Built only through pvpatch.mk, the linker fragments and
 * the public headers.
 */
#include <asm/pvops-gen.h>
#include <asm/pvpatch-boot.h>

#define COM1 0x3f8
#define LAPIC ((volatile uint32_t *)0xfee00000)
#define NTESTS 8

extern char __text_start[], __text_end[], trampoline_start[], trampoline_end[];
extern char exception_stubs[], ap_entry64[];
extern uint64_t pml4[];
uint32_t mb_info;			/* multiboot information (boot.S) */
uint64_t ap_stack_top, ap_cr3_asm;	/* boot.S's AP entry uses them */

/* --- port I/O, serial, exit ------------------------------------------------ */
static inline uint8_t inb(uint16_t p) { uint8_t v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline void outb(uint16_t p, uint8_t v) { asm volatile("outb %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outw(uint16_t p, uint16_t v) { asm volatile("outw %0, %1" :: "a"(v), "Nd"(p)); }

static void putc_(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

static void puts_(const char *s) { while (*s) putc_(*s++); }

static void put_u(unsigned long v)
{
	char b[24];
	int i = 0;
	do b[i++] = (char)('0' + v % 10); while (v /= 10);
	while (i) putc_(b[--i]);
}

static void put_x(unsigned long v) { puts_("0x"); for (int s = 60; s >= 0; s -= 4) putc_("0123456789abcdef"[v >> s & 15]); }
static void diag(const char *line) { puts_("# "); puts_(line); putc_('\n'); }	/* pvpatch's print hook */
static void qemu_exit(uint32_t code) { asm volatile("outl %0, $0xf4" :: "a"(code)); for (;;) asm volatile("cli; hlt"); }

/* --- exceptions --------------------------------------------------------------- */
struct idt_entry { uint16_t lo, sel; uint8_t ist, type; uint16_t mid; uint32_t hi, zero; };
static struct idt_entry idt[32];
static struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr = { sizeof(idt) - 1, (uint64_t)idt };

void exception_report(uint64_t *frame)
{
	unsigned long vec = frame[0], err = (0x60227d00u >> vec) & 1;	/* vectors with an error code */
	puts_("not ok 0 exception "); put_u(vec); puts_(" at rip "); put_x(frame[1 + err]); putc_('\n');
	qemu_exit(1);
}

static void idt_init(void)
{
	for (int v = 0; v < 32; v++) {
		uint64_t a = (uint64_t)exception_stubs + 16 * v;
		idt[v] = (struct idt_entry){ (uint16_t)a, 0x08, 0, 0x8e, (uint16_t)(a >> 16), (uint32_t)(a >> 32), 0 };
	}
	asm volatile("lidt %0" :: "m"(idtr));
}

/* --- CALL backends: register-preserving, one family per op class, and two plain
 * C functions (the cr3 ops): the liveness pass records in their backend records
 * what they may write (rax at most), so the thunks around them save no more
 * (this kernel keeps the System V 16-byte stack alignment: every CALL goes
 * through a thunk that realigns; under 8 such sites would call them directly) -- */
static unsigned long backend_calls;
#define COUNT() __atomic_fetch_add(&backend_calls, 1, __ATOMIC_RELAXED)

PVPATCH_BACKEND_IN("irq") void be_irq_disable(void) { COUNT(); asm volatile("cli" ::: "memory"); }
PVPATCH_BACKEND_IN("irq") void be_irq_enable(void) { COUNT(); asm volatile("sti" ::: "memory"); }
PVPATCH_BACKEND_IN("irq") unsigned long be_save_fl(void)
{
	unsigned long f;
	COUNT();
	asm volatile("pushf; pop %0" : "=r"(f) :: "memory");
	return f;
}
PVPATCH_BACKEND_IN("irq") void be_restore_fl(unsigned long f) { COUNT(); asm volatile("push %0; popf" :: "r"(f) : "memory", "cc"); }
__attribute__((noinline)) unsigned long be_read_cr3(void)
{
	unsigned long v;
	COUNT();
	asm volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}
__attribute__((noinline)) void be_write_cr3(unsigned long v) { COUNT(); asm volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }
PVPATCH_BACKEND_IN("io") void be_io_delay(void) { COUNT(); asm volatile("outb %%al, $0x80" ::: "memory"); }
PVPATCH_BACKEND_IN("cpu") void be_cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	COUNT();
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_IRQ_DISABLE, be_irq_disable);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_IRQ_ENABLE, be_irq_enable);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_SAVE_FL, be_save_fl);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_RESTORE_FL, be_restore_fl);
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_READ_CR3, be_read_cr3);
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_WRITE_CR3, be_write_cr3);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_IO_DELAY, be_io_delay);
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_CPUID, be_cpuid);

/* --- the checks, on either CPU ------------------------------------------------------ */
static unsigned long raw_flags(void) { unsigned long f; asm volatile("pushf; pop %0" : "=r"(f) :: "memory"); return f; }
static unsigned long raw_cr3(void) { unsigned long v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
#define IF (1ul << 9)

static bool check_irq(void)
{
	pv_irq_enable();
	bool on = raw_flags() & IF;
	pv_irq_disable();
	return on && !(raw_flags() & IF);	/* IF really cleared, seen by a raw pushf */
}

static bool check_flags(void)
{
	pv_irq_enable();
	unsigned long f = pv_save_fl();
	pv_irq_disable();
	pv_restore_fl(f);
	bool ok = (f & IF) && (raw_flags() & IF);
	pv_irq_disable();
	return ok;
}

static bool check_cpuid(uint32_t *apic_id)
{
	uint32_t a, b, c, d, ra, rb, rc, rd;
	pv_cpuid(0, 0, &a, &b, &c, &d);
	asm volatile("cpuid" : "=a"(ra), "=b"(rb), "=c"(rc), "=d"(rd) : "a"(0), "c"(0));
	bool same = a == ra && b == rb && c == rc && d == rd;
	pv_cpuid(1, 0, &a, &b, &c, &d);
	*apic_id = b >> 24;			/* initial APIC id */
	return same;
}

/* FNV-1a over every site's bytes: what this CPU sees of the patched text. */
static uint64_t sites_hash(void)
{
	uint64_t h = 14695981039346656037ull;
	for (const struct pvpatch_site *s = __pvpatch_sites_start; s < __pvpatch_sites_end; s++) {
		const uint8_t *p = (const uint8_t *)&s->site + s->site;
		for (unsigned int i = 0; i < s->site_len; i++)
			h = (h ^ p[i]) * 1099511628211ull;
	}
	return h;
}

/* --- the second CPU ----------------------------------------------------------------- */
static volatile int ap_done;
static volatile uint64_t ap_hash;
static volatile unsigned long ap_calls, ap_cr3;
static volatile uint32_t ap_apic_id;
static volatile bool ap_ok_irq, ap_ok_flags, ap_ok_cpuid;
static uint8_t ap_stack[16384] __attribute__((aligned(16)));

void ap_main(void)
{
	uint32_t id;
	unsigned long before = __atomic_load_n(&backend_calls, __ATOMIC_RELAXED);

	asm volatile("lidt %0" :: "m"(idtr));
	ap_ok_irq = check_irq();
	ap_ok_flags = check_flags();
	ap_ok_cpuid = check_cpuid(&id);
	ap_apic_id = id;
	ap_cr3 = pv_read_cr3();
	pv_io_delay();
	ap_calls = __atomic_load_n(&backend_calls, __ATOMIC_RELAXED) - before;
	ap_hash = sites_hash();
	__atomic_store_n(&ap_done, 1, __ATOMIC_RELEASE);
}

static void delay(unsigned int n) { while (n--) pv_io_delay(); }	/* ~1 us each on hardware */

static void start_ap(void)
{
	uint8_t *low = (uint8_t *)0x8000;
	for (long i = 0; i < trampoline_end - trampoline_start; i++)
		low[i] = (uint8_t)trampoline_start[i];
	ap_stack_top = (uint64_t)(ap_stack + sizeof(ap_stack));
	LAPIC[0xf0 / 4] = 0x1ff;		/* spurious vector register: enable */
	LAPIC[0x300 / 4] = 0xc4500;		/* INIT to all excluding self */
	delay(10000);
	for (int i = 0; i < 2; i++) {
		LAPIC[0x300 / 4] = 0xc4608;	/* SIPI, vector 0x08: start at 0x8000 */
		delay(200);
	}
	for (unsigned long spin = 0; spin < 2000000000ul && !__atomic_load_n(&ap_done, __ATOMIC_ACQUIRE); spin++)
		asm volatile("pause");
}

/* --- boot ---------------------------------------------------------------------------- */
static int failed;

static void ktap(int n, bool ok, const char *name)
{
	puts_(ok ? "ok " : "not ok "); put_u(n); putc_(' '); puts_(name); putc_('\n');
	failed |= !ok;
}

static char cmdline[256];
static uint8_t rom_buf[PVPATCH_ROM_BUF_SIZE];
static struct pvpatch pv;
static struct pvpatch_negotiation neg;
static uint64_t pml4_copy[512] __attribute__((aligned(4096)));

void kmain(void)
{
	const uint32_t *mbi = (const uint32_t *)(uintptr_t)mb_info;
	if (mbi[0] & 4)				/* copy the command line before anything moves */
		for (int i = 0; i < 255 && ((const char *)(uintptr_t)mbi[4])[i]; i++)
			cmdline[i] = ((const char *)(uintptr_t)mbi[4])[i];
	outb(COM1 + 3, 0x80); outb(COM1, 1); outb(COM1 + 1, 0); outb(COM1 + 3, 3);	/* 115200 8N1 */
	outb(0x21, 0xff); outb(0xa1, 0xff);	/* mask the PICs: sti takes no interrupt */
	idt_init();
	puts_("KTAP version 1\n1.."); put_u(NTESTS); putc_('\n');

	/* Patch: text is writable (identity mapped RW), interrupts off, one CPU. */
	pv.text_start = (uintptr_t)__text_start;
	pv.text_end = (uintptr_t)__text_end;
	const struct pvpatch_env env = {
		.cmdline = cmdline, .print = diag, .inb = inb, .outw = outw,
		.probe_vmport = true, .rom_buf = rom_buf, .rom_size = sizeof(rom_buf),
	};
	int rc = pvpatch_boot(&pv, &env, &neg);
	const struct pvpatch_report *r = &neg.report;
	unsigned long nsites = (unsigned long)(__pvpatch_sites_end - __pvpatch_sites_start);
	ktap(1, rc == 0 && r->sites == nsites && r->invalid == 0 && nsites >= 10, "pvpatch_boot");
	puts_("# policy "); puts_(neg.source); puts_(" sites "); put_u(r->sites);
	puts_(" native "); put_u(r->mode[PVPATCH_MODE_NATIVE]); puts_(" nop "); put_u(r->mode[PVPATCH_MODE_NOP]);
	puts_(" inline "); put_u(r->mode[PVPATCH_MODE_INLINE]); puts_(" call "); put_u(r->mode[PVPATCH_MODE_CALL]);
	puts_(" fallbacks "); put_u(r->fallbacks); putc_('\n');
	bool calls = r->mode[PVPATCH_MODE_CALL] != 0;
	ktap(2, r->fallbacks == 0 && r->mode[0] + r->mode[1] + r->mode[2] + r->mode[3] == nsites, "policy applied");

	unsigned long before = backend_calls;
	ktap(3, check_irq(), "irq_disable clears IF");
	ktap(4, check_flags(), "save_fl restore_fl");
	unsigned long cr3 = pv_read_cr3();
	for (int i = 0; i < 512; i++)
		pml4_copy[i] = pml4[i];
	pv_write_cr3((uintptr_t)pml4_copy);	/* really loads it: the raw register agrees */
	bool moved = raw_cr3() == (uintptr_t)pml4_copy && pv_read_cr3() == (uintptr_t)pml4_copy;
	pv_write_cr3(cr3);
	ktap(5, moved && cr3 == raw_cr3() && pv_read_cr3() == cr3, "cr3 round trip");
	uint32_t id;
	ktap(6, check_cpuid(&id), "cpuid");
	pv_io_delay();
	ktap(7, calls ? backend_calls - before >= 9 : backend_calls == before, "backends called iff CALL");

	start_ap();
	bool ap = ap_done && ap_ok_irq && ap_ok_flags && ap_ok_cpuid && ap_apic_id != id &&
		  ap_cr3 == cr3 && ap_cr3_asm == cr3 && ap_hash == sites_hash() &&
		  (calls ? ap_calls >= 9 : ap_calls == 0);
	if (!ap) {
		puts_("# ap: done "); put_u(ap_done); puts_(" irq "); put_u(ap_ok_irq); puts_(" flags ");
		put_u(ap_ok_flags); puts_(" cpuid "); put_u(ap_ok_cpuid); puts_(" calls "); put_u(ap_calls);
		putc_('\n');
	}
	ktap(8, ap, "second CPU ran its ops on the patched text");
	qemu_exit(failed ? 1 : 0);
}
