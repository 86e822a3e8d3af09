# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The one definition of the site record, the register numbering and the modes.

Every consumer (C headers, GNU as macros, the Python tools) is generated from
the tables in this file; nothing else in the project spells out the record.
"""

from __future__ import annotations

from dataclasses import dataclass

# Bumped whenever a field moves or changes meaning.  Each record carries it,
# so the patcher and the tools refuse records from another format.
SITE_VERSION = 1

SECTION = ".pvpatch.sites"

# sizeof(struct pvpatch_site_state) (hand-written in asm/pvpatch.h, which
# asserts it): the linker fragment reserves one per record in .bss.
SITE_STATE_SIZE = 12

# The linker fragments (gen/pvops/lds.py): CALL thunk area reserved in .text
# when the kernel's script does not set __pvpatch_thunks_size itself.
THUNKS_SIZE = 16384
THUNKS_ALIGN = 16
BACKEND_FAMILY_ALIGN = 16


@dataclass(frozen=True)
class Field:
    name: str
    size: int  # bytes
    signed: bool
    # What the record macro emits for this field.  The macro parameters are
    # named in RECORD_MACRO_PARAMS; \flags etc. are GNU as macro arguments,
    # .Lpv_* symbols are computed by the macro before the record is emitted.
    asm_value: str
    doc: str


FIELDS: tuple[Field, ...] = (
    Field("site", 4, True, r"\start - .",
          "site address minus the address of this field"),
    Field("op", 2, False, r"\op", "ABI op number (arch/x86/pvops.spec)"),
    Field("version", 1, False, str(SITE_VERSION), "record format version"),
    Field("flags", 1, False, r"\flags", "PVPATCH_SITE_F_* bits"),
    Field("site_len", 1, False, r"\len", "bytes reserved at the site"),
    Field("native_len", 1, False, r"\end - \start",
          "bytes of native code at the start of the site"),
    Field("clobbers", 2, False, r"(\clob) | .Lpv_outmask",
          "general registers the site may overwrite, bit n = register n"),
    Field("regs", 4, False, ".Lpv_regs",
          "register numbers, 4 bits each: ret, arg0, arg1, arg2, arg3"),
)

RECORD_SIZE = sum(f.size for f in FIELDS)
assert RECORD_SIZE == 16, "the record must stay at 16 bytes"


def field_offset(name: str) -> int:
    off = 0
    for f in FIELDS:
        if f.name == name:
            return off
        off += f.size
    raise KeyError(name)


# Bits of the flags field.
FLAG_NARGS_MASK = 0x07  # number of argument registers recorded (0-4)
FLAG_HAS_RET = 0x08  # the ret nibble is meaningful
FLAG_ASM = 0x10  # the site was written by a .S caller
FLAGS = (
    ("NARGS_MASK", FLAG_NARGS_MASK, "number of argument registers recorded"),
    ("HAS_RET", FLAG_HAS_RET, "the ret register is recorded"),
    ("ASM", FLAG_ASM, "site written by an assembler caller"),
)

MAX_ARGS = 4
MAX_EXTRA_OUTS = 4  # outputs after the first, plus scratch registers
REG_BITS = 4  # width of one register number in the regs field
REG_SLOTS = ("ret", "arg0", "arg1", "arg2", "arg3")

# General registers in hardware encoding order: (64, 32, 16, 8-bit names).
REGS: tuple[tuple[str, str, str, str], ...] = (
    ("rax", "eax", "ax", "al"),
    ("rcx", "ecx", "cx", "cl"),
    ("rdx", "edx", "dx", "dl"),
    ("rbx", "ebx", "bx", "bl"),
    ("rsp", "esp", "sp", "spl"),
    ("rbp", "ebp", "bp", "bpl"),
    ("rsi", "esi", "si", "sil"),
    ("rdi", "edi", "di", "dil"),
) + tuple((f"r{n}", f"r{n}d", f"r{n}w", f"r{n}b") for n in range(8, 16))

REG_NUM = {names[0]: num for num, names in enumerate(REGS)}
RSP = REG_NUM["rsp"]

# Registers GCC can pin an operand to with a single-letter constraint.
PIN_CONSTRAINT = {"rax": "a", "rbx": "b", "rcx": "c", "rdx": "d",
                  "rsi": "S", "rdi": "D"}

# Patch modes, in the order of their numbers.
MODES = ("NATIVE", "NOP", "INLINE", "CALL")

# Operand types of the spec: C type and width in bytes.
TYPES = {
    "u8": ("uint8_t", 1),
    "u16": ("uint16_t", 2),
    "u32": ("uint32_t", 4),
    "u64": ("uint64_t", 8),
    "ulong": ("unsigned long", 8),
    "ptr": ("void *", 8),
    # A pointer the op only reads through (descriptor tables, string output,
    # an address to flush): callers may pass const and volatile objects.
    "cptr": ("const volatile void *", 8),
}


def reg_name(num: int, size: int) -> str:
    """Name of register `num` at operand width `size` bytes."""
    return REGS[num][{8: 0, 4: 1, 2: 2, 1: 3}[size]]


# Bytes of a direct call (e8 rel32): the least a CALL-capable site needs.
CALL_LEN = 5
# Room an op with one compiler-chosen register operand gets on top of the
# call, so that the patcher can call a register-preserving backend from the
# site itself: push %rdi; mov %reg, %rdi; call; pop %rdi (or %rax for a
# result) -- one call instead of two through a thunk.  Sites stay short
# enough that NATIVE pads with a single NOP.
CALL_SAVE_LEN = 5
# Longest single NOP the padding uses; longer padding becomes a short JMP.
MAX_NOP = 11
# Longest site: padding beyond MAX_NOP is a short JMP, whose rel8 must reach
# the end of the site.
MAX_SITE = 128


# --- The feature ROM ---------------------------------------------------------
#
# What a hypervisor publishes (QEMU fw_cfg file ROM_FWCFG_NAME) and what the
# guest's built-in profiles are compiled to (tools/pvrom).  All integers are
# little-endian; offsets are from the start of the ROM:
#
#   header (ROM_HEADER)
#   entries: n_entries, back to back from entries_off; each ROM_ENTRY
#            followed by n_insns ROM_INSN, entry_len bytes in all (readers
#            skip by entry_len: a newer version may append fields)
#   overrides: n_overrides ROM_OVERRIDE from overrides_off
#
# For an op, the LAST entry whose condition holds wins.

ROM_MAGIC = 0x4D4F5250  # the bytes "PROM"
ROM_VERSION = 1
ROM_FWCFG_NAME = "opt/org.pvpatch/rom"


@dataclass(frozen=True)
class RomField:
    name: str
    size: int  # bytes of one element
    doc: str
    count: int = 1  # elements (arrays)
    kind: str = "u"  # "u": unsigned integer, "char": NUL-padded ASCII

    @property
    def total(self) -> int:
        return self.size * self.count


ROM_HEADER: tuple[RomField, ...] = (
    RomField("magic", 4, "the bytes \"PROM\""),
    RomField("version", 2, "ROM format version"),
    RomField("header_len", 2, "bytes of this header"),
    RomField("total_len", 4, "bytes of the whole ROM"),
    RomField("checksum", 4, "CRC-32 (zlib) of total_len bytes, this field zeroed"),
    RomField("hypervisor", 1, "profile name, NUL-padded ASCII", 16, "char"),
    RomField("n_entries", 2, "entries from entries_off"),
    RomField("n_overrides", 2, "overrides from overrides_off"),
    RomField("entries_off", 4, "offset of the first entry"),
    RomField("overrides_off", 4, "offset of the first override"),
    RomField("flags", 4, "none defined: 0"),
)

ROM_ENTRY: tuple[RomField, ...] = (
    RomField("entry_len", 2, "bytes of this entry, its instructions included"),
    RomField("op", 2, "ABI op number; readers ignore unknown ones"),
    RomField("mode", 1, "PVPATCH_MODE_*"),
    RomField("cond", 1, "when the entry applies: a COND_* value"),
    RomField("cond_arg", 1, "the KVM feature bit for COND_KVM_BIT, else 0"),
    RomField("n_insns", 1, "template instructions that follow (0: none)"),
    RomField("hv_clobbers", 2, "registers a hypercall instruction may change"),
    RomField("reserved0", 2, "0"),
    RomField("reserved1", 4, "0"),
    RomField("params", 8, "the template's PVT_IMM(0..3)", 4),
)

ROM_INSN: tuple[RomField, ...] = (
    RomField("op", 1, "enum pvt_opcode"),
    RomField("dst", 1, "operand (register, hole) or PVT_NONE"),
    RomField("src", 1, "operand, PVT_IMM(n) or PVT_NONE"),
    RomField("width", 1, "4 or 8"),
    RomField("reserved", 4, "0"),
    RomField("imm", 8, "immediate when src is PVT_NONE"),
)

ROM_OVERRIDE: tuple[RomField, ...] = (
    RomField("func", 1, "function symbol, NUL-padded", 32, "char"),
    RomField("offset", 4, "site offset in the function"),
    RomField("mode", 1, "PVPATCH_MODE_*"),
    RomField("reserved", 1, "0", 3),
)

# name -> (C struct tag, fields, size it must have)
ROM_STRUCTS = (
    ("header", "pvpatch_rom_header", ROM_HEADER, 48),
    ("entry", "pvpatch_rom_entry", ROM_ENTRY, 48),
    ("insn", "pvpatch_rom_insn", ROM_INSN, 16),
    ("override", "pvpatch_rom_override", ROM_OVERRIDE, 40),
)


def rom_offsets(fields: tuple[RomField, ...]) -> dict[str, int]:
    out, off = {}, 0
    for f in fields:
        assert off % f.size == 0, f"{f.name}: misaligned"
        out[f.name] = off
        off += f.total
    return out


for _name, _tag, _fields, _size in ROM_STRUCTS:
    assert sum(f.total for f in _fields) == _size, f"ROM {_name} must be {_size} bytes"

# Backend registration records, in section BACKEND_SECTION: what a kernel's
# PVPATCH_REGISTER_BACKEND() emits (asm/pvpatch-boot.h), what pvpatch_boot()
# collects and what tools/pvrom check reads from a linked ELF.
BACKEND_SECTION = ".pvpatch.backends"
BACKEND_REC: tuple[RomField, ...] = (
    RomField("fn", 8, "the backend's address"),
    RomField("op", 2, "ABI op number"),
    RomField("flags", 1, "PVPATCH_BACKEND_F_* bits"),
    RomField("reserved", 1, "0", 5),
)
BACKEND_REC_SIZE = 16
BACKEND_FLAGS = (
    ("PRESERVES", 0x01, "keeps every register but its result (PVPATCH_BACKEND)"),
)
assert sum(f.total for f in BACKEND_REC) == BACKEND_REC_SIZE

# --- Pre-patched images (tools/pvrom image) ----------------------------------
#
# A kernel that opts in (pvpatch.mk: PVPATCH_IMAGE := 1, which defines
# __pvpatch_image_reserve for the linker) gets a loaded, zero-filled output
# section IMAGE_SECTION (__pvpatch_image_start/_end) from pvpatch-data.lds:
# IMAGE_HEADER, then one slot of IMAGE_STRIDE bytes per site record, in
# record order.  A normal build leaves it zero.  `pvrom image` writes a copy
# of the kernel whose sites are already patched for one hypervisor and fills
# the header and, in each record's slot, the site's original native bytes
# (native_len of them, the rest 0), which the patcher then keeps instead of
# the bytes at the site.  IMAGE_STRIDE is the largest native_max of the spec
# (model.max_native()), also the bss fragment's bytes per record.
IMAGE_SECTION = ".pvpatch.image"
IMAGE_MAGIC = 0x474D4950  # the bytes "PIMG"
IMAGE_VERSION = 1
IMAGE_RESERVE_SYMBOL = "__pvpatch_image_reserve"
IMAGE_HEADER: tuple[RomField, ...] = (
    RomField("magic", 4, "the bytes \"PIMG\" (0 in a kernel not pre-patched)"),
    RomField("version", 2, "image format version"),
    RomField("stride", 2, "bytes per record slot: the spec's largest native_max"),
    RomField("n_records", 4, "slots that follow: the number of site records"),
    RomField("flags", 4, "none defined: 0"),
)
IMAGE_HEADER_SIZE = 16
assert sum(f.total for f in IMAGE_HEADER) == IMAGE_HEADER_SIZE

# Conditions of an entry, in the order of their numbers.
ROM_CONDS = (
    ("ALWAYS", "always"),
    ("KVM_BIT", "KVM feature bit cond_arg set in CPUID 0x40000001 EAX"),
    ("VMPORT", "the VMware backdoor answers"),
    ("VMPORT_GETHZ", "the VMware backdoor answers GETHZ"),
)

# Template instructions (include/asm/pvpatch-template.h, enum pvt_opcode and
# the operand encoding; a tool test compiles the header against these).
PVT_OPCODES = ("END", "MOV", "MOVI", "XOR", "OR", "AND", "ADD", "SUB",
               "SHLI", "SHRI", "PUSH", "POP", "IN", "OUT", "VMCALL",
               "VMMCALL", "CPUID", "RDTSC", "PAUSE")
PVT_ARG0 = 0x20
PVT_RET = 0x30
PVT_SCRATCH0 = 0x40
PVT_IMM0 = 0x50
PVT_NONE = 0xFF
PVT_MAX_SCRATCH = 2
PVT_MAX_PARAMS = 4
PVT_MAX_INSNS = 24
