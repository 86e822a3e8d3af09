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

# sizeof(struct pvpatch_thunk_slot) (asm/pvpatch.h asserts it): one entry of
# the thunk index, which the linker fragment also reserves in .bss, sized
# from the number of records n.  Every record may own one entry of the thunk
# area at a time (its CALL thunk, INLINE stub or poison stub; thunks are
# shared, so usually fewer), and while pvpatch_repatch() plans, the next
# generation is staged beside the current one: at most 2n entries.  The
# index is open addressing with linear probing, whose expected probes for a
# miss are (1 + 1/(1 - a)^2) / 2 at load a: 5/2 slots per record keep the
# load at most 0.8 (13 probes) in that worst case and under 0.4 (2 probes)
# outside a re-patch; THUNK_SLOTS_MIN keeps a kernel of a few sites from
# probing a table of one or two slots.  The thunk area bounds it too: each
# entry owns THUNK_ENTRY_MIN bytes of it at least (staged ones included), so
# an area of s bytes never holds more than s / THUNK_ENTRY_MIN entries, and
# the patcher uses no more slots than that plus a quarter (load 0.8) plus
# THUNK_SLOTS_MIN.  The linker fragment reserves the smaller of the two (a
# kernel of many records and a small area does not pay for its records).
THUNK_SLOT_SIZE = 32
THUNK_SLOTS_NUM = 5  # slots per record: THUNK_SLOTS_NUM / THUNK_SLOTS_DEN
THUNK_SLOTS_DEN = 2
THUNK_SLOTS_MIN = 8
THUNK_ENTRY_MIN = 16  # the runtime's THUNK_ALIGN (arch/x86/alternatives/call.c)


def thunk_slots(records: str) -> str:
    """The slot count for `records` records, as a C or ld expression."""
    return f"(({records}) * {THUNK_SLOTS_NUM} / {THUNK_SLOTS_DEN} + {THUNK_SLOTS_MIN})"


def thunk_slots_area(size: str) -> str:
    """The most slots the patcher uses with a thunk area of `size` bytes."""
    return (f"(({size}) / {THUNK_ENTRY_MIN} + ({size}) / {THUNK_ENTRY_MIN * 4}"
            f" + {THUNK_SLOTS_MIN})")

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
# Set by the liveness pass (tools/pvsites liveness) when it added registers
# dead after the site to `clobbers`.  The declared mask stays recoverable
# without another field: it is the op's clobbers, the recorded output and the
# registers the site's native bytes write (what pvsites verify recomputes).
# A new bit keeps SITE_VERSION: no field moves or changes meaning, and
# readers refuse bits they do not know (the site then stays native).
FLAG_WIDENED = 0x20
FLAGS = (
    ("NARGS_MASK", FLAG_NARGS_MASK, "number of argument registers recorded"),
    ("HAS_RET", FLAG_HAS_RET, "the ret register is recorded"),
    ("ASM", FLAG_ASM, "site written by an assembler caller"),
    ("WIDENED", FLAG_WIDENED, "clobbers widened by the liveness pass"),
)

# A .S file opts its sites into the liveness pass with the GNU as macro
# pvpatch_liveness_opt_in (asm/pvops-gen.inc): every site it then writes
# also puts its address (.quad) into this non-allocated section, which the
# linker keeps and the pass reads.  Unlisted .S sites are never widened.
LIVENESS_SECTION = ".pvpatch.liveness_asm"
LIVENESS_OPT_IN_SYM = ".Lpvpatch_liveness_opt_in"

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
# Longest single NOP (Linux's ASM_NOP_MAX): a NATIVE site pads with one NOP
# of at most this many bytes, never a JMP (gen/pvops/check.py refuses a site
# longer than its shortest native code plus this).
MAX_NOP = 11
# Longest site (a CALL or INLINE site's own padding beyond MAX_NOP is a short
# JMP over int3, whose rel8 must reach the end of the site).
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
ROM_VERSION = 2  # what the tools write; kernels read every version of ROM_VERSIONS
ROM_VERSIONS = (1, 2)
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
    RomField("params", 8, "the template's PVT_IMM(0..3)", 4),  # PVT_MAX_PARAMS
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

# Format version 2: a longer hypervisor name, an entry's condition on any
# CPUID bit or on the hypervisor signature, the backend a CALL entry wants.
# magic..checksum sit where version 1 has them, so a reader can tell the
# version from the common prefix; instructions and overrides are shared.
ROM_HEADER_V2: tuple[RomField, ...] = (
    RomField("magic", 4, "the bytes \"PROM\""),
    RomField("version", 2, "ROM format version (2)"),
    RomField("header_len", 2, "bytes of this header"),
    RomField("total_len", 4, "bytes of the whole ROM"),
    RomField("checksum", 4, "CRC-32 (zlib) of total_len bytes, this field zeroed"),
    RomField("hypervisor", 1, "profile name, NUL-padded ASCII", 32, "char"),
    RomField("n_entries", 2, "entries from entries_off"),
    RomField("n_overrides", 2, "overrides from overrides_off"),
    RomField("entries_off", 4, "offset of the first entry"),
    RomField("overrides_off", 4, "offset of the first override"),
    RomField("flags", 4, "none defined: 0"),
)

ROM_ENTRY_V2: tuple[RomField, ...] = (
    RomField("entry_len", 2, "bytes of this entry, its instructions included"),
    RomField("op", 2, "ABI op number; readers ignore unknown ones"),
    RomField("mode", 1, "PVPATCH_MODE_*; readers ignore an entry of an unknown mode"),
    RomField("cond", 1, "a COND_* value; readers ignore an entry of an unknown condition"),
    RomField("n_insns", 1, "template instructions that follow (0: none)"),
    RomField("cond_bit", 1, "KVM_BIT: the feature bit; CPUID_BIT: the bit (0-31)"),
    RomField("hv_clobbers", 2, "registers a hypercall instruction may change"),
    RomField("backend_id", 2, "CALL: the registered backend id (0: the op's default)"),
    RomField("cond_reg", 1, "CPUID_BIT: 0 eax, 1 ebx, 2 ecx, 3 edx"),
    RomField("reserved0", 1, "0", 3),
    RomField("cond_leaf", 4, "CPUID_BIT: the leaf"),
    RomField("cond_subleaf", 4, "CPUID_BIT: the subleaf"),
    RomField("cond_sig", 1, "SIGNATURE: CPUID 0x40000000 EBX ECX EDX, NUL-padded", 12, "char"),
    RomField("reserved1", 4, "0"),
    RomField("params", 8, "the template's PVT_IMM(0..3)", 4),
)

# name -> (C struct tag, fields, size it must have)
ROM_STRUCTS = (
    ("header", "pvpatch_rom_header", ROM_HEADER, 48),
    ("entry", "pvpatch_rom_entry", ROM_ENTRY, 48),
    ("insn", "pvpatch_rom_insn", ROM_INSN, 16),
    ("override", "pvpatch_rom_override", ROM_OVERRIDE, 40),
    ("header_v2", "pvpatch_rom_header_v2", ROM_HEADER_V2, 64),
    ("entry_v2", "pvpatch_rom_entry_v2", ROM_ENTRY_V2, 72),
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
    RomField("reserved0", 1, "0"),
    RomField("id", 2, "the id a ROM entry's backend_id names (0: the op's default)"),
    RomField("writes", 2, "ANALYSED: the caller-saved registers it may write (bit n: register n)"),
)
BACKEND_REC_SIZE = 16
BACKEND_FLAGS = (
    ("PRESERVES", 0x01, "keeps every register but its result (PVPATCH_BACKEND)"),
    ("ANALYSED", 0x02, "writes holds what the liveness pass found it may write"),
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

# Conditions of an entry, in the order of their numbers.  Version 1 entries
# know the first ROM_V1_NR_CONDS (with their argument in cond_arg).
ROM_CONDS = (
    ("ALWAYS", "always"),
    ("KVM_BIT", "KVM feature bit cond_arg (v2: cond_bit) set in CPUID 0x40000001 EAX"),
    ("VMPORT", "the VMware backdoor answers"),
    ("VMPORT_GETHZ", "the VMware backdoor answers GETHZ"),
    ("CPUID_BIT", "v2: bit cond_bit of register cond_reg of CPUID leaf cond_leaf, "
     "subleaf cond_subleaf, set (a leaf past its range's maximum: not set)"),
    ("SIGNATURE", "v2: the hypervisor signature (CPUID 0x40000000) is cond_sig"),
)
ROM_V1_NR_CONDS = 4
CPUID_REGS = ("eax", "ebx", "ecx", "edx")

# CPU features a profile may name (`if cpu:NAME`): Linux's X86_FEATURE_*
# facts as (leaf, subleaf, register, bit).
CPU_FEATURES = {
    "pge": (0x1, 0, "edx", 13),
    "pcid": (0x1, 0, "ecx", 17),
    "x2apic": (0x1, 0, "ecx", 21),
    "tsc_deadline_timer": (0x1, 0, "ecx", 24),
    "xsave": (0x1, 0, "ecx", 26),
    "hypervisor": (0x1, 0, "ecx", 31),
    "fsgsbase": (0x7, 0, "ebx", 0),
    "smep": (0x7, 0, "ebx", 7),
    "invpcid": (0x7, 0, "ebx", 10),
    "smap": (0x7, 0, "ebx", 20),
    "nx": (0x80000001, 0, "edx", 20),
    "rdtscp": (0x80000001, 0, "edx", 27),
}



# --- The template instruction set ------------------------------------------
#
# What a template (a ROM entry's instructions, struct pvt_insn) may contain:
# generated into asm/pvpatch-template-gen.h (enum pvt_opcode, PVT_* operands
# and limits, pvt_opcode_table[] in src/pvpatch-contract.c), which the
# patcher's fitter (arch/x86/alternatives/template.c) interprets, and into
# pvpatch_gen.py, which tools/pvlib/profile.py parses and prints templates
# with.  Opcode numbers are ABI: append, never reorder.

# Operand bytes of struct pvt_insn: 0-15 are hardware registers.
PVT_ARG0 = 0x20  # PVT_ARG(n): the register of the op's argument n (n < MAX_ARGS)
PVT_RET = 0x30  # the register of the op's result
PVT_SCRATCH0 = 0x40  # PVT_SCRATCH(n): a free register the patcher picks
PVT_IMM0 = 0x50  # PVT_IMM(n): the entry's param n (immediates only)
PVT_NONE = 0xFF
PVT_MAX_SCRATCH = 2
PVT_MAX_PARAMS = 4
PVT_MAX_INSNS = 24

# Operand shapes: (name, what dst and src are).  A "place" is a register
# (not rsp) or a register hole (argN, ret, scratchN).
PVT_SHAPES = (
    ("NONE", "no operands: dst and src are PVT_NONE"),
    ("REG", "dst a place; src PVT_NONE"),
    ("REG_REG", "dst and src places"),
    ("REG_IMM", "dst a place; src PVT_IMM(n), or PVT_NONE and imm fits the width"),
    ("REG_COUNT", "dst a place; src PVT_NONE, imm below the width in bits"),
)


@dataclass(frozen=True)
class PvtOpcode:
    name: str  # PVT_<name>
    mnemonic: str  # the profile's spelling ("" for END: not an instruction)
    shape: str  # one of PVT_SHAPES
    widths: tuple[int, ...]  # operand widths in bytes it may have
    default_width: int  # width when the profile writes no .32/.64 (0: required)
    reads_dst: bool  # dst is read (ALU ops, shifts, push)
    writes_dst: bool  # dst is written
    reads: tuple[str, ...]  # registers read implicitly (never scratch)
    writes: tuple[str, ...]  # registers written implicitly
    hv: bool  # also changes the entry's hv_clobbers (a hypercall)
    # NONE: the instruction's bytes; REG_REG: the "r/m, r" opcode;
    # REG_COUNT: the /digit of C1 (shift by imm8).
    enc: tuple[int, ...]
    doc: str


_ALL4 = ("rax", "rbx", "rcx", "rdx")
PVT_OPCODE_INFO: tuple[PvtOpcode, ...] = (
    PvtOpcode("END", "", "NONE", (), 0, False, False, (), (), False, (),
              "not an instruction (0 in a ROM)"),
    PvtOpcode("MOV", "mov", "REG_REG", (4, 8), 0, False, True, (), (), False, (0x89,),
              "dst = src"),
    PvtOpcode("MOVI", "movi", "REG_IMM", (4, 8), 0, False, True, (), (), False, (),
              "dst = imm or param"),
    PvtOpcode("XOR", "xor", "REG_REG", (4, 8), 0, True, True, (), (), False, (0x31,),
              "dst ^= src"),
    PvtOpcode("OR", "or", "REG_REG", (4, 8), 0, True, True, (), (), False, (0x09,),
              "dst |= src"),
    PvtOpcode("AND", "and", "REG_REG", (4, 8), 0, True, True, (), (), False, (0x21,),
              "dst &= src"),
    PvtOpcode("ADD", "add", "REG_REG", (4, 8), 0, True, True, (), (), False, (0x01,),
              "dst += src"),
    PvtOpcode("SUB", "sub", "REG_REG", (4, 8), 0, True, True, (), (), False, (0x29,),
              "dst -= src"),
    PvtOpcode("SHLI", "shli", "REG_COUNT", (4, 8), 0, True, True, (), (), False, (4,),
              "dst <<= imm"),
    PvtOpcode("SHRI", "shri", "REG_COUNT", (4, 8), 0, True, True, (), (), False, (5,),
              "dst >>= imm, logical"),
    PvtOpcode("PUSH", "push", "REG", (8,), 8, True, False, ("rsp",), ("rsp",), False, (),
              "push dst"),
    PvtOpcode("POP", "pop", "REG", (8,), 8, False, True, ("rsp",), ("rsp",), False, (),
              "pop dst"),
    # The hypercall instructions read rax (port I/O: the data; hypercalls:
    # the number) and rdx (the port): neither is ever a scratch register.
    PvtOpcode("IN", "in", "NONE", (4, 8), 4, False, False, ("rax", "rdx"), ("rax",), True,
              (0xED,), "in (%dx), %eax"),
    PvtOpcode("OUT", "out", "NONE", (4, 8), 4, False, False, ("rax", "rdx"), (), True,
              (0xEF,), "out %eax, (%dx)"),
    PvtOpcode("VMCALL", "vmcall", "NONE", (4, 8), 4, False, False, ("rax", "rdx"), (), True,
              (0x0F, 0x01, 0xC1), "Intel hypercall"),
    PvtOpcode("VMMCALL", "vmmcall", "NONE", (4, 8), 4, False, False, ("rax", "rdx"), (), True,
              (0x0F, 0x01, 0xD9), "AMD hypercall"),
    PvtOpcode("CPUID", "cpuid", "NONE", (4, 8), 4, False, False, ("rax", "rcx"), _ALL4, False,
              (0x0F, 0xA2), "cpuid"),
    PvtOpcode("RDTSC", "rdtsc", "NONE", (4, 8), 4, False, False, (), ("rax", "rdx"), False,
              (0x0F, 0x31), "rdtsc"),
    PvtOpcode("PAUSE", "pause", "NONE", (4, 8), 4, False, False, (), (), False,
              (0xF3, 0x90), "pause"),
)
PVT_OPCODES = tuple(o.name for o in PVT_OPCODE_INFO)
PVT_FLAGS = (
    ("READS_DST", 0x01, "dst is read"),
    ("WRITES_DST", 0x02, "dst is written"),
    ("HV", 0x04, "changes the entry's hv_clobbers"),
)
PVT_ENC_MAX = 3


def pvt_flags(o: PvtOpcode) -> int:
    return (o.reads_dst * 0x01) | (o.writes_dst * 0x02) | (o.hv * 0x04)


def reg_mask(names) -> int:
    m = 0
    for n in names:
        m |= 1 << REG_NUM[n]
    return m


for _o in PVT_OPCODE_INFO:
    assert _o.shape in dict(PVT_SHAPES), _o.name
    assert len(_o.enc) <= PVT_ENC_MAX and set(_o.widths) <= {4, 8}, _o.name
    assert _o.default_width in (0, *_o.widths), _o.name
assert PVT_OPCODES[0] == "END" and len(set(PVT_OPCODES)) == len(PVT_OPCODES)
assert len({o.mnemonic for o in PVT_OPCODE_INFO}) == len(PVT_OPCODE_INFO)
assert PVT_MAX_PARAMS == next(f.count for f in ROM_ENTRY if f.name == "params")
assert PVT_IMM0 - PVT_SCRATCH0 >= PVT_MAX_SCRATCH and PVT_RET - PVT_ARG0 >= MAX_ARGS


# --- Limits -------------------------------------------------------------------
#
# Every bound the guest and the tools both enforce, once.  Name lengths of
# the ROM are its fields' sizes (ROM_HEADER hypervisor, ROM_OVERRIDE func:
# at most size - 1 characters, then NULs); the others are here.

ROM_MAX_OVERRIDES = 16  # site overrides in one ROM (struct pvpatch_rom_store)
CMDLINE_MAX_SITES = 16  # pvpatch.site= options the command line keeps
NAME_MAX = 32  # pvpatch.profile= and pvpatch.site=FUNC names, NUL included
ROM_MAX_ENTRIES = 0xFFFF  # n_entries is a u16
LIMITS = (
    ("ROM_MAX_OVERRIDES", ROM_MAX_OVERRIDES, "site overrides in one ROM"),
    ("ROM_MAX_ENTRIES", ROM_MAX_ENTRIES, "entries in one ROM (n_entries)"),
    ("CMDLINE_MAX_SITES", CMDLINE_MAX_SITES, "pvpatch.site= overrides kept"),
    ("NAME_MAX", NAME_MAX, "command-line profile and function names, NUL included"),
)


# --- Names and numbers of the hypervisor interfaces ROM conditions test ------

# KVM_FEATURE_* bits of CPUID 0x40000001 EAX (Linux uapi asm/kvm_para.h):
# the names of `if kvm:NAME` and PVPATCH_KVM_FEATURE_*.
KVM_FEATURES = (
    ("CLOCKSOURCE", 0), ("NOP_IO_DELAY", 1), ("MMU_OP", 2), ("CLOCKSOURCE2", 3),
    ("ASYNC_PF", 4), ("STEAL_TIME", 5), ("PV_EOI", 6), ("PV_UNHALT", 7),
    ("PV_TLB_FLUSH", 9), ("ASYNC_PF_VMEXIT", 10), ("PV_SEND_IPI", 11),
    ("POLL_CONTROL", 12), ("PV_SCHED_YIELD", 13), ("ASYNC_PF_INT", 14),
    ("MSI_EXT_DEST_ID", 15), ("HC_MAP_GPA_RANGE", 16), ("MIGRATION_CONTROL", 17),
    ("CLOCKSOURCE_STABLE_BIT", 24),
)
