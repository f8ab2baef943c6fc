"""Tracee memory: reads through /proc/PID/mem, writes with PTRACE_POKEDATA,
and per-address-space scratch memory for rewritten arguments.

Scratch memory is never taken from the tracee's stack (nothing is ever written
below a thread's stack pointer: Go and other runtimes keep live data there).
Instead the tracer injects an anonymous mmap into the address space: at the
seccomp stop of the syscall that needs scratch, the trapped syscall is turned
into mmap(NULL, REGION, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
at its syscall-exit stop the mapping address is recorded and the original
registers are put back with rip rewound by 2 (the length of `syscall`) and
rax = orig_rax, so the original syscall runs again, is trapped again and is
rewritten with the new scratch.
"""
from __future__ import annotations

import os

from ...datatype import datatype, field
from . import ptrace_ext as pt
from .syscalls import NR

PAGE = 4096
PATH_MAX = 4096
# Above this no user address exists (x86_64 user space ends at 2**47); pread
# would also overflow its signed offset, so such pointers are plain EFAULT.
USER_END = 1 << 63
SLOT = 16 * 1024  # per thread: two paths of PATH_MAX, an open_how, padding
REGION = 16 * SLOT
PROT_READ, PROT_WRITE = 1, 2
MAP_PRIVATE, MAP_ANONYMOUS = 0x02, 0x20
SYSCALL_INSN_LEN = 2


def read_bytes(pid: int, addr: int, size: int) -> bytes:
    """Read up to `size` bytes; stops early at an unreadable page. Raises OSError."""
    if addr >= USER_END or addr < 0:
        raise OSError(14, "bad address")  # EFAULT
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    try:
        out = bytearray()
        while len(out) < size:
            chunk = min(size - len(out), PAGE - (addr + len(out)) % PAGE)
            try:
                data = os.pread(fd, chunk, addr + len(out))
            except OSError:
                if out:
                    break
                raise
            if not data:
                break
            out += data
        return bytes(out)
    finally:
        os.close(fd)


def read_cstring(pid: int, addr: int, limit: int = PATH_MAX) -> bytes | None:
    """The NUL-terminated string at `addr`, or None (NULL, unreadable, too long)."""
    if addr == 0 or addr >= USER_END or addr < 0:
        return None
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    try:
        out = bytearray()
        pos = addr
        while len(out) < limit:
            chunk = PAGE - pos % PAGE
            try:
                data = os.pread(fd, chunk, pos)
            except OSError:
                return None
            if not data:
                return None
            nul = data.find(b"\0")
            if nul >= 0:
                out += data[:nul]
                return bytes(out) if len(out) < limit else None
            out += data
            pos += len(data)
        return None
    finally:
        os.close(fd)


def write_bytes(pid: int, addr: int, data: bytes) -> None:
    """Write `data` at `addr` (8-byte aligned) with PTRACE_POKEDATA, word by word.

    The last word is zero-padded: callers write into scratch slots they own.
    """
    if addr % 8:
        raise ValueError("unaligned scratch write")
    padded = data + b"\0" * (-len(data) % 8)
    for off in range(0, len(padded), 8):
        pt.pokedata(pid, addr + off, int.from_bytes(padded[off:off + 8], "little"))


def writable(pid: int, addr: int, size: int) -> bool:
    """Is [addr, addr+size) mapped writable in the tracee (/proc/PID/maps)?"""
    need, end = addr, addr + size
    with open(f"/proc/{pid}/maps", "rb") as f:
        for line in f:
            rng, perms = line.split(maxsplit=2)[:2]
            lo, hi = (int(x, 16) for x in rng.split(b"-"))
            if hi <= need:
                continue
            if lo > need or perms[1:2] != b"w":
                return False  # a hole or a read-only mapping
            need = hi
            if need >= end:
                return True
    return False


def write_any(pid: int, addr: int, data: bytes) -> None:
    """Write `data` at any address: edge words are read, merged and written back.

    For answers into the tracee's own buffers: POKEDATA writes through
    PROT_READ, the kernel's copy_to_user gives EFAULT, so the maps are checked.
    """
    if addr >= USER_END or addr < 0 or not writable(pid, addr, len(data)):
        raise OSError(14, "bad address")  # EFAULT
    start = addr & ~7
    end = (addr + len(data) + 7) & ~7
    buf = bytearray(read_exact(pid, start, end - start))
    buf[addr - start:addr - start + len(data)] = data
    for off in range(0, len(buf), 8):
        pt.pokedata(pid, start + off, int.from_bytes(buf[off:off + 8], "little"))


def read_exact(pid: int, addr: int, size: int) -> bytes:
    data = read_bytes(pid, addr, size)
    if len(data) != size:
        raise OSError(14, "short read of tracee memory")  # EFAULT
    return data


@datatype
class AddressSpace:
    """Scratch regions injected into one address space, carved into per-thread slots."""

    regions: list[int] = field(default_factory=list)
    free: list[int] = field(default_factory=list)
    owner: dict[int, int] = field(default_factory=dict)  # tid -> slot address
    broken: bool = False  # mmap injection failed: rewrites fail with ENOMEM

    def slot(self, tid: int) -> int | None:
        if tid in self.owner:
            return self.owner[tid]
        if not self.free:
            return None
        self.owner[tid] = self.free.pop()
        return self.owner[tid]

    def add_region(self, addr: int) -> None:
        self.regions.append(addr)
        self.free.extend(addr + i * SLOT for i in reversed(range(REGION // SLOT)))

    def release(self, tid: int) -> None:
        slot = self.owner.pop(tid, None)
        if slot is not None:
            self.free.append(slot)

    def forked(self) -> AddressSpace:
        """The child's copy after fork(): same mappings, no slot in use."""
        child = AddressSpace()
        for addr in self.regions:
            child.add_region(addr)
        return child


def mmap_regs(saved: pt.Regs) -> pt.Regs:
    """`saved` (a seccomp stop) turned into the scratch mmap call."""
    regs = pt.copy_regs(saved)
    regs.orig_rax = NR["mmap"]
    regs.rax = NR["mmap"]
    regs.rdi = 0
    regs.rsi = REGION
    regs.rdx = PROT_READ | PROT_WRITE
    regs.r10 = MAP_PRIVATE | MAP_ANONYMOUS
    regs.r8 = pt.WORD_MASK  # fd -1
    regs.r9 = 0
    return regs


def replay_regs(saved: pt.Regs) -> pt.Regs:
    """Registers that re-execute the original syscall of `saved` on resume."""
    regs = pt.copy_regs(saved)
    regs.rip = (int(saved.rip) - SYSCALL_INSN_LEN) & pt.WORD_MASK
    regs.rax = saved.orig_rax
    return regs
