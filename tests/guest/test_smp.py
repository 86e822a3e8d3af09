# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The guest on several CPUs (multi-threaded TCG, so they really run at
once): the ops that name a CPU act on another one, and live re-patching
(pvpatch_repatch() with the guest's NMI rendezvous) while three CPUs run
every op's sites and check each result.  The 200-round run of the issue is
the same command with guest.repatch_rounds=200 (README, "Live re-patching
in the guest")."""

import os
import subprocess
import sys

import pytest
from conftest import BUILD, PYTHON, ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
from pvlib import boot  # noqa: E402

ELF32 = os.path.join(BUILD, "tests", "guest", "guest32.elf")
KVM_OK, KVM_WHY = boot.kvm_usable()
needs_kvm = pytest.mark.skipif(not KVM_OK, reason=f"KVM unusable: {KVM_WHY}")
SCHEDULE = "pvpatch.repatch=tcg,paravirt,boot@3"


@pytest.fixture(scope="module")
def v2_rom(tmp_path_factory):
    """vmware-backdoor-v2: mem_size INLINE (the backdoor's GETRAMSIZE) under TCG."""
    rom = tmp_path_factory.mktemp("smp-roms") / "vmware-backdoor-v2.rom"
    subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvrom"), "build",
                    os.path.join(ROOT, "hypervisor-features", "vmware-backdoor-v2.profile"),
                    "-o", str(rom)], check=True)
    return str(rom)


def test_smp4_live_repatch_stress(v2_rom):
    """CPU 0 cycles all-native (tcg), paravirt (every op CALL) and the
    VMware backdoor ROM (mem_size INLINE) every 3 ms while CPUs 1-3 run
    the workload: nothing faults, no result is wrong, no re-patch gives
    up, and every site ends as a fresh boot with the final policy has it."""
    r = boot.boot(ELF32, "tcg", f"{SCHEDULE} guest.repatch_rounds=30", rom=v2_rom, smp=4,
                  timeout=120)
    rp = r.repatch
    assert r.ok, f"{r.status} {r.ktap} {rp}\n{r.output[-3000:]}"
    assert rp["cpus"] == 4 and rp["rounds"] >= 30 and rp["changed"] >= 30
    assert (rp["faults"], rp["wrong"], rp["gave_up"], rp["failed"], rp["digest_mismatch"]) \
        == (0, 0, 0, 0, 0), rp
    assert rp["final"] in ("tcg", "paravirt", "boot") and rp["sites_written"] > 1000
    assert rp["thunks_reclaimed"] > 0 and rp["stop_insns_median"] is None
    # the exact checks (CALL backend counts) ran between re-patches
    line = r.repatch_line
    assert line["exact_batches"] > 0 and line["batches"] >= line["exact_batches"]


def test_smp4_live_repatch_poisoned(v2_rom):
    """The stress with pvpatch.poison: every widened site (437 of the 496
    sites) runs from a poison stub, on the three workload CPUs at once,
    while CPU 0 cycles all-native, paravirt (every op CALL) and the
    backdoor ROM (mem_size INLINE) as the other stress does.  Each paravirt
    step re-plans every poisoned site: the next generation of stubs (and the
    thunks of the CALL sites) is staged while the current one is still in
    the thunk index, which the linker fragment sizes from the record count
    (PVPATCH_THUNK_SLOTS()), then the old ones are given back.  No re-patch
    fails or gives up, no fault, no wrong result, and pvrom check (which
    models poison) predicts every final site."""
    r = boot.boot(ELF32, "tcg", f"pvpatch.poison {SCHEDULE} guest.repatch_rounds=20",
                  rom=v2_rom, smp=4, timeout=120)
    rp = r.repatch
    assert r.ok, f"{r.status} {r.ktap} {rp}\n{r.output[-3000:]}"
    assert r.as_json()["poison"]["poisoned"] > 300 and r.as_json()["poison"]["unpoisoned"] == 0
    assert rp["cpus"] == 4 and rp["rounds"] >= 20 and rp["changed"] >= 20
    # every paravirt step moved all poisoned sites (7 steps, 437 stubs each)
    assert rp["sites_written"] > 7 * 437 and rp["thunks_reclaimed"] > 7 * 437
    assert (rp["faults"], rp["wrong"], rp["gave_up"], rp["failed"], rp["digest_mismatch"]) \
        == (0, 0, 0, 0, 0), rp


def test_smp4_repatch_without_quiescence_breaks():
    """The negative test: the same run with pvpatch's quiescence check off
    (guest.repatch_unsafe sets PVPATCH_F_NO_QUIESCE_DEBUG) writes sites
    that the workload CPUs are in the middle of, and they fault or compute
    wrong results."""
    r = boot.boot(ELF32, "tcg", f"{SCHEDULE} guest.repatch_rounds=30 guest.repatch_unsafe",
                  smp=4, timeout=120)
    rp = r.repatch
    # an exception, or a triple fault (a reset: QEMU exits 0)
    assert rp["faults"] > 0 or rp["wrong"] > 0, (r.status, rp, r.output[-2000:])


def test_smp1_repatch_cost_is_exact_and_bad_schedules_ignored():
    """One CPU under -icount: a re-patch's rendezvous and writes in guest
    instructions (the figures README quotes); the schedule still ends with
    every site as a fresh boot writes it.  The library parses the word: no
    period, a zero period, an empty or a ninth name are reported and
    ignored, and a later good word still counts."""
    bad = ["tcg,paravirt", "tcg@0", "tcg,,paravirt@5", ",".join(["tcg"] * 9) + "@5"]
    r = boot.boot(ELF32, "tcg", " ".join(f"pvpatch.repatch={b}" for b in bad)
                  + " pvpatch.repatch=tcg,paravirt@2 guest.repatch_rounds=4")
    rp = r.repatch
    assert r.ok and rp["digest_mismatch"] == 0 and rp["rounds"] >= 4, rp
    assert rp["stop_insns_median"] > 0 and rp["write_insns_median"] > rp["stop_insns_median"]
    for b in bad:
        assert f"pvpatch: ignoring bad re-patch schedule '{b}'" in r.output


def test_smp2_ktap_and_host_nmi_trigger():
    """Two CPUs, paravirt (every op CALL): the IPI, kick, yield and TLB
    tests name CPU 1 and check the effect there, and all pass.  Then the
    host's trigger: QMP inject-nmi while the guest waits; each NMI makes
    CPU 0 negotiate as at boot and re-patch (to the same policy here:
    without a migration the host publishes what it did at boot)."""
    r = boot.boot(ELF32, "tcg", "pvpatch.profile=paravirt guest.repatch_host "
                  "guest.repatch_rounds=2", smp=2, timeout=90, inject_nmi=2)
    rp = r.repatch
    assert r.ok, f"{r.status} {r.notes}\n{r.output[-2000:]}"
    assert "# smp: 2 CPUs up" in r.output and "tcg,thread=multi" in r.command
    assert r.output.count("# repatch: the host asked (NMI)") == 2
    assert rp["host_nmis"] == 2 and rp["rounds"] >= 2 and rp["final"] == "boot"
    assert rp["digest_mismatch"] == 0 and rp["faults"] == 0 and rp["wrong"] == 0


@needs_kvm
def test_kvm_smp2_live_repatch():
    r = boot.boot(ELF32, "kvm", "pvpatch.repatch=kvm-vt,paravirt,kvm-pv,boot@3 "
                  "guest.repatch_rounds=50", smp=2, timeout=300)
    rp = r.repatch
    assert r.ok and (rp["faults"], rp["wrong"], rp["gave_up"], rp["digest_mismatch"]) \
        == (0, 0, 0, 0), rp


@pytest.fixture(scope="module")
def tcg_and_paravirt_roms(tmp_path_factory):
    d = tmp_path_factory.mktemp("mig-roms")
    for name in ("tcg", "paravirt"):
        subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvrom"), "build",
                        os.path.join(ROOT, "hypervisor-features", f"{name}.profile"),
                        "-o", str(d / f"{name}.rom")], check=True)
    return str(d / "tcg.rom"), str(d / "paravirt.rom")


def test_live_migration_tcg_rom_to_paravirt_rom(tcg_and_paravirt_roms):
    """Two CPUs running the workload migrate (QMP migrate, loopback) from a
    QEMU publishing the TCG profile's ROM to one publishing the paravirt
    ROM; the destination's NMI makes the guest read the new ROM and
    re-patch while CPU 1 runs, and every test passes again there, with the
    sites a fresh boot on the destination would have."""
    tcg_rom, pv_rom = tcg_and_paravirt_roms
    r = boot.boot(ELF32, "tcg", "guest.repatch_host guest.repatch_rounds=1", rom=tcg_rom,
                  smp=2, timeout=120, migrate_to=f"rom={pv_rom}")
    m, rp = r.migration, r.repatch
    assert m["status"] == "completed", (r.status, m, r.output[-2000:])
    assert r.ok, f"{r.status} {r.ktap} {r.ktap_after}\n{r.output[-3000:]}"
    assert m["before"]["CALL"] == 0 and m["after"]["CALL"] > 0, m
    assert m["source_after"] == "rom:paravirt"
    assert m["ktap_after"]["failed"] == 0 and m["ktap_after"]["passed"] >= 30
    assert m["after"] == m["fresh_boot_modes"] and m["after_equals_fresh_boot"]
    assert (rp["faults"], rp["wrong"], rp["gave_up"], rp["digest_mismatch"]) == (0, 0, 0, 0), rp


@needs_kvm
def test_kvm_live_migration_to_default_kvm_bits():
    r = boot.boot(ELF32, "kvm", "guest.repatch_host guest.repatch_rounds=1",
                  kvm_features=["kvm-nopiodelay=off"], smp=2, timeout=300,
                  migrate_to="kvm-features=kvm-nopiodelay=on")
    m = r.migration
    assert r.ok and m["status"] == "completed" and m["ktap_after"]["failed"] == 0, m
    assert m["after"] == m["fresh_boot_modes"]
