"""`sysfake record` does not import python-ptrace.

Importing any of python-ptrace runs its package's __init__, which imports all
of it (ctypes, logging, socket, an `ldconfig` run: 25-40 ms of a ~110 ms
start). Record mode needs its syscall names at start (to trap by number):
syscalls.py reads them from the table's file alone. Prototypes and argument
formatting come at the first syscall record from the snapshot of
python-ptrace's tables (ptrace_tables.py), clone flag names at the first fork
record. The checks read `python -X importtime` logs (support.imports), not
timings.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support import describe
from support.imports import imported, run_importtime
from sysfake.record import syscalls
from sysfake.record.enrich import clone_text

NOT_IMPORTED = (
    "ptrace",  # the names come from its table's file alone
    "ctypes",  # python-ptrace's
    "logging",  # python-ptrace's
    "subprocess",  # python-ptrace's (ctypes.util)
    "termios",  # ioctl names: only for an ioctl record
    "signal",  # signal names: only for a fork or a killed thread
    "pathlib",  # only `suggest` writes through it
    "dataclasses",  # it imports inspect: sysfake.datatype instead
    "inspect",
    "shutil",  # argparse's help formatter imports it: argparsing.Formatter does not
    "json",  # 1 ms: trace._dumps writes the lines, with json's C string encoder
    "typing",  # 3 ms (10 in gVisor): its names are imported for type checkers only
)


def _trace(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _record(tmp_path: Path, *cmd: str, status: int = 0,
            ) -> tuple[list[str], list[dict[str, object]]]:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_text("real\n")
    dst.write_text("redirected\n")
    trace = tmp_path / "t.jsonl"
    res = run_importtime(["-m", "sysfake", "record", "-o", str(trace),
                          "--redirect", f"{src}={dst}", "--", *cmd], tmp_path)
    assert res.returncode == status, describe(res)
    mods = imported(res.stderr)
    for needed in ("sysfake.record.recorder", "sysfake.record.fastline", "sysfake.core"):
        assert needed in mods, describe(res)
    return mods, _trace(trace)


def test_record_without_syscall_records_imports_no_ptrace(tmp_path: Path) -> None:
    mods, recs = _record(tmp_path, "true")
    assert [r["type"] for r in recs] == ["header", "exec", "exit", "end"]
    assert "mount" in recs[0]["syscalls"]  # type: ignore[operator]  # names known at start
    unexpected = [m for m in NOT_IMPORTED if m in mods]
    assert not unexpected, f"imported by `record -- true`: {unexpected}"


def test_syscall_and_fork_records_import_no_ptrace(tmp_path: Path) -> None:
    # sh forks cat, which opens a watched path: fork and syscall records
    mods, recs = _record(tmp_path, "sh", "-c", "cat /proc/self/stat >/dev/null; true")
    assert "sysfake.record._ptrace_snapshot" in mods
    unexpected = [m for m in NOT_IMPORTED if m in mods and m != "signal"]
    assert not unexpected, f"imported by a syscall and a fork record: {unexpected}"
    forks = [r for r in recs if r["type"] == "fork"]
    assert forks and str(forks[0]["clone_text"]).startswith(("SIG", "CLONE_"))
    assert forks[0]["clone_text"] == clone_text(int(forks[0]["clone_flags"]))  # type: ignore[call-overload]
    opens = [r for r in recs if r["type"] == "syscall" and r["syscall"] == "openat"
             and r["resolved"] == "/proc/self/stat"]
    assert opens, recs
    texts = {a["name"]: a.get("text") for a in opens[0]["args"]}  # type: ignore[attr-defined]
    assert texts["dirfd"] == "AT_FDCWD"
    assert str(texts["flags"]).startswith("O_RDONLY")


def test_killed_command_imports_signal_names(tmp_path: Path) -> None:
    mods, recs = _record(tmp_path, "sh", "-c", "kill -TERM $$", status=-15)
    assert "signal" in mods
    exits = [r for r in recs if r["type"] == "exit"]
    assert [(r["signal"], r["exit_code"]) for r in exits] == [("SIGTERM", None)]


def test_names_alone_are_python_ptraces() -> None:
    from ptrace.syscall.linux.x86_64 import SYSCALL_NAMES

    assert syscalls._names_alone() == SYSCALL_NAMES
    # python-ptrace imported already: its own table
    assert syscalls._x86_64_names() is SYSCALL_NAMES


def _python(code: str) -> None:
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False)
    assert res.returncode == 0, res.stderr


def test_names_fall_back_to_the_ordinary_import() -> None:
    # python-ptrace's package cannot be found as a directory (a zipped install, say)
    _python("import importlib.util, sys\n"
            "find = importlib.util.find_spec\n"
            "importlib.util.find_spec = lambda n, *a: None if n == 'ptrace' else find(n, *a)\n"
            "from sysfake.record import syscalls as s\n"
            "from ptrace.syscall.linux.x86_64 import SYSCALL_NAMES\n"
            "assert s.SYSCALL_NAMES is SYSCALL_NAMES and s.number_of('openat') == 257\n")


def test_tables_come_at_first_use() -> None:
    code = ("import sys; from sysfake.record import syscalls as s\n"
            "assert s.number_of('openat') == 257 and s.name_of(59) == 'execve'\n"
            "assert 'ptrace' not in sys.modules, 'imported at start'\n"
            "assert s.prototype('openat') is not None\n"
            "assert 'sysfake.record._ptrace_snapshot' in sys.modules\n")
    _python(code)
