"""A redirected stat answered by the tracer in one stop gives the kernel's
answer, and is not used where the tracer's answer could differ from the
caller's: dropped credentials, a symlink on the way, chroot, a new mount
namespace; nor, after 64 answers, for a call that repeats the last one
where the process has trampolines (csrc/tracer_stat.c)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import describe, missing, require, run_sysfake
from support.progs import Progs

ANSWERED = "answered by the tracer"
CALLS = ("stat", "lstat", "newfstatat", "newfstatat_nofollow", "statx", "statx_all")


def need_root() -> None:
    if os.geteuid() != 0:
        missing("needs root (credentials, chroot, mount namespaces)")


def same_lines(prefix: str = "", result: str = "ok", ro: str = "EFAULT") -> str:
    return "".join(f"{prefix}{c}: same {result}\n" for c in CALLS) + \
        f"{prefix}stat_readonly_buf: same {ro}\n"


def statcmp(progs: Progs, src: str, dst: str, *extra: str,
            disable: bool = False) -> subprocess.CompletedProcess[str]:
    flags = ["--disable", "tracer_stat"] if disable else []
    return run_sysfake(["run", "-v", *flags, "--redirect", f"{src}={dst}", "--",
                        progs["statcmp"], src, dst, *extra])


def test_answers_equal_the_kernel_byte_for_byte(progs: Progs, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    dst.write_text("some content\n")
    src = str(tmp_path / "src")
    res = statcmp(progs, src, str(dst))
    assert (res.returncode, res.stdout) == (0, same_lines()), describe(res)
    # every successful call and the EFAULT one took the one-stop answer
    assert res.stderr.count(ANSWERED) == 7, describe(res)
    off = statcmp(progs, src, str(dst), disable=True)
    assert (off.returncode, off.stdout) == (0, same_lines()), describe(off)
    assert ANSWERED not in off.stderr, describe(off)


@pytest.mark.parametrize("how", ["run", "record"])
def test_later_stats_of_a_process_return_through_trampolines(progs: Progs, tmp_path: Path,
                                                              how: str) -> None:
    """After 64 answers in one address space, a stat that repeats the
    thread's last one exactly (one path, one buffer) is rewritten and
    returns through a trampoline: one stop as well, and fewer tracer
    syscalls. 200 such, then the 7 calls compared: the kernel's answers
    throughout. Where a process cannot have trampolines (no return address
    set at the seccomp stop), the tracer answers every one."""
    dst = tmp_path / "dst"
    dst.write_text("some content\n")
    src = str(tmp_path / "src")
    mode = ["record", "-o", str(tmp_path / "trace")] if how == "record" else [how]
    cmd = ["-v", "--redirect", f"{src}={dst}", "--", progs["statcmp"], src, str(dst), "loop",
           "200"]
    res = run_sysfake([*mode, *cmd])
    assert (res.returncode, res.stdout) == (0, same_lines()), describe(res)
    # 64 answered, a few on the way to trampolines, the rest of the loop through one
    assert res.stderr.count(" stat returns through its trampoline") >= 120, describe(res)
    assert 64 <= res.stderr.count(ANSWERED) <= 64 + 7, describe(res)
    res = run_sysfake([*mode, "--disable", "set_return", *cmd])
    assert (res.returncode, res.stdout) == (0, same_lines()), describe(res)
    assert res.stderr.count(ANSWERED) == 207 and "trampoline" not in res.stderr, describe(res)


def test_stats_that_change_from_one_to_the_next_stay_answered(progs: Progs,
                                                            tmp_path: Path) -> None:
    """statcmp's calls differ from one to the next (call, buffer, flags): a
    rewrite would write its slot each time, and the tracer answers them
    all, 20 rounds of the 7, with the kernel's answers."""
    dst = tmp_path / "dst"
    dst.write_text("some content\n")
    src = str(tmp_path / "src")
    res = statcmp(progs, src, str(dst), "rounds", "20")
    assert (res.returncode, res.stdout) == (0, same_lines()), describe(res)
    assert res.stderr.count(ANSWERED) == 140 and "trampoline" not in res.stderr, describe(res)


def test_directory_target(progs: Progs, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    res = statcmp(progs, str(tmp_path / "src"), str(tmp_path / "d"))
    assert (res.returncode, res.stdout) == (0, same_lines()), describe(res)
    assert ANSWERED in res.stderr, describe(res)


def test_missing_target_left_to_the_kernel(progs: Progs, tmp_path: Path) -> None:
    res = statcmp(progs, str(tmp_path / "src"), str(tmp_path / "nothing"))
    assert (res.returncode, res.stdout) == (0, same_lines(result="ENOENT", ro="ENOENT")), \
        describe(res)
    assert ANSWERED not in res.stderr, describe(res)


def test_dropped_credentials_are_looked_at_again(progs: Progs, tmp_path: Path) -> None:
    need_root()
    priv = tmp_path / "priv"
    priv.mkdir(mode=0o700)
    tmp_path.chmod(0o755)
    (priv / "f").write_text("x\n")
    res = statcmp(progs, str(tmp_path / "src"), str(priv / "f"), "drop")
    # root may look; uid 65534 may not search priv/: EACCES from both paths
    assert (res.returncode, res.stdout) == (
        0, same_lines() + same_lines("drop ", "EACCES", "EACCES")), describe(res)
    assert res.stderr.count(ANSWERED) == 7, describe(res)


def test_symlink_on_the_way_is_left_to_the_kernel(progs: Progs, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_text("via a link\n")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    res = statcmp(progs, str(tmp_path / "src"), str(tmp_path / "link" / "f"))
    assert (res.returncode, res.stdout) == (0, same_lines()), describe(res)
    assert ANSWERED not in res.stderr, describe(res)


def test_procfs_target_is_left_to_the_kernel(progs: Progs, tmp_path: Path) -> None:
    res = statcmp(progs, str(tmp_path / "src"), "/proc/1/status")
    assert (res.returncode, res.stdout) == (0, same_lines()), describe(res)
    assert ANSWERED not in res.stderr, describe(res)


def test_after_chroot_the_target_is_the_new_roots(progs: Progs, tmp_path: Path) -> None:
    need_root()
    # The same absolute path names a different file inside the new root; the
    # tracer must not answer from its own root.
    dst = tmp_path / "x" / "dst"
    dst.parent.mkdir()
    dst.write_text("outside\n")
    root = tmp_path / "root"
    inner = root / str(dst).lstrip("/")
    inner.parent.mkdir(parents=True)
    inner.write_text("inside the chroot, longer\n")
    (root / "statcmp").write_bytes(Path(progs.static("statcmp")).read_bytes())
    (root / "statcmp").chmod(0o755)
    src = str(tmp_path / "src")
    res = run_sysfake(["run", "-v", "--redirect", f"{src}={dst}", "--",
                       require("chroot"), str(root), "/statcmp", src, str(dst)])
    assert (res.returncode, res.stdout) == (0, same_lines()), describe(res)
    assert ANSWERED not in res.stderr, describe(res)


def test_in_a_new_mount_namespace_the_target_is_its_own(progs: Progs, tmp_path: Path) -> None:
    need_root()
    d = tmp_path / "mnt"
    d.mkdir()
    (d / "dst").write_text("host file\n")
    src = str(tmp_path / "src")
    script = (f"mount -t tmpfs none {d} && echo 'tmpfs file, longer' > {d}/dst && "
              f"exec {progs['statcmp']} {src} {d}/dst")
    res = run_sysfake(["run", "-v", "--redirect", f"{src}={d}/dst", "--",
                       require("unshare"), "-m", "--propagation", "private",
                       "sh", "-c", script])
    assert (res.returncode, res.stdout) == (0, same_lines()), describe(res)
    assert ANSWERED not in res.stderr, describe(res)


@pytest.mark.parametrize("suffix", ["/", "/."])
@pytest.mark.parametrize("backend", [[], ["--disable", "tracer_stat"], ["--backend", "python"]])
def test_trailing_slash_on_a_redirected_file_is_enotdir(progs: Progs, tmp_path: Path,
                                                       suffix: str, backend: list[str]) -> None:
    # the path is canonicalised lexically; the rewrite keeps "must be a directory"
    dst = tmp_path / "dst"
    dst.write_text("a file\n")
    src = str(tmp_path / "src")
    res = run_sysfake(["run", *backend, "--redirect", f"{src}={dst}", "--",
                       progs["statcmp"], src + suffix, str(dst) + suffix])
    want = same_lines(result="ENOTDIR", ro="ENOTDIR")
    assert (res.returncode, res.stdout) == (0, want), describe(res)


def test_trailing_slash_on_a_redirected_directory(progs: Progs, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    src = str(tmp_path / "src")
    res = statcmp(progs, src + "/", str(tmp_path / "d") + "/")
    assert (res.returncode, res.stdout) == (0, same_lines()), describe(res)
    res = run_sysfake(["run", "--redirect", f"{src}/={tmp_path / 'd'}/", "--",
                       progs["statcmp"], src + "/", str(tmp_path / "d") + "/"])
    assert (res.returncode, res.stdout) == (0, same_lines()), describe(res)


def test_lsm_set_self_attr_makes_the_tracer_look_at_credentials_again(tmp_path: Path) -> None:
    # lsm_set_self_attr (Linux 6.8) changes an LSM label without /proc: the
    # tracer must look at the thread's credentials again before it answers
    # another stat for it. getpid in its place: looked at once.
    (tmp_path / "dst").write_text("target\n")
    (tmp_path / "src").write_text("source\n")
    looks = {}
    for name, nr in (("getpid", 39), ("lsm_set_self_attr", 460)):
        script = ("import ctypes, os, sys\n"
                  "os.stat(sys.argv[1]); os.stat(sys.argv[1])\n"
                  f"ctypes.CDLL(None).syscall({nr}, 0, 0, 0, 0)\n"
                  "print(os.stat(sys.argv[1]).st_size)\n")
        res = run_sysfake(["run", "-v", "--redirect", f"{tmp_path}/src={tmp_path}/dst", "--",
                           sys.executable, "-S", "-c", script, str(tmp_path / "src")])
        assert (res.returncode, res.stdout) == (0, "7\n"), describe(res)
        assert ANSWERED in res.stderr, describe(res)
        looks[name] = res.stderr.count("tracer stat allowed")
    assert looks == {"getpid": 1, "lsm_set_self_attr": 2}, looks
