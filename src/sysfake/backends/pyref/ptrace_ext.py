"""Typed thin wrappers over python-ptrace, plus the ptrace bits it lacks.

python-ptrace 0.9.9 knows PTRACE_O_TRACESYSGOOD..TRACEEXIT but not
PTRACE_O_TRACESECCOMP, PTRACE_O_EXITKILL, PTRACE_SEIZE, PTRACE_INTERRUPT,
PTRACE_LISTEN, PTRACE_EVENT_SECCOMP or PTRACE_EVENT_STOP.  We pass the raw
request numbers and option bits from <linux/ptrace.h> through its generic
``ptrace.binding.func.ptrace()`` entry point (see docs/backends.md).
"""
from __future__ import annotations

import ctypes
import errno as _errno
from typing import Any

from ptrace.binding import func as _pt
from ptrace.error import PtraceError

# <linux/ptrace.h> values absent from python-ptrace
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_LISTEN = 0x4208
PTRACE_O_TRACESYSGOOD = int(_pt.PTRACE_O_TRACESYSGOOD)
PTRACE_O_TRACEFORK = int(_pt.PTRACE_O_TRACEFORK)
PTRACE_O_TRACEVFORK = int(_pt.PTRACE_O_TRACEVFORK)
PTRACE_O_TRACECLONE = int(_pt.PTRACE_O_TRACECLONE)
PTRACE_O_TRACEEXEC = int(_pt.PTRACE_O_TRACEEXEC)
PTRACE_O_TRACESECCOMP = 1 << 7  # the bit python-ptrace does not define
PTRACE_O_EXITKILL = 1 << 20
PTRACE_EVENT_FORK = int(_pt.PTRACE_EVENT_FORK)
PTRACE_EVENT_VFORK = int(_pt.PTRACE_EVENT_VFORK)
PTRACE_EVENT_CLONE = int(_pt.PTRACE_EVENT_CLONE)
PTRACE_EVENT_EXEC = int(_pt.PTRACE_EVENT_EXEC)
PTRACE_EVENT_SECCOMP = 7
PTRACE_EVENT_STOP = 128

WORD_MASK = (1 << 64) - 1
WALL = 0x40000000  # __WALL (wait for threads and non-SIGCHLD children too)

Regs = Any  # ptrace.binding.linux_struct.user_regs_struct (a ctypes Structure)

__all__ = ["PtraceError", "Regs"]


def _call(request: int, pid: int, addr: int = 0, data: int = 0) -> int:
    return int(_pt.ptrace(request, pid, addr, data))


def seize(pid: int, options: int) -> None:
    _call(PTRACE_SEIZE, pid, 0, options)


def cont(pid: int, sig: int = 0) -> None:
    _pt.ptrace_cont(pid, sig)


def syscall(pid: int, sig: int = 0) -> None:
    _pt.ptrace_syscall(pid, sig)


def listen(pid: int) -> None:
    _call(PTRACE_LISTEN, pid)


def geteventmsg(pid: int) -> int:
    msg = ctypes.c_ulong()
    _call(int(_pt.PTRACE_GETEVENTMSG), pid, 0, ctypes.addressof(msg))
    return int(msg.value)


def getregs(pid: int) -> Regs:
    return _pt.ptrace_getregs(pid)


def setregs(pid: int, regs: Regs) -> None:
    _pt.ptrace_setregs(pid, regs)


def copy_regs(regs: Regs) -> Regs:
    return type(regs).from_buffer_copy(regs)


def pokedata(pid: int, addr: int, word: int) -> None:
    _pt.ptrace_pokedata(pid, addr, word & WORD_MASK)


def is_gone(exc: PtraceError) -> bool:
    """True when a ptrace request failed because the tracee vanished (killed, exited)."""
    return getattr(exc, "errno", None) == _errno.ESRCH


def signed(value: int) -> int:
    """A 64-bit register value as a signed integer."""
    value &= WORD_MASK
    return value - (1 << 64) if value >> 63 else value
