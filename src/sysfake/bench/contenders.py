"""The contenders: how each one wraps a workload command.

A contender that redirects must make the workload see DST where it asks for
SRC; the others (untraced, the floors without a redirect, strace) must show
SRC. The harness checks that on every run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

from ..datatype import datatype, field
from .workloads import Ctx, seen

Wrap = Callable[[Ctx, list[str]], list[str]]

# Messages by which a CLI says that a subcommand or an option does not exist.
_NOT_THERE = (
    "unknown command", "invalid choice", "unrecognized arguments", "no such option",
    "unknown option", "no module named", "not implemented",
)


@datatype
class Contender:
    name: str
    description: str
    redirects: bool  # does it apply the SRC -> DST rule?
    wrap: Wrap
    available: bool = True
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    exe: str | None = None  # the program it runs, where one must be found


def _untraced(ctx: Ctx, cmd: list[str]) -> list[str]:
    return list(cmd)


def _floor(mode: str) -> Wrap:
    def wrap(ctx: Ctx, cmd: list[str]) -> list[str]:
        return [ctx.floor, "-m", mode, "-s", ctx.src, "-d", ctx.dst, "--", *cmd]

    return wrap


def _proot(exe: str) -> Wrap:
    def wrap(ctx: Ctx, cmd: list[str]) -> list[str]:
        return [exe, "-b", f"{ctx.dst}:{ctx.src}", *cmd]

    return wrap


# The PRoot that issue 6's targets name, built by benchmarks/build_proot.sh
PROOT_SC_VERSION = "5.4.0"
PROOT_SC_BUILD = "benchmarks/build_proot.sh"


def proot_sc_default(cache: Path) -> Path:
    """Where build_proot.sh puts its binary by default (under the bench cache)."""
    return cache / f"proot-{PROOT_SC_VERSION}" / "proot"


def find_proot_sc(explicit: str | None, cache: Path) -> tuple[str | None, str]:
    """The proot-sc binary: --proot-sc PATH, else the cache's build; or None
    with a note that says how to get one."""
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return os.path.abspath(explicit), ""
        return None, f"--proot-sc {explicit}: not an executable file"
    exe = proot_sc_default(cache)
    if os.path.isfile(exe) and os.access(exe, os.X_OK):
        return str(exe), ""
    return None, (f"not built: run `{PROOT_SC_BUILD} {exe.parent}` from a sysfake checkout "
                  f"(needs libtalloc-dev), or pass --proot-sc PATH")


def _strace(ctx: Ctx, cmd: list[str]) -> list[str]:
    return ["strace", "-f", "--seccomp-bpf", "-e", "trace=%file", "-o", "/dev/null", *cmd]


def sysfake_cmd(explicit: str | None) -> list[str] | None:
    """How to start the sysfake CLI: --sysfake, the console script beside this
    Python, the `sysfake` on PATH, or -m.

    The script beside sys.executable comes first: a `sysfake` found on PATH
    may be a wrapper such as a pyenv shim, which forks dozens of processes
    (about 100 ms) before sysfake even starts."""
    if explicit:
        return explicit.split()
    beside = os.path.join(os.path.dirname(sys.executable), "sysfake")
    if os.access(beside, os.X_OK):
        return [beside]
    exe = shutil.which("sysfake")
    if exe:
        return [exe]
    try:
        import importlib.util

        if importlib.util.find_spec("sysfake.cli") is not None:
            return [sys.executable, "-m", "sysfake.cli"]
    except (ImportError, ValueError):
        pass
    return None


def _sysfake(base: list[str], sub: list[str], ctx_record: bool) -> Wrap:
    def wrap(ctx: Ctx, cmd: list[str]) -> list[str]:
        argv = [*base, *sub]
        if ctx_record:
            argv += ["-o", str(ctx.trace)]
        return [*argv, "--redirect", f"{ctx.src}={ctx.dst}", "--", *cmd]

    return wrap


def _sysfake_exec(base: list[str], subdir: str = "compiled") -> Wrap:
    """DIR/sysfake-exec: the rule compiled once (outside the timed run), no Python."""
    def wrap(ctx: Ctx, cmd: list[str]) -> list[str]:
        out = ctx.workdir / subdir
        exe = out / "sysfake-exec"
        if not exe.exists():  # a failure shows when the probe runs it
            subprocess.run([*base, "compile", "--redirect", f"{ctx.src}={ctx.dst}",
                            "-o", str(out)], capture_output=True, check=False)
        return [str(exe), "--", *cmd]

    return wrap


def all_contenders(sysfake: list[str] | None, proot_sc: str | None = None,
                   proot_sc_note: str = "", baseline: list[str] | None = None,
                   profile: str = "minimal") -> list[Contender]:
    """Every contender; `baseline` (--baseline CMD: another sysfake, say an
    older checkout) adds `base`, `base-exec`, `base-record` and
    `base-profile`, run side by side with `sysfake`, `sysfake-exec`,
    `sysfake-record` and `sysfake-profile` so that a change is measured in
    one run. `profile` is the profile `sysfake run`
    picks by itself where the workloads run (gvisor inside gVisor), which
    `sysfake-profile` adds to the redirect: what a user who gives no rules
    runs, its emulations included."""
    base = sysfake or ["sysfake"]
    with_profile = ["run", "--profile", profile]
    cs = [
        Contender("untraced", "the workload alone", False, _untraced),
        Contender("floor", "seccomp filter on path syscalls, continue at each stop", False,
                  _floor("floor")),
        Contender("floor-r", "floor + read registers and the path at each stop", False,
                  _floor("r")),
        Contender("floor-x", "floor-r + full redirect (scratch page, restore at exit)", True,
                  _floor("x")),
        Contender("sysfake", "sysfake run --redirect SRC=DST (C core)", True,
                  _sysfake(base, ["run"], False)),
        Contender("sysfake-exec", "DIR/sysfake-exec after sysfake compile --redirect SRC=DST "
                  "-o DIR (same core, no Python)", True, _sysfake_exec(base)),
        Contender("sysfake-record", "sysfake record -o FILE --redirect SRC=DST", True,
                  _sysfake(base, ["record"], True)),
        Contender("sysfake-profile", f"sysfake run --profile {profile} --redirect SRC=DST "
                  "(the profile sysfake picks there)", True, _sysfake(base, with_profile, False)),
        Contender("sysfake-py", "sysfake run --backend python --redirect SRC=DST", True,
                  _sysfake(base, ["run", "--backend", "python"], False)),
        Contender("proot", "proot -b DST:SRC (the proot on PATH)", True, _proot("proot"),
                  exe=shutil.which("proot")),
        Contender("proot-sc", f"PRoot {PROOT_SC_VERSION} with seccomp_filter, -b DST:SRC",
                  True, _proot(proot_sc or "proot"), exe=proot_sc,
                  available=proot_sc is not None,
                  note="" if proot_sc else proot_sc_note or "not built"),
        Contender("strace", "strace -f --seccomp-bpf -e trace=%file -o /dev/null", False,
                  _strace, exe=shutil.which("strace")),
    ]
    if baseline:
        after = next(i for i, c in enumerate(cs) if c.name == "sysfake-record") + 1
        cs[after:after] = [
            Contender("base", "sysfake run --redirect SRC=DST, started by --baseline CMD", True,
                      _sysfake(baseline, ["run"], False)),
            Contender("base-exec", "DIR/sysfake-exec after --baseline CMD's compile "
                      "--redirect SRC=DST -o DIR", True,
                      _sysfake_exec(baseline, "compiled-base")),
            Contender("base-record", "sysfake record -o FILE --redirect SRC=DST, started by "
                      "--baseline CMD", True, _sysfake(baseline, ["record"], True)),
            Contender("base-profile", f"sysfake run --profile {profile} --redirect SRC=DST, "
                      "started by --baseline CMD", True, _sysfake(baseline, with_profile, False)),
        ]
    if sysfake is None:
        for c in cs:
            if c.name.startswith("sysfake"):
                c.available = False
                c.note = "the sysfake CLI is not installed"
    return cs


def probe(c: Contender, ctx: Ctx, runner: Callable[[list[str]], list[str]],
          timeout: float = 150) -> None:
    """Run the contender once on a one-stat workload; mark it unavailable
    (with a note) when it cannot run or does not do what it must.

    ``runner`` wraps the argv (for gVisor: ``runsc do``) in a `timeout -k`
    shorter than ``timeout``, so that a hung contender is killed whole."""
    if not c.available:
        return
    if c.name in ("proot", "strace") and not c.exe:
        c.available, c.note = False, f"{c.name} is not installed"
        return
    argv = runner(c.wrap(ctx, [ctx.sfwl, "stat", ctx.src, "1"]))
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, check=False,
                           env=bench_env())
    except OSError as e:
        from ..text import os_error
        c.available, c.note = False, f"cannot run: {os_error(e)}"
        return
    except subprocess.SubprocessError as e:
        c.available, c.note = False, f"cannot run: {e}"
        return
    err = p.stderr.decode(errors="replace").strip()
    if p.returncode != 0:
        first = err.splitlines()[-1] if err else f"exit status {p.returncode}"
        if p.returncode in (124, 137):  # from the sandbox's `timeout -k`
            first = f"timed out: {first}"
        low = err.lower()
        if any(s in low for s in _NOT_THERE):
            c.note = f"skipped, not implemented yet: {first}"
        else:
            c.note = f"skipped, fails: {first}"
        c.available = False
        return
    want = "dst" if c.redirects else "src"
    got = seen(p.stdout)
    if got != want:
        c.available = False
        c.note = f"skipped: a one-stat probe saw {got or 'nothing'}, expected {want}"


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LC_ALL", "C")
    return env


def select(cs: list[Contender], names: list[str] | None) -> list[Contender]:
    if not names:
        return cs
    known = {c.name for c in cs}
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"unknown contender(s) {', '.join(bad)} "
                         f"(known: {', '.join(sorted(known))})")
    # untraced and the floors are always needed for the ratios
    keep = set(names) | {"untraced"}
    return [c for c in cs if c.name in keep]
