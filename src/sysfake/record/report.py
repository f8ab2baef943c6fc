"""`sysfake report TRACE`: a readable summary of a recording.

Sections: the run (command, time, exit status, counts), failed paths grouped
by file, failed syscalls, failures grouped by program, rules that acted, and
the process tree (who spawned whom, exe, argv, exit status, lifetime). Groups
are listed in the order they were first seen.
"""
from __future__ import annotations

import shlex
import time
from collections.abc import Iterator

from ..text import printable
from .analyze import Analysis, Proc
from .trace import Trace

ARGV_WIDTH = 120


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(t))


def _dur(s: float | None) -> str:
    if s is None:
        return "still running at the end"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.2f} s"
    return f"{s / 60:.1f} min"


def _count(n: int) -> str:
    return f" x{n}" if n > 1 else ""


def _cmdline(argv: list[str], truncated: bool) -> str:
    text = shlex.join(argv) if argv else ""
    if truncated:
        text += " …"
    return text if len(text) <= ARGV_WIDTH else text[:ARGV_WIDTH - 1] + "…"


def _status(p: Proc) -> str:
    if p.signal:
        return f"killed by {p.signal}" + (" (core dumped)" if p.core_dumped else "")
    if p.exit_code is not None:
        return f"exit {p.exit_code}"
    return "no exit seen"


def _rule_text(trace: Trace, rid: int) -> str:
    r = trace.rule(rid)
    if r is None:
        return f"rule {rid} (not in the header)"
    return f"rule {rid}: {r.description}, {r.kind} {r.match} at {r.origin}"


def proc_line(p: Proc) -> str:
    words = [str(p.pid)]
    cmd = _cmdline(p.argv, p.argv_truncated)
    words.append(cmd or f"({p.comm or '?'})")
    if p.exe and (not p.argv or p.argv[0] != p.exe):
        words.append(f"[{p.exe}]")
    if len(p.execs) > 1:
        words.append("(exec " + " → ".join(p.execs) + ")")
    words.append(f"— {_status(p)}, {_dur(p.lifetime())}")
    if p.threads:
        words.append(f"+{p.threads} thread{'s' if p.threads > 1 else ''}")
    if p.failures:
        words.append(f"{p.failures} failure{'s' if p.failures > 1 else ''}")
    return " ".join(words)


def tree_lines(roots: list[Proc]) -> Iterator[str]:
    """The process tree with box-drawing prefixes (iterative: deep trees are fine)."""
    stack: list[tuple[Proc, str, str]] = [(r, "", "") for r in reversed(roots)]
    while stack:
        p, lead, child_lead = stack.pop()
        yield lead + proc_line(p)
        kids = p.children
        for i in range(len(kids) - 1, -1, -1):
            last = i == len(kids) - 1
            stack.append((kids[i], child_lead + ("└─ " if last else "├─ "),
                          child_lead + ("   " if last else "│  ")))


def render(a: Analysis) -> str:
    t = a.trace
    h = t.header
    out: list[str] = []
    w = out.append
    w(f"command: {shlex.join(h.argv)}")
    w(f"cwd: {h.cwd}")
    if t.end is not None:
        w(f"recorded: {_when(h.time)}, {_dur(t.end.time - h.time)}, "
          f"exit status {t.end.exit_status}")
    else:
        w(f"recorded: {_when(h.time)}; the trace has no end record (sysfake record "
          "was killed?)")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(a.counts.items()))
    w(f"processes: {len(a.procs)}; events: {sum(a.counts.values())}"
      + (f" ({counts})" if counts else ""))
    w(f"watched: {' '.join(h.watch) or 'nothing'}; extra trapped syscalls: "
      f"{len(h.syscalls)}; rules: {len(h.rules)}")
    if t.end is not None:
        for e in t.end.errors:
            w(f"warning: {e}")

    fps = a.failed_paths()
    w("")
    w(f"Failed paths ({len(fps)})")
    if not fps:
        w("  none")
    for p in fps:
        errs = ", ".join(f"{e}{_count(n)}" for e, n in p.errnos.items())
        w(f"  {p.path}  {errs}")
        others = [n for n in p.named if n != p.path]
        if others:
            w(f"      named as: {', '.join(others)}")
        for o in p.programs.values():
            w(f"      {o.program}" + (f" ({o.comm})" if o.comm and o.comm not in o.program
                                      else "") + f": {o.describe()}")
        for rid in p.rules:
            w(f"      decided by {_rule_text(t, rid)}")

    w("")
    w(f"Failed syscalls ({len(a.syscalls)})")
    if not a.syscalls:
        w("  none")
    for s in a.syscalls.values():
        key = s.key_text()
        w(f"  {s.syscall}" + (f" {key}" if key else "") + f"  {s.errno}{_count(s.count)}")
        for o in s.programs.values():
            n = sum(o.counts.values())
            w(f"      {o.program}{_count(n)}")

    w("")
    w(f"Failures by program ({len(a.by_program)})")
    if not a.by_program:
        w("  none")
    for pf in a.by_program.values():
        w(f"  {pf.program}" + (f" ({pf.comm})" if pf.comm and pf.comm not in pf.program
                               else ""))
        for item, n in pf.items.items():
            w(f"      {item}{_count(n)}")

    w("")
    w(f"Rules that acted ({len(a.rule_hits)} of {len(h.rules)})")
    if not a.rule_hits:
        w("  none")
    for rid, n in a.rule_hits.items():
        w(f"  {_rule_text(t, rid)}: {n} time{'s' if n > 1 else ''}")

    w("")
    w(f"Process tree ({len(a.procs)} processes)")
    if not a.roots:
        w("  none recorded")
    out.extend("  " + line for line in tree_lines(a.roots))
    # one line per line: a recorded newline or escape sequence is shown escaped
    return "\n".join(printable(line) for line in out) + "\n"


__all__ = ["proc_line", "render", "tree_lines"]
