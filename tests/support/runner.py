"""Running the `sysfake` CLI as a real subprocess."""
from __future__ import annotations

import importlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, Union

import pytest

#: Every process a test starts carries this variable (inherited by all
#: descendants), so the leftover check finds daemons that were re-parented.
MARKER_ENV = "SYSFAKE_TEST_MARKER"

#: Set SYSFAKE_TEST_BACKEND=python to run the suite against the reference backend.
BACKEND_ENV = "SYSFAKE_TEST_BACKEND"

#: Set SYSFAKE_TEST_CMD (shell words, e.g. "/usr/local/bin/sysfake") to test
#: another sysfake command instead of `python -m sysfake`.
CMD_ENV = "SYSFAKE_TEST_CMD"

DEFAULT_TIMEOUT = 60.0

_current_marker: str | None = None

StrPath = Union[str, "os.PathLike[str]"]


def set_current_marker(marker: str | None) -> None:
    """Called by the autouse leftover fixture around each test."""
    global _current_marker
    _current_marker = marker


def current_marker() -> str | None:
    return _current_marker


def sysfake_cmd(args: Sequence[str]) -> list[str]:
    """argv for `sysfake ARGS...` using this interpreter's installed package.

    With SYSFAKE_TEST_BACKEND set, `run` gets `--backend VALUE` unless the test
    chose a backend itself.
    """
    argv = [str(a) for a in args]
    backend = os.environ.get(BACKEND_ENV)
    if backend and argv[:1] == ["run"] and not any(a.startswith("--backend") for a in argv):
        argv = ["run", f"--backend={backend}", *argv[1:]]
    prefix = shlex.split(os.environ.get(CMD_ENV, "")) or [sys.executable, "-m", "sysfake"]
    return [*prefix, *argv]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    # Plain C locale: exact error texts from sh/coreutils.
    env["LC_ALL"] = "C"
    marker = current_marker()
    if marker:
        env[MARKER_ENV] = marker
    if extra:
        env.update(extra)
    return env


def run_sysfake(
    args: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    input: str | None = None,
    cwd: StrPath | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `sysfake ARGS...` to completion and capture its output (text).

    stdin is /dev/null unless `input` is given. On timeout, sysfake is
    killed and subprocess.TimeoutExpired propagates (the test fails; the
    leftover fixture then cleans up what sysfake left behind).
    """
    return subprocess.run(
        sysfake_cmd(args),
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=child_env(env),
        check=False,
    )


def start_sysfake(
    args: Sequence[str],
    *,
    cwd: StrPath | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start `sysfake ARGS...` in its own session (signals sent to it by a test
    do not reach pytest), with stdout/stderr captured as text."""
    return subprocess.Popen(
        sysfake_cmd(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=child_env(env),
        start_new_session=True,
    )


def traced_tracer(tmp_path: Path, args: list[str], calls: str
                  ) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run `sysfake run ARGS[1:]` (C backend) with strace on the tracer alone,
    tracing `calls`; (the result, strace's log)."""
    log = tmp_path / "tracer.strace"
    argv = [require("strace"), "-qq", "-o", str(log), "-e", "signal=none", "-e", f"trace={calls}",
            *sysfake_cmd(["run", "--backend=c", *args[1:]])]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL, env=child_env(), check=False)
    return res, log.read_text()


def describe(res: subprocess.CompletedProcess[str]) -> str:
    """A readable dump of a finished run for assertion messages."""
    args = res.args if isinstance(res.args, list) else [res.args]
    return (
        f"\n--- command: {' '.join(str(a) for a in args)}"
        f"\n--- exit status: {res.returncode}"
        f"\n--- stdout:\n{res.stdout}"
        f"\n--- stderr:\n{res.stderr}"
    )


def missing(msg: str) -> NoReturn:
    """Something the test needs is not here: skip, but fail under CI=true,
    where .ci/run installs everything."""
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def require(tool: str) -> str:
    """Absolute path of `tool`; skip the test if it is missing (fail under CI=true)."""
    path = shutil.which(tool)
    if path is None:
        missing(f"required tool {tool!r} is not installed")
    return path


def import_or_missing(module: str) -> Any:
    """The imported module; missing() when it cannot be imported."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing(f"cannot import {module}: {exc}")


def wait_for_file(path: Path, timeout: float = 30.0, proc: subprocess.Popen[str] | None = None
                  ) -> None:
    """Wait until `path` exists (a readiness handshake, not a timing assertion).

    Fails early when `proc` exits before the file appears.
    """
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"process exited with {proc.returncode} before {path} appeared"
                        f"\n--- stdout:\n{out}\n--- stderr:\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"{path} did not appear within {timeout}s")
        time.sleep(0.05)


def without_launcher(tmp_path: Path) -> dict[str, str]:
    """A child environment whose `python -m sysfake` is a copy of this package
    without `sysfake-exec`: `run` and `record` then run the C core inside the
    Python process (the fallback), where a test can count its syscalls."""
    pkg = Path(importlib.import_module("sysfake").__file__ or "").parent
    shutil.copytree(pkg, tmp_path / "sysfake", ignore=shutil.ignore_patterns("sysfake-exec"))
    return child_env({"PYTHONPATH": str(tmp_path)})
