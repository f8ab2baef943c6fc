"""A recorded call that returned through its trampoline waits for its result
with its slot held, and the results of up to 16 such calls of an address
space are read at once (csrc/rec_batch.c): its record is written later than
the call, but in its thread's order, before the thread's next record of any
kind, its fork, exec and exit lines. Each call's path is still read at its own
stop: a buffer that changes between calls, NULL and bad pointers, a path that
runs into an unmapped page, one that ends at a page end, and calls with no
path at all."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from support import describe, require, run_sysfake, run_then_python_in_gvisor, sysfake_cmd
from support.fakes import PEEKPOKE
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


def test_records_that_wait_for_their_results_keep_their_own_paths(
        progs: Progs, tmp_path: Path) -> None:
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


def test_results_are_read_sixteen_at_a_time(progs: Progs, tmp_path: Path) -> None:
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
    # tramp's loop: 2n opens of src, each stop reads its path, and every 16th
    # the results of the last 16 (a read a result would be 4n reads)
    assert 2 * n <= reads <= 2 * n + 2 * n // 16 + 40, out.read_text()


def test_where_only_pokedata_writes_a_process_batches_after_128_records(
        progs: Progs, tmp_path: Path) -> None:
    """Each slot in use costs its trampoline's pokes there: one at a time
    first, then sixteen (as in gVisor; tests/record/test_record_tramp.py runs
    the same loop there)."""
    path = tmp_path / "plain"
    path.write_text("watched\n")
    trace = tmp_path / "t.jsonl"
    res = run_sysfake(["record", "-v", *PEEKPOKE, "-o", str(trace), "--watch", str(tmp_path),
                       "--", progs["tramp"], "loop", str(path), "watched", "300", "1"])
    assert (res.returncode, res.stdout) == (0, "loop ok\n"), describe(res)
    sizes = [int(n) for n in re.findall(r": results of (\d+) records read at once$",
                                        res.stderr, re.M)]
    assert sizes[:100] == [1] * 100 and sizes.count(16) >= 15, sizes
    evs = [json.loads(x) for x in trace.read_text().splitlines()]
    opens = [e for e in evs if e["type"] == "syscall" and e.get("path") == str(path)]
    assert len(opens) == 601 and all(e["result"] >= 0 for e in opens), len(opens)


KILLED = "i=0; while [ $i -lt N ]; do : </dev/null; i=$((i+1)); done; kill -9 $$"
# the killed shell's lines: its opens of /dev/null, all with results, then its exit
KILLED_COUNT = (
    "import json,sys\n"
    "ev=[json.loads(l) for l in open(sys.argv[1])]\n"
    "sh=next(e['pid'] for e in ev if e['type']=='exec')\n"
    "m=[e for e in ev if e.get('pid')==sh and e['type'] in ('syscall','exit')]\n"
    "o=[e for e in m if e['type']=='syscall' and e.get('path')=='/dev/null']\n"
    "print('opens', len(o), 'ok', all(e['result']>=0 for e in o), 'last', m[-1]['type'])\n")


def test_records_waiting_when_the_process_is_killed_are_written(tmp_path: Path) -> None:
    """SIGKILL still stops a thread at its exit (PTRACE_O_TRACEEXIT), while its
    memory is there: the results waiting are read then, before its exit line."""
    trace = tmp_path / "t.jsonl"
    res = run_sysfake(["record", "-v", "-o", str(trace), "--", "sh", "-c",
                       KILLED.replace("N", "40")])
    assert res.returncode == -9, describe(res)
    assert re.search(r": results of \d+ records read at once$", res.stderr, re.M), describe(res)
    count = subprocess.run([sys.executable, "-c", KILLED_COUNT, str(trace)],
                           capture_output=True, text=True, check=True)
    assert count.stdout == "opens 40 ok True last exit\n", count.stdout


def test_records_waiting_when_the_process_is_killed_are_written_in_gvisor(
        tmp_path: Path) -> None:
    # 200 opens: past the 128 read one at a time there
    trace = tmp_path / "t.jsonl"
    cmd = sysfake_cmd(["record", "-v", "-o", str(trace), "--", "sh", "-c",
                       KILLED.replace("N", "200")])
    rc, out = run_then_python_in_gvisor(cmd, KILLED_COUNT, str(trace))
    assert rc == 0, out[-2000:]
    assert "exit=137\nopens 200 ok True last exit\n" in out, out[-2000:]
    assert ": results of 16 records read at once" in out, out[-2000:]
