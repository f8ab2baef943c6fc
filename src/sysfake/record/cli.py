"""`sysfake record`, `sysfake report` and `sysfake suggest` (see docs/record.md).

Each command parses its own arguments; bad input is one line on stderr and
exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..argparsing import Parser as _Parser
from ..argparsing import file_name


def _fail(msg: str) -> int:
    from ..text import printable  # a file name may hold a newline: still one line

    sys.stderr.write(f"sysfake: {printable(msg)}\n")
    return 2


def _parse(ap: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    try:
        return ap.parse_args(list(argv))
    except SystemExit as e:  # --help (0) or a usage error (2)
        return int(e.code) if isinstance(e.code, int) else 2


def _record_parser() -> argparse.ArgumentParser:
    from ..cli import _add_rule_args, _add_run_args
    from .recorder import DEFAULT_WATCH

    ap = _Parser(prog="sysfake record", description=(
        "Run a command traced, with rules in force, and write what it did with "
        "kernel files and refused syscalls to a trace file (JSON Lines)."))
    ap.add_argument("-o", "--output", required=True, metavar="TRACE", type=file_name,
                    help="the trace file to write")
    ap.add_argument("--watch", action="append", default=[], metavar="PREFIX",
                    help="record path syscalls below this prefix (repeatable; default: "
                         + " ".join(DEFAULT_WATCH) + ")")
    ap.add_argument("--trap", action="append", default=[], metavar="SYSCALL",
                    help="also trap this syscall and record its failures (repeatable)")
    ap.add_argument("--no-default-traps", action="store_true",
                    help="do not trap the default list of often refused syscalls")
    _add_rule_args(ap)
    _add_run_args(ap)
    ap.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                    help="live process and event count on stderr (default: when a tty)")
    ap.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    return ap


def cmd_record(argv: Sequence[str]) -> int:
    from ..core import CoreError
    from ..rules import RulesError, load_detailed
    from ..rules.suggest import did_you_mean
    from ..tempdirs import TempDirs
    from .recorder import DEFAULT_WATCH, RecordError, canonical_watch, record
    from .syscalls import SYSCALL_NAMES, TRAPPED, number_of

    ns = _parse(_record_parser(), argv)
    if isinstance(ns, int):
        return ns
    cmd: list[str] = list(ns.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        return _fail("error: no command given (sysfake record -o TRACE [OPTIONS] -- CMD ...)")
    why = _bad_output(ns.output, list(ns.rules), "the rules it runs with")
    if why:
        return _fail(why)
    try:  # before the rules are loaded (and a profile's directories made)
        watch = canonical_watch(ns.watch or list(DEFAULT_WATCH))
    except RecordError as err:
        return _fail(str(err))
    traps = [] if ns.no_default_traps else list(TRAPPED)
    for name in ns.trap:
        if number_of(name) is None:
            return _fail(f"error: --trap {name}: unknown syscall"
                         f"{did_you_mean(name, [str(n) for n in SYSCALL_NAMES.values()])}")
        if name not in traps:
            traps.append(name)
    try:  # as run loads them: --disable-rule, and a profile's cgroup tree
        loaded = load_detailed(ns.rules, ns.fake, ns.redirect, ns.hide, ns.profile,
                               disable_rules=ns.disable_rule)
    except RulesError as err:
        return _fail(str(err))
    if loaded.cgroupfs is None:
        rules, cleanup = loaded.ruleset(), TempDirs()
    else:
        from ..cgroupfs import prepare_runtime
        rules, cleanup = prepare_runtime(loaded)
    try:
        from ..vdirs import prepare as prepare_dirs
        rules, cleanup_dirs = prepare_dirs(rules)
        try:
            return record(cmd, ns.output, rules, watch, traps,
                          orphans=ns.orphans, grace=ns.grace, verbose=ns.verbose,
                          progress=ns.progress, disable=ns.disable)
        except (RecordError, CoreError) as err:
            return _fail(str(err))
        finally:
            cleanup_dirs()
    finally:
        cleanup()


def _load(path: str) -> object:
    from .analyze import analyze
    from .trace import TraceError, load_trace

    try:
        return analyze(load_trace(path))
    except TraceError as err:
        return str(err)


def cmd_report(argv: Sequence[str]) -> int:
    from .analyze import Analysis
    from .report import render

    ap = _Parser(prog="sysfake report", description=(
        "Summarise a trace: what failed, by file and by program, which rules acted, "
        "and the process tree."))
    ap.add_argument("trace", metavar="TRACE")
    ns = _parse(ap, argv)
    if isinstance(ns, int):
        return ns
    a = _load(ns.trace)
    if not isinstance(a, Analysis):
        return _fail(str(a))
    try:
        sys.stdout.write(render(a))
        sys.stdout.flush()
    except BrokenPipeError:  # `sysfake report T | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


def cmd_suggest(argv: Sequence[str]) -> int:
    from .analyze import Analysis
    from .suggest import suggest
    from .sysctl import SysctlDataError, load_known

    ap = _Parser(prog="sysfake suggest", description=(
        "Write a rules file (YAML) that fakes what failed in a trace."))
    ap.add_argument("trace", metavar="TRACE")
    ap.add_argument("-o", "--output", metavar="FILE", type=file_name,
                    help="write here instead of stdout")
    ap.add_argument("--no-host", action="store_true",
                    help="do not use this host's /proc/sys values")
    ap.add_argument("--data", metavar="FILE",
                    help="known sysctl values (default: the shipped sysctl-defaults.yaml)")
    ns = _parse(ap, argv)
    if isinstance(ns, int):
        return ns
    from pathlib import Path  # not at import: `record` does not need it

    why = _bad_output(ns.output, [ns.trace], "the trace they come from") if ns.output else None
    if why:
        return _fail(why)
    try:
        known = load_known(Path(ns.data) if ns.data else None)
    except SysctlDataError as err:
        return _fail(str(err))
    a = _load(ns.trace)
    if not isinstance(a, Analysis):
        return _fail(str(a))
    text = suggest(a, known, None if ns.no_host else "/")
    if ns.output:
        try:
            Path(ns.output).write_text(text, encoding="utf-8", errors="backslashreplace")
        except OSError as e:
            return _fail(f"cannot write {ns.output}: {e.strerror or e}")
    else:
        sys.stdout.write(text)
    return 0


def _bad_output(out: str, inputs: list[str], what: str) -> str | None:
    """Why `out` must not be written: it is one of the inputs, or a kernel
    file (a trace written into /proc/sys/kernel/hostname set the hostname)."""
    if any(_same_file(out, i) for i in inputs):
        return f"{out}: will not write over {what} (choose another -o FILE)"
    try:  # a pipe, a terminal, /dev/null (/dev/stdout leads through /proc) are fine
        if os.stat(out).st_mode & 0o170000 != 0o100000:
            return None
    except OSError:
        pass
    real = os.path.realpath(out)
    if real.startswith(("/proc/", "/sys/")):
        return f"{out}: will not write into {real.split('/')[1]}'s kernel files ({real})"
    return None


def _same_file(a: str, b: str) -> bool:
    """Whether two names are one file (a link or another spelling counts too)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # either is missing (or not a name): not the same
        return os.path.abspath(a) == os.path.abspath(b)


__all__ = ["cmd_record", "cmd_report", "cmd_suggest"]
