# SPDX-License-Identifier: GPL-2.0-only OR MIT
# Host helpers of the Python tools: pvrom-sim, the kernel's ROM parser and
# patcher built for the host (what `pvrom check` runs).

PVROM_SIM := $(B)/tools/pvrom-sim
# The runtime and the same built-in profiles the guest links.
PVROM_SIM_OBJS := $(patsubst %.c,$(B)/tools/rt/%.o,$(notdir $(PVPATCH_RUNTIME_SRCS) $(PVPATCH_PROFILES_C)))

$(B)/tools/rt/%.o: %.c $(PVPATCH_GEN_STAMP) | $(PVPATCH_PROFILES_H)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 -g $(CWARN) $(PVPATCH_RUNTIME_CFLAGS) -MD -MP -c $< -o $@

$(B)/tools/pvrom-sim.o: tools/sim/pvrom-sim.c $(PVPATCH_GEN_STAMP)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 -g $(CWARN) $(PVPATCH_RUNTIME_CFLAGS) -MD -MP -c $< -o $@

$(PVROM_SIM): $(B)/tools/pvrom-sim.o $(PVROM_SIM_OBJS)
	$(call quiet,LD,$@)
	$(Q)$(CC) $^ -o $@

tools: $(PVROM_SIM)
