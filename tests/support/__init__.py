"""Helpers for the real-process tests of `sysfake run` (no mocks).

* `sysfake_cmd` / `run_sysfake` / `start_sysfake`: run the package's CLI as a
  subprocess (`python -m sysfake`, the interpreter of this test run).
* `require` / `missing` / `import_or_missing`: skip when a dependency is
  missing, fail under CI=true.
* `run_in_gvisor`: run a command in a fresh `runsc do` sandbox;
  `run_then_python_in_gvisor`: a command, then a Python script, in one.
* `leftovers`: find processes a test left behind.
"""
from __future__ import annotations

from .gvisor import run_in_gvisor, run_then_python_in_gvisor
from .leftovers import Leftover, find_leftovers, kill_leftovers, wait_no_leftovers
from .runner import (
    MARKER_ENV,
    child_env,
    describe,
    import_or_missing,
    missing,
    require,
    run_sysfake,
    set_current_marker,
    start_sysfake,
    sysfake_cmd,
    traced_tracer,
    wait_for_file,
    without_launcher,
)

__all__ = [
    "MARKER_ENV",
    "Leftover",
    "child_env",
    "describe",
    "find_leftovers",
    "import_or_missing",
    "kill_leftovers",
    "missing",
    "require",
    "run_in_gvisor",
    "run_sysfake",
    "run_then_python_in_gvisor",
    "set_current_marker",
    "start_sysfake",
    "sysfake_cmd",
    "traced_tracer",
    "wait_for_file",
    "wait_no_leftovers",
    "without_launcher",
]
