"""Every process the command starts, at any depth, sees the rules."""
from __future__ import annotations

from pathlib import Path

import pytest

from support import describe, run_sysfake
from support.fakes import CAP, CAP_TEXT, VIRT, VIRT_TEXT, fake, run
from support.progs import Progs


def test_fake_differs_from_host(real_cap_text: str) -> None:
    # Precondition of every host test that fakes CAP: a wrong answer is visible.
    assert real_cap_text != CAP_TEXT


def test_direct_child_reads_fake() -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=["cat", CAP]))
    assert (res.returncode, res.stdout) == (0, CAP_TEXT), describe(res)


def test_virtual_file_missing_on_host() -> None:
    assert not Path(VIRT).exists()
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), cmd=["cat", VIRT]))
    assert (res.returncode, res.stdout) == (0, VIRT_TEXT), describe(res)


def test_escapes_in_fake_text() -> None:
    res = run_sysfake(["run", "--fake", VIRT + r"=a\tb\\c\x41\n", "--", "cat", VIRT])
    assert (res.returncode, res.stdout) == (0, "a\tb\\cA\n"), describe(res)


def test_empty_fake_text() -> None:
    res = run_sysfake(["run", "--fake", VIRT + "=", "--", "sh", "-c", f"cat {VIRT}; echo rc=$?"])
    assert (res.returncode, res.stdout) == (0, "rc=0\n"), describe(res)


def test_several_fakes_in_one_run() -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), fake(VIRT, VIRT_TEXT), cmd=["cat", CAP, VIRT]))
    assert (res.returncode, res.stdout) == (0, CAP_TEXT + VIRT_TEXT), describe(res)


def test_grandchild_chain_static_busybox(busybox: str) -> None:
    # sysfake -> sh -> sh -> busybox (static) cat; the trailing echos keep
    # each shell from exec'ing its last command, so the chain is real.
    inner = f"{busybox} cat {CAP}; echo inner"
    res = run_sysfake(run(fake(CAP, CAP_TEXT),
                          cmd=["sh", "-c", f"sh -c '{inner}'; echo outer"]))
    assert (res.returncode, res.stdout) == (0, CAP_TEXT + "inner\nouter\n"), describe(res)


def test_deep_chain_of_shells() -> None:
    cmd = f"cat {CAP}"
    for depth in range(6):
        cmd = f"sh -c {sh_quote(cmd + f'; echo d{depth}')}"
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=["sh", "-c", cmd]))
    expected = CAP_TEXT + "".join(f"d{d}\n" for d in range(6))
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


def test_many_parallel_children(progs: Progs, tmp_path: Path) -> None:
    script = (f"for i in $(seq 30); do {progs['readfile']} {CAP} > out.$i & done; wait; "
              "cat $(seq -f out.%g 30)")
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=["sh", "-c", script]),
                      cwd=tmp_path)
    assert (res.returncode, res.stdout) == (0, CAP_TEXT * 30), describe(res)


def test_static_program(progs: Progs) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[progs.static("readfile"), CAP, VIRT]))
    # VIRT is not faked here: it must stay missing.
    assert (res.returncode, res.stdout) == (1, CAP_TEXT + "ERR ENOENT\n"), describe(res)


def test_double_fork_daemon_after_parent_exit(progs: Progs, tmp_path: Path) -> None:
    # The daemon (setsid grandchild) reads CAP only after its parent and the
    # command exited; --orphans=wait keeps sysfake (and its tracing) around.
    out = tmp_path / "daemon.out"
    res = run_sysfake(run(fake(CAP, CAP_TEXT), ["--orphans=wait"],
                          cmd=[progs["daemon"], str(out), CAP]))
    assert res.returncode == 0, describe(res)
    assert res.stdout.startswith("daemon="), describe(res)
    assert out.read_text() == CAP_TEXT


def test_double_fork_daemon_static(progs: Progs, tmp_path: Path) -> None:
    out = tmp_path / "daemon.out"
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), ["--orphans=wait"],
                          cmd=[progs.static("daemon"), str(out), VIRT]))
    assert res.returncode == 0, describe(res)
    assert out.read_text() == VIRT_TEXT


def sh_quote(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"



@pytest.mark.parametrize("backend", ["c", "python"])
def test_grandchild_chain_each_backend(busybox: str, backend: str) -> None:
    inner = f"{busybox} cat {CAP}; echo inner"
    res = run_sysfake(run([f"--backend={backend}"], fake(CAP, CAP_TEXT),
                          cmd=["sh", "-c", f"sh -c '{inner}'; echo outer"]))
    assert (res.returncode, res.stdout) == (0, CAP_TEXT + "inner\nouter\n"), describe(res)
