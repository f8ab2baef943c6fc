"""The event loop of the reference tracer: spawn, follow, dispatch, exit status.

Every thread of every descendant is a ptrace tracee (PTRACE_SEIZE on the
command, then PTRACE_O_TRACEFORK|VFORK|CLONE|EXEC auto-attach).  The tracees run
under PTRACE_CONT and stop only for seccomp-trapped path syscalls
(PTRACE_O_TRACESECCOMP), ptrace events and signals.  A thread whose syscall
was rewritten is resumed with PTRACE_SYSCALL so its syscall-exit stop restores
the original registers (only rax, the result, is kept).
"""
from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from types import FrameType
from typing import Callable

from sysfake.model import RuleSet

from ...datatype import datatype
from . import memory, seccomp
from . import ptrace_ext as pt
from .actions import Call, Decider, Outcome, VirtualFiles
from .memory import AddressSpace
from .resolve import Resolver
from .syscalls import NR, SYSCALLS

ARG_REGS = ("rdi", "rsi", "rdx", "r10", "r8", "r9")
OPTIONS = (pt.PTRACE_O_TRACESYSGOOD | pt.PTRACE_O_TRACEFORK | pt.PTRACE_O_TRACEVFORK
           | pt.PTRACE_O_TRACECLONE | pt.PTRACE_O_TRACEEXEC | pt.PTRACE_O_TRACESECCOMP
           | pt.PTRACE_O_EXITKILL)
SYSCALL_TRAP = signal.SIGTRAP | 0x80
GROUP_STOP_SIGNALS = frozenset({signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2, signal.SIGALRM)
CLONE_VM, CLONE_VFORK, CLONE_THREAD = 0x100, 0x4000, 0x10000
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
KILL_TIMEOUT = 5.0  # after SIGKILL, how long to wait for the last exits


@datatype
class Thread:
    tid: int
    tgid: int
    mm: AddressSpace
    saved: pt.Regs | None = None  # registers to put back at the syscall-exit stop
    injecting: bool = False  # the pending syscall is our scratch mmap
    skip_enter: bool = False  # old stop order: a syscall-enter stop comes first


class Tracer:
    def __init__(self, rules: RuleSet, orphans: str = "kill", grace: float = 2.0) -> None:
        if orphans not in ("kill", "wait"):
            raise ValueError(f"orphans must be 'kill' or 'wait', not {orphans!r}")
        self.rules = rules
        self.orphans = orphans
        self.grace = grace
        self.threads: dict[int, Thread] = {}
        self.mm_of: dict[int, AddressSpace] = {}  # tgid -> address space
        self.pending: dict[int, tuple[int, AddressSpace]] = {}  # announced, not yet seen
        self.resolver = Resolver()
        self.old_order = seccomp.enter_stop_follows_seccomp()
        self.main_pid = 0
        self.main_status: int | None = None

    def _tgid_of(self, tid: int) -> int | None:
        t = self.threads.get(tid)
        return t.tgid if t else None

    # ----------------------------------------------------------------- start
    def run(self, argv: list[str], env: dict[str, str] | None) -> int:
        if not argv:
            raise ValueError("empty command")
        vfiles = VirtualFiles(self.rules)
        self.decider = Decider(self.rules, vfiles)
        old_subreaper = _prctl_get_subreaper()
        # gVisor has no subreapers (EINVAL): orphans then go to the sandbox's
        # init, but stay traced by us, so their exits still reach this loop.
        subreaper = _prctl(PR_SET_CHILD_SUBREAPER, 1, required=False)
        old_handlers: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}
        try:
            self.main_pid = self._spawn(argv, env)
            mm = AddressSpace()
            self.threads[self.main_pid] = Thread(self.main_pid, self.main_pid, mm)
            self.mm_of[self.main_pid] = mm
            for sig in FORWARDED:
                if signal.getsignal(sig) == signal.SIG_IGN:
                    continue  # ignored by the caller (nohup): by the command too
                try:
                    old_handlers[sig] = signal.signal(sig, self._forward)
                except ValueError:  # not the main thread: no forwarding
                    break
            self._loop()
        finally:
            for signum, handler in old_handlers.items():
                signal.signal(signum, handler)
            if subreaper:  # gVisor accepts setting it but refuses clearing it
                _prctl(PR_SET_CHILD_SUBREAPER, old_subreaper, required=False)
            vfiles.close()
        status = self.main_status if self.main_status is not None else 0
        return os.waitstatus_to_exitcode(status)

    def _spawn(self, argv: list[str], env: dict[str, str] | None) -> int:
        prog = seccomp.build_filter(SYSCALLS)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            _child(r, w, prog, argv, env)
        os.close(r)
        try:
            pt.seize(pid, OPTIONS)
        except BaseException:
            os.close(w)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        os.write(w, b"1")
        os.close(w)
        return pid

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        if self.main_status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.main_pid, signum)

    # ------------------------------------------------------------------ loop
    def _loop(self) -> None:
        deadline: float | None = None
        killed_at: float | None = None
        while True:
            flags = pt.WALL
            if self.main_status is not None and self.orphans == "kill":
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.grace
                    self._signal_all(signal.SIGTERM)
                    self._signal_all(signal.SIGCONT)
                elif killed_at is None and now >= deadline:
                    killed_at = now
                    self._signal_all(signal.SIGKILL)
                elif killed_at is not None and now >= killed_at + KILL_TIMEOUT:
                    return
                flags |= os.WNOHANG
            try:
                tid, status = os.waitpid(-1, flags)
            except ChildProcessError:
                return
            if tid == 0:
                time.sleep(0.005)
                continue
            try:
                self._handle(tid, status)
            except pt.PtraceError as exc:
                if not pt.is_gone(exc):
                    raise

    def _signal_all(self, sig: int) -> None:
        for tgid in {t.tgid for t in self.threads.values()}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(tgid, sig)

    def _handle(self, tid: int, status: int) -> None:
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            self._exited(tid, status)
            return
        if not os.WIFSTOPPED(status):
            return
        t = self.threads.get(tid) or self._new_thread(tid)
        sig = os.WSTOPSIG(status)
        event = status >> 16
        if sig == SYSCALL_TRAP:
            self._syscall_stop(t)
        elif event == pt.PTRACE_EVENT_SECCOMP:
            self._seccomp_stop(t)
        elif event in (pt.PTRACE_EVENT_FORK, pt.PTRACE_EVENT_VFORK, pt.PTRACE_EVENT_CLONE):
            self._clone_event(t, event)
            self._resume(t)
        elif event == pt.PTRACE_EVENT_EXEC:
            self._resume(self._exec_event(t))
        elif event == pt.PTRACE_EVENT_STOP:
            if sig in GROUP_STOP_SIGNALS:
                pt.listen(tid)  # group-stop: stay stopped, but keep reporting
            else:
                self._resume(t)  # start of an auto-attached child, or an interrupt
        elif event == 0:
            self._resume(t, sig)  # signal-delivery-stop: inject the signal
        else:
            self._resume(t)

    def _resume(self, t: Thread, sig: int = 0) -> None:
        try:
            if t.saved is not None:
                pt.syscall(t.tid, sig)
            else:
                pt.cont(t.tid, sig)
        except pt.PtraceError as exc:
            if not pt.is_gone(exc):
                raise

    # ------------------------------------------------------ process lifecycle
    def _new_thread(self, tid: int) -> Thread:
        """First stop of a tid not yet known: its parent's event may still be queued."""
        if tid in self.pending:
            tgid, mm = self.pending.pop(tid)
        else:
            tgid = _tgid_of(tid)
            # a fresh address space is always safe: it merely injects its own scratch
            mm = self.mm_of.get(tgid) or AddressSpace()
        t = Thread(tid, tgid, mm)
        self.threads[tid] = t
        self.mm_of.setdefault(tgid, mm)
        return t

    def _clone_event(self, parent: Thread, event: int) -> None:
        child = pt.geteventmsg(parent.tid)
        regs = pt.getregs(parent.tid)
        nr = pt.signed(int(regs.orig_rax))
        if event == pt.PTRACE_EVENT_VFORK or nr == NR["vfork"]:
            flags = CLONE_VM | CLONE_VFORK
        elif nr == NR["clone"]:
            flags = int(regs.rdi)
        elif nr == NR["clone3"]:
            raw = memory.read_bytes(parent.tid, int(regs.rdi), 8)
            flags = int.from_bytes(raw, "little") if len(raw) == 8 else 0
        else:
            flags = 0
        if flags & CLONE_THREAD:
            tgid, mm = parent.tgid, parent.mm
        elif flags & CLONE_VM:
            tgid, mm = child, parent.mm
        else:
            tgid, mm = child, parent.mm.forked()
        if child not in self.threads:
            self.pending[child] = (tgid, mm)

    def _exec_event(self, t: Thread) -> Thread:
        former = pt.geteventmsg(t.tid)
        if former != t.tid:  # exec from a non-leader thread: it took the leader's tid
            old = self.threads.pop(former, None)
            if old is not None:
                old.mm.release(former)
            self.resolver.forget(former)
        mm = AddressSpace()
        fresh = Thread(t.tid, t.tgid, mm)
        self.threads[t.tid] = fresh
        self.mm_of[t.tgid] = mm
        self.resolver.exec_happened(t.tgid)
        return fresh

    def _exited(self, tid: int, status: int) -> None:
        t = self.threads.pop(tid, None)
        self.pending.pop(tid, None)
        if t is not None:
            t.mm.release(tid)
            if tid == t.tgid:
                self.mm_of.pop(tid, None)
        self.resolver.forget(tid)
        if tid == self.main_pid and self.main_status is None:
            self.main_status = status

    # -------------------------------------------------------------- syscalls
    def _seccomp_stop(self, t: Thread) -> None:
        regs = pt.getregs(t.tid)
        info = SYSCALLS.get(pt.signed(int(regs.orig_rax)))
        if info is None:
            self._resume(t)
            return
        tid, tgid = t.tid, t.tgid
        call = Call(
            tid=tid, tgid=tgid, info=info,
            args=tuple(int(getattr(regs, r)) for r in ARG_REGS),
            read_string=lambda addr: memory.read_cstring(tid, addr),
            read_mem=lambda addr, size: _read_or_empty(tid, addr, size),
            absolute=lambda raw, dirfd: self.resolver.absolute(tid, raw, dirfd),
            canonical=lambda path: self.resolver.canonical(tid, tgid, path, self._tgid_of),
            exe=lambda: self.resolver.exe(tgid),
            comm=lambda: self.resolver.comm(tid),
        )
        out = self.decider.decide(call)
        if out is None:
            self._resume(t)
        elif out.ret is not None:
            self._skip(t, regs, out.ret, out.writes)
        else:
            self._rewrite(t, regs, out)

    def _skip(self, t: Thread, regs: pt.Regs, ret: int,
              writes: list[tuple[int, bytes]] | None = None) -> None:
        """Skip the syscall (orig_rax = -1) and make it return `ret`."""
        for addr, data in writes or ():
            try:
                memory.write_any(t.tid, addr, data)
            except (pt.PtraceError, OSError):
                ret = -errno.EFAULT
                break
        regs.orig_rax = pt.WORD_MASK
        regs.rax = ret & pt.WORD_MASK
        pt.setregs(t.tid, regs)
        self._resume(t)

    def _rewrite(self, t: Thread, regs: pt.Regs, out: Outcome) -> None:
        slot = t.mm.slot(t.tid)
        if slot is None:
            if t.mm.broken:
                self._skip(t, regs, -errno.ENOMEM)
                return
            t.saved = pt.copy_regs(regs)
            t.injecting = True
            t.skip_enter = self.old_order
            pt.setregs(t.tid, memory.mmap_regs(regs))
            self._resume(t)
            return
        new = pt.copy_regs(regs)
        pos = slot
        blobs: list[tuple[int, bytes]] = [(i, p + b"\0") for i, p in out.paths.items()]
        if out.how is not None:
            blobs.append(out.how)
        for argi, blob in blobs:
            memory.write_bytes(t.tid, pos, blob)
            setattr(new, ARG_REGS[argi], pos)
            pos += (len(blob) + 7) & ~7
        for argi, bits in out.clear_bits.items():
            setattr(new, ARG_REGS[argi], int(getattr(new, ARG_REGS[argi])) & ~bits)
        pt.setregs(t.tid, new)
        t.saved = regs
        t.skip_enter = self.old_order
        self._resume(t)

    def _syscall_stop(self, t: Thread) -> None:
        if t.saved is None:
            self._resume(t)
            return
        if t.skip_enter:
            t.skip_enter = False
            self._resume(t)
            return
        now = pt.getregs(t.tid)
        if t.injecting:
            result = pt.signed(int(now.rax))
            if -4096 < result < 0:
                t.mm.broken = True
            else:
                t.mm.add_region(result)
            pt.setregs(t.tid, memory.replay_regs(t.saved))
        else:  # every argument register and the number back; keep the result
            for reg in ("rax", "rip", "rcx", "r11", "eflags"):
                setattr(t.saved, reg, getattr(now, reg))
            pt.setregs(t.tid, t.saved)
        t.saved = None
        t.injecting = False
        self._resume(t)


def _read_or_empty(tid: int, addr: int, size: int) -> bytes:
    try:
        return memory.read_bytes(tid, addr, size)
    except OSError:
        return b""


def _tgid_of(tid: int) -> int:
    try:
        with open(f"/proc/{tid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Tgid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return tid


def _libc_prctl() -> Callable[..., int]:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fn = libc.prctl
    fn.restype = ctypes.c_int
    return fn


def _prctl(option: int, value: int, required: bool = True) -> bool:
    import ctypes

    if _libc_prctl()(option, value, 0, 0, 0) == 0:
        return True
    err = ctypes.get_errno()
    if required:
        raise OSError(err, f"prctl({option}) failed: {os.strerror(err)}")
    return False


def _prctl_get_subreaper() -> int:
    import ctypes

    value = ctypes.c_int(0)
    _libc_prctl()(PR_GET_CHILD_SUBREAPER, ctypes.addressof(value), 0, 0, 0)
    return int(value.value)


def _child(r: int, w: int, prog: list[tuple[int, int, int, int]], argv: list[str],
           env: dict[str, str] | None) -> None:  # pragma: no cover - runs in the child
    code = 127
    try:
        os.close(w)
        if os.read(r, 1) != b"1":
            os._exit(code)
        os.close(r)
        # Python ignores these itself; what else the caller ignores, the
        # command keeps, and Python's own handlers go at exec.
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        seccomp.install(prog)
        if env is None:
            os.execvp(argv[0], argv)
        else:
            os.execvpe(argv[0], argv, env)
    except OSError as exc:
        code = 127 if exc.errno == errno.ENOENT else 126
        os.write(2, f"sysfake: {argv[0]}: {exc.strerror}\n".encode())
    finally:
        os._exit(code)


def run(table: bytes, argv: list[str], env: dict[str, str] | None = None,
        orphans: str = "kill", grace: float = 2.0) -> int:
    """Run `argv` under the reference tracer with the rules of compiled `table`.

    Returns the command's exit status, or -N when a signal N killed it.
    Raises actions.UnsupportedTable for tables it cannot execute faithfully.
    """
    from .actions import load_table

    return Tracer(load_table(table), orphans, grace).run(argv, env)
