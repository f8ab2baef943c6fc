"""Threads of a traced process (C, static, Go, and Debian's Go binaries) see the rules."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support import describe, require, run_sysfake
from support.fakes import (
    CAP,
    CAP_TEXT,
    SETGROUPS,
    SETGROUPS_TEXT,
    VIRT,
    VIRT_TEXT,
    fake,
    hide,
    redirect,
    run,
)
from support.progs import Progs


@pytest.mark.parametrize(("args", "n"), [
    (["-r", "5"], 64),          # 64 threads, 5 reads each, no barrier
    (["-b"], 64),               # 64 threads open at the same moment
    (["-b", "-r", "3"], 64),
])
def test_threads_read_fake(progs: Progs, args: list[str], n: int) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT),
                          cmd=[progs["threads"], *args, str(n), CAP, CAP_TEXT]))
    assert (res.returncode, res.stdout) == (0, f"ok {n}/{n}\n"), describe(res)


@pytest.mark.slow
def test_thousand_threads_with_barrier(progs: Progs) -> None:
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT),
                          cmd=[progs["threads"], "-b", "1000", VIRT, VIRT_TEXT]), timeout=180)
    assert (res.returncode, res.stdout) == (0, "ok 1000/1000\n"), describe(res)


def test_threads_static(progs: Progs) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT),
                          cmd=[progs.static("threads"), "-b", "64", CAP, CAP_TEXT]))
    assert (res.returncode, res.stdout) == (0, "ok 64/64\n"), describe(res)


@pytest.mark.parametrize("template", [
    "/proc/thread-self/setgroups",
    "/proc/self/task/%t/setgroups",
    "/proc/%p/task/%t/setgroups",
    "/proc/%p/setgroups",
])
def test_threads_see_own_proc_aliases(progs: Progs, template: str) -> None:
    # Each thread names its own task (%t = its tid): all alias /proc/self.
    res = run_sysfake(run(fake(SETGROUPS, SETGROUPS_TEXT),
                          cmd=[progs["threads"], "-b", "16", template, SETGROUPS_TEXT]))
    assert (res.returncode, res.stdout) == (0, "ok 16/16\n"), describe(res)


def test_go_program_goroutines_and_exec(goread: str) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[goread, CAP, "32", "/bin/cat"]))
    expected = 'goroutines ok=32/32 content="33\\n"\ncat: "33\\n"\n'
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


def test_go_program_virtual_file(goread: str) -> None:
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), cmd=[goread, VIRT, "8", "/bin/cat"]))
    expected = 'goroutines ok=8/8 content="virtual 1\\n"\ncat: "virtual 1\\n"\n'
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


def _untraced(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("tool", ["runc", "containerd"])
def test_debian_go_binary_version(tool: str) -> None:
    # runc reads cap_last_cap at start-up; the hidden file is one the Go runtime opens.
    path = require(tool)
    plain = _untraced([path, "--version"])
    assert plain.returncode == 0
    res = run_sysfake(run(fake(CAP, CAP_TEXT),
                          hide("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"),
                          cmd=[path, "--version"]))
    assert (res.returncode, res.stdout) == (0, plain.stdout), describe(res)


def test_runc_spec_writes_through_redirect(tmp_path: Path, marker: str) -> None:
    runc = require("runc")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    virt = f"/sfk-bundle-{marker}"
    res = run_sysfake(run(redirect(virt + "/", str(bundle) + "/"),
                          cmd=[runc, "spec", "--bundle", virt]))
    assert res.returncode == 0, describe(res)
    assert not Path(virt).exists()
    spec = json.loads((bundle / "config.json").read_text())
    assert spec["ociVersion"] == "1.0.2-dev"


def test_containerd_reads_config_through_redirect(tmp_path: Path, marker: str) -> None:
    containerd = require("containerd")
    root = f"/var/lib/sfk-root-{marker}"
    (tmp_path / "config.toml").write_text(f'version = 2\nroot = "{root}"\n')
    virt = f"/sfk-etc-{marker}"
    res = run_sysfake(run(redirect(virt + "/", str(tmp_path) + "/"),
                          cmd=[containerd, "--config", f"{virt}/config.toml", "config", "dump"]))
    assert res.returncode == 0, describe(res)
    lines = res.stdout.splitlines()
    assert f'root = "{root}"' in lines, describe(res)
    assert f'imports = ["{virt}/config.toml"]' in lines, describe(res)
