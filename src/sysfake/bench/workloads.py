"""The benchmark workloads.

Each workload is a command that ends with a result line showing what the
redirected path SRC looked like to it: ``size=N`` (the st_size it saw) or the
first line of the file it read. SRC and DST differ in content and size, so the
harness can tell from that line whether a run was really redirected.
"""
from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Callable

from ..datatype import datatype

SRC_CONTENT = b"sfbench-src\n"
DST_CONTENT = b"sfbench-dst redirected target\n"


@datatype(frozen=True)
class Ctx:
    """What a workload or contender needs to build its command line."""

    workdir: Path  # holds src.txt and dst.txt
    sfwl: str  # compiled workload/timer binary
    floor: str  # compiled floor tracer
    gowl: str | None  # compiled Go workload, None without a Go toolchain
    quick: bool
    scale: float = 1.0  # multiplies the full counts (e.g. 0.05 inside gVisor)

    @property
    def src(self) -> str:
        return str(self.workdir / "src.txt")

    @property
    def dst(self) -> str:
        return str(self.workdir / "dst.txt")

    @property
    def trace(self) -> Path:
        """Where record contenders write; removed after each run (runner.run_once)."""
        return self.workdir / "record.out"


def prepare_files(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "src.txt").write_bytes(SRC_CONTENT)
    (workdir / "dst.txt").write_bytes(DST_CONTENT)


_SEEN_RE = re.compile(rb"size=(\d+)|sfbench-(src|dst)")


def seen(stdout: bytes) -> str | None:
    """Which file the workload's result line shows: "dst", "src" or None."""
    last: str | None = None
    for m in _SEEN_RE.finditer(stdout):
        if m.group(1) is not None:
            size = int(m.group(1))
            if size == len(DST_CONTENT):
                last = "dst"
            elif size == len(SRC_CONTENT):
                last = "src"
        else:
            last = m.group(2).decode()
    return last


def result_line(stdout: bytes) -> str:
    lines = [ln for ln in stdout.decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


@datatype(frozen=True)
class Workload:
    key: str
    number: int
    title: str
    # the floor that does the same work as a redirector: floor-x where a rule
    # redirects, floor-r where no rule matches, floor where nothing is trapped
    reference: str
    argv: Callable[[Ctx], list[str]]
    available: Callable[[Ctx], str | None] = lambda ctx: None  # reason it is not
    # nothing it does is trapped under a redirect: judged by time against the
    # floor (within 3%), since a ratio of overheads near zero is noise
    idle: bool = False


def _n(ctx: Ctx, full: int, quick: int) -> int:
    return quick if ctx.quick else max(1, round(full * ctx.scale))


def _startup(ctx: Ctx) -> list[str]:
    return [ctx.sfwl, "stat", ctx.src, "1"]


def _sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def _stat(ctx: Ctx) -> list[str]:
    return [ctx.sfwl, "stat", ctx.src, str(_n(ctx, 200_000, 2_000))]


def _getppid(ctx: Ctx) -> list[str]:
    return [ctx.sfwl, "getppid", str(_n(ctx, 2_000_000, 20_000)), ctx.src]


def _openread(ctx: Ctx) -> list[str]:
    return [ctx.sfwl, "openread", ctx.src, str(_n(ctx, 100_000, 1_000))]


def _forkexec(ctx: Ctx) -> list[str]:
    n = _n(ctx, 500, 10)
    src = shlex.quote(ctx.src)
    return _sh(
        f"i=0; while [ $i -lt {n} ]; do cat {src} >/dev/null || exit 1; i=$((i+1)); done; "
        f"cat {src}"
    )


def _watched(ctx: Ctx) -> list[str]:
    n = _n(ctx, 100_000, 1_000)
    wl, src = shlex.quote(ctx.sfwl), shlex.quote(ctx.src)
    return _sh(f"{wl} openread /proc/self/stat {n} >/dev/null && {wl} stat {src} 1")


def _recv(ctx: Ctx) -> list[str]:
    return [ctx.sfwl, "recv", str(_n(ctx, 1_000_000, 2_000)), ctx.src]


def python_stdlib() -> str | None:
    cands = sorted(d for d in glob.glob("/usr/lib/python3*") if os.path.isdir(d))
    return cands[-1] if cands else None


def _mixed(ctx: Ctx) -> list[str]:
    lib = python_stdlib() or "/usr/lib"
    if ctx.quick:
        lib = os.path.join(lib, "json") if os.path.isdir(os.path.join(lib, "json")) else lib
    return _sh(
        f"tar cf - {shlex.quote(lib)} 2>/dev/null | wc -c | sed 's/^/tar bytes=/'; "
        f"cat {shlex.quote(ctx.src)}"
    )


def _mixed_available(ctx: Ctx) -> str | None:
    if not shutil.which("tar"):
        return "tar is not installed"
    return None if python_stdlib() else "no /usr/lib/python3*"


def _threads(ctx: Ctx) -> list[str]:
    return [ctx.sfwl, "threads", ctx.src, "8", str(_n(ctx, 20_000, 200))]


def _go_with(env: str) -> Callable[[Ctx], list[str]]:
    def go(ctx: Ctx) -> list[str]:
        runs, n = (3, 10) if ctx.quick else (_n(ctx, 100, 3), 1000)
        src = shlex.quote(ctx.src)
        if ctx.gowl:
            g = f"{env}{shlex.quote(ctx.gowl)}"
            return _sh(
                f"i=1; while [ $i -lt {runs} ]; do {g} {src} {n} >/dev/null || exit 1; "
                f"i=$((i+1)); done; {g} {src} {n}"
            )
        return _sh(
            f"i=0; while [ $i -lt {runs} ]; do {env}runc --version >/dev/null || exit 1; "
            f"i=$((i+1)); done; cat {src}"
        )

    return go


def _go_available(ctx: Ctx) -> str | None:
    if ctx.gowl or shutil.which("runc"):
        return None
    return "neither a Go toolchain nor runc is installed"


WORKLOADS: list[Workload] = [
    Workload("startup", 0, "start-up: one stat() of a redirected path", "floor-x", _startup),
    Workload("stat", 1, "200k stat() of a redirected path", "floor-x", _stat),
    Workload("getppid", 2, "2M getppid(), no rule involved", "floor", _getppid),
    Workload("openread", 3, "100k open+read+close of a redirected file", "floor-x", _openread),
    Workload("forkexec", 4, "500 x fork+exec of cat on a redirected file", "floor-x", _forkexec),
    Workload("mixed", 5, "tar of the Python stdlib to a pipe, no rule matches", "floor-r",
             _mixed, _mixed_available),
    Workload("threads", 6, "8 threads x 20k stat() of a redirected path", "floor-x", _threads),
    Workload("go", 7, "Go program: 100 starts x 1000 os.Stat of a redirected path", "floor-x",
             _go_with(""), _go_available),
    # Pinned to one CPU, Go runs one P (GOMAXPROCS=1), and a syscall that
    # outlasts sysmon's tick hands it off to another thread: the same
    # program with two Ps shows what that costs each tracer.
    Workload("go-p2", 8, "the Go program with GOMAXPROCS=2 (still one CPU)", "floor-x",
             _go_with("GOMAXPROCS=2 "), _go_available),
    # What `sysfake record` is for: reads under a watched prefix (/proc,
    # /sys, /dev) that no rule names, each recorded with its result.
    Workload("watched", 9, "100k open+read+close of /proc/self/stat: no rule, watched by record",
             "floor-r", _watched),
    # No rule traps a receive; the gvisor profile's netlink-ack emulation
    # stops at each one (its exit too, in a process that may hold a netlink
    # socket): what sysfake-profile pays on a program that talks over sockets.
    Workload("recv", 10, "1M send+receive over a Unix socket pair, no rule involved",
             "floor", _recv, idle=True),
]


def by_key(keys: list[str] | None) -> list[Workload]:
    if not keys:
        return list(WORKLOADS)
    out: list[Workload] = []
    for k in keys:
        match = [w for w in WORKLOADS if k in (w.key, str(w.number))]
        if not match:
            names = ", ".join(f"{w.number}/{w.key}" for w in WORKLOADS)
            raise ValueError(f"unknown workload {k!r} (known: {names})")
        out.extend(m for m in match if m not in out)
    return out
