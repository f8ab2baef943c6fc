"""Differential tests: the C core and the Python reference must agree.

Each scenario runs the observer program under both backends with the same
compiled table and compares what the program observed (bytes read, stat
fields, errnos) and the exit status.  Without the C core (sysfake._core not
built) the tests are skipped, except under CI=true where that is a failure.
"""
from __future__ import annotations

import errno
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyref_obs import content, errno_rule, hide, observe, pyref_run, redirect, table

from support import missing, require
from sysfake.model import MatchKind, PathRule


def _core_run() -> Callable[..., int]:
    try:
        import sysfake._core  # noqa: F401
    except ImportError as exc:
        missing(f"the C core is not built: {exc}")
    from sysfake import core

    def run(tbl: bytes, argv: list[str], **kw: Any) -> int:
        return core.run(tbl, argv, dict(os.environ), **kw)

    return run


@pytest.fixture(scope="module")
def core_run() -> Callable[..., int]:
    return _core_run()


def both(core_run: Callable[..., int], tbl: bytes, observer: str, ops: Sequence[str],
         work: Path, prefix: Sequence[str] = ()) -> tuple[Any, Any]:
    res = []
    for name, runner in (("c", core_run), ("python", pyref_run)):
        rc, lines = observe(runner, tbl, observer, ops, work / f"out-{name}", prefix)
        norm = [re.sub(r"/proc/\d+(/task/)?\d*", r"/proc/N\1", ln.replace(str(work), "<W>"))
                for ln in lines]
        res.append((rc, norm))
    return res[0], res[1]


def fixture_tree(root: Path) -> None:
    (root / "d").mkdir(exist_ok=True)
    (root / "e").mkdir(exist_ok=True)
    (root / "d" / "f").write_text("real-f")
    (root / "e" / "f").write_text("real-e-f")
    (root / "g").write_text("real-g")
    if not (root / "lnk").exists():
        os.symlink("g", root / "lnk")


ALL_OPS = ("read", "stat", "lstat", "fstatat", "statx", "access", "faccessat2", "readlink",
           "openat2")


def ops_for(paths: Sequence[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        for op in ALL_OPS:
            out.append(f"{op}:{p}:4" if "access" in op else f"{op}:{p}")
    return out


SCENARIOS: list[tuple[str, Callable[[Path], list[PathRule]], Callable[[Path], list[str]]]] = [
    ("content", lambda w: [content(f"{w}/v", b"virtual\n", 0o600, 5, 6)],
     lambda w: [*ops_for([f"{w}/v"]), f"write:{w}/v:new", f"read:{w}/v", f"stat:{w}/v"]),
    ("content-readonly", lambda w: [content(f"{w}/v", b"ro", 0o444, readonly=True)],
     lambda w: [f"write:{w}/v:x", f"access:{w}/v:2", f"read:{w}/v"]),
    ("hide", lambda w: [hide(f"{w}/g")], lambda w: ops_for([f"{w}/g", f"{w}/d/f"])),
    ("hide-prefix", lambda w: [hide(f"{w}/d/", MatchKind.PREFIX)],
     lambda w: ops_for([f"{w}/d", f"{w}/d/f"])),
    ("errno", lambda w: [errno_rule(f"{w}/g", errno.EACCES)], lambda w: ops_for([f"{w}/g"])),
    ("redirect", lambda w: [redirect(f"{w}/d/", f"{w}/e/")],
     lambda w: [*ops_for([f"{w}/d/f", f"{w}/d"]), f"at:{w}:d/f", f"chdir:{w}/d", "read:f",
                "read:../d/f"]),
    ("glob", lambda w: [content(f"{w}/**/f", b"globbed")],
     lambda w: [f"read:{w}/d/f", f"read:{w}/e/f", f"read:{w}/g"]),
    ("symlink", lambda w: [content(f"{w}/lnk", b"vlink")], lambda w: ops_for([f"{w}/lnk"])),
    ("proc-self", lambda w: [content("/proc/self/comm", b"fake\n")],
     lambda w: ["read:/proc/self/comm", "read:/proc/%p/comm", "read:/proc/thread-self/comm",
                "read:/proc/%p/task/%t/comm", "stat:/proc/%p/comm"]),
    ("proc-sys", lambda w: [content("/proc/sys/kernel/cap_last_cap", b"40\n", 0o444),
                            hide("/proc/sys/kernel/osrelease")],
     lambda w: ops_for(["/proc/sys/kernel/cap_last_cap", "/proc/sys/kernel/osrelease"])),
    ("exit-status", lambda w: [], lambda w: ["exit:9"]),
]


@pytest.mark.parametrize("name", [s[0] for s in SCENARIOS])
def test_scenario(name: str, core_run: Callable[..., int], diff_observer: str,
                  tmp_path: Path) -> None:
    _, mk_rules, mk_ops = next(s for s in SCENARIOS if s[0] == name)
    fixture_tree(tmp_path)
    tbl = table(*mk_rules(tmp_path))
    c, py = both(core_run, tbl, diff_observer, mk_ops(tmp_path), tmp_path)
    assert c == py


def test_shell_chain(core_run: Callable[..., int], diff_observer: str, tmp_path: Path) -> None:
    fixture_tree(tmp_path)
    tbl = table(content(f"{tmp_path}/v", b"chain"))
    require("sh")
    prefix = ["sh", "-c", "sh -c 'exec \"$@\"' sh \"$@\"; exit $?", "sh"]
    c, py = both(core_run, tbl, diff_observer, [f"read:{tmp_path}/v", "exit:3"], tmp_path,
                 prefix)
    assert c == py
    assert c[0] == 3


# ---------------------------------------------------------------- hypothesis
NAMES = ["d", "e", "g", "lnk", "d/f", "e/f", "v", "d/v"]
PROC = ["/proc/sys/kernel/cap_last_cap", "/proc/sys/kernel/osrelease", "/proc/sys/vm/"]


@st.composite
def rule_sets(draw: st.DrawFn) -> list[tuple[str, str, Any]]:
    n = draw(st.integers(0, 4))
    out = []
    for _ in range(n):
        kind = draw(st.sampled_from(["content", "redirect", "hide", "errno"]))
        where = draw(st.sampled_from([*NAMES, *PROC]))
        if kind == "content":
            arg: Any = (draw(st.binary(max_size=16)), draw(st.sampled_from([0o644, 0o400, 0o755])),
                        draw(st.booleans()))
        elif kind == "redirect":
            arg = draw(st.sampled_from(["d/", "e/"]))
        elif kind == "errno":
            arg = draw(st.sampled_from([errno.EACCES, errno.EPERM, errno.EIO, errno.ENOSYS]))
        else:
            arg = None
        out.append((kind, where, arg))
    return out


def build_rules(spec: list[tuple[str, str, Any]], w: Path) -> list[PathRule]:
    rules = []
    for kind, where, arg in spec:
        path = where if where.startswith("/") else f"{w}/{where}"
        if kind == "content":
            rules.append(content(path.rstrip("/"), arg[0], arg[1], readonly=arg[2]))
        elif kind == "redirect":
            src = path.rstrip("/") + "/"
            rules.append(redirect(src, f"{w}/{arg}"))
        elif kind == "hide":
            rules.append(hide(path.rstrip("/") + "/", MatchKind.PREFIX) if path.endswith("/")
                         else hide(path))
        else:
            rules.append(errno_rule(path, arg))
    return rules


op_strategy = st.lists(
    st.tuples(st.sampled_from(["read", "stat", "lstat", "statx", "access", "readlink",
                               "rel-read", "at-read"]),
              st.sampled_from([*NAMES, *PROC])),
    min_size=1, max_size=8)


def build_ops(spec: list[tuple[str, str]], w: Path) -> list[str]:
    ops = []
    for op, where in spec:
        path = where if where.startswith("/") else f"{w}/{where}"
        if op == "rel-read" and not where.startswith("/"):
            ops += [f"chdir:{w}", f"read:{where}", "chdir:/"]
        elif op == "at-read" and not where.startswith("/"):
            ops.append(f"at:{w}:{where}")
        elif op == "access":
            ops.append(f"access:{path}:4")
        else:
            ops.append(f"{op.split('-')[-1]}:{path}")
    return ops


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=rule_sets(), ops=op_strategy)
def test_random_rules_agree(rules: list[tuple[str, str, Any]], ops: list[tuple[str, str]],
                            core_run: Callable[..., int], diff_observer: str,
                            tmp_path: Path) -> None:
    fixture_tree(tmp_path)
    tbl = table(*build_rules(rules, tmp_path))
    c, py = both(core_run, tbl, diff_observer, build_ops(ops, tmp_path), tmp_path)
    assert c == py
