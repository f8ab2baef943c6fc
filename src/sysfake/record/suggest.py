"""`sysfake suggest TRACE`: rules (YAML) that would fix what failed in a recording.

* a missing or refused /proc/sys file becomes a `content` rule, with the
  value programs expect (rules/data/sysctl-defaults.yaml, `expected`), else
  the host's real value, else the kernel's default from the same data file;
  where none is known it is a commented-out placeholder — never a guess;
* other failed /proc, /sys, /dev (and other recorded) paths become
  comment-only placeholders;
* failed non-path syscalls become commented-out `syscall:` sketches (the
  right return value is the user's call, so they are never active);
* a path outside /proc/sys that was only ever missing (ENOENT) and later
  worked was made by the programs themselves (sem_open tries random names
  under /dev/shm, runc makes its cgroup directories): not suggested, only
  counted.

Each suggestion says which programs read or wrote the path and what they got.
The output loads with sysfake.rules.load.
"""
from __future__ import annotations

import json
import re
import shlex
import socket
import time

from ..datatype import datatype, field
from ..text import printable
from .analyze import Analysis, PathInfo, SyscallFailure
from .syscalls import prototype
from .sysctl import PROC_SYS, Known, host_value
from .trace import Trace

#: errnos after which a /proc/sys file gets a content rule. ENOENT and EACCES:
#: the file is missing or refused; EPERM, EROFS, EIO: a write to a read-only
#: file (gVisor's vm/overcommit_memory gives EIO).
SYSCTL_ERRNOS = ("ENOENT", "EACCES", "EPERM", "EROFS", "EIO")
_OTHER_PID = re.compile(r"^/proc/[0-9]+(/|$)")


@datatype
class Suggestion:
    comments: list[str]
    rule: list[str] = field(default_factory=list)  # active YAML lines (may be empty)
    commented: list[str] = field(default_factory=list)  # a sketch, written as comments


def _q(s: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(s)


def _who(p: PathInfo) -> list[str]:
    lines = []
    for o in p.programs.values():
        comm = f" ({o.comm})" if o.comm and o.comm not in o.program else ""
        lines.append(f"  {o.program}{comm}: {o.describe()}")
    return lines


def _acting_rules(trace: Trace, p: PathInfo) -> list[str]:
    out = []
    for rid in p.rules:
        r = trace.rule(rid)
        if r is not None:
            out.append(f"decided at record time by {r.origin}: {r.description}")
    return out


def _needs_override(trace: Trace, p: PathInfo) -> bool:
    """True when an exact rule from a file for this very path acted (a plain
    rule here would be a duplicate of it)."""
    for rid in p.rules:
        r = trace.rule(rid)
        if r is not None and r.kind == "exact" and r.match == p.path \
                and not r.origin.startswith("--"):
            return True
    return False


def _loadable(path: str) -> bool:
    """Whether a rules file can name the path (what rules.validate takes: no NUL,
    text that encodes back to the path's bytes)."""
    try:
        path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return "\0" not in path


def _is_dir_in_trace(a: Analysis, path: str) -> bool:
    pre = path.rstrip("/") + "/"
    return any(q.startswith(pre) for q in a.paths)


def _value_for(key: str, known: dict[str, Known], host_root: str | None
               ) -> tuple[str | None, list[str]]:
    """(value, comment lines saying where it comes from or why there is none)."""
    k = known.get(key)
    path = PROC_SYS + key
    if k is not None and k.expected and k.value is not None:
        return k.value, [f"value: what the programs expect ({k.source})", f"why: {k.why}"]
    host_why = "host values were not consulted (--no-host)"
    if host_root is not None:
        hv, host_why = host_value(path, host_root)
        if hv is not None:
            lines = [f"value: this host's {path} (read by sysfake suggest on "
                     f"{socket.gethostname()})"]
            if k is not None:
                lines.append(f"why: {k.why}")
            return hv, lines
    if k is not None and k.value is not None:
        return k.value, [f"value: kernel default ({k.source}); {host_why}", f"why: {k.why}"]
    why = [f"no value is known: {host_why}"]
    if k is not None:
        why.append(f"and sysctl-defaults.yaml gives none: {k.why} ({k.source})")
    else:
        why.append("and sysctl-defaults.yaml does not list it")
    return None, why


def _sysctl(a: Analysis, p: PathInfo, known: dict[str, Known],
            host_root: str | None) -> Suggestion:
    errs = ", ".join(f"{e} x{n}" if n > 1 else e for e, n in p.errnos.items())
    com = [f"{p.path}: {errs}", *_who(p), *_acting_rules(a.trace, p)]
    if any(ch in p.path for ch in "*?["):
        com.append("not suggested: the path contains a wildcard character")
        return Suggestion(com)
    if not _loadable(p.path):
        com.append("not suggested: a rule cannot name this path (a NUL or a character "
                   "that is not UTF-8)")
        return Suggestion(com)
    key = p.path[len(PROC_SYS):]
    if _is_dir_in_trace(a, p.path):
        com.append("a directory (paths below it were used too): a content rule would turn "
                   "it into a file; fake the files below it instead")
        return Suggestion(com)
    value, why = _value_for(key, known, host_root)
    com += why
    lines = [f"- match: {_q(p.path)}"]
    if value is None:
        com.append("fill in the value and uncomment:")
        lines.append('  content: "VALUE\\n"')
        return Suggestion(com, commented=lines)
    lines.append(f"  content: {_q(value + chr(10))}")
    if _needs_override(a.trace, p):
        lines.append("  override: true   # replaces the rule that decided it when recording")
    return Suggestion(com, rule=lines)


def _other_path(a: Analysis, p: PathInfo) -> Suggestion:
    errs = ", ".join(f"{e} x{n}" if n > 1 else e for e, n in p.errnos.items())
    com = [f"{p.path}: {errs}", *_who(p), *_acting_rules(a.trace, p),
           "no value is known; choose one of content:, redirect:, hide: or errno: and "
           "uncomment:"]
    return Suggestion(com, commented=[f"- match: {_q(p.path)}", '  content: "VALUE\\n"'])


def _syscall_sketch(s: SyscallFailure) -> Suggestion:
    progs = "; ".join(f"{o.program} x{sum(o.counts.values())}" for o in s.programs.values())
    key = s.key_text()
    com = [f"{s.syscall}{' ' + key if key else ''}: {s.errno} x{s.count}",
           f"  by {progs}",
           "a sketch of a syscall rule (check docs/rules.md, then uncomment):"]
    lines = [f"- syscall: {s.syscall}"]
    proto = prototype(s.syscall) or ()
    names = [spec.name for spec in proto]
    args = []
    for arg in s.key:
        if arg.name not in names:
            continue
        idx = names.index(arg.name)
        text = arg.text or ""
        sym = text.split(" ", 1)[0] if text and re.match(r"^[A-Z][A-Z0-9_]*\b", text) else ""
        args.append(f"{idx}: {sym or (hex(arg.value) if s.syscall == 'ioctl' else arg.value)}")
    if args:
        lines.append("  args: {" + ", ".join(args) + "}")
    lines.append("  return: 0")
    return Suggestion(com, commented=lines)


def suggest(a: Analysis, known: dict[str, Known], host_root: str | None = "/") -> str:
    """The rules file text for an analysed trace."""
    t = a.trace
    sysctl: list[Suggestion] = []
    other: list[Suggestion] = []
    other_pids = made = 0
    for p in a.failed_paths():
        if p.path.startswith(PROC_SYS) and any(e in SYSCTL_ERRNOS for e in p.errnos):
            sysctl.append(_sysctl(a, p, known, host_root))
        elif _OTHER_PID.match(p.path):
            other_pids += 1
        elif set(p.errnos) == {"ENOENT"} and p.ok_after_failure:
            made += 1
        else:
            other.append(_other_path(a, p))
    calls = [_syscall_sketch(s) for s in a.syscalls.values()]

    head = [
        "# " + printable(f"Generated by `sysfake suggest {t.path}` on "
                         f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}"),
        "# " + printable(f"from a recording of: {shlex.join(t.header.argv)}"),
        "# Review every rule before use. Values marked \"this host\" were read where",
        "# suggest ran; commented-out rules need a value that sysfake does not know.",
        "version: 1",
    ]
    active = any(s.rule for s in sysctl)
    body: list[str] = []

    def block(title: str, items: list[Suggestion]) -> None:
        if not items:
            return
        body.append("")
        body.append(f"  # ---- {title}")
        for s in items:
            body.append("")
            # a recorded path may hold a newline or bytes that are not UTF-8:
            # escaped, every comment stays one comment line of a UTF-8 file
            body.extend("  # " + printable(c) if c else "  #" for c in s.comments)
            body.extend("  " + line for line in s.rule)  # JSON-quoted: ASCII
            body.extend("  # " + printable(line) for line in s.commented)

    block("/proc/sys files that were missing or refused", sysctl)
    block("other paths that failed (no value known: placeholders)", other)
    if other_pids:
        body.append("")
        body.append(f"  # {other_pids} failed paths under /proc/<pid>/ of other processes "
                    "are not suggested (see sysfake report)")
    if made:
        body.append("")
        body.append(f"  # {made} paths that were missing, then worked (made by the programs "
                    "themselves), are not suggested (see sysfake report)")
    block("syscalls that failed", calls)
    if not (sysctl or other or calls or other_pids or made):
        body.append("  # nothing failed in this recording")
    rules_line = "rules:" if active else "rules: []"
    return "\n".join([*head, rules_line, *body]) + "\n"


__all__ = ["SYSCTL_ERRNOS", "Suggestion", "suggest"]
