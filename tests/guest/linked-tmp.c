#include <asm/pvpatch-boot.h>
#define FAMILY(cls) \
	extern uint8_t __pvbackend_##cls##_start[], __pvbackend_##cls##_end[];
#define FAMILIES(X) X(irq) X(cpu) X(mmu) X(msr) X(time) X(io) X(apic) X(sched) X(mem) X(desc)
FAMILIES(FAMILY)
#define FAMILY_ENTRY(cls) { #cls, __pvbackend_##cls##_start, __pvbackend_##cls##_end },
const struct pvpatch_backend_family pvpatch_linked_families[] = { FAMILIES(FAMILY_ENTRY) };
const unsigned int pvpatch_nr_linked_families = 10;
