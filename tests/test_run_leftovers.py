"""--orphans policies and nothing left traced, stopped or zombie.

The autouse fixture in conftest.py checks every test for leftovers; the
tests here additionally check explicitly right after sysfake returned.
"""
from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from support import describe, find_leftovers, run_sysfake, start_sysfake, wait_for_file
from support.fakes import CAP, CAP_TEXT, fake, run
from support.progs import Progs


def _assert_nothing_left(marker: str) -> None:
    # sysfake has exited: every process it started must be gone already
    # (re-parented zombies excepted, their new parent reaps them).
    left = [p for p in find_leftovers(os.getpid(), marker) if not p.state.startswith("Z")]
    assert not left, "\n".join(map(str, left))


def test_default_policy_kills_background_child(marker: str) -> None:
    res = run_sysfake(run(cmd=["sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo started"]))
    assert (res.returncode, res.stdout) == (0, "started\n"), describe(res)
    _assert_nothing_left(marker)


def test_kill_policy_keeps_main_status(marker: str) -> None:
    res = run_sysfake(run(["--orphans=kill"],
                          cmd=["sh", "-c", "sleep 1000 >/dev/null 2>&1 & exit 9"]))
    assert res.returncode == 9, describe(res)
    _assert_nothing_left(marker)


def test_kill_policy_sigkills_after_grace(marker: str) -> None:
    # The orphan ignores SIGTERM; SIGKILL must follow after --grace.
    script = "(trap '' TERM; exec sleep 1000) >/dev/null 2>&1 & echo started"
    res = run_sysfake(run(["--orphans=kill", "--grace", "1"], cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, "started\n"), describe(res)
    _assert_nothing_left(marker)


def test_kill_policy_on_traced_daemon(progs: Progs, tmp_path: Path, marker: str) -> None:
    # A setsid daemon that saw the fake, then ignores SIGTERM and sleeps forever.
    out = tmp_path / "daemon.out"
    res = run_sysfake(run(fake(CAP, CAP_TEXT), ["--grace", "1"],
                          cmd=[progs["daemon"], "-e", "-i", str(out), CAP]))
    assert res.returncode == 0, describe(res)
    assert re.fullmatch(r"daemon=\d+\n", res.stdout), describe(res)
    assert out.read_text() == CAP_TEXT
    _assert_nothing_left(marker)


def test_kill_policy_on_stopped_orphan(marker: str) -> None:
    script = "sleep 1000 >/dev/null 2>&1 & kill -STOP $!; echo stopped"
    res = run_sysfake(run(cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, "stopped\n"), describe(res)
    _assert_nothing_left(marker)


def test_wait_policy_waits_for_daemon(progs: Progs, tmp_path: Path, marker: str) -> None:
    out = tmp_path / "daemon.out"
    # -p $$: the daemon reads only after the shell (sysfake's command) is gone.
    script = f"{progs['daemon']} -p $$ {out} {CAP} >/dev/null; exit 5"
    res = run_sysfake(run(fake(CAP, CAP_TEXT), ["--orphans=wait"], cmd=["sh", "-c", script]))
    assert res.returncode == 5, describe(res)
    # sysfake returned only after the daemon wrote its result (through the fake).
    assert out.read_text() == CAP_TEXT
    _assert_nothing_left(marker)


def test_wait_policy_waits_for_background_child(tmp_path: Path, marker: str) -> None:
    done = tmp_path / "done"
    script = f"(sleep 1; cat {CAP} > {done}) >/dev/null 2>&1 & exit 0"
    res = run_sysfake(run(fake(CAP, CAP_TEXT), ["--orphans=wait"], cmd=["sh", "-c", script]))
    assert res.returncode == 0, describe(res)
    assert done.read_text() == CAP_TEXT
    _assert_nothing_left(marker)


def test_many_short_lived_children_leave_no_zombies(marker: str) -> None:
    script = f"for i in $(seq 100); do cat {CAP} >/dev/null & done; wait; echo done"
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, "done\n"), describe(res)
    _assert_nothing_left(marker)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_sysfake_cleans_whole_tree(progs: Progs, tmp_path: Path, marker: str,
                                             signum: signal.Signals) -> None:
    # A tree with a nested child and a setsid daemon; sysfake is signalled.
    ready = tmp_path / "ready"
    out = tmp_path / "daemon.out"
    script = (f"{progs['daemon']} -e {out} {CAP} >/dev/null; "
              f"sh -c 'sleep 1000' & : > {ready}; wait")
    proc = start_sysfake(run(fake(CAP, CAP_TEXT), ["--grace", "1"], cmd=["sh", "-c", script]))
    try:
        wait_for_file(ready, proc=proc)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signum, err
    assert out.read_text() == CAP_TEXT
    _assert_nothing_left(marker)


def test_no_tracer_left_on_survivors(progs: Progs, tmp_path: Path, marker: str) -> None:
    # Whatever sysfake did, nothing it started may still be attached to a
    # tracer or stopped once it has exited (checked for every process of the run).
    script = f"{progs['threads']} -b 32 {CAP} '{CAP_TEXT}'; sleep 1000 >/dev/null 2>&1 &"
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, "ok 32/32\n"), describe(res)
    for item in find_leftovers(os.getpid(), marker):
        assert item.tracer_pid == 0 and item.state[0] not in "tT", str(item)
    _assert_nothing_left(marker)
