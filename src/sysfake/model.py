"""The in-memory rule model shared by the loader, the compiler and both backends."""
from __future__ import annotations

import enum

from .datatype import datatype, field


class MatchKind(enum.IntEnum):
    EXACT = 0
    PREFIX = 1  # pattern ends with "/": the directory itself and everything below
    GLOB = 2  # "*" stays inside one component, "**" crosses "/", "?" one char


class Action(enum.IntEnum):
    CONTENT = 1  # a virtual file served from a tracer-owned memfd
    REDIRECT = 2  # prefix mapped onto another prefix
    HIDE = 3  # ENOENT
    ERRNO = 4  # any errno


@datatype(frozen=True)
class Origin:
    """Where a rule came from, for error messages, `explain` and records."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        return self.file


class Generator(enum.IntEnum):
    STATIC = 0
    MOUNTINFO = 1  # the process's real mountinfo, then the rule's content


@datatype
class VirtualFile:
    content: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    readonly: bool = False
    generator: Generator = Generator.STATIC
    # A virtual directory: `content` is the tracer-view path of a directory of
    # placeholders whose names are the listing (filled in by sysfake.vdirs).
    directory: bool = False
    weak: bool = False  # directory: list only where the real one is missing
    listing: bool = True  # directory: False is `list: false`, no listing at all


@datatype
class PathRule:
    match: str
    kind: MatchKind
    action: Action
    origin: Origin
    vfile: VirtualFile | None = None
    target: str | None = None
    errno: int = 0
    only_exe: str | None = None
    only_comm: str | None = None


class SysAction(enum.IntEnum):
    ERRNO = 1  # skip the call, fail with errno
    RETURN = 2  # skip the call, return a value
    PATCH = 3  # run the call, then patch its result structure
    PASS = 4  # stop matching: leave the call alone
    REWRITE = 5  # change arguments before the call (restored after)
    DELAY = 6  # only delay the call


class ArgOp(enum.IntEnum):
    EQ = 0
    ANY = 1  # any of the mask bits set
    ALL = 2  # all of the mask bits set
    NONE = 3  # none of the mask bits set
    NE = 4


class SetOp(enum.IntEnum):
    SET = 0
    OR = 1
    CLEAR = 2


@datatype
class ArgMatch:
    idx: int
    op: ArgOp
    value: int = 0
    mask: int = 0
    width: int = 8  # 4 for int-typed arguments (upper register half is undefined)


@datatype
class Patch:
    arg: int  # the argument that points at the result buffer
    offset: int
    data: bytes


@datatype
class ArgSet:
    idx: int
    op: SetOp
    value: int


@datatype
class SyscallRule:
    nr: int
    name: str
    action: SysAction
    origin: Origin
    errno: int = 0
    retval: int = 0
    path: str | None = None
    path_kind: MatchKind = MatchKind.EXACT
    path_arg: int | None = None
    path_fd: bool = False
    only_exe: str | None = None
    only_comm: str | None = None
    when_first: int = 1
    when_last: int = 0  # 0: no end
    when_step: int = 1
    delay_us: int = 0
    args: list[ArgMatch] = field(default_factory=list)
    patches: list[Patch] = field(default_factory=list)
    argsets: list[ArgSet] = field(default_factory=list)
    if_errno: list[int] = field(default_factory=list)


class Emulation(enum.IntFlag):
    CGROUPFS = 1
    PROCFD_MOUNT = 2
    PIVOT_ROOT_CHROOT = 4
    GLOBAL_UMOUNT = 8
    CAPSET_MASK = 16
    NETLINK_ACK = 32
    REAPER = 64


EMULATION_NAMES: dict[str, Emulation] = {
    "cgroupfs": Emulation.CGROUPFS,
    "procfd-mount": Emulation.PROCFD_MOUNT,
    "pivot-root-chroot": Emulation.PIVOT_ROOT_CHROOT,
    "global-umount": Emulation.GLOBAL_UMOUNT,
    "capset-mask": Emulation.CAPSET_MASK,
    "netlink-ack": Emulation.NETLINK_ACK,
    "reaper": Emulation.REAPER,
}


@datatype
class RuleSet:
    """Rules in precedence order: the first rule that matches decides."""

    path_rules: list[PathRule] = field(default_factory=list)
    syscall_rules: list[SyscallRule] = field(default_factory=list)
    emulations: Emulation = field(default_factory=lambda: Emulation(0))
    cgroupfs_root: str | None = None  # tracer-view directory behind /sys/fs/cgroup
    # a new cgroup directory's files, "<ctrl>/<name>\0<content>\0" each (cgroupfs.py)
    cgroupfs_files: bytes | None = None
