# SPDX-License-Identifier: GPL-2.0-only OR MIT
# pvpatch top-level Makefile.  `make V=1` shows full commands.

MAKEFLAGS += -r

ifeq ($(V),1)
Q :=
else
Q := @
MAKEFLAGS += --no-print-directory
endif

.DEFAULT_GOAL := all
PVPATCH_DIR := .
B := build
PVPATCH_BUILD := $(B)
PVPATCH_WARN = $(CWARN)
# The guest's code (and so its CALL backends) is built as Linux builds a
# kernel: 8-byte stack alignment, no SSE (mk/guest.mk): nothing realigns.
PVPATCH_KERNEL_CFLAGS := -mpreferred-stack-boundary=3
include pvpatch.mk
PYTHON := $(PVPATCH_PYTHON)

CC ?= gcc
WERROR ?= 1
CWARN := -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror)
# Kernel-style code generation for everything that carries sites.
KCFLAGS := -ffreestanding -fno-pie -fno-stack-protector -mno-red-zone $(CWARN)

quiet = $(if $(Q),@printf '  %-7s %s\n' $(1) $(2))

DEPS_STAMP := $(B)/.deps-ok

.PHONY: all deps check demo clean sites units guest tools examples
all: sites units guest bench-build tools fuzz-build examples

# Install (as root) or name the missing Debian packages.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/install-deps.sh
	$(Q)./scripts/install-deps.sh
	$(Q)mkdir -p $(B) && touch $@

# --- the site test objects: every op, three optimisation levels -----------
SITE_OPTS := O0 O2 Os
SITE_OBJS := $(foreach o,$(SITE_OPTS),$(B)/tests/sites/callsites-$(o).o) \
             $(B)/tests/sites/callsites-asm.o
SITE_ELF := $(B)/tests/sites/callsites.elf
SITE_NATIVE_OBJ := $(B)/tests/sites/callsites-native-O2.o

# Functions with known live sets for the liveness pass (linked, not widened:
# tests/tools/test_liveness.py runs the pass on copies).
LIVENESS_ELF := $(B)/tests/sites/liveness.elf

# Plain C backends with known write sets (tests/tools/test_backend_writes.py
# runs the pass on copies): kernel code, no SSE, but for one file.
BACKENDS_ELF := $(B)/tests/sites/backends.elf

sites: $(SITE_OBJS) $(SITE_ELF) $(SITE_NATIVE_OBJ) $(LIVENESS_ELF) $(BACKENDS_ELF)

$(B)/tests/sites/callsites-%.o: tests/sites/callsites.c $(PVPATCH_GEN_STAMP)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -$* $(KCFLAGS) $(PVPATCH_CFLAGS) -MD -MP -c $< -o $@

$(SITE_NATIVE_OBJ): tests/sites/callsites.c $(PVPATCH_GEN_STAMP)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 $(KCFLAGS) $(PVPATCH_NATIVE_CFLAGS) -MD -MP -c $< -o $@

# Static pattern: callsites-asm.o would also match callsites-%.o above.
SITE_ASM_OBJS := $(patsubst tests/sites/%.S,$(B)/tests/sites/%.o,$(wildcard tests/sites/*.S))
$(SITE_ASM_OBJS): $(B)/tests/sites/%.o: tests/sites/%.S $(PVPATCH_GEN_STAMP)
	$(call quiet,AS,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(PVPATCH_CFLAGS) -MD -MP -c $< -o $@

$(LIVENESS_ELF): $(B)/tests/sites/liveness.o $(B)/tests/sites/liveness-noopt.o
	$(call quiet,LD,$@)
	$(Q)$(LD) -static -nostdlib -e 0 -o $@ $^

$(B)/tests/sites/backends.o: tests/sites/backends.c $(PVPATCH_GEN_STAMP)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 $(KCFLAGS) -mgeneral-regs-only $(PVPATCH_CFLAGS) -MD -MP -c $< -o $@

$(B)/tests/sites/backends-sse.o: tests/sites/backends-sse.c $(PVPATCH_GEN_STAMP)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 $(KCFLAGS) -msse2 $(PVPATCH_CFLAGS) -MD -MP -c $< -o $@

$(BACKENDS_ELF): $(B)/tests/sites/backends.o $(B)/tests/sites/backends-sse.o
	$(call quiet,LD,$@)
	$(Q)$(LD) -static -nostdlib -e 0 -o $@ $^

$(SITE_ELF): $(B)/tests/sites/callsites-O2.o $(B)/tests/sites/callsites-asm.o
	$(call quiet,LD,$@)
	$(Q)$(LD) -static -nostdlib -e 0 -o $@ $^

# --- unit tests (hosted builds of the runtime) ------------------------------
UNIT_BINS :=
include mk/insn.mk
include mk/patcher.mk
FUZZ_BINS :=
include mk/fuzz.mk
include mk/guest.mk
include mk/bench.mk
include mk/tools.mk
include mk/csmith.mk
units: $(UNIT_BINS) insn-tests

# --- examples/minimal: an adopter kernel built only through pvpatch.mk ------
# Its own make, as any kernel's: nothing of this Makefile leaks into it.
EXAMPLES_B := $(abspath $(B))/examples
examples:
	$(Q)$(MAKE) -C examples/minimal O=$(EXAMPLES_B)/minimal WERROR=$(WERROR)

# --- tests ------------------------------------------------------------------
# make check and make demo build on every core unless make was given -j.
BUILD_JOBS = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 1))

check: $(DEPS_STAMP)
	$(Q)$(MAKE) $(BUILD_JOBS) all
	$(Q)$(PYTHON) -m pytest -q -n 2 --dist loadscope $(PYTEST_ARGS) tests

# DEMO_ARGS: tools/pvdemo's options, e.g. --json (then stdout is the JSON
# object alone: the build's output goes to stderr).
# The figures also go to $(DEMO_B)/demo.json, from which tools/pvreport
# writes $(DEMO_B)/report.html (with the hosted benchmark's ratios when a
# `make bench BENCH_ARGS=--json` left $(BENCH_JSON)); the report is written
# even when a boot failed, and make demo then fails after it.
DEMO_JSON = $(filter --json,$(DEMO_ARGS))
DEMO_B := $(B)/demo
demo: $(DEPS_STAMP)
	$(Q)$(MAKE) $(BUILD_JOBS) --no-print-directory all $(if $(DEMO_JSON),>&2)
	$(Q)$(if $(DEMO_JSON),:,$(PYTHON) tools/pvsites stats $(GUEST_ELF) | head -1)
	$(Q)mkdir -p $(DEMO_B) && rm -f $(DEMO_B)/demo.json
	$(Q)$(PYTHON) tools/pvdemo $(DEMO_ARGS) --save-json $(DEMO_B)/demo.json $(GUEST_ELF32); \
	rc=$$?; [ -s $(DEMO_B)/demo.json ] || exit $$rc; \
	$(PYTHON) tools/pvreport -o $(DEMO_B)/report.html \
		$(if $(wildcard $(BENCH_JSON)),--bench $(BENCH_JSON)) $(DEMO_B)/demo.json || exit 1; \
	echo "report: $(DEMO_B)/report.html$(if $(wildcard $(BENCH_JSON)),, (no hosted bench: make bench BENCH_ARGS=--json adds it))" \
		$(if $(DEMO_JSON),>&2); exit $$rc

clean:
	$(call quiet,CLEAN,$(B))
	$(Q)rm -rf $(B)

DEPFILES := $(shell find $(B) -name '*.d' 2>/dev/null)
$(DEPFILES): ;
-include $(DEPFILES)
