"""What a rule does to one trapped syscall: the decision, independent of ptrace.

* hide -> fail with ENOENT, errno -> fail with the rule's errno (the syscall is
  skipped at the seccomp stop);
* redirect -> the path argument is replaced by the redirected absolute path;
* content -> a virtual file backed by a tracer-owned memfd.  Opens are rewritten
  to /proc/<tracer pid>/fd/<memfd> (O_NOFOLLOW, openat2 RESOLVE_* cleared), so
  writes are shared and seen by later reads; stat/lstat/newfstatat/statx/statfs,
  access/faccessat/faccessat2 and truncate are answered by the tracer (a regular
  file of the content's size with the rule's mode/uid/gid, nlink 1); every other
  syscall gets the fixed answer of CONTENT_ANSWER, mirroring the vfile column of
  csrc/syscalls_x86_64.c (readlink -> EINVAL, execve -> EACCES, unlink -> EPERM...).

Unsupported table features are refused by ``load_table``.
"""
from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct
from typing import Callable

from sysfake.model import Action, PathRule, RuleSet, VirtualFile
from sysfake.paths import redirect_target, rule_applies
from sysfake.table import HEADER, PATH_RULE, decode

from ...datatype import datatype, field
from . import syscalls as sc
from .memory import PATH_MAX

O_ACCMODE = 0o3
O_CREAT, O_EXCL, O_TRUNC = 0o100, 0o200, 0o1000
O_WRONLY = 0o1
O_DIRECTORY = 0o200000
O_NOFOLLOW = 0o400000
R_OK, W_OK, X_OK = 4, 2, 1
AT_EMPTY_PATH = 0x1000
STATX_BASIC_STATS = 0x7FF
STATX_SIZE = 256
STATFS_SIZE = 120
OPEN_HOW_MIN, OPEN_HOW_MAX = 24, 256
MS_BIND, MS_MOVE = 4096, 8192

# how a virtual file answers each syscall (see csrc/syscalls_x86_64.c)
OPEN, STAT, STATX, ACCESS, STATFS, TRUNCATE, REWRITE, SUCCESS = (
    "open", "stat", "statx", "access", "statfs", "truncate", "rewrite", "success")
CONTENT_ANSWER: dict[str, str | int] = {
    "open": OPEN, "openat": OPEN, "creat": OPEN, "openat2": OPEN,
    "stat": STAT, "lstat": STAT, "newfstatat": STAT, "statx": STATX,
    "access": ACCESS, "faccessat": ACCESS, "faccessat2": ACCESS,
    "statfs": STATFS, "truncate": TRUNCATE,
    "readlink": errno.EINVAL, "readlinkat": errno.EINVAL,
    "execve": errno.EACCES, "execveat": errno.EACCES,
    "chdir": errno.ENOTDIR, "chroot": errno.ENOTDIR, "pivot_root": errno.EINVAL,
    "mkdir": errno.EEXIST, "mkdirat": errno.EEXIST, "rmdir": errno.ENOTDIR,
    "unlink": errno.EPERM, "unlinkat": errno.EPERM,
    "mknod": errno.EEXIST, "mknodat": errno.EEXIST,
    "rename": errno.EPERM, "renameat": errno.EPERM, "renameat2": errno.EPERM,
    "link": errno.EPERM, "linkat": errno.EPERM,
    "symlink": errno.EEXIST, "symlinkat": errno.EEXIST,
    "chmod": SUCCESS, "fchmodat": SUCCESS, "fchmodat2": SUCCESS,
    "chown": SUCCESS, "lchown": SUCCESS, "fchownat": SUCCESS,
    "utime": SUCCESS, "utimes": SUCCESS, "futimesat": SUCCESS, "utimensat": SUCCESS,
    "setxattr": errno.EOPNOTSUPP, "lsetxattr": errno.EOPNOTSUPP,
    "getxattr": errno.ENODATA, "lgetxattr": errno.ENODATA,
    "listxattr": SUCCESS, "llistxattr": SUCCESS,
    "removexattr": errno.ENODATA, "lremovexattr": errno.ENODATA,
    "inotify_add_watch": REWRITE, "fanotify_mark": REWRITE, "mount": REWRITE,
    "umount2": errno.EINVAL, "swapon": errno.EPERM, "swapoff": errno.EPERM,
    "acct": errno.EPERM, "uselib": errno.ENOEXEC, "name_to_handle_at": errno.EOPNOTSUPP,
    "open_tree": errno.EINVAL, "move_mount": errno.EINVAL, "fspick": errno.EINVAL,
    "mount_setattr": errno.EINVAL,
}
STAT_BUF_ARG = {"stat": 1, "lstat": 1, "newfstatat": 2}
STATX_BUF_ARG = 4
STATFS_BUF_ARG = 1
ACCESS_MODE_ARG = {"access": 1, "faccessat": 2, "faccessat2": 2}
OPEN_FLAGS_ARG = {"open": 1, "openat": 2}
OPENAT2_HOW_ARG = 2

_libc = ctypes.CDLL(None, use_errno=True)

_OPENAT2_MISSING: list[bool] = []


def _openat2_missing() -> bool:
    """The kernel has no openat2 (gVisor); asked once, in the tracer (same kernel)."""
    if not _OPENAT2_MISSING:
        _libc.syscall.restype = ctypes.c_long
        rc = _libc.syscall(ctypes.c_long(sc.NR["openat2"]), -1, None, None, ctypes.c_size_t(0))
        _OPENAT2_MISSING.append(rc < 0 and ctypes.get_errno() == errno.ENOSYS)
    return _OPENAT2_MISSING[0]


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
        self.files: dict[int, VirtualFile] = {}
        me = os.getpid()
        self.paths: dict[int, bytes] = {}
        for i, r in enumerate(rules.path_rules):
            if r.action is not Action.CONTENT or r.vfile is None:
                continue
            v = r.vfile
            fd = os.memfd_create("sysfake-vfile", os.MFD_CLOEXEC)
            view = memoryview(v.content)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, 0o666)  # reachable by path; stat answers report v.mode
            self.fds[i] = fd
            self.files[i] = v
            self.paths[i] = f"/proc/{me}/fd/{fd}".encode()

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


@datatype
class Outcome:
    """ret: skip the syscall and return ret (0 or -errno), after `writes` into
    tracee memory.  Otherwise the argument rewrites to apply."""

    ret: int | None = None
    writes: list[tuple[int, bytes]] = field(default_factory=list)
    paths: dict[int, bytes] = field(default_factory=dict)  # argument index -> new path
    clear_bits: dict[int, int] = field(default_factory=dict)  # argument index -> bits
    how: tuple[int, bytes] | None = None  # (argument index, new struct open_how)



def _wants_dir(raw: str | bytes) -> bool:
    """'x/' and 'x/.' name a directory: the kernel gives ENOTDIR for a file."""
    r = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    return r.endswith(b"/") or r == b"." or r.endswith(b"/.")


def _fail(err: int) -> Outcome:
    return Outcome(ret=-err)


@datatype
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
        info = call.info
        if info.name == "openat2" and _openat2_missing():
            return None  # gVisor: the kernel's ENOSYS comes before any lookup
        for n, (argi, dirfdi) in enumerate(info.paths):
            cond = sc.CONDITIONAL_PATHS.get((info.name, argi))
            if cond is not None and not call.args[cond[0]] & cond[1]:
                continue  # e.g. the source of a mount that is not a bind/move
            raw = call.read_string(call.args[argi])
            if raw is None:
                continue  # NULL, EFAULT, too long: the kernel reports it as usual
            absolute = call.absolute(raw, None if dirfdi is None else call.args[dirfdi])
            if absolute is None:
                continue
            path = call.canonical(absolute)
            rule = self._match(call, path)
            if rule is None:
                continue
            if rule.action is Action.HIDE:
                return _fail(errno.ENOENT)
            if rule.action is Action.ERRNO:
                return Outcome(ret=-rule.errno)
            if rule.action is Action.REDIRECT:
                new = redirect_target(rule, path).encode("utf-8", "surrogateescape")
                if _wants_dir(raw) and not new.endswith(b"/"):
                    new += b"/"  # a file target must still give ENOTDIR
                if len(new) >= PATH_MAX:
                    return _fail(errno.ENAMETOOLONG)
                out.paths[argi] = new
                continue
            idx = self.index[id(rule)]
            answer = CONTENT_ANSWER.get(info.name, errno.EOPNOTSUPP)
            if n > 0 or len(info.paths) > 1:  # rename/link/mount naming a virtual file
                if answer == SUCCESS:
                    return Outcome(ret=0)
                return _fail(answer if isinstance(answer, int) else errno.EPERM)
            as_dir = _wants_dir(raw)
            if as_dir and answer != OPEN:  # "file/": the lookup wants a directory
                return _fail(errno.EEXIST if answer == errno.EEXIST else errno.ENOTDIR)
            return self._content(call, idx, argi, answer, as_dir)
        return out if out.paths else None

    def _content(self, call: Call, idx: int, argi: int, answer: str | int,
                 as_dir: bool = False) -> Outcome:
        v = self.vfiles.files[idx]
        fd = self.vfiles.fds[idx]
        a = call.args
        name = call.info.name
        if isinstance(answer, int):
            return _fail(answer)
        if answer == SUCCESS:
            return Outcome(ret=0)
        if answer == OPEN:
            return self._open(call, idx, argi, v, as_dir)
        if answer == REWRITE:
            return Outcome(paths={argi: self.vfiles.paths[idx]})
        if answer == STAT:
            return Outcome(ret=0, writes=[(a[STAT_BUF_ARG[name]], stat_bytes(fd, v))])
        if answer == STATX:
            return Outcome(ret=0, writes=[(a[STATX_BUF_ARG], statx_bytes(fd, v))])
        if answer == STATFS:
            buf = ctypes.create_string_buffer(STATFS_SIZE)
            if _libc.fstatfs(fd, buf) != 0:
                return _fail(errno.EIO)
            return Outcome(ret=0, writes=[(a[STATFS_BUF_ARG], buf.raw)])
        if answer == ACCESS:
            mode = a[ACCESS_MODE_ARG[name]]
            if (mode & R_OK and not v.mode & 0o444) or (
                    mode & W_OK and (v.readonly or not v.mode & 0o222)) or (
                    mode & X_OK and not v.mode & 0o111):
                return _fail(errno.EACCES)
            return Outcome(ret=0)
        # TRUNCATE
        if v.readonly:
            return _fail(errno.EACCES)
        length = a[1] - (1 << 64) if a[1] >> 63 else a[1]
        try:
            os.ftruncate(fd, length)
        except OSError as exc:
            return _fail(exc.errno or errno.EIO)
        return Outcome(ret=0)

    def _open(self, call: Call, idx: int, argi: int, v: VirtualFile,
              as_dir: bool = False) -> Outcome:
        name = call.info.name
        how = b""
        if name == "openat2":
            size = call.args[OPENAT2_HOW_ARG + 1]
            if size < OPEN_HOW_MIN:
                return _fail(errno.EINVAL)
            how = call.read_mem(call.args[OPENAT2_HOW_ARG], min(size, OPEN_HOW_MAX))
            if len(how) < OPEN_HOW_MIN:
                return _fail(errno.EFAULT)
            flags = struct.unpack_from("<Q", how)[0]
        elif name in OPEN_FLAGS_ARG:
            flags = call.args[OPEN_FLAGS_ARG[name]]
        else:  # creat
            flags = O_CREAT | O_WRONLY | O_TRUNC
        if as_dir:  # "file/": refused before any permission check
            return _fail(errno.EISDIR if flags & O_CREAT else errno.ENOTDIR)
        if v.readonly and (flags & O_ACCMODE or flags & O_TRUNC):
            return _fail(errno.EACCES)
        if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL:
            return _fail(errno.EEXIST)
        if flags & O_DIRECTORY:
            return _fail(errno.ENOTDIR)
        out = Outcome(paths={argi: self.vfiles.paths[idx]})
        if name == "openat2" and size <= OPEN_HOW_MAX:
            new = bytearray(how)
            _flags, mode, _resolve = struct.unpack_from("<QQQ", new)
            struct.pack_into("<QQQ", new, 0, flags & ~O_NOFOLLOW, mode, 0)
            out.how = (OPENAT2_HOW_ARG, bytes(new))
        elif name in OPEN_FLAGS_ARG and flags & O_NOFOLLOW:
            out.clear_bits[OPEN_FLAGS_ARG[name]] = O_NOFOLLOW
        return out


def stat_bytes(fd: int, v: VirtualFile) -> bytes:
    """struct stat (x86_64) of the memfd, as the virtual file presents itself."""
    st = os.fstat(fd)
    return struct.pack(
        "<QQQIIIiQqqqqqqqqqqqq", st.st_dev, st.st_ino, 1, stat.S_IFREG | (v.mode & 0o7777),
        v.uid, v.gid, 0, st.st_rdev, st.st_size, st.st_blksize, st.st_blocks,
        int(st.st_atime), st.st_atime_ns % 10**9, int(st.st_mtime), st.st_mtime_ns % 10**9,
        int(st.st_ctime), st.st_ctime_ns % 10**9, 0, 0, 0)


def statx_bytes(fd: int, v: VirtualFile) -> bytes:
    """struct statx of the memfd with mode/uid/gid/nlink of the virtual file."""
    buf = ctypes.create_string_buffer(STATX_SIZE)
    if _libc.statx(fd, b"", AT_EMPTY_PATH, STATX_BASIC_STATS, buf) != 0:
        raise OSError(ctypes.get_errno(), "statx")
    raw = bytearray(buf.raw)
    struct.pack_into("<III", raw, 16, 1, v.uid, v.gid)  # stx_nlink, stx_uid, stx_gid
    struct.pack_into("<H", raw, 28, stat.S_IFREG | (v.mode & 0o7777))  # stx_mode
    return bytes(raw)


def load_table(table: bytes) -> RuleSet:
    """Decode and validate a compiled table; refuse (UnsupportedTable) what we cannot do."""
    if len(table) >= HEADER.size:
        head = HEADER.unpack_from(table, 0)
        n_path, n_sys, flags = head[2], head[4], head[6]
        if n_sys:
            raise UnsupportedTable(
                f"the Python reference backend does not support syscall rules (table has {n_sys})")
        if flags:
            raise UnsupportedTable(
                f"the Python reference backend does not support emulations ({flags:#x})")
        if head[7]:
            raise UnsupportedTable("the Python reference backend does not support record mode")
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
