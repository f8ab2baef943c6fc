"""Shared helpers for the reference-backend and differential tests.

`observe` (observe.c, compiled once per session) performs path operations and
writes one line per operation; tests compare those lines across rule sets and
backends.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

from sysfake.model import Action, MatchKind, Origin, PathRule, RuleSet, VirtualFile
from sysfake.table import encode

HERE = Path(__file__).resolve().parent
Runner = Callable[..., int]


def build_observer(out_dir: Path) -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler")
    out = out_dir / "observe"
    subprocess.run([cc, "-O1", "-pthread", "-Wall", "-o", str(out), str(HERE / "observe.c")],
                   check=True, capture_output=True)
    return str(out)


def content(path: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0,
            readonly: bool = False, kind: MatchKind = MatchKind.EXACT,
            only_exe: str | None = None, only_comm: str | None = None) -> PathRule:
    return PathRule(path, kind, Action.CONTENT, Origin("test"),
                    vfile=VirtualFile(data, mode, uid, gid, readonly),
                    only_exe=only_exe, only_comm=only_comm)


def redirect(prefix: str, target: str) -> PathRule:
    kind = MatchKind.PREFIX if prefix.endswith("/") else MatchKind.EXACT
    return PathRule(prefix, kind, Action.REDIRECT, Origin("test"), target=target)


def hide(path: str, kind: MatchKind = MatchKind.EXACT) -> PathRule:
    return PathRule(path, kind, Action.HIDE, Origin("test"))


def errno_rule(path: str, err: int, kind: MatchKind = MatchKind.EXACT) -> PathRule:
    return PathRule(path, kind, Action.ERRNO, Origin("test"), errno=err)


def table(*rules: PathRule) -> bytes:
    return encode(RuleSet(list(rules)))


def observe(run: Runner, tbl: bytes, observer: str, ops: Sequence[str], out: Path,
            prefix: Sequence[str] = (), **kw: object) -> tuple[int, list[str]]:
    """Run the observer (optionally behind `prefix`, e.g. a shell) under `run`."""
    if out.exists():
        out.unlink()
    rc = run(tbl, [*prefix, observer, str(out), *ops], **kw)
    lines = out.read_text().splitlines() if out.exists() else []
    return rc, lines


def pyref_run(tbl: bytes, argv: list[str], **kw: object) -> int:
    from sysfake.backends.pyref import run

    return run(tbl, argv, dict(os.environ), **kw)  # type: ignore[arg-type]
