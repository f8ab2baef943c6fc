"""Smoke test of the benchmark harness (`sysfake bench --quick`).

Runs the short version with the contenders this machine has, then checks the
JSON structure and that every run's result line shows what it must: the
redirected file for contenders that apply the SRC -> DST rule, the real one
for the others. No timing assertions.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sysfake import bench
from sysfake.bench import runner, workloads

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.machine() != "x86_64" or not shutil.which("cc"),
    reason="the harness needs Linux x86_64 and a C compiler",
)


def _run(tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "bench.json"
    rc = bench.main(["--quick", "--json", str(out), *extra])
    assert rc == 0
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def _check(doc: dict[str, Any], want_workloads: set[str]) -> None:
    assert doc["schema"] == "sysfake-bench/1"
    m = doc["machine"]
    for key in ("cores", "kernel_release", "cpu_model", "in_gvisor", "proot"):
        assert key in m
    names = {c["name"]: c for c in doc["contenders"]}
    for must in ("untraced", "floor", "floor-r", "floor-x"):
        assert names[must]["available"], names[must]["note"]
    for c in names.values():
        assert c["available"] or c["note"], c
    seen_keys = set()
    for w in doc["workloads"]:
        seen_keys.add(w["key"])
        for key in ("number", "title", "reference", "command", "intercepted_syscalls"):
            assert key in w
        if w["skipped"]:
            continue
        assert w["intercepted_syscalls"] is not None
        for name, c in names.items():
            if not c["available"]:
                assert name not in w["results"]
                continue
            r = w["results"][name]
            assert r["errors"] == [], (w["key"], name, r["errors"])
            assert r["ok_runs"] == r["runs"] == doc["options"]["reps"]
            want = "dst" if c["redirects"] else "src"
            assert r["seen"] == [want], (w["key"], name, r["result_line"])
            assert r["median_s"] > 0
        assert w["results"]["untraced"]["ratio_untraced"] == 1.0
    assert want_workloads <= seen_keys
    assert isinstance(doc["targets"], list) and doc["targets"]
    for t in doc["targets"]:
        assert t["status"] in ("met", "missed", "n/a")


def test_quick_host(tmp_path: Path) -> None:
    doc = _run(tmp_path)
    _check(doc, {w.key for w in workloads.WORKLOADS})


@pytest.mark.gvisor
@pytest.mark.skipif(not shutil.which("runsc"), reason="needs gVisor's runsc")
def test_quick_gvisor(tmp_path: Path) -> None:
    doc = _run(tmp_path, "--gvisor", "--workloads", "stat,forkexec",
               "--contenders", "floor,floor-r,floor-x,sysfake")
    _check(doc, {"stat", "forkexec"})
    assert doc["sandbox_machine"]["in_gvisor"] is True


def test_seen_classifies_result_lines() -> None:
    dst, src = len(workloads.DST_CONTENT), len(workloads.SRC_CONTENT)
    assert workloads.seen(f"sfwl stat n=5 size={dst}\n".encode()) == "dst"
    assert workloads.seen(f"sfwl stat n=5 size={src}\n".encode()) == "src"
    assert workloads.seen(b"tar bytes=10240\nsfbench-dst redirected target\n") == "dst"
    assert workloads.seen(b"nothing here\n") is None


@pytest.mark.parametrize("name", ["floor.c", "sfwl.c"])
def test_c_sources_compile_without_warnings(tmp_path: Path, name: str) -> None:
    src = tmp_path / name
    src.write_bytes(runner.csrc_text(name))
    p = subprocess.run(
        [os.environ.get("CC", "cc"), *runner.CFLAGS, "-Werror", "-pthread", "-o",
         str(tmp_path / "a.out"), str(src)],
        capture_output=True, text=True, check=False,
    )
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip() == ""


def test_cli_front_door_passes_options_through() -> None:
    """`sysfake bench --quick ...` reaches the harness's own parser (not the CLI's)."""
    import sys

    proc = subprocess.run([sys.executable, "-m", "sysfake", "bench", "--quick", "--help"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "--quick" in proc.stdout and "--contenders" in proc.stdout
