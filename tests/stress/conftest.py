"""Fixtures for the torture suite (tests/stress/).

The whole directory runs in CI in a bounded form (well under 6 minutes on a
2-vCPU machine). SYSFAKE_STRESS_SCALE (default 1) multiplies the counts for
manual runs, e.g. SYSFAKE_STRESS_SCALE=5 turns the 2,000 fork+exec cycles of
CI into 10,000.
"""
from __future__ import annotations

import pytest
from stress_support import StressProgs, build_stress_progs

from support import require


@pytest.fixture(scope="session")
def sprogs(tmp_path_factory: pytest.TempPathFactory) -> StressProgs:
    cc = require("cc")
    return build_stress_progs(tmp_path_factory.mktemp("stress-progs"), cc)
