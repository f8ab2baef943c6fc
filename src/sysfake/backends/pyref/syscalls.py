"""Which x86_64 syscalls take paths, in which argument, relative to which dirfd.

Derived from python-ptrace's prototypes (``ptrace.syscall.SYSCALL_PROTOTYPES``)
and numbers (``ptrace.syscall.linux.x86_64.SYSCALL_NAMES``): an argument is a
path when its type is a (const) ``char *`` and its name is one of
python-ptrace's ``FILENAME_ARGUMENTS`` (plus ``EXTRA_PATH_NAMES``), or when it
directly follows a dirfd argument (``dfd``/``dirfd``/``olddfd``/``newdfd``);
that dirfd is then the base of a relative path.

The hand-written exceptions are all below and documented in docs/backends.md:

* ``NOT_PATHS``: ``char *`` arguments named like paths that are not looked up
  (getcwd's output buffer, the *target text* of symlink/symlinkat);
* ``MISSING_PROTOTYPES``: syscalls python-ptrace names but has no prototype for
  (umount2, openat2, faccessat2, open_tree, move_mount, fspick) or whose dirfd
  is not named like one (fanotify_mark), and acct;
* ``NEWER_SYSCALLS``: path syscalls newer than python-ptrace's table (Linux 5.8):
  mount_setattr, fchmodat2, the *xattrat family, open_tree_attr;
* ``AT_NOFOLLOW_ARG``/``OPEN_FLAGS_ARG``: which flag argument carries
  AT_SYMLINK_NOFOLLOW or O_NOFOLLOW (needed to serve a virtual file through a
  /proc magic link).
"""
from __future__ import annotations

from ...datatype import datatype
from ...record.ptrace_tables import tables
from ...record.syscalls import SYSCALL_NAMES
from ...record.syscalls import prototype as _record_prototype

EXTRA_PATH_NAMES = frozenset({"dir_name", "new_root", "put_old", "specialfile", "library"})
DIRFD_NAMES = frozenset({"dfd", "dirfd", "olddfd", "newdfd"})
NOT_PATHS = frozenset({("getcwd", "pathname"), ("symlink", "old"), ("symlinkat", "oldname")})

PathArg = tuple[int, "int | None"]  # (argument index, dirfd argument index or None)

MISSING_PROTOTYPES: dict[str, tuple[PathArg, ...]] = {
    "umount2": ((0, None),),
    "openat2": ((1, 0),),
    "faccessat2": ((1, 0),),
    "open_tree": ((1, 0),),
    "move_mount": ((1, 0), (3, 2)),
    "fspick": ((1, 0),),
    "fanotify_mark": ((4, 3),),
    "acct": ((0, None),),
    "mount": ((1, None), (0, None)),  # target first, then the (conditional) source
}
NEWER_SYSCALLS: dict[int, tuple[str, tuple[PathArg, ...]]] = {
    442: ("mount_setattr", ((1, 0),)),
    452: ("fchmodat2", ((1, 0),)),
    463: ("setxattrat", ((1, 0),)),
    464: ("getxattrat", ((1, 0),)),
    465: ("listxattrat", ((1, 0),)),
    466: ("removexattrat", ((1, 0),)),
    467: ("open_tree_attr", ((1, 0),)),
}
# path arguments that only count when a flag argument has some bits:
# (syscall, path argument) -> (flag argument, bits).  mount's source is a
# device name unless MS_BIND or MS_MOVE is given.
CONDITIONAL_PATHS: dict[tuple[str, int], tuple[int, int]] = {("mount", 0): (3, 4096 | 8192)}
FIRST_X32 = 512  # numbers from 512 on are the x32 ABI, which is not intercepted


@datatype(frozen=True)
class SyscallInfo:
    nr: int
    name: str
    paths: tuple[PathArg, ...]


def prototype(name: str) -> tuple[tuple[str, str], ...] | None:
    """python-ptrace's (type, name) argument list of a syscall, or None: the
    one lookup, with its aliases, is record.syscalls.prototype."""
    specs = _record_prototype(name)
    return None if specs is None else tuple((s.type or "", s.name) for s in specs)


def _path_args(name: str, args: tuple[tuple[str, str], ...]) -> tuple[PathArg, ...]:
    out: list[PathArg] = []
    for i, (ctype, aname) in enumerate(args):
        if "char *" not in ctype or "*const *" in ctype or (name, aname) in NOT_PATHS:
            continue
        prev_is_dirfd = i > 0 and args[i - 1][1] in DIRFD_NAMES
        if aname in tables().filename_arguments or aname in EXTRA_PATH_NAMES or prev_is_dirfd:
            out.append((i, i - 1 if prev_is_dirfd else None))
    return tuple(out)


def build() -> dict[int, SyscallInfo]:
    specs: dict[int, tuple[str, tuple[PathArg, ...]]] = {}
    for nr, name in SYSCALL_NAMES.items():
        if nr >= FIRST_X32:
            continue
        if name in MISSING_PROTOTYPES:
            specs[nr] = (name, MISSING_PROTOTYPES[name])
            continue
        args = prototype(name)
        if args is None:
            continue
        paths = _path_args(name, args)
        if paths:
            specs[nr] = (name, paths)
    for nr, (name, paths) in NEWER_SYSCALLS.items():
        specs[nr] = (name, paths)
    return {nr: SyscallInfo(nr, name, paths) for nr, (name, paths) in specs.items()}


SYSCALLS: dict[int, SyscallInfo] = build()
NR: dict[str, int] = {name: nr for nr, name in SYSCALL_NAMES.items() if nr < FIRST_X32}
