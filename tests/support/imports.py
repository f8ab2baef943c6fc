"""What a `python -X importtime` child imported (start-up tests)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .runner import child_env


def search_path() -> str:
    """This interpreter's module search path, led by the directory that holds the
    sysfake package the tests run (an editable install may find it through a .pth
    file, which -S skips)."""
    spec = importlib.util.find_spec("sysfake")
    assert spec is not None and spec.submodule_search_locations
    pkg_parent = os.path.dirname(os.path.abspath(next(iter(spec.submodule_search_locations))))
    return os.pathsep.join([pkg_parent, *(os.path.abspath(p) for p in sys.path if p)])


def imported(log: str) -> list[str]:
    """Module names from -X importtime lines ("import time: SELF | CUMULATIVE | NAME")."""
    out = []
    for line in log.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header line
                out.append(name)
    return out


def run_importtime(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -S -X importtime ARGS` (this interpreter's search path in PYTHONPATH),
    so that the log lists every module the child imports, including those a site
    .pth file happens to import before sysfake starts."""
    return subprocess.run([sys.executable, "-S", "-X", "importtime", *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=child_env({"PYTHONPATH": search_path()}),
                          check=False)
