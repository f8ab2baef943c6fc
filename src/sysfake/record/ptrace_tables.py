"""python-ptrace's syscall tables and argument formatters, without importing python-ptrace.

Importing any part of python-ptrace runs its package, which imports all of it:
logging, ctypes, socket, datetime, and an `ldconfig -p` subprocess (ctypes.util
finding libc). That is 25-40 ms, and record mode paid it at its first syscall
or fork record. What record mode reads from python-ptrace is data: prototypes,
aliases, per-syscall constants, and which formatter each argument has; its
formatters are a few lines each over bitmask tables.

So `_ptrace_snapshot.py` holds that data, generated from python-ptrace by
`python -m sysfake.record.ptrace_tables > src/sysfake/record/_ptrace_snapshot.py`,
and FORMATTERS below gives each python-ptrace formatter's text for a value.
The snapshot is used only when the installed python-ptrace is the version it
was made from (its version.py, read on its own); otherwise everything comes
from the ordinary import. tests/record/test_ptrace_tables.py checks that the
snapshot is what python-ptrace gives and that every formatter agrees with
python-ptrace's over many values.

Files of python-ptrace that have no imports (the x86_64 names, version.py,
signames.py) are run on their own (`ptrace_file`), not imported.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from functools import cache

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import Any

#: (syscall, argument) -> text of a value, or None for no text
Formatter = Callable[[int], "str | None"]
Prototype = tuple[str, tuple[tuple[str, str], ...]]

_PTRACE = "ptrace"


def ptrace_file(*parts: str) -> dict[str, Any]:
    """The globals of one python-ptrace file run on its own (its imports, if it
    had any, would be ordinary ones). find_spec locates the package without
    running its code; the file's cached bytecode is used as by an import.
    ImportError if python-ptrace is not a package directory (a zipped install)."""
    pkg = importlib.util.find_spec(_PTRACE)
    if pkg is None or not pkg.submodule_search_locations:
        raise ImportError("python-ptrace is not installed as a package directory")
    path = os.path.join(next(iter(pkg.submodule_search_locations)), *parts) + ".py"
    spec = importlib.util.spec_from_file_location("_sysfake_ptrace_" + "_".join(parts), path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return vars(mod)


def installed_version() -> tuple[int, ...] | None:
    """python-ptrace's VERSION, from its version.py alone; None if unreadable."""
    if "ptrace.version" in sys.modules:
        v = sys.modules["ptrace.version"].VERSION
    else:
        try:
            v = ptrace_file("version").get("VERSION")
        except Exception:
            return None
    return tuple(v) if isinstance(v, tuple) else None


# ------------------------------------------------- python-ptrace's formatters
# Each takes the argument's value as sysfake reads it (syscalls.arg_value) and
# gives python-ptrace's text: the function of the same name in
# ptrace/syscall/posix_arg.py or socketcall_constants.py.

def read_bits(value: int, masks: tuple[tuple[int, str], ...]) -> list[str]:
    """ptrace.tools.readBits."""
    out: list[str] = []
    for mask, name in masks:
        if value & mask:
            out.append(name)
            value &= ~mask
    if value:
        out.append(str(value))
    return out


def _format_bits(value: int, masks: tuple[tuple[int, str], ...], empty: str) -> str:
    """ptrace.tools.formatBits with an empty text."""
    bits = read_bits(value, masks)
    if not bits:
        return empty
    return f"<{'|'.join(bits)}> ({value})" if value else "|".join(bits)


def _formatters(s: Any) -> dict[str, Formatter]:
    """python-ptrace's formatters by name, over the snapshot `s`'s tables."""
    masks: Mapping[str, tuple[tuple[int, str], ...]] = s.BITMASKS

    def open_flags(v: int) -> str:
        flags = read_bits(v, masks["OPEN_FLAGS_BITMASK"])
        if not flags or flags[0] not in ("O_WRONLY", "O_RDWR"):
            flags.insert(0, "O_RDONLY")
        text = "|".join(flags)
        return f"{text} ({oct(v)})" if v else text

    def open_mode(v: int) -> str:
        return oct(v) if v else "|".join(read_bits(v, masks["OPEN_MODE_BITMASK"]))

    def clone_flags(v: int) -> str:
        bits = read_bits(v, masks["CLONE_FLAGS_BITMASK"])
        if v & 0xFF:
            bits.insert(0, signal_name(v & 0xFF))
        return f"<{'|'.join(bits)}> ({v})" if bits else str(v)

    def socket_type(v: int) -> str:
        cloexec = v & s.SOCK_CLOEXEC
        v &= ~s.SOCK_CLOEXEC
        text: str = s.SOCKET_TYPE.get(v, str(v))
        return text + "|SOCK_CLOEXEC" if cloexec else text

    def dir_fd(v: int) -> str:
        v &= 0xFFFFFFFF  # ptrace.ctypes_tools.uint2int (32-bit)
        v = v - (1 << 32) if v & 0x80000000 else v
        return "AT_FDCWD" if v == s.AT_FDCWD else str(v)

    return {
        "formatMmapProt": lambda v: _format_bits(v, masks["MMAP_PROT_BITMASK"], "PROT_NONE"),
        "formatAccessMode": lambda v: _format_bits(v, masks["ACCESS_MODE_BITMASK"], "F_OK"),
        "formatOpenFlags": open_flags,
        "formatOpenMode": open_mode,
        "formatCloneFlags": clone_flags,
        "formatDirFd": dir_fd,
        "formatSocketType": socket_type,
        # reads the process's memory through python-ptrace: no text here
        "formatOptVal": lambda v: None,
    }


#: python-ptrace's bitmask tables the formatters (and clone_text) read
BITMASK_NAMES = ("MMAP_PROT_BITMASK", "ACCESS_MODE_BITMASK", "OPEN_FLAGS_BITMASK",
                 "OPEN_MODE_BITMASK", "CLONE_FLAGS_BITMASK")


class Tables:
    """Prototypes, aliases, constants, and a formatter per (syscall, argument)."""

    def __init__(self, prototypes: Mapping[str, Prototype],
                 aliases: Mapping[str, tuple[str, ...]],
                 constants: Mapping[str, Mapping[str, Mapping[int, str]]],
                 formatters: Mapping[str, Mapping[str, Formatter]],
                 bitmasks: Mapping[str, tuple[tuple[int, str], ...]],
                 filename_arguments: frozenset[str], source: str) -> None:
        self.prototypes = prototypes
        self.aliases = aliases
        self.constants = constants
        self.formatters = formatters
        self.bitmasks = bitmasks
        self.filename_arguments = filename_arguments  # argument names that are paths
        self.source = source  # "snapshot" or "python-ptrace"


def _from_snapshot() -> Tables | None:
    from . import _ptrace_snapshot as s

    if installed_version() != s.PTRACE_VERSION:
        return None
    by_name = _formatters(s)
    formatters = {sc: {arg: by_name[fn] for arg, fn in args.items()}
                  for sc, args in s.CALLBACKS.items()}
    return Tables(s.PROTOTYPES, s.ALIASES, s.CONSTANTS, formatters, s.BITMASKS,
                  s.FILENAME_ARGUMENTS, "snapshot")


class _Arg:
    """The little of python-ptrace's SyscallArgument that its formatters read."""

    def __init__(self, value: int) -> None:
        self.value = value


def _live_formatter(cb: Callable[[Any], Any]) -> Formatter:
    def text(v: int) -> str | None:
        try:
            return str(cb(_Arg(v)))
        except Exception:  # a formatter that wants the process's memory: no text
            return None
    return text


def _live() -> Tables:
    from ptrace.syscall import SYSCALL_PROTOTYPES, posix_arg
    from ptrace.syscall.prototypes import ALIASES, FILENAME_ARGUMENTS
    from ptrace.syscall.syscall_argument import ARGUMENT_CALLBACK, SYSCALL_ARG_DICT

    formatters = {sc: {arg: _live_formatter(cb) for arg, cb in args.items()}
                  for sc, args in ARGUMENT_CALLBACK.items()}
    bitmasks = {n: tuple(getattr(posix_arg, n)) for n in BITMASK_NAMES}
    return Tables(SYSCALL_PROTOTYPES, ALIASES, SYSCALL_ARG_DICT, formatters, bitmasks,
                  frozenset(FILENAME_ARGUMENTS), "python-ptrace")


@cache
def tables() -> Tables:
    """The snapshot when it matches the installed python-ptrace, else python-ptrace."""
    return _from_snapshot() or _live()


@cache
def _signal_names() -> Mapping[int, str]:
    try:
        alone: Mapping[int, str] = ptrace_file("signames")["SIGNAMES"]
        return alone
    except Exception:
        from ptrace.signames import SIGNAMES
        return SIGNAMES  # type: ignore[no-any-return]


def signal_name(sig: int) -> str:
    """ptrace.signames.signalName: SIGTERM for 15, signal<404> for an unknown number."""
    return _signal_names().get(sig, f"signal<{sig}>")


# ------------------------------------------------- generating the snapshot

def snapshot_source() -> str:
    """The text of _ptrace_snapshot.py, from the installed python-ptrace."""
    import pprint
    import socket
    from types import SimpleNamespace

    from ptrace.syscall import posix_arg
    from ptrace.syscall.socketcall_constants import SOCKET_TYPE
    from ptrace.syscall.syscall_argument import ARGUMENT_CALLBACK
    from ptrace.version import VERSION

    live = _live()  # the tables as the ordinary import gives them
    known = set(_formatters(SimpleNamespace(BITMASKS={})))
    callbacks = {sc: {arg: cb.__name__ for arg, cb in args.items()}
                 for sc, args in ARGUMENT_CALLBACK.items()}
    unknown = {n for args in callbacks.values() for n in args.values()} - known
    if unknown:
        raise SystemExit(f"python-ptrace {VERSION} has formatters sysfake does not "
                         f"mirror: {', '.join(sorted(unknown))} (ptrace_tables._formatters)")

    def fmt(name: str, typ: str, value: object) -> str:
        return f"{name}: {typ} = {pprint.pformat(value, width=99, sort_dicts=False)}\n\n"

    return (
        '"""python-ptrace\'s syscall tables, as data (see ptrace_tables.py).\n\n'
        "Generated by `python -m sysfake.record.ptrace_tables`: do not edit.\n"
        '"""\n'
        "# ruff: noqa: E501\n"
        "from __future__ import annotations\n\n"
        + fmt("PTRACE_VERSION", "tuple[int, ...]", tuple(VERSION))
        + fmt("PROTOTYPES", "dict[str, tuple[str, tuple[tuple[str, str], ...]]]",
              {k: (v[0], tuple(tuple(a) for a in v[1])) for k, v in live.prototypes.items()})
        + fmt("ALIASES", "dict[str, tuple[str, ...]]",
              {k: tuple(v) for k, v in live.aliases.items()})
        + fmt("FILENAME_ARGUMENTS", "frozenset[str]", _Sorted(live.filename_arguments))
        + fmt("CONSTANTS", "dict[str, dict[str, dict[int, str]]]", live.constants)
        + fmt("CALLBACKS", "dict[str, dict[str, str]]", callbacks)
        + fmt("BITMASKS", "dict[str, tuple[tuple[int, str], ...]]",
              {n: tuple(tuple(m) for m in masks) for n, masks in live.bitmasks.items()})
        + fmt("SOCKET_TYPE", "dict[int, str]", SOCKET_TYPE)
        + fmt("SOCK_CLOEXEC", "int", int(getattr(socket, "SOCK_CLOEXEC", 0)))
        + fmt("AT_FDCWD", "int", int(posix_arg.AT_FDCWD))
    ).rstrip("\n") + "\n"


class _Sorted(frozenset[str]):
    """A frozenset written in sorted order (a set's repr follows string hashes,
    which differ from one run to the next)."""

    def __repr__(self) -> str:
        return f"frozenset({tuple(sorted(self))!r})"


def main() -> None:
    sys.stdout.write(snapshot_source())


if __name__ == "__main__":
    main()
