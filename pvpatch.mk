# SPDX-License-Identifier: GPL-2.0-only OR MIT
# pvpatch make fragment: include it from a kernel's Makefile (docs/porting.md).
#
#   PVPATCH_DIR   := path/to/pvpatch          (required)
#   PVPATCH_BUILD := $(O)/pvpatch             (required: generated files and the
#                                              runtime's objects go there)
#   PVPATCH_SPEC  := my/pvops.spec            (default: the shipped spec)
#   PVPATCH_PROFILES := kvm-vt paravirt ...   built-in profiles: names of
#                     hypervisor-features/NAME.profile, or paths to .profile files
#   PVPATCH_CC    := $(CC)                    compiler for the runtime
#   PVPATCH_KERNEL_CFLAGS := -mcmodel=kernel  the kernel's code-generation flags
#                     (code model, -fcf-protection, ...); pvpatch's own
#                     freestanding flags come after them and win
#   PVPATCH_STACK_ALIGN := 8 | 16             the stack alignment the kernel's CALL
#                     backends assume at entry (default: 8 when
#                     PVPATCH_KERNEL_CFLAGS has -mpreferred-stack-boundary=3,
#                     as Linux's flags do, else the System V 16): 16 makes
#                     every CALL go through a thunk that realigns the stack
#   PVPATCH_IMAGE := 1                        reserve room (section .pvpatch.image)
#                     for tools/pvrom image to make pre-patched copies of the kernel
#   V=1                                       full commands
#   include $(PVPATCH_DIR)/pvpatch.mk
#
# It never changes the includer's default goal, and refuses an unset or
# unsafe PVPATCH_BUILD (/, a directory directly under /, a path with spaces).
#
# It provides:
#   $(PVPATCH_GEN_STAMP)   target that (re)generates headers and linker
#                          fragments from the spec into $(PVPATCH_GEN)
#   $(PVPATCH_CFLAGS)      flags for code calling pv_<op>() (framework build)
#   $(PVPATCH_NATIVE_CFLAGS) the same, framework-free (plain native ops)
#   $(PVPATCH_OBJ)         the whole runtime, one relocatable object: patcher,
#                          negotiation, op table, built-in profiles, backend
#                          families; compiled freestanding (no SSE/x87, no red
#                          zone, no stack protector) whatever the kernel's flags
#   $(PVPATCH_LDFLAGS)     -L for the linker fragments (and, with
#                          PVPATCH_IMAGE=1, the --defsym reserving room for a
#                          pre-patched image), which the kernel's script INCLUDEs:
#                            $(PVPATCH_LDS_TEXT)  inside its .text output section
#                            $(PVPATCH_LDS_DATA)  at SECTIONS level, before .bss
#                            $(PVPATCH_LDS_BSS)   inside its .bss output section
#                          ($(PVPATCH_LDS): their paths, to depend on)
#   $(PVPATCH_RUNTIME_SRCS) the hosted-safe runtime sources (patcher, negotiation
#                          core, op table) for hosted tests and tools, with
#                          $(PVPATCH_RUNTIME_CFLAGS); $(PVPATCH_PROFILES_C) and
#                          $(PVPATCH_PROFILES_H) are the built-in profiles
#   $(PVPATCH_PYTHON)      the interpreter that sees Debian's Python packages
#   $(PVPATCH_LIVENESS)    the liveness pass, a command: the kernel's link rule
#                          runs `$(PVPATCH_LIVENESS) $@` on its linked ELF
#                          (before objcopy), as Linux runs objtool; it widens
#                          each site's clobber mask in place by the registers
#                          dead after the site (tools/pvsites liveness).
#                          PVPATCH_LIVENESS := true turns it off;
#                          $(PVPATCH_LIVENESS_DEPS) are its files (for the
#                          link's prerequisites)
# Make every object that includes asm/pvops-gen.h depend on $(PVPATCH_GEN_STAMP).

ifndef PVPATCH_MK_INCLUDED
PVPATCH_MK_INCLUDED := 1

# Restored at the end: the rules below must not become the includer's goal.
PVPATCH_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

# --- what the includer must set ------------------------------------------------

ifeq ($(strip $(PVPATCH_DIR)),)
$(error pvpatch.mk: PVPATCH_DIR is not set: set it to the pvpatch source tree before including pvpatch.mk)
endif
ifneq ($(words $(PVPATCH_DIR)),1)
$(error pvpatch.mk: PVPATCH_DIR '$(PVPATCH_DIR)' contains spaces, which make cannot handle)
endif
ifeq ($(wildcard $(PVPATCH_DIR)/pvpatch.mk),)
$(error pvpatch.mk: PVPATCH_DIR '$(PVPATCH_DIR)' is not the pvpatch source tree (no pvpatch.mk there))
endif
ifeq ($(strip $(PVPATCH_BUILD)),)
$(error pvpatch.mk: PVPATCH_BUILD is not set: set it to a directory for pvpatch's generated files and objects, e.g. PVPATCH_BUILD := build/pvpatch)
endif
ifneq ($(words $(PVPATCH_BUILD)),1)
$(error pvpatch.mk: PVPATCH_BUILD '$(PVPATCH_BUILD)' contains spaces, which make cannot handle)
endif
# "/" or "/pvpatch": typically $(O)/pvpatch with O unset.
ifneq ($(filter 0 1,$(words $(subst /, ,$(abspath $(PVPATCH_BUILD))))),)
$(error pvpatch.mk: PVPATCH_BUILD '$(PVPATCH_BUILD)' is unsafe: / or a directory directly under / (is a variable in it, such as O, unset?))
endif
ifeq ($(abspath $(PVPATCH_BUILD)),$(abspath $(PVPATCH_DIR)))
$(error pvpatch.mk: PVPATCH_BUILD '$(PVPATCH_BUILD)' is the pvpatch source tree itself: give it a build directory)
endif

PVPATCH_SPEC ?= $(PVPATCH_DIR)/arch/x86/pvops.spec
PVPATCH_PYTHON ?= /usr/bin/python3
PVPATCH_CC ?= $(CC)
PVPATCH_LD ?= $(LD)
PVPATCH_KERNEL_CFLAGS ?=
PVPATCH_WARN ?= -Wall -Wextra
PVPATCH_PROFILES ?= bare-metal tcg kvm-vt kvm-pv vmware-backdoor paravirt

PVPATCH_Q := $(if $(filter 1,$(V)),,@)
pvpatch_quiet = $(if $(PVPATCH_Q),@printf '  %-7s %s\n' $(1) $(2))

# --- the generator ---------------------------------------------------------------

PVPATCH_GEN := $(PVPATCH_BUILD)/gen
PVPATCH_GEN_STAMP := $(PVPATCH_GEN)/.stamp
PVPATCH_GEN_SRCS := $(wildcard $(PVPATCH_DIR)/gen/pvgen $(PVPATCH_DIR)/gen/pvops/*.py)

# -mno-red-zone: any site may become a call, which pushes below %rsp.
PVPATCH_CFLAGS = -mno-red-zone -I$(PVPATCH_DIR)/include -I$(PVPATCH_GEN)/include
# The framework-free headers come first; asm/pvpatch-abi.h is shared.
PVPATCH_NATIVE_CFLAGS = -mno-red-zone -I$(PVPATCH_DIR)/include -I$(PVPATCH_GEN)/native/include \
	-I$(PVPATCH_GEN)/include

PVPATCH_LDS_TEXT := pvpatch-text.lds
PVPATCH_LDS_DATA := pvpatch-data.lds
PVPATCH_LDS_BSS := pvpatch-bss.lds
PVPATCH_LDS := $(addprefix $(PVPATCH_GEN)/lds/,$(PVPATCH_LDS_TEXT) $(PVPATCH_LDS_DATA) \
	$(PVPATCH_LDS_BSS))
# PVPATCH_IMAGE=1: room for tools/pvrom image (pvpatch-data.lds reads the symbol).
PVPATCH_LDFLAGS = -L$(PVPATCH_GEN)/lds \
	$(if $(filter 1,$(PVPATCH_IMAGE)),--defsym=__pvpatch_image_reserve=1)

$(PVPATCH_GEN)/src/pvops-table.c $(PVPATCH_GEN)/src/pvpatch-contract.c \
	$(PVPATCH_GEN)/src/pvpatch-linked.c $(PVPATCH_LDS): \
	$(PVPATCH_GEN_STAMP)

$(PVPATCH_GEN_STAMP): $(PVPATCH_SPEC) $(PVPATCH_GEN_SRCS)
	$(call pvpatch_quiet,GEN,$(PVPATCH_SPEC))
	$(PVPATCH_Q)$(PVPATCH_PYTHON) $(PVPATCH_DIR)/gen/pvgen $(PVPATCH_SPEC) -o $(PVPATCH_GEN)
	$(PVPATCH_Q)touch $@

# --- the liveness pass (tools/pvsites liveness) --------------------------------
# Rewrites the records of the file it is given in place (same size); warnings
# in objtool's format, exit 2 on unusable input, which stops the link rule.
PVPATCH_LIVENESS ?= $(PVPATCH_PYTHON) $(PVPATCH_DIR)/tools/pvsites liveness --gen $(PVPATCH_GEN) \
	$(if $(filter 1,$(V)),,--quiet)
# The pass's own files: a link rule may depend on them to redo the pass
# when pvpatch's tools change.
PVPATCH_LIVENESS_DEPS := $(PVPATCH_DIR)/tools/pvsites $(wildcard $(PVPATCH_DIR)/tools/pvlib/*.py)

# --- the built-in profiles: ROMs compiled from the same profile files ----------

PVPATCH_PROFILE_FILES := $(foreach p,$(PVPATCH_PROFILES),$(if $(or $(findstring /,$(p)),\
	$(filter %.profile,$(p))),$(p),$(PVPATCH_DIR)/hypervisor-features/$(p).profile))
PVPATCH_PROFILES_C := $(PVPATCH_GEN)/src/pvprofiles.c
PVPATCH_PROFILES_H := $(PVPATCH_GEN)/include/asm/pvprofiles.h

$(PVPATCH_PROFILES_C) $(PVPATCH_PROFILES_H) &: $(PVPATCH_PROFILE_FILES) \
		$(PVPATCH_DIR)/tools/pvrom $(wildcard $(PVPATCH_DIR)/tools/pvlib/*.py) \
		$(PVPATCH_GEN_STAMP)
	$(call pvpatch_quiet,PVROM,$(PVPATCH_PROFILES_C))
	$(PVPATCH_Q)$(PVPATCH_PYTHON) $(PVPATCH_DIR)/tools/pvrom cfile --gen $(PVPATCH_GEN) \
		$(PVPATCH_PROFILE_FILES) -o $(PVPATCH_PROFILES_C) --header $(PVPATCH_PROFILES_H)

# --- the runtime -------------------------------------------------------------------

PVPATCH_ALT_SRCS := $(sort $(wildcard $(PVPATCH_DIR)/arch/x86/alternatives/*.c))
PVPATCH_NEG_SRCS := $(sort $(wildcard $(PVPATCH_DIR)/arch/x86/negotiate/*.c))
# The sources that need the linker fragments' symbols: kernel only.
PVPATCH_BOOT_SRCS := $(filter %/boot.c,$(PVPATCH_NEG_SRCS))
PVPATCH_RUNTIME_SRCS := $(PVPATCH_ALT_SRCS) $(filter-out $(PVPATCH_BOOT_SRCS),$(PVPATCH_NEG_SRCS)) \
	$(PVPATCH_GEN)/src/pvops-table.c $(PVPATCH_GEN)/src/pvpatch-contract.c
PVPATCH_RUNTIME_CFLAGS = $(PVPATCH_CFLAGS) -I$(PVPATCH_DIR)/arch/x86/alternatives \
	$(if $(PVPATCH_NEG_SRCS),-I$(PVPATCH_DIR)/arch/x86/negotiate)

# Freestanding-safe whatever the kernel uses: its flags first, these win.
# -mgeneral-regs-only: no SSE/AVX/x87 (the kernel has not saved that state);
# -ffreestanding implies -fno-builtin.  Struct copies and clears are inlined
# (GCC's -mstringop-strategy; its tuning for some -march would otherwise call
# memcpy/memset) and loops are not turned into such calls, so the object
# needs nothing from the kernel but the fragments' symbols.  A compiler
# without -mstringop-strategy (clang) may call memcpy/memset: the kernel
# provides them then.
pvpatch_cc_option = $(shell $(PVPATCH_CC) -Werror $(1) -E -x c /dev/null >/dev/null 2>&1 && echo $(1))
PVPATCH_STRINGOP = $(eval PVPATCH_STRINGOP := $(call pvpatch_cc_option,-mstringop-strategy=rep_byte))$(PVPATCH_STRINGOP)
PVPATCH_OBJ_CFLAGS = $(PVPATCH_KERNEL_CFLAGS) -std=gnu11 -O2 -ffreestanding -fno-builtin \
	-fno-stack-protector -mno-red-zone -mgeneral-regs-only -fno-asynchronous-unwind-tables \
	-fno-pie -fno-tree-loop-distribute-patterns $(PVPATCH_STRINGOP) $(PVPATCH_WARN) \
	-DPVPATCH_STACK_ALIGN=$(pvpatch_stack_align_checked) $(PVPATCH_RUNTIME_CFLAGS)

# The stack alignment the kernel's backends assume (struct pvpatch.stack_align,
# which pvpatch_boot() sets from it): the kernel's last
# -mpreferred-stack-boundary=N (3: 8 bytes; 4 or none: 16).  Thunks and
# direct calls from sites both follow it (docs/porting.md, step 5).
pvpatch_stack_boundary = $(patsubst -mpreferred-stack-boundary=%,%,$(lastword \
	$(filter -mpreferred-stack-boundary=%,$(PVPATCH_KERNEL_CFLAGS))))
PVPATCH_STACK_ALIGN ?= $(if $(filter 3,$(pvpatch_stack_boundary)),8,16)
pvpatch_stack_align_checked = $(if $(filter-out 3 4,$(pvpatch_stack_boundary)),$(error \
	pvpatch.mk: PVPATCH_KERNEL_CFLAGS has -mpreferred-stack-boundary=$(pvpatch_stack_boundary): \
	pvpatch supports 3 (8 bytes) or 4 (16)))$(if $(filter-out 8 16,$(PVPATCH_STACK_ALIGN)),$(error \
	pvpatch.mk: PVPATCH_STACK_ALIGN '$(PVPATCH_STACK_ALIGN)' is neither 8 nor 16))$(PVPATCH_STACK_ALIGN)

PVPATCH_OBJ := $(PVPATCH_BUILD)/pvpatch.o
PVPATCH_OBJDIR := $(PVPATCH_BUILD)/obj
PVPATCH_OBJ_SRCS := $(PVPATCH_RUNTIME_SRCS) $(PVPATCH_BOOT_SRCS) $(PVPATCH_PROFILES_C) \
	$(PVPATCH_GEN)/src/pvpatch-linked.c
# One object per source, named after it (alternatives/x.c and negotiate/x.c
# must not share a name).
pvpatch_obj_of = $(PVPATCH_OBJDIR)/$(basename $(notdir $(1))).o
PVPATCH_OBJS := $(foreach s,$(PVPATCH_OBJ_SRCS),$(call pvpatch_obj_of,$(s))) \
	$(PVPATCH_OBJDIR)/gen-dir.o

define pvpatch_cc_rule
$(call pvpatch_obj_of,$(1)): $(1) $$(PVPATCH_GEN_STAMP) | $$(PVPATCH_PROFILES_H)
	$$(call pvpatch_quiet,CC,$(1))
	$$(PVPATCH_Q)mkdir -p $$(dir $$@)
	$$(PVPATCH_Q)$$(PVPATCH_CC) $$(PVPATCH_OBJ_CFLAGS) -MD -MP -c $$< -o $$@
endef
$(foreach s,$(PVPATCH_OBJ_SRCS),$(eval $(call pvpatch_cc_rule,$(s))))

# Where the tools find the generated description (tools/pvsites, pvrom):
# the path of $(PVPATCH_GEN), in a non-loaded section of the kernel ELF; and
# in another, one byte, the kernel's PVPATCH_STACK_ALIGN (tools/pvrom check
# and image patch as the kernel's pvpatch_boot() does).
$(PVPATCH_OBJDIR)/gen-dir.o: $(PVPATCH_GEN_STAMP) $(PVPATCH_DIR)/pvpatch.mk
	$(PVPATCH_Q)mkdir -p $(dir $@)
	$(PVPATCH_Q)printf '\t.section .pvpatch.gen, "", @progbits\n\t.asciz "%s"\n\t.section .pvpatch.stack_align, "", @progbits\n\t.byte %s\n\t.section .note.GNU-stack, "", @progbits\n' \
		'$(abspath $(PVPATCH_GEN))' '$(pvpatch_stack_align_checked)' | \
		$(PVPATCH_CC) -c -x assembler - -o $@

$(PVPATCH_OBJ): $(PVPATCH_OBJS)
	$(call pvpatch_quiet,LD,$@)
	$(PVPATCH_Q)$(PVPATCH_LD) -r -o $@ $^

-include $(wildcard $(PVPATCH_OBJDIR)/*.d)

.DEFAULT_GOAL := $(PVPATCH_SAVED_DEFAULT_GOAL)
endif
