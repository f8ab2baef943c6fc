"""Syscall rules with real processes under `sysfake run` (the C core)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support import child_env, describe, require, run_sysfake, traced_tracer
from support.fakes import PEEKPOKE, REAPER_RULES
from support.progs import Progs


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


def test_cgroupfs_new_directory_gets_its_controllers_files(tmp_path: Path) -> None:
    rc, out, err = sh(tmp_path, """
        cgroupfs: {controllers: [cpu, devices]}
    """, "mkdir /sys/fs/cgroup/cpu/a /sys/fs/cgroup/devices/b /sys/fs/cgroup/cpu/a/c && "
         "ls /sys/fs/cgroup/cpu/a/c; cat /sys/fs/cgroup/cpu/a/cpu.shares; "
         "ls /sys/fs/cgroup/devices/b; cat /sys/fs/cgroup/devices/b/devices.list")
    assert rc == 0, err
    cpu = ["cgroup.clone_children", "cgroup.procs", "cpu.cfs_period_us", "cpu.cfs_quota_us",
           "cpu.shares", "notify_on_release", "tasks"]
    dev = ["cgroup.clone_children", "cgroup.procs", "devices.allow", "devices.deny",
           "devices.list", "notify_on_release", "tasks"]
    assert out.splitlines() == [*cpu, "1024", *dev, "a *:* rwm"], out


def test_cgroupfs_memory_reads_as_unlimited(tmp_path: Path) -> None:
    """A limit of 0 reads as no memory at all (Java printed "Memory Limit:
    0.00K"): the tree reads as an unlimited v1 memory cgroup, and so does a
    directory made in it."""
    m = "/sys/fs/cgroup/memory"
    rc, out, err = sh(tmp_path, """
        cgroupfs: {controllers: [memory, devices]}
    """, f"mkdir {m}/c && for d in {m} {m}/c; do cat $d/memory.limit_in_bytes "
         f"$d/memory.memsw.limit_in_bytes $d/memory.use_hierarchy $d/memory.oom_control; done")
    assert rc == 0, err
    one = ["9223372036854771712", "9223372036854771712", "1",
           "oom_kill_disable 0", "under_oom 0", "oom_kill 0"]
    assert out.splitlines() == one * 2, out


CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC = "63677270", "27e0eb"


def fs_tree(tmp_path: Path) -> tuple[Path, str]:
    """Files under v2/ and v1/ and one outside, with rules patching f_type for
    statfs and fstatfs by path glob (fstatfs: the path behind the fd)."""
    d = tmp_path / "fs"
    for sub in ("v2/a", "v1/b/c", "plain"):
        (d / sub).parent.mkdir(parents=True, exist_ok=True)
        (d / sub).write_text("x")
    text = f"""
        rules:
          - syscall: [statfs, fstatfs]
            path: {d}/v2/**
            patch: {{f_type: CGROUP2_SUPER_MAGIC}}
          - syscall: [statfs, fstatfs]
            path: {d}/v1/**
            patch: {{f_type: CGROUP_SUPER_MAGIC}}
    """
    return d, text


def fs_expected(d: Path, real: str) -> str:
    return (f"{d}/v2/a statfs={CGROUP2_SUPER_MAGIC} fstatfs={CGROUP2_SUPER_MAGIC}\n"
            f"{d}/v1/b/c statfs={CGROUP_SUPER_MAGIC} fstatfs={CGROUP_SUPER_MAGIC}\n"
            f"{d}/plain statfs={real} fstatfs={real}\n")


def test_fstatfs_on_fd_under_path_glob(tmp_path: Path, progs: Progs) -> None:
    d, text = fs_tree(tmp_path)
    plain = subprocess.run([progs["fsmagic"], str(d / "plain")], capture_output=True,
                           text=True, timeout=30, env=child_env(), check=False)
    assert plain.returncode == 0, describe(plain)
    real = plain.stdout.split()[1].removeprefix("statfs=")
    assert real not in (CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC)
    for prog in (progs["fsmagic"], progs.static("fsmagic")):
        res = run_sysfake(["run", "--rules", rules(tmp_path, text), "--", prog,
                           str(d / "v2/a"), str(d / "v1/b/c"), str(d / "plain")])
        assert (res.returncode, res.stdout) == (0, fs_expected(d, real)), describe(res)


PROMISC_RULE = """
    rules:
      - syscall: ioctl
        args: {1: SIOCSIFFLAGS}
        return: 0
"""


def test_siocsifflags_return_0_in_new_netns(tmp_path: Path, progs: Progs) -> None:
    """What the CNI bridge plugin does (IFF_PROMISC on an interface), in a fresh
    network namespace: `return: 0` skips the call, so the flag stays clear."""
    unshare = require("unshare")
    netns = [unshare, "-n"] if os.geteuid() == 0 else [unshare, "-rn"]
    cmd = [*netns, progs["promisc"], "lo"]
    plain = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=child_env(),
                           check=False)
    assert (plain.returncode, plain.stdout) == (0, "set: ok\npromisc: yes\n"), describe(plain)
    res = run_sysfake(["run", "--rules", rules(tmp_path, PROMISC_RULE), "--", *cmd])
    assert (res.returncode, res.stdout) == (0, "set: ok\npromisc: no\n"), describe(res)
    if os.geteuid() != 0:
        return
    # without CAP_NET_ADMIN the kernel refuses; the rule answers 0 all the same
    nobody = [unshare, "-n", require("setpriv"), "--reuid=65534", "--regid=65534",
              "--clear-groups", progs["promisc"], "lo"]
    plain = subprocess.run(nobody, capture_output=True, text=True, timeout=30,
                           env=child_env(), check=False)
    assert (plain.returncode, plain.stdout) == (0, "set: ERR EPERM\npromisc: no\n"), \
        describe(plain)
    res = run_sysfake(["run", "--rules", rules(tmp_path, PROMISC_RULE), "--", *nobody])
    assert (res.returncode, res.stdout) == (0, "set: ok\npromisc: no\n"), describe(res)


@pytest.mark.parametrize("mech", ["default", "peekpoke"])
def test_answers_into_read_only_buffer_fail_with_efault(tmp_path: Path, progs: Progs,
                                                        mech: str) -> None:
    """`return` + `patch` writes into the caller's buffer: a read-only page gets
    EFAULT, as from the kernel, and stays untouched. peekpoke: only
    PEEK/POKEDATA, as in gVisor (POKEDATA writes through PROT_READ)."""
    f = tmp_path / "f"
    f.write_text("x")
    cmd = [progs["robuf"], str(f)]
    expected = "uname: ERR EFAULT\nstatfs: ERR EFAULT\nfstatfs: ERR EFAULT\npage intact: yes\n"
    plain = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=child_env(),
                           check=False)
    assert (plain.returncode, plain.stdout) == (0, expected), describe(plain)
    text = f"""
        rules:
          - syscall: uname
            return: 0
            patch: {{release: "5.15.0-sf"}}
          - syscall: [statfs, fstatfs]
            path: {f}
            return: 0
            patch: {{f_type: CGROUP2_SUPER_MAGIC}}
    """
    disable = [] if mech == "default" else PEEKPOKE
    res = run_sysfake(["run", "--rules", rules(tmp_path, text), *disable, "--", *cmd])
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
def test_when_counts_a_replayed_call_once(progs: Progs, tmp_path: Path, static: bool) -> None:
    # unmapper opens SRC twice (the first rewrite is written in place, the
    # second maps scratch memory and is replayed), unmaps that memory, and
    # opens SRC a third time, which is replayed too: a `when` rule must
    # count each replayed call once, so a rule for a fourth open never fires.
    src, dst = tmp_path / "src", tmp_path / "dst"
    dst.write_text("the target\n")
    prog = progs.static("unmapper") if static else progs["unmapper"]
    res = run_sysfake(["run", "--redirect", f"{src}={dst}", "--rules", rules(tmp_path, f"""
        rules:
          - syscall: [open, openat]
            path: {src}
            when: 4
            errno: EACCES
    """), "--", prog, str(src)])
    assert (res.returncode, res.stdout) == (
        0, "first=the target|second=the target|unmapped=1\n"), describe(res)


#: A tracee that makes 300 calls each rule below lets through and one each
#: it answers: ioctl with another request, lseek to an offset whose low half
#: is the rule's (the filter must compare both halves of a 64-bit value).
VALUES_PROG = textwrap.dedent("""
    import errno, fcntl, os, sys, termios
    def err(f):
        try:
            f()
            return "ok"
        except OSError as e:
            return errno.errorcode[e.errno]
    fd = os.open(sys.argv[1], os.O_RDONLY)
    tcgets = {err(lambda: fcntl.ioctl(fd, termios.TCGETS, bytes(64))) for _ in range(300)}
    seeks = {os.lseek(fd, 5, 0) for _ in range(300)}
    print("tcgets", sorted(tcgets), "lseek", sorted(seeks))
    print("winsz", err(lambda: fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8))))
    print("lseek64", err(lambda: os.lseek(fd, 0x100000005, 0)))
""")
VALUES_RULES = """
    rules:
      - syscall: ioctl
        args: {1: 0x5413}          # TIOCGWINSZ
        errno: EXDEV
      - syscall: lseek
        args: {1: 0x100000005}
        errno: EXDEV
"""
VALUES_OUT = "tcgets ['ENOTTY'] lseek [5]\nwinsz EXDEV\nlseek64 EXDEV\n"


def _tracer_waits(tmp_path: Path, rules_file: str, cmd: list[str]
                  ) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run under strace on the tracer alone: its wait4 calls, one a stop."""
    res, log = traced_tracer(tmp_path, ["run", "--rules", rules_file, "--", *cmd], "wait4")
    return res, log.count("wait4(")


def test_rules_that_name_argument_values_stop_only_those_calls(tmp_path: Path) -> None:
    """Every rule for ioctl and lseek names one value of one argument: the
    seccomp filter checks those values (csrc/seccomp.c), so the 600 other
    calls never stop, and the two that match are answered."""
    data = tmp_path / "data"
    data.write_text("0123456789")
    prog = [sys.executable, "-c", VALUES_PROG, str(data)]
    res, waits = _tracer_waits(tmp_path, rules(tmp_path, VALUES_RULES), prog)
    assert (res.returncode, res.stdout) == (0, VALUES_OUT), describe(res)
    assert waits < 100, waits
    # a rule that matches by bits, not by one value: every ioctl stops
    bits = VALUES_RULES.replace("args: {1: 0x5413}", "args: {1: {all: 0x5413}}")
    res, waits = _tracer_waits(tmp_path, rules(tmp_path, bits), prog)
    assert (res.returncode, res.stdout) == (0, VALUES_OUT), describe(res)
    assert waits > 300, waits


#: benign syscalls, each given rules for 8 values of its first argument that
#: no call here uses: a filter of some 1300 value-check instructions, whose
#: splits cannot all jump with JGE alone (csrc/seccomp.c, long_jumps)
MANY = ["getpriority", "setpriority", "sched_getscheduler", "sched_getparam", "getpgid",
        "getsid", "kill", "tkill", "fsync", "fdatasync", "fchmod", "flock", "dup", "dup2",
        "fcntl", "ftruncate", "pread64", "pwrite64", "readv", "writev", "sendfile", "socket",
        "connect", "accept", "bind", "listen", "shutdown", "getsockname", "getpeername",
        "socketpair", "getsockopt", "madvise", "mlock", "munlock", "mincore", "msync",
        "alarm", "getitimer", "setitimer", "nanosleep"]


def test_a_filter_with_many_value_checks_still_decides_each_call(tmp_path: Path) -> None:
    many = "".join(f"  - syscall: {name}\n    args: {{0: {0x7FFF1230 + k:#x}}}\n"
                   f"    errno: EXDEV\n" for name in MANY for k in range(8))
    text = VALUES_RULES + textwrap.indent(many, "    ")
    data = tmp_path / "data"
    data.write_text("0123456789")
    prog = VALUES_PROG + textwrap.dedent("""
        print("getpriority", err(lambda: os.getpriority(0x7FFF1237, 0)))
        print("getpriority", err(lambda: os.getpriority(0x7FFF1238, 0)))
    """)
    res, waits = _tracer_waits(tmp_path, rules(tmp_path, text),
                               [sys.executable, "-c", prog, str(data)])
    assert (res.returncode, res.stdout) == (0, VALUES_OUT + "getpriority EXDEV\n"
                                            "getpriority EINVAL\n"), describe(res)
    assert waits < 150, waits


def test_the_reaper_stops_only_the_prctl_it_needs(tmp_path: Path) -> None:
    """The reaper emulation remembers PR_SET_CHILD_SUBREAPER: that prctl
    stops (the gvisor profile also answers it), the others (runc drops
    some forty capabilities with prctl) do not."""
    prog = textwrap.dedent("""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        dumpable = {libc.prctl(3, 0, 0, 0, 0) for _ in range(300)}   # PR_GET_DUMPABLE
        print("dumpable", sorted(dumpable), "subreaper", libc.prctl(36, 1, 0, 0, 0))
    """)
    reaper = tmp_path / "reaper.yaml"
    reaper.write_text(REAPER_RULES)
    res, waits = _tracer_waits(tmp_path, str(reaper), [sys.executable, "-c", prog])
    assert (res.returncode, res.stdout) == (0, "dumpable [1] subreaper 0\n"), describe(res)
    assert waits < 100, waits
