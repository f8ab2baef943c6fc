"""Bad input to `DIR/sysfake-exec`: one line naming what was wrong (and the
table file), exit status 2, nothing started, no hang."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from support import child_env, describe, run_sysfake


@pytest.fixture
def exe(tmp_path: Path) -> Path:
    out = tmp_path / "c"
    res = run_sysfake(["compile", "--hide", "/nonexistent", "-o", str(out)])
    assert res.returncode == 0, describe(res)
    return out / "sysfake-exec"


def _exec(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=child_env(), timeout=20)


def _one_line(res: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert res.returncode == 2 and res.stdout == "", describe(res)
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("sysfake-exec: "), describe(res)
    for p in parts:
        assert p in res.stderr, describe(res)


@pytest.mark.parametrize("args", [
    [], ["--bogus", "true"], ["--orphans", "x", "true"], ["--table-fd", "abc", "true"],
    ["--grace", "nan", "true"], ["--grace", "", "true"], ["--grace", "-1", "true"],
    ["--grace", "1e309", "true"],
])
def test_usage_errors_are_one_line(exe: Path, tmp_path: Path, args: list[str]) -> None:
    made = tmp_path / "made"
    res = _exec([str(exe), *args, *(["touch", str(made)] if args else [])])
    _one_line(res, "(usage: sysfake-exec ")
    assert not made.exists()


def test_help(exe: Path) -> None:
    res = _exec([str(exe), "--help"])
    assert (res.returncode, res.stderr) == (0, ""), describe(res)
    assert res.stdout.startswith("usage: sysfake-exec "), describe(res)


def _made(tmp_path: Path) -> list[str]:
    return ["touch", str(tmp_path / "made")]


def test_a_corrupt_table_is_named(exe: Path, tmp_path: Path) -> None:
    table = exe.parent / "table.sft"
    data = table.read_bytes()
    table.write_bytes(data[: len(data) // 2])
    _one_line(_exec([str(exe), "--", *_made(tmp_path)]), f"{table}: rule table: ")
    assert not (tmp_path / "made").exists()


def test_a_table_that_is_a_directory(exe: Path, tmp_path: Path) -> None:
    _one_line(_exec([str(exe), "--table", str(tmp_path), "--", *_made(tmp_path)]),
              f"{tmp_path}: Is a directory")


def test_a_fifo_table_does_not_hang(exe: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer: an open without O_NONBLOCK would wait forever
    _one_line(_exec([str(exe), "--table", str(fifo), "--", *_made(tmp_path)]),
              f"{fifo}: not a regular file")
    assert not (tmp_path / "made").exists()
