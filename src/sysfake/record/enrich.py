"""Turn raw records from the core into trace events.

The core's records are terse (ids and numbers). Enricher keeps the state of
every thread seen — its process (tgid), the process's parent, exe and comm,
tracked from exec and fork records — and adds it to every event, names the
syscall and decodes its arguments (syscalls.decode_args).
"""
from __future__ import annotations

import os
from functools import lru_cache

from .ptrace_tables import read_bits, tables
from .stream import NO_RULE, RawExec, RawFork, RawRecord, RawSyscall
from .syscalls import decode_args, errno_name, name_of
from .trace import AnyEvent, ExecEvent, ExitEvent, ForkEvent, SyscallEvent

CLONE_THREAD = 0x00010000
CLONE_PARENT = 0x00008000


class ThreadState:
    """What is known of a thread. A plain class: defining a dataclass costs
    record's start-up more than its generated methods are worth here."""

    __slots__ = ("comm", "exe", "ppid", "tgid")

    def __init__(self, tgid: int, ppid: int = 0, exe: str = "", comm: str = "") -> None:
        self.tgid = tgid
        self.ppid = ppid
        self.exe = exe
        self.comm = comm

    def __repr__(self) -> str:
        return (f"ThreadState(tgid={self.tgid!r}, ppid={self.ppid!r}, exe={self.exe!r}, "
                f"comm={self.comm!r})")


def _signal_name(sig: int) -> str:
    """signal.Signals(sig).name; ValueError for an unknown number."""
    import signal  # ~0.6 ms (an enum): only for a fork or a killed thread

    return signal.Signals(sig).name


@lru_cache(maxsize=256)
def clone_text(flags: int) -> str:
    """Clone flags symbolically (python-ptrace's bit names), e.g. CLONE_VM|CLONE_THREAD."""
    masks = tables().bitmasks["CLONE_FLAGS_BITMASK"]
    bits = read_bits(flags & ~0xFF, masks)
    sig = flags & 0xFF
    if sig:
        try:
            bits.insert(0, _signal_name(sig))
        except ValueError:
            bits.insert(0, str(sig))
    return "|".join(bits)


def signal_name(sig: int) -> str:
    """SIGKILL for 9; SIG<n> for a number the signal module does not name."""
    try:
        return _signal_name(sig)
    except ValueError:
        return f"SIG{sig}"


def wait_status(status: int) -> tuple[int | None, str | None, bool]:
    """(exit code, signal name, core dumped) of a raw wait status."""
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status), None, False
    if os.WIFSIGNALED(status):
        return None, signal_name(os.WTERMSIG(status)), os.WCOREDUMP(status)
    return None, None, False


class Enricher:
    def __init__(self) -> None:
        self.threads: dict[int, ThreadState] = {}
        self._members: dict[int, set[int]] = {}  # tgid -> its tids (an exec ends the others)
        self.processes: set[int] = set()  # tgids ever seen
        self.alive: set[int] = set()  # tids that have not exited
        self.events = 0

    def state(self, tid: int, tgid: int | None = None) -> ThreadState:
        st = self.threads.get(tid)
        if st is None:
            st = ThreadState(tgid if tgid is not None else tid)
            self._put(tid, st)
            self.alive.add(tid)
        elif tgid is not None and tgid != st.tgid:
            self._move(tid, st, tgid)
        if tgid is not None and tgid != tid and st.ppid == 0:
            leader = self.threads.get(tgid)
            if leader is not None:
                st.ppid, st.exe, st.comm = leader.ppid, leader.exe, leader.comm
        self.processes.add(st.tgid)
        return st

    def _put(self, tid: int, st: ThreadState) -> None:
        old = self.threads.get(tid)
        if old is not None:
            self._members.get(old.tgid, set()).discard(tid)
        self.threads[tid] = st
        self._members.setdefault(st.tgid, set()).add(tid)

    def _move(self, tid: int, st: ThreadState, tgid: int) -> None:
        self._members.get(st.tgid, set()).discard(tid)
        st.tgid = tgid
        self._members.setdefault(tgid, set()).add(tid)

    def live_processes(self) -> int:
        return len({self.threads[t].tgid for t in self.alive if t in self.threads})

    def convert(self, rec: RawRecord) -> AnyEvent:
        self.events += 1
        if isinstance(rec, RawSyscall):
            st = self.state(rec.tid, rec.tgid)
            name = name_of(rec.nr)
            ret = rec.ret
            return SyscallEvent(
                rec.time, rec.tid, st.tgid, st.ppid, st.exe, st.comm, syscall=name,
                nr=rec.nr, args=decode_args(name, rec.args),
                path=rec.raw or None, resolved=rec.canon or None,
                rule=None if rec.rule_id == NO_RULE else rec.rule_id,
                result=ret, errno=errno_name(-ret) if -4096 < ret < 0 else None,
                flags=rec.flags)
        if isinstance(rec, RawExec):
            st = self.state(rec.tid)
            # exec makes the thread the leader of its process; the other threads are gone
            for tid in self._members.get(rec.tid, set()) - {rec.tid}:
                self.alive.discard(tid)
            self._move(rec.tid, st, rec.tid)
            st.ppid = rec.ppid or st.ppid
            st.exe, st.comm = rec.exe, rec.comm
            self.processes.add(rec.tid)
            return ExecEvent(rec.time, rec.tid, st.tgid, st.ppid, st.exe, st.comm,
                             argv=list(rec.argv), argv_truncated=rec.argv_truncated)
        if isinstance(rec, RawFork):
            parent = self.state(rec.parent)
            thread = bool(rec.clone_flags & CLONE_THREAD)
            if thread:
                tgid, ppid = parent.tgid, parent.ppid
            elif rec.clone_flags & CLONE_PARENT:
                tgid, ppid = rec.child, parent.ppid
            else:
                tgid, ppid = rec.child, parent.tgid
            self._put(rec.child, ThreadState(tgid, ppid, parent.exe, parent.comm))
            self.alive.add(rec.child)
            self.processes.add(tgid)
            return ForkEvent(rec.time, rec.parent, parent.tgid, parent.ppid, parent.exe,
                             parent.comm, child=rec.child, thread=thread,
                             clone_flags=rec.clone_flags, clone_text=clone_text(rec.clone_flags))
        st = self.state(rec.tid)
        self.alive.discard(rec.tid)
        code, sig, core = wait_status(rec.status)
        return ExitEvent(rec.time, rec.tid, st.tgid, st.ppid, st.exe, st.comm,
                         status=rec.status, exit_code=code, signal=sig, core_dumped=core)


__all__ = ["Enricher", "ThreadState", "clone_text", "signal_name", "wait_status"]
