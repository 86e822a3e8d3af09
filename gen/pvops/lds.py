# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Backend: the linker-script fragments a kernel INCLUDEs, and pvpatch-linked.c.

  lds/pvpatch-text.lds  inside the kernel's .text output section: one backend
                        family per op class (__pvbackend_<cls>_start/_end),
                        then the CALL thunk area (__pvpatch_thunks_start/_end,
                        int3-filled)
  lds/pvpatch-data.lds  at SECTIONS level: the output sections .pvpatch.sites
                        and .pvpatch.backends with their start/end symbols
                        (the dot in the names stops ld from making them),
                        and .pvpatch.image (room for a pre-patched image's
                        original bytes; empty unless __pvpatch_image_reserve
                        is defined)
  lds/pvpatch-bss.lds   inside the kernel's .bss output section: the per-site
                        state array, the buffer for the original bytes and
                        the thunk index, sized from the number of records at
                        link time
  src/pvpatch-linked.c  pvpatch_linked_families[]: the families of
                        pvpatch-text.lds, for pvpatch_free_backends()
"""

from __future__ import annotations

from . import layout
from .model import Spec
from .output import banner


def classes(spec: Spec) -> list[str]:
    """Op classes in the order of their first op in the spec."""
    seen: list[str] = []
    for op in spec.ops:
        if op.cls not in seen:
            seen.append(op.cls)
    return seen


def _records() -> str:
    return f"((__pvpatch_sites_end - __pvpatch_sites_start) / {layout.RECORD_SIZE})"


def text(spec: Spec) -> str:
    L = [banner(spec.file).rstrip(),
         "/* pvpatch: INCLUDE inside the kernel's .text output section, e.g.",
         " *   .text : { *(.text .text.*) INCLUDE pvpatch-text.lds }",
         " * (link with pvpatch.mk's $(PVPATCH_LDFLAGS)).  Gaps from here on are",
         " * filled with int3.  The thunk area is 16 KiB unless the kernel's script",
         " * sets __pvpatch_thunks_size first, at SECTIONS level (or ld --defsym). */",
         "FILL(0xcccccccc)",
         "/* CALL backends, one family per op class (PVPATCH_BACKEND_IN(cls)). */"]
    for cls in classes(spec):
        L += [f". = ALIGN({layout.BACKEND_FAMILY_ALIGN});",
              f"__pvbackend_{cls}_start = .;",
              f"KEEP(*(.pvbackend.{cls}))",
              f"__pvbackend_{cls}_end = .;"]
    size = "__pvpatch_thunks_size"
    L += ["/* The executable area the patcher writes CALL thunks into.  PROVIDE,",
          " * not DEFINED(): ld does not see --defsym symbols in DEFINED() here. */",
          f"PROVIDE(__pvpatch_thunks_size = {layout.THUNKS_SIZE:#x});",
          f". = ALIGN({layout.THUNKS_ALIGN});",
          "__pvpatch_thunks_start = .;",
          f". = . + {size};",
          "__pvpatch_thunks_end = .;",
          f"ASSERT({size} % {layout.THUNKS_ALIGN} == 0, "
          f"\"pvpatch: __pvpatch_thunks_size must be a multiple of {layout.THUNKS_ALIGN}\");"]
    return "\n".join(L) + "\n"


def data(spec: Spec) -> str:
    sym = layout.IMAGE_RESERVE_SYMBOL
    slots = f"({sym} ? {_records()} * {spec.max_native} : 0)"
    L = [banner(spec.file).rstrip(),
         "/* pvpatch: INCLUDE at SECTIONS level, after .text and before .bss (its",
         " * sizes depend on the number of records).  The output sections are",
         " * loaded and read by pvpatch_boot(). */",
         f".pvpatch.sites : ALIGN({layout.RECORD_SIZE}) {{",
         "\t__pvpatch_sites_start = .;",
         f"\tKEEP(*({layout.SECTION}))",
         "\t__pvpatch_sites_end = .;",
         "}",
         f".pvpatch.backends : ALIGN(8) {{",
         "\t__pvpatch_backends_start = .;",
         f"\tKEEP(*({layout.BACKEND_SECTION}))",
         "\t__pvpatch_backends_end = .;",
         "}",
         "/* Room for a pre-patched image (tools/pvrom image): a zero header of",
         f" * {layout.IMAGE_HEADER_SIZE} bytes (data, so that ld makes the section PROGBITS: a tool",
         f" * fills it in the file) and, when the kernel sets {layout.IMAGE_RESERVE_SYMBOL}",
         " * to 1 (pvpatch.mk: PVPATCH_IMAGE := 1, which passes --defsym), "
         f"{spec.max_native} zero bytes",
         " * per record for the image's original native bytes.  (DEFINED() does not",
         " * see --defsym symbols inside SECTIONS: hence PROVIDE and the value.) */",
         f"PROVIDE({sym} = 0);",
         f"{layout.IMAGE_SECTION} : ALIGN(16) {{",
         "\t__pvpatch_image_start = .;",
         "\t" + " ".join(["QUAD(0)"] * (layout.IMAGE_HEADER_SIZE // 8)),
         f"\t. = . + {slots};",
         "\t__pvpatch_image_end = .;",
         "}",
         f"ASSERT((__pvpatch_sites_end - __pvpatch_sites_start) % {layout.RECORD_SIZE} == 0, "
         "\"pvpatch: .pvpatch.sites is not a whole number of records\")",
         f"ASSERT((__pvpatch_backends_end - __pvpatch_backends_start) % "
         f"{layout.BACKEND_REC_SIZE} == 0, "
         "\"pvpatch: .pvpatch.backends is not a whole number of records\")"]
    return "\n".join(L) + "\n"


def bss(spec: Spec) -> str:
    native_max = spec.max_native
    L = [banner(spec.file).rstrip(),
         "/* pvpatch: INCLUDE inside the kernel's .bss output section; the script",
         " * must INCLUDE pvpatch-data.lds before it.  One struct pvpatch_site_state",
         f" * ({layout.SITE_STATE_SIZE} bytes) per record, and {native_max} bytes per record "
         "(the largest",
         " * native_max of the spec) for the original bytes, then the thunk index:",
         f" * {layout.THUNK_SLOTS_NUM}/{layout.THUNK_SLOTS_DEN} slots of {layout.THUNK_SLOT_SIZE} bytes per record, "
         f"{layout.THUNK_SLOTS_MIN} more (PVPATCH_THUNK_SLOTS()),",
         " * or, when fewer, the most a thunk area of __pvpatch_thunks_size bytes",
         " * can use (PVPATCH_THUNK_SLOTS_AREA(); pvpatch-text.lds defines the size). */",
         ". = ALIGN(8);",
         "__pvpatch_state_start = .;",
         f". = . + {_records()} * {layout.SITE_STATE_SIZE};",
         "__pvpatch_state_end = .;",
         ". = ALIGN(8);",
         "__pvpatch_saved_start = .;",
         f". = . + {_records()} * {native_max};",
         "__pvpatch_saved_end = .;",
         ". = ALIGN(8);",
         "__pvpatch_thunk_index_start = .;",
         f". = . + MIN({layout.thunk_slots(_records())}, "
         f"{layout.thunk_slots_area('__pvpatch_thunks_size')}) * {layout.THUNK_SLOT_SIZE};",
         "__pvpatch_thunk_index_end = .;"]
    return "\n".join(L) + "\n"


def linked_c(spec: Spec) -> str:
    cls = classes(spec)
    L = [banner(spec.file).rstrip(),
         "/* The backend families of pvpatch-text.lds (pvpatch.mk links this into",
         " * $(PVPATCH_OBJ) only: it needs the fragments' symbols). */",
         "#include <asm/pvpatch-boot.h>",
         ""]
    for c in cls:
        L.append(f"extern uint8_t __pvbackend_{c}_start[], __pvbackend_{c}_end[];")
    L += ["",
          "const struct pvpatch_backend_family pvpatch_linked_families[] = {"]
    for c in cls:
        L.append(f'\t{{ "{c}", __pvbackend_{c}_start, __pvbackend_{c}_end }},')
    L += ["};",
          "",
          f"const unsigned int pvpatch_nr_linked_families = {len(cls)};"]
    return "\n".join(L) + "\n"
