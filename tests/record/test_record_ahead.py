"""A recorded call that returned through its trampoline has its result read at
the thread's next stop, in the same process_vm_readv as the first bytes of
that call's path (csrc/mem.c, mem_read_ahead). The path read ahead must be
exactly what reading it then would give: a buffer that changes between calls,
NULL and bad pointers, a path that runs into an unmapped page, a path that
ends at a page end, and a next call with no path at all."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from support import describe, require, run_sysfake, sysfake_cmd
from support.progs import Progs

ROUNDS = 72
WATCHED = "/dev/null"  # under record's default watch of /dev: recorded too
CASES = {0: "watched", 1: "null", 2: "badptr", 3: "unterminated", 4: "page_end", 5: "getpid"}


def _expected_second(i: int) -> str:
    case = CASES[i % 6]
    if case == "watched":
        return "watched: ok" if i % 12 else "watched_nothing: ERR ENOTDIR"
    return {"null": "null: ERR EFAULT", "badptr": "badptr: ERR EFAULT",
            "unterminated": "unterminated: ERR EFAULT", "page_end": "page_end: ok",
            "getpid": "getpid: ok"}[case]


def test_paths_read_with_the_last_result_are_the_calls_own(progs: Progs, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    dst.write_text("redirected\n")
    untraced = subprocess.run([progs["ahead"], str(src), WATCHED, str(ROUNDS)],
                              capture_output=True, text=True, timeout=60, check=False)
    trace = tmp_path / "t.jsonl"
    res = run_sysfake(["record", "-v", "-o", str(trace), "--redirect", f"{src}={dst}", "--",
                       progs["ahead"], str(src), WATCHED, str(ROUNDS)])
    assert res.returncode == 0, describe(res)
    want = [line for i in range(ROUNDS) for line in ("src: ok", _expected_second(i))]
    assert res.stdout.splitlines() == want, describe(res)
    # untraced, only the redirected path differs
    assert untraced.stdout.splitlines() == [
        "src: ERR ENOENT" if line == "src: ok" else line for line in want]
    assert len(re.findall(r"returns through its trampoline$", res.stderr, re.M)) >= ROUNDS - 5

    evs: list[dict[str, Any]] = [json.loads(x) for x in trace.read_text().splitlines()]
    calls = [e for e in evs if e["type"] == "syscall" and e["syscall"] == "openat"]
    srcs = [e for e in calls if e["path"] == str(src)]
    assert len(srcs) == ROUNDS and all(e["result"] >= 0 for e in srcs), srcs
    watched = [(e["path"], e["errno"]) for e in calls if e["path"] != str(src)]
    # the paths the kernel could read, as they were at each call
    assert watched == [(WATCHED + ("" if i % 12 else "/nothing"), None if i % 12 else "ENOTDIR")
                       if i % 6 == 0 else (WATCHED, None)
                       for i in range(ROUNDS) if i % 6 in (0, 4)], watched
    # each src record comes before the next call's own record
    order = [e["path"] for e in calls]
    assert order[:4] == [str(src), WATCHED + "/nothing", str(src), str(src)], order


def _strace_counts(out: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in out.read_text().splitlines():
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1].isidentifier():
            counts[f[-1]] = int(f[3])
    return counts


def test_one_read_per_recorded_call(progs: Progs, tmp_path: Path) -> None:
    """Counted, not timed: `strace -c` of the tracer's thread (the loop runs in
    sysfake's main thread; its tracees are not strace's)."""
    strace = require("strace")
    src, dst = tmp_path / "src", tmp_path / "dst"
    dst.write_text("redirected\n")
    n = 2000
    out = tmp_path / "strace.txt"
    cmd = [strace, "-c", "-o", str(out), *sysfake_cmd(
        ["record", "-o", str(tmp_path / "t.jsonl"), "--redirect", f"{src}={dst}", "--",
         progs["tramp"], "loop", str(src), "redirected", str(n), "1"])]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, describe(res)
    reads = _strace_counts(out).get("process_vm_readv", 0)
    # tramp's loop: 2n opens of src, each stop reads its path and, but for
    # the first, the last call's result: 4n reads if they were apart
    assert 2 * n <= reads < 3 * n, out.read_text()
