"""The built wheel carries what an installed sysfake needs at run time.

Builds a wheel from this checkout, installs it (without dependencies) into a
fresh venv that sees the system's site-packages, and runs that copy: the C
core, the shipped profiles, the sysctl data file and the benchmark sources
must all be inside the wheel, not only in the source tree.
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (whl,) = out.glob("sysfake-*.whl")
    return whl


def test_wheel_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for want in ("sysfake/_core.abi3.so", "sysfake/sysfake-exec", "sysfake/profiles/gvisor.yaml",
                 "sysfake/profiles/k3s.yaml", "sysfake/profiles/data/sysctl-defaults.yaml",
                 "sysfake/bench/csrc/floor.c", "sysfake/bench/csrc/gowl.go",
                 "sysfake/data/rules.schema.json", "sysfake/py.typed"):
        assert want in names, f"{want} missing from {wheel.name}"
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "\nLicense-Expression: Apache-2.0\n" in text, text[:600]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(names)[:20]


def _clean_env() -> dict[str, str]:
    """No PYTHONPATH: it would put a checkout ahead of the installed wheel."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_installed_wheel_runs(wheel: Path, tmp_path: Path) -> None:
    env = _clean_env()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120, env=env)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, timeout=300, env=env)
    where = subprocess.run([str(py), "-c", "import sysfake; print(sysfake.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path,
                           env=env).stdout
    assert str(venv) in where, f"the venv imported the checkout, not the wheel: {where}"
    run = subprocess.run(
        [str(venv / "bin" / "sysfake"), "run", "--profile", "gvisor", "--",
         "cat", "/proc/sys/kernel/cap_last_cap"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path, env=env)
    assert (run.returncode, run.stdout) == (0, "40\n"), run.stderr
    # the launcher built into the wheel runs a compiled table
    out = tmp_path / "compiled"
    comp = subprocess.run(
        [str(venv / "bin" / "sysfake"), "compile", "--profile", "gvisor", "-o", str(out)],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path, env=env)
    assert comp.returncode == 0, comp.stderr
    run = subprocess.run([str(out / "sysfake-exec"), "cat", "/proc/sys/kernel/cap_last_cap"],
                         capture_output=True, text=True, timeout=60, check=False, env=env)
    assert (run.returncode, run.stdout) == (0, "40\n"), run.stderr
    # the recorder's data file is found from the installed copy
    data = subprocess.run(
        [str(py), "-c", "from sysfake.record import sysctl; print(sysctl.load_known())"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path, env=env)
    assert data.returncode == 0 and "overcommit_memory" in data.stdout, data.stderr
