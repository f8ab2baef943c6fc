"""Threads under pressure: 1,000 threads open a faked file at the same moment,
threads exit (pthread_exit, exit_group) while their siblings are inside
trapped syscalls, and a thread execs while its siblings block in read().

Every run is bounded by a timeout: a hang is a failure.
"""
from __future__ import annotations

import time

import pytest
from stress_support import StressProgs, scale, scaled

from support import describe, run_sysfake
from support.fakes import CAP, CAP_TEXT, VIRT, VIRT_TEXT, fake, run
from support.progs import Progs


def test_thousand_threads_open_faked_files_at_once(progs: Progs) -> None:
    # tests/progs/threads.c: all threads wait on a pthread barrier, then open().
    n = scaled(1000)
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), fake(CAP, CAP_TEXT),
                          cmd=[progs["threads"], "-b", "-r", "2", str(n), VIRT, VIRT_TEXT]),
                      timeout=120)
    assert (res.returncode, res.stdout) == (0, f"ok {n}/{n}\n"), describe(res)


# More threads than the tracer's 256 scratch slots per address space: the
# rest wait for a free slot (skipped, rewound and resumed when one is freed),
# never reaching the kernel with the original path. Each way of stopping.
MECHS = {"default": [], "exit-stop-replay": ["--disable", "skip_at_seccomp"],
         "ptrace-syscall": ["--disable", "seccomp"]}


@pytest.mark.parametrize("mech", list(MECHS))
def test_thousand_threads_static(progs: Progs, mech: str) -> None:
    n = scaled(1000)
    res = run_sysfake(run(MECHS[mech], fake(CAP, CAP_TEXT),
                          cmd=[progs.static("threads"), "-b", str(n), CAP, CAP_TEXT]),
                      timeout=120)
    assert (res.returncode, res.stdout) == (0, f"ok {n}/{n}\n"), describe(res)


def test_exit_group_while_siblings_mid_syscall_8_threads(sprogs: StressProgs) -> None:
    # ~0.1 s a round untraced; it took 1-8 s a round traced while waitpid
    # results were handled one at a time (see below).
    rounds = scaled(5)
    res = run_sysfake(run(fake(CAP, CAP_TEXT),
                          cmd=[sprogs.static("hammer"), "exitrace", str(rounds), "8", CAP,
                               CAP_TEXT]), timeout=60 * max(1.0, scale()))
    assert (res.returncode, res.stdout) == (0, f"ok {rounds}\n"), describe(res)


def test_exit_group_while_siblings_mid_syscall_32_threads(sprogs: StressProgs) -> None:
    # Untraced this takes ~0.25 s a round. waitpid(-1) returns the newest
    # tracees first (the kernel lists tracees newest first): a tracer that
    # handles one result at a time starves the main thread's clone event
    # behind 31 looping threads. The core drains every ready stop before
    # handling any. Bound: 20 s for 8 rounds.
    rounds = scaled(8)
    t0 = time.monotonic()
    res = run_sysfake(run(fake(CAP, CAP_TEXT),
                          cmd=[sprogs.static("hammer"), "exitrace", str(rounds), "32", CAP,
                               CAP_TEXT]), timeout=20 * max(1.0, scale()))
    assert (res.returncode, res.stdout) == (0, f"ok {rounds}\n"), describe(res)
    assert time.monotonic() - t0 < 20 * max(1.0, scale())


def test_exec_from_thread_while_siblings_block_in_read(sprogs: StressProgs) -> None:
    rounds = scaled(30)
    h = sprogs.static("hammer")
    res = run_sysfake(run(fake(CAP, CAP_TEXT),
                          cmd=[h, "execthread", str(rounds), CAP, CAP_TEXT, h]), timeout=90)
    assert (res.returncode, res.stdout) == (0, f"ok {rounds}\n"), describe(res)


def test_exec_from_thread_dynamic(sprogs: StressProgs) -> None:
    rounds = scaled(10)
    h = sprogs["hammer"]
    res = run_sysfake(run(fake(CAP, CAP_TEXT),
                          cmd=[h, "execthread", str(rounds), CAP, CAP_TEXT, h]), timeout=90)
    assert (res.returncode, res.stdout) == (0, f"ok {rounds}\n"), describe(res)
