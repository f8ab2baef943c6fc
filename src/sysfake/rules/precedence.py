"""Precedence: which of several matching rules decides a path.

The C core takes the first matching rule of the table, so the loader sorts
rules by `sort_key` (most specific first). Specificity, compared in order:

1. kind: an EXACT path beats any GLOB, which beats any PREFIX;
2. within a kind:
   - PREFIX: the longer pattern wins (a deeper directory);
   - GLOB: more literal (non-wildcard) characters wins; then the glob whose
     first wildcard comes later; then fewer `**`; then fewer wildcards;
3. the pattern text (plain string order): different exact patterns, or
   different prefixes of the same length, never match the same path; for
   two different but equally specific globs this is the documented tie-break;
4. `only:` — for the same pattern, a rule restricted with `only:` beats one
   that is not: exe and comm > exe only > comm only > none; then the
   longer literal part (non-wildcard characters) of the exe glob, then of
   the comm glob; then the exe and comm text.

Two rules with the same kind, pattern and `only:` are "equal" (see
`identity`); the loader rejects them unless one overrides the other.
"""
from __future__ import annotations

from ..model import Action, MatchKind, Origin, PathRule, SyscallRule

_KIND_RANK = {MatchKind.EXACT: 0, MatchKind.GLOB: 1, MatchKind.PREFIX: 2}
_KIND_NAME = {MatchKind.EXACT: "an exact path", MatchKind.GLOB: "a glob",
              MatchKind.PREFIX: "a prefix"}
_WILD = "*?"

SortKey = tuple[int, int, int, int, int, str, int, int, int, str, str]


def literal_count(pattern: str) -> int:
    return sum(1 for c in pattern if c not in _WILD)


def first_wildcard(pattern: str) -> int:
    idx = [i for i in (pattern.find("*"), pattern.find("?")) if i >= 0]
    return min(idx) if idx else len(pattern)


def _fn_literal(glob: str | None) -> int:
    return 0 if glob is None else sum(1 for c in glob if c not in "*?[]")


def _only_rank(r: PathRule) -> int:
    if r.only_exe is not None and r.only_comm is not None:
        return 0
    if r.only_exe is not None:
        return 1
    if r.only_comm is not None:
        return 2
    return 3


def _pattern_fields(r: PathRule) -> tuple[int, int, int, int]:
    p = r.match
    if r.kind is MatchKind.PREFIX:
        return (-len(p), 0, 0, 0)
    if r.kind is MatchKind.GLOB:
        wild = sum(1 for c in p if c in _WILD)
        return (-literal_count(p), -first_wildcard(p), p.count("**"), wild)
    return (0, 0, 0, 0)


def sort_key(r: PathRule) -> SortKey:
    a, b, c, d = _pattern_fields(r)
    return (_KIND_RANK[r.kind], a, b, c, d, r.match, _only_rank(r),
            -_fn_literal(r.only_exe), -_fn_literal(r.only_comm),
            r.only_exe or "", r.only_comm or "")


def identity(r: PathRule) -> tuple[MatchKind, str, str | None, str | None]:
    """Rules with the same identity match exactly the same (path, process) pairs."""
    return (r.kind, r.match, r.only_exe, r.only_comm)


def order(rules: list[PathRule]) -> list[PathRule]:
    return sorted(rules, key=sort_key)


def kind_name(kind: MatchKind) -> str:
    return _KIND_NAME[kind]


def why(winner: PathRule, loser: PathRule) -> str:
    """Why `winner` sorts before `loser` (both match the path), in words."""
    if winner.kind is not loser.kind:
        return f"{kind_name(winner.kind)} beats {kind_name(loser.kind)}"
    if winner.match != loser.match:
        w, lo = winner.match, loser.match
        if winner.kind is MatchKind.PREFIX:
            return f"a longer prefix wins ({len(w)} > {len(lo)} characters)"
        if winner.kind is MatchKind.GLOB:
            if literal_count(w) != literal_count(lo):
                return (f"more literal characters win ({literal_count(w)} > "
                        f"{literal_count(lo)})")
            if first_wildcard(w) != first_wildcard(lo):
                return (f"equal literal characters; its first wildcard comes later "
                        f"(column {first_wildcard(w) + 1} > {first_wildcard(lo) + 1})")
            if w.count("**") != lo.count("**"):
                return "equally literal; fewer '**' wins"
            if sum(1 for ch in w if ch in _WILD) != sum(1 for ch in lo if ch in _WILD):
                return "equally literal; fewer wildcards win"
            return "equally specific globs; the tie is broken by pattern text order"
    if _only_rank(winner) != _only_rank(loser):
        names = ["only: exe and comm", "only: exe", "only: comm", "no only:"]
        return (f"same pattern; {names[_only_rank(winner)]} beats "
                f"{names[_only_rank(loser)]}")
    return "same pattern and kind of only:; the more literal exe/comm glob wins, then text"


# ---------------------------------------------------------------- syscall rules
#
# Syscall rules are tried per syscall, in this order (the first that matches and
# whose `when` counter selects the call decides it):
#
# 1. specificity, descending: the number of argument matchers, plus 1 for a
#    `path:`, plus 1 for `only:` (exe and comm together count 1);
# 2. at equal specificity, a rule with `path:` comes before one without, and two
#    paths are ordered as path rules are (exact, then glob, then prefix, ...);
# 3. then the order the rules were read in (profiles, files depth-first with
#    their includes, then generated rules): `pass` rules are not special, they
#    sit where their specificity and position put them.
#
# Two rules with the same syscall, argument matchers, path (and path argument),
# `only:`, `when` and `if_errno` are "equal": the second could never decide a
# call, so the loader rejects it unless one overrides the other.

SysIdentity = tuple[object, ...]


def sys_specificity(r: SyscallRule) -> int:
    only = 1 if (r.only_exe is not None or r.only_comm is not None) else 0
    return len(r.args) + (1 if r.path is not None else 0) + only


_NO_PATH: SortKey = (9, 0, 0, 0, 0, "", 0, 0, 0, "", "")


def sys_sort_key(r: SyscallRule, order: int) -> tuple[int, int, int, SortKey, int]:
    pk = _NO_PATH
    if r.path is not None:
        pk = sort_key(PathRule(r.path, r.path_kind, Action.ERRNO, Origin("")))
    return (r.nr, -sys_specificity(r), 0 if r.path is not None else 1, pk, order)


def sys_identity(r: SyscallRule) -> SysIdentity:
    args = tuple(sorted((m.idx, int(m.op), m.value, m.mask) for m in r.args))
    return (r.nr, args, r.path, int(r.path_kind) if r.path else None, r.path_arg, r.path_fd,
            r.only_exe, r.only_comm, r.when_first, r.when_last, r.when_step,
            tuple(sorted(r.if_errno)))


def sys_why(winner: SyscallRule, loser: SyscallRule) -> str:
    a, b = sys_specificity(winner), sys_specificity(loser)
    if a != b:
        return f"more specific ({a} > {b} conditions among args, path, only)"
    if (winner.path is None) != (loser.path is None):
        return "equally specific; a rule with path: comes first"
    if winner.path != loser.path or winner.path_kind != loser.path_kind:
        return "equally specific; its path is more specific"
    return "equally specific; it comes first in reading order"
