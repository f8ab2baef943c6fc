"""The command is found and started as execvp(3) does.

Each case runs the same command under sysfake and under `env` (coreutils,
which calls glibc's execvp), with the same PATH, and compares the exit
status, the output and the error's text. Record mode, whose tracer is the
Python process, starts it the same way.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support import describe, run_sysfake
from support.fakes import redirect, run
from support.runner import child_env, sysfake_cmd


def make(path: Path, text: str, mode: int = 0o755) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    make(tmp_path / "noexec" / "prog", "#!/bin/sh\necho noexec\n", 0o644)
    make(tmp_path / "good" / "prog", "#!/bin/sh\necho good \"$@\"\n")
    make(tmp_path / "bare" / "prog", "echo bare \"$@\"\n")  # no #!: ENOEXEC, /bin/sh
    (tmp_path / "isdir" / "prog").mkdir(parents=True)
    make(tmp_path / "afile", "")
    make(tmp_path / "cwd" / "prog", "#!/bin/sh\necho cwd\n")
    (tmp_path / "empty").mkdir()
    return tmp_path


CASES = {
    "after EACCES": ("noexec:good", "prog"),
    "only EACCES": ("noexec:empty", "prog"),
    "a directory": ("isdir:good", "prog"),
    "ENOTDIR": ("afile:good", "prog"),
    "no #!": ("empty:bare", "prog"),
    "empty entry is the cwd": ("empty::good", "prog"),
    "not found": ("empty", "prog"),
    "slash, no #!": ("empty", "../bare/prog"),
    "long name": ("good", "p" * 300),
    "empty name": ("good", ""),
}


@pytest.mark.parametrize("case", CASES)
def test_path_search_as_execvp(tree: Path, case: str) -> None:
    dirs, name = CASES[case]
    path = ":".join(str(tree / d) if d else "" for d in dirs.split(":"))
    env = child_env({"PATH": path})
    want = subprocess.run(["/usr/bin/env", name, "arg"], capture_output=True, text=True,
                          cwd=tree / "cwd", env=env, timeout=30, check=False)
    res = run_sysfake(run(redirect("/nonexistent/a", "/nonexistent/b"), cmd=[name, "arg"]),
                      cwd=tree / "cwd", env={"PATH": path})
    assert (res.returncode, res.stdout) == (want.returncode, want.stdout), (
        describe(res), want)
    if want.returncode >= 126:
        reason = want.stderr.rsplit(": ", 1)[-1]
        assert res.stderr == f"sysfake: cannot run '{name}': {reason}", (describe(res), want)


def test_unset_path_is_bin_and_usr_bin() -> None:
    env = {k: v for k, v in child_env().items() if k != "PATH"}
    res = subprocess.run(sysfake_cmd(run(redirect("/nonexistent/a", "/nonexistent/b"),
                                         cmd=["sh", "-c", "echo found"])),
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert (res.returncode, res.stdout) == (0, "found\n"), res


def test_record_mode_starts_the_command_the_same_way(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec.out"
    res = run_sysfake(["record", "-o", str(out), "--", "prog", "x"],
                      env={"PATH": f"{tree / 'noexec'}:{tree / 'bare'}"})
    assert (res.returncode, res.stdout) == (0, "bare x\n"), describe(res)
    assert out.stat().st_size > 0


def test_the_command_starts_with_no_signal_ignored_or_blocked() -> None:
    # sysfake blocks every signal around the clone and handles some itself;
    # ignored and blocked signals would survive the exec (seen from /proc in
    # the command itself).
    res = run_sysfake(run(redirect("/nonexistent/a", "/nonexistent/b"),
                          cmd=["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]))
    assert res.returncode == 0, describe(res)
    assert res.stdout == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n", describe(res)
