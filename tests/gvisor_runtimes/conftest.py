"""Fixtures for the container-runtime acceptance tests in gVisor (issue 5).

`runtime_tools(scenario)` checks the host tools a scenario needs (runsc,
runc, crun, containerd, ctr, the shim, busybox-static): a missing one skips
the test, or fails it under CI=true (support.require). `work` is a private
directory for the bundle and the containerd config (visible inside the
sandbox, which runs over the host filesystem).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from support import require

from .helpers import TOOLS


@pytest.fixture
def runtime_tools(busybox: str) -> Callable[[str], str]:
    """Call with a scenario name; returns the static busybox path."""
    def need(scenario: str) -> str:
        for tool in TOOLS[scenario]:
            if tool != "busybox":
                require(tool)
        return busybox
    return need


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path
