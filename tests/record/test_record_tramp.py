"""Record mode and rewrites that return through a trampoline (csrc/tramp.c):
the trampoline stores the call's result, and the record is written when the
thread next stops, with the time of the call. A thread's last call before it
exits must not be lost (a thread that armed a trampoline for a record stops
at its exit: PTRACE_O_TRACEEXIT), nor the calls before a fork (recorded
before the fork's own line). Processes that never arm one exit without a
stop."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from support import describe, run_sysfake, run_then_python_in_gvisor, sysfake_cmd
from support.progs import Progs

N = 40


def _events(trace: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in trace.read_text().splitlines()]


def _opens_of(evs: list[dict[str, Any]], src: str) -> list[dict[str, Any]]:
    return [e for e in evs if e.get("type") == "syscall" and e.get("path") == src]


def _record_run(tmp_path: Path, flags: list[str], cmd: list[str],
                stdout: str) -> tuple[list[dict[str, Any]], str]:
    """`sysfake record -v FLAGS -o TRACE -- CMD`: its events and log."""
    trace = tmp_path / "trace.jsonl"
    res = run_sysfake(["record", "-v", *flags, "-o", str(trace), "--", *cmd])
    assert (res.returncode, res.stdout) == (0, stdout), describe(res)
    return _events(trace), res.stderr


def _record_cmd(tmp_path: Path, text: str, cmd: list[str], extra: list[str],
                stdout: str) -> tuple[list[dict[str, Any]], str]:
    """`sysfake record -v` of cmd (where "SRC" stands for the redirected path,
    which reads TEXT, or leads nowhere for "-"): its events and log."""
    dst = tmp_path / "dst"
    if text != "-":
        dst.write_text(text + "\n")
    src = str(tmp_path / "src")
    return _record_run(tmp_path, [*extra, "--redirect", f"{src}={dst}"],
                   [a.replace("SRC", src) for a in cmd], stdout)


def _record(progs: Progs, tmp_path: Path, text: str, threads: int,
            extra: list[str]) -> tuple[list[dict[str, Any]], str]:
    return _record_cmd(tmp_path, text, [progs["tramp"], "loop", "SRC", text, str(N), str(threads)],
                       extra, "loop ok\n")


@pytest.mark.parametrize("threads", [1, 4])
def test_every_call_is_recorded_with_its_result_and_time(
        progs: Progs, tmp_path: Path, threads: int) -> None:
    evs, log = _record(progs, tmp_path, "redirected", threads, [])
    assert len(re.findall(r"returns through its trampoline$", log, re.M)) >= 30 * threads, log
    opens = _opens_of(evs, str(tmp_path / "src"))
    # each thread's N, the main thread's one, and the forked child's N (the
    # last ones right before exit)
    assert len(opens) == N * (threads + 1) + 1, [e["pid"] for e in opens]
    assert all(isinstance(e["result"], int) and e["result"] >= 0 and e["errno"] is None
               for e in opens), opens[:3]
    by_tid: dict[int, list[float]] = {}
    for e in opens:
        by_tid.setdefault(e["pid"], []).append(e["time"])
    assert len(by_tid) == threads + 2
    assert all(times == sorted(times) for times in by_tid.values())
    # the main thread's open right before its fork comes before the fork's
    # line in the trace, and the child's after it
    at = next(i for i, e in enumerate(evs) if e["type"] == "fork" and not e["thread"])
    fork = evs[at]
    main_opens = [i for i, e in enumerate(evs) if e in opens and e["pid"] == fork["pid"]]
    child_opens = [i for i, e in enumerate(evs) if e in opens and e["pid"] == fork["child"]]
    assert len(main_opens) == 1 and main_opens[0] < at < min(child_opens), (main_opens, at)


def test_failed_calls_are_recorded_with_their_errno(progs: Progs, tmp_path: Path) -> None:
    evs, log = _record(progs, tmp_path, "-", 1, [])
    assert "returns through its trampoline" in log, log
    opens = _opens_of(evs, str(tmp_path / "src"))
    assert len(opens) == 2 * N + 1
    assert {(e["result"], e["errno"]) for e in opens} == {(-2, "ENOENT")}, opens[:3]


def test_same_trace_without_trampolines(progs: Progs, tmp_path: Path) -> None:
    evs, log = _record(progs, tmp_path, "redirected", 2, ["--disable", "set_return"])
    assert "trampoline" not in log
    assert len(_opens_of(evs, str(tmp_path / "src"))) == N * 3 + 1


def test_every_call_is_recorded_in_gvisor(progs: Progs, tmp_path: Path) -> None:
    (tmp_path / "dst").write_text("redirected\n")
    src = str(tmp_path / "src")
    trace = tmp_path / "trace.jsonl"  # in the sandbox's overlay: counted there
    count = ("import json,sys\n"
             "ev=[json.loads(l) for l in open(sys.argv[1])]\n"
             "o=[e for e in ev if e.get('type')=='syscall' and e.get('path')==sys.argv[2]]\n"
             "print('opens', len(o), 'ok', all(e['result']>=0 for e in o))\n")
    cmd = sysfake_cmd(["record", "-v", "-o", str(trace), "--redirect",
                       f"{src}={tmp_path / 'dst'}", "--", progs["tramp"], "loop", src,
                       "redirected", "60", "2"])
    rc, out = run_then_python_in_gvisor(cmd, count, str(trace), src)
    assert rc == 0, out[-2000:]
    assert "exit=0\nopens 181 ok True\n" in out, out[-2000:]
    assert "returns through its trampoline" in out, out[-2000:]


def _record_watched(progs: Progs, tmp_path: Path, text: str, n: int, threads: int,
                    extra: list[str]) -> tuple[list[dict[str, Any]], str, str]:
    """`sysfake record -v --watch TMP` of `tramp loop` on a file that no rule
    names (TEXT "-": a missing one): its events, log and the file's path."""
    path = tmp_path / "plain"
    if text != "-":
        path.write_text(text + "\n")
    evs, log = _record_run(tmp_path, [*extra, "--watch", str(tmp_path)],
                           [progs["tramp"], "loop", str(path), text, str(n), str(threads)],
                           "loop ok\n")
    return evs, log, str(path)


def _summary(opens: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((e["syscall"], e["result"] >= 0, e["errno"], e["rule"]) for e in opens)


@pytest.mark.parametrize("text,threads", [("watched", 1), ("watched", 4), ("-", 2)])
def test_recorded_calls_no_rule_rewrites_return_through_a_trampoline(
        progs: Progs, tmp_path: Path, text: str, threads: int) -> None:
    """A watched open that nothing rewrites wants only its result: once the
    process has made enough of them it returns through a trampoline (one
    stop). tramp checks every argument register after each open; the trace
    holds what the two-stop way records."""
    evs, log, path = _record_watched(progs, tmp_path, text, N, threads, [])
    one = re.findall(r": recorded 257 returns through its trampoline$", log, re.M)
    # the main process's first 16 take the exit stop, the mapping and the
    # trampolines take a few more; the child's copy has them from the start
    assert len(one) >= N, log
    opens = _opens_of(evs, path)
    assert len(opens) == N * (threads + 1) + 1, [e["pid"] for e in opens]
    if text == "-":
        assert {(e["result"], e["errno"]) for e in opens} == {(-2, "ENOENT")}, opens[:3]
    else:
        assert all(e["result"] >= 0 and e["errno"] is None for e in opens), opens[:3]
    by_tid: dict[int, list[float]] = {}
    for e in opens:
        by_tid.setdefault(e["pid"], []).append(e["time"])
    assert len(by_tid) == threads + 2 and all(t == sorted(t) for t in by_tid.values())
    at = next(i for i, e in enumerate(evs) if e["type"] == "fork" and not e["thread"])
    child = [i for i, e in enumerate(evs) if e in opens and e["pid"] == evs[at]["child"]]
    assert len(child) == N and at < min(child)
    # the same records the exit stop gives
    (tmp_path / "trace.jsonl").unlink()
    two_evs, two_log, _ = _record_watched(progs, tmp_path, text, N, threads,
                                          ["--disable", "set_return"])
    assert "trampoline" not in two_log
    assert _summary(_opens_of(two_evs, path)) == _summary(opens)


def test_children_of_a_process_that_stops_at_exit_do_not(tmp_path: Path) -> None:
    """sh opens /dev/null itself for `:` (a builtin) 40 times: from the 20th
    or so its opens return through a trampoline, and its thread stops at exit
    so that its last record is not lost. The cats it forks inherit that
    option; they have no record pending and must not stop at exit."""
    trace = tmp_path / "trace.jsonl"
    script = "i=0; while [ $i -lt 40 ]; do : </dev/null; cat /dev/null; i=$((i+1)); done; echo ok"
    res = run_sysfake(["record", "-v", "-o", str(trace), "--", "sh", "-c", script])
    assert (res.returncode, res.stdout) == (0, "ok\n"), describe(res)
    assert re.search(r": recorded (2|257) returns through its trampoline$", res.stderr,
                     re.M), res.stderr
    stops = re.findall(r"^sysfake: (\d+): exit stop$", res.stderr, re.M)
    evs = _events(trace)
    sh = next(e["pid"] for e in evs if e["type"] == "exec")
    assert stops == [str(sh)], stops
    opens = [e for e in evs if e["type"] == "syscall" and e.get("path") == "/dev/null"]
    assert sorted({e["comm"] for e in opens}) == ["cat", "sh"]
    assert len(opens) == 80 and all(e["result"] >= 0 for e in opens), len(opens)


def test_recorded_calls_no_rule_rewrites_in_gvisor(progs: Progs, tmp_path: Path) -> None:
    """Where only POKEDATA writes, a process gets the mapping for its records
    after 16 exit stops, as on the host (each slot's trampoline is poked in
    at the slot's first use, not the whole page first): all but a few of
    the main process's 601 opens and its forked child's 300 use it."""
    path = tmp_path / "plain"
    path.write_text("watched\n")
    trace = tmp_path / "trace.jsonl"
    count = ("import json,sys\n"
             "ev=[json.loads(l) for l in open(sys.argv[1])]\n"
             "o=[e for e in ev if e.get('type')=='syscall' and e.get('path')==sys.argv[2]]\n"
             "print('opens', len(o), 'ok', all(e['result']>=0 for e in o))\n")
    cmd = sysfake_cmd(["record", "-v", "-o", str(trace), "--watch", str(tmp_path), "--",
                       progs["tramp"], "loop", str(path), "watched", "300", "2"])
    rc, out = run_then_python_in_gvisor(cmd, count, str(trace), str(path))
    assert rc == 0, out[-2000:]
    assert "exit=0\nopens 901 ok True\n" in out, out[-2000:]
    assert len(re.findall(r": recorded 257 returns through its trampoline", out)) >= 860, \
        out[-2000:]
    # their results read one at a time at first, then sixteen at once
    # (csrc/rec_batch.c: each slot in use costs its trampoline's pokes here)
    sizes = [int(n) for n in re.findall(r": results of (\d+) records read at once", out)]
    assert sizes[:100] == [1] * 100 and sizes.count(16) >= 15, sizes


def test_only_threads_with_a_pending_record_stop_at_exit(progs: Progs, tmp_path: Path) -> None:
    # each cat makes one redirected open: two stops, no trampoline, no exit stop
    evs, log = _record_cmd(tmp_path, "redirected", ["sh", "-c", "cat SRC; cat SRC; cat SRC"], [],
                           "redirected\n" * 3)
    assert ": exit stop" not in log, log
    assert len(_opens_of(evs, str(tmp_path / "src"))) == 3
    _, log = _record(progs, tmp_path, "redirected", 1, [])
    assert re.search(r": exit stop$", log, re.M), log


def test_a_thread_killed_by_another_threads_exit_group_keeps_its_last_call(
        progs: Progs, tmp_path: Path) -> None:
    evs, log = _record_cmd(tmp_path, "redirected",
                           [progs["tramp"], "groupexit", "SRC", "redirected", str(N)], [],
                           "groupexit ok\n")
    assert "returns through its trampoline" in log, log
    assert len(_opens_of(evs, str(tmp_path / "src"))) == N
