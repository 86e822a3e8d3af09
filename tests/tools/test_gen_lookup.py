# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""How tools/pvsites and tools/pvrom find the generated description
(tools/pvlib/gen.py): --gen DIR, else $PVPATCH_GEN, else the directory the
ELF records in .pvpatch.gen, else a build directory up the tree from the
file, else one line asking for --gen (exit 2): never the framework's own
build tree by default."""

import os
import shutil
import subprocess

import pytest

from conftest import BUILD, PYTHON, ROOT

PVSITES = os.path.join(ROOT, "tools", "pvsites")
PVROM = os.path.join(ROOT, "tools", "pvrom")
GEN = os.path.join(BUILD, "gen")
GUEST = os.path.join(BUILD, "tests", "guest", "guest.elf")
SITES_OBJ = os.path.join(BUILD, "tests", "sites", "callsites-O2.o")


def run(tool, *args, gen_env=None):
    env = {k: v for k, v in os.environ.items() if k != "PVPATCH_GEN"}
    if gen_env is not None:
        env["PVPATCH_GEN"] = gen_env
    p = subprocess.run([PYTHON, tool, *args], capture_output=True, text=True, env=env,
                       timeout=120)
    assert "Traceback" not in p.stderr, p.stderr
    return p


def strip_gen_section(src, dst):
    subprocess.run(["objcopy", "--remove-section=.pvpatch.gen", src, dst], check=True)


def test_elf_records_its_generator_directory():
    p = subprocess.run(["readelf", "-p", ".pvpatch.gen", GUEST], capture_output=True,
                       text=True, check=True)
    assert os.path.abspath(GEN) in p.stdout
    p = run(PVSITES, "verify", GUEST)
    assert p.returncode == 0, p.stderr


def test_no_gen_anywhere_is_one_line_exit_2(tmp_path):
    elf = tmp_path / "guest.elf"
    strip_gen_section(GUEST, str(elf))
    p = run(PVSITES, "verify", str(elf))
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "pass --gen" in p.stderr, p.stderr
    # --gen and the environment variable both work.
    assert run(PVSITES, "verify", "--gen", GEN, str(elf)).returncode == 0
    assert run(PVSITES, "verify", str(elf), gen_env=GEN).returncode == 0


def test_recorded_directory_that_is_gone_falls_back_to_the_tree(tmp_path):
    """An ELF moved with its build directory: the recorded path no longer
    exists, the gen/ directory up the tree from the file is used."""
    build = tmp_path / "kbuild"
    shutil.copytree(os.path.join(GEN, "python"), build / "gen" / "python")
    (build / "out").mkdir()
    elf = build / "out" / "guest.elf"
    strip_gen_section(GUEST, str(elf))
    p = run(PVSITES, "stats", str(elf))
    assert p.returncode == 0, p.stderr


def test_object_files_use_the_build_tree_they_are_in():
    p = run(PVSITES, "verify", SITES_OBJ)
    assert p.returncode == 0, p.stderr


def test_explicit_gen_wins_and_is_checked(tmp_path):
    p = run(PVSITES, "verify", "--gen", str(tmp_path), GUEST)
    assert p.returncode == 2 and "--gen" in p.stderr and p.stderr.count("\n") == 1


@pytest.mark.parametrize("where", ["before", "after"])
def test_pvrom_takes_gen_before_or_after_the_command(tmp_path, where):
    prof = os.path.join(ROOT, "hypervisor-features", "tcg.profile")
    rom = str(tmp_path / "tcg.rom")
    args = ["--gen", GEN, "build", prof, "-o", rom] if where == "before" else \
        ["build", "--gen", GEN, prof, "-o", rom]
    p = run(PVROM, *args)
    assert p.returncode == 0, p.stderr
    assert run(PVROM, "dump", rom).returncode == 2  # no ELF to find it from
    assert run(PVROM, "dump", "--gen", GEN, rom).returncode == 0
