"""`sysfake run` hands the command over to the C launcher (core.exec_launcher).

Once the table is built, the Python process execs `sysfake-exec` with the
table in a memfd, so the tracer is the launcher: same pid, no Python left in
memory for the whole run, and cheap forks inside gVisor. These check that
the tracer really is the launcher, that nothing of the hand-over reaches
the command (the memfd), that the temporary trees (fake cgroup tree,
directory listings) are still removed when the run is over, on the host and
in gVisor, and that without a launcher the run falls back to the core in
the Python process.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from support import describe, run_in_gvisor, run_sysfake, start_sysfake, without_launcher
from support.fakes import VIRT, VIRT_TEXT, fake, run

CGROUPFS_RULES = "version: 1\ncgroupfs: {controllers: [cpu, devices]}\nrules: []\n"
# the tracer (the command's parent), whether a fake cgroup tree and a listing tree
# exist under TMPDIR, and the command's open fds
# (coreutils ls fails with EINVAL in this gVisor: busybox's there)
SCRIPT = ('cat /proc/$PPID/comm; echo ppid=$PPID; LS "$TMPDIR" | sed "s/-[^-]*$//" | sort; '
          "LS /sys/fs/cgroup; LS /proc/self/fd | tr '\\n' ' '; echo")


def _args(tmp_path: Path, ls: str = "ls") -> list[str]:
    rules = tmp_path / "cg.yaml"
    rules.write_text(CGROUPFS_RULES)
    return run(["--rules", str(rules)], fake(VIRT, VIRT_TEXT),
               cmd=["sh", "-c", SCRIPT.replace("LS", ls)])


def _untraced_fds() -> str:
    res = subprocess.run(["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; echo"],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL, check=True)
    return res.stdout


def test_the_launcher_traces_and_cleans_up(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = start_sysfake(_args(tmp_path), env={"TMPDIR": str(tmp)})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == "sysfake-exec", out
    assert lines[1] == f"ppid={proc.pid}", out  # exec: the pid sysfake run started with
    assert lines[2:4] == ["sysfake-cgroupfs", "sysfake-vdirs"], out
    assert lines[4:6] == ["cpu", "devices"], out
    assert lines[6] + "\n" == _untraced_fds(), out  # the table's memfd is not inherited
    assert os.listdir(tmp) == [], "the launcher left its trees behind"


def test_status_and_errors_keep_sysfakes_name(tmp_path: Path) -> None:
    res = run_sysfake(run(cmd=["sh", "-c", "echo $(cat /proc/$PPID/comm); exit 5"]))
    assert (res.returncode, res.stdout) == (5, "sysfake-exec\n"), describe(res)
    res = run_sysfake(run(cmd=["/nonexistent/cmd"]))
    assert res.returncode == 127, describe(res)
    assert res.stderr == "sysfake: cannot run '/nonexistent/cmd': No such file or directory\n"


def test_without_a_launcher_python_traces(tmp_path: Path) -> None:
    # a copy of the package without sysfake-exec: the core runs in the Python process
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**without_launcher(tmp_path / "pkg"), "TMPDIR": str(tmp)}
    res = subprocess.run([sys.executable, "-m", "sysfake", *_args(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=60,
                         stdin=subprocess.DEVNULL, check=False)
    assert res.returncode == 0, describe(res)
    lines = res.stdout.splitlines()
    assert lines[0].startswith("python"), res.stdout
    assert lines[2:6] == ["sysfake-cgroupfs", "sysfake-vdirs", "cpu", "devices"], res.stdout
    assert os.listdir(tmp) == []


def test_the_launcher_traces_and_cleans_up_in_gvisor(tmp_path: Path, busybox: str) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    args = _args(tmp_path, f"{busybox} ls")
    script = (f"TMPDIR={tmp} {shlex.join([sys.executable, '-m', 'sysfake', *args])}; "
              f"echo status=$?; {busybox} ls {tmp} | wc -l")
    rc, out = run_in_gvisor(["sh", "-c", script])
    lines = out.splitlines()
    assert rc == 0, out
    assert lines[0] == "sysfake-exec", out
    assert lines[2:6] == ["sysfake-cgroupfs", "sysfake-vdirs", "cpu", "devices"], out
    assert lines[-2:] == ["status=0", "0"], out
