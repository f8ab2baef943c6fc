from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysfake.model import Action, MatchKind, Origin, PathRule
from sysfake.paths import first_match, glob_match, pattern_matches
from sysfake.rules.precedence import order, sort_key, why

from .helpers import load_str


def rule(match: str, kind: MatchKind, exe: str | None = None,
         comm: str | None = None) -> PathRule:
    return PathRule(match, kind, Action.HIDE, Origin("x"), errno=2, only_exe=exe, only_comm=comm)


E, P, G = MatchKind.EXACT, MatchKind.PREFIX, MatchKind.GLOB


@pytest.mark.parametrize("a,b", [
    (rule("/a/b", E), rule("/a/*", G)),
    (rule("/a/b", E), rule("/a/", P)),
    (rule("/**/x", G), rule("/a/b/c/", P)),
    (rule("/a/b/", P), rule("/a/", P)),
    (rule("/a/b/*", G), rule("/a/**", G)),
    (rule("/proc/sys/*", G), rule("/proc/**/x", G)),
    (rule("/a/b/*", G), rule("/a/*/c", G)),
    (rule("/a/*/c", G), rule("/a/**/c", G)),
    (rule("/a", E, exe="*/runc"), rule("/a", E)),
    (rule("/a", E, comm="runc"), rule("/a", E)),
    (rule("/a", E, exe="*/runc", comm="runc"), rule("/a", E, exe="*/runc")),
    (rule("/a", E, exe="*/runc"), rule("/a", E, comm="runc")),
    (rule("/a", E, exe="/usr/bin/runc"), rule("/a", E, exe="*/runc")),
])
def test_pairwise(a: PathRule, b: PathRule) -> None:
    assert sort_key(a) < sort_key(b)
    assert order([b, a]) == [a, b]
    assert why(a, b)


def test_loaded_set_is_in_precedence_order_regardless_of_file_order() -> None:
    lines = [
        "  - {match: /proc/sys/, errno: EACCES}",
        "  - {match: /proc/sys/net/, redirect: /n/}",
        "  - {match: '/proc/sys/net/ipv4/conf/*/rp_filter', content: x}",
        "  - {match: '/proc/**', hide: true}",
        "  - {match: /proc/sys/net/core/somaxconn, content: y}",
        "  - {match: /proc/sys/net/core/somaxconn, content: z, only: {comm: a}}",
    ]
    want = None
    for seed in range(10):
        random.Random(seed).shuffle(lines)
        got = [(r.rule.match, r.rule.only_comm)
               for r in load_str("version: 1\nrules:\n" + "\n".join(lines) + "\n").rules]
        want = want or got
        assert got == want
    assert want == [("/proc/sys/net/core/somaxconn", "a"), ("/proc/sys/net/core/somaxconn", None),
                    ("/proc/sys/net/ipv4/conf/*/rp_filter", None), ("/proc/sys/net/", None),
                    ("/proc/sys/", None), ("/proc/", None)]


SEGS = st.sampled_from(["a", "b", "c", "*", "?", "**", "ab", "a*"])


def _glob() -> st.SearchStrategy[str]:
    return st.lists(SEGS, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s))


@settings(max_examples=300, deadline=None)
@given(st.lists(_glob(), min_size=1, max_size=6), st.lists(st.sampled_from(["a", "b", "c", "ab"]),
                                                           min_size=1, max_size=5))
def test_first_match_is_a_most_specific_match(globs: list[str], comps: list[str]) -> None:
    """The first matching rule of the ordered table is never less specific than
    another matching rule, and the order does not depend on input order."""
    rules = [rule(g, G) for g in dict.fromkeys(globs)]
    path = "/" + "/".join(comps)
    ordered = order(rules)
    assert order(list(reversed(rules))) == ordered
    w = first_match_r(ordered, path)
    if w is None:
        assert not any(glob_match(r.match, path) for r in rules)
        return
    for r in rules:
        if pattern_matches(r.kind, r.match, path):
            assert sort_key(w) <= sort_key(r)


def first_match_r(rules: list[PathRule], path: str) -> PathRule | None:
    from sysfake.model import RuleSet

    return first_match(RuleSet(rules), path)
