# SPDX-License-Identifier: GPL-2.0-only OR MIT
# The hosted hardware benchmark (tests/bench/): cycles per op of patched
# sites against hand-written equivalents on the real CPU, and patching
# throughput.  Included by the top-level Makefile, which defines B, Q, CC,
# CWARN, quiet and (from pvpatch.mk) the PVPATCH_* variables.
#
#   make bench-build    build $(BENCH_BIN)
#   make bench          build and run it (human table); BENCH_ARGS=--json etc.
#                       (--json also leaves $(BENCH_JSON) for make demo's report)
#
# Optimised, no sanitizers, -no-pie (the patched CALL sites and thunks must be
# within rel32 of each other), -mno-red-zone for all code (any site may
# become a call).  One source, several objects: bench-ops.c with the
# framework headers and with the framework-free ones, bench-calls.c as a
# direct call, a pv_ops-style indirect call and its retpoline form,
# bench-backends.c as plain and as register-preserving backends.

ifndef PVPATCH_BENCH_MK
PVPATCH_BENCH_MK := 1

BENCH_SRC := tests/bench
BENCH_B := $(B)/tests/bench
BENCH_BIN := $(BENCH_B)/bench
BENCH_LDS := $(BENCH_SRC)/bench.lds
BENCH_ARGS ?=

# -fno-ipa-icf: the fw_<mode>_<op> copies of a loop are identical and must
# stay separate functions (each gets its own mode).  Aligned functions so
# that no variant wins or loses by where its loop happens to fall.
BENCH_CFLAGS := -std=gnu11 -O2 -g -fno-pie -mno-red-zone -fno-ipa-icf \
	-falign-functions=64 -falign-loops=32 $(CWARN)
BENCH_RT_CFLAGS = -std=gnu11 -O2 -g -ffreestanding -fno-stack-protector -fno-pie -mno-red-zone $(CWARN) $(PVPATCH_RUNTIME_CFLAGS)
BENCH_RETPOLINE_CFLAGS := -mindirect-branch=thunk-extern -mindirect-branch-register

BENCH_RT_OBJS := $(patsubst %.c,$(BENCH_B)/rt/%.o,$(notdir $(PVPATCH_RUNTIME_SRCS)))
BENCH_OBJS := $(addprefix $(BENCH_B)/,bench.o bench-throughput.o bench-backends.o \
	bench-backends-preserving.o bench-ops-fw.o bench-ops-fwp.o bench-ops-fwl.o bench-ops-fwo.o \
	bench-ops-native.o bench-lcs.o \
	bench-calls-direct.o bench-calls-directl.o bench-calls-directp.o bench-calls-indirect.o \
	bench-calls-retpoline.o bench-asm.o bench-mass.o)

.PHONY: bench bench-build
bench-build: $(BENCH_BIN)

# With --json the object is also kept in $(BENCH_JSON), where make demo's
# report (tools/pvreport) finds it.
BENCH_JSON := $(BENCH_B)/bench.json
bench: $(BENCH_BIN)
ifneq ($(filter --json,$(BENCH_ARGS)),)
	$(Q)$(BENCH_BIN) $(BENCH_ARGS) > $(BENCH_JSON).tmp; rc=$$?; cat $(BENCH_JSON).tmp; \
	if [ $$rc = 0 ]; then mv $(BENCH_JSON).tmp $(BENCH_JSON); else rm -f $(BENCH_JSON).tmp; fi; \
	exit $$rc
else
	$(Q)$(BENCH_BIN) $(BENCH_ARGS)
endif

# The runtime patcher, as a kernel would build it (freestanding: its byte
# loops stay loops, not libc calls) but hosted and optimised (explicit
# rules: no reliance on other fragments' vpath or patterns).
define bench_rt_rule
$(BENCH_B)/rt/$(basename $(notdir $(1))).o: $(1) $$(PVPATCH_GEN_STAMP)
	$$(call quiet,CC,$$@)
	$$(Q)mkdir -p $$(dir $$@)
	$$(Q)$$(CC) $$(BENCH_RT_CFLAGS) -MD -MP -c $$< -o $$@
endef
$(foreach s,$(PVPATCH_RUNTIME_SRCS),$(eval $(call bench_rt_rule,$(s))))

# One object of the benchmark: $(1) the object's name, $(2) its source,
# $(3) its flags.  bench.h includes <asm/pvpatch.h>: every C object needs
# the generated headers.
define bench_c_rule
$(BENCH_B)/$(1).o: $(BENCH_SRC)/$(2) $(BENCH_SRC)/bench.h $$(PVPATCH_GEN_STAMP)
	$$(call quiet,CC,$$@)
	$$(Q)mkdir -p $$(dir $$@)
	$$(Q)$$(CC) $$(BENCH_CFLAGS) $(3) -MD -MP -c $$< -o $$@
endef
$(eval $(call bench_c_rule,bench,bench.c,$$(PVPATCH_CFLAGS) -I$$(PVPATCH_DIR)/arch/x86/alternatives))
$(eval $(call bench_c_rule,bench-throughput,bench-throughput.c,$$(PVPATCH_CFLAGS)))
# The backends, plain and register-preserving, built as Linux builds a
# kernel's C code: no SSE, 8-byte stack alignment (what the harness's
# stack_align 8 tells the patcher; --stack-align 16 makes thunks realign).
BENCH_BACKEND_CFLAGS := -mgeneral-regs-only -mpreferred-stack-boundary=3
$(eval $(call bench_c_rule,bench-backends,bench-backends.c,\
	$$(PVPATCH_CFLAGS) $$(BENCH_BACKEND_CFLAGS)))
$(eval $(call bench_c_rule,bench-backends-preserving,bench-backends.c,\
	$$(PVPATCH_CFLAGS) $$(BENCH_BACKEND_CFLAGS) -DBENCH_PRESERVING))
$(eval $(call bench_c_rule,bench-ops-fw,bench-ops.c,$$(PVPATCH_CFLAGS) -DBENCH_FW))
$(eval $(call bench_c_rule,bench-ops-fwp,bench-ops.c,\
	$$(PVPATCH_CFLAGS) -DBENCH_FW -DBENCH_PRESERVING))
$(eval $(call bench_c_rule,bench-ops-fwl,bench-ops.c,\
	$$(PVPATCH_CFLAGS) -DBENCH_FW -DBENCH_CALL_LIVE))
$(eval $(call bench_c_rule,bench-ops-fwo,bench-ops.c,\
	$$(PVPATCH_CFLAGS) -DBENCH_FW -DBENCH_OPAQUE))
$(eval $(call bench_c_rule,bench-ops-native,bench-ops.c,$$(PVPATCH_NATIVE_CFLAGS)))
$(eval $(call bench_c_rule,bench-lcs,bench-lcs.c,$$(PVPATCH_CFLAGS)))
$(eval $(call bench_c_rule,bench-calls-direct,bench-calls.c,$$(PVPATCH_CFLAGS) -DBENCH_DIRECT))
$(eval $(call bench_c_rule,bench-calls-directl,bench-calls.c,\
	$$(PVPATCH_CFLAGS) -DBENCH_DIRECT_LIVE))
$(eval $(call bench_c_rule,bench-calls-directp,bench-calls.c,\
	$$(PVPATCH_CFLAGS) -DBENCH_DIRECT_PRESERVING))
$(eval $(call bench_c_rule,bench-calls-indirect,bench-calls.c,$$(PVPATCH_CFLAGS) -DBENCH_INDIRECT))
$(eval $(call bench_c_rule,bench-calls-retpoline,bench-calls.c,\
	$$(PVPATCH_CFLAGS) $$(BENCH_RETPOLINE_CFLAGS) -DBENCH_RETPOLINE))

$(BENCH_B)/bench-asm.o: $(BENCH_SRC)/bench-asm.S
	$(call quiet,AS,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -MD -MP -c $< -o $@

# 100,000 sites through the .inc macros: takes GNU as ~10 s, rebuilt only
# when the generated headers change.
$(BENCH_B)/bench-mass.o: $(BENCH_SRC)/bench-mass.S $(PVPATCH_GEN_STAMP)
	$(call quiet,AS,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(PVPATCH_CFLAGS) -MD -MP -c $< -o $@

# bench.lds names bench-mass.o: its records get their own bounds.  The
# liveness pass runs on the linked program as on any adopter's kernel
# ($(PVPATCH_LIVENESS), pvpatch.mk): the harness uses the masks it widened
# (and fails when the call-live sites did not get every call-clobbered
# register).  The 100,000 sites of bench-mass.S are .S sites that do not opt
# in: the pass reads but never widens them.
$(BENCH_BIN): $(BENCH_OBJS) $(BENCH_RT_OBJS) $(BENCH_LDS) $(PVPATCH_LIVENESS_DEPS)
	$(call quiet,LD,$@)
	$(Q)$(CC) -no-pie -Wl,-T,$(BENCH_LDS) $(filter %.o,$^) -lm -o $@.tmp
	$(call quiet,LIVE,$@)
	$(Q)$(PVPATCH_LIVENESS) $@.tmp
	$(Q)mv -f $@.tmp $@

endif
