"""`sysfake doctor` and the default profile of `sysfake run` (environment.py),
on the host and inside gVisor (one fresh sandbox per test)."""
from __future__ import annotations

import shlex
import sys
import textwrap

import pytest

from support import describe, run_in_gvisor, run_sysfake, sysfake_cmd
from sysfake.environment import is_gvisor

from .helpers import CAP

# Run sysfake doctor with ptrace(2) failing with EPERM (a seccomp filter, as a
# container runtime's default profile without CAP_SYS_PTRACE would do).
_NO_PTRACE = textwrap.dedent("""
    import ctypes, os, struct, sys
    libc = ctypes.CDLL(None, use_errno=True)
    def ins(code, jt, jf, k):
        return struct.pack("HBBI", code, jt, jf, k)
    prog = b"".join([
        ins(0x20, 0, 0, 4),           # ld arch
        ins(0x15, 0, 3, 0xC000003E),  # x86_64? else allow
        ins(0x20, 0, 0, 0),           # ld nr
        ins(0x15, 0, 1, 101),         # ptrace? else allow
        ins(0x06, 0, 0, 0x00050001),  # SECCOMP_RET_ERRNO | EPERM
        ins(0x06, 0, 0, 0x7FFF0000),  # SECCOMP_RET_ALLOW
    ])
    buf = ctypes.create_string_buffer(prog, len(prog))
    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    fp = Fprog(len(prog) // 8, ctypes.addressof(buf))
    assert libc.prctl(38, 1, 0, 0, 0) == 0              # PR_SET_NO_NEW_PRIVS
    assert libc.prctl(22, 2, ctypes.byref(fp), 0, 0) == 0  # PR_SET_SECCOMP, FILTER
    os.execv(sys.argv[1], sys.argv[1:])
""")


def test_doctor_on_host() -> None:
    if is_gvisor():
        pytest.skip("the host itself looks like gVisor")
    res = run_sysfake(["doctor"])
    assert res.returncode == 0, describe(res)
    assert res.stdout.startswith("tracing: works\n"), describe(res)
    assert "\nenvironment: not gVisor (" in res.stdout, describe(res)
    assert res.stdout.rstrip("\n").splitlines()[-1].startswith("profile: minimal "), \
        describe(res)


def test_doctor_fails_without_ptrace() -> None:
    import subprocess

    from support import child_env
    res = subprocess.run([sys.executable, "-c", _NO_PTRACE, *sysfake_cmd(["doctor"])],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         env=child_env(), timeout=120, check=False)
    assert res.returncode == 1, describe(res)
    assert res.stdout.startswith("tracing: DOES NOT WORK: "), describe(res)
    assert res.stderr == "sysfake: cannot work here: tracing does not work (see above)\n", \
        describe(res)


def test_run_on_host_uses_no_rules(real_cap_text: str) -> None:
    if is_gvisor():
        pytest.skip("the host itself looks like gVisor")
    res = run_sysfake(["run", "--", "cat", CAP])
    assert (res.returncode, res.stdout, res.stderr) == (0, real_cap_text, ""), describe(res)


@pytest.mark.gvisor
def test_doctor_in_gvisor() -> None:
    script = (f"{shlex.join(sysfake_cmd(['doctor']))}; echo rc=$?; "
              "grep -c sysfake-doctor /proc/self/mountinfo; true")
    rc, out = run_in_gvisor(["sh", "-c", script])
    assert rc == 0, out
    lines = out.splitlines()
    assert lines[0] == "tracing: works", out
    assert "environment: gVisor (6 of 6 gVisor signals)" in lines, out
    for lack in ("LACK CLONE_PARENT honoured", "LACK cgroup mounts",
                 "LACK mount MS_BIND|MS_REC", "LACK fchown on a pipe"):
        assert any(line.strip().startswith(lack) for line in lines), f"{lack!r}:\n{out}"
    # the mount probe leaves nothing mounted (gVisor has no mount namespaces)
    assert lines[-3:] == [
        "profile: gvisor (sysfake run uses it when no rules are given; --profile NAME "
        "overrides, --no-profile disables)", "rc=0", "0"], out


@pytest.mark.gvisor
def test_default_profile_in_gvisor() -> None:
    def run(*opts: str) -> str:
        return shlex.join(sysfake_cmd(["run", *opts, "--", "cat", CAP])) + " 2>&1"
    script = (f"{run()}; echo a=$?; {run('--no-profile')}; echo b=$?; "
              f"{run('--profile', 'minimal')}; echo c=$?; "
              f"{run('--fake', '/proc/sys/kernel/cap_last_cap=38' + chr(92) + 'n')}; echo d=$?")
    rc, out = run_in_gvisor(["sh", "-c", script])
    missing = f"cat: {CAP}: No such file or directory\n"
    assert (rc, out) == (0, "40\na=0\n" + missing + "b=1\n" + missing + "c=1\n38\nd=0\n"), out


def test_gvisor_detection_needs_several_signals() -> None:
    from sysfake.environment import Signal

    def sig(name: str, present: bool, identity: bool = False) -> Signal:
        return Signal(name, present, "", identity)
    uname = sig("uname", True, identity=True)
    others = [sig("NSpid", True), sig("cap_last_cap", True), sig("mountinfo", True)]
    assert not is_gvisor([uname])                        # one signal is never enough
    assert not is_gvisor([uname, others[0]])
    assert is_gvisor([uname, *others[:2]])               # identity + two more
    assert not is_gvisor(others)                         # no kernel identity: a container
    assert not is_gvisor([sig("uname", False, True), *others])
