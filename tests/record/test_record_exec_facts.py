"""Record mode's exec line without /proc (csrc/exec_facts.c): where the
process sees the tracer's view and names its program by an absolute path, the
exe, comm, argv and parent come from the file the tracer opens, the new stack
and a pidfd. Every exec line must be what /proc says (`--disable pidfd_info`
reads /proc for each), and the cases it cannot prove go to /proc."""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support import describe, run_sysfake
from sysfake.core import probe

# name -> (shell command, whether its exec line comes without /proc)
CASES: dict[str, tuple[str, bool]] = {
    "path": ("cat D/f >/dev/null", True),
    "symlinked": ("/bin/sh -c :", True),
    "script": ("D/script.sh one", True),
    "env-script": ("D/envscript two", True),
    "long-comm": ("D/a_program_with_a_long_name", True),
    "long-argv": ("/bin/true LONG", True),
    "relative": ("cd D && ./script.sh three", False),
    "magic-link": ("D/selfexe -c :", False),
    "nested-script": ("D/outer four", False),
    "own-mounts": ("unshare -m /bin/true five", False),
    "reparented": ("sh -c '(sleep 0.3; D/script.sh six) &'", True),
    # a rule sends the exec elsewhere: the name it wrote is not what ran
    "redirected": ("D/redirected seven >/dev/null", False),
    # re-parented because its parent was killed
    "killed-parent": ("sh -c '(sleep 0.3; D/script.sh eight) & kill -9 $$'", True),
    # a parent that made a thread takes the pidfd
    "threaded-parent": ("python3 -c 'import threading, subprocess; t = threading.Thread("
                        "target=int); t.start(); t.join(); subprocess.run([\"D/script.sh\", "
                        "\"nine\"])'", True),
}
# exec lines whose parent comes from the tracer's own tree (csrc/exec_facts.c):
# those of the fast cases whose parent is still there and never made a thread
NOT_TREE = {"reparented", "killed-parent", "threaded-parent"}


@pytest.fixture(autouse=True)
def _pidfd_info() -> None:
    if not probe().mechanisms.get("pidfd_info"):
        pytest.skip("PIDFD_GET_INFO is missing (Linux < 6.13): every exec line reads /proc")


def _setup(d: Path) -> None:
    (d / "f").write_text("x\n")
    for name, text in (("script.sh", "#!/bin/sh\n:\n"), ("envscript", "#! /usr/bin/env true\n"),
                       ("outer", f"#!{d}/script.sh\n")):
        (d / name).write_text(text)
        (d / name).chmod(0o755)
    shutil.copy("/bin/true", d / "a_program_with_a_long_name")
    shutil.copy("/bin/true", d / "redirected")
    os.symlink("/proc/self/exe", d / "selfexe")


def _script(d: Path) -> str:
    long_arg = "y" * 1500
    parts = []
    for name, (cmd, _fast) in CASES.items():
        cmd = cmd.replace("D/", f"{d}/").replace(" D ", f" {d} ").replace("LONG", long_arg)
        parts.append(f"( : {name}; {cmd} )")
    return "; ".join(parts) + "; sleep 0.6"


def _record(tmp_path: Path, extra: list[str]) -> tuple[list[dict[str, Any]], str]:
    d = tmp_path / "d"
    d.mkdir(exist_ok=True)
    if not (d / "f").exists():
        _setup(d)
    trace = tmp_path / "trace.jsonl"
    res = run_sysfake(["record", "-v", *extra, "--orphans", "wait", "-o", str(trace), "--",
                       "sh", "-c", _script(d)])
    assert res.returncode == 0, describe(res)
    return [json.loads(x) for x in trace.read_text().splitlines()], res.stderr


def _parent(evs: list[dict[str, Any]], e: dict[str, Any]) -> tuple[str, ...]:
    """The parent named by what it ran (pids differ between runs; a parent
    that is not traced is "outside")."""
    ran = [" ".join(x["argv"])[:40] for x in evs if x["type"] == "exec" and x["pid"] == e["ppid"]]
    return tuple(ran) or ("outside",)


def _execs(evs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((e["exe"], e["comm"], tuple(e["argv"]), e["argv_truncated"], _parent(evs, e))
                  for e in evs if e["type"] == "exec")


# how each case's exec lines are told apart (argv)
def _of(case: str, argv: list[str]) -> bool:
    last = {"script": "one", "env-script": "two", "relative": "three", "nested-script": "four",
            "own-mounts": "five", "reparented": "six", "redirected": "seven",
            "killed-parent": "eight", "threaded-parent": "nine"}
    if case in last:
        return argv[-1] == last[case]
    return {
        "path": argv[0] == "cat",
        "symlinked": argv == ["/bin/sh", "-c", ":"],
        "long-comm": argv[0].endswith("/a_program_with_a_long_name"),
        "long-argv": argv[0] == "/bin/true" and len(argv) > 1 and argv[1].startswith("yyy"),
        "magic-link": argv[0].endswith("/selfexe"),
    }[case]


def test_exec_lines_without_proc_are_what_proc_says(tmp_path: Path) -> None:
    rule = ["--redirect", f"{tmp_path}/d/redirected=/bin/echo"]
    evs, log = _record(tmp_path, rule)
    slow_evs, slow_log = _record(tmp_path, [*rule, "--disable", "pidfd_info"])
    assert "exec facts without /proc" not in slow_log
    assert _execs(evs) == _execs(slow_evs)

    fast = set(re.findall(r"^sysfake: (\d+): exec facts without /proc \((.*)\)$", log, re.M))
    tree = set(re.findall(r"^sysfake: (\d+): parent \d+ from the tracer's own tree \((.*)\)$",
                          log, re.M))
    execs = [e for e in evs if e["type"] == "exec"]
    for case, (_cmd, want) in CASES.items():
        mine = [e for e in execs if _of(case, e["argv"])]
        assert mine, (case, execs)
        # unshare execs its command once it has its own mounts: that exec only
        if case == "own-mounts":
            mine = [e for e in mine if e["argv"][0] == "/bin/true"]
        got = {(str(e["pid"]), e["exe"]) in fast for e in mine}
        assert got == {want}, (case, mine, log)
        from_tree = {(str(e["pid"]), e["exe"]) in tree for e in mine}
        assert from_tree == {want and case not in NOT_TREE}, (case, mine, log)

    def line(case: str) -> dict[str, Any]:
        return next(e for e in execs if _of(case, e["argv"]))

    # what /proc says, spelled out for the cases that follow exec's own rules
    sh = os.path.realpath("/bin/sh")
    assert (line("script")["exe"], line("script")["comm"]) == (sh, "script.sh")
    assert line("env-script")["exe"] == os.path.realpath("/usr/bin/env")
    assert line("long-comm")["comm"] == "a_program_with_"
    assert line("long-argv")["argv_truncated"] is True
    assert (line("magic-link")["exe"], line("magic-link")["comm"]) == (sh, "selfexe")
    assert line("nested-script")["exe"] == sh
    assert (line("redirected")["exe"], line("redirected")["comm"]) == (
        os.path.realpath("/bin/echo"), "echo")
    # re-parented before its exec: its parent is the tracer, not a shell
    assert _parent(evs, line("reparented")) == ("outside",)
    assert _parent(evs, line("killed-parent")) == ("outside",)
    assert _parent(evs, line("threaded-parent"))[0].startswith("python3 -c")


def test_no_exec_facts_without_proc_where_namespace_changes_are_not_trapped(
        tmp_path: Path) -> None:
    # with no default traps (and no redirect, whose one-stop stat needs
    # them), unshare and setns run untrapped: the tracer could not tell a
    # process that left its mount namespace, so it asks /proc
    evs, log = _record(tmp_path, ["--no-default-traps"])
    assert "exec facts without /proc" not in log
    assert any(e["type"] == "exec" and e["argv"][-1] == "one" for e in evs)


def _i386_exit0() -> bytes:
    """A static i386 ELF that exits 0 (int 0x80): its stack's words are 4 bytes."""
    code = bytes([0xB8, 1, 0, 0, 0, 0x31, 0xDB, 0xCD, 0x80])  # mov eax,1; xor ebx,ebx; int 0x80
    base, hdr = 0x08048000, 52 + 32
    ehdr = struct.pack("<4sBBBBB7sHHIIIIIHHHHHH", b"\x7fELF", 1, 1, 1, 0, 0, b"\0" * 7,
                       2, 3, 1, base + hdr, 52, 0, 0, 52, 32, 1, 0, 0, 0)
    phdr = struct.pack("<IIIIIIII", 1, 0, base, base, hdr + len(code), hdr + len(code), 5,
                       0x1000)
    return ehdr + phdr + code


def test_a_32_bit_program_takes_proc(tmp_path: Path) -> None:
    # its argv pointers are 4 bytes: the 8-byte reading of the stack must not
    # be used (the line would name other strings)
    prog = tmp_path / "i386"
    prog.write_bytes(_i386_exit0())
    prog.chmod(0o755)
    if subprocess.run([str(prog)], check=False).returncode != 0:
        pytest.skip("this kernel runs no i386 programs (IA32 emulation is off)")
    trace = tmp_path / "t.jsonl"
    res = run_sysfake(["record", "-v", "-o", str(trace), "--", str(prog), "first", "second"])
    assert res.returncode == 0, describe(res)
    (line,) = [e for e in (json.loads(x) for x in trace.read_text().splitlines())
               if e["type"] == "exec"]
    assert line["argv"] == [str(prog), "first", "second"] and line["comm"] == "i386"
    assert line["exe"] == str(prog.resolve())
    assert "exec facts without /proc" not in res.stderr
