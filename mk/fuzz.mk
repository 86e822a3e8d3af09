# SPDX-License-Identifier: GPL-2.0-only OR MIT
# libFuzzer targets:
#   fuzz-patch  the runtime patcher: site records, templates, policies and
#               overrides built from the fuzzer's input, every write and
#               every report checked (tests/fuzz/fuzz-patch.c)
#   fuzz-rom    the feature-ROM parser, and the policy it builds applied to
#               a text of valid sites: the template fitter
#               (tests/fuzz/fuzz-rom.c)
# Included by the top-level Makefile, which defines B, Q, CWARN, quiet and,
# through pvpatch.mk, PVPATCH_RUNTIME_SRCS, PVPATCH_RUNTIME_CFLAGS and
# PVPATCH_GEN_STAMP.
#
#   make fuzz-build       both fuzzers, $(FUZZ_BIN) and $(FUZZ_ROM_BIN)
#   make fuzz-smoke       the bounded runs of `make check` (fuzz-patch-smoke
#   make fuzz-rom-smoke   and fuzz-rom-smoke): fixed seed, fixed number of
#                         runs, over a fresh copy of the seed corpus
#   make fuzz             a long run of each (FUZZ_TIME seconds each, default
#                         600) growing the work corpora $(FUZZ_B)/corpus and
#                         $(FUZZ_B)/corpus-rom; crashes go to
#                         $(FUZZ_B)/artifacts/ and $(FUZZ_B)/artifacts-rom/.
#                         Extra libFuzzer flags: FUZZ_FLAGS=
#   make fuzz-patch-long, fuzz-rom-long: one of the two long runs
#
# Reproduce a crash: $(FUZZ_BIN) FILE (FUZZ_PATCH_VERBOSE=1 shows the
# records and reports), $(FUZZ_ROM_BIN) FILE (FUZZ_ROM_VERBOSE=1 shows the
# verdict, naming the input by size and CRC-32, and each site's mode).
#
# libFuzzer needs clang and its runtime (Debian: clang, libclang-rt-14-dev).

FUZZ_CC ?= clang
FUZZ_B := $(B)/tests/fuzz
FUZZ_BIN := $(FUZZ_B)/fuzz-patch
FUZZ_SEEDS_DIR := tests/fuzz/corpus
FUZZ_SEEDS := $(wildcard $(FUZZ_SEEDS_DIR)/*)
FUZZ_SAN := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) \
	$(CWARN) $(PVPATCH_RUNTIME_CFLAGS)
# The bounded run: about 40 s on this 2-core machine (under load), well under 2 min.
FUZZ_SMOKE_RUNS ?= 80000
FUZZ_TIME ?= 600
FUZZ_FLAGS ?=
FUZZ_COMMON := -max_len=4096 -print_final_stats=1

FUZZ_SRCS := $(PVPATCH_RUNTIME_SRCS) tests/fuzz/fuzz-patch.c
FUZZ_OBJS := $(foreach s,$(FUZZ_SRCS),$(FUZZ_B)/obj/$(notdir $(s:.c=.o)))

# The ROM fuzzer: the same runtime objects, its own target.
FUZZ_ROM_BIN := $(FUZZ_B)/fuzz-rom
FUZZ_ROM_SEEDS_DIR := tests/fuzz/corpus-rom
FUZZ_ROM_SEEDS := $(wildcard $(FUZZ_ROM_SEEDS_DIR)/*)
# The bounded run: about 30 s on this 2-core machine (under load).
FUZZ_ROM_SMOKE_RUNS ?= 60000
# With the built-in profiles: negotiation falls back to them.
FUZZ_ROM_OBJS := $(foreach s,$(PVPATCH_RUNTIME_SRCS),$(FUZZ_B)/obj/$(notdir $(s:.c=.o))) \
	$(FUZZ_B)/obj/pvprofiles.o $(FUZZ_B)/obj/fuzz-rom.o

FUZZ_BINS += $(FUZZ_BIN) $(FUZZ_ROM_BIN)

.PHONY: fuzz-build fuzz fuzz-smoke fuzz-patch-smoke fuzz-rom-smoke fuzz-patch-long fuzz-rom-long

fuzz-build: $(FUZZ_BIN) $(FUZZ_ROM_BIN)

define FUZZ_CC_RULE
$(FUZZ_B)/obj/$(notdir $(1:.c=.o)): $(1) $(PVPATCH_GEN_STAMP) mk/fuzz.mk
	$$(call quiet,CC,$$@)
	$(Q)mkdir -p $$(dir $$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MD -MP -c $$< -o $$@
endef
$(foreach s,$(FUZZ_SRCS) tests/fuzz/fuzz-rom.c $(PVPATCH_PROFILES_C),$(eval $(call FUZZ_CC_RULE,$(s))))

$(FUZZ_BIN): $(FUZZ_OBJS)
	$(call quiet,LD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) $^ -o $@

$(FUZZ_ROM_BIN): $(FUZZ_ROM_OBJS)
	$(call quiet,LD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) $^ -o $@

# $(call FUZZ_SMOKE,binary,seeds,runs,work dir)
define FUZZ_SMOKE
	$(Q)rm -rf $(4) && mkdir -p $(4)/corpus
	$(Q)cp $(2) $(4)/corpus/
	$(Q)$(1) $(FUZZ_COMMON) -seed=1 -runs=$(3) \
		-artifact_prefix=$(4)/ $(FUZZ_FLAGS) $(4)/corpus
endef

# $(call FUZZ_LONG,binary,seeds,corpus dir,artifacts dir)
define FUZZ_LONG
	$(Q)mkdir -p $(3) $(4)
	$(Q)for f in $(2); do \
		[ -e $(3)/$${f##*/} ] || cp $$f $(3)/ || exit 1; \
	done
	$(Q)$(1) $(FUZZ_COMMON) -max_total_time=$(FUZZ_TIME) \
		-artifact_prefix=$(4)/ $(FUZZ_FLAGS) $(3)
endef

fuzz-smoke: fuzz-patch-smoke fuzz-rom-smoke

fuzz-patch-smoke: $(FUZZ_BIN)
	$(call FUZZ_SMOKE,$(FUZZ_BIN),$(FUZZ_SEEDS),$(FUZZ_SMOKE_RUNS),$(FUZZ_B)/smoke)

fuzz-rom-smoke: $(FUZZ_ROM_BIN)
	$(call FUZZ_SMOKE,$(FUZZ_ROM_BIN),$(FUZZ_ROM_SEEDS),$(FUZZ_ROM_SMOKE_RUNS),$(FUZZ_B)/smoke-rom)

# One after the other (FUZZ_TIME each); fuzz-rom's run even if fuzz-patch's fails.
fuzz: $(FUZZ_BIN) $(FUZZ_ROM_BIN)
	$(Q)st=0; \
	$(MAKE) -f $(firstword $(MAKEFILE_LIST)) fuzz-patch-long || st=1; \
	$(MAKE) -f $(firstword $(MAKEFILE_LIST)) fuzz-rom-long || st=1; \
	exit $$st

fuzz-patch-long: $(FUZZ_BIN)
	$(call FUZZ_LONG,$(FUZZ_BIN),$(FUZZ_SEEDS),$(FUZZ_B)/corpus,$(FUZZ_B)/artifacts)

fuzz-rom-long: $(FUZZ_ROM_BIN)
	$(call FUZZ_LONG,$(FUZZ_ROM_BIN),$(FUZZ_ROM_SEEDS),$(FUZZ_B)/corpus-rom,$(FUZZ_B)/artifacts-rom)

-include $(wildcard $(FUZZ_B)/obj/*.d)
