# SPDX-License-Identifier: GPL-2.0-only OR MIT
# The csmith differential of poison mode (tests/csmith/): random C programs
# with a site in every block, poisoned against unpoisoned.  Not part of
# `make check` (each program is compiled and run six times: about 10 s per
# seed on this machine).  Included by the top-level Makefile.
#
#   make csmith                 CSMITH_SEEDS=5 CSMITH_FIRST=1 CSMITH_TIMEOUT=5

CSMITH_B := $(B)/tests/csmith
CSMITH_SEEDS ?= 5
CSMITH_FIRST ?= 1
CSMITH_TIMEOUT ?= 5

$(CSMITH_B)/harness.o: tests/csmith/harness.c $(PVPATCH_GEN_STAMP)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(BENCH_RT_CFLAGS) -fno-pie -c $< -o $@

# The runtime as the hosted benchmark builds it (optimised, no sanitizers).
.PHONY: csmith
csmith: $(CSMITH_B)/harness.o $(BENCH_RT_OBJS)
	$(Q)$(PYTHON) tests/csmith/differential.py --cc "$(CC)" \
		--cflags "$(PVPATCH_CFLAGS)" --liveness "$(PVPATCH_LIVENESS)" \
		--seeds $(CSMITH_SEEDS) --first-seed $(CSMITH_FIRST) --timeout $(CSMITH_TIMEOUT) \
		--link $(CSMITH_B)/harness.o $(BENCH_RT_OBJS) tests/unit/patcher/hosted.lds
