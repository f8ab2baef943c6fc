"""Smoke test of the benchmark harness (`sysfake bench --quick`).

Runs the short version with the contenders this machine has, then checks the
JSON structure and that every run's result line shows what it must: the
redirected file for contenders that apply the SRC -> DST rule, the real one
for the others. No timing assertions.

PRoot 5.4.0 with its seccomp accelerator (the `proot-sc` contender) is
covered when benchmarks/build_proot.sh has built it into the bench cache;
under CI=true the session builds it (and fails if it cannot).
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support import missing, require
from sysfake import bench
from sysfake.bench import contenders, machine, runner, workloads

BUILD_PROOT = Path(__file__).resolve().parent.parent / "benchmarks" / "build_proot.sh"

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.machine() != "x86_64",
    reason="the harness needs Linux x86_64",
)


@pytest.fixture(autouse=True)
def _compiler() -> None:
    require("cc")  # the harness builds its helpers: a missing cc fails under CI


def _proot_sc_binary() -> str | None:
    """The cache's proot-sc; under CI=true, build it when it is missing."""
    exe = contenders.proot_sc_default(runner.default_cache_dir())
    if not exe.exists() and os.environ.get("CI") == "true":
        p = subprocess.run(["bash", str(BUILD_PROOT), str(exe.parent)], capture_output=True,
                           text=True, timeout=900, check=False, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, f"{BUILD_PROOT} failed:\n{p.stderr[-3000:]}"
        assert p.stdout.strip().splitlines()[-1] == str(exe)
    return str(exe) if exe.exists() else None


@pytest.fixture(scope="session")
def proot_sc() -> str | None:
    return _proot_sc_binary()


def _run(tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "bench.json"
    rc = bench.main(["--quick", "--json", str(out), *extra])
    assert rc == 0
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def _check(doc: dict[str, Any], want_workloads: set[str]) -> None:
    assert doc["schema"] == "sysfake-bench/1"
    m = doc["machine"]
    for key in ("cores", "kernel_release", "cpu_model", "in_gvisor", "proot"):
        assert key in m
    # what one tracer syscall costs: every mechanism that works here has a
    # positive figure, process_vm_readv exactly where the facts say it works
    cost = m["tracer_syscall_us"]
    assert cost["calls"] > 0 and cost["peekdata"] > 0, cost
    assert (cost["process_vm_readv"] is not None) == m["process_vm_readv"], cost
    # and a call handed over: a ptrace stop, and a user notification, which
    # a Linux x86_64 host has (since 5.0) and gVisor has not (test_quick_gvisor)
    assert cost["seccomp_stop"] > 0, cost
    if not m["in_gvisor"]:
        assert cost["user_notif"] > 0, cost
    names = {c["name"]: c for c in doc["contenders"]}
    for must in ("untraced", "floor", "floor-r", "floor-x"):
        assert names[must]["available"], names[must]["note"]
    for c in names.values():
        assert c["available"] or c["note"], c
    seen_keys = set()
    for w in doc["workloads"]:
        seen_keys.add(w["key"])
        for key in ("number", "title", "reference", "command", "intercepted_syscalls"):
            assert key in w
        if w["skipped"]:
            continue
        assert w["intercepted_syscalls"] is not None
        for name, c in names.items():
            if not c["available"]:
                assert name not in w["results"]
                continue
            r = w["results"][name]
            assert r["errors"] == [], (w["key"], name, r["errors"])
            assert r["ok_runs"] == r["runs"] == doc["options"]["reps"]
            want = "dst" if c["redirects"] else "src"
            assert r["seen"] == [want], (w["key"], name, r["result_line"])
            assert r["median_s"] > 0
        assert w["results"]["untraced"]["ratio_untraced"] == 1.0
    assert want_workloads <= seen_keys
    assert isinstance(doc["targets"], list) and doc["targets"]
    for t in doc["targets"]:
        assert t["status"] in ("met", "missed", "n/a")
        sp = t.get("spread")
        assert sp is None or (len(sp) == 2 and 0.0 <= sp[0] <= sp[1]), t


def _check_proot_sc(doc: dict[str, Any], exe: str | None) -> None:
    """proot-sc ran and redirected on every workload (checked by _check), its
    facts are recorded, and the PRoot target compares against it; or, with no
    binary, it is unavailable with a note that says how to build one."""
    c = next(c for c in doc["contenders"] if c["name"] == "proot-sc")
    if exe is None:
        assert not c["available"]
        assert "build_proot.sh" in c["note"], c["note"]
        return
    assert c["available"], c["note"]
    info = doc["machine"]["proots"]["proot-sc"]
    assert info["path"] == exe
    assert info["version"] == "5.4.0"
    assert info["accelerators"] == {"process_vm": True, "seccomp_filter": True}
    assert c["proot"] == "PRoot 5.4.0 (process_vm=yes, seccomp_filter=yes)"
    ran = [w for w in doc["workloads"] if not w["skipped"] and w["key"] != "startup"]
    assert ran
    for w in ran:
        assert w["results"]["proot-sc"]["seen"] == ["dst"]
    rows = [t for t in doc["targets"] if "PRoot" in t["target"]]
    # an idle workload (nothing stops under a redirect) is judged by time
    assert {t["workload"] for t in rows} == {w["key"] for w in ran if not w["idle"]}
    idle = [t for t in doc["targets"] if t["workload"] == "recv"]
    assert all("within 3% of the floor" in t["target"] for t in idle), idle
    assert bool(idle) == any(w["key"] == "recv" for w in ran)
    for t in rows:
        assert t["compared"] == "proot-sc", t
        assert t["proot"] == c["proot"]
        if t["value"] is not None:
            assert t["status"] in ("met", "missed"), t


def test_quick_host(tmp_path: Path, proot_sc: str | None) -> None:
    doc = _run(tmp_path, *(["--proot-sc", proot_sc] if proot_sc else []))
    _check(doc, {w.key for w in workloads.WORKLOADS})
    _check_proot_sc(doc, proot_sc)
    # pinned to one CPU, Go runs one P; go-p2 gives it two
    procs = {w["key"]: {r["result_line"].split()[2] for r in w["results"].values()}
             for w in doc["workloads"] if w["key"] in ("go", "go-p2")}
    assert procs == {"go": {"procs=1"}, "go-p2": {"procs=2"}}, procs
    if not shutil.which("proot"):
        missing("proot is not installed (apt-get install proot): its row was not checked")
    info = doc["machine"]["proots"]["proot"]
    assert set(info["accelerators"]) == {"process_vm", "seccomp_filter"}


def test_proot_sc_is_built(proot_sc: str | None) -> None:
    """The PRoot the issue's target names is there to be measured (built by
    benchmarks/build_proot.sh; CI builds it)."""
    if proot_sc is None:
        missing(f"PRoot 5.4.0 with seccomp is not built: run {BUILD_PROOT} (CI builds it)")
    info = machine.proot_info(proot_sc)
    assert info["seccomp_accelerator"] is True, info
    assert info["version"] == "5.4.0"


@pytest.mark.gvisor
def test_quick_gvisor(tmp_path: Path, proot_sc: str | None) -> None:
    require("runsc")
    cs = "floor,floor-r,floor-x,sysfake,sysfake-profile" + (",proot-sc" if proot_sc else "")
    doc = _run(tmp_path, "--gvisor", "--workloads", "stat,forkexec", "--contenders", cs,
               *(["--proot-sc", proot_sc] if proot_sc else []))
    _check(doc, {"stat", "forkexec"})
    assert doc["sandbox_machine"]["in_gvisor"] is True
    # what a user who gives no rules runs there: the gvisor profile (it
    # redirected, checked by _check, with its emulations on)
    prof = next(c for c in doc["contenders"] if c["name"] == "sysfake-profile")
    assert prof["available"] and "--profile gvisor " in prof["description"], prof
    # PRoot in gVisor: no process_vm_readv there, so it reads through PEEKDATA
    assert doc["sandbox_machine"]["process_vm_readv"] is False
    # the tracer's syscalls are measured inside the sandbox too: pread of
    # /proc/PID/mem and PEEKDATA work there, process_vm_readv does not
    cost = doc["sandbox_machine"]["tracer_syscall_us"]
    assert cost["pread_proc_mem"] > 0 and cost["peekdata"] > 0, cost
    assert cost["process_vm_readv"] is None, cost
    assert cost["seccomp_stop"] > 0 and cost["user_notif"] is None, cost
    assert "one tracer syscall (sandbox" in bench.report.table(doc)
    assert "one call handed to a supervisor (sandbox" in bench.report.table(doc)
    # Python's own start-up there, which `sysfake run`'s includes
    sb = doc["sandbox_machine"]
    assert 0 < sb["python_startup_nosite_s"] <= sb["python_startup_s"], sb
    assert "python start-up inside the sandbox" in bench.report.table(doc)
    if proot_sc:
        _check_proot_sc(doc, proot_sc)


def test_seen_classifies_result_lines() -> None:
    dst, src = len(workloads.DST_CONTENT), len(workloads.SRC_CONTENT)
    assert workloads.seen(f"sfwl stat n=5 size={dst}\n".encode()) == "dst"
    assert workloads.seen(f"sfwl stat n=5 size={src}\n".encode()) == "src"
    assert workloads.seen(b"tar bytes=10240\nsfbench-dst redirected target\n") == "dst"
    assert workloads.seen(b"nothing here\n") is None


@pytest.mark.parametrize("name", ["floor.c", "sfwl.c", "tracer_cost.c"])
def test_c_sources_compile_without_warnings(tmp_path: Path, name: str) -> None:
    src = tmp_path / name
    src.write_bytes(runner.csrc_text(name))
    p = subprocess.run(
        [os.environ.get("CC", "cc"), *runner.CFLAGS, "-Werror", "-pthread", "-o",
         str(tmp_path / "a.out"), str(src)],
        capture_output=True, text=True, check=False,
    )
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip() == ""


def test_cli_front_door_passes_options_through() -> None:
    """`sysfake bench --quick ...` reaches the harness's own parser (not the CLI's)."""
    import sys

    proc = subprocess.run([sys.executable, "-m", "sysfake", "bench", "--quick", "--help"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "--quick" in proc.stdout and "--contenders" in proc.stdout


def test_baseline_runs_side_by_side(tmp_path: Path) -> None:
    """--baseline CMD adds base, base-exec, base-record and base-profile (here the same
    sysfake), which redirect like sysfake does, and the report pairs each
    with its sysfake contender in the same run."""
    import sys

    sysfake = f"{sys.executable} -m sysfake"
    doc = _run(tmp_path, "--workloads", "startup,forkexec",
               "--contenders", "sysfake,sysfake-exec,sysfake-record,sysfake-profile,base,"
               "base-exec,base-record,base-profile", "--sysfake", sysfake, "--baseline", sysfake)
    assert doc["baseline_cmd"] == sysfake.split()
    for w in doc["workloads"]:
        for name in ("base", "base-exec", "base-record", "base-profile"):
            r = w["results"][name]
            assert r["errors"] == [] and r["seen"] == ["dst"], (w["key"], name, r)
    rows = {(b["workload"], b["who"]): b for b in doc["baseline"]}
    assert set(rows) == {(w, who) for w in ("startup", "forkexec")
                         for who in ("sysfake", "sysfake-exec", "sysfake-record",
                                     "sysfake-profile")}
    for b in rows.values():
        assert b["time_ratio"] is not None and b["time_ratio"] > 0
    text = bench.report.table(doc)
    assert "against the baseline" in text and "base-record" in text


def _check_tracer_calls(doc: dict[str, Any]) -> None:
    """What each tracer must ask of the kernel per stop of the redirected stat
    loop: the floor a wait4 and a ptrace (continue); floor-r also the
    registers (a second ptrace) and the path (a memory read); sysfake-exec,
    which answers the stat itself, also a write of the result."""
    (w,) = doc["workloads"]
    n = w["intercepted_syscalls"]
    assert n and n >= 100
    res = w["results"]
    assert "tracer_calls" not in res["untraced"]
    got = {name: res[name]["tracer_calls"] for name in ("floor", "floor-r", "sysfake-exec")}
    for name, tc in got.items():
        assert "error" not in tc, (name, tc)
        assert tc["calls"]["wait4"] >= n and tc["calls"]["ptrace"] >= n, (name, tc)
        assert tc["per_intercepted"] == round(tc["total"] / n, 3)
    assert got["floor"]["calls"]["ptrace"] < 2 * n  # continue only
    for name in ("floor-r", "sysfake-exec"):
        calls = got[name]["calls"]
        assert calls["ptrace"] >= 2 * n, (name, calls)
        reads = sum(calls.get(k, 0) for k in ("process_vm_readv", "pread64"))
        peeks = calls["ptrace"] - 2 * n  # PEEKDATA where no other read works
        assert reads >= n or peeks >= n, (name, calls)
    writes = got["sysfake-exec"]["calls"]
    assert sum(writes.get(k, 0) for k in ("process_vm_writev", "pwrite64")) >= n or \
        writes["ptrace"] >= 3 * n, writes  # POKEDATA in gVisor
    assert "tracer syscalls per intercepted syscall" in bench.report.table(doc)


def test_tracer_calls_counts_each_tracers_own_syscalls(tmp_path: Path) -> None:
    require("strace")
    _check_tracer_calls(_run(tmp_path, "--workloads", "stat", "--tracer-calls",
                             "--contenders", "floor,floor-r,sysfake-exec"))


@pytest.mark.gvisor
def test_tracer_calls_inside_gvisor(tmp_path: Path) -> None:
    """The counts come out of the sandbox through stderr (a file the tracer
    writes there stays in runsc's overlay)."""
    require("runsc")
    require("strace")
    doc = _run(tmp_path, "--gvisor", "--workloads", "stat", "--tracer-calls",
               "--contenders", "floor,floor-r,sysfake-exec")
    assert doc["sandbox_machine"]["in_gvisor"] is True
    _check_tracer_calls(doc)


def test_each_run_writes_a_fresh_trace(tmp_path: Path) -> None:
    """The harness removes what a record contender wrote after its run, so the
    next run's `-o` does not truncate it (performance.md, "Noise": the
    truncate waits for ext4's writeback of the last trace)."""
    floor, sfwl, gowl, _note, _cost = runner.build_tools(runner.default_cache_dir(),
                                                         lambda _m: None)
    ctx = workloads.Ctx(tmp_path, sfwl, floor, gowl, True)
    workloads.prepare_files(ctx.workdir)
    record = next(c for c in contenders.all_contenders(None) if c.name == "sysfake-record")
    assert str(ctx.trace) in record.wrap(ctx, ["true"])
    left: list[bool] = []

    def writer(c: workloads.Ctx, cmd: list[str]) -> list[str]:
        return ["sh", "-c", 'head -c 1048576 /dev/zero > "$0" && exec "$@"', str(c.trace), *cmd]

    opts = runner.Options(reps=1, pin=False, cpu=0, gvisor=False, timeout=60)
    cmd = ["cat", ctx.src]
    for rep in range(2):
        r = runner.run_once(ctx, opts, contenders.Contender("writer", "", False, writer),
                            cmd, rep)
        assert r.ok, r
        left.append(ctx.trace.exists())
    assert left == [False, False]
