"""Virtual files hold where the tracer's /proc and the host paths cannot be reached
(issue 3): after chroot into a directory without /proc, after unshare -m and
pivot_root, and in a new PID namespace with a fresh /proc. Each case checks that
stat, access, faccessat2, statx and readlink agree with open (statcheck)."""
from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from support import describe, require, run_in_gvisor, run_sysfake, sysfake_cmd
from support.fakes import CAP, CAP_TEXT, CAP_TEXT_GVISOR, VIRT, VIRT_TEXT, fake, run
from support.progs import Progs
from test_run_paths import stat_lines


def _jail(tmp_path: Path, progs: Progs, busybox: str | None = None) -> Path:
    """A root directory with static programs only: no /proc, no /dev, no libc."""
    root = tmp_path / "jail"
    root.mkdir()
    shutil.copy(progs.static("statcheck"), root / "statcheck")
    shutil.copy(progs.static("readfile"), root / "readfile")
    if busybox:
        shutil.copy(busybox, root / "busybox")
    assert not (root / "proc").exists()
    return root


@pytest.mark.parametrize(("path", "text"), [(CAP, CAP_TEXT), (VIRT, VIRT_TEXT)])
def test_chroot_without_proc(progs: Progs, tmp_path: Path, path: str, text: str) -> None:
    root = _jail(tmp_path, progs)
    res = run_sysfake(run(fake(path, text),
                          cmd=[require("chroot"), str(root), "/statcheck", path]))
    assert (res.returncode, res.stdout) == (0, stat_lines(text)), describe(res)


def test_chroot_write_then_read_by_another_process(progs: Progs, tmp_path: Path,
                                                   busybox: str) -> None:
    # Written inside the chroot (no /proc: a private memfd copy), read outside and inside.
    root = _jail(tmp_path, progs, busybox)
    chroot = require("chroot")
    script = (f"{chroot} {root} /readfile -w '7\n' {VIRT}; cat {VIRT}; "
              f"{chroot} {root} /busybox cat {VIRT}")
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, "wrote 2\n7\n7\n"), describe(res)


def test_pivot_root_in_new_mount_namespace(progs: Progs, tmp_path: Path,
                                           busybox: str) -> None:
    root = _jail(tmp_path, progs, busybox)
    (root / "old").mkdir()
    # The new root must be a mount point; the old root is detached after the pivot.
    inner = ("/busybox umount -l /old && /busybox ls /old | /busybox wc -l && "
             f"/statcheck {CAP} && /statcheck {VIRT}")
    script = (f"mount --make-rprivate / && mount --bind {root} {root} && cd {root} && "
              f"pivot_root . old && exec /busybox sh -c {shlex.quote(inner)}")
    res = run_sysfake(run(fake(CAP, CAP_TEXT), fake(VIRT, VIRT_TEXT),
                          cmd=[require("unshare"), "-m", "sh", "-c", script]))
    expected = "0\n" + stat_lines(CAP_TEXT) + stat_lines(VIRT_TEXT)
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


def test_emulated_pivot_root_then_umount_loop(progs: Progs, tmp_path: Path) -> None:
    # crun: pivot_root(".", "."), then umount2(".", MNT_DETACH) until EINVAL. The
    # emulated pivot is a chroot: the first umount2 is skipped, the next one must
    # fail as on Linux once the old root is gone (not succeed forever: crun hung).
    root = _jail(tmp_path, progs)
    shutil.copy(progs.static("pivot"), root / "pivot")
    rules = tmp_path / "pivot.yaml"
    rules.write_text("version: 1\nemulate: [pivot-root-chroot, global-umount]\n")
    script = (f"mount --make-rprivate / && mount --bind {root} {root} && "
              f"{root}/pivot {root} {CAP}")
    res = run_sysfake(run(["--rules", str(rules)], fake(CAP, CAP_TEXT),
                          cmd=[require("unshare"), "-m", "sh", "-c", script]))
    expected = "umount ok 1, then Invalid argument\n" + CAP_TEXT
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


def test_new_pid_namespace_with_fresh_proc(progs: Progs) -> None:
    # The tracer is not visible in the new /proc; /proc/<pid> aliases /proc/self with
    # the pid as the process sees it.
    script = (f"echo $$; {progs['statcheck']} {CAP}; {progs['statcheck']} {VIRT}; "
              f"cat /proc/self/setgroups; {progs['readfile']} /proc/%p/setgroups")
    res = run_sysfake(run(fake(CAP, CAP_TEXT), fake(VIRT, VIRT_TEXT),
                          fake("/proc/self/setgroups", "sfk-deny\n"),
                          cmd=[require("unshare"), "-pfm", "--mount-proc", "sh", "-c", script]))
    expected = ("1\n" + stat_lines(CAP_TEXT) + stat_lines(VIRT_TEXT)
                + "sfk-deny\nsfk-deny\n")
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


def _nested_forks(progs: Progs) -> tuple[str, str]:
    """Children and threads created inside a new PID namespace: (script, expected)."""
    inner = (f"for i in 1 2 3 4 5 6; do cat {CAP} & done; wait; "
             f"{progs['threads']} -b 8 {CAP} {shlex.quote(CAP_TEXT)}; "
             f"sh -c 'cat {CAP}; exit 7'; echo rc=$?")
    return inner, CAP_TEXT * 6 + "ok 8/8\n" + CAP_TEXT + "rc=7\n"


@pytest.mark.parametrize("disable", [[], ["--disable", "nspid"]], ids=["linux", "no-nspid"])
def test_nested_pid_namespace_ids_collide_with_tracees(progs: Progs, tmp_path: Path,
                                                       disable: list[str]) -> None:
    # The namespace's pids are made to start at the outer shell's pid (a live
    # tracee), so the children's own ids equal tids the tracer already knows.
    # Without NSpid the tracer links children as it must in gVisor (by /proc
    # facts wherever the creator is not in its own PID namespace).
    inner, expected = _nested_forks(progs)
    script = tmp_path / "inner.sh"
    script.write_text(f"echo $((P - 1)) > /proc/sys/kernel/ns_last_pid && {inner}\n")
    outer = f"export P=$$; unshare -pf --mount-proc sh {script}"
    res = run_sysfake(run(fake(CAP, CAP_TEXT), disable, cmd=["sh", "-c", outer]))
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


def test_new_pid_namespace_write_then_read(progs: Progs) -> None:
    # A write inside the new PID namespace is seen by a later process outside it.
    inner = f"printf '99\\n' > {VIRT}; cat {VIRT}"
    script = f"unshare -pfm --mount-proc sh -c {shlex.quote(inner)}; cat {VIRT}"
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, "99\n99\n"), describe(res)


@pytest.mark.gvisor
def test_chroot_without_proc_in_gvisor(progs: Progs, tmp_path: Path) -> None:
    root = _jail(tmp_path, progs)
    cmd = sysfake_cmd(run(fake(CAP, CAP_TEXT_GVISOR), fake(VIRT, VIRT_TEXT),
                          cmd=["sh", "-c", f"chroot {root} /statcheck {CAP}; "
                                           f"chroot {root} /statcheck {VIRT}"]))
    rc, out = run_in_gvisor(cmd)
    assert (rc, out) == (0, stat_lines(CAP_TEXT_GVISOR) + stat_lines(VIRT_TEXT))


@pytest.mark.gvisor
def test_chroot_write_then_read_in_gvisor(progs: Progs, tmp_path: Path, busybox: str) -> None:
    root = _jail(tmp_path, progs, busybox)
    script = (f"chroot {root} /readfile -w '7\n' {VIRT}; cat {VIRT}; "
              f"chroot {root} /busybox cat {VIRT}")
    rc, out = run_in_gvisor(sysfake_cmd(run(fake(VIRT, VIRT_TEXT), cmd=["sh", "-c", script])))
    assert (rc, out) == (0, "wrote 2\n7\n7\n")


@pytest.mark.gvisor
@pytest.mark.parametrize("mover", ["unshare", "clone"])
def test_nested_pid_namespace_in_gvisor(progs: Progs, mover: str) -> None:
    # gVisor names a new child in its creator's PID namespace (2, 3, ...): those
    # ids collide with the sandbox tids of other tracees. Each child must still
    # be linked to its creator (it hung parked before), whether unshare(2) or
    # the clone flags (tests/progs/newpid.c) made the namespace; the tracer
    # must not take the ids for its own (tests/test_run_fork_ids.py).
    inner, expected = _nested_forks(progs)
    inner = inner.replace(CAP_TEXT, CAP_TEXT_GVISOR)
    expected = expected.replace(CAP_TEXT, CAP_TEXT_GVISOR)
    newns = ["unshare", "-pf"] if mover == "unshare" else [progs["newpid"]]
    cmd = sysfake_cmd(run(fake(CAP, CAP_TEXT_GVISOR),
                          cmd=["timeout", "-k", "5", "60", *newns, "sh", "-c", inner]))
    rc, out = run_in_gvisor(cmd)
    assert (rc, out) == (0, expected)
