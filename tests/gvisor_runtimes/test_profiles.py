"""The shipped profiles rules/gvisor.yaml, rules/cgroup-v1.yaml and
rules/k3s.yaml: they load, and in gVisor they show what kubelet, k3s and
containerd read (k3s itself is not available here: see docs/k3s.md)."""
from __future__ import annotations

import shlex

import pytest

from support import describe, run_in_gvisor, run_sysfake, sysfake_cmd

KUBELET_SYSCTLS = {
    "/proc/sys/vm/overcommit_memory": "1",
    "/proc/sys/vm/panic_on_oom": "0",
    "/proc/sys/kernel/panic": "10",
    "/proc/sys/kernel/panic_on_oops": "1",
    "/proc/sys/kernel/keys/root_maxkeys": "1000000",
    "/proc/sys/kernel/keys/root_maxbytes": "25000000",
    "/proc/sys/net/ipv4/conf/all/route_localnet": "1",
}


@pytest.mark.parametrize("profile", ["gvisor", "cgroup-v1", "k3s"])
def test_profile_checks(profile: str) -> None:
    res = run_sysfake(["check", f"rules/{profile}.yaml"], cwd=_repo())
    assert res.returncode == 0, describe(res)
    assert res.stdout.splitlines()[-1].startswith("ok: "), describe(res)


def _repo() -> str:
    from .helpers import REPO
    return str(REPO)


@pytest.mark.gvisor
def test_k3s_profile_in_gvisor() -> None:
    files = " ".join(KUBELET_SYSCTLS)
    inner = (f"for f in {files}; do printf '%s=%s\\n' $f $(cat $f); done; "
             "uname -r; cat /proc/sys/kernel/osrelease; "
             "echo 1 > /proc/sys/vm/overcommit_memory; echo write=$?; "
             "cut -d: -f2 /proc/self/cgroup | tr '\\n' ' '; echo; "
             "test -c /dev/kmsg && echo kmsg=null")
    cmd = shlex.join(sysfake_cmd(["run", "--profile", "k3s", "--", "sh", "-c", inner]))
    rc, out = run_in_gvisor(["sh", "-c", f"{cmd} 2>&1; echo rc=$?"])
    want = "".join(f"{f}={v}\n" for f, v in KUBELET_SYSCTLS.items())
    want += ("5.15.0-sysfake\n5.15.0-sysfake\nwrite=0\n"
             "cpuset cpu cpuacct memory devices freezer pids \nkmsg=null\nrc=0\n")
    assert (rc, out) == (0, want), out
