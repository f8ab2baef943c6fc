from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pyref"))

from pyref_obs import build_observer

from support import missing


@pytest.fixture(scope="session")
def diff_observer(tmp_path_factory: pytest.TempPathFactory) -> str:
    try:
        return build_observer(tmp_path_factory.mktemp("observe-diff"))
    except RuntimeError as exc:  # no C compiler
        missing(str(exc))
