"""The sysfake rules language: YAML files, built-in profiles and CLI flags -> RuleSet.

See docs/rules.md for the language and src/sysfake/rules/precedence.py for
the precedence order the compiled table is sorted in.
"""
from __future__ import annotations

from .errors import RulesError
from .explain import cmd_check, cmd_explain
from .loader import (
    LoadedRule,
    LoadResult,
    load,
    load_detailed,
    load_text,
    load_text_detailed,
    parse_cli_text,
)
from .schema import build_schema, cmd_schema

__all__ = [
    "LoadResult",
    "LoadedRule",
    "RulesError",
    "build_schema",
    "cmd_check",
    "cmd_explain",
    "cmd_schema",
    "load",
    "load_detailed",
    "load_text",
    "load_text_detailed",
    "parse_cli_text",
]
