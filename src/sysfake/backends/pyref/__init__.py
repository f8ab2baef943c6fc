"""The pure-Python reference tracer (the slow path), on python-ptrace.

``run(table, argv, env, orphans, grace)`` executes a compiled rule table with
the same semantics as the C core; see docs/backends.md.
"""
from __future__ import annotations

import sys

from .actions import UnsupportedTable
from .tracer import run

SLOW_PATH_WARNING = ("sysfake: warning: using the pure-Python reference backend "
                     "(slow path; the C core is not available)")


def warn_slow_path() -> None:
    """Print the one-line slow-path warning to stderr (for `sysfake run --backend python`)."""
    print(SLOW_PATH_WARNING, file=sys.stderr)


__all__ = ["SLOW_PATH_WARNING", "UnsupportedTable", "run", "warn_slow_path"]
