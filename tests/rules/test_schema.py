"""The JSON Schema is up to date, well-formed, and agrees with the loader."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import import_or_missing
from sysfake.rules import RulesError, build_schema, cmd_schema, load_text_detailed
from sysfake.rules.schema import schema_text
from sysfake.rules.validate import ERRNO_NAMES, RULE_KEYS

jsonschema = import_or_missing("jsonschema")
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "src" / "sysfake" / "data" / "rules.schema.json"
VALIDATOR = jsonschema.Draft202012Validator(build_schema())


def schema_ok(doc: object) -> bool:
    return VALIDATOR.is_valid(doc)


def loader_ok(text: str) -> bool:
    try:
        load_text_detailed(text, "s.yaml", base_dir=".", read_host=False)
    except RulesError:
        return False
    return True


def test_packaged_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), \
        "run: PYTHONPATH=src python -m sysfake.rules.schema --write"


def test_schema_is_valid_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(build_schema())
    assert build_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_key_has_a_description() -> None:
    s = build_schema()

    def walk(props: dict[str, Any]) -> None:
        for k, v in props.items():
            assert v.get("description"), k
            if "properties" in v:
                walk(v["properties"])

    walk(s["properties"])
    walk(s["$defs"]["rule"]["properties"])
    assert set(s["$defs"]["rule"]["properties"]) == set(RULE_KEYS)
    assert s["$defs"]["rule"]["additionalProperties"] is False
    assert set(s["$defs"]["rule"]["properties"]["errno"]["anyOf"][0]["enum"]) == set(ERRNO_NAMES)


def test_cmd_schema_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_schema() == 0
    assert json.loads(capsys.readouterr().out) == build_schema()


VALID = [
    "version: 1\n",
    "version: 1\nrules: []\ninclude: []\n",
    "version: 1\nrules: [{match: /a, content: ''}]\n",
    "version: 1\nrules: [{match: /a/*, content: x, readonly: false, mode: '0600', uid: 1, gid: 2}]",
    "version: 1\nrules: [{match: /a/**, redirect: /b/}]\n",
    "version: 1\nrules: [{match: /a, redirect: /b}]\n",
    "version: 1\nrules: [{match: /a/, hide: true, only: {exe: '*/x'}}]\n",
    "version: 1\nrules: [{match: /a, errno: 13, override: true, only: {comm: 'x*'}}]\n",
    "version: 1\nrules: [{match: /a, from_host: /etc/hostname, mode: 0644}]\n",
    "version: 1\nrules: [{match: '/a/*/', errno: EPERM}]\n",
]
INVALID = [
    "version: 2\n", "rules: []\n", "version: 1\nextra: 1\n", "version: 1\nrules: {}\n",
    "version: 1\nrules: [{match: a, hide: true}]\n",
    "version: 1\nrules: [{match: /a}]\n",
    "version: 1\nrules: [{match: /a, hide: true, errno: EIO}]\n",
    "version: 1\nrules: [{match: /a, hide: false}]\n",
    "version: 1\nrules: [{match: /a, errno: EFOO}]\n",
    "version: 1\nrules: [{match: /a, errno: 0}]\n",
    "version: 1\nrules: [{match: /a, hide: true, mode: '0644'}]\n",
    "version: 1\nrules: [{match: /a, content: x, mode: '0999'}]\n",
    "version: 1\nrules: [{match: /a, content: x, mode: 99999}]\n",
    "version: 1\nrules: [{match: /a/, content: x}]\n",
    "version: 1\nrules: [{match: /a/**, content: x}]\n",
    "version: 1\nrules: [{match: /a/*, redirect: /b}]\n",
    "version: 1\nrules: [{match: /a/, redirect: /b}]\n",
    "version: 1\nrules: [{match: /a, redirect: /b/}]\n",
    "version: 1\nrules: [{match: /a**, hide: true}]\n",
    "version: 1\nrules: [{match: '/a/[b]*', hide: true}]\n",
    "version: 1\nrules: [{match: /a/*/.., hide: true}]\n",
    "version: 1\nrules: [{match: /a, hide: true, only: {}}]\n",
    "version: 1\nrules: [{match: /a, hide: true, only: {comm: abcdefghijklmnop}}]\n",
    "version: 1\nrules: [{match: /a, content: 5}]\n",
    "version: 1\nrules: [{match: /a, generate: mountinfo}]\n",
    "version: 1\nrules: [{match: /a, list: [b]}]\n",
    "version: 1\nrules: [{syscall: uname}]\n",
    "version: 1\ninclude: [1]\n",
    "version: 1\nrules: [{match: /a, content: x, uid: -1}]\n",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_agree(text: str) -> None:
    assert schema_ok(yaml.safe_load(text))
    assert loader_ok(text)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_agree(text: str) -> None:
    assert not schema_ok(yaml.safe_load(text))
    assert not loader_ok(text)


def test_documented_divergence_decimal_mode() -> None:
    # The schema cannot see how an integer was written; the loader rejects "mode: 644".
    text = "version: 1\nrules: [{match: /a, content: x, mode: 644}]\n"
    assert schema_ok(yaml.safe_load(text))
    assert not loader_ok(text)


# ------------------------------------------------------------------ generated agreement

PATTERNS = ["/a", "/a/", "/a/b/..", "/a/*", "/a/**", "/**", "/a/*/", "/a/**/b", "a", "",
            "/a/**b", "/a/[x]*", "/a/*/..", "/proc/thread-self/x", "/a?", "/a/{b}"]
TARGETS = ["/b", "/b/", "/", "b", "/b*", "/b/.."]
STRS = ["x", "", "40\n", "/etc/hostname", "etc", 5, None, True, 1.5, ["x"]]
VALUES: dict[str, list[Any]] = {
    "match": [*PATTERNS, 3, None],
    "content": STRS,
    "from_host": STRS,
    "redirect": [*TARGETS, None, 2],
    "hide": [True, False, 1, "yes"],
    "errno": ["EACCES", "EWOULDBLOCK", "eacces", "ENOENTT", 13, 0, 4095, 4096, True, 13.0,
              13.5, None],
    "readonly": [True, False, "no", 0],
    "mode": ["0644", "644", "0o644", "0888", "07777", "17777", "", 0, 4095, 4096, -1, True],
    "uid": [0, 1000, -1, 4294967294, 4294967295, "0", True, 2.0],
    "gid": [0, 7, "x"],
    "only": [{"exe": "*/runc"}, {"comm": "runc"}, {"exe": "", "comm": "x"}, {},
             {"comm": "abcdefghijklmnop"}, {"comm": "abcdefghijklmno*p"}, {"exec": "x"},
             "runc", None],
    "override": [True, False, "x"],
    "generate": ["mountinfo"], "list": [["a"]], "syscall": ["uname"], "bogus": [1],
}
GOOD: dict[str, list[Any]] = {
    "match": ["/a", "/a/", "/a/*", "/a/**", "/a/**/b", "/proc/thread-self/x", "/a/b/.."],
    "content": ["x", "", "40\n"], "from_host": ["/etc/hostname"], "redirect": ["/b", "/b/"],
    "hide": [True], "errno": ["EACCES", 13], "readonly": [True, False],
    "mode": ["0644", "755"], "uid": [0, 1000], "gid": [7],
    "only": [{"exe": "*/runc"}, {"comm": "runc"}], "override": [True, False],
}
ACTIONS = ["content", "from_host", "redirect", "hide", "errno"]
ATTRS = ["readonly", "mode", "uid", "gid", "only", "override"]
ODD = ["generate", "list", "syscall", "bogus"]


def _value(draw: st.DrawFn, k: str) -> Any:
    if k in GOOD and draw(st.integers(0, 3)):
        return draw(st.sampled_from(GOOD[k]))
    return draw(st.sampled_from(VALUES[k]))


@st.composite
def rule_dicts(draw: st.DrawFn) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if draw(st.integers(0, 19)):
        d["match"] = _value(draw, "match")
    n_actions = draw(st.sampled_from([1, 1, 1, 1, 1, 1, 0, 2]))
    for k in draw(st.lists(st.sampled_from(ACTIONS), min_size=n_actions, max_size=n_actions,
                           unique=True)):
        d[k] = _value(draw, k)
    for k in draw(st.lists(st.sampled_from(ATTRS), max_size=3, unique=True)):
        d[k] = _value(draw, k)
    if not draw(st.integers(0, 15)):
        k = draw(st.sampled_from(ODD))
        d[k] = _value(draw, k)
    return d


def _dump(doc: Any) -> str:
    # mode ints must be written as YAML 1.1 octal to mean the same thing to both sides
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    return text


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_dicts())
def test_generated_rules_agree(rule: dict[str, Any]) -> None:
    mode = rule.get("mode")
    if isinstance(mode, int) and not isinstance(mode, bool) and mode != 0:
        rule = dict(rule)  # written in decimal by safe_dump: the documented divergence
        rule.pop("mode")
    doc = {"version": 1, "rules": [rule]}
    text = _dump(doc)
    assert yaml.safe_load(text) == doc
    s, ld = schema_ok(doc), loader_ok(text)
    assert s == ld, (text, s, ld)
