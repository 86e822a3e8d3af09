# A libFuzzer target over the runtime patcher: site records, templates,
# policies and overrides built from the fuzzer's input, every write and every
# report checked (tests/fuzz/fuzz-patch.c).  Included by the top-level
# Makefile, which defines B, Q, CWARN, quiet and, through pvpatch.mk,
# PVPATCH_RUNTIME_SRCS, PVPATCH_RUNTIME_CFLAGS and PVPATCH_GEN_STAMP.
#
#   make fuzz-build   the fuzzer, $(FUZZ_BIN)
#   make fuzz-smoke   the bounded run of `make check`: fixed seed, fixed
#                     number of runs, over a fresh copy of the seed corpus
#   make fuzz         a long run (FUZZ_TIME seconds, default 600) growing the
#                     work corpus $(FUZZ_B)/corpus; crashes go to
#                     $(FUZZ_B)/artifacts/.  Extra libFuzzer flags: FUZZ_FLAGS=
#
# Reproduce a crash: $(FUZZ_BIN) FILE (FUZZ_PATCH_VERBOSE=1 shows the
# records and reports).
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

FUZZ_BINS += $(FUZZ_BIN)

.PHONY: fuzz-build fuzz fuzz-smoke

fuzz-build: $(FUZZ_BIN)

define FUZZ_CC_RULE
$(FUZZ_B)/obj/$(notdir $(1:.c=.o)): $(1) $(PVPATCH_GEN_STAMP) mk/fuzz.mk
	$$(call quiet,CC,$$@)
	$(Q)mkdir -p $$(dir $$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MD -c $$< -o $$@
endef
$(foreach s,$(FUZZ_SRCS),$(eval $(call FUZZ_CC_RULE,$(s))))

$(FUZZ_BIN): $(FUZZ_OBJS)
	$(call quiet,LD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) $^ -o $@

fuzz-smoke: $(FUZZ_BIN)
	$(Q)rm -rf $(FUZZ_B)/smoke && mkdir -p $(FUZZ_B)/smoke/corpus
	$(Q)cp $(FUZZ_SEEDS) $(FUZZ_B)/smoke/corpus/
	$(Q)$(FUZZ_BIN) $(FUZZ_COMMON) -seed=1 -runs=$(FUZZ_SMOKE_RUNS) \
		-artifact_prefix=$(FUZZ_B)/smoke/ $(FUZZ_FLAGS) $(FUZZ_B)/smoke/corpus

fuzz: $(FUZZ_BIN)
	$(Q)mkdir -p $(FUZZ_B)/corpus $(FUZZ_B)/artifacts
	$(Q)for f in $(FUZZ_SEEDS); do \
		[ -e $(FUZZ_B)/corpus/$${f##*/} ] || cp $$f $(FUZZ_B)/corpus/ || exit 1; \
	done
	$(Q)$(FUZZ_BIN) $(FUZZ_COMMON) -max_total_time=$(FUZZ_TIME) \
		-artifact_prefix=$(FUZZ_B)/artifacts/ $(FUZZ_FLAGS) $(FUZZ_B)/corpus

-include $(wildcard $(FUZZ_B)/obj/*.d)
