// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The pvpatch test guest: boots (multiboot), negotiates with the
 * hypervisor, patches itself, then runs the in-guest tests (KTAP) and the
 * benchmarks, and leaves QEMU with a status that says how it went.
 */
#include "console.h"
#include "guest.h"
#include "idt.h"
#include "io.h"
#include "smp.h"

struct boot_info boot;
extern uint32_t mb_magic, mb_info;

struct multiboot_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4], mmap_length, mmap_addr;
};

struct multiboot_mmap {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

/*
 * Installed RAM per the boot loader's memory map: the end of the highest
 * usable region below 4 GiB, plus what the firmware reserved right after it
 * (QEMU keeps the top 128 KiB of RAM for its tables), below the PCI hole.
 */
static uint64_t ram_from_mmap(uintptr_t addr, uint32_t length)
{
	uint64_t top = 0;
	bool grew = true;

	for (uintptr_t p = addr; p < addr + length;) {
		const struct multiboot_mmap *m = (const void *)p;

		if (m->type == 1 && m->addr + m->len <= 0x100000000ull && m->addr + m->len > top)
			top = m->addr + m->len;
		p += m->size + 4;
	}
	while (grew) {
		grew = false;
		for (uintptr_t p = addr; p < addr + length;) {
			const struct multiboot_mmap *m = (const void *)p;

			if (m->addr == top && m->len && m->addr + m->len <= 0xc0000000ull) {
				top += m->len;
				grew = true;
			}
			p += m->size + 4;
		}
	}
	return top;
}

static void boot_info_read(void)
{
	const struct multiboot_info *mbi = (const void *)(uintptr_t)mb_info;

	if (mb_magic != 0x2badb002)
		panic("not booted by a multiboot loader (magic 0x%x)", mb_magic);
	if (mbi->flags & 1)
		boot.mem_bytes = ((uint64_t)mbi->mem_upper + 1024) * 1024;
	boot.cmdline = (mbi->flags & 4) ? (const char *)(uintptr_t)mbi->cmdline : "";
	if (mbi->flags & 0x40)
		boot.mem_bytes = ram_from_mmap(mbi->mmap_addr, mbi->mmap_length);
}

void kmain(void);

void kmain(void)
{
	console_init();
	boot_info_read();
	kprintf("pvpatch guest: cmdline '%s'\n", boot.cmdline);
	cmdline_parse(boot.cmdline);
	idt_init();
	apic_init();
	pit_irq_init();
	pvsetup();
	pv_eoi_enable();
	smp_boot();
	kprintf("pvpatch guest: hypervisor %s '%s', KVM features 0x%x, vmport %d gethz %d, "
		"PV EOI %s\n", hv_name(), neg.facts.signature, neg.facts.kvm_features,
		neg.facts.vmport, neg.facts.vmport_gethz, pv_eoi.enabled ? "on" : "off");
	ktap_run();
	workload_run();
	repatch_run();
	if (cmd.bench)
		bench_run(cmd.bench);
	guest_exit(ktap_failures() ? EXIT_FAIL : EXIT_PASS);
}
