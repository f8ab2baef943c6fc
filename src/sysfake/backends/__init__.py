"""Tracing backends that execute a compiled rule table (see docs/backends.md).

* the C core (``sysfake.core``, built from ``csrc/``): the fast path;
* ``sysfake.backends.pyref``: a plain Python reference tracer on python-ptrace,
  used for differential testing, for benchmarks, and as the slow fallback
  behind ``sysfake run --backend python``.

Both consume the same table (``sysfake.table``) and must give a traced program
the same observations.
"""
from __future__ import annotations

BACKENDS = ("c", "python")
