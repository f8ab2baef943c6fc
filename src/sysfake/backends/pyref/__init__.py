"""The pure-Python reference tracer (the slow path), on python-ptrace.

``run(table, argv, env, orphans, grace)`` executes a compiled rule table with
the same semantics as the C core; see docs/backends.md.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .actions import UnsupportedTable

SLOW_PATH_WARNING = ("sysfake: warning: using the pure-Python reference backend "
                     "(slow path; the C core is not available)")


def run(table: bytes, argv: list[str], env: dict[str, str] | None = None,
        orphans: str = "kill", grace: float = 2.0) -> int:
    """tracer.run, imported on first use: the rules loader imports this package
    for its syscall table, and a C-core run should not pay for the tracer."""
    from .tracer import run as _run

    return _run(table, argv, env, orphans, grace)


def __getattr__(name: str) -> object:
    if name == "UnsupportedTable":
        from .actions import UnsupportedTable

        return UnsupportedTable
    raise AttributeError(name)


def warn_slow_path() -> None:
    """Print the one-line slow-path warning to stderr (for `sysfake run --backend python`)."""
    print(SLOW_PATH_WARNING, file=sys.stderr)


__all__ = ["SLOW_PATH_WARNING", "UnsupportedTable", "run", "warn_slow_path"]
