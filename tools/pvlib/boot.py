# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Boot the pvpatch test guest in QEMU and read what it reports.

The guest prints KTAP and, on `# pvpatch-<kind>: {json}` lines, its patch
report, per-op modes, rejections, benchmark figures and the bytes of sites
fitted with KVM hypercalls.  QEMU's isa-debug-exit gives its verdict:
status 1 all passed, 3 a test failed, 5 panic, 33+ an exception (vector
+ 16, << 1 | 1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from .errors import UsageError

# Bits whose ops become KVM hypercalls: vmcall never completes under this
# machine's KVM (an instruction emulator), so runs that execute them turn
# the bits off unless told otherwise.
HYPERCALL_FEATURES = ("kvm-pv-ipi=off", "kvm-pv-sched-yield=off", "kvm-pv-unhalt=off")
KVM_HC = {"send_ipi": 10, "kick_cpu": 5, "sched_yield": 11}
KVM_ARG_REGS = ("rbx", "rcx", "rdx", "rsi")

STATUS = {1: "passed", 3: "failed", 5: "panic"}
KTAP_LINE = re.compile(r"^(not ok|ok) (\d+) (.*?)(?: # (SKIP|TODO)\b ?(.*))?$")
JSON_LINE = re.compile(r"^# pvpatch-(\w+): (\{.*\})\s*$")


@dataclass
class BootResult:
    accel: str
    cmdline: str
    command: list[str]
    status: str = "unknown"
    exit_code: int | None = None
    output: str = ""
    notes: list[str] = field(default_factory=list)
    ktap: dict = field(default_factory=lambda: {"passed": 0, "failed": 0, "skipped": 0,
                                                 "planned": None, "failures": []})
    report: dict = field(default_factory=dict)
    ops: dict = field(default_factory=dict)
    rejects: list = field(default_factory=list)
    bench: dict = field(default_factory=dict)
    fitted: list = field(default_factory=list)
    fault: dict | None = None
    pv_eoi: dict | None = None
    smp: int = 1
    repatch_line: dict | None = None	# the guest's own figures
    rsites: list = field(default_factory=list)	# every site after the last re-patch
    repatch: dict | None = None		# the JSON key (repatch_summary())
    modes_seen: list = field(default_factory=list)	# pvpatch-modes lines, in order
    ktap_after: dict | None = None		# KTAP again after a host-triggered re-patch
    migration: dict | None = None		# the JSON key (--migrate-to)

    @property
    def ok(self) -> bool:
        def whole(k):
            return (k["failed"] == 0 and k["planned"] is not None
                    and k["passed"] + k["skipped"] == k["planned"])
        return (self.status == "passed" and whole(self.ktap)
                and (self.ktap_after is None or whole(self.ktap_after))
                and all(f["ok"] for f in self.fitted))

    def as_json(self) -> dict:
        unit = "insns" if self.accel == "tcg" else "cycles"
        bench = {op: dict(b, unit=unit) for op, b in self.bench.items()}
        for b in bench.values():
            b.pop("op", None)
        r = self.report
        return {
            "accel": self.accel,
            "cmdline": self.cmdline,
            "status": self.status,
            "ok": self.ok,
            "hypervisor": r.get("hypervisor"),
            "signature": r.get("signature"),
            "source": r.get("source"),
            "kvm_features": r.get("kvm_features"),
            "sites": r.get("sites"),
            "invalid": r.get("invalid"),
            "modes": r.get("modes", {}),
            "rejected": r.get("rejected"),
            "poison": {"poisoned": r.get("poisoned", 0), "unpoisoned": r.get("unpoisoned", 0)},
            "rejects": self.rejects,
            "ops": self.ops,
            "ktap": self.ktap,
            "patch_insns_per_site": r.get("patch_tsc_per_site") if self.accel == "tcg" else None,
            "patch_tsc_per_site": r.get("patch_tsc_per_site"),
            "bench": bench,
            "fitted": self.fitted,
            "fault": self.fault,
            "pv_eoi": self.pv_eoi,
            "smp": self.smp,
            **({"repatch": self.repatch} if self.repatch is not None else {}),
            **({"migration": self.migration} if self.migration is not None else {}),
            "notes": self.notes,
        }


def kvm_usable() -> tuple[bool, str]:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError as e:
        return False, f"/dev/kvm: {e.strerror}"
    os.close(fd)
    return True, ""


def qemu_binary() -> str:
    q = shutil.which("qemu-system-x86_64")
    if not q:
        raise UsageError("qemu-system-x86_64 not found (apt-get install qemu-system-x86)")
    return q


def command(elf32: str, accel: str, cmdline: str, rom: str | None,
            kvm_features: list[str], memory: str, cpu: str | None = None,
            smp: int = 1) -> list[str]:
    cmd = [qemu_binary(), "-kernel", elf32, "-append", cmdline, "-m", memory,
           "-display", "none", "-vga", "none", "-no-reboot", "-monitor", "none",
           "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]
    if smp > 1:
        cmd += ["-smp", str(smp)]
    if accel == "kvm":
        # cpu: its feature flags (after the model) on top of the host's
        extra = cpu.split(",")[1:] if cpu else []
        cmd += ["-enable-kvm", "-cpu", ",".join(["host"] + kvm_features + extra)]
    elif smp > 1:
        # Every vCPU in its own host thread, really at once; -icount would
        # run them one at a time, so there are no exact counts here.
        cmd += ["-accel", "tcg,thread=multi"]
        if cpu:
            cmd += ["-cpu", cpu]
    else:
        # Exact guest instruction counts: rdtsc deltas count instructions.
        cmd += ["-accel", "tcg", "-icount", "shift=0,sleep=off"]
        if cpu:
            cmd += ["-cpu", cpu]
    if rom:
        cmd += ["-fw_cfg", f"name=opt/org.pvpatch/rom,file={rom}"]
    return cmd


def parse(res: BootResult) -> None:
    ktap = res.ktap
    for line in res.output.splitlines():
        line = line.rstrip("\r")
        m = JSON_LINE.match(line)
        if m:
            kind, text = m.groups()
            try:
                obj = json.loads(text)
            except ValueError:
                res.notes.append(f"unparsable {kind} line")
                continue
            if kind == "report":
                res.report = obj
            elif kind == "op":
                res.ops[obj.pop("op")] = obj
            elif kind == "reject":
                res.rejects.append(obj)
            elif kind == "bench":
                res.bench[obj["op"]] = obj
            elif kind == "fitted":
                res.fitted.append(check_fitted(obj))
            elif kind == "fault":
                res.fault = obj
            elif kind == "pveoi":
                res.pv_eoi = obj
            elif kind == "repatch":
                res.repatch_line = obj
            elif kind == "rsite":
                res.rsites.append(obj)
            elif kind == "modes":
                res.modes_seen.append(obj)
            elif kind == "rerun":
                res.ktap_after = ktap = {"passed": 0, "failed": 0, "skipped": 0,
                                         "planned": None, "failures": []}
            continue
        m = re.match(r"^1\.\.(\d+)$", line)
        if m:
            ktap["planned"] = int(m.group(1))
            continue
        m = KTAP_LINE.match(line)
        if m:
            verdict, num, name, directive, _ = m.groups()
            if directive == "SKIP":
                ktap["skipped"] += 1
            elif verdict == "ok":
                ktap["passed"] += 1
            else:
                ktap["failed"] += 1
                ktap["failures"].append(f"{num} {name}")


def check_fitted(obj: dict) -> dict:
    """Decode a site fitted with a KVM hypercall: it must load the hypercall
    number into eax and reach vmcall; report the argument registers."""
    import capstone
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.syntax = capstone.CS_OPT_SYNTAX_ATT
    code = bytes.fromhex(obj["bytes"])
    insns = []
    for i in md.disasm(code, 0):
        insns.append(f"{i.mnemonic} {i.op_str}".strip())
        if i.mnemonic == "jmp":
            break
    text = "; ".join(insns)
    nr_ok = f"movl ${obj['nr']:#x}, %eax" in insns or f"movl ${obj['nr']}, %eax" in insns
    vmcall = "vmcall" in insns
    return {"op": obj["op"], "nr": obj["nr"], "ok": nr_ok and vmcall, "code": text}


def boot(elf32: str, accel: str = "auto", cmdline: str = "", rom: str | None = None,
         kvm_features: list[str] | None = None, hypercalls: bool = False,
         timeout: float = 120, memory: str = "128M", cpu: str | None = None,
         smp: int = 1, inject_nmi: int = 0, migrate_to: str | None = None) -> BootResult:
    notes = []
    if accel == "auto":
        usable, why = kvm_usable()
        accel = "kvm" if usable else "tcg"
        if not usable:
            notes.append(f"KVM unusable ({why}): using TCG")
    if not os.path.exists(elf32):
        raise UsageError(f"{elf32}: no such guest (run make)")
    if not 1 <= smp <= 4:
        raise UsageError(f"--smp {smp}: the guest runs 1 to 4 CPUs")
    if rom and not os.path.exists(rom):
        raise UsageError(f"{rom}: no such ROM")
    features = list(kvm_features or [])
    if accel == "kvm" and not hypercalls:
        names = {f.split("=")[0] for f in features}
        added = [f for f in HYPERCALL_FEATURES if f.split("=")[0] not in names]
        if added:
            features += added
            notes.append("vmcall hangs under this KVM: turned off " + ",".join(added)
                         + " (use --kvm-hypercalls to keep them and check, not run, "
                         "the fitted hypercalls)")
    cmd = command(elf32, accel, cmdline, rom, features, memory, cpu, smp)
    res = BootResult(accel=accel, cmdline=cmdline, command=cmd, notes=notes, smp=smp)
    if migrate_to is not None:
        spec = parse_migrate_spec(migrate_to)
        dfeat = list(features)
        if accel == "kvm" and spec["kvm_features"]:
            names = {f.split("=")[0] for f in spec["kvm_features"]}
            dfeat = [f for f in dfeat if f.split("=")[0] not in names] + spec["kvm_features"]
        dest = command(elf32, accel, cmdline, spec["rom"], dfeat, memory, spec["cpu"] or cpu, smp)
        run_migration(res, dest, timeout)
        parse(res)
        res.repatch = repatch_summary(res, elf32, spec["rom"])
        m = res.migration
        m["before"] = res.modes_seen[0]["modes"] if res.modes_seen else None
        m["after"] = res.modes_seen[-1]["modes"] if len(res.modes_seen) > 1 else None
        m["source_after"] = res.modes_seen[-1]["source"] if len(res.modes_seen) > 1 else None
        m["ktap_after"] = {k: (res.ktap_after or {}).get(k, 0) for k in ("passed", "failed",
                                                                          "skipped")}
        m["fresh_boot_modes"] = fresh_modes(elf32, res, spec["rom"]) if res.repatch_line else None
        m["after_equals_fresh_boot"] = m["after"] is not None and m["after"] == m["fresh_boot_modes"]
        return res
    if inject_nmi:
        run_with_nmis(res, inject_nmi, timeout)
        parse(res)
        if "pvpatch.repatch=" in cmdline or "guest.repatch_host" in cmdline:
            res.repatch = repatch_summary(res, elf32, rom)
        return res
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
        res.exit_code = p.returncode
        res.output = p.stdout.decode("utf-8", "replace")
        set_status(res, p.returncode, p.stderr.decode("utf-8", "replace"))
    except subprocess.TimeoutExpired as e:
        res.status = f"hang (no exit within {timeout:g} s)"
        res.output = (e.stdout or b"").decode("utf-8", "replace")
    parse(res)
    if "pvpatch.repatch=" in cmdline or "guest.repatch_host" in cmdline:
        res.repatch = repatch_summary(res, elf32, rom)
    return res


def set_status(res: BootResult, code: int, stderr: str) -> None:
    res.exit_code = code
    if code in STATUS:
        res.status = STATUS[code]
    elif code >= 33 and code & 1:
        res.status = f"exception {((code >> 1) - 0x10)}"
    elif code == 0:
        # the guest never leaves QEMU but through isa-debug-exit (odd
        # statuses): 0 is a reset, which -no-reboot turns into an exit,
        # i.e. a triple fault
        res.status = "reset (triple fault)"
    else:
        err = stderr.strip().splitlines()
        res.status = f"qemu exited {code}"
        if err:
            res.notes.append(err[-1])


def qmp(path: str, command: str, arguments: dict | None = None) -> dict:
    """One QMP command on a fresh connection (QMP's greeting, capabilities)."""
    import socket
    import time
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        for tries in range(100):
            try:
                s.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                # bound, not yet listening (or not yet bound): QEMU starting
                if tries == 99:
                    raise
                time.sleep(0.05)
        f = s.makefile("rwb")
        json.loads(f.readline())
        for cmd in ("qmp_capabilities", command):
            msg = {"execute": cmd}
            if cmd == command and arguments:
                msg["arguments"] = arguments
            f.write(json.dumps(msg).encode() + b"\n")
            f.flush()
            while True:
                reply = json.loads(f.readline())
                if "return" in reply or "error" in reply:
                    break
        return reply


def run_with_nmis(res: BootResult, n: int, timeout: float) -> None:
    """Boot with a QMP socket; each time the guest says it waits for the
    host, send QMP inject-nmi (QEMU delivers an NMI to every CPU), n times."""
    import queue
    import tempfile
    import threading
    import time
    sock = os.path.join(tempfile.mkdtemp(prefix="pvboot-"), "qmp")
    cmd = res.command + ["-qmp", f"unix:{sock},server=on,wait=off"]
    res.command = cmd
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    lines: queue.Queue = queue.Queue()
    out: list[str] = []

    def reader():
        for raw in p.stdout:
            lines.put(raw.decode("utf-8", "replace"))
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + timeout
    sent = 0
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise subprocess.TimeoutExpired(cmd, timeout)
            if line is None:
                break
            out.append(line)
            waiting = line.startswith("# repatch:") and ("when the host sends" in line
                                                         or "the host asked" in line)
            if waiting and sent < n:
                time.sleep(0.2)
                reply = qmp(sock, "inject-nmi")
                if "error" in reply:
                    res.notes.append(f"inject-nmi: {reply['error'].get('desc')}")
                sent += 1
        p.wait(timeout=max(1, deadline - time.monotonic()))
        set_status(res, p.returncode, p.stderr.read().decode("utf-8", "replace"))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        res.status = f"hang (no exit within {timeout:g} s)"
    res.output = "".join(out)
    res.notes.append(f"{sent} NMIs injected through QMP")


class Guest:
    """A QEMU process whose serial output a thread collects line by line."""

    def __init__(self, cmd: list[str]):
        import queue
        import threading
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.lines: queue.Queue = queue.Queue()
        self.out: list[str] = []

        def reader():
            for raw in self.p.stdout:
                self.lines.put(raw.decode("utf-8", "replace"))
            self.lines.put(None)
        threading.Thread(target=reader, daemon=True).start()

    def until(self, pred, deadline: float) -> bool:
        """Collect lines until one satisfies pred (True) or the output ends."""
        import queue
        import time
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise subprocess.TimeoutExpired("qemu", 0)
            if line is None:
                return False
            self.out.append(line)
            if pred(line):
                return True


def parse_migrate_spec(spec: str) -> dict:
    """rom=FILE and/or kvm-features=F[,F...] (and cpu=MODEL[,FLAGS]), joined by ';'."""
    out: dict = {"rom": None, "kvm_features": [], "cpu": None}
    for part in filter(None, spec.split(";")):
        key, _, val = part.partition("=")
        if key == "rom" and val:
            if not os.path.exists(val):
                raise UsageError(f"--migrate-to: {val}: no such ROM")
            out["rom"] = val
        elif key == "kvm-features" and val:
            out["kvm_features"] = [f for f in val.split(",") if f]
        elif key == "cpu" and val:
            out["cpu"] = val
        else:
            raise UsageError(f"--migrate-to: '{part}': want rom=FILE, kvm-features=F,... "
                             "or cpu=MODEL (joined by ';')")
    return out


def run_migration(res: BootResult, dest_cmd: list[str], timeout: float) -> None:
    """Boot (the source), wait until its guest waits for the host, migrate
    it with QMP migrate to a second QEMU (dest_cmd: its own ROM and -cpu)
    listening on a unix socket (-incoming defer, then QMP
    migrate-incoming), stop the source, then send
    the destination an NMI: the guest negotiates there as at boot,
    re-patches and runs its tests again."""
    import tempfile
    import time
    d = tempfile.mkdtemp(prefix="pvboot-mig-")
    src_q, dst_q = os.path.join(d, "src"), os.path.join(d, "dst")
    # The migration stream goes through a unix socket in d: no port to race
    # for with other processes on this machine.
    uri = f"unix:{os.path.join(d, 'migration')}"
    src_cmd = res.command + ["-qmp", f"unix:{src_q},server=on,wait=off"]
    dst_cmd = dest_cmd + ["-qmp", f"unix:{dst_q},server=on,wait=off", "-incoming", "defer"]
    res.command = src_cmd
    deadline = time.monotonic() + timeout
    src = Guest(src_cmd)
    dst = None
    mig = {"status": None, "total_time_ms": None, "downtime_ms": None}
    try:
        if not src.until(lambda ln: ln.startswith("# repatch:") and "host sends" in ln, deadline):
            raise RuntimeError("the guest ended before waiting for the host")
        dst = Guest(dst_cmd)
        # The destination listens once migrate-incoming has returned: only
        # then may the source connect (a loaded machine starts QEMU slowly).
        while not os.path.exists(dst_q):
            if dst.p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the destination QEMU did not start")
            time.sleep(0.05)
        reply = qmp(dst_q, "migrate-incoming", {"uri": uri})
        if "error" in reply:
            raise RuntimeError(f"migrate-incoming: {reply['error'].get('desc')}")
        time.sleep(0.5)		# let the workload run a moment
        reply = qmp(src_q, "migrate", {"uri": uri})
        if "error" in reply:
            raise RuntimeError(f"migrate: {reply['error'].get('desc')}")
        while time.monotonic() < deadline:
            q = qmp(src_q, "query-migrate").get("return", {})
            mig["status"] = q.get("status")
            if mig["status"] in ("completed", "failed", "cancelled"):
                mig["total_time_ms"] = q.get("total-time")
                mig["downtime_ms"] = q.get("downtime")
                break
            time.sleep(0.1)
        if mig["status"] != "completed":
            raise RuntimeError(f"migration {mig['status']}"
                               + (f": {q['error-desc']}" if q.get("error-desc") else ""))
        qmp(src_q, "quit")
        src.p.wait(timeout=10)
        while src.until(lambda ln: False, deadline):
            pass
        time.sleep(0.3)
        reply = qmp(dst_q, "inject-nmi")
        if "error" in reply:
            res.notes.append(f"inject-nmi: {reply['error'].get('desc')}")
        while dst.until(lambda ln: False, deadline):
            pass
        dst.p.wait(timeout=max(1, deadline - time.monotonic()))
        set_status(res, dst.p.returncode, dst.p.stderr.read().decode("utf-8", "replace"))
    except subprocess.TimeoutExpired:
        res.status = f"hang (no exit within {timeout:g} s)"
    except (RuntimeError, OSError) as e:
        res.status = f"migration failed: {e}"
    finally:
        for g in (src, dst):
            if g and g.p.poll() is None:
                g.p.kill()
                g.p.wait()
    res.output = "".join(src.out + (["# --- migrated ---\n"] + dst.out if dst else []))
    res.migration = mig


def final_sites(elf32: str, res: BootResult, rom: str | None) -> dict:
    """What a fresh boot with the re-patch's final policy writes, site by
    site, as tools/pvrom check predicts it (the same negotiation code, with
    the facts this boot observed)."""
    elf = os.path.join(os.path.dirname(elf32), "guest.elf")
    final = res.repatch_line["final"]
    words = res.cmdline.split()
    if final != "boot":
        # a named profile: no ROM, the command line's profile replaced
        words = [w for w in words if not w.startswith("pvpatch.profile=")]
        words.append(f"pvpatch.profile={final}")
        rom = None
    # the facts of the last negotiation (after a migration, the destination's)
    r = res.modes_seen[-1] if len(res.modes_seen) > 1 else res.report
    cmd = [sys.executable, os.path.join(os.path.dirname(__file__), "..", "pvrom"), "check",
           rom or "-", elf, "--signature", r.get("signature", ""),
           "--kvm-features", str(r.get("kvm_features", 0)), "--cmdline", " ".join(words),
           "--json"]
    if r.get("vmport"):
        cmd.append("--vmport")
    if r.get("vmport_gethz"):
        cmd.append("--gethz")
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise UsageError(f"pvrom check failed: {p.stderr.strip()}")
    sim = json.loads(p.stdout)
    res._sim = sim
    return {s["site"]: (s["mode"], s["bytes"]) for s in sim["site_list"] if s["mode"] != "INVALID"}


def fresh_modes(elf32: str, res: BootResult, rom: str | None) -> dict | None:
    """Sites per mode of a fresh boot with the final policy (pvrom check)."""
    sim = getattr(res, "_sim", None)
    if sim is None:
        final_sites(elf32, res, rom)
        sim = res._sim
    return sim.get("modes")


def repatch_summary(res: BootResult, elf32: str, rom: str | None) -> dict:
    """The `repatch` JSON key: the guest's figures, the faults seen, and the
    sites whose final bytes differ from a fresh boot's with the final policy
    (every site when the guest never got to report them)."""
    g = res.repatch_line or {}
    faults = 1 if (res.fault or res.status.startswith(("exception", "reset"))) else 0
    mismatch = None
    if g and res.rsites and g.get("final") != "none":
        want = final_sites(elf32, res, rom)
        got = {s["site"]: (s["mode"], s["bytes"]) for s in res.rsites}
        mismatch = sum(1 for a in set(want) | set(got) if want.get(a) != got.get(a))
    exact = res.accel == "tcg" and res.smp == 1
    out = {k: int(g.get(k, 0)) for k in ("rounds", "wrong", "retries", "gave_up")}
    out.update({
        "faults": faults + int(g.get("faults", 0)),
        "digest_mismatch": mismatch if mismatch is not None else int(res.report.get("sites") or 0),
        "cpus": int(g.get("cpus", res.smp)),
        "changed": int(g.get("changed", 0)),
        "failed": int(g.get("failed", 0)),
        "stops": int(g.get("stops", 0)),
        "sites_written": int(g.get("sites_written", 0)),
        "thunks_reclaimed": int(g.get("thunks_reclaimed", 0)),
        "final": g.get("final"),
        "unsafe": bool(g.get("unsafe", 0)),
        "host_nmis": int(g.get("host_nmis", 0)),
    })
    stop, write, total = (g.get(k) for k in ("stop_tsc_median", "write_tsc_median",
                                             "repatch_tsc_median"))
    if res.accel == "kvm":
        out.update(stop_cycles_median=stop, write_cycles_median=write,
                   repatch_cycles_median=total)
    elif exact:
        out.update(stop_insns_median=stop, write_insns_median=write,
                   repatch_insns_median=total)
    else:
        # MTTCG: the TSC runs on host time, not per instruction
        out.update(stop_insns_median=None, stop_tsc_median=stop, write_tsc_median=write,
                   repatch_tsc_median=total)
    return out
