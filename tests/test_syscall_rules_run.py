"""Syscall rules with real processes under `sysfake run` (the C core)."""
from __future__ import annotations

import textwrap
from pathlib import Path

from support import run_sysfake


def rules(tmp_path: Path, text: str) -> str:
    p = tmp_path / "rules.yaml"
    p.write_text("version: 1\n" + textwrap.dedent(text))
    return str(p)


def sh(tmp_path: Path, text: str, script: str) -> tuple[int, str, str]:
    res = run_sysfake(["run", "--rules", rules(tmp_path, text), "--", "sh", "-c", script])
    return res.returncode, res.stdout, res.stderr


def test_uname_release_patch(tmp_path: Path) -> None:
    rc, out, err = sh(tmp_path, """
        rules:
          - syscall: uname
            patch: {release: "5.15.0-sf", machine: "x86_64"}
    """, "uname -r; uname -m")
    assert rc == 0, err
    assert out == "5.15.0-sf\nx86_64\n"


def test_statfs_f_type_patch_path_and_fd(tmp_path: Path) -> None:
    d = tmp_path / "fake"
    d.mkdir()
    (d / "f").write_text("x")
    rc, out, err = sh(tmp_path, f"""
        rules:
          - syscall: [statfs, fstatfs]
            path: {d}/**
            patch: {{f_type: CGROUP_SUPER_MAGIC}}
          - syscall: [statfs, fstatfs]
            path: {d}
            patch: {{f_type: TMPFS_MAGIC}}
    """, f"stat -f -c %t {d} {d}/f /")
    assert rc == 0, err
    assert out.split()[:2] == ["1021994", "27e0eb"]
    assert out.split()[2] not in ("1021994", "27e0eb")


def test_errno_return_when_pass(tmp_path: Path) -> None:
    rc, out, err = sh(tmp_path, """
        rules:
          - syscall: chdir
            path: /tmp
            pass: true
          - syscall: chdir
            when: "2+2"
            errno: EACCES
    """, "for i in 1 2 3 4 5; do cd / 2>/dev/null && echo ok || echo fail; done; "
         "cd /tmp && echo tmp")
    assert rc == 0, err
    assert out.split() == ["ok", "fail", "ok", "fail", "ok", "tmp"]


def test_if_errno_return(tmp_path: Path) -> None:
    rc, out, err = sh(tmp_path, """
        rules:
          - syscall: chdir
            if_errno: ENOENT
            return: 0
    """, "cd /nonexistent-sysfake && echo faked; cd / && echo real")
    assert rc == 0, err
    assert out.split() == ["faked", "real"]


def test_args_match_and_set_args(tmp_path: Path) -> None:
    # the mode argument is an int (umode_t): rewritten to 0700 for the call only
    d = tmp_path / "made"
    rc, out, err = sh(tmp_path, """
        rules:
          - syscall: mkdir
            args: {1: 0o777}
            set_args: {1: {clear: 0o077}}
          - syscall: mkdirat
            args: {2: 0o777}
            set_args: {2: {clear: 0o077}}
    """, f"umask 0; mkdir {d} && stat -c %a {d}")
    assert rc == 0, err
    assert out.strip() == "700"


def test_delay(tmp_path: Path) -> None:
    import time
    t0 = time.monotonic()
    rc, _out, err = sh(tmp_path, """
        rules:
          - syscall: uname
            delay: 300ms
    """, "uname -r >/dev/null")
    assert rc == 0, err
    assert time.monotonic() - t0 >= 0.3


def test_cgroupfs_tree(tmp_path: Path) -> None:
    rc, out, err = sh(tmp_path, """
        cgroupfs: {controllers: [cpu, devices]}
    """, "cat /proc/self/cgroup; ls /sys/fs/cgroup; cat /sys/fs/cgroup/devices/devices.list; "
         "stat -f -c %t /sys/fs/cgroup /sys/fs/cgroup/cpu; "
         "grep ' /sys/fs/cgroup' /proc/self/mountinfo | cut -d' ' -f5,8,9 | tail -3")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[:2] == ["1:cpu:/", "2:devices:/"], out
    assert lines[2:4] == ["cpu", "devices"], out
    assert lines[4] == "a *:* rwm"
    assert lines[5:7] == ["1021994", "27e0eb"]
    assert lines[7:] == ["/sys/fs/cgroup tmpfs tmpfs", "/sys/fs/cgroup/cpu cgroup cgroup",
                         "/sys/fs/cgroup/devices cgroup cgroup"], out
