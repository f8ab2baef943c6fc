"""Exit status passthrough, death by signal, and signals sent to sysfake."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from support import describe, run_sysfake, start_sysfake, traced_tracer, wait_for_file
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
    no mask toggles here (gVisor: test_run_gvisor_signals.py)."""
    res = run_sysfake(["doctor"])
    assert "\n  stuck_signals      no\n" in res.stdout, describe(res)


def test_sending_a_signal_does_not_stop_on_the_host(tmp_path: Path) -> None:
    """Without the quirk no signal-sending call is trapped: 200 kills cost
    only their 200 delivery stops (in gVisor, four stops each:
    test_run_gvisor_signals.py). Counted as the tracer's wait4 calls."""
    prog = tmp_path / "sends.py"
    prog.write_text("import os, signal, sys\n"
                    "signal.signal(signal.SIGUSR1, lambda *a: None)\n"
                    "for _ in range(int(sys.argv[1])):\n"
                    "    os.kill(os.getpid(), signal.SIGUSR1)\n")
    waits = []
    for n in (0, 200):
        res, log = traced_tracer(tmp_path, ["run", "--redirect", "/sfk-none=/tmp", "--",
                                            sys.executable, str(prog), str(n)], "wait4")
        assert res.returncode == 0, describe(res)
        waits.append(log.count("wait4("))
    assert 180 < waits[1] - waits[0] < 260, waits
