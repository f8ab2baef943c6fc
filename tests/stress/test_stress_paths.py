"""Edge paths traced vs untraced (tests/stress/progs/pathobs.c): long paths up
to PATH_MAX, a deep cwd with a long relative path, names that are not valid
UTF-8, symlink loops and bad pointers.

The traced run has a content rule on TARGET (plus unrelated rules). Every
observation must equal the untraced one, except that a successful open of
TARGET shows the fake's first line instead of the real one: EFAULT, ELOOP,
ENAMETOOLONG... come back to the program exactly as without sysfake.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from stress_support import StressProgs

from support import child_env, describe, run_sysfake
from support.fakes import VIRT, VIRT_TEXT, fake, hide, run

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


def _parse(out: str) -> dict[str, str]:
    res = {}
    for line in out.splitlines():
        case, _, what = line.partition(": ")
        res[case] = what
    return res


def _base(tmp: Path) -> tuple[Path, Path]:
    base = tmp / "b"
    base.mkdir()
    target = base / "target"
    target.write_text(f"{REAL}\n")
    return base, target


@pytest.fixture(scope="module")
def observations(sprogs: StressProgs, tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[dict[str, str], dict[str, str]]:
    prog = sprogs["pathobs"]
    base, target = _base(tmp_path_factory.mktemp("untraced"))
    plain = subprocess.run([prog, str(base), str(target)], capture_output=True, text=True,
                           timeout=60, env=child_env(), check=False)
    assert plain.returncode == 0, describe(plain)
    base, target = _base(tmp_path_factory.mktemp("traced"))
    traced = run_sysfake(run(fake(str(target), f"{FAKE}\n"), fake(VIRT, VIRT_TEXT),
                             hide("/nonexistent-sfk/"), cmd=[prog, str(base), str(target)]),
                         timeout=60)
    assert traced.returncode == 0, describe(traced)
    return _parse(plain.stdout), _parse(traced.stdout)


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
