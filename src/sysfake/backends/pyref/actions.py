"""What a rule does to one trapped syscall: the decision, independent of ptrace.

* hide -> fail with ENOENT, errno -> fail with the rule's errno (the syscall is
  skipped at the seccomp stop);
* redirect -> the path argument is replaced by the redirected absolute path;
* content -> the path argument is replaced by /proc/<tracer pid>/fd/<memfd> of a
  tracer-owned memfd holding the content (mode/uid/gid set on the memfd, so
  stat/statx/access report them).  Because that path is a magic symlink,
  O_NOFOLLOW / AT_SYMLINK_NOFOLLOW are stripped and lstat/lchown/l*xattr become
  their following twins; readlink/readlinkat of a virtual file fail with EINVAL
  (it is a regular file); a write open of a read-only one fails with EACCES.

Unsupported table features are refused by ``check_supported``.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
from dataclasses import dataclass, field
from typing import Callable

from sysfake.model import Action, PathRule, RuleSet
from sysfake.paths import redirect_target, rule_applies
from sysfake.table import HEADER, PATH_RULE, decode

from . import syscalls as sc
from .memory import PATH_MAX

O_ACCMODE = 0o3
O_TRUNC = 0o1000
O_NOFOLLOW = 0o400000
AT_SYMLINK_NOFOLLOW = 0x100
RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS = 0x01, 0x02, 0x04
RESOLVE_BENEATH, RESOLVE_IN_ROOT = 0x08, 0x10
OPEN_HOW_MIN, OPEN_HOW_MAX = 24, 256
ALL_SEALS = 0x1 | 0x2 | 0x4 | 0x8  # F_SEAL_SEAL | SHRINK | GROW | WRITE


class UnsupportedTable(ValueError):
    """The table uses something the reference backend does not implement."""


def check_supported(rules: RuleSet) -> None:
    for i, r in enumerate(rules.path_rules):
        if r.action not in (Action.CONTENT, Action.REDIRECT, Action.HIDE, Action.ERRNO):
            raise UnsupportedTable(f"rule {i} ({r.match}): action {r.action!r} not supported")
        if r.action is Action.CONTENT and r.vfile is None:
            raise UnsupportedTable(f"rule {i} ({r.match}): content rule without a file")
        if r.action is Action.REDIRECT and not r.target:
            raise UnsupportedTable(f"rule {i} ({r.match}): redirect without a target")


class VirtualFiles:
    """One memfd per content rule, created before the command starts."""

    def __init__(self, rules: RuleSet) -> None:
        self.fds: dict[int, int] = {}
        me = os.getpid()
        self.paths: dict[int, bytes] = {}
        for i, r in enumerate(rules.path_rules):
            if r.action is not Action.CONTENT or r.vfile is None:
                continue
            v = r.vfile
            fd = os.memfd_create("sysfake", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            view = memoryview(v.content)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, v.mode & 0o7777)
            with contextlib.suppress(PermissionError):  # unprivileged: owned by the tracer
                os.fchown(fd, v.uid, v.gid)
            if v.readonly:
                fcntl.fcntl(fd, fcntl.F_ADD_SEALS, ALL_SEALS)
            self.fds[i] = fd
            self.paths[i] = f"/proc/{me}/fd/{fd}".encode()

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


@dataclass
class Outcome:
    """fail: skip the syscall and return -fail. Otherwise the rewrites to apply."""

    fail: int | None = None
    paths: dict[int, bytes] = field(default_factory=dict)  # argument index -> new path
    clear_bits: dict[int, int] = field(default_factory=dict)  # argument index -> bits
    new_nr: int | None = None
    how: tuple[int, bytes] | None = None  # (argument index, new struct open_how)


@dataclass
class Call:
    """One trapped syscall, with lazy access to what deciding it may need."""

    tid: int
    tgid: int
    info: sc.SyscallInfo
    args: tuple[int, ...]
    read_string: Callable[[int], bytes | None]
    read_mem: Callable[[int, int], bytes]
    absolute: Callable[[bytes, int | None], str | None]
    canonical: Callable[[str], str]
    exe: Callable[[], str | None]
    comm: Callable[[], str | None]


class Decider:
    def __init__(self, rules: RuleSet, vfiles: VirtualFiles) -> None:
        self.rules = rules
        self.vfiles = vfiles
        self.index = {id(r): i for i, r in enumerate(rules.path_rules)}
        self.needs_exe = any(r.only_exe is not None for r in rules.path_rules)
        self.needs_comm = any(r.only_comm is not None for r in rules.path_rules)

    def _match(self, call: Call, path: str) -> PathRule | None:
        exe = call.exe() if self.needs_exe else None
        comm = call.comm() if self.needs_comm else None
        for r in self.rules.path_rules:
            if rule_applies(r, path, exe, comm):
                return r
        return None

    def decide(self, call: Call) -> Outcome | None:
        out = Outcome()
        content = False
        for argi, dirfdi in call.info.paths:
            raw = call.read_string(call.args[argi])
            if raw is None:
                continue
            absolute = call.absolute(raw, None if dirfdi is None else call.args[dirfdi])
            if absolute is None:
                continue
            path = call.canonical(absolute)
            rule = self._match(call, path)
            if rule is None:
                continue
            trailing = "/" if raw.endswith(b"/") else ""
            if rule.action is Action.HIDE:
                return Outcome(fail=errno.ENOENT)
            if rule.action is Action.ERRNO:
                return Outcome(fail=rule.errno)
            if rule.action is Action.REDIRECT:
                new = redirect_target(rule, path)
                if trailing and not new.endswith("/"):
                    new += trailing
                out.paths[argi] = new.encode("utf-8", "surrogateescape")
            else:
                if call.info.name in sc.READLINK:
                    return Outcome(fail=errno.EINVAL)
                assert rule.vfile is not None
                if rule.vfile.readonly and self._writes(call):
                    return Outcome(fail=errno.EACCES)
                out.paths[argi] = self.vfiles.paths[self.index[id(rule)]] + trailing.encode()
                content = True
        if not out.paths:
            return None
        if any(len(p) >= PATH_MAX for p in out.paths.values()):
            return Outcome(fail=errno.ENAMETOOLONG)
        if content:
            self._follow(call, out)
        return out

    @staticmethod
    def _writes(call: Call) -> bool:
        name = call.info.name
        if name in sc.ALWAYS_WRITE:
            return True
        if name in sc.OPEN_FLAGS_ARG:
            flags = call.args[sc.OPEN_FLAGS_ARG[name]]
            return bool(flags & O_ACCMODE or flags & O_TRUNC)
        if name == "openat2":
            how = call.read_mem(call.args[sc.OPENAT2_HOW_ARG], 8)
            if len(how) == 8:
                flags = struct.unpack("<Q", how)[0]
                return bool(flags & O_ACCMODE or flags & O_TRUNC)
        return False

    @staticmethod
    def _follow(call: Call, out: Outcome) -> None:
        """A virtual file is reached through a magic symlink: make the call follow it."""
        name = call.info.name
        if call.info.follow_nr is not None:
            out.new_nr = call.info.follow_nr
        if name in sc.OPEN_FLAGS_ARG:
            out.clear_bits[sc.OPEN_FLAGS_ARG[name]] = O_NOFOLLOW
        if name in sc.AT_NOFOLLOW_ARG:
            out.clear_bits[sc.AT_NOFOLLOW_ARG[name]] = AT_SYMLINK_NOFOLLOW
        if name == "openat2":
            size = call.args[sc.OPENAT2_HOW_ARG + 1]
            if OPEN_HOW_MIN <= size <= OPEN_HOW_MAX:
                how = bytearray(call.read_mem(call.args[sc.OPENAT2_HOW_ARG], size))
                if len(how) == size:
                    flags, mode, resolve = struct.unpack_from("<QQQ", how)
                    resolve &= ~(RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS
                                 | RESOLVE_BENEATH | RESOLVE_IN_ROOT)
                    struct.pack_into("<QQQ", how, 0, flags & ~O_NOFOLLOW, mode, resolve)
                    out.how = (sc.OPENAT2_HOW_ARG, bytes(how))


def load_table(table: bytes) -> RuleSet:
    """Decode and validate a compiled table; refuse (UnsupportedTable) what we cannot do."""
    if len(table) >= HEADER.size:
        head = HEADER.unpack_from(table, 0)
        n_path, n_sys, flags = head[2], head[4], head[6]
        if n_sys:
            raise UnsupportedTable(
                f"the Python reference backend does not support syscall rules (table has {n_sys})")
        if flags:
            raise UnsupportedTable(f"unknown table flags {flags:#x}")
        for i in range(n_path):
            off = HEADER.size + i * PATH_RULE.size
            if off + PATH_RULE.size <= len(table):
                rflags = PATH_RULE.unpack_from(table, off)[2]
                if rflags:
                    raise UnsupportedTable(f"rule {i}: unknown rule flags {rflags:#x}")
    try:
        rules = decode(table)
    except ValueError as exc:
        raise UnsupportedTable(f"bad rule table: {exc}") from exc
    check_supported(rules)
    return rules
