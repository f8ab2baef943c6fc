"""Signals reach tracees inside gVisor (docs/safety.md).

gVisor leaves a signal sent to a tracee that sits in a ptrace stop pending,
and resuming the stop does not look at it: a tracee that then blocks, or
keeps stopping, never gets it. sysfake toggles the mask of a tracee a signal
may have reached before resuming it (csrc/sig_wake.c). Each case below makes
the stop long (a delay rule holds the tracee at its `open` for a second) and
sends the signal inside it, so without the cure the signal is lost for sure;
one case shows that with `--disable stuck_signals`."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from support import require, run_in_gvisor, sysfake_cmd
from support.fakes import fake

pytestmark = pytest.mark.gvisor

SLOW = "/sfk-slow"  # opens of it wait a second at their stop (RULES)
RULES = f"""version: 1
rules:
  - syscall: openat
    path: {SLOW}
    delay: 1s
"""

# The parent, a tracee, sends SIGTERM while its child sits in the slow open;
# then the child blocks reading a pipe nobody writes to.
KILL_THEN_BLOCK = f'''
import os, signal, sys, time
r, w = os.pipe()
hold_r, hold_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(w, b"r")
    try:
        os.open("{SLOW}", os.O_RDONLY)
    except OSError:
        pass
    os.read(hold_r, 1)
    os._exit(0)
os.read(r, 1)
time.sleep(0.3)
os.kill(pid, signal.SIGTERM)
t0 = time.monotonic()
while os.waitpid(pid, os.WNOHANG) == (0, 0):
    if time.monotonic() - t0 > 6:
        print("SIGTERM lost")
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        sys.exit(1)
    time.sleep(0.01)
print("SIGTERM delivered")
'''

# A child exits while its parent sits in the slow open; the parent's
# SIGCHLD handler must run when the open returns, not at the next interrupt
# (the sleeps make no call that stops).
SIGCHLD_IN_STOP = f'''
import os, signal, time
got = []
signal.signal(signal.SIGCHLD, lambda *a: got.append(1))
if os.fork() == 0:
    time.sleep(0.3)
    os._exit(0)
try:
    os.open("{SLOW}", os.O_RDONLY)
except OSError:
    pass
t0 = time.monotonic()
while not got and time.monotonic() - t0 < 5:
    time.sleep(0.01)
print("SIGCHLD", "in time" if got else "lost")
'''

# Writes its pid where the sandbox's shell (outside sysfake's tree) reads
# it, then sits in the slow open, then sleeps.
SLOW_THEN_SLEEP = f'''
import os, sys, time
with open(sys.argv[1], "w") as f:
    f.write(str(os.getpid()))
try:
    os.open("{SLOW}", os.O_RDONLY)
except OSError:
    pass
time.sleep(60)
print("slept")
'''

# Fork many children busy with trapped opens and SIGTERM each at a random
# moment: a third were lost before.
SIGRACE = '''
import os, random, signal, sys, time
random.seed(1)
lost = 0
for i in range(int(sys.argv[1])):
    pid = os.fork()
    if pid == 0:
        while True:
            os.close(os.open("/proc/sys/kernel/sfk_busy", os.O_RDONLY))
    time.sleep(random.random() * 0.05)
    os.kill(pid, signal.SIGTERM)
    t0 = time.monotonic()
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() - t0 > 3:
            lost += 1
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            break
        time.sleep(0.01)
print("lost", lost)
'''

POOL = '''
import multiprocessing as mp
if __name__ == "__main__":
    for _ in range(3):
        with mp.get_context("spawn").Pool(2) as p:
            print(p.map(abs, [-1, -2, -3]))
'''


# Sends N signals of one kind to itself: signal 0 (a check), SIGURG (what
# Go preempts with, hundreds a second), SIGUSR1.
SENDS = '''
import os, signal, sys, threading
signal.signal(signal.SIGUSR1, lambda *a: None)
what, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    if what == "check":
        os.kill(os.getpid(), 0)
    elif what == "urg":
        signal.pthread_kill(threading.main_thread().ident, signal.SIGURG)
    else:
        os.kill(os.getpid(), signal.SIGUSR1)
'''


def _scripts(tmp_path: Path, **scripts: str) -> dict[str, str]:
    paths = {}
    for name, text in scripts.items():
        p = tmp_path / f"{name}.py"
        p.write_text(text)
        paths[name] = str(p)
    return paths


def test_signals_sent_in_a_stop_are_delivered(tmp_path: Path) -> None:
    rules = tmp_path / "slow.yaml"
    rules.write_text(RULES)
    s = _scripts(tmp_path, kill=KILL_THEN_BLOCK, chld=SIGCHLD_IN_STOP, sleep=SLOW_THEN_SLEEP)
    py = sys.executable

    def sf(*opts: str, cmd: list[str]) -> str:
        return shlex.join(sysfake_cmd(["run", "--rules", str(rules), *opts, "--", *cmd]))

    pidfile = "/tmp/sfk-pid"  # the sandbox's own /tmp
    script = "\n".join([
        # a tracee's kill, then the receiver blocks
        sf(cmd=[py, s["kill"]]) + "; echo kill=$?",
        # the same with the cure off: the signal waits for good
        sf("--disable", "stuck_signals", cmd=[py, s["kill"]]) + "; echo kill-off=$?",
        # a child's exit: the parent's SIGCHLD
        sf(cmd=[py, s["chld"]]) + "; echo chld=$?",
        # a sender outside the tree (this shell), then the receiver sleeps
        f"rm -f {pidfile}; " + sf(cmd=[py, s["sleep"], pidfile]) + " & sf=$!",
        f"while [ ! -s {pidfile} ]; do sleep 0.05; done; sleep 0.3; kill -TERM $(cat {pidfile})",
        "wait $sf; echo outside=$?",
        # SIGTERM to sysfake, which passes it on to the command
        f"rm -f {pidfile}; " + sf(cmd=[py, s["sleep"], pidfile]) + " & sf=$!",
        f"while [ ! -s {pidfile} ]; do sleep 0.05; done; sleep 0.3; kill -TERM $sf",
        "wait $sf; echo forwarded=$?",
    ])
    rc, out = run_in_gvisor(["sh", "-c", script], timeout=200)
    assert (rc, out.splitlines()) == (0, [
        "SIGTERM delivered", "kill=0",
        "SIGTERM lost", "kill-off=1",
        "SIGCHLD in time", "chld=0",
        "Terminated", "outside=143",  # sh tells of a job a signal ended
        "Terminated", "forwarded=143",
    ]), out


def test_signals_reach_busy_tracees(tmp_path: Path) -> None:
    """Children busy with trapped opens, each sent SIGTERM at a random
    moment, and a spawn Pool's terminate(), which hung before."""
    s = _scripts(tmp_path, race=SIGRACE, pool=POOL)
    busy = fake("/proc/sys/kernel/sfk_busy", "1\n")
    script = "; ".join([
        shlex.join(sysfake_cmd(["run", *busy, "--", sys.executable, s["race"], "20"])),
        shlex.join(sysfake_cmd(["run", *busy, "--", sys.executable, s["pool"]])) + "; echo pool=$?",
    ])
    rc, out = run_in_gvisor(["sh", "-c", script], timeout=200)
    assert (rc, out.splitlines()) == (0, ["lost 0", *["[1, 2, 3]"] * 3, "pool=0"]), out


def test_which_signal_calls_stop(tmp_path: Path) -> None:
    """Only a call that sends a real signal stops for the receivers' sake,
    and it takes three stops (seccomp, entry, exit) on top of the signal's
    own delivery stop; signal 0 and SIGURG are let through by the filter,
    so a Go program's preemption signals cost only their delivery stop.
    Counted as the tracer's own wait4 calls, one a stop, under strace
    (tests/test_run_signals.py: on Linux no such call stops)."""
    s = _scripts(tmp_path, sends=SENDS)
    strace = require("strace")
    lines = []
    for label, what, n in [("none", "check", 0), ("check", "check", 200),
                           ("urg", "urg", 200), ("usr1", "usr1", 200)]:
        run = sysfake_cmd(["run", "--backend=c", "--redirect", "/sfk-none=/tmp", "--",
                           sys.executable, s["sends"], what, str(n)])
        traced = [strace, "-qq", "-o", "/tmp/st", "-e", "signal=none", "-e", "trace=wait4", *run]
        lines.append(f"{shlex.join(traced)}; echo {label} $(grep -c 'wait4(' /tmp/st)")
    rc, out = run_in_gvisor(["sh", "-c", "; ".join(lines)], timeout=200)
    assert rc == 0, out
    waits = {k: int(v) for k, v in (line.split() for line in out.splitlines())}
    more = {k: waits[k] - waits["none"] for k in ("check", "urg", "usr1")}
    assert more["check"] < 50, waits  # no stop
    assert 150 < more["urg"] < 260, waits  # the delivery stop only
    assert more["usr1"] > 700, waits  # four stops each
