"""Edge paths traced vs untraced (tests/stress/progs/pathobs.c): long paths up
to PATH_MAX, a deep cwd with a long relative path, names that are not valid
UTF-8, symlink loops and bad pointers.

The traced run has a content rule on TARGET (plus unrelated rules). Every
observation must equal the untraced one, except that a successful open of
TARGET shows the fake's first line instead of the real one: EFAULT, ELOOP,
ENAMETOOLONG... come back to the program exactly as without sysfake.

Three settings: the host; the host with only PEEK/POKEDATA (`--disable`
process_vm_* and /proc/PID/mem writes, as in gVisor: the forcing writes must
not reach read-only pages); and gVisor itself, traced and untraced each in a
fresh sandbox (gVisor's own answers, e.g. ENOSYS for openat2, are the
reference there).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from stress_support import StressProgs

from support import child_env, describe, run_in_gvisor, run_sysfake, sysfake_cmd
from support.fakes import PEEKPOKE, VIRT, VIRT_TEXT, fake, hide, run

REAL, FAKE = "real", "fake"

#: Every case pathobs prints, in order (a new case must be added here).
CASES = [
    "open len 4095", "open len 4096", "open len 4196", "open name 300", "creat name 300",
    "open deep relative", "stat deep relative",
    "creat \\xff\\xfe", "open \\xff\\xfe", "stat \\xff\\xfe", "open \\xc3\\x28/x",
    "unlink \\xff\\xfe",
    "open loop1", "open loop1/x", "open self/../loop2", "stat self", "lstat self",
    "access loop2", "open loop1 O_NOFOLLOW",
    "openat2 how readonly-zero",
    "open NULL", "open 0x1", "open kernel", "open noncanonical", "open edge unterminated",
    "open edge terminated", "stat bufNULL", "stat buf0x1", "stat buf readonly",
    "stat buf edge", "statx bufNULL", "statx buf readonly", "openat2 howNULL", "openat2 how small",
    "access 0x1", "readlink bufNULL", "readlink path edge", "statfs buf0x1",
    "statfs buf readonly", "read-only page intact",
]


def _parse(out: str, only_cases: bool = False) -> dict[str, str]:
    res = {}
    for line in out.splitlines():
        case, _, what = line.partition(": ")
        if only_cases and case not in CASES:
            continue  # gVisor merges stderr into the output
        res[case] = what
    return res


def _base(tmp: Path) -> tuple[Path, Path]:
    base = tmp / "b"
    base.mkdir()
    target = base / "target"
    target.write_text(f"{REAL}\n")
    return base, target


@pytest.fixture(scope="module", params=[
    "host", "host-peekpoke", pytest.param("gvisor", marks=pytest.mark.gvisor)])
def observations(request: pytest.FixtureRequest, sprogs: StressProgs,
                 tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[dict[str, str], dict[str, str]]:
    mode = request.param
    prog = sprogs["pathobs"]
    base, target = _base(tmp_path_factory.mktemp("untraced"))
    if mode == "gvisor":
        rc, out = run_in_gvisor([prog, str(base), str(target)], timeout=60)
        assert rc == 0, out
        plain = _parse(out, only_cases=True)
    else:
        proc = subprocess.run([prog, str(base), str(target)], capture_output=True, text=True,
                              timeout=60, env=child_env(), check=False)
        assert proc.returncode == 0, describe(proc)
        plain = _parse(proc.stdout)
    base, target = _base(tmp_path_factory.mktemp("traced"))
    argv = run(fake(str(target), f"{FAKE}\n"), fake(VIRT, VIRT_TEXT), hide("/nonexistent-sfk/"),
               PEEKPOKE if mode == "host-peekpoke" else [], cmd=[prog, str(base), str(target)])
    if mode == "gvisor":
        rc, out = run_in_gvisor(sysfake_cmd(argv), timeout=90)
        assert rc == 0, out
        return plain, _parse(out, only_cases=True)
    traced = run_sysfake(argv, timeout=60)
    assert traced.returncode == 0, describe(traced)
    return plain, _parse(traced.stdout)


def test_cases_complete(observations: tuple[dict[str, str], dict[str, str]]) -> None:
    plain, traced = observations
    assert list(plain) == CASES
    assert list(traced) == CASES


@pytest.mark.parametrize("case", CASES)
def test_same_as_untraced(case: str,
                          observations: tuple[dict[str, str], dict[str, str]]) -> None:
    plain, traced = observations
    expect = plain[case]
    if expect == f"ok {REAL}":
        expect = f"ok {FAKE}"  # TARGET opened: the rule decides its content
    assert traced.get(case) == expect, (
        f"{case}: untraced {plain[case]!r}, traced {traced.get(case)!r}, expected {expect!r}")


# ----------------------------------------------------------- non-UTF-8 rules
def test_rules_on_paths_that_are_not_utf8(tmp_path: Path) -> None:
    hidden = os.fsencode(tmp_path) + b"/h\xff\xfe"
    faked = os.fsencode(tmp_path) + b"/f\xc3\x28"
    with open(hidden, "w") as f:
        f.write("hidden\n")
    script = 'cat "$1" 2>/dev/null || echo gone; cat "$2"'
    res = run_sysfake(run(hide(os.fsdecode(hidden)), fake(os.fsdecode(faked), "bytes\n"),
                          cmd=["sh", "-c", script, "sh", os.fsdecode(hidden),
                               os.fsdecode(faked)]))
    assert (res.returncode, res.stdout) == (0, "gone\nbytes\n"), describe(res)
    assert Path(os.fsdecode(hidden)).read_text() == "hidden\n"


# ------------------------------------------- canonical path beyond PATH_MAX
DEEP_SCRIPT = r"""
import os, sys
for _ in range(12):  # cwd: about 3,000 characters
    os.makedirs("d" * 250, exist_ok=True)
    os.chdir("d" * 250)
rel = "/".join(["d" * 250] * 6) + "/secret"  # 1,500 characters, canonical about 4,500
os.makedirs(os.path.dirname(rel), exist_ok=True)
if sys.argv[1] == "make":
    with open(rel, "w") as f:
        f.write("real\n")
try:
    with open(rel) as f:
        print("read", f.read().strip())
except OSError as e:
    print("ERR", e.errno)
"""


def test_glob_rule_on_path_longer_than_path_max(tmp_path: Path) -> None:
    """The kernel opens a short relative name under a deep cwd whose whole
    path is longer than PATH_MAX; a glob rule on it must still apply."""
    base = tmp_path / "deep"
    base.mkdir()
    plain = subprocess.run(["python3", "-c", DEEP_SCRIPT, "make"], cwd=base, capture_output=True,
                           text=True, timeout=60, env=child_env(), check=False)
    assert (plain.returncode, plain.stdout) == (0, "read real\n"), describe(plain)
    res = run_sysfake(run(hide(f"{base}/**/secret"),
                          cmd=["python3", "-c", DEEP_SCRIPT, "read"]), cwd=base)
    assert (res.returncode, res.stdout) == (0, "ERR 2\n"), describe(res)
