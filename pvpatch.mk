# pvpatch make fragment: include it from a kernel's Makefile.
#
#   PVPATCH_DIR   := path/to/pvpatch          (required)
#   PVPATCH_BUILD := $(O)/pvpatch             (default: $(PVPATCH_DIR)/build)
#   PVPATCH_SPEC  := my/pvops.spec            (default: the shipped spec)
#   include $(PVPATCH_DIR)/pvpatch.mk
#
# It provides:
#   $(PVPATCH_GEN_STAMP)   target that (re)generates headers from the spec
#   $(PVPATCH_CFLAGS)      flags for code calling pv_<op>() (framework build)
#   $(PVPATCH_NATIVE_CFLAGS) the same, framework-free (plain native ops)
#   $(PVPATCH_RUNTIME_SRCS) the runtime patcher's C sources (freestanding): compile
#                          them with your kernel's flags plus $(PVPATCH_RUNTIME_CFLAGS)
#   $(PVPATCH_PYTHON)      the interpreter that sees Debian's Python packages
# Make every object that includes asm/pvops-gen.h depend on $(PVPATCH_GEN_STAMP).

PVPATCH_BUILD ?= $(PVPATCH_DIR)/build
PVPATCH_SPEC ?= $(PVPATCH_DIR)/arch/x86/pvops.spec
PVPATCH_PYTHON ?= /usr/bin/python3
PVPATCH_GEN := $(PVPATCH_BUILD)/gen
PVPATCH_GEN_STAMP := $(PVPATCH_GEN)/.stamp

# -mno-red-zone: any site may become a call, which pushes below %rsp.
PVPATCH_CFLAGS = -mno-red-zone -I$(PVPATCH_DIR)/include -I$(PVPATCH_GEN)/include
# The framework-free headers come first; asm/pvpatch-abi.h is shared.
PVPATCH_NATIVE_CFLAGS = -mno-red-zone -I$(PVPATCH_DIR)/include -I$(PVPATCH_GEN)/native/include \
	-I$(PVPATCH_GEN)/include

PVPATCH_RUNTIME_SRCS := $(addprefix $(PVPATCH_DIR)/arch/x86/alternatives/, \
	patch.c emit.c call.c template.c encode.c poke.c report.c insn.c rom.c) \
	$(filter-out %/boot.c,$(wildcard $(PVPATCH_DIR)/arch/x86/negotiate/*.c)) \
	$(PVPATCH_GEN)/src/pvops-table.c
# The boot call: needs the linker fragments' symbols (kernels only).
PVPATCH_BOOT_SRCS := $(PVPATCH_DIR)/arch/x86/negotiate/boot.c
PVPATCH_RUNTIME_CFLAGS = $(PVPATCH_CFLAGS) -I$(PVPATCH_DIR)/arch/x86/alternatives

PVPATCH_GEN_SRCS := $(wildcard $(PVPATCH_DIR)/gen/pvgen $(PVPATCH_DIR)/gen/pvops/*.py)

$(PVPATCH_GEN)/src/pvops-table.c: $(PVPATCH_GEN_STAMP)

$(PVPATCH_GEN_STAMP): $(PVPATCH_SPEC) $(PVPATCH_GEN_SRCS)
	$(if $(Q),@printf '  %-7s %s\n' GEN $(PVPATCH_SPEC))
	$(Q)$(PVPATCH_PYTHON) $(PVPATCH_DIR)/gen/pvgen $(PVPATCH_SPEC) -o $(PVPATCH_GEN)
	$(Q)touch $@
