"""The `sysfake` command line."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .argparsing import Parser as _Parser
from .argparsing import number

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import NoReturn

    from .rules.loader import LoadResult


def _add_rule_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("rules")
    g.add_argument("--rules", "-r", action="append", default=[], metavar="FILE",
                   help="YAML rules file (repeatable)")
    g.add_argument("--profile", "-p", action="append", default=[], metavar="NAME",
                   help="built-in profile from rules/ (repeatable)")
    g.add_argument("--fake", action="append", default=[], metavar="PATH=TEXT",
                   help="virtual file with this content; C escapes like \\n work")
    g.add_argument("--redirect", action="append", default=[], metavar="SRC=DST",
                   help="map a path (or a prefix ending in /) onto another")
    g.add_argument("--hide", action="append", default=[], metavar="PATH",
                   help="make a path (or a prefix ending in /) report ENOENT")
    g.add_argument("--disable-rule", action="append", default=[], metavar="ID",
                   help="turn off the rules with this id (or an emulation, by name)")


#: --grace: seconds from 0 to 86400, what sysfake-exec takes (checked here,
#: before a profile's temporary directories are made).
_grace_seconds = number(float, lambda g: 0 <= g <= 86400, "seconds from 0 to 86400")


def _add_run_args(p: argparse.ArgumentParser) -> None:
    """How the traced command is run and ended: `run` and `record` share these."""
    p.add_argument("--orphans", choices=("kill", "wait"), default="kill",
                   help="when the command exits: SIGTERM (then SIGKILL) what it left "
                        "running (default), or wait for it")
    p.add_argument("--grace", type=_grace_seconds, default=2.0, metavar="SECONDS",
                   help="time between SIGTERM and SIGKILL for leftovers (default 2)")
    p.add_argument("--disable", action="append", default=[], metavar="MECH",
                   help="pretend a kernel mechanism is missing (debugging, benchmarks)")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="log every tracer decision to stderr")


def _add_run(sub: argparse._SubParsersAction[_Parser]) -> None:
    r = sub.add_parser("run", help="run a command with the rules applied")
    _add_rule_args(r)
    r.add_argument("--backend", choices=("c", "python"), default="c",
                   help="tracer implementation (python is the slow reference)")
    _add_run_args(r)
    r.add_argument("--no-profile", action="store_true",
                   help="no default profile when no rules are given (see sysfake doctor)")
    r.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")


def _add_compile(sub: argparse._SubParsersAction[_Parser]) -> None:
    co = sub.add_parser("compile", help="compile rules into DIR; DIR/sysfake-exec -- CMD then "
                                        "runs without Python (docs/compile.md)")
    _add_rule_args(co)
    co.add_argument("--output", "-o", required=True, metavar="DIR",
                    help="directory to write (new, empty, or an earlier compile's)")
    co.add_argument("--no-profile", action="store_true",
                    help="no default profile when no rules are given (see sysfake doctor)")


def _add_check(sub: argparse._SubParsersAction[_Parser]) -> None:
    c = sub.add_parser("check", help="validate rules files and print the compiled table")
    c.add_argument("files", nargs="+", metavar="FILE")


def _add_explain(sub: argparse._SubParsersAction[_Parser]) -> None:
    e = sub.add_parser("explain", help="say which rule decides a path and what it shows")
    e.add_argument("path")
    _add_rule_args(e)
    e.add_argument("--exe", help="exe path of the process that asks")
    e.add_argument("--comm", help="comm of the process that asks")
    e.add_argument("--syscall", metavar="NAME",
                   help="also say which syscall rules of NAME decide a call on the path")


def _add_other(sub: argparse._SubParsersAction[_Parser]) -> None:
    sub.add_parser("schema", help="print the JSON Schema of rules files")
    sub.add_parser("doctor", help="say what this environment lacks and what sysfake can do")
    b = sub.add_parser("bench", help="measure tracer overhead (see benchmarks/)", add_help=False)
    b.add_argument("args", nargs=argparse.REMAINDER)
    n = sub.add_parser("cni", help="the no-op CNI plugin", add_help=False)
    n.add_argument("args", nargs=argparse.REMAINDER)
    for name, what in (("record", "run a command traced and write a trace (docs/record.md)"),
                       ("report", "summarise a trace: failures, rules, process tree"),
                       ("suggest", "write rules that fix what failed in a trace")):
        sub.add_parser(name, help=what, add_help=False)


# Each argparse parser and argument costs gettext lookups (a stat of a .mo file
# each, ms inside gVisor): a run builds only its own sub-parser.
_COMMANDS: dict[str, Callable[[argparse._SubParsersAction[_Parser]], None]] = {
    "run": _add_run, "compile": _add_compile, "check": _add_check, "explain": _add_explain}


def _build(cmd: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `cmd`, one of _COMMANDS, only that command's sub-parser."""
    ap = _Parser(prog="sysfake", description=(
        "Run a command under a tracer that follows every descendant and fakes "
        "missing kernel interfaces from rules."))
    ap.add_argument("--version", action="version", version=f"sysfake {__version__}")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    if cmd in _COMMANDS:
        _COMMANDS[cmd](sub)
        return ap
    for add in _COMMANDS.values():
        add(sub)
    _add_other(sub)
    return ap


def _load(ns: argparse.Namespace, backend: str = "c",
          verbose: bool = False) -> LoadResult | None:
    """The rules the options name (or the default profile); None after a
    one-line error."""
    from .rules import RulesError, load_detailed

    profiles = list(ns.profile)
    if not (profiles or ns.rules or ns.fake or ns.redirect or ns.hide or ns.no_profile):
        from .environment import DEFAULT_PROFILE, detect_profile
        # gvisor in gVisor, else minimal; the Python reference backend has no
        # syscall rules or emulations, so it gets minimal everywhere
        profiles = [detect_profile() if backend == "c" else DEFAULT_PROFILE]
        if verbose:
            sys.stderr.write(f"sysfake: no rules given: using the {profiles[0]} profile "
                             "(sysfake doctor says why)\n")
    try:
        return load_detailed(ns.rules, ns.fake, ns.redirect, ns.hide, profiles,
                             disable_rules=ns.disable_rule)
    except RulesError as err:
        sys.stderr.write(f"sysfake: {err}\n")
        return None


def _cmd_compile(ns: argparse.Namespace) -> int:
    from .compiled import CompileError, compile_to
    from .text import os_error, printable, shell_quote

    loaded = _load(ns)
    if loaded is None:
        return 2
    try:
        exe = compile_to(ns.output, loaded)
    except OSError as err:
        sys.stderr.write(f"sysfake: compile: {os_error(err)}\n")
        return 2
    except CompileError as err:  # DIR may hold a newline: still one line
        sys.stderr.write(f"sysfake: compile: {printable(str(err))}\n")
        return 2
    # a line to paste: DIR quoted as a shell word, on one line whatever it holds
    print(f"run with: {shell_quote(str(exe))} -- CMD [ARGS...]")
    return 0


def _cmd_run(ns: argparse.Namespace) -> int:
    from .table import encode
    from .tempdirs import TempDirs

    cmd: list[str] = list(ns.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        sys.stderr.write("sysfake: error: no command given (sysfake run [OPTIONS] -- CMD ...)\n")
        return 2
    loaded = _load(ns, ns.backend, ns.verbose)
    if loaded is None:
        return 2
    if loaded.cgroupfs is None:
        # what prepare_runtime returns without a cgroupfs: key; its module (and the
        # rule constants it needs) is imported only to build a fake cgroup tree
        rules, cleanup = loaded.ruleset(), TempDirs()
    else:
        from .cgroupfs import prepare_runtime
        rules, cleanup = prepare_runtime(loaded)
    try:
        if ns.backend == "python":  # no virtual directories: it refuses list: true
            from .vdirs import without_directories
            return _run_table(ns, cmd, encode(without_directories(rules)))
        from .vdirs import prepare as prepare_dirs
        rules, cleanup_dirs = prepare_dirs(rules)
        try:
            table = encode(rules)
            from .core import CoreError, exec_launcher
            try:  # returns only if the launcher cannot take over
                exec_launcher(table, cmd, orphans=ns.orphans, grace=ns.grace,
                              disable=ns.disable, verbose=ns.verbose,
                              remove=cleanup.dirs + cleanup_dirs.dirs)
            except CoreError as err:
                sys.stderr.write(f"sysfake: {err}\n")
                return 2
            return _run_table(ns, cmd, table)
        finally:
            cleanup_dirs()
    finally:
        cleanup()


def _run_table(ns: argparse.Namespace, cmd: list[str], table: bytes) -> int:
    if ns.backend == "python":
        sys.stderr.write("sysfake: warning: --backend python is the slow reference tracer\n")
        from .backends.pyref import run as pyrun
        from .tracee_env import tracee_env
        try:
            return pyrun(table, cmd, tracee_env(), orphans=ns.orphans, grace=ns.grace)
        except Exception as err:  # the reference refuses what it cannot do: one line
            from .text import os_error, printable
            why = os_error(err) if isinstance(err, OSError) else printable(str(err))
            sys.stderr.write(f"sysfake: {why}\n")
            return 2
    from .core import CoreError, run
    try:
        return run(table, cmd, orphans=ns.orphans, grace=ns.grace, disable=ns.disable,
                   verbose=ns.verbose)
    except CoreError as err:
        sys.stderr.write(f"sysfake: {err}\n")
        return 2


def _cmd_doctor() -> int:
    from .environment import doctor_report
    lines, ok, _profile = doctor_report()
    for line in lines:
        print(line)
    if not ok:
        sys.stderr.write("sysfake: cannot work here: tracing does not work (see above)\n")
    return 0 if ok else 1


# Set by the commands that run a traced command (run, record): entry() may
# skip the interpreter's teardown after them.
_traced = False


def main(argv: Sequence[str] | None = None) -> int:
    global _traced
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["bench"]:  # the harness parses its own arguments
        from .bench import main as bench_main
        return bench_main(args[1:])
    if args[:1] == ["cni"]:  # the plugin's installer parses its own arguments, help too
        from .cni.install import cli as cni_cli
        return cni_cli(args[1:])
    if args[:1] in (["record"], ["report"], ["suggest"]):  # they parse their own arguments
        from .record import cli as record_cli
        _traced = args[0] == "record"
        return int(getattr(record_cli, "cmd_" + args[0])(args[1:]))
    ap = _build(args[0] if args else None)
    ns = ap.parse_args(args)
    if ns.cmd is None:
        ap.print_help()
        return 2
    if ns.cmd == "run":
        _traced = True
        return _cmd_run(ns)
    if ns.cmd == "compile":
        return _cmd_compile(ns)
    if ns.cmd == "check":
        from .rules import cmd_check
        return cmd_check(ns.files)
    if ns.cmd == "explain":
        from .rules import cmd_explain
        return cmd_explain(ns.path, ns.rules, ns.fake, ns.redirect, ns.hide, ns.exe, ns.comm,
                           ns.profile, ns.syscall, ns.disable_rule)
    if ns.cmd == "schema":
        from .rules import cmd_schema
        return cmd_schema()
    if ns.cmd == "doctor":
        return _cmd_doctor()
    if ns.cmd == "bench":
        from .bench import main as bench_main
        return bench_main(list(ns.args))
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


def entry() -> NoReturn:
    """The `sysfake` console script and `python -m sysfake`: main(), then exit.

    After `run` and `record` (whose exit status is the command's), the
    interpreter's teardown is skipped: freeing every module and object is
    about 15 ms of a short traced run, and nothing is left to do by then
    (the trace file is closed, the threads are joined, the command and its
    descendants are gone). Only the standard streams need flushing.

    Output that cannot be written (a closed, full or broken stdout) and a
    Ctrl-C end it as a C tool would end: one line, or the signal; never a
    traceback (stdio.py)."""
    if sys.stdout is None or sys.stderr is None:
        from .stdio import stand_in_for_closed
        stand_in_for_closed()
    if hasattr(sys.stdout, "reconfigure"):  # what this locale cannot encode is escaped
        sys.stdout.reconfigure(errors="backslashreplace")  # (a path, a trace's text)
    if sys.argv[1:2] not in (["run"], ["record"]):  # they print nothing; start-up counts
        from .stdio import guard_stdout
        guard_stdout()
    try:
        status = main()
        if not _traced:
            sys.stdout.flush()  # a write error is reported here, not by the teardown
    except BrokenPipeError:  # the reader went away: as a C tool would, die of SIGPIPE
        status = -13  # SIGPIPE
    except KeyboardInterrupt:
        status = -2  # SIGINT
    except OSError as err:
        from .stdio import failed
        status = failed(err)
    if status < 0:  # the command died of signal -status: so does sysfake
        from .core import die_of
        die_of(-status)
    if _traced:
        import contextlib

        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(status & 0xFF)
    sys.exit(status)
