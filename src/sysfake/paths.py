"""Path normalisation and rule matching, with exactly the semantics of csrc/match.c.

Used by the rules compiler (canonical patterns), `sysfake explain` and the
Python reference backend.

Semantics (the C core mirrors these):

* normalize(): lexical only; `//` and `.` collapse, `..` pops a component
  (never above `/`); a trailing `/` is kept only with keep_trailing_slash.
* canonical(): normalize(), then `/proc/thread-self` becomes `/proc/self`;
  with `pids` (the caller's own tgid/tid numbers) also `/proc/<pid>`,
  `/proc/<pid>/task/<tid>` and `/proc/self/task/<tid>` become `/proc/self`.
  Without `pids` (rule patterns) numeric /proc paths are left alone.
* EXACT matches the identical string; PREFIX (`/a/`) matches `/a` and
  everything below it; GLOB: `*` = any run of non-`/` characters, `?` = one
  non-`/` character, `**` = any run of characters including `/`; `/**/`
  also matches a single `/`, and a trailing `/**` also matches the directory
  itself (`/a/**` matches `/a`). Every other character is literal
  (no `[...]` classes, no `{a,b}`, no escapes).
"""
from __future__ import annotations

import fnmatch
import re
from functools import lru_cache

from .model import MatchKind, PathRule, RuleSet

_PROC_ALIAS = re.compile(r"^/proc/thread-self(?=/|$)")


def normalize(path: str, keep_trailing_slash: bool = False) -> str:
    """Lexically normalise an absolute path: collapse `//`, drop `.`, resolve `..`."""
    if not path.startswith("/"):
        raise ValueError(f"not an absolute path: {path!r}")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    res = "/" + "/".join(out)
    if keep_trailing_slash and path.endswith("/") and res != "/":
        res += "/"
    return res


def canonical(path: str, keep_trailing_slash: bool = False,
              pids: tuple[int, ...] = ()) -> str:
    """normalize(), then write the caller's own /proc aliases as /proc/self.

    `pids` are the numbers that mean "this process" or "this thread" for the
    caller (its tgid and tid, as it sees them and as the tracer sees them).
    """
    p = normalize(path, keep_trailing_slash)
    p = _PROC_ALIAS.sub("/proc/self", p)
    if pids and p.startswith("/proc/"):
        m = re.match(r"^/proc/(\d+)(?:/task/(\d+))?(?=/|$)", p)
        if m and int(m.group(1)) in pids and (m.group(2) is None or int(m.group(2)) in pids):
            p = "/proc/self" + p[m.end():]
        else:
            # /proc/self/task/<tid>: only the caller's own thread is an alias of /proc/self
            m = re.match(r"^/proc/self/task/(\d+)(?=/|$)", p)
            if m and int(m.group(1)) in pids:
                p = "/proc/self" + p[m.end():]
    return p


@lru_cache(maxsize=512)
def _glob_re(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "/" and pattern[i:] == "/**":
            # a trailing "/**" matches the directory itself and everything below it
            out.append("(?:/.*)?")
            break
        if c == "*":
            if pattern.startswith("**", i):
                # "/**/" also matches a single "/" (zero components)
                if pattern.startswith("/", i + 2) and (i == 0 or pattern[i - 1] == "/"):
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def glob_match(pattern: str, path: str) -> bool:
    return _glob_re(pattern).match(path) is not None


def pattern_matches(kind: MatchKind, pattern: str, path: str) -> bool:
    if kind is MatchKind.EXACT:
        return path == pattern
    if kind is MatchKind.PREFIX:
        return path == pattern[:-1] or path.startswith(pattern) or (pattern == "/")
    return glob_match(pattern, path)


def rule_applies(rule: PathRule, path: str, exe: str | None, comm: str | None) -> bool:
    if rule.only_exe is not None and (exe is None or not fnmatch.fnmatchcase(exe, rule.only_exe)):
        return False
    if rule.only_comm is not None and (
        comm is None or not fnmatch.fnmatchcase(comm, rule.only_comm)
    ):
        return False
    return pattern_matches(rule.kind, rule.match, path)


def first_match(rules: RuleSet, path: str, exe: str | None = None,
                comm: str | None = None) -> PathRule | None:
    for r in rules.path_rules:
        if rule_applies(r, path, exe, comm):
            return r
    return None


def redirect_target(rule: PathRule, path: str) -> str:
    """Where a REDIRECT rule sends `path` (rule.match is a prefix or an exact path)."""
    assert rule.target is not None
    if rule.kind is MatchKind.PREFIX:
        base = rule.match[:-1]
        rest = path[len(base):]
        tgt = rule.target[:-1] if rule.target.endswith("/") else rule.target
        return (tgt + rest) or "/"
    return rule.target
