"""Find processes a test left behind: descendants of the test process, and
anything carrying the test's marker (in its environment or command line),
which catches daemons re-parented away from the test."""
from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass

import psutil

from .runner import MARKER_ENV


@dataclass(frozen=True)
class Leftover:
    pid: int
    ppid: int
    state: str          # the State line of /proc/<pid>/status, e.g. "t (tracing stop)"
    tracer_pid: int
    cmdline: str
    why: str            # "descendant" or "marker"

    def __str__(self) -> str:
        return (f"pid {self.pid} (ppid {self.ppid}) state={self.state!r} "
                f"TracerPid={self.tracer_pid} [{self.why}] {self.cmdline}")


def _status(pid: int) -> tuple[str, int]:
    state, tracer = "?", 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    state = line.split(":", 1)[1].strip()
                elif line.startswith("TracerPid:"):
                    tracer = int(line.split(":", 1)[1])
    except OSError:
        pass
    return state, tracer


def _has_marker(proc: psutil.Process, marker: str) -> bool:
    try:
        if any(marker in part for part in proc.cmdline()):
            return True
        return proc.environ().get(MARKER_ENV) == marker
    except (psutil.Error, OSError):
        return False


def find_leftovers(root_pid: int, marker: str | None,
                   ignore: frozenset[int] = frozenset()) -> list[Leftover]:
    """All live or zombie processes below `root_pid` or carrying `marker`."""
    me = os.getpid()
    parents: dict[int, int] = {}
    procs: dict[int, psutil.Process] = {}
    for p in psutil.process_iter(["pid", "ppid"]):
        parents[p.info["pid"]] = p.info["ppid"] or 0
        procs[p.info["pid"]] = p
    found: list[Leftover] = []
    for pid, proc in procs.items():
        if pid in (me, root_pid) or pid in ignore:
            continue
        why = ""
        seen = set()
        cur = parents.get(pid, 0)
        while cur > 1 and cur not in seen:
            if cur == root_pid:
                why = "descendant"
                break
            seen.add(cur)
            cur = parents.get(cur, 0)
        if not why and marker and _has_marker(proc, marker):
            why = "marker"
        if not why:
            continue
        state, tracer = _status(pid)
        if state == "?":
            continue  # gone meanwhile
        try:
            cmd = " ".join(proc.cmdline())
        except (psutil.Error, OSError):
            cmd = "?"
        found.append(Leftover(pid, parents.get(pid, 0), state, tracer, cmd, why))
    return found


def wait_no_leftovers(root_pid: int, marker: str | None, settle: float = 5.0,
                      ignore: frozenset[int] = frozenset()) -> list[Leftover]:
    """Poll until nothing is left or `settle` seconds passed (zombies re-parented
    to init need a moment to be reaped); return what is still there."""
    deadline = time.monotonic() + settle
    while True:
        left = find_leftovers(root_pid, marker, ignore)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def kill_leftovers(left: list[Leftover]) -> None:
    """SIGKILL the given processes (by pid; they are all the test's own)."""
    for item in left:
        with contextlib.suppress(OSError):
            os.kill(item.pid, signal.SIGKILL)
