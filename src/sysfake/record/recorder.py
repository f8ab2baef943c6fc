"""`sysfake record`: run a command under the tracer with rules in force and
write what it did to a trace file (JSON Lines, see docs/record.md).

    record(argv, out_path, rules, watch) -> exit status of the command

The core gets the rule table plus a trap list (table.RecordSpec): the
watched path prefixes and the extra syscalls to trap (syscalls.TRAPPED by
default). It writes binary records to a pipe; stream.Drain empties the pipe
in threads while the core runs and enrich.Enricher turns the records into
trace events.
"""
from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
import time
from collections.abc import Mapping, Sequence

from .. import __version__
from ..model import RuleSet, SysAction, SyscallRule
from ..paths import normalize
from ..table import describe
from .enrich import Enricher
from .fastline import Lines
from .stream import Drain, make_pipe
from .syscalls import ONLY_WHEN_SET, TRAPPED, errno_name, trapped_numbers
from .trace import FORMAT, End, Header, RuleInfo, TraceWriter

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import IO

DEFAULT_WATCH: tuple[str, ...] = ("/proc", "/sys", "/dev")


class RecordError(Exception):
    """Recording could not start (one line)."""


def _sys_description(r: SyscallRule) -> str:
    words = [r.action.name.lower()]
    if r.action is SysAction.ERRNO:
        words.append(errno_name(r.errno))
    elif r.action is SysAction.RETURN:
        words.append(str(r.retval))
    if r.args:
        words.append("if " + ", ".join(f"arg{m.idx} {m.op.name.lower()} {m.value:#x}"
                                       for m in r.args))
    if r.path:
        words.append(f"path {r.path}")
    return " ".join(words)


def rule_infos(rules: RuleSet) -> list[RuleInfo]:
    """The header's rule list: rule id -> origin and description. Path rules
    have ids 0.. in table order, syscall rules follow (as table.encode numbers them)."""
    out = [RuleInfo(i, r.match, r.kind.name.lower(), r.action.name.lower(), str(r.origin),
                    describe(r)) for i, r in enumerate(rules.path_rules)]
    first = len(rules.path_rules)
    out += [RuleInfo(first + i, r.name, "syscall", r.action.name.lower(), str(r.origin),
                     _sys_description(r)) for i, r in enumerate(rules.syscall_rules)]
    return out


def canonical_watch(paths: Sequence[str]) -> list[str]:
    """Watched prefixes, absolute and normalised (no trailing '/'); raises RecordError."""
    from ..rules.loader import show_arg
    from ..rules.spec import MAX_PATH

    out: list[str] = []
    for p in paths:
        if not p.startswith("/"):
            raise RecordError(f"--watch {p!r}: the prefix must be an absolute path")
        if len(p.encode("utf-8", "surrogateescape")) > MAX_PATH:  # as rules files' paths
            raise RecordError(f"{show_arg('--watch', p)}: longer than {MAX_PATH} bytes "
                              "(Linux's PATH_MAX, and the longest path the tracer handles)")
        n = normalize(p)
        if n not in out:
            out.append(n)
    return out


class _Progress:
    """A live line on stderr (only when stderr is a terminal)."""

    def __init__(self, lines: Lines, stream: IO[str]) -> None:
        self.lines = lines
        self.stream = stream
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sysfake-record-progress",
                                        daemon=True)
        self.shown = False

    def start(self) -> None:
        self._thread.start()

    def _line(self) -> str:
        events, processes, live = self.lines.counts()
        return (f"\rsysfake record: {processes} processes "
                f"({live} running), {events} events\x1b[K")

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                self.stream.write(self._line())
                self.stream.flush()
                self.shown = True
            except (OSError, ValueError, RuntimeError):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        if self.shown:
            try:
                self.stream.write(self._line() + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass


def _close_quietly(f: IO[str]) -> None:
    """Close after a failed write (the buffered rest cannot be written either;
    io closes the fd even when the flush in close() fails)."""
    with contextlib.suppress(OSError):
        f.close()


def _discard(f: IO[str], path: str) -> None:
    """Close and remove a trace that holds no run (only a regular file: the
    trace may be /dev/full or a fifo, which are not ours to remove)."""
    try:
        regular = stat.S_ISREG(os.fstat(f.fileno()).st_mode)
    except OSError:
        regular = False
    _close_quietly(f)
    if regular:
        with contextlib.suppress(OSError):
            os.unlink(path)


def record(
    argv: Sequence[str],
    out_path: str,
    rules: RuleSet,
    watch: Sequence[str] = DEFAULT_WATCH,
    syscalls: Sequence[str] = TRAPPED,
    *,
    env: Mapping[str, str] | None = None,
    orphans: str = "kill",
    grace: float = 2.0,
    verbose: bool = False,
    progress: bool | None = None,
    disable: Sequence[str] = (),
) -> int:
    """Run argv traced with `rules`, writing the trace to out_path; return its exit status.

    Raises RecordError (cannot write the trace, bad watch path) and
    core.CoreError (the tracer cannot start the command)."""
    from ..core import CoreError, run
    from ..table import RecordSpec, encode

    if not argv:
        raise RecordError("no command given")
    watched = canonical_watch(watch)
    nrs = trapped_numbers(syscalls)
    when_set = {nr: ONLY_WHEN_SET[n] for n, nr in nrs.items() if n in ONLY_WHEN_SET}
    table = encode(rules, record=RecordSpec(watch=watched, syscalls=list(nrs.values()),
                                            when_set=when_set))
    try:  # before the trace is opened: a failure here leaves no file behind
        cwd = os.getcwd()
    except OSError as e:
        raise RecordError(f"cannot record: the current directory is gone or unreadable "
                          f"({e.strerror or e}); cd to an existing directory") from None
    header = Header(FORMAT, __version__, time.time(), list(argv), cwd, watched, list(nrs),
                    rule_infos(rules))
    try:
        out = open(out_path, "w", encoding="utf-8",  # noqa: SIM115 - closed below
                   errors="surrogateescape")
    except OSError as e:
        raise RecordError(f"cannot write {out_path}: {e.strerror or e}") from None
    writer = TraceWriter(out)
    try:
        writer.write(header)
        out.flush()
    except OSError as e:  # /dev/full, a file size limit: before anything started
        _discard(out, out_path)
        raise RecordError(f"cannot write {out_path}: {e.strerror or e}") from None

    def sink(lines: list[str | None]) -> None:
        # lines Python wrote; flushed at once, since the C writer's go to
        # the same fd unbuffered (below) and must stay in order
        out.write("".join(line for line in lines if line))
        out.flush()

    rfd, wfd = make_pipe()
    drain = Drain(rfd, sink)
    # the C writer's lines go to the file itself; the header is flushed
    lines = Lines(Enricher(), drain.decoder, out_fd=out.fileno())
    drain.chunk = lines.feed  # bytes -> trace lines
    drain.start()
    show = sys.stderr.isatty() if progress is None else progress
    prog = _Progress(lines, sys.stderr) if show else None
    if prog is not None:
        prog.start()
    status = 2
    refused = False
    try:
        status = run(table, argv, env, orphans=orphans, grace=grace, record_fd=wfd,
                     verbose=verbose, disable=disable)
    except CoreError:
        refused = True
        raise
    finally:
        os.close(wfd)
        errors = drain.finish(timeout=30.0)
        if prog is not None:
            prog.stop()
        events, processes, _ = lines.counts()
        if refused and not events and not processes:
            # the core refused before the command started (an unknown --disable
            # name, no ptrace): a trace of nothing would pass for a run's
            _discard(out, out_path)
        else:
            try:  # the command has run: a trace that cannot be ended is a warning
                # the trace keeps a shell's view: 128+N for killed by signal N
                writer.write(End(time.time(), status if status >= 0 else 128 - status,
                                 events, processes, errors))
                out.close()
            except OSError as e:
                if not any(m.startswith("writing the trace failed") for m in errors):
                    errors.append(f"writing the trace failed: {e.strerror or e}")
                _close_quietly(out)
    for msg in errors:
        sys.stderr.write(f"sysfake: warning: {msg}\n")
    return status


__all__ = ["DEFAULT_WATCH", "RecordError", "canonical_watch", "record", "rule_infos"]
