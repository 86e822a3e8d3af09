# SPDX-License-Identifier: GPL-2.0-only OR MIT
# The test guest kernel (tests/guest/), built as an adopting kernel builds
# pvpatch: through pvpatch.mk's variables, $(PVPATCH_OBJ) and the linker
# fragments only.  QEMU's multiboot loader takes 32-bit ELF files, so the
# 64-bit kernel is also copied as one.

GUEST_B := $(B)/tests/guest
GUEST_ELF := $(GUEST_B)/guest.elf
GUEST_ELF32 := $(GUEST_B)/guest32.elf

GUEST_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-pie -fno-stack-protector \
	-mno-red-zone -mno-sse -mno-mmx -mno-80387 -fno-asynchronous-unwind-tables \
	-fno-omit-frame-pointer $(PVPATCH_KERNEL_CFLAGS) $(CWARN)

GUEST_C := main console lib idt apic native cmdline pvsetup backends smp live \
	tests workload bench
GUEST_S := boot isr retpoline workload trampoline
GUEST_OBJS := $(patsubst %,$(GUEST_B)/%.o,$(GUEST_C)) \
	$(patsubst %,$(GUEST_B)/%-s.o,$(GUEST_S)) \
	$(GUEST_B)/bench-ops-pv.o $(GUEST_B)/bench-ops-native.o \
	$(GUEST_B)/bench-pvops-ind.o $(GUEST_B)/bench-pvops-ret.o

# The runtime, the built-in profiles ($(PVPATCH_PROFILES)) and the linker
# fragments come from pvpatch.mk.
$(GUEST_OBJS): | $(PVPATCH_PROFILES_H)

$(GUEST_B)/%.o: tests/guest/%.c $(PVPATCH_GEN_STAMP)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(GUEST_CFLAGS) $(PVPATCH_CFLAGS) -MD -MP -c $< -o $@

$(GUEST_B)/%-s.o: tests/guest/%.S $(PVPATCH_GEN_STAMP)
	$(call quiet,AS,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(PVPATCH_CFLAGS) -MD -MP -c $< -o $@

$(GUEST_B)/bench-ops-pv.o: tests/guest/bench-ops.c $(PVPATCH_GEN_STAMP)
	$(call quiet,CC,$@)
	$(Q)$(CC) $(GUEST_CFLAGS) $(PVPATCH_CFLAGS) -MD -MP -c $< -o $@

# The framework-free build of the same source.
$(GUEST_B)/bench-ops-native.o: tests/guest/bench-ops.c $(PVPATCH_GEN_STAMP)
	$(call quiet,CC,$@)
	$(Q)$(CC) $(GUEST_CFLAGS) $(PVPATCH_NATIVE_CFLAGS) -DBENCH_NATIVE -MD -MP -c $< -o $@

$(GUEST_B)/bench-pvops-ind.o: tests/guest/bench-pvops.c
	$(call quiet,CC,$@)
	$(Q)$(CC) $(GUEST_CFLAGS) -MD -MP -c $< -o $@

$(GUEST_B)/bench-pvops-ret.o: tests/guest/bench-pvops.c
	$(call quiet,CC,$@)
	$(Q)$(CC) $(GUEST_CFLAGS) -DBENCH_RETPOLINE -mindirect-branch=thunk-extern -MD -MP -c $< -o $@

# Room for pre-patched copies (tools/pvrom image; tests/tools/test_pvrom_image.py).
$(GUEST_ELF): PVPATCH_IMAGE := 1
# One RWX segment on purpose: the guest runs identity-mapped without page
# protection and pvpatch's early poke writes its text in place.
# The liveness pass widens the records in place after the link, as any
# adopter's link rule runs it (pvpatch.mk's $(PVPATCH_LIVENESS)).
$(GUEST_ELF): $(GUEST_OBJS) $(PVPATCH_OBJ) tests/guest/kernel.lds $(PVPATCH_LDS) \
		$(PVPATCH_LIVENESS_DEPS)
	$(call quiet,LD,$@)
	$(Q)$(LD) -nostdlib -static --no-warn-rwx-segments $(PVPATCH_LDFLAGS) \
		-T tests/guest/kernel.lds -o $@ \
		$(GUEST_OBJS) $(PVPATCH_OBJ)
	$(Q)$(PVPATCH_LIVENESS) $@

$(GUEST_ELF32): $(GUEST_ELF)
	$(call quiet,OBJCOPY,$@)
	$(Q)objcopy -O elf32-i386 $< $@

guest: $(GUEST_ELF32)
