"""Exit status passthrough, death by signal, and signals sent to sysfake."""
from __future__ import annotations

import signal
from pathlib import Path

import pytest

from support import describe, run_sysfake, start_sysfake, wait_for_file
from support.fakes import CAP, CAP_TEXT, fake, run
from support.progs import Progs


@pytest.mark.parametrize("code", [0, 1, 7, 42, 255])
def test_exit_status_passthrough(code: int) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=["sh", "-c", f"cat {CAP}; exit {code}"]))
    assert (res.returncode, res.stdout) == (code, CAP_TEXT), describe(res)


def test_exit_status_of_grandchild_chain() -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=["sh", "-c", "sh -c 'exit 7'; exit $?"]))
    assert res.returncode == 7, describe(res)


@pytest.mark.parametrize("signum", [
    signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV, signal.SIGABRT, signal.SIGUSR1,
])
def test_killed_by_signal(progs: Progs, signum: signal.Signals) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[progs["sigself"], str(int(signum))]))
    assert res.returncode == -signum, describe(res)  # sysfake dies of it too


def test_killed_by_signal_static(progs: Progs) -> None:
    res = run_sysfake(run(cmd=[progs.static("sigself"), str(int(signal.SIGTERM))]))
    assert res.returncode == -signal.SIGTERM, describe(res)


def test_shell_kills_itself() -> None:
    res = run_sysfake(run(cmd=["sh", "-c", "echo before; kill -TERM $$; echo after"]))
    assert (res.returncode, res.stdout) == (-signal.SIGTERM, "before\n"), describe(res)


@pytest.mark.parametrize(("signum", "code"), [
    (signal.SIGINT, 42), (signal.SIGTERM, 43), (signal.SIGHUP, 44),
])
def test_signal_to_sysfake_reaches_command(tmp_path: Path, signum: signal.Signals,
                                           code: int) -> None:
    ready = tmp_path / "ready"
    name = signum.name[3:]
    script = (f"trap 'echo got {name}; exit {code}' {name}; "
              f"cat {CAP}; : > {ready}; while :; do sleep 0.1; done")
    proc = start_sysfake(run(fake(CAP, CAP_TEXT), cmd=["sh", "-c", script]))
    try:
        wait_for_file(ready, proc=proc)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (proc.returncode, out) == (code, f"{CAP_TEXT}got {name}\n"), err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_untrapped_signal_to_sysfake_ends_command(tmp_path: Path,
                                                  signum: signal.Signals) -> None:
    # The command dies of the forwarded signal, and sysfake of the same one.
    ready = tmp_path / "ready"
    proc = start_sysfake(run(cmd=["sh", "-c", f": > {ready}; exec sleep 1000"]))
    try:
        wait_for_file(ready, proc=proc)
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signum, err



def test_no_stuck_signals_quirk_on_the_host() -> None:
    """Linux stops a tracee for a signal sent while it was in a ptrace stop:
    no 20 ms interrupts here (gVisor: test_run_gvisor.py)."""
    res = run_sysfake(["doctor"])
    assert "\n  stuck_signals      no\n" in res.stdout, describe(res)
