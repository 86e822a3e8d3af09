# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Boot the test guest in QEMU under every profile: TCG always (seconds,
exact instruction counts with -icount), KVM where /dev/kvm works."""

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import BUILD, PYTHON, ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
from pvlib import boot  # noqa: E402

ELF = os.path.join(BUILD, "tests", "guest", "guest.elf")
ELF32 = os.path.join(BUILD, "tests", "guest", "guest32.elf")
BAD_OVERRIDE = "pvpatch.site=neg_read_cr3+0:nop guest.expect_bad_override"
KVM_OK, KVM_WHY = boot.kvm_usable()
needs_kvm = pytest.mark.skipif(not KVM_OK, reason=f"KVM unusable: {KVM_WHY}")


def run(accel, cmdline="", **kw):
    r = boot.boot(ELF32, accel, cmdline, timeout=kw.pop("timeout", 90), **kw)
    assert r.ok, f"{r.status} {r.ktap} {r.notes}\n{r.output[-3000:]}"
    return r


PROFILES = ["tcg", "bare-metal", "kvm-vt", "kvm-pv", "vmware-backdoor", "paravirt"]


def workload_checksum(r):
    m = re.search(r"^# workload ran, checksum (\d+)", r.output, re.M)
    assert m, "the workload did not run"
    return int(m.group(1))


@pytest.fixture(scope="module")
def unpoisoned():
    """One boot without poison (its workload checksum: the same in every
    profile under TCG) and the sites the liveness pass widened."""
    p = subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvsites"), "stats", "--json", ELF],
                       capture_output=True, text=True)
    widened = json.loads(p.stdout)["liveness"]["sites_widened"]
    return workload_checksum(run("tcg")), widened


@pytest.mark.parametrize("profile", PROFILES)
def test_tcg_profiles(profile, unpoisoned):
    """Every profile with pvpatch.poison: each widened site runs from a stub
    that writes garbage into every register its record calls dead after
    doing its job, and still every KTAP test passes, the workload computes
    what it computes unpoisoned and the benchmark runs every op."""
    checksum, widened = unpoisoned
    r = run("tcg", f"pvpatch.profile={profile} pvpatch.poison bench=1 {BAD_OVERRIDE}")
    assert r.report["source"] == f"built-in:{profile}"
    assert r.ktap["skipped"] == 0
    assert widened > 300
    assert r.as_json()["poison"] == {"poisoned": widened, "unpoisoned": 0}
    assert workload_checksum(r) == checksum
    assert set(r.bench) >= {"io_delay", "save_fl", "read_tsc", "cpuid", "mem_size"}
    for op, b in r.bench.items():
        assert b["patched"] >= b["native_build"] > 0 or op == "empty", (op, b)
    modes = r.report["modes"]
    if profile == "paravirt":
        # Every site calls its backend, except the one forced to NOP (refused).
        assert modes["CALL"] == r.report["sites"] - 1
        assert r.report["backend_bytes_freed"] == 0
    if profile == "vmware-backdoor":
        # QEMU's vmport does not answer GETHZ under TCG: calibrate_tsc stays native.
        assert r.ops["calibrate_tsc"]["NATIVE"] == 1
    if profile in ("tcg", "bare-metal", "kvm-vt", "vmware-backdoor"):
        # Under TCG no KVM bit holds: every site stays native, every backend freed.
        assert modes["NATIVE"] == r.report["sites"]
        assert r.report["backend_bytes_freed"] > 0


def test_tcg_detected_profile_and_off():
    r = run("tcg")
    assert r.report["hypervisor"] == "tcg" and r.report["source"] == "built-in:tcg"
    r = run("tcg", "pvpatch=off pvpatch.profile=paravirt")
    assert r.report["source"] == "off" and r.report["modes"]["NATIVE"] == r.report["sites"]


def test_tcg_op_and_site_overrides():
    r = run("tcg", "pvpatch.op=io_delay:nop,read_cr3:call pvpatch.site=neg_read_cr3+0:inline")
    assert r.ops["io_delay"]["NOP"] > 0 and r.ops["io_delay"]["NATIVE"] == 0
    assert r.ops["read_cr3"]["CALL"] >= 1
    # INLINE without a template falls back to CALL for that one site.
    assert any(j["where"] == "neg_read_cr3+0x0" and j["got"] == "CALL" for j in r.rejects)


def test_tcg_debug_dump():
    r = run("tcg", "pvpatch.debug pvpatch.op=io_delay:nop")
    assert " io_delay NOP old e6 80" in r.output


def test_native_site_costs_one_padding_instruction():
    """Under TCG with -icount a NATIVE site costs exactly the framework-free
    build's instructions, plus the one padding NOP when it has padding."""
    r = run("tcg", "bench=8")
    assert r.bench
    for op, b in r.bench.items():
        assert b["mode"] == "NATIVE"
        assert 0 <= b["patched"] - b["native_build"] <= 1, (op, b)


def test_guest_sites_verify():
    p = subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvsites"), "stats", "--json", ELF],
                       capture_output=True, text=True)
    st = json.loads(p.stdout)
    assert st["sites"] >= 300 and st["findings"] == 0
    assert st["ops"] == 61
    p = subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvsites"), "verify", ELF],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


# --- the feature ROM -----------------------------------------------------

@pytest.fixture(scope="module")
def roms(tmp_path_factory):
    d = tmp_path_factory.mktemp("roms")
    for prof in os.listdir(os.path.join(ROOT, "hypervisor-features")):
        name = prof.removesuffix(".profile")
        subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvrom"), "build",
                        os.path.join(ROOT, "hypervisor-features", prof), "-o",
                        str(d / f"{name}.rom")], check=True)
    return d


def assert_check_is_boot(r, rom="-", cpuid=""):
    """tools/pvrom check, given what this TCG boot observed (QEMU's backdoor
    answers, GETHZ does not) and its command line, predicts it site by site:
    the policy's source, every site's mode and every byte written."""
    p = subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvrom"), "check", rom, ELF,
                        "--signature", "TCGTCGTCGTCG", "--vmport", "--cmdline", r.cmdline,
                        "--cpuid", cpuid, "--json"], capture_output=True, text=True)
    assert p.returncode in (0, 1), p.stderr
    sim = json.loads(p.stdout)
    booted = [json.loads(ln.split(":", 1)[1]) for ln in r.output.splitlines()
              if ln.startswith("# pvpatch-site:")]
    assert booted and sim["source"] == r.report["source"]
    predicted = {s["site"]: (s["mode"], s["bytes"]) for s in sim["site_list"]
                 if s["mode"] != "INVALID"}
    assert {s["site"]: (s["mode"], s["bytes"]) for s in booted} == predicted


@pytest.mark.parametrize("profile", PROFILES)
def test_rom_matches_builtin(roms, profile):
    """A profile delivered as a ROM through fw_cfg gives the same decisions
    as the same profile built in, and pvrom check predicts both boots (the
    ROM boot with pvpatch.poison: pvrom check models the poison stubs, so
    the sites' `jmp stub` bytes are predicted too)."""
    built_in = run("tcg", f"pvpatch.profile={profile} guest.dump_sites")
    rom = run("tcg", "pvpatch.poison guest.dump_sites", rom=str(roms / f"{profile}.rom"))
    assert rom.as_json()["poison"]["poisoned"] > 300
    assert rom.report["source"].startswith("rom:")
    def modes(r):  # per op, bytes changed aside (a poisoned site is `jmp stub`)
        return {op: {m: n for m, n in v.items() if m != "bytes"} for op, v in r.ops.items()}
    assert modes(rom) == modes(built_in) and rom.report["modes"] == built_in.report["modes"]
    assert_check_is_boot(built_in)
    assert_check_is_boot(rom, str(roms / f"{profile}.rom"))


def newer_hypervisor(accel, roms):
    """vmware-backdoor-v2 exists only as a ROM: it patches mem_size with a
    backdoor command (GETRAMSIZE) that no code or built-in profile of the
    guest has, and the guest's mem_size test checks the result."""
    before = run(accel, "pvpatch.profile=vmware-backdoor", timeout=300)
    assert before.ops["mem_size"]["INLINE"] == 0
    r = run(accel, rom=str(roms / "vmware-backdoor-v2.rom"), timeout=300)
    assert r.report["source"] == "rom:vmware-backdoor-v2"
    assert r.ops["mem_size"]["INLINE"] > 0 and r.ops["mem_size"]["NATIVE"] == 0
    assert r.ktap["failed"] == 0 and "mem_size INLINE: 134217728 bytes" in r.output


def test_newer_hypervisor_rom_tcg(roms):
    newer_hypervisor("tcg", roms)


@needs_kvm
def test_newer_hypervisor_rom_kvm(roms):
    newer_hypervisor("kvm", roms)


@pytest.fixture(scope="module")
def bad_roms(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad-roms")
    subprocess.run([PYTHON, os.path.join(ROOT, "tests", "tools", "make_bad_roms.py"), str(d)],
                   check=True, capture_output=True)
    with open(d / "manifest.json") as f:
        return d, {m["name"]: m for m in json.load(f)}


def bad_rom_names():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([PYTHON, os.path.join(ROOT, "tests", "tools", "make_bad_roms.py"), d],
                       check=True, capture_output=True)
        with open(os.path.join(d, "manifest.json")) as f:
            return [m["name"] for m in json.load(f)]


@pytest.mark.parametrize("name", bad_rom_names())
def test_malformed_rom_boots(bad_roms, name):
    """Every malformed ROM: the guest boots, says what it refused, leaves
    those sites alone, every in-guest test passes, and pvrom check predicted
    it site by site."""
    d, manifest = bad_roms
    m = manifest[name]
    r = run("tcg", "guest.dump_sites", rom=str(d / m["file"]))
    assert_check_is_boot(r, str(d / m["file"]))
    if m["kind"] == "structural":
        assert r.report["source"] == "built-in:tcg", m
        assert r.report["rom_refused"], m
        assert "ROM refused" in r.output
    else:
        assert r.report["source"].startswith("rom:"), m
        assert not r.report["rom_refused"]
    if m["kind"] in ("template", "override"):
        assert r.rejects, m
    if name.startswith("v2-") and m["kind"] == "accepted":
        # The entry the kernel ignores asked io_delay for CALL; the ROM's
        # earlier entry (NOP) still applies.
        assert r.ops["io_delay"].get("CALL", 0) == 0 and r.ops["io_delay"]["NOP"] > 0, r.ops


@needs_kvm
def test_kvm_default_features():
    r = run("kvm", BAD_OVERRIDE, timeout=300)
    assert r.report["hypervisor"] == "kvm"
    assert r.ops["io_delay"]["NOP"] > 0          # NOP_IO_DELAY is on by default
    assert r.ops["apic_eoi"]["CALL"] > 0         # PV_EOI
    # The guest registered its PV EOI word; each of the apic_eoi test's EOIs
    # went through the backend (by the flag if KVM set it, else the APIC).
    assert r.pv_eoi["enabled"] and r.pv_eoi["call_sites"] == r.ops["apic_eoi"]["CALL"]
    assert r.pv_eoi["fast"] + r.pv_eoi["apic"] >= 3
    assert r.ktap["skipped"] == 0


@needs_kvm
def test_kvm_nopiodelay_off():
    r = run("kvm", kvm_features=["kvm-nopiodelay=off"], timeout=300)
    assert r.ops["io_delay"]["NOP"] == 0


@needs_kvm
def test_kvm_hypercalls_fitted_not_run():
    r = run("kvm", hypercalls=True, timeout=300)
    ops = {f["op"] for f in r.fitted}
    assert ops == {"send_ipi", "kick_cpu", "sched_yield"}
    assert all(f["ok"] for f in r.fitted)
    assert r.report["modes"]["INLINE"] > 0


@needs_kvm
def test_kvm_vmware_backdoor():
    r = run("kvm", "pvpatch.profile=vmware-backdoor", timeout=300)
    assert r.ops["calibrate_tsc"]["INLINE"] == 1   # GETHZ answers under KVM
    assert r.ops["mem_size"]["INLINE"] == 0        # GETRAMSIZE: only the v2 ROM


@pytest.mark.parametrize("profile", ["vmware-backdoor-v2", "paravirt", "kvm-pv"])
def test_pvrom_check_predicts_the_boot(roms, profile):
    """pvrom check runs the guest's own parser and patcher offline: its
    per-mode counts are what the guest then does at boot."""
    rom = str(roms / f"{profile}.rom")
    p = subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvrom"), "check", rom, ELF,
                        "--vmport", "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    offline = json.loads(p.stdout)
    r = run("tcg", rom=rom)
    assert offline["modes"] == r.report["modes"]
    for op, counts in r.ops.items():
        booted = {m: n for m, n in counts.items() if m != "bytes" and n}
        assert offline["per_op"][op] == booted, op


# A format 2 profile conditioned as Linux alternatives are, on CPU features,
# and on the hypervisor signature, beside an entry this kernel cannot know.
CPU_PROFILE = """\
hypervisor cpu-features-and-signature
op io_delay NOP if cpu:rdtscp
op wbinvd CALL if hv:TCGTCGTCGTCG
op clts CALL if hv:KVMKVMKVM
"""


@pytest.mark.parametrize("rdtscp", [True, False])
def test_cpuid_condition_follows_the_cpu(tmp_path, rdtscp):
    """`if cpu:rdtscp` decides as the CPU says: QEMU's -cpu turns RDTSCP
    (CPUID 0x80000001 EDX bit 27) on and off; pvrom check, given the same
    CPUID, predicts the boot byte for byte."""
    prof = tmp_path / "cpu.profile"
    prof.write_text(CPU_PROFILE)
    rom = tmp_path / "cpu.rom"
    subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvrom"), "build", str(prof),
                    "-o", str(rom)], check=True)
    flag = "+rdtscp" if rdtscp else "-rdtscp"
    r = run("tcg", "guest.dump_sites", rom=str(rom), cpu=f"qemu64,{flag}")
    assert r.report["source"] == "rom:cpu-features-and-signature"
    io = r.ops["io_delay"]
    assert (io.get("NOP", 0) > 0 and not io.get("NATIVE")) if rdtscp else \
        (io.get("NATIVE", 0) > 0 and not io.get("NOP")), io
    assert r.ops["wbinvd"].get("CALL", 0) > 0 and not r.ops["clts"].get("CALL"), r.ops
    edx = 1 << 27 if rdtscp else 0
    assert_check_is_boot(r, str(rom), cpuid=f"80000000=80000008:0:0:0,80000001=0:0:0:{edx:x}")
