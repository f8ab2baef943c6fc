"""The seccomp filter (built and installed with ctypes) and the stop-order probe.

The filter returns SECCOMP_RET_TRACE for every path syscall of the x86_64 ABI
and SECCOMP_RET_ALLOW for everything else, so the tracer only wakes up for
syscalls it may have to rewrite.  The tracer sets PTRACE_O_TRACESECCOMP itself
(python-ptrace does not define it, see ptrace_ext.py).
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections.abc import Iterable

from . import ptrace_ext as pt

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_TRACE = 0x7FF00000
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_RET_K = 0x06
OFF_NR = 0
OFF_ARCH = 4

_Insn = tuple[int, int, int, int]


class SockFilter(ctypes.Structure):
    _fields_ = (("code", ctypes.c_uint16), ("jt", ctypes.c_uint8),
                ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32))


class SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter)))


def build_filter(numbers: Iterable[int]) -> list[_Insn]:
    """BPF: x86_64 arch and nr in `numbers` -> TRACE, anything else -> ALLOW."""
    nrs = sorted(set(numbers))
    n = len(nrs)
    if n > 250:
        raise ValueError("too many syscalls for a linear filter")
    prog: list[_Insn] = [
        (BPF_LD_W_ABS, 0, 0, OFF_ARCH),
        (BPF_JEQ_K, 0, n + 2, AUDIT_ARCH_X86_64),      # other arch -> ALLOW
        (BPF_LD_W_ABS, 0, 0, OFF_NR),
        (BPF_JGE_K, n, 0, X32_SYSCALL_BIT),            # x32 ABI -> ALLOW
    ]
    for i, nr in enumerate(nrs):
        prog.append((BPF_JEQ_K, n - i, 0, nr))
    prog.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    prog.append((BPF_RET_K, 0, 0, SECCOMP_RET_TRACE))
    return prog


def pack(prog: list[_Insn]) -> bytes:
    """The filter as struct sock_filter[] bytes (for tests and debugging)."""
    return b"".join(struct.pack("<HBBI", *insn) for insn in prog)


def install(prog: list[_Insn]) -> None:
    """Install `prog` on the calling thread (and its future children).

    Tries without PR_SET_NO_NEW_PRIVS first (works with CAP_SYS_ADMIN, keeps
    setuid programs working) and falls back to setting it.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    arr = (SockFilter * len(prog))(*[SockFilter(*insn) for insn in prog])
    fprog = SockFprog(len(prog), ctypes.cast(arr, ctypes.POINTER(SockFilter)))
    prctl = libc.prctl
    prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p,
                      ctypes.c_ulong, ctypes.c_ulong)
    if prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) == 0:
        return
    err = ctypes.get_errno()
    if err != errno.EACCES:
        raise OSError(err, "prctl(PR_SET_SECCOMP): " + os.strerror(err))
    if prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(PR_SET_NO_NEW_PRIVS): " + os.strerror(err))
    if prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(PR_SET_SECCOMP): " + os.strerror(err))


_ORDER: bool | None = None


def enter_stop_follows_seccomp() -> bool:
    """Probe once: does a syscall-enter stop follow the seccomp stop?

    Linux >= 4.8 reports syscall-enter, then the seccomp stop, so resuming a
    seccomp stop with PTRACE_SYSCALL leads straight to the syscall-exit stop
    (returns False).  Before 4.8, and in gVisor, the seccomp stop comes first
    and PTRACE_SYSCALL from it yields a syscall-enter stop first (returns True).
    Decided by tracing a getppid() in a throw-away child, never from uname.
    """
    global _ORDER
    if _ORDER is None:
        _ORDER = _probe()
    return _ORDER


def _probe() -> bool:
    from .syscalls import NR

    getppid = NR["getppid"]
    prog = build_filter([getppid])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(w)
            if os.read(r, 1) == b"1":
                install(prog)
                os.getppid()
        finally:
            os._exit(0)
    os.close(r)
    old_order = False
    reaped = False
    try:
        pt.seize(pid, pt.PTRACE_O_TRACESECCOMP | pt.PTRACE_O_TRACESYSGOOD | pt.PTRACE_O_EXITKILL)
        os.write(w, b"1")
        seen_seccomp = False
        while True:
            _, status = os.waitpid(pid, pt.WALL)
            if not os.WIFSTOPPED(status):
                reaped = True
                break
            sig = os.WSTOPSIG(status)
            event = status >> 16
            if event == pt.PTRACE_EVENT_SECCOMP and not seen_seccomp:
                seen_seccomp = True
                pt.syscall(pid)
                continue
            if sig == (0x80 | 5) and seen_seccomp:
                regs = pt.getregs(pid)
                old_order = pt.signed(int(regs.rax)) == -errno.ENOSYS
                pt.cont(pid)
                seen_seccomp = False  # decided
                continue
            pt.cont(pid, 0 if event or sig == 5 else sig)
    finally:
        os.close(w)
        if not reaped:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, pt.WALL)
            except (ProcessLookupError, ChildProcessError):
                pass
    return old_order
