"""Every `<!-- example: NAME -->` YAML block in docs/rules.md loads (and validates against the
schema); every `<!-- example-error: NAME -->` block fails with the error text shown after it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from support import import_or_missing
from sysfake.rules import RulesError, load_text_detailed

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
_BLOCK = re.compile(
    r"<!-- (example|example-error): ([\w.-]+) -->\s*\n```yaml\n(.*?)```"
    r"(?:\s*\n```text\n(.*?)```)?", re.S)


def examples() -> list[tuple[str, str, str, str]]:
    text = DOC.read_text()
    found = [(m.group(1), m.group(2), m.group(3), m.group(4) or "")
             for m in _BLOCK.finditer(text)]
    assert len(found) == text.count("<!-- example"), "an example marker without a yaml block"
    return found


EXAMPLES = examples()
OK = [(n, y) for kind, n, y, _ in EXAMPLES if kind == "example"]
BAD = [(n, y, t.strip()) for kind, n, y, t in EXAMPLES if kind == "example-error"]


def test_examples_found() -> None:
    assert len(OK) >= 8 and len(BAD) >= 5
    assert len({n for _k, n, _y, _t in EXAMPLES}) == len(EXAMPLES), "duplicate example names"


@pytest.mark.parametrize("name,text", OK, ids=[n for n, _ in OK])
def test_example_loads(name: str, text: str) -> None:
    res = load_text_detailed(text, "example.yaml", base_dir=".")
    assert res.rules or res.sys_rules or res.emulations or res.cgroupfs or name == "empty"


@pytest.mark.parametrize("name,text", OK, ids=[n for n, _ in OK])
def test_example_matches_schema(name: str, text: str) -> None:
    jsonschema = import_or_missing("jsonschema")
    from sysfake.rules import build_schema

    jsonschema.Draft202012Validator(build_schema()).validate(yaml.safe_load(text))


@pytest.mark.parametrize("name,text,expected", BAD, ids=[n for n, _, _ in BAD])
def test_error_example(name: str, text: str, expected: str) -> None:
    with pytest.raises(RulesError) as ei:
        load_text_detailed(text, "example.yaml", base_dir=".")
    assert str(ei.value) == expected


def test_brief_precedence_example_decides_as_documented() -> None:
    from sysfake.paths import first_match, redirect_target

    text = dict(OK)["precedence"]
    rs = load_text_detailed(text, "example.yaml").ruleset()

    def decide(p: str) -> str:
        r = first_match(rs, p)
        assert r is not None
        if r.vfile is not None:
            return r.vfile.content.decode()
        if r.target:
            return redirect_target(r, p)
        return str(r.errno)

    assert decide("/proc/sys/net/core/somaxconn") == "4096\n"
    assert decide("/proc/sys/net/ipv4/conf/eth0/rp_filter") == "0\n"
    assert decide("/proc/sys/net/ipv4/ip_forward") == "/var/lib/sysfake/net/ipv4/ip_forward"
    assert decide("/proc/sys/kernel/pid_max") == "13"
