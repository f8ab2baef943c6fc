"""The paths.py semantics the rules compiler relies on (and the fixes made there)."""
from __future__ import annotations

import pytest

from sysfake.model import MatchKind
from sysfake.paths import canonical, glob_match, normalize, pattern_matches


@pytest.mark.parametrize("pat,path,ok", [
    ("/a/**", "/a", True), ("/a/**", "/a/b/c", True), ("/a/**", "/ab", False),
    ("/a/*/**", "/a/x", True), ("/a/*/**", "/a", False),
    ("/a/**/b", "/a/b", True), ("/a/**/b", "/a/x/y/b", True), ("/a/**/b", "/a/xb", False),
    ("/a/*", "/a/b/c", False), ("/a/?", "/a/b", True), ("/a/?", "/a/bc", False),
    ("/a/[b]", "/a/[b]", True), ("/a/[b]", "/a/b", False),
])
def test_glob(pat: str, path: str, ok: bool) -> None:
    assert glob_match(pat, path) is ok


def test_prefix_and_exact() -> None:
    assert pattern_matches(MatchKind.PREFIX, "/a/", "/a")
    assert pattern_matches(MatchKind.PREFIX, "/a/", "/a/b")
    assert not pattern_matches(MatchKind.PREFIX, "/a/", "/ab")
    assert pattern_matches(MatchKind.PREFIX, "/", "/x")
    assert not pattern_matches(MatchKind.EXACT, "/a", "/a/b")


def test_canonical() -> None:
    assert normalize("//a/./b/../c/", keep_trailing_slash=True) == "/a/c/"
    assert normalize("/../..") == "/"
    assert canonical("/proc/thread-self/x") == "/proc/self/x"
    # only the caller's own task is an alias of /proc/self
    assert canonical("/proc/self/task/77/x") == "/proc/self/task/77/x"
    assert canonical("/proc/self/task/77/x", pids=(77,)) == "/proc/self/x"
    assert canonical("/proc/self/task/78/x", pids=(77,)) == "/proc/self/task/78/x"
    assert canonical("/proc/77/task/77/x", pids=(77,)) == "/proc/self/x"
    assert canonical("/proc/77/x", pids=(76,)) == "/proc/77/x"
    with pytest.raises(ValueError):
        normalize("a")
