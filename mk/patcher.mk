# SPDX-License-Identifier: GPL-2.0-only OR MIT
# The runtime patcher built two ways: as a kernel builds it (freestanding,
# proving it needs nothing from outside) and for hosted tests with
# AddressSanitizer and UBSan, patching and executing the test's own sites.
# Included by the top-level Makefile.

PATCHER_B := $(B)/tests/unit/patcher
PATCHER_KOBJ := $(PATCHER_B)/pvpatch-kernel.o
PATCHER_TEST := $(PATCHER_B)/test-patch

PATCHER_KCFLAGS := -std=gnu11 -O2 -ffreestanding -fno-pie -fno-stack-protector \
	-mno-red-zone -mno-sse -mno-mmx -mno-80387 -mcmodel=kernel $(CWARN)
PATCHER_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
PATCHER_HCFLAGS := -std=gnu11 -O2 -g -fno-pie -mno-red-zone $(PATCHER_SAN) $(CWARN) \
	$(PVPATCH_RUNTIME_CFLAGS)

PATCHER_KOBJS := $(patsubst %.c,$(PATCHER_B)/k/%.o,$(notdir $(PVPATCH_RUNTIME_SRCS)))
PATCHER_HOBJS := $(patsubst %.c,$(PATCHER_B)/h/%.o,$(notdir $(PVPATCH_RUNTIME_SRCS)))

UNIT_BINS += $(PATCHER_TEST)

vpath %.c arch/x86/alternatives arch/x86/negotiate $(PVPATCH_GEN)/src tests/unit/patcher

$(PATCHER_B)/k/%.o: %.c $(PVPATCH_GEN_STAMP)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(PATCHER_KCFLAGS) $(PVPATCH_RUNTIME_CFLAGS) -MD -MP -c $< -o $@

# One relocatable object, as a kernel links it: it must need no symbol
# from outside (the check is in tests/unit/test_patcher.py).
$(PATCHER_KOBJ): $(PATCHER_KOBJS)
	$(call quiet,LD,$@)
	$(Q)$(LD) -r -o $@ $^

$(PATCHER_B)/h/%.o: %.c $(PVPATCH_GEN_STAMP)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(PATCHER_HCFLAGS) -MD -MP -c $< -o $@

$(PATCHER_B)/h/sites-asm.o: tests/unit/patcher/sites-asm.S $(PVPATCH_GEN_STAMP)
	$(call quiet,AS,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(PVPATCH_CFLAGS) -c $< -o $@

# Register-preserving backends are kernel code: no SSE, no sanitizer calls,
# 8-byte stack alignment (the suite patches with stack_align 8).
$(PATCHER_B)/h/backends-preserve.o: tests/unit/patcher/backends-preserve.c $(PVPATCH_GEN_STAMP)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 -fno-pie -mgeneral-regs-only -mpreferred-stack-boundary=3 $(CWARN) \
		$(PVPATCH_CFLAGS) -c $< -o $@

$(PATCHER_TEST): $(PATCHER_HOBJS) $(PATCHER_B)/h/sites.o $(PATCHER_B)/h/sites-asm.o \
		 $(PATCHER_B)/h/backends-preserve.o \
		 $(PATCHER_B)/h/test-patch.o \
		 tests/unit/patcher/hosted.lds | $(PATCHER_KOBJ)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(PATCHER_SAN) -no-pie -Wl,-T,tests/unit/patcher/hosted.lds \
		$(filter %.o,$^) -lcmocka -o $@

# The same program after the liveness pass ($(PVPATCH_LIVENESS), as a
# kernel's link rule runs it): the suite must pass with widened masks too.
PATCHER_TEST_LIVE := $(PATCHER_B)/test-patch-live
UNIT_BINS += $(PATCHER_TEST_LIVE)

$(PATCHER_TEST_LIVE): $(PATCHER_TEST) $(PVPATCH_GEN_STAMP) $(PVPATCH_LIVENESS_DEPS)
	$(call quiet,LIVE,$@)
	$(Q)cp $< $@.tmp
	$(Q)$(PVPATCH_LIVENESS) $@.tmp
	$(Q)mv $@.tmp $@
