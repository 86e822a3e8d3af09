#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The csmith differential of poison mode (`make csmith`; not in `make check`).

For each seed: csmith writes a random C program; every block of it gets a
sched_yield site (`pv_sched_yield(pv_tick++ ^ N)`); it is compiled at -O2
with the framework's headers, linked with the host harness (harness.c and
the runtime patcher), and the liveness pass widens its records in place.
Then it runs patched NATIVE, NOP and CALL, each without and with
PVPATCH_F_POISON: the poisoned run must print exactly what the unpoisoned
one prints (the program's checksum and the CALL backend's digest of the
arguments it saw).  The negative run: NATIVE poisoned with every record
claiming every register but rsp and rbp dead must change the result of at
least one program, or poison proves nothing.  A program that does not finish unpoisoned within the
timeout is skipped (csmith programs may run for a very long time).
Exit status 0: every compared pair equal; 1: a difference (printed);
2: unusable setup."""

import argparse
import os
import re
import subprocess
import sys
import tempfile

MODES = ("native", "nop", "call")


def instrument(src):
    src = src.replace("int main (void)", "int csmith_main (void)")
    src = re.sub(r"/\* block id: (\d+) \*/",
                 lambda m: f"/* block id: {m[1]} */ pv_sched_yield(pv_tick++ ^ {m[1]}u);", src)
    return "#include <stdint.h>\n#include <asm/pvops-gen.h>\nstatic uint32_t pv_tick;\n" + src


def run(exe, mode, poison, timeout, wrong=False):
    env = dict(os.environ, PVPATCH_CSMITH_MODE=mode, PVPATCH_CSMITH_POISON=str(int(poison)))
    if wrong:
        env["PVPATCH_CSMITH_WRONG_MASKS"] = "1"
    try:
        # cwd: csmith's platform_main_begin() writes platform.info there
        p = subprocess.run([exe], capture_output=True, text=True, timeout=timeout, env=env,
                           cwd=os.path.dirname(exe))
    except subprocess.TimeoutExpired:
        return None
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cc", default="gcc")
    ap.add_argument("--cflags", required=True, help="the framework's include flags")
    ap.add_argument("--link", required=True, nargs="+", help="harness objects and linker script")
    ap.add_argument("--liveness", required=True, help="the liveness pass command")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10)
    a = ap.parse_args()
    if not os.path.exists("/usr/include/csmith/csmith.h"):
        print("csmith: /usr/include/csmith/csmith.h missing: install csmith and libcsmith-dev "
              "(scripts/install-deps.sh)", file=sys.stderr)
        return 2
    lds = [x for x in a.link if x.endswith(".lds")]
    objs = [x for x in a.link if not x.endswith(".lds")]
    bad = compared = skipped = poisoned_total = negative = caught = 0
    with tempfile.TemporaryDirectory() as d:
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            c, exe = os.path.join(d, f"p{seed}.c"), os.path.join(d, f"p{seed}")
            g = subprocess.run(["csmith", "--seed", str(seed), "--no-argc", "--max-funcs", "4",
                                "--max-block-depth", "3"],
                               capture_output=True, text=True)
            if g.returncode:
                print(f"seed {seed}: csmith failed: {g.stderr.strip()}", file=sys.stderr)
                return 2
            with open(c, "w") as f:
                f.write(instrument(g.stdout))
            cmd = [a.cc, "-std=gnu11", "-O2", "-w", "-fno-pie", "-no-pie", "-mno-red-zone",
                   "-I/usr/include/csmith", *a.cflags.split(), c, *objs,
                   *[f"-Wl,-T,{x}" for x in lds], "-o", exe]
            b = subprocess.run(cmd, capture_output=True, text=True)
            if b.returncode:
                print(f"seed {seed}: compile failed:\n{b.stderr[-2000:]}", file=sys.stderr)
                return 2
            lv = subprocess.run(a.liveness.split() + [exe], capture_output=True, text=True)
            if lv.returncode:
                print(f"seed {seed}: liveness pass failed: {lv.stderr.strip()}", file=sys.stderr)
                return 2
            for mode in MODES:
                plain = run(exe, mode, False, a.timeout)
                if plain is None:
                    print(f"seed {seed} {mode}: skipped (no result within {a.timeout} s)")
                    skipped += 1
                    continue
                pois = run(exe, mode, True, a.timeout * 3)
                m = re.search(r"(\d+) sites, (\d+) poisoned, (\d+) not", pois.stderr if pois else "")
                n_sites, n_pois = (int(m[1]), int(m[2])) if m else (0, 0)
                poisoned_total += n_pois if mode == "native" else 0
                same = (pois is not None and pois.returncode == plain.returncode
                        and pois.stdout == plain.stdout)
                compared += 1
                status = "same" if same else "DIFFERENT"
                print(f"seed {seed} {mode}: {n_pois} of {n_sites} sites poisoned, "
                      f"{plain.stdout.splitlines()[0] if plain.stdout else '(no output)'}: {status}")
                if mode == "native" and same:
                    # The negative run: masks calling every register dead.
                    w = run(exe, mode, True, a.timeout * 3, wrong=True)
                    caught += w is None or w.returncode != plain.returncode \
                        or w.stdout != plain.stdout
                    negative += 1
                if not same:
                    bad += 1
                    print(f"  unpoisoned rc {plain.returncode}: {plain.stdout[-300:]!r}")
                    print(f"  poisoned: {'timeout' if pois is None else pois.returncode}: "
                          f"{(pois.stdout if pois else '')[-300:]!r} {(pois.stderr if pois else '')[-300:]!r}")
    print(f"csmith: {compared} poisoned/unpoisoned pairs compared, {bad} different, "
          f"{skipped} skipped; {poisoned_total} sites poisoned over the programs; "
          f"negative run (every register called dead): {caught} of {negative} programs "
          f"computed something else or crashed")
    if negative and not caught:
        print("csmith: poison changed nothing even with wrong masks", file=sys.stderr)
        return 1
    return 1 if bad else (2 if not compared else 0)


if __name__ == "__main__":
    sys.exit(main())
