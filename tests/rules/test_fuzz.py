"""The loader never raises anything but RulesError, whatever the input."""
from __future__ import annotations

import contextlib
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sysfake.rules import RulesError, load_detailed, load_text_detailed

KEYS = ["version", "include", "rules", "match", "content", "from_host", "redirect", "hide",
        "errno", "readonly", "mode", "uid", "gid", "only", "exe", "comm", "override",
        "generate", "list", "syscall", "<<", "x"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["/a", "/a/", "/a/**", "/a/*/", "EACCES", "0644",
                                           "/proc/thread-self/x", "proc-sys-basics", "minimal",
                                           "./x.yaml", "\\x41", "/a/[b]*", "~"]),
)
TREES = st.recursive(
    SCALARS,
    lambda kids: st.one_of(st.lists(kids, max_size=4),
                           st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5)),
                                           kids, max_size=5)),
    max_leaves=25,
)


def _load(text: str) -> None:
    try:
        load_text_detailed(text, "f.yaml", base_dir="/nonexistent-dir", read_host=False)
    except RulesError as e:
        s = str(e)
        assert "\n" not in s and s


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text(text: str) -> None:
    _load(text)


YAMLISH = st.lists(st.sampled_from(
    ["version: 1\n", "rules:\n", "  - ", "match: ", "/a", "content: ", "'x'", "\"\\n\"", "{",
     "}", "[", "]", ",", ": ", "\n", "    ", "&a ", "*a", "!!str ", "!!binary ", "? ", "- ",
     "hide: true", "errno: E", "include: [", "<<: ", "---\n", "#", "|\n", ">-\n", "\t", "%YAML",
     "only: {exe: ", "mode: 0", "9", "\x00", "\ufeff", "é", "@", "`"]), max_size=40).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAMLISH)
def test_yaml_fragments(text: str) -> None:
    _load(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TREES, st.booleans())
def test_arbitrary_structures(tree: Any, wrap: bool) -> None:
    doc = {"version": 1, "rules": [tree]} if wrap else tree
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return
    _load(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=3), st.lists(st.text(max_size=20), max_size=3),
       st.lists(st.text(max_size=20), max_size=3), st.lists(st.text(max_size=12), max_size=2))
def test_arbitrary_cli_flags(fakes: list[str], redirects: list[str], hides: list[str],
                             profiles: list[str]) -> None:
    try:
        load_detailed([], fakes, redirects, hides, profiles)
    except RulesError as e:
        assert "\n" not in str(e)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_file_bytes(tmp_path_factory: Any, data: bytes) -> None:
    p = tmp_path_factory.mktemp("fz") / "r.yaml"
    p.write_bytes(data)
    try:
        load_detailed([str(p)], read_host=False)
    except RulesError as e:
        assert "\n" not in str(e)


def test_alias_bomb_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("version: 1\nrules: *a29\n")
    with contextlib.suppress(RulesError):
        load_text_detailed("\n".join(lines), "bomb.yaml")
