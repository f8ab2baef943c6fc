"""`sysfake check` and `sysfake explain`: show the compiled table, explain one path."""
from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from ..datatype import datatype, field
from ..model import EMULATION_NAMES, Action, ArgOp, MatchKind, PathRule, SetOp, SysAction
from ..paths import canonical, pattern_matches, redirect_target, rule_applies
from ..profiles import find_profile, is_profile_name
from ..text import Lines, printable
from .errors import RulesError
from .loader import CMDLINE, LoadedRule, LoadedSysRule, LoadResult, load_detailed, show_arg
from .precedence import sys_why, why
from .sysrules import STRUCTS
from .validate import ERRNO_BY_NUMBER, comm_too_long

_KIND = {MatchKind.EXACT: "exact", MatchKind.PREFIX: "prefix", MatchKind.GLOB: "glob"}
MAX_SHOWN = 120


def quote_bytes(data: bytes, limit: int = MAX_SHOWN) -> str:
    """Bytes as a double-quoted C-style string (the syntax --fake accepts)."""
    text = data.decode("utf-8", "surrogateescape")
    out = []
    for ch in text:
        o = ord(ch)
        if ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch in "\\\"":
            out.append("\\" + ch)
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif not ch.isprintable():
            out.append("".join(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass")))
        else:
            out.append(ch)
    s = "".join(out)
    if len(s) > limit:
        return f"\"{s[:limit]}\"..."
    return f"\"{s}\""


def errno_text(n: int) -> str:
    name = ERRNO_BY_NUMBER.get(n)
    msg = os.strerror(n)
    return f"{name} ({n}, {msg})" if name else f"errno {n} ({msg})"


def describe(lr: LoadedRule) -> str:
    """The action of a rule in words, for the check table."""
    r, spec = lr.rule, lr.spec
    if r.action is Action.CONTENT:
        assert r.vfile is not None
        v = r.vfile
        if v.directory and not v.listing:
            return "list: false (real listings here and below)"
        if v.directory:
            owner = f", uid {v.uid} gid {v.gid}" if v.uid or v.gid else ""
            return f"list: true (mode {v.mode:04o}{owner})"
        attrs = [f"mode {v.mode:04o}"]
        if v.uid or v.gid:
            attrs.append(f"uid {v.uid} gid {v.gid}")
        if v.readonly:
            attrs.append("readonly")
        src = f"from_host {spec.from_host} = " if spec.action == "from_host" else "content "
        return f"{src}{quote_bytes(v.content)} ({len(v.content)} bytes, {', '.join(attrs)})"
    if r.action is Action.REDIRECT:
        return f"redirect -> {r.target}"
    if r.action is Action.HIDE:
        return "hide (ENOENT)"
    return f"errno {errno_text(r.errno)}"


def only_text(r: PathRule) -> str:
    parts = [f"{k}={v}" for k, v in (("exe", r.only_exe), ("comm", r.only_comm)) if v]
    return f" [only {' '.join(parts)}]" if parts else ""


_OPS = {ArgOp.EQ: "==", ArgOp.NE: "!=", ArgOp.ANY: "any", ArgOp.ALL: "all",
        ArgOp.NONE: "none"}
_SETS = {SetOp.SET: "=", SetOp.OR: "|=", SetOp.CLEAR: "&= ~"}


def sys_conditions(sr: LoadedSysRule) -> str:
    """What a syscall rule matches, in words: `statfs path prefix /a/ [only ...]`."""
    r = sr.rule
    parts = [r.name]
    for m in r.args:
        v = m.value if m.op in (ArgOp.EQ, ArgOp.NE) else m.mask
        parts.append(f"arg{m.idx} {_OPS[m.op]} {v:#x}" + (" (32 bits)" if m.width == 4 else ""))
    if r.path is not None:
        what = f"fd arg{r.path_arg}" if r.path_fd else f"path arg{r.path_arg}"
        parts.append(f"{what} {_KIND[r.path_kind]} {r.path}")
    if r.only_exe or r.only_comm:
        parts.append("[only " + " ".join(f"{k}={v}" for k, v in
                                         (("exe", r.only_exe), ("comm", r.only_comm)) if v)
                     + "]")
    if sr.spec.when_written:
        parts.append(f"when {sr.spec.when_written}")
    if r.if_errno:
        parts.append("if_errno " + ",".join(ERRNO_BY_NUMBER.get(n, str(n)) for n in r.if_errno))
    return " ".join(parts)


def sys_action(sr: LoadedSysRule) -> str:
    r = sr.rule
    if r.action is SysAction.ERRNO:
        out = f"fail with {errno_text(r.errno)}"
    elif r.action is SysAction.RETURN:
        out = f"skip, return {r.retval}"
    elif r.action is SysAction.PATCH:
        out = "run, then patch the result"
    elif r.action is SysAction.PASS:
        out = "pass (leave the call alone)"
    elif r.action is SysAction.REWRITE:
        out = "rewrite " + ", ".join(f"arg{a.idx} {_SETS[a.op]}{a.value:#x}" for a in r.argsets)
        out += " (restored after the call)"
    else:
        out = "delay only"
    if r.patches:
        st = STRUCTS[r.name][1] if r.name in STRUCTS else None
        names = []
        for p in r.patches:
            fname = next((n for n, f in st.fields.items() if f.offset == p.offset
                          and len(p.data) == f.size), None) if st else None
            if fname is None:
                names.append(f"{len(p.data)} zero bytes" if not any(p.data)
                             else f"+{p.offset}")
            elif st and st.fields[fname].text:
                names.append(f"{fname}={p.data.rstrip(bytes(1)).decode(errors='replace')!r}")
            else:
                names.append(f"{fname}={int.from_bytes(p.data, 'little'):#x}")
        out += " [" + ", ".join(names) + "]"
    if r.delay_us:
        out += f" after a delay of {sr.spec.delay_written or str(r.delay_us) + 'us'}"
    return out


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows of five cells as aligned lines, each cell as it is printed (a path
    or a file name with a newline or an escape is wider escaped)."""
    shown = [[printable(cell) for cell in row] for row in rows]
    widths = [max((len(row[c]) for row in shown), default=0) for c in range(4)]
    return ["  ".join([row[0].rjust(widths[0])] + [row[c].ljust(widths[c]) for c in (1, 2, 3)]
                      + [row[4]]) for row in shown]


def sys_table_lines(res: LoadResult, start: int) -> list[str]:
    return _columns([(str(start + i + 1), str(sr.origin), "syscall", sys_conditions(sr),
                      sys_action(sr)) for i, sr in enumerate(res.sys_rules)])


def table_lines(res: LoadResult) -> list[str]:
    return _columns([(str(i + 1), str(lr.origin), _KIND[lr.rule.kind],
                      lr.rule.match + only_text(lr.rule), describe(lr))
                     for i, lr in enumerate(res.rules)])


def _err(e: RulesError, err: TextIO) -> int:
    err.write(f"sysfake: {e}\n")
    return 2


def cmd_check(files: list[str]) -> int:
    """Validate rule files (or built-in profile names) and print the compiled table.

    One line per rule in precedence order: number, origin file:line:col, kind,
    pattern [only ...], action. Notes (skipped from_host rules, overrides)
    follow, prefixed "note:". Exit 0 if valid, 2 on the first error."""
    out, err = Lines(sys.stdout), sys.stderr
    paths: list[str] = []
    profiles: list[str] = []
    for f in files:
        if not os.path.exists(f) and is_profile_name(f) and find_profile(f) is not None:
            profiles.append(f)
        else:
            paths.append(f)
    try:
        res = load_detailed(paths, profiles=profiles)
    except RulesError as e:
        return _err(e, err)
    for line in table_lines(res) + sys_table_lines(res, len(res.rules)):
        out.write(line + "\n")
    emul = [n for n, bit in EMULATION_NAMES.items() if res.emulations & bit]
    if emul:
        out.write("emulations: " + ", ".join(emul) + "\n")
    if res.cgroupfs is not None:
        out.write(f"cgroupfs: v1 tree with {', '.join(res.cgroupfs.controllers)} "
                  f"({res.cgroupfs.origin}); built at run time with its redirect, "
                  "/proc/self/cgroup, /proc/cgroups, mountinfo and statfs rules\n")
    for note in res.notes:
        out.write(f"note: {note}\n")
    n = len(res.rules) + len(res.sys_rules)
    out.write(f"ok: {n} rule{'s' if n != 1 else ''} from {len(res.sources)} "
              f"file{'s' if len(res.sources) != 1 else ''}\n")
    return 0


@datatype
class Loser:
    rule: LoadedRule
    reason: str


@datatype
class Explanation:
    path: str  # canonical
    winner: LoadedRule | None
    sees: str
    losers: list[Loser] = field(default_factory=list)


def _only_mismatch(r: PathRule, exe: str | None, comm: str | None) -> str:
    if r.only_exe is not None:
        if exe is None:
            return f"only: exe={r.only_exe} and no --exe was given"
        if not fnmatch.fnmatchcase(exe, r.only_exe):
            return f"only: exe {exe} does not match {r.only_exe}"
    if r.only_comm is not None:
        if comm is None:
            return f"only: comm={r.only_comm} and no --comm was given"
        if not fnmatch.fnmatchcase(comm, r.only_comm):
            return f"only: comm {comm} does not match {r.only_comm}"
    return "only: does not match"


def explain(res: LoadResult, path: str, exe: str | None = None,
            comm: str | None = None) -> Explanation:
    """Which rule decides `path` for a process with this exe and comm, and why."""
    p = canonical(path)
    winner: LoadedRule | None = None
    losers: list[Loser] = []
    for lr in res.rules:
        r = lr.rule
        if not pattern_matches(r.kind, r.match, p):
            continue
        if winner is None and rule_applies(r, p, exe, comm):
            winner = lr
        elif winner is None or not rule_applies(r, p, exe, comm):
            losers.append(Loser(lr, _only_mismatch(r, exe, comm)))
        else:
            losers.append(Loser(lr, f"lost to {winner.origin}: {why(winner.rule, r)}"))
    for lost, won in res.overridden:
        if pattern_matches(lost.rule.kind, lost.rule.match, p):
            losers.append(Loser(lost, f"overridden by {won.origin}"))
    for sk, reason in res.skipped:
        if pattern_matches(sk.rule.kind, sk.rule.match, p):
            losers.append(Loser(sk, f"skipped: {reason}"))
    if winner is None:
        sees = "not matched: the real file"
    else:
        r = winner.rule
        if r.action is Action.CONTENT and r.vfile is not None and r.vfile.directory:
            sees = ("a directory listing its real entries, the virtual paths below it and "
                    "not the hidden ones" if r.vfile.listing else
                    "the real directory, listed as it is")
        elif r.action is Action.CONTENT:
            sees = describe(winner)
            if winner.spec.action == "from_host":
                sees = "virtual file: " + sees
            else:
                sees = "virtual file with " + sees
        elif r.action is Action.REDIRECT:
            sees = f"the real file at {redirect_target(r, p)} (redirected)"
        elif r.action is Action.HIDE:
            sees = f"no such file: {errno_text(r.errno)}"
        else:
            sees = f"every access fails with {errno_text(r.errno)}"
    return Explanation(p, winner, sees, losers)


def _where(lr: LoadedRule) -> str:
    o = str(lr.origin)
    return o if o == lr.spec.key else f"{o} {lr.spec.key}"


@datatype
class SysExplanation:
    rule: LoadedSysRule
    note: str  # "" when the rule decides the call unconditionally


def explain_syscall(res: LoadResult, path: str | None, syscall: str | None,
                    exe: str | None = None, comm: str | None = None) -> list[SysExplanation]:
    """The syscall rules that may decide a call on `path` (of `syscall`, or of any), in the
    order the core tries them, each with what else it needs to match."""
    p = canonical(path) if path is not None else None
    out: list[SysExplanation] = []
    decided: dict[str, LoadedSysRule] = {}
    for sr in res.sys_rules:
        r = sr.rule
        if syscall is not None and r.name != syscall:
            continue
        if r.path is not None:
            if p is None:
                continue
            if r.path.startswith(("pipe:", "socket:", "anon_inode:")):
                continue
            if not pattern_matches(r.path_kind, r.path, p):
                continue
        elif syscall is None:
            continue  # explain PATH alone lists only the rules that look at paths
        conds = []
        if r.args:
            conds.append("the arguments match")
        probe = PathRule(r.path or "/", r.path_kind, Action.ERRNO, sr.origin,
                         only_exe=r.only_exe, only_comm=r.only_comm)
        if (r.only_exe or r.only_comm) and not rule_applies(probe, p or "/", exe, comm):
            conds.append(_only_mismatch(probe, exe, comm))
        if sr.spec.when_written:
            conds.append(f"the call number is selected by when {sr.spec.when_written}")
        if r.if_errno:
            conds.append("the real call fails with "
                         + " or ".join(ERRNO_BY_NUMBER.get(n, str(n)) for n in r.if_errno))
        note = "; ".join(conds)
        prev = decided.get(r.name)
        if prev is not None and not note:
            note = f"only if an earlier rule does not match ({sys_why(prev.rule, r)})"
        if prev is None and not conds:
            decided[r.name] = sr
        out.append(SysExplanation(sr, note))
    return out


def cmd_explain(path: str, files: Sequence[str] = (), fakes: Sequence[str] = (),
                redirects: Sequence[str] = (), hides: Sequence[str] = (),
                exe: str | None = None, comm: str | None = None,
                profiles: Sequence[str] = (), syscall: str | None = None,
                disable_rules: Sequence[str] = ()) -> int:
    """Say which rule decides `path`, what the process sees, and which rules lost and why.
    Exit 0, or 2 if the rules (or the path) are invalid."""
    out, err = Lines(sys.stdout), sys.stderr
    if not path.startswith("/") or "\0" in path:
        return _err(RulesError(f"the path to explain must be absolute, not {path!r}"), err)
    # as only: comm: in a rule, a name no process can have is a mistake, not a "no match"
    why = comm_too_long(comm) if comm is not None else None
    if why:
        return _err(RulesError(why, CMDLINE, key=show_arg("--comm", comm or "")), err)
    try:
        res = load_detailed(files, fakes, redirects, hides, profiles,
                            disable_rules=disable_rules)
    except RulesError as e:
        return _err(e, err)
    if syscall is not None:
        from .suggest import did_you_mean
        from .sysrules import nr_of, syscall_numbers
        if nr_of(syscall) is None:
            return _err(RulesError(f"unknown syscall {syscall!r}"
                                   f"{did_you_mean(syscall, syscall_numbers())}"), err)
    ex = explain(res, path, exe, comm)
    out.write(f"path: {ex.path}\n")
    if ex.path != path:
        out.write(f"  (canonical form of {path})\n")
    if exe is not None or comm is not None:
        out.write(f"process: exe={exe or '?'} comm={comm or '?'}\n")
    if ex.winner is None:
        out.write("decided by: no rule\n")
    else:
        w = ex.winner
        out.write(f"decided by: {_where(w)}: {_KIND[w.rule.kind]} "
                  f"{w.rule.match}{only_text(w.rule)}\n")
    out.write(f"the process sees: {ex.sees}\n")
    if ex.losers:
        out.write("also matched, but did not decide:\n")
        for lo in ex.losers:
            r = lo.rule
            out.write(f"  {_where(r)}: {_KIND[r.rule.kind]} {r.rule.match}"
                      f"{only_text(r.rule)}: {lo.reason}\n")
    sx = explain_syscall(res, path, syscall, exe, comm)
    if sx:
        out.write(f"syscall rules{' for ' + syscall if syscall else ' that look at this path'}"
                  " (tried in this order):\n")
        for s in sx:
            out.write(f"  {s.rule.origin} {s.rule.spec.key}: {sys_conditions(s.rule)}: "
                      f"{sys_action(s.rule)}" + (f" — if {s.note}" if s.note else "") + "\n")
    elif syscall is not None:
        out.write(f"syscall rules for {syscall}: none match this path; the call is not "
                  "changed\n")
    if syscall is not None and res.cgroupfs is not None and syscall in ("statfs", "fstatfs") \
            and pattern_matches(MatchKind.PREFIX, "/sys/fs/cgroup/", canonical(path)):
        out.write("cgroupfs: at run time /sys/fs/cgroup reports TMPFS_MAGIC and everything "
                  "below it CGROUP_SUPER_MAGIC (unless a rule above decides first)\n")
    return 0
