"""Syscall rules inside gVisor (`runsc do`, ptrace platform), where they are
needed: gVisor's own answers are the reference, each run a fresh sandbox."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from support import require, run_in_gvisor, sysfake_cmd
from support.progs import Progs
from test_syscall_rules_run import PROMISC_RULE, fs_expected, fs_tree, rules

pytestmark = pytest.mark.gvisor


def _traced(rules_file: str, cmd: list[str]) -> list[str]:
    return sysfake_cmd(["run", "--rules", rules_file, "--", *cmd])


def test_errno_and_uname_patch(tmp_path: Path) -> None:
    d = tmp_path / "denied"
    d.mkdir()
    script = f"uname -r; cd {shlex.quote(str(d))} 2>/dev/null && echo in || echo denied"
    rc, out = run_in_gvisor(["sh", "-c", script])
    assert rc == 0, out
    release, where = out.splitlines()
    assert (where, release == "5.15.0-sf") == ("in", False), out  # gVisor says 4.4.0
    text = f"""
        rules:
          - syscall: uname
            patch: {{release: "5.15.0-sf"}}
          - syscall: chdir
            path: {d}
            errno: EACCES
    """
    rc, out = run_in_gvisor(_traced(rules(tmp_path, text), ["sh", "-c", script]))
    assert (rc, out) == (0, "5.15.0-sf\ndenied\n")


def test_fstatfs_on_fd_under_path_glob(tmp_path: Path, progs: Progs) -> None:
    d, text = fs_tree(tmp_path)
    rc, out = run_in_gvisor([progs["fsmagic"], str(d / "plain")])
    assert rc == 0, out
    real = out.split()[1].removeprefix("statfs=")
    paths = [str(d / "v2/a"), str(d / "v1/b/c"), str(d / "plain")]
    for prog in (progs["fsmagic"], progs.static("fsmagic")):
        rc, out = run_in_gvisor(_traced(rules(tmp_path, text), [prog, *paths]))
        assert (rc, out) == (0, fs_expected(d, real))


def test_siocsifflags_return_0_in_new_netns(tmp_path: Path, progs: Progs) -> None:
    """gVisor has no SIOCSIFFLAGS (ENOTTY: the CNI bridge plugin fails);
    `return: 0` answers it without running it."""
    cmd = [require("unshare"), "-n", progs["promisc"], "lo"]
    rc, out = run_in_gvisor(cmd)
    assert (rc, out) == (0, "set: ERR ENOTTY\npromisc: no\n")
    rc, out = run_in_gvisor(_traced(rules(tmp_path, PROMISC_RULE), cmd))
    assert (rc, out) == (0, "set: ok\npromisc: no\n")


def test_rules_that_name_argument_values_in_gvisor(tmp_path: Path) -> None:
    """gVisor runs the filter's value checks too: the calls the rules name
    are answered, the others reach gVisor as they were made."""
    import sys

    from test_syscall_rules_run import VALUES_OUT, VALUES_PROG, VALUES_RULES

    data = tmp_path / "data"
    data.write_text("0123456789")
    cmd = _traced(rules(tmp_path, VALUES_RULES), [sys.executable, "-c", VALUES_PROG, str(data)])
    rc, out = run_in_gvisor(cmd)
    assert (rc, out) == (0, VALUES_OUT), out
