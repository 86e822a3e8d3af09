# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Golden output tests of gen/pvgen, and its rewrite-only-when-changed rule.

tests/gen/good/<name>.spec is generated (from tests/gen/good, with the
relative spec path, so the banners name `<name>.spec`) into a temporary
directory, and every file must equal, byte for byte, the one under
tests/gen/good/<name>.expected/ at the same relative path; no file may be
missing or extra.

Regenerate the expected outputs instead of comparing them:

    PVPATCH_REGEN=1 /usr/bin/python3 -m pytest tests/gen

(the .expected directories are replaced by what the generator writes now;
review the diff before committing it).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess

import pytest
from elftools.elf.elffile import ELFFile

from pvgen_testlib import GOOD, REGEN, ROOT, run_pvgen, tree

GOLDEN = sorted(p.stem for p in GOOD.glob("*.spec"))

# What the generator writes (main.outputs), so a file it stops writing is
# noticed even if the .expected directory was regenerated.
OUTPUTS = {
    "include/asm/pvpatch-abi.h",
    "include/asm/pvpatch-template-gen.h",
    "include/asm/pvops-gen.h",
    "include/asm/pvops-gen.inc",
    "native/include/asm/pvops-gen.h",
    "native/include/asm/pvops-gen.inc",
    "src/pvops-table.c",
    "src/pvpatch-contract.c",
    "python/pvpatch_gen.py",
    "lds/pvpatch-text.lds",
    "lds/pvpatch-data.lds",
    "lds/pvpatch-bss.lds",
    "src/pvpatch-linked.c",
}


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_outputs(name, tmp_path):
    out = tmp_path / "gen"
    r = run_pvgen(f"{name}.spec", out, GOOD)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""
    got = tree(out)
    assert set(got) == OUTPUTS
    expected_dir = GOOD / f"{name}.expected"
    if REGEN:
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(out, expected_dir)
    want = tree(expected_dir)
    assert sorted(got) == sorted(want), "generated and expected file sets differ"
    differ = [rel for rel in got if got[rel] != want[rel]]
    assert not differ, (
        f"differ from {expected_dir.name}/: {', '.join(differ)} "
        "(PVPATCH_REGEN=1 rewrites them)")


def _stats(top):
    return {rel: os.stat(top / rel) for rel in tree(top)}


def test_rewrite_only_when_text_changes(tmp_path):
    spec = tmp_path / "mini.spec"
    spec.write_text((GOOD / "mini.spec").read_text())
    out = tmp_path / "gen"
    assert run_pvgen("mini.spec", out, tmp_path).returncode == 0
    first = tree(out)
    assert set(first) == OUTPUTS
    # An mtime far in the past: any rewrite would set it to now.
    old = 1_000_000_000_000_000_000
    for rel in first:
        os.utime(out / rel, ns=(old, old))
    before = _stats(out)

    # Same spec: nothing is rewritten.
    r = run_pvgen("mini.spec", out, tmp_path)
    assert r.returncode == 0, r.stderr
    after = _stats(out)
    assert set(after) == OUTPUTS, "stray files (e.g. .tmp) left behind"
    for rel in OUTPUTS:
        assert after[rel].st_mtime_ns == old, f"{rel} rewritten"
        assert after[rel].st_ino == before[rel].st_ino, f"{rel} replaced"

    # A doc change: only the files whose text changes are rewritten (the doc
    # is in the C header and the .inc comments, not in the ABI header, the
    # op table or the Python module).
    text = spec.read_text()
    assert "doc Wait for slow ISA devices." in text
    spec.write_text(text.replace("doc Wait for slow ISA devices.",
                                 "doc Wait for slow ISA devices (port 0x80)."))
    r = run_pvgen("mini.spec", out, tmp_path)
    assert r.returncode == 0, r.stderr
    second = tree(out)
    assert set(second) == OUTPUTS
    changed = {rel for rel in OUTPUTS if second[rel] != first[rel]}
    assert changed and changed != OUTPUTS
    assert "include/asm/pvops-gen.h" in changed
    assert "src/pvops-table.c" not in changed
    final = _stats(out)
    for rel in OUTPUTS:
        rewritten = final[rel].st_mtime_ns != old
        assert rewritten == (rel in changed), (
            f"{rel}: {'rewritten' if rewritten else 'kept'} although its "
            f"text {'changed' if rel in changed else 'did not change'}")


def test_mini_outputs_build(tmp_path):
    """The golden outputs are not just stable but usable: the C header
    compiles and the .inc assembles in both flavours, the op table compiles."""
    out = tmp_path / "gen"
    assert run_pvgen("mini.spec", out, GOOD).returncode == 0
    c = tmp_path / "use.c"
    c.write_text("#include <asm/pvops-gen.h>\n"
                 "unsigned long use(void *p) {\n"
                 "\tuint32_t lo, hi;\n"
                 "\tpv_io_delay(); pv_store_word(p, 7); pv_msr_get(1, &lo, &hi);\n"
                 "\tpv_port_out(0x80, 1); pv_tlb_flush();\n"
                 "\tstatic const volatile uint8_t msg[2] = { 1, 2 };\n"
                 "\tuint64_t v = pv_msr_getq(1);\n"
                 "\tpv_msr_pair(2, &lo, 0); pv_msr_putq(3, v); pv_msr_put(4, lo, hi);\n"
                 "\tpv_port_outs(0x80, msg, sizeof(msg));\n"
                 "\treturn pv_read_base() + pv_get_clock() + lo + hi;\n}\n")
    s = tmp_path / "use.S"
    s.write_text("#include <asm/pvops-gen.inc>\n\t.text\n"
                 "\tpv_io_delay\n\tpv_read_base %r12\n"
                 "\tpv_store_word %r13, %r9d\n\tpv_msr_get\n\tpv_port_out\n"
                 "\tpv_tlb_flush %rbx\n\tpv_get_clock\n\tpv_msr_pair\n"
                 "\tpv_msr_put\n\tpv_port_outs\n")
    # The framework-free flavour's directory comes first; it shares
    # asm/pvpatch-abi.h with the framework's.
    for incs in ([out / "include"], [out / "native" / "include", out / "include"]):
        for src in (c, s):
            r = subprocess.run(
                ["gcc", "-O2", "-ffreestanding", "-fno-pie", "-mno-red-zone",
                 "-Wall", "-Werror", *(f"-I{i}" for i in incs), "-c", str(src),
                 "-o", str(tmp_path / "x.o")],
                capture_output=True, text=True)
            assert r.returncode == 0, f"{src.name} with {incs}:\n{r.stderr}"
    for table in ("pvops-table.c", "pvpatch-contract.c"):
        r = subprocess.run(["gcc", "-Wall", "-Wextra", "-Werror", "-I", str(out / "include"),
                            "-c", str(out / "src" / table), "-o", str(tmp_path / "t.o")],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{table}:\n{r.stderr}"


def test_optional_output_and_pair_fold(tmp_path):
    """A NULL optional output costs nothing: the store and its test are
    folded away, and the u64 convenience functions are the op's own site
    (one record each, the op's number)."""
    out = tmp_path / "gen"
    assert run_pvgen("mini.spec", out, GOOD).returncode == 0
    c = tmp_path / "fold.c"
    c.write_text("#include <asm/pvops-gen.h>\n"
                 "uint32_t lo_only(void) { uint32_t lo; pv_msr_pair(1, &lo, 0); return lo; }\n"
                 "uint64_t both(void) { return pv_msr_getq(1); }\n"
                 "void put(uint64_t v) { pv_msr_putq(3, v); }\n")
    obj = tmp_path / "fold.o"
    r = subprocess.run(["gcc", "-O2", "-ffreestanding", "-fno-pie", "-mno-red-zone",
                        "-Wall", "-Werror", f"-I{out / 'include'}", "-c", str(c),
                        "-o", str(obj)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    d = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(obj)],
                       capture_output=True, text=True, check=True).stdout
    body = d.split("<lo_only>:", 1)[1].split("\n\n", 1)[0]
    assert "rdmsr" in body
    assert not any(w in body for w in ("test", "cmp", "\tj")), body
    with open(obj, "rb") as f:
        data = ELFFile(f).get_section_by_name(".pvpatch.sites").data()
    ops = [struct.unpack_from("<H", data, off + 4)[0] for off in range(0, len(data), 16)]
    assert ops == [7, 7, 8]


def _symbols(elf):
    r = subprocess.run(["nm", str(elf)], capture_output=True, text=True, check=True)
    return {name: int(val, 16) for val, _, name in
            (line.split() for line in r.stdout.splitlines() if len(line.split()) == 3)}


@pytest.mark.parametrize("thunks, how", [(None, None), (0x1000, "script"), (0x2000, "defsym"),
                                         (0x40, "defsym")])  # fewer slots than the records want
def test_mini_linker_fragments(tmp_path, thunks, how):
    """The three fragments INCLUDEd where a kernel's script puts them: the
    backend families and the thunk area in .text, the record sections loaded
    with their bounds, the state and saved buffers in .bss sized from the
    number of records, the thunk index too; pvpatch-linked.c links against
    them."""
    out = tmp_path / "gen"
    assert run_pvgen("mini.spec", out, GOOD).returncode == 0
    inc = ["-I", str(ROOT / "include"), "-I", str(out / "include")]
    c = tmp_path / "k.c"
    c.write_text("#include <asm/pvops-gen.h>\n#include <asm/pvpatch-boot.h>\n"
                 "PVPATCH_BACKEND_IN(\"io\") void be_io_delay(void) {}\n"
                 "PVPATCH_REGISTER_BACKEND(PVPATCH_OP_IO_DELAY, be_io_delay);\n"
                 "unsigned long _start(void) {\n"
                 "\tpv_io_delay(); pv_io_delay(); pv_tlb_flush();\n"
                 "\treturn pv_read_base();\n}\n")
    lds = tmp_path / "k.lds"
    lds.write_text(
        "ENTRY(_start)\nSECTIONS {\n\t. = 0x100000;\n"
        + (f"\t__pvpatch_thunks_size = {thunks:#x};\n" if how == "script" else "")
        + "\t.text : { *(.text .text.*)\n\tINCLUDE pvpatch-text.lds\n\t}\n"
        "\t.rodata : { *(.rodata .rodata.*) }\n"
        "\tINCLUDE pvpatch-data.lds\n"
        "\t.data : { *(.data .data.*) }\n"
        "\t.bss : { *(.bss .bss.*)\n\tINCLUDE pvpatch-bss.lds\n\t}\n"
        "\t/DISCARD/ : { *(.eh_frame) *(.note.gnu.property) }\n}\n")
    objs = []
    for src in (c, out / "src" / "pvpatch-linked.c"):
        o = tmp_path / (src.stem + ".o")
        r = subprocess.run(["gcc", "-O2", "-ffreestanding", "-fno-pie", "-mno-red-zone",
                            "-mgeneral-regs-only", "-Wall", "-Werror", *inc, "-c", str(src),
                            "-o", str(o)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        objs.append(str(o))
    elf = tmp_path / "k.elf"
    defsym = [f"--defsym=__pvpatch_thunks_size={thunks:#x}"] if how == "defsym" else []
    r = subprocess.run(["ld", "-nostdlib", "-static", *defsym, "-L", str(out / "lds"),
                        "-T", str(lds), "-o", str(elf), *objs], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sym = _symbols(elf)
    nrec = (sym["__pvpatch_sites_end"] - sym["__pvpatch_sites_start"]) // 16
    assert nrec == 4
    assert sym["__pvpatch_backends_end"] - sym["__pvpatch_backends_start"] == 16
    assert sym["__pvpatch_state_end"] - sym["__pvpatch_state_start"] == nrec * 12
    native_max = 8  # the largest native_max of mini.spec
    assert sym["__pvpatch_saved_end"] - sym["__pvpatch_saved_start"] == nrec * native_max
    size = thunks or 16384
    # the thunk index: 5/2 slots of 32 bytes per record, 8 more, or what
    # the thunk area can use when fewer (size / 16 + size / 64 + 8), 8-aligned
    assert sym["__pvpatch_thunk_index_end"] - sym["__pvpatch_thunk_index_start"] \
        == min(nrec * 5 // 2 + 8, size // 16 + size // 64 + 8) * 32
    assert sym["__pvpatch_thunk_index_start"] % 8 == 0
    assert sym["__pvpatch_thunks_end"] - sym["__pvpatch_thunks_start"] == size
    assert sym["__pvpatch_thunks_start"] % 16 == 0
    assert sym["__pvbackend_io_start"] <= sym["be_io_delay"] < sym["__pvbackend_io_end"]
    for cls in ("time", "mmu", "mem", "msr"):
        assert sym[f"__pvbackend_{cls}_end"] == sym[f"__pvbackend_{cls}_start"]
    # The thunk area lies in .text and is int3.
    r = subprocess.run(["objcopy", "-O", "binary", "--only-section=.text", str(elf),
                        str(tmp_path / "text.bin")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "text.bin").read_bytes()
    lo = sym["__pvpatch_thunks_start"] - 0x100000
    assert text[lo:lo + size] == b"\xcc" * size
    r = subprocess.run(["readelf", "-SW", str(elf)], capture_output=True, text=True, check=True)
    for sec in (".pvpatch.sites", ".pvpatch.backends"):
        line = next(ln for ln in r.stdout.splitlines() if f" {sec} " in ln)
        assert "PROGBITS" in line and " A" in line, line
