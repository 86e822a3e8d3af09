# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""pvpatch.mk as a kernel includes it: a tiny includer Makefile in a temporary
directory, nothing from the framework's own build.

- the runtime object $(PVPATCH_OBJ) contains no SSE/AVX/x87 instruction
  whatever the includer's flags, and links into a kernel through the linker
  fragments with nothing undefined;
- an unset, empty or unsafe PVPATCH_BUILD (or PVPATCH_DIR) is refused with a
  message naming it;
- PVPATCH_STACK_ALIGN follows -mpreferred-stack-boundary in PVPATCH_KERNEL_CFLAGS
  (or is set), and other values are refused;
- including it before or after the includer's first target leaves the
  includer's default goal alone.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from conftest import ROOT

HOSTILE = "-O3 -march=native -mavx2 -ftree-vectorize"

# Every register outside the general ones, and the instructions that touch
# SSE/AVX/x87 state without naming such a register.
FP_REGS = re.compile(r"%(?:[xyz]mm\d+|st(?:\(\d\))?|mm\d|k[0-7]\b|mxcsr)")
FP_MNEMONICS = re.compile(
    r"^(?:f\w+|v(?!mcall|mmcall|err|erw)\w+|[ls]dmxcsr|stmxcsr|emms|xsave\w*|xrstor\w*"
    r"|movnt\w*|movdq\w*|movap\w*|movup\w*|movs[sd]\b|pshuf\w*|punpck\w*|cvt\w*)$")

# Undefined in $(PVPATCH_OBJ): only what the linker fragments define.
FRAGMENT_SYMBOL = re.compile(r"^__(?:pvpatch|pvbackend)_\w+$")

KERNEL_LDS = """\
ENTRY(_start)
SECTIONS
{
	. = 0x100000;
	.text : {
		*(.text .text.*)
		INCLUDE $(PVPATCH_LDS_TEXT)
	}
	.rodata : { *(.rodata .rodata.*) }
	INCLUDE $(PVPATCH_LDS_DATA)
	.data : { *(.data .data.*) }
	.bss : {
		*(.bss .bss.*) *(COMMON)
		INCLUDE $(PVPATCH_LDS_BSS)
	}
	/DISCARD/ : { *(.eh_frame) *(.comment) *(.note.gnu.property) }
}
"""

# A kernel of one C file: a few sites, a backend, a call into the runtime.
KERNEL_C = """\
#include <asm/pvops-gen.h>
#include <asm/pvpatch-boot.h>

PVPATCH_BACKEND_IN("irq") void my_irq_disable(void) { }
PVPATCH_REGISTER_BACKEND(PVPATCH_OP_IRQ_DISABLE, my_irq_disable);

static struct pvpatch pv;
static struct pvpatch_policy policy;
static struct pvpatch_report report;

void _start(void)
{
	pv_irq_disable();
	pv_io_delay();
	pv.sites = __pvpatch_sites_start;
	pv.sites_end = __pvpatch_sites_end;
	pv.state = __pvpatch_state_start;
	pv.saved = __pvpatch_saved_start;
	pv.saved_size = (size_t)(__pvpatch_saved_end - __pvpatch_saved_start);
	pv.thunks = __pvpatch_thunks_start;
	pv.thunks_size = (size_t)(__pvpatch_thunks_end - __pvpatch_thunks_start);
	pv.thunk_index = __pvpatch_thunk_index_start;
	pv.thunk_slots = (size_t)(__pvpatch_thunk_index_end - __pvpatch_thunk_index_start);
	pvpatch_apply(&pv, &policy, &report);
	pvpatch_free_backends(&pv, pvpatch_linked_families, pvpatch_nr_linked_families, 0xcc);
	for (;;)
		;
}
"""

INCLUDER = """\
PVPATCH_DIR := {root}
PVPATCH_BUILD := {build}
PVPATCH_KERNEL_CFLAGS := {kflags}
include $(PVPATCH_DIR)/pvpatch.mk

KCFLAGS := {kflags} -std=gnu11 -O2 -ffreestanding -fno-pie -fno-stack-protector \\
	-mgeneral-regs-only -fno-asynchronous-unwind-tables $(PVPATCH_CFLAGS)

kernel.elf: kernel.o kernel.lds $(PVPATCH_OBJ) $(PVPATCH_LDS)
	$(LD) -nostdlib -static $(PVPATCH_LDFLAGS) -T kernel.lds -o $@ kernel.o $(PVPATCH_OBJ)

kernel.o: kernel.c $(PVPATCH_GEN_STAMP)
	$(CC) $(KCFLAGS) -c $< -o $@
"""


def make(cwd, *args, env=None, timeout=600):
    return subprocess.run(["make", "-j2", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


def write_kernel(tmp_path, kflags):
    (tmp_path / "kernel.c").write_text(KERNEL_C)
    lds = KERNEL_LDS.replace("$(PVPATCH_LDS_TEXT)", "pvpatch-text.lds") \
                    .replace("$(PVPATCH_LDS_DATA)", "pvpatch-data.lds") \
                    .replace("$(PVPATCH_LDS_BSS)", "pvpatch-bss.lds")
    (tmp_path / "kernel.lds").write_text(lds)
    (tmp_path / "Makefile").write_text(
        INCLUDER.format(root=ROOT, build=tmp_path / "pvpatch", kflags=kflags))


def disassembly(obj):
    r = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(obj)],
                       capture_output=True, text=True, check=True)
    return r.stdout


def fp_instructions(text):
    """Lines of objdump -d output that use SSE/AVX/x87 state."""
    bad = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not re.match(r"^\s*[0-9a-f]+:$", parts[0]):
            continue
        insn = parts[1].strip()
        mnemonic = insn.split()[0] if insn else ""
        for prefix in ("lock", "rep", "repz", "repnz", "notrack", "bnd", "data16", "cs", "ds"):
            if mnemonic == prefix and len(insn.split()) > 1:
                mnemonic = insn.split()[1]
        if FP_REGS.search(insn) or FP_MNEMONICS.match(mnemonic):
            bad.append(line.strip())
    return bad


def test_fp_detector_is_not_blind(tmp_path):
    """The check below finds SSE, AVX and x87 code when it is there."""
    c = tmp_path / "fp.c"
    c.write_text("void add(double *a, const double *b, int n) {\n"
                 "\tfor (int i = 0; i < n; i++) a[i] += b[i];\n}\n"
                 "long double ld(long double x) { return x * 3; }\n")
    o = tmp_path / "fp.o"
    subprocess.run(["gcc", "-O3", "-mavx2", "-c", str(c), "-o", str(o)], check=True)
    bad = fp_instructions(disassembly(o))
    assert any("ymm" in b for b in bad) and any("fld" in b or "fmul" in b for b in bad)


@pytest.mark.parametrize("kflags", ["", HOSTILE], ids=["no-flags", "hostile-flags"])
def test_runtime_object_is_general_regs_only(tmp_path, kflags):
    write_kernel(tmp_path, kflags)
    r = make(tmp_path, "kernel.elf")
    assert r.returncode == 0, r.stdout + r.stderr
    obj = tmp_path / "pvpatch" / "pvpatch.o"
    assert obj.exists()
    # Quiet by default: "  CC      file" lines.
    assert re.search(r"^  CC      \S+/arch/x86/alternatives/patch\.c$", r.stdout, re.M), r.stdout
    text = disassembly(obj)
    assert "<pvpatch_apply>:" in text
    bad = fp_instructions(text)
    assert not bad, f"{len(bad)} SSE/AVX/x87 instructions, e.g.:\n" + "\n".join(bad[:20])
    # Undefined: only what the linker fragments define.
    nm = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True)
    undefined = [line.split()[-1] for line in nm.stdout.splitlines() if line.strip()]
    stray = [s for s in undefined if not FRAGMENT_SYMBOL.match(s)]
    assert not stray, f"undefined symbols besides the fragments': {stray}"
    # It links into the kernel through the fragments, and the ELF names its
    # generator directory for the tools.
    elf = tmp_path / "kernel.elf"
    assert elf.exists()
    sec = subprocess.run(["readelf", "-p", ".pvpatch.gen", str(elf)],
                         capture_output=True, text=True, check=True)
    assert str(tmp_path / "pvpatch" / "gen") in sec.stdout
    # The dependency files are there: a header change rebuilds the runtime.
    assert list((tmp_path / "pvpatch" / "obj").glob("*.d"))
    # Nothing left to do on a second run.
    r = make(tmp_path, "-q", "kernel.elf")
    assert r.returncode == 0, "kernel.elf not up to date after a build"


@pytest.mark.parametrize("build,why", [
    (None, "PVPATCH_BUILD is not set"),
    ("", "PVPATCH_BUILD is not set"),
    ("   ", "PVPATCH_BUILD is not set"),
    ("/", "is unsafe"),
    ("/pvpatch", "is unsafe"),
    ("/pvpatch/", "is unsafe"),
    ("//pvpatch", "is unsafe"),
    ("$(O)/pvpatch", "is unsafe"),
    ("my build", "contains spaces"),
    ("$(PVPATCH_DIR)", "is the pvpatch source tree"),
])
def test_refuses_unsafe_build_dir(tmp_path, build, why):
    mk = f"PVPATCH_DIR := {ROOT}\n"
    if build is not None:
        mk += f"PVPATCH_BUILD := {build}\n"
    mk += "include $(PVPATCH_DIR)/pvpatch.mk\nall:\n\t@echo built\n"
    (tmp_path / "Makefile").write_text(mk)
    r = make(tmp_path, timeout=60)
    assert r.returncode != 0 and "built" not in r.stdout
    assert "pvpatch.mk: " in r.stderr and why in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr  # one line, from $(error)
    assert not os.path.exists("/pvpatch")


@pytest.mark.parametrize("mk,why", [
    ("PVPATCH_BUILD := b\ninclude {root}/pvpatch.mk\n", "PVPATCH_DIR is not set"),
    ("PVPATCH_DIR := {tmp}\nPVPATCH_BUILD := b\ninclude {root}/pvpatch.mk\n",
     "is not the pvpatch source tree"),
])
def test_refuses_bad_pvpatch_dir(tmp_path, mk, why):
    (tmp_path / "Makefile").write_text(mk.format(root=ROOT, tmp=tmp_path) + "all:\n\t@echo built\n")
    r = make(tmp_path, timeout=60)
    assert r.returncode != 0 and why in r.stderr, r.stderr


GOAL_MAKEFILES = {
    "include-first": "{head}include $(PVPATCH_DIR)/pvpatch.mk\n{targets}",
    "include-after-first-target": "{head}{targets}include $(PVPATCH_DIR)/pvpatch.mk\n",
    "include-between-targets": "{head}kernel:\n\t@echo kernel-goal\n"
                               "include $(PVPATCH_DIR)/pvpatch.mk\nother:\n\t@echo other\n",
    "explicit-default-goal": ".DEFAULT_GOAL := other\n{head}"
                             "include $(PVPATCH_DIR)/pvpatch.mk\n{targets}",
}
GOAL_EXPECTED = {"include-first": "kernel-goal", "include-after-first-target": "kernel-goal",
                 "include-between-targets": "kernel-goal", "explicit-default-goal": "other"}


@pytest.mark.parametrize("layout", sorted(GOAL_MAKEFILES))
def test_default_goal_is_the_includers(tmp_path, layout):
    head = f"PVPATCH_DIR := {ROOT}\nPVPATCH_BUILD := pvbuild\n"
    targets = "kernel:\n\t@echo kernel-goal\nother:\n\t@echo other\n"
    (tmp_path / "Makefile").write_text(GOAL_MAKEFILES[layout].format(head=head, targets=targets))
    r = make(tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == GOAL_EXPECTED[layout], r.stdout
    assert not (tmp_path / "pvbuild").exists(), "pvpatch.mk built something by default"
    # Its own targets are still there for the includer to ask for.
    r = make(tmp_path, "-n", "pvbuild/pvpatch.o", timeout=60)
    assert r.returncode == 0 and "pvgen" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("kflags,extra,want", [
    ("", "", "16"),
    ("-mcmodel=kernel -mpreferred-stack-boundary=3", "", "8"),
    ("-mpreferred-stack-boundary=4", "", "16"),
    ("-mpreferred-stack-boundary=4 -mpreferred-stack-boundary=3", "", "8"),
    ("-mpreferred-stack-boundary=3", "PVPATCH_STACK_ALIGN := 16\n", "16"),
    ("-mpreferred-stack-boundary=5", "", "error: supports 3 (8 bytes) or 4 (16)"),
    ("", "PVPATCH_STACK_ALIGN := 12\n", "error: '12' is neither 8 nor 16"),
])
def test_stack_align_from_kernel_flags(tmp_path, kflags, extra, want):
    """The runtime learns the backends' stack alignment from the kernel's
    -mpreferred-stack-boundary (or PVPATCH_STACK_ALIGN), or refuses it."""
    (tmp_path / "Makefile").write_text(
        f"PVPATCH_DIR := {ROOT}\nPVPATCH_BUILD := pvbuild\nPVPATCH_KERNEL_CFLAGS := {kflags}\n"
        f"{extra}include $(PVPATCH_DIR)/pvpatch.mk\nall:\n\t@echo built\n")
    r = make(tmp_path, "-n", "V=1", "pvbuild/obj/boot.o", timeout=60)
    if want.startswith("error: "):
        assert r.returncode != 0, r.stdout
        assert "pvpatch.mk: " in r.stderr and want[len("error: "):] in r.stderr, r.stderr
        return
    assert r.returncode == 0, r.stderr
    assert f" -DPVPATCH_STACK_ALIGN={want} " in r.stdout, r.stdout
