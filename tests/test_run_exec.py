"""exec in all its forms: from a non-leader thread, vfork/posix_spawn, clone3, exec chains."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from support import describe, run_sysfake
from support.fakes import CAP, CAP_TEXT, SETGROUPS, SETGROUPS_TEXT, fake, run
from support.progs import Progs


@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
def test_exec_from_non_leader_thread(progs: Progs, static: bool) -> None:
    prog = progs.static("exec_from_thread") if static else progs["exec_from_thread"]
    # The exec'd shell reads the fake, and its own /proc/$$ (same pid as the
    # leader before exec) aliases /proc/self.
    script = f"echo pid=$$; cat {CAP}; read l < /proc/$$/setgroups; echo \"$l\""
    res = run_sysfake(run(fake(CAP, CAP_TEXT), fake(SETGROUPS, SETGROUPS_TEXT),
                          cmd=[prog, "/bin/sh", "-c", script]))
    assert res.returncode == 0, describe(res)
    m = re.fullmatch(r"leader=(\d+)\npid=(\d+)\n(.*)", res.stdout, re.S)
    assert m, describe(res)
    assert m.group(1) == m.group(2), describe(res)
    assert m.group(3) == CAP_TEXT + SETGROUPS_TEXT, describe(res)


def test_exec_from_thread_into_static_binary(progs: Progs) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT),
                          cmd=[progs["exec_from_thread"], progs.static("readfile"), CAP]))
    assert res.returncode == 0, describe(res)
    assert re.fullmatch(r"leader=\d+\n" + re.escape(CAP_TEXT), res.stdout), describe(res)


@pytest.mark.parametrize("mode", ["posix_spawn", "posix_spawnp", "vfork", "clone_vfork"])
@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
def test_spawn_modes(progs: Progs, mode: str, static: bool) -> None:
    prog = progs.static("spawn") if static else progs["spawn"]
    cat = "cat" if mode == "posix_spawnp" else "/bin/cat"
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[prog, mode, cat, CAP]))
    assert (res.returncode, res.stdout) == (0, CAP_TEXT + "status=0\n"), describe(res)


@pytest.mark.parametrize("mode", ["plain", "vfork", "pidfd"])
def test_clone3_child(progs: Progs, mode: str) -> None:
    # On the host kernel clone3 exists; the child must be traced like any other.
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[progs["clone3"], mode, CAP]))
    assert (res.returncode, res.stdout) == (0, CAP_TEXT + "status=0\n"), describe(res)


def test_clone3_child_static(progs: Progs) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[progs.static("clone3"), "plain", CAP]))
    assert (res.returncode, res.stdout) == (0, CAP_TEXT + "status=0\n"), describe(res)


def test_exec_chain(busybox: str) -> None:
    # Each process replaces itself: sh -> busybox sh -> cat, all the same pid.
    res = run_sysfake(run(fake(CAP, CAP_TEXT),
                          cmd=["sh", "-c", f"exec {busybox} sh -c 'exec cat {CAP}'"]))
    assert (res.returncode, res.stdout) == (0, CAP_TEXT), describe(res)


def test_exec_of_script_with_shebang(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text(f"#!/bin/sh\ncat {CAP}\n")
    script.chmod(0o755)
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[str(script)]))
    assert (res.returncode, res.stdout) == (0, CAP_TEXT), describe(res)
