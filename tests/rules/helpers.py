"""Shared helpers for the rules tests."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sysfake.rules import RulesError, load_text_detailed
from sysfake.rules.loader import LoadResult


def load_str(text: str, name: str = "t.yaml") -> LoadResult:
    return load_text_detailed(textwrap.dedent(text), name, base_dir=".")


def error_of(text: str, name: str = "t.yaml") -> RulesError:
    with pytest.raises(RulesError) as ei:
        load_str(text, name)
    return ei.value


def write(tmp: Path, name: str, text: str) -> str:
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text))
    return str(p)
