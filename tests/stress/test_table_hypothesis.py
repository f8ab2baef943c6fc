"""Hypothesis on the C table parser and matcher through cffi.

* random and mutated tables (starting from valid sysfake.table.encode output)
  given to sysfake.core.check_table and sf_match_path: never a crash, and the
  two agree on which tables are valid;
* differential: sf_match_path returns the rule id that
  sysfake.paths.first_match picks, for random exact/prefix/glob patterns
  (`*`, `**`, `?`) and paths. This holds the C matcher to the Python semantics.
"""
from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import import_or_missing
from sysfake.core import check_table
from sysfake.model import Action, MatchKind, Origin, PathRule, RuleSet, VirtualFile
from sysfake.paths import canonical, first_match
from sysfake.table import encode

core = import_or_missing("sysfake._core")
ORIGIN = Origin("hyp")

COMPONENTS = ["a", "b", "ab", "proc", "sys", "x.y", ".", "..", "*", "**", "?", "a*", "*b",
              "a?c", "", "\xe9", "\udcff"]
PATH_COMPONENTS = ["a", "b", "ab", "abc", "proc", "sys", "x.y", "a.c", "aXc", "", "\xe9",
                   "\udcff", "*", "?"]


def _cbytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def match_c(table: bytes, path: str, exe: str | None = None, comm: str | None = None) -> int:
    ffi = core.ffi
    return int(core.lib.sf_match_path(table, len(table), _cbytes(path),
                                      _cbytes(exe) if exe is not None else ffi.NULL,
                                      _cbytes(comm) if comm is not None else ffi.NULL))


@st.composite
def patterns(draw: st.DrawFn) -> tuple[MatchKind, str]:
    kind = draw(st.sampled_from([MatchKind.EXACT, MatchKind.PREFIX, MatchKind.GLOB]))
    comps = draw(st.lists(st.sampled_from(COMPONENTS), min_size=0, max_size=4))
    if kind is not MatchKind.GLOB:
        comps = [c for c in comps if c and c not in (".", "..") and "*" not in c
                 and "?" not in c]
    pat = "/" + "/".join(comps)
    if kind is MatchKind.PREFIX and not pat.endswith("/"):
        pat += "/"
    return kind, pat


@st.composite
def rulesets(draw: st.DrawFn) -> RuleSet:
    rules = []
    for kind, pat in draw(st.lists(patterns(), min_size=0, max_size=5)):
        action = draw(st.sampled_from([Action.HIDE, Action.ERRNO, Action.CONTENT]
                                      + ([] if kind is MatchKind.GLOB else [Action.REDIRECT])))
        rules.append(PathRule(
            pat, kind, action, ORIGIN,
            vfile=VirtualFile(draw(st.binary(max_size=8))) if action is Action.CONTENT else None,
            target="/t/" if action is Action.REDIRECT else None,
            errno=13 if action is Action.ERRNO else 0,
            only_exe=draw(st.sampled_from([None, None, "*/runc", "/bin/*"])),
            only_comm=draw(st.sampled_from([None, None, "ru*", "sh"]))))
    return RuleSet(rules)


paths = st.lists(st.sampled_from(PATH_COMPONENTS), max_size=5).map(lambda c: "/" + "/".join(c))


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rulesets(), paths, st.sampled_from([None, "/usr/bin/runc", "/bin/sh"]),
       st.sampled_from([None, "runc", "sh"]))
def test_c_matcher_agrees_with_paths_py(rules: RuleSet, path: str, exe: str | None,
                                        comm: str | None) -> None:
    table = encode(rules)
    assert check_table(table) is None
    want = first_match(rules, path, exe, comm)
    want_id = -1 if want is None else rules.path_rules.index(want)
    assert match_c(table, path, exe, comm) == want_id, (
        [(r.kind.name, r.match, r.only_exe, r.only_comm) for r in rules.path_rules], path)


# --------------------------------------------------------------- robustness
@st.composite
def mutated_tables(draw: st.DrawFn) -> bytes:
    blob = bytearray(encode(draw(rulesets())))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "u32", "cut", "grow", "splice"]))
        if op == "flip" and blob:
            i = draw(st.integers(0, len(blob) - 1))
            blob[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "u32" and len(blob) >= 4:
            i = draw(st.integers(0, len(blob) - 4))
            v = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                                      0xFFFFFFFE, 4095, 4096, len(blob)]))
            struct.pack_into("<I", blob, i, v)
        elif op == "cut" and blob:
            del blob[draw(st.integers(0, len(blob) - 1)):]
        elif op == "grow":
            blob += draw(st.binary(max_size=64))
        elif op == "splice" and blob:
            i = draw(st.integers(0, len(blob)))
            blob[i:i] = draw(st.binary(max_size=16))
    return bytes(blob)


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_tables(), st.binary(max_size=300)), paths)
def test_mutated_tables_never_crash(table: bytes, path: str) -> None:
    err = check_table(table)
    assert err is None or (err.startswith("rule table:") and "\n" not in err)
    got = match_c(table, path)
    assert got >= -2
    assert (got == -2) == (err is not None)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 7), st.integers(0, 0xFFFFFFFF))
def test_header_counts_never_overflow(field: int, value: int) -> None:
    # each u32 of the header of a small valid table set to a hostile value
    blob = bytearray(encode(RuleSet([PathRule("/a/", MatchKind.PREFIX, Action.HIDE, ORIGIN)])))
    struct.pack_into("<I", blob, field * 4, value)
    check_table(bytes(blob))
    match_c(bytes(blob), "/a/b")


# ------------------------------------------- relative names (sf_name_may_match)
# The core skips resolving a relative path (a readlink of its directory) when
# no rule's last component can be the resolved path's. Sound only if, from
# every directory, such a path matches no rule.
REL_COMPONENTS = ["a", "b", "ab", "self", "thread-self", "task", "proc", "123", "7", ".",
                  "..", "", "x.y"]
DIR_COMPONENTS = ["a", "b", "proc", "self", "123", "task", "7", "x.y"]
PIDS = (123, 7)


@st.composite
def literal_rulesets(draw: st.DrawFn) -> RuleSet:
    """Rules whose last component is literal (the sets the skip applies to)."""
    rules = []
    for _ in range(draw(st.integers(0, 4))):
        comps = draw(st.lists(st.sampled_from(["a", "b", "ab", "proc", "self", "task", "123",
                                               "x.y"]), min_size=1, max_size=4))
        kind = MatchKind.EXACT
        if draw(st.booleans()):
            kind = MatchKind.GLOB
            comps[draw(st.integers(0, len(comps) - 1))] = draw(st.sampled_from(["*", "**"]))
            if comps[-1] in ("*", "**"):
                comps.append("b")
        rules.append(PathRule("/" + "/".join(comps), kind, Action.HIDE, ORIGIN))
    return RuleSet(rules)


def may_match_c(table: bytes, rel: str) -> int:
    return int(core.lib.sf_name_may_match_path(table, len(table), _cbytes(rel)))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(literal_rulesets(), rulesets()),
       st.lists(st.sampled_from(REL_COMPONENTS), min_size=0, max_size=4).map("/".join),
       st.lists(st.sampled_from(DIR_COMPONENTS), max_size=4).map(lambda c: "/" + "/".join(c)))
def test_skipped_relative_names_match_no_rule(rules: RuleSet, rel: str, where: str) -> None:
    table = encode(rules)
    may = may_match_c(table, rel)
    assert may in (0, 1)
    if may or not rel:
        return
    seen = canonical(f"{where}/{rel}", pids=PIDS)
    assert first_match(rules, seen) is None, (
        [(r.kind.name, r.match) for r in rules.path_rules], where, rel, seen)


@pytest.mark.parametrize(("patterns", "rel", "may"), [
    (["/a/b"], "b", 1),
    (["/a/b"], "c", 0),
    (["/a/b"], "x/./b/.", 1),
    (["/a/b"], "b/..", 1),       # the directory above: any name
    (["/a/b"], ".", 1),          # the directory itself
    (["/a/b"], "", 1),
    (["/proc/self"], "123", 1),  # /proc/<pid> is /proc/self
    (["/proc/self"], "thread-self", 1),
    (["/proc/self"], "selfish", 0),
    (["/proc/*/b"], "c", 0),
    (["/proc/*/b"], "b", 1),
    (["/a/", "/a/b"], "c", 1),   # a prefix rule: any name
    (["/a/*"], "c", 1),          # a wildcard last component
    (["/"], "c", 1),
])
def test_name_may_match(patterns: list[str], rel: str, may: int) -> None:
    def kind(p: str) -> MatchKind:
        return (MatchKind.PREFIX if p.endswith("/") else
                MatchKind.GLOB if "*" in p else MatchKind.EXACT)
    rules = RuleSet([PathRule(p, kind(p), Action.HIDE, ORIGIN) for p in patterns])
    assert may_match_c(encode(rules), rel) == may
