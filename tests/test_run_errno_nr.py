"""An answer of 0 or -errno given at the seccomp stop writes one register:
the number SF_NR_ERRNO + errno, which the filter answers with RET_ERRNO when
the kernel filters the changed call again (csrc/core.h, probe 5 in
csrc/probe.c). Every other filter meets that number too: a process that
installs one of its own, and its children, get answers in orig_rax = -1 and
rax as before; under a filter of the tracer's that refuses the number, the
probe finds the mechanism missing."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import child_env, describe, run_in_gvisor, run_sysfake, sysfake_cmd, traced_tracer
from support.progs import Progs
from sysfake.core import mech_mask
from sysfake.environment import is_gvisor

ERRNO_NR = mech_mask(["errno_nr"])
SKIP_AT_SECCOMP = mech_mask(["skip_at_seccomp"])
STATS = ("stat", "lstat", "newfstatat", "newfstatat_nofollow", "statx", "statx_all")
SAME = "".join(f"{c}: same ok\n" for c in STATS) + "stat_readonly_buf: same EFAULT\n"

#: 50 stats of a redirected file (answered by the tracer: 0; fewer than the
#: 64 after which a repeated one may be rewritten, tracer_stat.c) and 150
#: of a hidden one (-ENOENT), each one stop
LOOP = """
import os, sys
for i in range(150):
    if i < 50:
        os.stat(sys.argv[1])
    try:
        os.stat(sys.argv[2])
    except FileNotFoundError:
        pass
    else:
        raise SystemExit("hidden path found")
print("done")
"""


def mechanisms(stderr: str) -> int:
    m = re.search(r"^sysfake: mechanisms 0x([0-9a-f]+)$", stderr, re.M)
    assert m, stderr
    return int(m.group(1), 16)


def not_gvisor() -> None:
    if is_gvisor():
        pytest.skip("the host itself looks like gVisor")


def test_an_answer_pokes_one_register(tmp_path: Path) -> None:
    not_gvisor()
    dst, hidden = tmp_path / "dst", tmp_path / "hidden"
    dst.write_text("x\n")
    hidden.write_text("y\n")
    src = tmp_path / "src"
    base = ["run", "--redirect", f"{src}={dst}", "--hide", str(hidden)]
    cmd = ["--", sys.executable, "-c", LOOP, str(src), str(hidden)]
    pokes = {}
    for name, flags in (("on", []), ("off", ["--disable", "errno_nr"])):
        res, log = traced_tracer(tmp_path, [*base, *flags, *cmd], "ptrace")
        assert (res.returncode, res.stdout) == (0, "done\n"), describe(res)
        pokes[name] = log.count("PTRACE_POKEUSER")
    # 200 answers: orig_rax alone, against orig_rax and rax
    assert pokes["on"] <= 220 and pokes["off"] >= 400, pokes


def test_probe_finds_it_on_linux() -> None:
    not_gvisor()
    res = run_sysfake(["doctor"])
    assert "\n  errno_nr           yes\n" in res.stdout, describe(res)


@pytest.mark.parametrize("how", ["seccomp", "prctl"])
@pytest.mark.parametrize("action", ["kill", "eperm"])
def test_a_filter_of_the_programs_own(progs: Progs, tmp_path: Path, action: str,
                                      how: str) -> None:
    """The filter kills (or fails with EPERM) every number from 1000 on: the
    answers after it, in the program and in a child of its shell, must still
    be the kernel's."""
    dst = tmp_path / "dst"
    dst.write_text("content\n")
    src, hidden, gone = tmp_path / "src", tmp_path / "hidden", tmp_path / "gone"
    hidden.write_text("y\n")
    want_gone = subprocess.run([progs["statcheck"], str(gone)], capture_output=True,
                               text=True, check=True).stdout
    script = (f"{progs['statcmp']} {src} {dst}; {progs['statcheck']} {hidden}; "
              f"{progs['statcmp']} {src} {dst} | head -1")
    res = run_sysfake(["run", "-v", "--redirect", f"{src}={dst}", "--hide", str(hidden), "--",
                       progs["ownfilter"], action, how, "sh", "-c", script])
    want = SAME + want_gone.replace(str(gone), str(hidden)) + "stat: same ok\n"
    assert (res.returncode, res.stdout) == (0, want), describe(res)
    if not is_gvisor():
        assert mechanisms(res.stderr) & ERRNO_NR, describe(res)


@pytest.mark.parametrize("action", ["kill", "eperm"])
def test_a_filter_the_tracer_runs_under(progs: Progs, tmp_path: Path, action: str) -> None:
    """One that kills for the number: the probe finds the mechanism missing,
    and keeps what its other tests found. One that fails it with EPERM: our
    filter, the newer, decides, and the mechanism works."""
    not_gvisor()
    dst = tmp_path / "dst"
    dst.write_text("content\n")
    src = tmp_path / "src"
    argv = [progs["ownfilter"], action, "seccomp",
            *sysfake_cmd(["run", "-v", "--redirect", f"{src}={dst}", "--",
                          progs["statcmp"], str(src), str(dst)])]
    res = subprocess.run(argv, capture_output=True, text=True, env=child_env(), timeout=120,
                         stdin=subprocess.DEVNULL, check=False)
    assert (res.returncode, res.stdout) == (0, SAME), describe(res)
    mech = mechanisms(res.stderr)
    assert mech & SKIP_AT_SECCOMP, describe(res)
    assert bool(mech & ERRNO_NR) == (action == "eperm"), describe(res)


@pytest.mark.gvisor
def test_gvisor_has_no_second_filtering() -> None:
    """gVisor does not filter a changed call again: answers set rax there."""
    script = f"{' '.join(sysfake_cmd(['doctor']))} | grep errno_nr"
    rc, out = run_in_gvisor(["sh", "-c", script])
    assert (rc, out) == (0, "  errno_nr           no\n"), out
