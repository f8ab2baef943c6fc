"""Syscall names, numbers and argument formatting for records, from python-ptrace.

Names come from ``ptrace.syscall.linux.x86_64.SYSCALL_NAMES`` and argument
names/types from ``ptrace.syscall.SYSCALL_PROTOTYPES``; flags are shown
symbolically where python-ptrace has a formatter for them (open flags and
modes, access modes, clone flags, dirfds, socket types, mmap protections, and
its per-syscall constant tables). There are no hand-written syscall tables
here. The one list of our own is TRAPPED: the syscalls record mode also
traps, by name (see docs/record.md).

Importing any part of python-ptrace imports all of it (25-40 ms: ctypes,
logging, socket, an `ldconfig` run...). Record mode starts by needing only the
names, to trap by number: those are read from python-ptrace's x86_64 table on
its own (_x86_64_names). Prototypes, constants and formatters come at the
first syscall record from ptrace_tables.tables(): a snapshot of python-ptrace's
tables when it matches the installed version, else python-ptrace itself.
"""
from __future__ import annotations

import errno as _errno
import importlib
import sys
from collections.abc import Sequence
from functools import cache

from ..datatype import NamedTuple, datatype
from .ptrace_tables import Formatter, ptrace_file, signal_name, tables

#: Syscalls that sandboxes (gVisor, seccomp profiles, user namespaces)
#: typically refuse. In record mode the core traps these too and records
#: them when they fail with ENOSYS, EINVAL, EPERM, EOPNOTSUPP or EACCES.
#: Names python-ptrace does not know (newer than its table) are left out;
#: `unknown_trapped()` lists them.
TRAPPED: tuple[str, ...] = (
    # mounts and the root
    "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr",
    # devices, terminals, sockets
    "ioctl", "setsockopt", "mknod", "mknodat",
    # process and namespace control
    "prctl", "capset", "unshare", "setns", "clone3", "seccomp", "personality",
    "pidfd_open", "pidfd_getfd", "kcmp", "setrlimit", "prlimit64", "sched_setscheduler",
    "sched_setattr", "ioprio_set", "set_mempolicy", "mbind",
    # keyrings
    "keyctl", "add_key", "request_key",
    # filesystems and files
    "statfs", "fstatfs", "openat2", "name_to_handle_at", "open_by_handle_at",
    "fanotify_init", "userfaultfd", "quotactl",
    # kernel facilities
    "bpf", "perf_event_open", "io_uring_setup", "init_module", "finit_module",
    "delete_module", "syslog", "iopl", "ioperm", "landlock_create_ruleset",
    # host identity and time
    "sethostname", "setdomainname", "settimeofday", "clock_settime", "adjtimex",
)

#: Trapped syscalls that are trapped only when one argument (index) is
#: non-zero. prlimit64 with no new limit only reads one, which a sandbox does
#: not refuse; glibc reads RLIMIT_STACK in every new process, and trapping
#: that read cost each process two stops.
ONLY_WHEN_SET: dict[str, int] = {"prlimit64": 2}

#: errno values after which record mode records a trapped non-path syscall.
RECORDED_ERRNOS: tuple[str, ...] = ("ENOSYS", "EINVAL", "EPERM", "EOPNOTSUPP", "EACCES")

_X32_FIRST = 512  # python-ptrace's x86_64 table also lists the x32 numbers from 512
_NAMES_MODULE = "ptrace.syscall.linux.x86_64"


def _names_alone() -> dict[int, str]:
    """python-ptrace's x86_64 table, its file run on its own (it has no imports)."""
    names = ptrace_file(*_NAMES_MODULE.split(".")[1:]).get("SYSCALL_NAMES")
    if not isinstance(names, dict) or not names:
        raise ImportError(f"{_NAMES_MODULE} has no SYSCALL_NAMES table")
    return names


def _x86_64_names() -> dict[int, str]:
    """python-ptrace's SYSCALL_NAMES for x86_64, without importing python-ptrace;
    the ordinary import when it is imported already or the file cannot be run
    alone (another layout, a zipped install)."""
    if _NAMES_MODULE not in sys.modules:
        try:
            return _names_alone()
        except Exception:
            pass
    names: dict[int, str] = importlib.import_module(_NAMES_MODULE).SYSCALL_NAMES
    return names


SYSCALL_NAMES: dict[int, str] = _x86_64_names()


def _number_table() -> dict[str, int]:
    out: dict[str, int] = {}
    for nr, name in sorted(SYSCALL_NAMES.items()):
        out.setdefault(str(name), int(nr))  # the 64-bit number is the smaller one
    return out


_NUMBERS = _number_table()


def name_of(nr: int) -> str:
    """`openat` for 257; `syscall_NNN` when python-ptrace does not know the number."""
    if 0 <= nr < _X32_FIRST:
        name = SYSCALL_NAMES.get(nr)
        if name is not None:
            return str(name)
    return f"syscall_{nr}"


def number_of(name: str) -> int | None:
    """The x86_64 number of a syscall name, or None if python-ptrace does not know it."""
    nr = _NUMBERS.get(name)
    return nr if nr is not None and nr < _X32_FIRST else None


def trapped_numbers(names: Sequence[str] = TRAPPED) -> dict[str, int]:
    """name -> number for the names python-ptrace knows, in the given order."""
    out: dict[str, int] = {}
    for n in names:
        nr = number_of(n)
        if nr is not None:
            out[n] = nr
    return out


def unknown_trapped(names: Sequence[str] = TRAPPED) -> list[str]:
    return [n for n in names if number_of(n) is None]


def errno_name(err: int) -> str:
    return _errno.errorcode.get(err, f"E{err}")


def errno_number(name: str) -> int | None:
    v = getattr(_errno, name, None)
    return v if isinstance(v, int) and name.startswith("E") else None


# ---------------------------------------------------------------- arguments

# a NamedTuple (datatype's): cheaper to define than a frozen dataclass or
# typing's NamedTuple (start-up counts)
class ArgSpec(NamedTuple):
    """One argument of a python-ptrace prototype."""

    name: str
    type: str | None


def prototype(name: str) -> tuple[ArgSpec, ...] | None:
    """The argument list python-ptrace knows for a syscall (aliases followed)."""
    t = tables()
    proto = t.prototypes.get(name)
    if proto is None:
        for base, alts in t.aliases.items():
            if name in alts and base in t.prototypes:
                proto = t.prototypes[base]
                break
    if proto is None:
        return None
    return tuple(ArgSpec(str(n), str(t)) for t, n in proto[1])


_SIGNED32 = {"int", "pid_t", "uid_t", "gid_t", "clockid_t", "key_serial_t", "qid_t",
             "socklen_t", "mqd_t", "timer_t"}
_SIGNED64 = {"long", "off_t", "loff_t", "ssize_t"}


def value_kind(ctype: str | None) -> int:
    """How a register holds an argument of this C type: 32 or 64 (signed bits),
    0 (unsigned 32-bit), -1 (unsigned 64-bit)."""
    t = (ctype or "").replace("const ", "").strip()
    if t in _SIGNED32:
        return 32
    if t in _SIGNED64:
        return 64
    if t in ("unsigned int", "unsigned", "u32", "umode_t"):
        return 0
    return -1


def convert(kind: int, raw: int) -> int:
    """The integer a register holds, read as value_kind() says."""
    if kind == -1:
        return raw & 0xFFFFFFFFFFFFFFFF
    if kind == 0:
        return raw & 0xFFFFFFFF
    v = raw & ((1 << kind) - 1)
    return v - (1 << kind) if v >> (kind - 1) else v


def arg_value(ctype: str | None, raw: int) -> int:
    """The integer an argument register holds, read as its C type says."""
    return convert(value_kind(ctype), raw)


@cache
def _ioctl_names() -> dict[int, str]:
    import termios  # only for ioctl records

    names: dict[int, str] = {}
    for n in sorted(dir(termios)):
        if n.startswith(("TC", "TIOC", "FIO")):
            v = getattr(termios, n)
            if isinstance(v, int) and v > 0xFF:
                names.setdefault(v, n)
    return names


def ioctl_name(cmd: int) -> str | None:
    """Terminal/file ioctl names from Python's termios module, else None."""
    return _ioctl_names().get(cmd & 0xFFFFFFFF)


def arg_text(syscall: str, spec: ArgSpec, value: int) -> str | None:
    """A symbolic rendering of one argument, or None when only the number is known."""
    t = tables()
    table = t.constants.get(syscall, {}).get(spec.name)
    if table is not None and value in table:
        return str(table[value])
    fmt: Formatter | None = t.formatters.get(syscall, {}).get(spec.name)
    if fmt is not None:
        text = fmt(value)
        return None if text is None or text in ("", str(value)) else text
    if syscall == "ioctl" and spec.name == "cmd":
        n = ioctl_name(value)
        return f"{n} ({value:#x})" if n else f"{value:#x}"
    if spec.name in ("signum", "sig"):
        return signal_name(value)
    return None


def may_have_text(syscall: str, spec: ArgSpec) -> bool:
    """False when arg_text(syscall, spec, v) is None for every v (a pointer, a count)."""
    t = tables()
    return (spec.name in t.constants.get(syscall, {})
            or spec.name in t.formatters.get(syscall, {})
            or (syscall == "ioctl" and spec.name == "cmd") or spec.name in ("signum", "sig"))


@datatype(frozen=True)
class Arg:
    """One decoded argument of a syscall record."""

    name: str
    type: str | None
    value: int
    text: str | None = None


def decode_args(syscall: str, raw: Sequence[int]) -> list[Arg]:
    """Name, type, value (and symbolic text) of each argument.

    With a python-ptrace prototype, exactly its arguments; without one, all
    six registers as arg0..arg5 (untyped, unsigned)."""
    proto = prototype(syscall)
    if proto is None:
        return [Arg(f"arg{i}", None, int(v) & 0xFFFFFFFFFFFFFFFF) for i, v in enumerate(raw[:6])]
    out: list[Arg] = []
    for i, spec in enumerate(proto[:6]):
        v = arg_value(spec.type, int(raw[i]) if i < len(raw) else 0)
        out.append(Arg(spec.name, spec.type, v, arg_text(syscall, spec, v)))
    return out


def arg_by_name(args: Sequence[Arg], name: str) -> Arg | None:
    for a in args:
        if a.name == name:
            return a
    return None


_ACCMODE = 0o3


def access_kind(syscall: str, args: Sequence[Arg]) -> str:
    """'read', 'write', 'read/write' for opens, else the syscall name (stat, access...)."""
    if syscall in ("open", "openat", "creat"):
        if syscall == "creat":
            return "write"
        a = arg_by_name(args, "flags")
        if a is None:
            return syscall
        mode = a.value & _ACCMODE
        return {0: "read", 1: "write", 2: "read/write"}.get(mode, syscall)
    if syscall in ("truncate",):
        return "write"
    return syscall


__all__ = [
    "RECORDED_ERRNOS",
    "TRAPPED",
    "Arg",
    "ArgSpec",
    "access_kind",
    "arg_by_name",
    "arg_text",
    "arg_value",
    "convert",
    "decode_args",
    "errno_name",
    "errno_number",
    "ioctl_name",
    "may_have_text",
    "name_of",
    "number_of",
    "prototype",
    "trapped_numbers",
    "unknown_trapped",
    "value_kind",
]
