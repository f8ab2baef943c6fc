"""The trace file: JSON Lines, one record per line (schema in docs/record.md).

The first line is a `header`, the last normally an `end`; between them come
`exec`, `fork`, `syscall` and `exit` records in the order the tracer saw
them. Every event record carries time, pid (the thread id), tgid, ppid, exe
and comm of the thread it is about.

    write: TraceWriter(path) ... .write(record)
    read:  iter_trace(path) / load_trace(path) -> Trace
"""
from __future__ import annotations

import os
from collections.abc import Iterator

from ..datatype import asdict, datatype, field
from .syscalls import Arg

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import IO, Any, TextIO, TypeAlias

# json's string encoder (json.dumps's with ensure_ascii=False), without the
# json package: importing it costs record's start 1 ms
try:
    import _json

    _str = _json.encode_basestring
except ImportError:  # pragma: no cover - an interpreter without json's C part
    import json.encoder

    _str = json.encoder.encode_basestring

FORMAT = 1  # the trace format version (header "format")


class TraceError(Exception):
    """A trace file cannot be read (the message is one line, with FILE:LINE)."""


@datatype
class RuleInfo:
    """A rule of the run's table, as records refer to it (`rule` = id)."""

    id: int
    match: str
    kind: str  # exact | prefix | glob
    action: str  # content | redirect | hide | errno
    origin: str  # FILE:LINE:COL, or the command-line flag
    description: str  # e.g. "hide (ENOENT)", "content b'40\\n' mode 644"


@datatype
class Header:
    """The first line: how the recording was made."""

    format: int
    sysfake: str
    time: float  # when recording started (seconds since the epoch)
    argv: list[str]
    cwd: str
    watch: list[str]  # watched path prefixes
    syscalls: list[str]  # the extra trapped syscalls (names)
    rules: list[RuleInfo]
    type: str = "header"


@datatype
class Event:
    """What every event record carries: when, and which thread of which process."""

    time: float
    pid: int  # thread id (as the tracer sees it)
    tgid: int  # thread-group (process) id
    ppid: int  # parent process id (0 when not known)
    exe: str  # executable path ("" when not known yet)
    comm: str  # command name ("" when not known yet)


@datatype
class SyscallEvent(Event):
    """A recorded syscall (docs/record.md says which are)."""

    syscall: str  # name, or syscall_NNN
    nr: int
    args: list[Arg]
    path: str | None  # the path as the program named it
    resolved: str | None  # absolute, normalised, /proc/<own pid> written /proc/self
    rule: int | None  # id of the rule that decided the path (see header rules)
    result: int  # return value, or -errno
    errno: str | None  # errno name when result < 0
    flags: int = 0  # record flags from the core (reserved)
    type: str = "syscall"


@datatype
class ExecEvent(Event):
    """A successful execve: the thread now runs `exe`."""

    argv: list[str] = field(default_factory=list)
    argv_truncated: bool = False  # the core keeps the first 1 KiB of the command line
    type: str = "exec"


@datatype
class ForkEvent(Event):
    """A new thread or process (`child`), made by the thread `pid`."""

    child: int = 0  # the new thread's id
    thread: bool = False  # CLONE_THREAD: a thread of the same process
    clone_flags: int = 0
    clone_text: str = ""
    type: str = "fork"


@datatype
class ExitEvent(Event):
    """A thread's end."""

    status: int = 0  # raw wait status
    exit_code: int | None = None  # exit status when the thread exited normally
    signal: str | None = None  # the signal name when it was killed
    core_dumped: bool = False
    type: str = "exit"


@datatype
class End:
    """The last line, when the recording ended normally."""

    time: float
    exit_status: int  # the command's status as a shell shows it (128+N: killed by signal N)
    events: int  # event records written
    processes: int  # processes (thread groups) seen
    errors: list[str] = field(default_factory=list)  # stream problems, if any
    type: str = "end"


Record: TypeAlias = "Header | SyscallEvent | ExecEvent | ForkEvent | ExitEvent | End"
AnyEvent: TypeAlias = "SyscallEvent | ExecEvent | ForkEvent | ExitEvent"


_INF = float("inf")


def _dumps(o: Any) -> str:
    """json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode(o), by
    hand for what records hold (str, int, float, bool, None, lists, tuples and
    dicts with str keys): importing json costs record's start 1 ms. Any other
    value goes to json itself (no indent: a value's text does not depend on
    where it is)."""
    if isinstance(o, str):
        return _str(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        if o != o:
            return "NaN"
        if o == _INF or o == -_INF:
            return "Infinity" if o > 0 else "-Infinity"
        return float.__repr__(o)
    if isinstance(o, (list, tuple)):
        return f"[{','.join([_dumps(v) for v in o])}]"
    if isinstance(o, dict) and all(isinstance(k, str) for k in o):
        return f"{{{','.join([f'{_str(k)}:{_dumps(v)}' for k, v in o.items()])}}}"
    import json

    return str(json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode(o))


def _arg(a: Arg) -> dict[str, Any]:
    d: dict[str, Any] = {"name": a.name, "type": a.type, "value": a.value}
    if a.text is not None:  # keep arg objects compact: drop an absent text
        d["text"] = a.text
    return d


def to_json(rec: Record) -> str:
    if isinstance(rec, (Header, End)):
        return _dumps(asdict(rec))
    # Events hold plain values (args aside): a shallow copy of the fields, in
    # field order, is what asdict() gives, at a tenth of its cost.
    d = dict(rec.__dict__)
    if isinstance(rec, SyscallEvent):
        d["args"] = [_arg(a) for a in rec.args]
    elif isinstance(rec, ExecEvent):
        d["argv"] = list(rec.argv)
    return _dumps(d)


class TraceWriter:
    """Writes records, one JSON object per line."""

    def __init__(self, f: IO[str]) -> None:
        self.f = f

    def write(self, rec: Record) -> None:
        self.f.write(to_json(rec) + "\n")


# ---------------------------------------------------------------- reading

def _need(d: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise TraceError(f"{where}: missing field {key!r}")
    v = d[key]
    if isinstance(v, bool) and typ in (int, float, (int, float)):
        raise TraceError(f"{where}: field {key!r} must be a number")
    if not isinstance(v, typ):
        raise TraceError(f"{where}: field {key!r} has the wrong type")
    return v


def _opt(d: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str,
         default: Any = None) -> Any:
    if d.get(key) is None:
        return default
    return _need(d, key, typ, where)


_NUM = (int, float)


def _strs(d: dict[str, Any], key: str, where: str) -> list[str]:
    """A list of strings: report and suggest join and quote them as text."""
    v = _need(d, key, list, where)
    if not all(isinstance(s, str) for s in v):
        raise TraceError(f"{where}: field {key!r} has the wrong type (a list of strings)")
    return list(v)


def _time(d: dict[str, Any], key: str, where: str) -> float:
    """A time in seconds: a number that float() and localtime() take (an int
    too big for a float, NaN or 1e300 would stop report in the middle)."""
    v = _need(d, key, _NUM, where)
    try:
        t = float(v)
    except OverflowError:
        t = _INF
    if not -1e12 < t < 1e12:  # NaN fails both tests
        raise TraceError(f"{where}: field {key!r} is out of range")
    return t


def _event_fields(d: dict[str, Any], where: str) -> dict[str, Any]:
    return {"time": _time(d, "time", where), "pid": _need(d, "pid", int, where),
            "tgid": _need(d, "tgid", int, where), "ppid": _need(d, "ppid", int, where),
            "exe": _need(d, "exe", str, where), "comm": _need(d, "comm", str, where)}


def from_dict(d: Any, where: str) -> Record:
    """One record from its parsed JSON object. Raises TraceError."""
    if not isinstance(d, dict):
        raise TraceError(f"{where}: a record must be a JSON object")
    t = d.get("type")
    if t == "header":
        rules = []
        for i, r in enumerate(_need(d, "rules", list, where)):
            if not isinstance(r, dict):
                raise TraceError(f"{where}: rules[{i}] must be an object")
            w = f"{where}: rules[{i}]"
            rules.append(RuleInfo(_need(r, "id", int, w), _need(r, "match", str, w),
                                  _need(r, "kind", str, w), _need(r, "action", str, w),
                                  _need(r, "origin", str, w), _need(r, "description", str, w)))
        return Header(_need(d, "format", int, where), _need(d, "sysfake", str, where),
                      _time(d, "time", where), _strs(d, "argv", where),
                      _need(d, "cwd", str, where), _strs(d, "watch", where),
                      _strs(d, "syscalls", where), rules)
    if t == "syscall":
        args = []
        for i, a in enumerate(_need(d, "args", list, where)):
            if not isinstance(a, dict):
                raise TraceError(f"{where}: args[{i}] must be an object")
            w = f"{where}: args[{i}]"
            args.append(Arg(_need(a, "name", str, w), _opt(a, "type", str, w),
                            _need(a, "value", int, w), _opt(a, "text", str, w)))
        return SyscallEvent(**_event_fields(d, where), syscall=_need(d, "syscall", str, where),
                            nr=_need(d, "nr", int, where), args=args,
                            path=_opt(d, "path", str, where),
                            resolved=_opt(d, "resolved", str, where),
                            rule=_opt(d, "rule", int, where),
                            result=_need(d, "result", int, where),
                            errno=_opt(d, "errno", str, where),
                            flags=_opt(d, "flags", int, where, 0))
    if t == "exec":
        return ExecEvent(**_event_fields(d, where), argv=_strs(d, "argv", where),
                         argv_truncated=bool(_opt(d, "argv_truncated", bool, where, False)))
    if t == "fork":
        return ForkEvent(**_event_fields(d, where), child=_need(d, "child", int, where),
                         thread=bool(_need(d, "thread", bool, where)),
                         clone_flags=_opt(d, "clone_flags", int, where, 0),
                         clone_text=_opt(d, "clone_text", str, where, ""))
    if t == "exit":
        return ExitEvent(**_event_fields(d, where), status=_need(d, "status", int, where),
                         exit_code=_opt(d, "exit_code", int, where),
                         signal=_opt(d, "signal", str, where),
                         core_dumped=bool(_opt(d, "core_dumped", bool, where, False)))
    if t == "end":
        errs = _strs(d, "errors", where) if d.get("errors") is not None else []
        return End(_time(d, "time", where), _need(d, "exit_status", int, where),
                   _need(d, "events", int, where), _need(d, "processes", int, where), errs)
    raise TraceError(f"{where}: unknown record type {t!r}")


def _open_trace(path: str) -> TextIO:
    """The trace, opened for reading; a device (/dev/zero never ends) or a
    directory is refused, and a FIFO nobody writes to reads as empty rather
    than hanging (O_NONBLOCK at the open only: `report <(zcat t.gz)` works)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        raise TraceError(f"{path}: cannot read trace: {e.strerror or e}") from None
    try:
        kind = os.fstat(fd).st_mode & 0o170000
        if kind not in (0o100000, 0o010000):  # a regular file, a FIFO or pipe
            raise TraceError(f"{path}: not a trace file (not a regular file or a pipe)")
        os.set_blocking(fd, True)
        return open(fd, encoding="utf-8", errors="surrogateescape")
    except BaseException:
        os.close(fd)
        raise


def _lines(path: str, f: TextIO) -> Iterator[tuple[int, str]]:
    """(number, line) of f; a read error is a TraceError naming the file."""
    try:
        yield from enumerate(f, 1)
    except OSError as e:
        raise TraceError(f"{path}: cannot read trace: {e.strerror or e}") from None


def iter_trace(path: str) -> Iterator[Record]:
    """The records of a trace file, in order. Raises TraceError (one line).

    A last line cut short (the recorder was killed mid-write) is ignored."""
    for _n, rec in _numbered(path):
        yield rec


def _numbered(path: str) -> Iterator[tuple[int, Record]]:
    """iter_trace's records, each with the number of its line."""
    f = _open_trace(path)
    with f:
        pending: tuple[int, str] | None = None
        records = 0
        for n, line in _lines(path, f):
            if pending is not None:
                yield pending[0], _parse(path, *pending)
                records += 1
                pending = None
            if not line.strip():
                continue
            if not line.endswith("\n"):
                pending = (n, line)  # maybe the torn last line
                continue
            yield n, _parse(path, n, line)
            records += 1
        if pending is not None:
            try:
                rec = _parse(path, *pending)
            except TraceError as e:
                if records == 0:  # the torn line was the header: nothing is left
                    raise TraceError(f"{path}:{pending[0]}: the header line is cut short "
                                     "(sysfake record was killed?): "
                                     f"{str(e).removeprefix(f'{path}:{pending[0]}: ')}"
                                     ) from None
                return
            yield pending[0], rec
            records += 1
        if records == 0:
            raise TraceError(f"{path}: empty trace (no header)")


def _parse(path: str, n: int, line: str) -> Record:
    import json  # reading only: `record` does not pay for it

    where = f"{path}:{n}"
    try:
        d = json.loads(line)
    except ValueError as e:
        raise TraceError(f"{where}: not JSON ({e})") from None
    except RecursionError:  # json's decoder recurses once per nested [ or {
        raise TraceError(f"{where}: not a trace record (arrays or objects nested too "
                         "deeply)") from None
    return from_dict(d, where)


@datatype
class Trace:
    """A whole trace file, read back."""

    header: Header
    events: list[AnyEvent]
    end: End | None  # None: the recording was cut short
    path: str = ""

    def rule(self, rule_id: int | None) -> RuleInfo | None:
        if rule_id is None:
            return None
        for r in self.header.rules:
            if r.id == rule_id:
                return r
        return None


def load_trace(path: str) -> Trace:
    """Read a whole trace. Raises TraceError when it has no header or is malformed."""
    header: Header | None = None
    events: list[AnyEvent] = []
    end: End | None = None
    first = 0
    for n, rec in _numbered(path):
        if header is None:  # the first record (blank lines before it are skipped)
            if not isinstance(rec, Header):
                raise TraceError(f"{path}:{n}: the first record must be the header")
            if rec.format != FORMAT:
                raise TraceError(f"{path}:{n}: trace format {rec.format} is not supported "
                                 f"(this sysfake reads format {FORMAT})")
            header, first = rec, n
        elif isinstance(rec, Header):
            raise TraceError(f"{path}:{n}: a second header record (the first is on "
                             f"line {first}; two traces joined?)")
        elif isinstance(rec, End):
            end = rec
        else:
            events.append(rec)
    if header is None:  # iter_trace raises first; a reader of traces never asserts
        raise TraceError(f"{path}: no header record")
    return Trace(header, events, end, path)


__all__ = ["FORMAT", "AnyEvent", "End", "Event", "ExecEvent", "ExitEvent", "ForkEvent",
           "Header", "Record", "RuleInfo", "SyscallEvent", "Trace", "TraceError",
           "TraceWriter", "from_dict", "iter_trace", "load_trace", "to_json"]
