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
}


def reg_name(num: int, size: int) -> str:
    """Name of register `num` at operand width `size` bytes."""
    return REGS[num][{8: 0, 4: 1, 2: 2, 1: 3}[size]]


# Bytes of a direct call (e8 rel32): the least a CALL-capable site needs.
CALL_LEN = 5
# Longest single NOP the padding uses; longer padding becomes a short JMP.
MAX_NOP = 11
# Longest site: padding beyond MAX_NOP is a short JMP, whose rel8 must reach
# the end of the site.
MAX_SITE = 128
