"""netlink-ack (docs/rules.md, "Emulations"): a receive stops at its exit,
where the ack could be patched, only in a process that may hold a netlink
socket. Made one, was handed fds (SCM_RIGHTS), or is the child of one that
could: every receive still stops; any other process's receives do not (in
gVisor each saves two stops). runc's `lo` up, which needs the ack, runs in
tests/gvisor_runtimes."""
from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from support import child_env, describe, run_in_gvisor, run_sysfake, sysfake_cmd
from support.progs import Progs

RULES = "version: 1\nemulate: [netlink-ack]\n"
N = 20
# -v: "sysfake: TID: exit work 0x100 ret R" for an emulation's exit stop
EMUL_EXIT = re.compile(r"^sysfake: \d+: exit work (0x[0-9a-f]+) ret", re.M)
CASES = [([], 0), (["--netlink"], 2 * N), (["--scm"], 2 * N), (["--netlink", "--fork"], 2 * N)]


def _emul_exits(out: str) -> int:
    return sum(1 for m in EMUL_EXIT.finditer(out) if int(m.group(1), 16) & 0x100)


def _argv(tmp_path: Path, progs: Progs, opts: list[str]) -> list[str]:
    rules = tmp_path / "nl.yaml"
    rules.write_text(RULES)
    return ["run", "--rules", str(rules), "-v", "--", progs["recvs"], *opts, str(N)]


@pytest.mark.parametrize(("opts", "exits"), CASES, ids=["plain", "netlink", "scm", "fork"])
def test_receives_stop_only_where_a_netlink_socket_may_be(
        progs: Progs, tmp_path: Path, opts: list[str], exits: int) -> None:
    res = run_sysfake(_argv(tmp_path, progs, opts))
    assert (res.returncode, res.stdout) == (0, f"recvs {N} ok\n"), describe(res)
    got = _emul_exits(res.stderr)
    assert got == exits if not exits else got >= exits, describe(res)


@pytest.mark.parametrize(("family", "exits"), [(socket.AF_NETLINK, 2 * N), (socket.AF_UNIX, 0)],
                         ids=["netlink", "unix"])
def test_a_command_that_inherits_a_netlink_socket_starts_marked(
        progs: Progs, tmp_path: Path, family: int, exits: int) -> None:
    # socket activation hands the command sockets it did not make itself
    s = (socket.socket(socket.AF_NETLINK, socket.SOCK_RAW) if family == socket.AF_NETLINK
         else socket.socketpair()[0])
    with s:
        res = subprocess.run(sysfake_cmd(_argv(tmp_path, progs, [])), capture_output=True,
                             text=True, timeout=60, stdin=subprocess.DEVNULL,
                             env=child_env(), pass_fds=[s.fileno()], check=False)
    assert (res.returncode, res.stdout) == (0, f"recvs {N} ok\n"), describe(res)
    got = _emul_exits(res.stderr)
    assert got == exits if not exits else got >= exits, describe(res)


@pytest.mark.gvisor
@pytest.mark.parametrize(("opts", "exits"), CASES, ids=["plain", "netlink", "scm", "fork"])
def test_receives_stop_only_where_a_netlink_socket_may_be_in_gvisor(
        progs: Progs, tmp_path: Path, opts: list[str], exits: int) -> None:
    rc, out = run_in_gvisor(sysfake_cmd(_argv(tmp_path, progs, opts)))
    assert rc == 0 and f"recvs {N} ok\n" in out, out
    got = _emul_exits(out)
    assert got == exits if not exits else got >= exits, out
