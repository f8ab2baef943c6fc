"""`sysfake check` and `sysfake explain`: show the compiled table, explain one path."""
from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from ..model import Action, MatchKind, PathRule
from ..paths import canonical, pattern_matches, redirect_target, rule_applies
from ..profiles import find_profile, is_profile_name
from .errors import RulesError
from .loader import LoadedRule, LoadResult, load_detailed
from .precedence import why
from .validate import ERRNO_BY_NUMBER

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


def table_lines(res: LoadResult) -> list[str]:
    rows = [(str(i + 1), str(lr.origin), _KIND[lr.rule.kind], lr.rule.match + only_text(lr.rule),
             describe(lr)) for i, lr in enumerate(res.rules)]
    if not rows:
        return []
    widths = [max(len(row[c]) for row in rows) for c in range(4)]
    return ["  ".join([row[0].rjust(widths[0])] + [row[c].ljust(widths[c]) for c in (1, 2, 3)]
                      + [row[4]]) for row in rows]


def _err(e: RulesError, err: TextIO) -> int:
    err.write(f"sysfake: {e}\n")
    return 2


def cmd_check(files: list[str]) -> int:
    """Validate rule files (or built-in profile names) and print the compiled table.

    One line per rule in precedence order: number, origin file:line:col, kind,
    pattern [only ...], action. Notes (skipped from_host rules, overrides)
    follow, prefixed "note:". Exit 0 if valid, 2 on the first error."""
    out, err = sys.stdout, sys.stderr
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
    for line in table_lines(res):
        out.write(line + "\n")
    for note in res.notes:
        out.write(f"note: {note}\n")
    n = len(res.rules)
    out.write(f"ok: {n} rule{'s' if n != 1 else ''} from {len(res.sources)} "
              f"file{'s' if len(res.sources) != 1 else ''}\n")
    return 0


@dataclass
class Loser:
    rule: LoadedRule
    reason: str


@dataclass
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
        if r.action is Action.CONTENT:
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


def cmd_explain(path: str, files: Sequence[str] = (), fakes: Sequence[str] = (),
                redirects: Sequence[str] = (), hides: Sequence[str] = (),
                exe: str | None = None, comm: str | None = None,
                profiles: Sequence[str] = ()) -> int:
    """Say which rule decides `path`, what the process sees, and which rules lost and why.
    Exit 0, or 2 if the rules (or the path) are invalid."""
    out, err = sys.stdout, sys.stderr
    if not path.startswith("/") or "\0" in path:
        return _err(RulesError(f"the path to explain must be absolute, not {path!r}"), err)
    try:
        res = load_detailed(files, fakes, redirects, hides, profiles)
    except RulesError as e:
        return _err(e, err)
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
    return 0
