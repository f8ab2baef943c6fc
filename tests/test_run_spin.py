"""The tracer polls for the next stop before it sleeps in waitpid
(csrc/spin.c), where the probe finds that worth it: more than one CPU to
run on and a poll much cheaper than a wake-up (not in gVisor, where every
waitpid is a trip through the sandbox). After a poll that found nothing it
sleeps at once for the next 1, 2, 4 .. 64 waits, so a program that runs
long between its stops is not polled for at each one."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from support import child_env, describe, run_in_gvisor, run_sysfake, sysfake_cmd
from support.progs import Progs
from sysfake.environment import is_gvisor

SPIN_YES = "\n  spin               yes\n"
SPIN_NO = "\n  spin               no\n"


def two_cpus() -> None:
    if is_gvisor():
        pytest.skip("the host itself looks like gVisor")
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("this test runs on one CPU")


def polls(stderr: str) -> tuple[int, int, int] | None:
    """What the polls found, from the verbose log's last line: (polls that
    found a stop, polls that found none, waits that slept at once)."""
    m = re.search(r"^sysfake: polls: (\d+) found a stop, (\d+) found none, "
                  r"(\d+) waits slept at once$", stderr, re.M)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def test_probe_finds_it_with_two_cpus_and_not_with_one() -> None:
    two_cpus()
    res = run_sysfake(["doctor"])
    assert SPIN_YES in res.stdout, describe(res)
    one = min(os.sched_getaffinity(0))
    res = subprocess.run(sysfake_cmd(["doctor"]), capture_output=True, text=True,
                         env=child_env(), stdin=subprocess.DEVNULL, timeout=120, check=False,
                         preexec_fn=lambda: os.sched_setaffinity(0, {one}))
    assert res.returncode == 0 and SPIN_NO in res.stdout, describe(res)


def _statpace(progs: Progs, tmp_path: Path, n: int, busy_us: int, *flags: str
              ) -> tuple[int, int, int] | None:
    dst = tmp_path / "dst"
    dst.write_text("x\n")
    res = run_sysfake(["run", "-v", "--redirect", f"{tmp_path / 'src'}={dst}", *flags, "--",
                       progs["statpace"], str(tmp_path / "src"), str(n), str(busy_us)])
    assert (res.returncode, res.stdout) == (0, f"statpace: {n} of {n} found\n"), describe(res)
    return polls(res.stderr)


def test_the_tracer_polls_before_it_sleeps(progs: Progs, tmp_path: Path) -> None:
    """300 stops in a row, each right after the last: most are found by a
    poll. (Under strace the tracer's polls are not cheap, and the probe
    turns them off: hence the verbose log.)"""
    two_cpus()
    counts = _statpace(progs, tmp_path, 300, 0)
    assert counts and counts[0] >= 150, counts
    assert _statpace(progs, tmp_path, 300, 0, "--disable", "spin") is None


def test_a_program_that_runs_long_between_stops_is_seldom_polled_for(
        progs: Progs, tmp_path: Path) -> None:
    """400 stops, 300 us apart: longer than the tracer polls (50 us). Polling
    at each would find nothing 400 times; backing off, about 6 + 400 / 64."""
    two_cpus()
    counts = _statpace(progs, tmp_path, 400, 300)
    assert counts and counts[1] < 40 and counts[2] > 300, counts


@pytest.mark.gvisor
def test_gvisor_does_not_poll() -> None:
    """A waitpid in gVisor costs about what a wake-up does (40 us)."""
    script = f"{' '.join(sysfake_cmd(['doctor']))} | grep spin"
    rc, out = run_in_gvisor(["sh", "-c", script])
    assert (rc, out) == (0, SPIN_NO.lstrip("\n")), out
