"""What a trace says: the process tree, and what failed, grouped by file, by
program and by syscall (first-seen order). Shared by report and suggest."""
from __future__ import annotations

from collections.abc import Iterable

from ..datatype import datatype, field
from .syscalls import Arg, access_kind, arg_by_name
from .trace import AnyEvent, ExecEvent, ExitEvent, ForkEvent, SyscallEvent, Trace

#: For failed non-path syscalls: the argument that says what was asked for.
KEY_ARGS: dict[str, tuple[str, ...]] = {
    "ioctl": ("cmd",), "prctl": ("option",), "setsockopt": ("level", "optname"),
    "keyctl": ("cmd",), "bpf": ("cmd",), "unshare": ("unshare_flags",),
    "setns": ("nstype",), "mount": ("flags",), "personality": ("personality",),
    "seccomp": ("op",), "setrlimit": ("resource",), "prlimit64": ("resource",),
    "quotactl": ("cmd",), "syslog": ("type",),
}


def program_of(ev: AnyEvent) -> str:
    """How a program is named in reports: its exe, else its comm, else its pid."""
    return ev.exe or ev.comm or f"pid {ev.tgid}"


@datatype
class Proc:
    """One process (a thread group between fork and exit; pids may be reused)."""

    serial: int
    pid: int
    ppid: int
    parent: Proc | None
    start: float | None
    exe: str = ""
    comm: str = ""
    argv: list[str] = field(default_factory=list)
    argv_truncated: bool = False
    execs: list[str] = field(default_factory=list)  # exe of each exec, in order
    children: list[Proc] = field(default_factory=list)
    threads: int = 0  # threads created besides the first
    end: float | None = None
    exit_code: int | None = None
    signal: str | None = None
    core_dumped: bool = False
    failures: int = 0

    @property
    def name(self) -> str:
        return self.exe or self.comm or f"pid {self.pid}"

    def lifetime(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return max(0.0, self.end - self.start)


@datatype
class Outcome:
    """How one program fared with one file or syscall: counts per (access, result)."""

    program: str
    comm: str
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (access, result) -> n

    def add(self, access: str, result: str) -> None:
        k = (access, result)
        self.counts[k] = self.counts.get(k, 0) + 1

    def failed(self) -> bool:
        return any(r != "ok" for _a, r in self.counts)

    def wrote(self) -> bool:
        return any(a in ("write", "read/write", "truncate") for a, _r in self.counts)

    def describe(self) -> str:
        parts = [f"{a} {r}" + (f" x{n}" if n > 1 else "") for (a, r), n in self.counts.items()]
        return ", ".join(parts)


@datatype
class PathInfo:
    """Everything recorded about one resolved path."""

    path: str
    first: float
    named: list[str] = field(default_factory=list)  # as the programs wrote it
    programs: dict[str, Outcome] = field(default_factory=dict)
    errnos: dict[str, int] = field(default_factory=dict)
    rules: list[int] = field(default_factory=list)  # rules that decided it
    ok: int = 0
    failed: int = 0
    ok_after_failure: bool = False  # it worked after it had failed: made meanwhile?

    def readers_and_writers(self) -> list[Outcome]:
        return list(self.programs.values())


@datatype
class SyscallFailure:
    """A failed non-path syscall, keyed by name, its key arguments and errno."""

    syscall: str
    key: tuple[Arg, ...]
    errno: str
    first: float
    count: int = 0
    programs: dict[str, Outcome] = field(default_factory=dict)

    def key_text(self) -> str:
        return " ".join(f"{a.name}={a.text or a.value}" for a in self.key)


@datatype
class ProgramFailures:
    program: str
    comm: str
    items: dict[str, int] = field(default_factory=dict)  # "path: errno" -> count


@datatype
class Analysis:
    trace: Trace
    roots: list[Proc]
    procs: list[Proc]  # in order of appearance
    paths: dict[str, PathInfo]  # first-seen order
    syscalls: dict[tuple[str, tuple[int, ...], str], SyscallFailure]
    by_program: dict[str, ProgramFailures]
    rule_hits: dict[int, int]
    counts: dict[str, int]  # events per record type

    def failed_paths(self) -> list[PathInfo]:
        return [p for p in self.paths.values() if p.failed]


class _Builder:
    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.procs: list[Proc] = []
        self.current: dict[int, Proc] = {}  # tgid -> live process with that pid
        self.roots: list[Proc] = []
        self.paths: dict[str, PathInfo] = {}
        self.sys: dict[tuple[str, tuple[int, ...], str], SyscallFailure] = {}
        self.by_program: dict[str, ProgramFailures] = {}
        self.rule_hits: dict[int, int] = {}
        self.counts: dict[str, int] = {}

    def _new(self, pid: int, ppid: int, parent: Proc | None, start: float | None,
             exe: str, comm: str) -> Proc:
        p = Proc(len(self.procs), pid, ppid, parent, start, exe, comm)
        self.procs.append(p)
        self.current[pid] = p
        if parent is None:
            self.roots.append(p)
        else:
            parent.children.append(p)
        return p

    def proc_for(self, ev: AnyEvent) -> Proc:
        p = self.current.get(ev.tgid)
        if p is None:
            p = self._new(ev.tgid, ev.ppid, self.current.get(ev.ppid), ev.time, ev.exe,
                          ev.comm)
        return p

    def _program_failure(self, ev: AnyEvent, what: str) -> None:
        prog = program_of(ev)
        pf = self.by_program.get(prog)
        if pf is None:
            pf = self.by_program[prog] = ProgramFailures(prog, ev.comm)
        pf.items[what] = pf.items.get(what, 0) + 1

    def event(self, ev: AnyEvent) -> None:
        self.counts[ev.type] = self.counts.get(ev.type, 0) + 1
        if isinstance(ev, ForkEvent):
            parent = self.proc_for(ev)
            if ev.thread:
                parent.threads += 1
            else:
                self._new(ev.child, parent.pid, parent, ev.time, ev.exe, ev.comm)
        elif isinstance(ev, ExecEvent):
            p = self.proc_for(ev)
            p.exe, p.comm = ev.exe, ev.comm
            p.argv, p.argv_truncated = list(ev.argv), ev.argv_truncated
            p.execs.append(ev.exe)
            if ev.ppid and p.parent is None and p.ppid != ev.ppid:
                p.ppid = ev.ppid
        elif isinstance(ev, ExitEvent):
            q = self.current.get(ev.tgid)
            if q is not None and ev.pid == ev.tgid:
                q.end = ev.time
                q.exit_code, q.signal, q.core_dumped = ev.exit_code, ev.signal, ev.core_dumped
                del self.current[ev.tgid]
        else:
            self.syscall(ev)

    def syscall(self, ev: SyscallEvent) -> None:
        result = ev.errno if ev.errno else "ok"
        if ev.rule is not None:
            self.rule_hits[ev.rule] = self.rule_hits.get(ev.rule, 0) + 1
        prog = program_of(ev)
        if ev.resolved is not None:
            info = self.paths.get(ev.resolved)
            if info is None:
                info = self.paths[ev.resolved] = PathInfo(ev.resolved, ev.time)
            if ev.path is not None and ev.path not in info.named:
                info.named.append(ev.path)
            out = info.programs.get(prog)
            if out is None:
                out = info.programs[prog] = Outcome(prog, ev.comm)
            out.add(access_kind(ev.syscall, ev.args), result)
            if ev.rule is not None and ev.rule not in info.rules:
                info.rules.append(ev.rule)
            if ev.errno:
                info.failed += 1
                info.errnos[ev.errno] = info.errnos.get(ev.errno, 0) + 1
                self._program_failure(ev, f"{ev.resolved}: {ev.errno}")
                self.proc_for(ev).failures += 1
            else:
                info.ok += 1
                info.ok_after_failure = info.ok_after_failure or info.failed > 0
            return
        if not ev.errno:
            return
        key = tuple(a for n in KEY_ARGS.get(ev.syscall, ()) if (a := arg_by_name(ev.args, n)))
        k = (ev.syscall, tuple(a.value for a in key), ev.errno)
        sf = self.sys.get(k)
        if sf is None:
            sf = self.sys[k] = SyscallFailure(ev.syscall, key, ev.errno, ev.time)
        sf.count += 1
        out = sf.programs.get(prog)
        if out is None:
            out = sf.programs[prog] = Outcome(prog, ev.comm)
        out.add(ev.syscall, ev.errno)
        label = ev.syscall + (f" ({sf.key_text()})" if key else "")
        self._program_failure(ev, f"{label}: {ev.errno}")
        self.proc_for(ev).failures += 1


def analyze(trace: Trace, events: Iterable[AnyEvent] | None = None) -> Analysis:
    b = _Builder(trace)
    for ev in trace.events if events is None else events:
        b.event(ev)
    return Analysis(trace, b.roots, b.procs, b.paths, b.sys, b.by_program, b.rule_hits,
                    b.counts)


__all__ = ["KEY_ARGS", "Analysis", "Outcome", "PathInfo", "Proc", "ProgramFailures",
           "SyscallFailure", "analyze", "program_of"]
