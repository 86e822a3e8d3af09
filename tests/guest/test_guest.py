"""Boot the test guest in QEMU under every profile: TCG always (seconds,
exact instruction counts with -icount), KVM where /dev/kvm works."""

import json
import os
import subprocess
import sys

import pytest
from conftest import BUILD, PYTHON, ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
from pvlib import boot  # noqa: E402

ELF = os.path.join(BUILD, "tests", "guest", "guest.elf")
ELF32 = os.path.join(BUILD, "tests", "guest", "guest32.elf")
BAD_OVERRIDE = "pvpatch.site=neg_read_cr3+0:nop pvpatch.test_bad_override"
KVM_OK, KVM_WHY = boot.kvm_usable()
needs_kvm = pytest.mark.skipif(not KVM_OK, reason=f"KVM unusable: {KVM_WHY}")


def run(accel, cmdline="", **kw):
    r = boot.boot(ELF32, accel, cmdline, timeout=kw.pop("timeout", 90), **kw)
    assert r.ok, f"{r.status} {r.ktap} {r.notes}\n{r.output[-3000:]}"
    return r


@pytest.mark.parametrize("profile", ["tcg", "bare-metal", "kvm", "vmware-backdoor", "paravirt"])
def test_tcg_profiles(profile):
    r = run("tcg", f"pvpatch.profile={profile} {BAD_OVERRIDE}")
    assert r.report["source"] == f"built-in:{profile}"
    assert r.ktap["skipped"] == 0
    modes = r.report["modes"]
    if profile == "paravirt":
        # Every site calls its backend, except the one forced to NOP (refused).
        assert modes["CALL"] == r.report["sites"] - 1
    if profile == "vmware-backdoor":
        # QEMU's vmport answers GETRAMSIZE under TCG, not GETHZ.
        assert r.ops["mem_size"]["INLINE"] > 0 and r.ops["mem_size"]["NATIVE"] == 0
        assert r.ops["calibrate_tsc"]["NATIVE"] == 1
    if profile in ("tcg", "bare-metal", "kvm"):
        assert modes["NATIVE"] == r.report["sites"]


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
    assert st["ops"] == 34
    p = subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvsites"), "verify", ELF],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


@needs_kvm
def test_kvm_default_features():
    r = run("kvm", BAD_OVERRIDE, timeout=300)
    assert r.report["hypervisor"] == "kvm"
    assert r.ops["io_delay"]["NOP"] > 0          # NOP_IO_DELAY is on by default
    assert r.ops["apic_eoi"]["CALL"] > 0         # PV_EOI
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
    assert r.ops["mem_size"]["INLINE"] >= 1
