# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""pvrom check: what a ROM would do to a guest, decided offline by the
kernel's own negotiation and patcher (build/tools/pvrom-sim), not a Python
copy of their logic.  The guest's text (its thunk area included) and site
records are handed to it at their original distances, with the backends the
guest registered (section .pvpatch.backends) and its function symbols."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from types import ModuleType

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from .errors import UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sim_path() -> str:
    p = os.environ.get("PVPATCH_SIM") or os.path.join(ROOT, "build", "tools", "pvrom-sim")
    if not os.path.exists(p):
        raise UsageError(f"{p} not found: run make (or set PVPATCH_SIM)")
    return p


STACK_ALIGN_SECTION = ".pvpatch.stack_align"  # pvpatch.mk: the kernel's PVPATCH_STACK_ALIGN


def _guest_image(gen: ModuleType, path: str, tmp: str) -> list[str]:
    """Write the files pvrom-sim reads; returns its options (--stack-align
    N when the ELF records the kernel's) and its first eight arguments."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror}") from None
    with f:
        try:
            elf = ELFFile(f)
            execs = [s for s in elf.iter_sections()
                     if s["sh_type"] == "SHT_PROGBITS" and s["sh_flags"] & 0x4 and s["sh_addr"]]
            sites = elf.get_section_by_name(gen.SECTION)
            symtab = elf.get_section_by_name(".symtab")
            if not execs or sites is None or not isinstance(symtab, SymbolTableSection):
                raise UsageError(f"{path}: not a linked guest with site records and symbols")
            lo = min(s["sh_addr"] for s in execs)
            hi = max(s["sh_addr"] + s["sh_size"] for s in execs)
            if hi - lo > 64 << 20:
                raise UsageError(f"{path}: executable sections span {hi - lo} bytes")
            text = bytearray(hi - lo)
            for s in execs:
                text[s["sh_addr"] - lo:s["sh_addr"] - lo + s["sh_size"]] = s.data()
            syms = {s.name: s for s in symtab.iter_symbols() if s.name}
            backends_sec = elf.get_section_by_name(gen.BACKEND_SECTION)
            backends = backends_sec.data() if backends_sec is not None else b""
            t0, t1 = syms.get("__pvpatch_thunks_start"), syms.get("__pvpatch_thunks_end")
            thunks = (t0["st_value"], t1["st_value"] - t0["st_value"]) if t0 and t1 else (0, 0)
            funcs = "".join(f"{n} {s['st_value']:x}\n" for n, s in syms.items()
                            if s["st_info"]["type"] == "STT_FUNC")
            sites_data, sites_addr = sites.data(), sites["sh_addr"]
            align_sec = elf.get_section_by_name(STACK_ALIGN_SECTION)
            align = align_sec.data()[:1] if align_sec is not None else b""
        except UsageError:
            raise
        except Exception as e:  # pyelftools on a malformed file
            raise UsageError(f"{path}: not a readable ELF file ({e})") from None
    files = {"text": bytes(text), "sites": sites_data, "backends": backends,
             "symbols": funcs.encode()}
    for name, data in files.items():
        with open(os.path.join(tmp, name), "wb") as out:
            out.write(data)
    opts = ["--stack-align", str(align[0])] if align else []
    return opts + [os.path.join(tmp, "text"), hex(lo), os.path.join(tmp, "sites"), hex(sites_addr),
            os.path.join(tmp, "backends"), os.path.join(tmp, "symbols"),
            hex(thunks[0]), hex(thunks[1])]


def check(gen: ModuleType, guest: str, rom: str, kvm_features: int, vmport: bool,
          gethz: bool, signature: str = "", cmdline: str = "", cpuid: str = "",
          text_out: str | None = None) -> dict:
    """text_out: also write there the guest's text as patched (from the
    lowest executable section's address, "text_addr" in the result)."""
    if rom != "-" and not os.path.exists(rom):
        raise UsageError(f"{rom}: no such ROM")
    with tempfile.TemporaryDirectory() as tmp:
        args = _guest_image(gen, guest, tmp)
        opts, args = args[:len(args) - 8], args[len(args) - 8:]
        extra = opts + (["--text-out", text_out] if text_out else [])
        p = subprocess.run([sim_path(), *extra, *args, rom, hex(kvm_features), str(int(vmport)),
                            str(int(gethz)), signature, cmdline, cpuid],
                           capture_output=True, text=True)
    if p.returncode:
        raise UsageError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else
                         f"pvrom-sim exited {p.returncode}")
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    verdict, summary = lines[0], lines[-1]
    per_op: dict[str, dict[str, int]] = {}
    sites = []
    rejects = []
    for x in lines[1:-1]:
        if "site" in x:
            op = gen.OPS.get(x["op"], {}).get("name", str(x["op"]))
            mode = gen.MODES[x["mode"]] if not x["invalid"] else "INVALID"
            per_op.setdefault(op, {}).setdefault(mode, 0)
            per_op[op][mode] += 1
            sites.append({"site": x["site"], "op": op, "mode": mode, "bytes": x["bytes"]})
        elif "reject" in x:
            x["op"] = gen.OPS.get(x["op"], {}).get("name", str(x["op"]))
            x["wanted"] = gen.MODES[x["wanted"]]
            x["got"] = gen.MODES[x["got"]]
            rejects.append(x)
    return {"guest": guest, "rom": rom, "verdict": verdict,
            "facts": {"kvm_features": kvm_features, "vmport": vmport, "gethz": gethz,
                      "signature": signature},
            "cmdline": cmdline, "source": verdict["source"], "text_addr": int(args[1], 16),
            "sites": summary["sites"], "invalid": summary["invalid"],
            "modes": dict(zip(gen.MODES, summary["modes"])), "fallbacks": summary["fallbacks"],
            "per_op": dict(sorted(per_op.items())), "rejects": rejects, "site_list": sites}


def rom_verdict(gen: ModuleType, rom: str) -> dict:
    """What the kernel's own code makes of a ROM by itself (pvrom-sim
    --verdict): {"rom": "used"|"refused", "why", "hypervisor", "entries",
    "ignored", "overrides", "per_entry": [{"entry", "op", "known", "mode",
    "insns", "reason"}]}, reason "" when the guest has nothing against it."""
    p = subprocess.run([sim_path(), "--verdict", rom], capture_output=True, text=True)
    if p.returncode:
        raise UsageError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else
                         f"pvrom-sim exited {p.returncode}")
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    v = lines[0]
    v["per_entry"] = lines[1:]
    return v
