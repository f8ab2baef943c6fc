"""Signal storms against tracees: SIGSTOP/SIGCONT at random, kill -9 of random
tracees (including short-lived children between fork and exit, so the tracer
meets ESRCH at every step), and the tracer must neither hang nor leave
anything traced, stopped or zombie.
"""
from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from stress_support import StressProgs, bad_states, children_of, marked_pids, scale

from support import describe, start_sysfake, wait_for_file
from support.fakes import CAP, CAP_TEXT, fake, run

SPIN_SECONDS = 6.0
STORM_SECONDS = 3.0
FINISH_SECONDS = 20.0


def _start_spin(sprogs: StressProgs, tmp_path: Path, forks: int) -> tuple[subprocess.Popen[str],
                                                                             int]:
    ready = tmp_path / "ready"
    seconds = SPIN_SECONDS * max(1.0, scale())
    proc = start_sysfake(run(fake(CAP, CAP_TEXT),
                             cmd=[sprogs.static("hammer"), "spin", CAP, CAP_TEXT, str(seconds),
                                  str(forks), str(ready)]))
    wait_for_file(ready, proc=proc)
    kids = children_of(proc.pid)
    assert kids, "no tracee found"
    main = min(kids)  # the command itself: the first child sysfake forked
    return proc, main


def _finish(proc: subprocess.Popen[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        state = bad_states(children_of(proc.pid))
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"sysfake did not finish within {timeout}s (hang); tracees:\n"
                    + "\n".join(state) + f"\nstderr: {err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _cont_until_done(proc: subprocess.Popen[str], seconds: float) -> None:
    """SIGCONT every tracee until sysfake exits; the workload ends SPIN_SECONDS
    after it started, so `seconds` more is plenty unless something hangs."""
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        for pid in children_of(proc.pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGCONT)
        time.sleep(0.2)


def _assert_clean(marker: str) -> None:
    left = marked_pids(marker)
    assert not bad_states(left), bad_states(left)
    assert not left, f"processes left after sysfake returned: {left}"


def test_sigstop_sigcont_storm(sprogs: StressProgs, tmp_path: Path, marker: str) -> None:
    rnd = random.Random(1)
    proc, _ = _start_spin(sprogs, tmp_path, forks=4)
    end = time.monotonic() + STORM_SECONDS * max(1.0, scale())
    sent = 0
    while time.monotonic() < end:
        victims = children_of(proc.pid)
        if not victims:
            break
        pid = rnd.choice(victims)
        with contextlib.suppress(OSError):
            os.kill(pid, rnd.choice([signal.SIGSTOP, signal.SIGCONT, signal.SIGSTOP,
                                     signal.SIGTSTP]))
            sent += 1
        time.sleep(rnd.random() * 0.004)
    for pid in children_of(proc.pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGCONT)
    # stopped processes must be resumable: keep sending SIGCONT while it finishes
    _cont_until_done(proc, FINISH_SECONDS)
    res = _finish(proc, timeout=5)
    assert sent > 100
    assert (res.returncode, res.stdout) == (0, "ok killed=0\n"), describe(res)
    _assert_clean(marker)


def test_kill9_random_tracees(sprogs: StressProgs, tmp_path: Path, marker: str) -> None:
    rnd = random.Random(2)
    proc, main = _start_spin(sprogs, tmp_path, forks=12)
    end = time.monotonic() + STORM_SECONDS * max(1.0, scale())
    killed = 0
    while time.monotonic() < end:
        victims = [p for p in children_of(proc.pid) if p != main]
        if victims:
            with contextlib.suppress(OSError):
                os.kill(rnd.choice(victims), signal.SIGKILL)
                killed += 1
        time.sleep(rnd.random() * 0.05)
    res = _finish(proc, timeout=60 * max(1.0, scale()))
    assert killed > 10
    assert res.returncode == 0 and res.stdout.startswith("ok killed="), describe(res)
    _assert_clean(marker)


def test_kill9_storm_then_sigstop_mix(sprogs: StressProgs, tmp_path: Path, marker: str) -> None:
    # SIGSTOP a process, then kill it while it is stopped (group-stop under
    # PTRACE_LISTEN), and SIGKILL processes mid-fork.
    rnd = random.Random(3)
    proc, main = _start_spin(sprogs, tmp_path, forks=8)
    end = time.monotonic() + STORM_SECONDS * max(1.0, scale())
    while time.monotonic() < end:
        victims = [p for p in children_of(proc.pid) if p != main]
        if victims:
            pid = rnd.choice(victims)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
                time.sleep(rnd.random() * 0.01)
                os.kill(pid, rnd.choice([signal.SIGKILL, signal.SIGCONT]))
        time.sleep(rnd.random() * 0.02)
    _cont_until_done(proc, FINISH_SECONDS)
    res = _finish(proc, timeout=5)
    assert res.returncode == 0 and res.stdout.startswith("ok killed="), describe(res)
    _assert_clean(marker)
