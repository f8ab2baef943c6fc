"""Fixtures for the real-process tests of `sysfake run`.

* `progs`: the C programs in tests/progs/, compiled once per session
  (dynamic, and static as `progs.static(name)`).
* `goread`: the Go program in tests/progs/goread, built once (GOPATH mode, offline).
* `busybox`: path of a statically linked busybox.
* `marker` + an autouse check: after every test, no process descended from
  the test process or carrying the test's marker may be left (running,
  stopped, traced or zombie). Leftovers are killed and the test errors.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import (
    find_leftovers,
    kill_leftovers,
    missing,
    require,
    set_current_marker,
    wait_no_leftovers,
)
from support.progs import PROGS_DIR, Progs, build_go, is_static_elf


@pytest.fixture(scope="session")
def progs(tmp_path_factory: pytest.TempPathFactory) -> Progs:
    cc = require("cc")
    built = Progs(tmp_path_factory.mktemp("progs"), cc)
    built.build_all()
    return built


@pytest.fixture(scope="session")
def goread(tmp_path_factory: pytest.TempPathFactory) -> str:
    go = require("go")
    work = tmp_path_factory.mktemp("go")
    out = work / "goread"
    build_go(PROGS_DIR / "goread", out, go, work)
    return str(out)


@pytest.fixture(scope="session")
def busybox() -> str:
    path = require("busybox")
    if not is_static_elf(os.path.realpath(path)):
        missing(f"{path} is not statically linked (install busybox-static)")
    return path


@pytest.fixture
def marker() -> str:
    """A string unique to this test; every process started through
    support.run_sysfake/start_sysfake/run_in_gvisor carries it in $SYSFAKE_TEST_MARKER."""
    return f"sfk-{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _no_leftover_processes(marker: str) -> Iterator[None]:
    me = os.getpid()
    before = frozenset(p.pid for p in find_leftovers(me, None))
    set_current_marker(marker)
    try:
        yield
    finally:
        set_current_marker(None)
    left = wait_no_leftovers(me, marker, ignore=before)
    if left:
        kill_leftovers(left)
        pytest.fail("processes left behind by the test:\n  "
                    + "\n  ".join(str(item) for item in left), pytrace=False)


@pytest.fixture
def real_cap_text() -> str:
    """The host's real /proc/sys/kernel/cap_last_cap (to prove fakes differ from it)."""
    return Path("/proc/sys/kernel/cap_last_cap").read_text()
