"""Build the helper programs, then run contenders x workloads, interleaved."""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from ..datatype import datatype, field
from . import tracer_calls
from .contenders import Contender, bench_env
from .workloads import Ctx, Workload, result_line, seen

CFLAGS = ["-O2", "-Wall", "-Wextra"]
_NS_RE = re.compile(rb"SFBENCH_NS=(\d+) RC=(\d+)")
_STOPS_RE = re.compile(rb"SFBENCH_STOPS=(\d+)")
RUNSC = ["runsc", "--platform=ptrace", "--network=none", "do"]


class BenchError(RuntimeError):
    pass


def csrc_text(name: str) -> bytes:
    return resources.files("sysfake.bench").joinpath("csrc", name).read_bytes()


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sysfake-bench"


def _compile(cc: str, out: Path, src: Path, libs: list[str]) -> None:
    argv = [cc, *CFLAGS, "-o", str(out), str(src), *libs]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if p.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed:\n{p.stdout.decode(errors='replace')}")
    if p.stdout.strip():
        sys.stderr.write(p.stdout.decode(errors="replace"))


def build_tools(cache: Path, log: Callable[[str], None],
                ) -> tuple[str, str, str | None, str, str]:
    """Compile floor, sfwl, tracer_cost (and gowl when Go is there) into the cache.

    Returns the paths of floor, sfwl, gowl (or None), a note on Go, and the
    path of tracer_cost."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise BenchError("no C compiler (cc) found: install gcc")
    names = ["floor.c", "sfwl.c", "gowl.go", "tracer_cost.c"]
    h = hashlib.sha256(" ".join([cc, *CFLAGS]).encode())
    for n in names:
        h.update(csrc_text(n))
    d = cache / h.hexdigest()[:16]
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        (d / n).write_bytes(csrc_text(n))
    floor, sfwl, gowl = d / "floor", d / "sfwl", d / "gowl"
    if not floor.exists():
        log(f"compiling {floor}")
        _compile(cc, floor, d / "floor.c", [])
    if not sfwl.exists():
        log(f"compiling {sfwl}")
        _compile(cc, sfwl, d / "sfwl.c", ["-pthread"])
    cost = d / "tracer_cost"
    if not cost.exists():
        log(f"compiling {cost}")
        _compile(cc, cost, d / "tracer_cost.c", [])
    go_note = ""
    if not gowl.exists():
        go = shutil.which("go")
        if go:
            log(f"building {gowl} (GO111MODULE=off)")
            env = dict(os.environ, GO111MODULE="off", CGO_ENABLED="0", GOFLAGS="",
                       GOCACHE=str(d / "gocache"), GOPATH=str(d / "gopath"))
            p = subprocess.run([go, "build", "-o", str(gowl), str(d / "gowl.go")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False,
                               cwd=str(d))
            if p.returncode != 0:
                go_note = "go build failed: " + p.stdout.decode(errors="replace").strip()
        else:
            go_note = "no Go toolchain: workload 7 falls back to `runc --version`"
    return str(floor), str(sfwl), (str(gowl) if gowl.exists() else None), go_note, str(cost)


@datatype
class Run:
    contender: str
    rep: int
    seconds: float | None
    rc: int | None
    seen: str | None
    ok: bool
    line: str
    error: str = ""


@datatype
class Options:
    reps: int
    pin: bool
    cpu: int
    gvisor: bool
    timeout: float
    verbose: bool = False
    # a contender whose run took longer than slow_seconds is only run in the
    # first slow_reps repetitions of that workload (PRoot without its
    # accelerator needs minutes for workload 2)
    slow_seconds: float = 20.0
    slow_reps: int = 3
    # one more, untimed run per tracing contender under `strace -c`
    tracer_calls: bool = False


@datatype
class WorkloadResult:
    workload: Workload
    command: list[str]
    intercepted: int | None
    runs: list[Run] = field(default_factory=list)
    skipped: str = ""
    capped: dict[str, int] = field(default_factory=dict)  # contender -> reps run
    tracer_calls: dict[str, dict[str, Any]] = field(default_factory=dict)  # contender -> counts


def sandbox(opts: Options, argv: list[str], timeout: float | None = None) -> list[str]:
    """Wrap argv in a fresh gVisor sandbox (when --gvisor) and a timeout."""
    t = int(timeout if timeout is not None else opts.timeout)
    out = ["timeout", "-k", "5", str(t)]
    if opts.gvisor:
        if opts.pin:
            out += ["taskset", "-c", str(opts.cpu)]
        out += RUNSC
    return out + argv


def _run_capture(argv: list[str], workdir: Path) -> tuple[int, bytes, bytes]:
    """Run with stdout/stderr going to files (runsc makes a pipe O_NONBLOCK)."""
    with tempfile.TemporaryFile(dir=workdir) as fo, tempfile.TemporaryFile(dir=workdir) as fe:
        # own process group, so that an interrupted harness leaves nothing behind
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                             env=bench_env(), start_new_session=True)
        try:
            rc = p.wait()
        except BaseException:
            with contextlib.suppress(OSError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise
        fo.seek(0)
        fe.seek(0)
        return rc, fo.read(), fe.read()


def timed_argv(ctx: Ctx, opts: Options, cmd: list[str]) -> list[str]:
    timer = [ctx.sfwl, "time"]
    if opts.pin and not opts.gvisor:
        timer += ["-p", str(opts.cpu)]
    return sandbox(opts, [*timer, "--", *cmd])


def _run_fresh(argv: list[str], ctx: Ctx) -> tuple[int, bytes, bytes]:
    """_run_capture, then remove the trace a record contender wrote, untimed: the
    next run must not truncate it. ext4 writes back a file truncated and
    written again when it is closed (auto_da_alloc), and the next truncate
    waits for that I/O: 40 ms a run for watched reads' 54 MB (performance.md)."""
    try:
        return _run_capture(argv, ctx.workdir)
    finally:
        ctx.trace.unlink(missing_ok=True)


def run_once(ctx: Ctx, opts: Options, c: Contender, cmd: list[str], rep: int) -> Run:
    argv = timed_argv(ctx, opts, c.wrap(ctx, cmd))
    rc, out, err = _run_fresh(argv, ctx)
    found = list(_NS_RE.finditer(err))
    m = found[-1] if found else None
    line = result_line(out)
    got = seen(out)
    want = "dst" if c.redirects else "src"
    if m is None:
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        msg = "timed out" if rc in (124, 137) else f"exit status {rc}"
        return Run(c.name, rep, None, rc, got, False, line, f"{msg}: {' | '.join(tail)}")
    secs = int(m.group(1)) / 1e9
    wrc = int(m.group(2))
    error = ""
    if wrc != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        error = f"workload exit status {wrc}: {' | '.join(tail)}"
    elif got != want:
        error = f"result line shows {got or 'nothing'}, expected {want}"
    return Run(c.name, rep, secs, wrc, got, not error, line, error)


def count_intercepted(ctx: Ctx, opts: Options, cmd: list[str]) -> int | None:
    """Path syscalls the floor's filter traps for this workload (one run)."""
    argv = sandbox(opts, [ctx.floor, "-m", "floor", "-c", "-", "--", *cmd])
    rc, _out, err = _run_capture(argv, ctx.workdir)
    m = _STOPS_RE.search(err)
    return int(m.group(1)) if m and rc == 0 else None


def count_tracer_calls(ctx: Ctx, opts: Options, c: Contender, cmd: list[str],
                       intercepted: int | None) -> dict[str, Any]:
    """The tracer's own syscalls in one untimed run (tracer_calls.py)."""
    argv = timed_argv(ctx, opts, tracer_calls.wrap("strace", c.wrap(ctx, cmd)))
    rc, out, err = _run_fresh(argv, ctx)
    found = list(_NS_RE.finditer(err))
    calls = tracer_calls.parse(err)
    want = "dst" if c.redirects else "src"
    if not found or int(found[-1].group(2)) != 0 or calls is None or seen(out) != want:
        tail = err.decode(errors="replace").strip().splitlines()[-2:]
        return {"error": f"the counted run failed (exit status {rc}): {' | '.join(tail)}"}
    return tracer_calls.summary(calls, intercepted)


def run_workload(ctx: Ctx, opts: Options, w: Workload, cs: list[Contender],
                 log: Callable[[str], None]) -> WorkloadResult:
    cmd = w.argv(ctx)
    res = WorkloadResult(w, cmd, None)
    reason = w.available(ctx)
    if reason:
        res.skipped = reason
        log(f"[{w.number}] {w.key}: skipped ({reason})")
        return res
    log(f"[{w.number}] {w.key}: {w.title}")
    _run_capture(sandbox(opts, cmd), ctx.workdir)  # warm the page cache
    res.intercepted = count_intercepted(ctx, opts, cmd)
    slow: set[str] = set()
    hung: set[str] = set()
    for rep in range(opts.reps):
        for c in cs:  # ABAB: every repetition runs all contenders in turn
            if c.name in hung or (c.name in slow and rep >= opts.slow_reps):
                res.capped[c.name] = len([r for r in res.runs if r.contender == c.name])
                continue
            t0 = time.monotonic()
            r = run_once(ctx, opts, c, cmd, rep)
            res.runs.append(r)
            if (r.seconds or 0.0) > opts.slow_seconds:
                slow.add(c.name)
            if "timed out" in r.error:
                hung.add(c.name)  # one timeout per workload is enough
            if opts.verbose or not r.ok:
                took = f"{r.seconds:.3f}s" if r.seconds is not None else \
                    f"({time.monotonic() - t0:.1f}s)"
                log(f"    rep {rep + 1} {c.name:15s} {took:>10s} "
                    f"{'ok' if r.ok else 'FAILED: ' + r.error}")
    if opts.tracer_calls:
        for c in cs:
            if c.name != "untraced" and c.name not in hung:
                res.tracer_calls[c.name] = count_tracer_calls(ctx, opts, c, cmd,
                                                              res.intercepted)
    return res


def machine_in_sandbox(opts: Options, proots: dict[str, str] | None = None,
                       tracer_cost: str | None = None) -> dict[str, Any]:
    import json

    args = [f"{k}={v}" for k, v in (proots or {}).items()]
    if tracer_cost:
        args.append(f"--tracer-cost={tracer_cost}")
    argv = sandbox(opts, [sys.executable, "-m", "sysfake.bench.machine", *args], timeout=120)
    with tempfile.TemporaryDirectory() as d:
        rc, out, err = _run_capture(argv, Path(d))
    try:
        data: dict[str, Any] = json.loads(out.decode(errors="replace"))
    except ValueError:
        return {"error": f"exit status {rc}: {err.decode(errors='replace')[-300:]}"}
    return data
