"""The sysfake rules language: YAML files, built-in profiles and CLI flags -> RuleSet.

See docs/rules.md for the language and src/sysfake/rules/precedence.py for
the precedence order the compiled table is sorted in.
"""
from __future__ import annotations

from .errors import RulesError
from .loader import (
    LoadedRule,
    LoadResult,
    load,
    load_detailed,
    load_text,
    load_text_detailed,
    parse_cli_text,
)

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import Any

    from .explain import cmd_check, cmd_explain
    from .schema import build_schema, cmd_schema

# check/explain/schema need python-ptrace's syscall tables; `sysfake run`
# does not (unless a rule names a syscall): imported when first used, which
# halves run's start-up.
_LAZY = {"cmd_check": "explain", "cmd_explain": "explain", "build_schema": "schema",
         "cmd_schema": "schema"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
