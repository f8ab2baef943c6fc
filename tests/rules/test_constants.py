"""The constants table agrees with the kernel and glibc headers (compiled with gcc)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support import require
from sysfake.rules.constants import CONSTANTS, HEADERS


def test_constants_match_headers(tmp_path: Path) -> None:
    gcc = require("gcc")
    src = ["#define _GNU_SOURCE", "#include <stdio.h>", *(f"#include <{h}>" for h in HEADERS),
           "int main(void) {"]
    src += [f'  printf("%s %lld\\n", "{n}", (long long)({n}));' for n in CONSTANTS]
    src += ["  return 0;", "}"]
    (tmp_path / "c.c").write_text("\n".join(src) + "\n")
    subprocess.run([gcc, "-w", "-o", str(tmp_path / "c"), str(tmp_path / "c.c")], check=True)
    out = subprocess.run([str(tmp_path / "c")], capture_output=True, text=True, check=True).stdout
    got = {n: int(v) for n, v in (line.split() for line in out.splitlines())}
    assert got == CONSTANTS


@pytest.mark.parametrize("name,value", [
    ("MS_REC", 0x4000), ("SIOCSIFFLAGS", 0x8914), ("IFF_PROMISC", 0x100),
    ("CGROUP_SUPER_MAGIC", 0x27E0EB), ("CGROUP2_SUPER_MAGIC", 0x63677270),
    ("TMPFS_MAGIC", 0x01021994), ("PROC_SUPER_MAGIC", 0x9FA0), ("SYSFS_MAGIC", 0x62656572),
    ("PR_SET_CHILD_SUBREAPER", 36), ("KEYCTL_JOIN_SESSION_KEYRING", 1), ("CLONE_PARENT", 0x8000),
    ("SOL_SOCKET", 1), ("SO_RCVTIMEO", 20), ("AF_NETLINK", 16), ("NETLINK_ROUTE", 0),
    ("O_CLOEXEC", 0o2000000), ("AT_FDCWD", -100), ("CAP_SYS_ADMIN", 21),
])
def test_well_known(name: str, value: int) -> None:
    assert CONSTANTS[name] == value
