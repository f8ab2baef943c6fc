"""Helpers of the torture suite: scale, C programs, process-state checks."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from support import MARKER_ENV
from support.progs import BuildError

STRESS_DIR = Path(__file__).resolve().parent
PROGS_DIR = STRESS_DIR / "progs"
SCALE_ENV = "SYSFAKE_STRESS_SCALE"


def scale() -> float:
    """SYSFAKE_STRESS_SCALE as a float (default 1)."""
    try:
        return max(float(os.environ.get(SCALE_ENV, "1")), 0.01)
    except ValueError:
        return 1.0


def scaled(n: int) -> int:
    return max(1, int(n * scale()))


class StressProgs:
    """The compiled tests/stress/progs/*.c: `sp["hammer"]`, `sp.static("hammer")`."""

    def __init__(self, build_dir: Path) -> None:
        self.dir = build_dir

    def __getitem__(self, name: str) -> str:
        path = self.dir / name
        if not path.exists():
            raise KeyError(f"no stress program {name!r} in {self.dir}")
        return str(path)

    def static(self, name: str) -> str:
        return self[f"{name}.static"]


def build_stress_progs(build_dir: Path, cc: str) -> StressProgs:
    flags = ["-O1", "-pthread", "-Wall", "-Wextra", "-D_GNU_SOURCE"]
    procs = []
    for src in sorted(PROGS_DIR.glob("*.c")):
        for static in (False, True):
            out = build_dir / (src.stem + (".static" if static else ""))
            argv = [cc, *flags, *(["-static"] if static else []), "-o", str(out), str(src)]
            procs.append((argv, subprocess.Popen(argv, stdout=subprocess.PIPE,
                                                 stderr=subprocess.STDOUT, text=True)))
    for argv, p in procs:
        out, _ = p.communicate(timeout=120)
        if p.returncode != 0:
            raise BuildError(f"{' '.join(argv)} failed:\n{out}")
    return StressProgs(build_dir)


def proc_status(pid: int) -> dict[str, str]:
    """The fields of /proc/<pid>/status ({} when the process is gone)."""
    out: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    except OSError:
        return {}
    return out


def marked_pids(marker: str) -> list[int]:
    """Every live process (any state) whose environment carries `marker`."""
    found = []
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, OSError):
            if p.environ().get(MARKER_ENV) == marker:
                found.append(p.info["pid"])
    return found


def tids(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def bad_states(pids: Iterable[int]) -> list[str]:
    """Threads of `pids` that are traced, stopped or zombie, one line each."""
    bad = []
    for pid in pids:
        for tid in tids(pid) or [pid]:
            st = proc_status(tid)
            if not st:
                continue
            state = st.get("State", "?")
            tracer = st.get("TracerPid", "0")
            if state[:1] in ("t", "T", "Z", "X") or tracer != "0":
                bad.append(f"pid {pid} tid {tid}: State={state} TracerPid={tracer} "
                           f"Name={st.get('Name')}")
    return bad


def children_of(pid: int) -> list[int]:
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


class RssSampler:
    """Sample the RSS of one process in a thread; `.peak` in bytes."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            proc = psutil.Process(self.pid)
            while not self._stop.is_set():
                self.peak = max(self.peak, proc.memory_info().rss)
                self.samples += 1
                time.sleep(self.interval)
        except psutil.Error:
            pass

    def __enter__(self) -> RssSampler:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join(timeout=5)


def sigkill_quietly(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until none of `pids` is alive (zombies count as gone when their
    State is Z and they are not ours to reap); return those still alive."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if proc_status(p) and not
                 proc_status(p).get("State", "").startswith(("Z", "X"))]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)
