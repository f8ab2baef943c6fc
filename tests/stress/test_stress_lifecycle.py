"""Lifecycle under stress: the command exits while its daemons live on
(--orphans=kill: SIGTERM, then SIGKILL after --grace; --orphans=wait), sysfake
itself is SIGKILLed (PTRACE_O_EXITKILL: every tracee dies, none is left in a
trace stop), and tracers meet tracers (strace/gdb under sysfake, sysfake
under strace): a clear error or a working run, never a hang.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from stress_support import (
    StressProgs,
    bad_states,
    children_of,
    marked_pids,
    proc_status,
    tids,
    wait_gone,
)

from support import child_env, describe, require, run_sysfake, start_sysfake, sysfake_cmd
from support.fakes import CAP, CAP_TEXT, fake, run

N_ORPHANS = 12


def _assert_nothing_left(marker: str) -> None:
    left = [p for p in marked_pids(marker)
            if not proc_status(p).get("State", "Z").startswith(("Z", "X"))]
    assert not left, "processes left:\n" + "\n".join(bad_states(left) or map(str, left))


def _timed(args: list[str], timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    res = run_sysfake(args, timeout=timeout)
    return res, time.monotonic() - t0


# ------------------------------------------------------------------ orphans
def test_kill_policy_many_daemons_term_respecting(marker: str) -> None:
    # Orphans that die on SIGTERM: sysfake returns without waiting for --grace.
    script = f"for i in $(seq {N_ORPHANS}); do (setsid sleep 1000 &) ; sleep 1000 & done; exit 3"
    res, took = _timed(run(["--grace", "10"], cmd=["sh", "-c", script]))
    assert res.returncode == 3, describe(res)
    assert took < 8, f"sysfake waited {took:.1f}s although every orphan obeyed SIGTERM"
    _assert_nothing_left(marker)


def test_kill_policy_term_ignoring_daemons_get_sigkill_after_grace(marker: str) -> None:
    grace = 1.5
    script = (f"for i in $(seq {N_ORPHANS}); do "
              "(trap '' TERM; exec setsid sh -c 'trap \"\" TERM; sleep 1000') & done; "
              "sleep 0.3; exit 0")
    res, took = _timed(run(["--grace", str(grace)], cmd=["sh", "-c", script]))
    assert res.returncode == 0, describe(res)
    assert grace - 0.2 <= took < grace + 6, f"took {took:.1f}s with --grace {grace}"
    _assert_nothing_left(marker)


def test_kill_policy_stopped_and_traced_daemons(sprogs: StressProgs, tmp_path: Path,
                                                marker: str) -> None:
    # A tree of stopped processes, threads blocked in read() and in trapped
    # syscalls, and a setsid grandchild daemon; the command exits under it.
    ready = tmp_path / "ready"
    script = (f"{sprogs['hammer']} tree {CAP} '{CAP_TEXT}' {ready} & "
              f"while [ ! -e {ready} ]; do sleep 0.05; done; exit 4")
    res, took = _timed(run(fake(CAP, CAP_TEXT), ["--grace", "1"], cmd=["sh", "-c", script]))
    assert res.returncode == 4, describe(res)
    assert took < 15
    _assert_nothing_left(marker)


def test_wait_policy_waits_for_staggered_daemons(tmp_path: Path, marker: str) -> None:
    outs = [tmp_path / f"out{i}" for i in range(N_ORPHANS)]
    script = "; ".join(
        f"(setsid sh -c 'sleep {0.1 * i:.1f}; cat {CAP} > {o}' &)" for i, o in enumerate(outs)
    ) + "; exit 6"
    res, took = _timed(run(fake(CAP, CAP_TEXT), ["--orphans=wait"], cmd=["sh", "-c", script]))
    assert res.returncode == 6, describe(res)
    # returned only after the last daemon wrote its file through the fake
    assert [o.read_text() if o.exists() else None for o in outs] == [CAP_TEXT] * N_ORPHANS
    assert took >= 0.1 * (N_ORPHANS - 1)
    _assert_nothing_left(marker)


# ---------------------------------------------------------- SIGKILL sysfake
def test_sigkill_sysfake_kills_every_tracee(sprogs: StressProgs, tmp_path: Path,
                                            marker: str) -> None:
    ready = tmp_path / "ready"
    proc = start_sysfake(run(fake(CAP, CAP_TEXT),
                             cmd=[sprogs["hammer"], "tree", CAP, CAP_TEXT, str(ready)]))
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None, describe(subprocess.CompletedProcess(
                proc.args, proc.returncode, *proc.communicate()))
            assert time.monotonic() < deadline, "tree did not get ready"
            time.sleep(0.05)
        pids = set(marked_pids(marker)) | set(children_of(proc.pid))
        pids.discard(proc.pid)
        threads = sum(len(tids(p)) for p in pids)
        assert len(pids) >= 6 and threads >= 15, (pids, threads)
        # all of them are traced by sysfake right now
        traced = [p for p in pids if proc_status(p).get("TracerPid") == str(proc.pid)]
        assert len(traced) == len(pids), bad_states(pids)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    alive = wait_gone(pids, timeout=10)
    # none alive; and while they die none may sit in a trace stop or keep a tracer
    assert not alive, "tracees survived sysfake's death:\n" + "\n".join(bad_states(alive))
    leftovers = [p for p in marked_pids(marker)
                 if not proc_status(p).get("State", "Z").startswith(("Z", "X"))]
    assert not leftovers, bad_states(leftovers)


# ------------------------------------------------------- tracers and tracers
def _nested(args: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    try:
        return run_sysfake(args, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang: {args} did not finish in {timeout}s")


def _works_or_clear_error(res: subprocess.CompletedProcess[str], expect_out: str) -> None:
    if res.returncode == 0 and expect_out in res.stdout:
        return
    err = res.stderr.lower()
    assert res.returncode != 0 and "ptrace" in err and "not permitted" in err, describe(res)


def test_strace_under_sysfake(marker: str) -> None:
    strace = require("strace")
    res = _nested(run(fake(CAP, CAP_TEXT), cmd=[strace, "-f", "-o", "/dev/null", "cat", CAP]))
    _works_or_clear_error(res, CAP_TEXT)
    _assert_nothing_left(marker)


def test_strace_attach_to_tracee_under_sysfake(marker: str) -> None:
    # strace -p on a process sysfake already traces: EPERM, no hang.
    strace = require("strace")
    script = f"sleep 30 & {strace} -o /dev/null -p $! ; echo rc=$?; kill $!"
    res = _nested(run(fake(CAP, CAP_TEXT), cmd=["sh", "-c", script]))
    assert "rc=1" in res.stdout and "not permitted" in res.stderr.lower(), describe(res)
    _assert_nothing_left(marker)


def test_gdb_under_sysfake(marker: str) -> None:
    gdb = require("gdb")
    res = _nested(run(fake(CAP, CAP_TEXT),
                      cmd=[gdb, "-q", "-nx", "-batch", "-ex", "run", "--args", "cat", CAP]))
    # gdb reports "ptrace: Operation not permitted" and exits 0 itself
    out = (res.stdout + res.stderr).lower()
    assert CAP_TEXT in res.stdout or ("ptrace" in out and "not permitted" in out), describe(res)
    _assert_nothing_left(marker)


def test_tracee_calling_ptrace_traceme(marker: str) -> None:
    # strace without -f still calls PTRACE_TRACEME in its child
    strace = require("strace")
    res = _nested(run(fake(CAP, CAP_TEXT), cmd=[strace, "-o", "/dev/null", "true"]))
    _works_or_clear_error(res, "")
    _assert_nothing_left(marker)


@pytest.mark.parametrize("follow", [True, False])
def test_sysfake_under_strace(follow: bool, marker: str) -> None:
    # With -f strace traces sysfake's child first: sysfake's PTRACE_SEIZE fails
    # and it must say so; without -f sysfake works.
    strace = require("strace")
    argv = [strace, *(["-f"] if follow else []), "-o", "/dev/null",
            *sysfake_cmd(run(fake(CAP, CAP_TEXT), cmd=["cat", CAP]))]
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                             env=child_env(), stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang: {argv}")
    if follow:
        assert res.returncode == 2 and "ptrace" in res.stderr.lower() \
            and "not permitted" in res.stderr.lower(), describe(res)
    else:
        assert (res.returncode, res.stdout) == (0, CAP_TEXT), describe(res)
    _assert_nothing_left(marker)
