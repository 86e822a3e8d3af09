# SPDX-License-Identifier: GPL-2.0-only OR MIT
# The x86-64 instruction decoder (arch/x86/alternatives/insn.c) and its
# hosted tests.  Included by the top-level Makefile; also usable alone,
# `make -f mk/insn.mk`, which is how tests/unit/test_insn.py builds it.
#
# Outputs, under $(B)/tests/unit/insn/:
#   insn-selftest   known encodings decode to known lengths and fields
#   insn-diff       length comparison against a reference disassembler,
#                   driven by tests/unit/insn/difftest.py
#   insn-ref        objdump's output -> the reference file insn-diff reads
#   insn-kernel.o   insn.c compiled the way the kernel compiles it; the
#                   tests check that it needs no symbol from outside
#
# The hosted programs run with AddressSanitizer and UBSan: the decoder reads
# untrusted bytes, and a read past `avail` must fail the test, not pass by
# luck.

B ?= build
CWARN ?= -Wall -Wextra -Werror
quiet ?= $(if $(Q),@printf '  %-7s %s\n' $(1) $(2))

INSN_SRC := arch/x86/alternatives/insn.c
INSN_B := $(B)/tests/unit/insn
INSN_SELFTEST := $(INSN_B)/insn-selftest
INSN_DIFF := $(INSN_B)/insn-diff
INSN_REF := $(INSN_B)/insn-ref
INSN_KOBJ := $(INSN_B)/insn-kernel.o

# insn.c must stay strict C99 and freestanding: build it so, once as the
# kernel would (no SSE, no red zone, kernel code model) and once for tests.
INSN_STD := -std=c99 -pedantic
INSN_KCFLAGS := $(INSN_STD) -O2 -ffreestanding -fno-pie -fno-stack-protector \
		-mno-red-zone -mno-sse -mno-mmx -mno-80387 -mcmodel=kernel $(CWARN)
INSN_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer
INSN_HCFLAGS := -O2 -g $(INSN_SAN) $(CWARN) -Iarch/x86/alternatives

INSN_BINS := $(INSN_SELFTEST) $(INSN_DIFF) $(INSN_REF)
UNIT_BINS += $(INSN_BINS)

.PHONY: insn-tests
insn-tests: $(INSN_BINS) $(INSN_KOBJ)

# Alone (make -f mk/insn.mk), build just these.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := insn-tests
endif

$(INSN_KOBJ): $(INSN_SRC)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(INSN_KCFLAGS) -MD -MP -c $< -o $@

$(INSN_B)/insn.o: $(INSN_SRC)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(INSN_STD) $(INSN_HCFLAGS) -MD -MP -c $< -o $@

$(INSN_B)/%.o: tests/unit/insn/%.c
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(INSN_HCFLAGS) -MD -MP -c $< -o $@

# The kernel object is an order-only prerequisite so that building the
# tests proves the freestanding build still works.
$(INSN_SELFTEST): $(INSN_B)/insn-selftest.o $(INSN_B)/insn.o | $(INSN_KOBJ)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(INSN_SAN) $^ -o $@

$(INSN_DIFF): $(INSN_B)/insn-diff.o $(INSN_B)/insn.o | $(INSN_KOBJ)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(INSN_SAN) $^ -o $@

$(INSN_REF): $(INSN_B)/insn-ref.o
	$(call quiet,LD,$@)
	$(Q)$(CC) $(INSN_SAN) $^ -o $@

-include $(wildcard $(INSN_B)/*.d)
