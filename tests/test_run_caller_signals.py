"""What the command inherits of its caller's signals, and how sysfake ends.

Untraced, a command keeps the signals its caller ignores (nohup, `trap ''`)
and the caller's blocked mask; a command killed by a signal is seen killed by
it. Each way of starting the tracer is checked: `run` (the C launcher),
`run` with the core inside Python, `record`, `--backend python`, and a
compiled `sysfake-exec`."""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support import (
    child_env,
    describe,
    run_in_gvisor,
    start_sysfake,
    sysfake_cmd,
    wait_for_file,
    without_launcher,
)

# Which tracer starts the command: argv before it, and the child environment.
Way = tuple[list[str], dict[str, str]]

WAYS = ["run", "run-in-python", "record", "backend-python", "compiled"]


@pytest.fixture(params=WAYS)
def way(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Way]:
    kind = request.param
    env = child_env()
    rule = ["--hide", "/nonexistent"]  # a rule, so no profile (the copy has none)
    if kind == "run":
        yield sysfake_cmd(["run", *rule, "--"]), env
    elif kind == "run-in-python":
        yield sysfake_cmd(["run", *rule, "--"]), without_launcher(tmp_path)
    elif kind == "record":
        yield sysfake_cmd(["record", "-o", str(tmp_path / "t.jsonl"), *rule, "--"]), env
    elif kind == "backend-python":
        yield sysfake_cmd(["run", "--backend", "python", *rule, "--"]), env
    else:
        out = tmp_path / "compiled"
        res = subprocess.run(sysfake_cmd(["compile", *rule, "-o", str(out)]),
                             capture_output=True, text=True, env=env, timeout=60)
        assert res.returncode == 0, describe(res)
        yield [str(out / "sysfake-exec"), "--"], env


def _status_field(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split()[1]
    raise AssertionError(f"no {name} in {text!r}")


def _in_bash(prelude: str, argv: list[str], env: dict[str, str],
             preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", f'{prelude}; exec "$@"', "bash", *argv],
                          capture_output=True, text=True, env=env, timeout=60,
                          preexec_fn=preexec)


def _signal_when_ready(proc: subprocess.Popen[str], ready: Path,
                       send: Callable[[subprocess.Popen[str]], None]) -> tuple[int, str, str]:
    """Once the command made `ready`, send(proc) a signal; then (status, out, err).
    Whatever is left is killed."""
    try:
        wait_for_file(ready, proc=proc)
        send(proc)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc.returncode, out, err


IGNORED = "trap '' HUP INT QUIT USR1 USR2 TERM ALRM"
GREP = ["grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"]


def test_ignored_signals_stay_ignored(way: Way) -> None:
    pre, env = way
    plain = _in_bash(IGNORED, GREP, env)
    traced = _in_bash(IGNORED, [*pre, *GREP], env)
    assert traced.returncode == 0, describe(traced)
    want = _status_field(plain.stdout, "SigIgn")
    assert int(want, 16) != 0
    assert _status_field(traced.stdout, "SigIgn") == want, describe(traced)


def _block_usr1_and_alrm() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGALRM})


def test_blocked_mask_is_the_callers(way: Way) -> None:
    pre, env = way
    plain = _in_bash(":", GREP, env, _block_usr1_and_alrm)
    traced = _in_bash(":", [*pre, *GREP], env, _block_usr1_and_alrm)
    assert traced.returncode == 0, describe(traced)
    want = _status_field(plain.stdout, "SigBlk")
    assert int(want, 16) == (1 << (signal.SIGUSR1 - 1)) | (1 << (signal.SIGALRM - 1))
    assert _status_field(traced.stdout, "SigBlk") == want, describe(traced)


def test_an_ignored_signal_does_not_kill_the_command(way: Way) -> None:
    pre, env = way
    res = _in_bash("trap '' INT", [*pre, "sh", "-c", "kill -INT $$; echo survived"], env)
    assert (res.returncode, res.stdout) == (0, "survived\n"), describe(res)


def test_sigpipe_ignored_by_the_caller(way: Way) -> None:
    """Python ignores SIGPIPE itself, so what its caller had is lost: Python's
    ways give the command the default, as subprocess does; sysfake-exec, in
    C from the start, keeps the caller's."""
    pre, env = way
    res = _in_bash("trap '' PIPE", [*pre, *GREP], env)
    ignored = int(_status_field(res.stdout, "SigIgn"), 16) & (1 << (signal.SIGPIPE - 1))
    assert bool(ignored) == pre[0].endswith("sysfake-exec"), describe(res)


def test_killed_by_a_signal_is_seen_killed_by_it(way: Way, tmp_path: Path) -> None:
    pre, env = way
    res = subprocess.run([*pre, "sh", "-c", "kill -USR1 $$"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert res.returncode == -signal.SIGUSR1, describe(res)
    trace = tmp_path / "t.jsonl"
    if "record" in pre:  # the trace keeps a shell's view of it
        end = json.loads(trace.read_text().splitlines()[-1])
        assert (end["type"], end["exit_status"]) == ("end", 128 + signal.SIGUSR1)
    shell = subprocess.run(["sh", "-c", '"$@"; echo "status $?"', "sh", *pre, "sh", "-c",
                            "kill -TERM $$"], capture_output=True, text=True, env=env,
                           timeout=60)
    assert shell.stdout.endswith("status 143\n"), describe(shell)


def test_no_core_dump_of_its_own(way: Way, tmp_path: Path) -> None:
    """The command dumps core; sysfake, dying of the same signal, does not.
    Each would write `core` in its own directory (core_pattern "core" here);
    SIGQUIT dumps core, and the sanitizers' runtime does not catch it."""
    if Path("/proc/sys/kernel/core_pattern").read_text().strip() != "core":
        pytest.skip("this machine's core_pattern does not write ./core")
    pre, env = way
    work = tmp_path / "cwd"
    (work / "sub").mkdir(parents=True)
    res = subprocess.run(["sh", "-c", 'ulimit -c unlimited; exec "$@"', "sh", *pre, "sh", "-c",
                          "cd sub && kill -QUIT $$"], capture_output=True, text=True, env=env,
                         timeout=60, cwd=work)
    assert res.returncode == -signal.SIGQUIT, describe(res)
    assert not (work / "core").exists(), "sysfake dumped core"
    if "ASAN_OPTIONS" not in os.environ:  # its runtime turns core dumps off for the tree
        assert (work / "sub" / "core").exists(), "the command did not: the test shows nothing"


def test_interrupt_stops_the_calling_script(way: Way, tmp_path: Path) -> None:
    """A Ctrl-C reaches the whole foreground process group; bash stops a script
    only when its child died of SIGINT, as `sleep` does untraced."""
    pre, env = way
    outs = []
    for n, argv in enumerate((["sh", "-c", ': > "$0"; exec sleep 30'],
                              [*pre, "sh", "-c", ': > "$0"; exec sleep 30'])):
        ready = tmp_path / f"ready{n}"
        proc = subprocess.Popen(["bash", "-c", '"$@"; echo continued', "bash", *argv,
                                 str(ready)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        rc, out, _err = _signal_when_ready(proc, ready,
                                           lambda p: os.killpg(p.pid, signal.SIGINT))
        outs.append((rc, out))
    assert outs[0] == (-signal.SIGINT, ""), outs
    assert outs[1] == outs[0], outs


def test_sighup_ignored_by_the_caller_is_not_forwarded(way: Way, tmp_path: Path) -> None:
    """nohup: sysfake started with SIGHUP ignored neither dies of it nor
    passes it on."""
    pre, env = way
    ready = tmp_path / "ready"
    proc = subprocess.Popen([*pre, "sh", "-c", f": > {ready}; sleep 1; echo survived"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    rc, out, err = _signal_when_ready(proc, ready, lambda p: p.send_signal(signal.SIGHUP))
    assert (rc, out) == (0, "survived\n"), err


def test_sigalrm_sent_to_sysfake_reaches_the_command(tmp_path: Path) -> None:
    """The C tracer's grace timer is a SIGALRM too: one that a process sends
    is told apart and passed on."""
    ready = tmp_path / "ready"
    proc = start_sysfake(["run", "--", "sh", "-c", f": > {ready}; exec sleep 1000"])
    rc, _out, err = _signal_when_ready(proc, ready, lambda p: p.send_signal(signal.SIGALRM))
    assert rc == -signal.SIGALRM, err


def test_grace_timer_works_with_sigalrm_blocked_by_the_caller(tmp_path: Path) -> None:
    """A leftover that ignores SIGTERM is killed after --grace even when the
    caller blocked SIGALRM, which the C tracer's timer needs."""
    ready = tmp_path / "ready"
    script = (f"(trap '' TERM; : > {ready}; exec sleep 30) & "
              f"while [ ! -e {ready} ]; do sleep 0.01; done; exit 0")
    res = subprocess.run(sysfake_cmd(["run", "--grace", "0.2", "--", "sh", "-c", script]),
                         capture_output=True, text=True, env=child_env(), timeout=25,
                         preexec_fn=_block_usr1_and_alrm)
    assert res.returncode == 0, describe(res)


@pytest.mark.gvisor
def test_in_gvisor() -> None:
    """The same inside gVisor (whose /proc has no SigIgn line): an ignored
    signal kept, death by signal passed on, and a leftover killed after
    --grace (the timer's SIGALRM)."""
    def sysfake(*argv: str) -> str:
        return shlex.join(sysfake_cmd(["run", "--", *argv]))
    script = "; ".join([
        "trap '' INT",
        sysfake("sh", "-c", "kill -INT $$; echo survived"),
        sysfake("sh", "-c", "kill -TERM $$") + "; echo status $?",
        shlex.join(sysfake_cmd(["run", "--grace", "0.2", "--", "sh", "-c",
                                "(trap '' TERM; : > /tmp/ready; exec sleep 60) & "
                                "while [ ! -e /tmp/ready ]; do sleep 0.01; done"]))
        + "; echo grace $?",
    ])
    rc, out = run_in_gvisor(["bash", "-c", script], timeout=50)
    lines = [ln for ln in out.splitlines() if ln != "Terminated"]  # bash's, of sysfake
    assert (rc, lines) == (0, ["survived", "status 143", "grace 0"]), out
