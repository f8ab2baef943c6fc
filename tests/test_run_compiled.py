"""`sysfake compile -o DIR` and `DIR/sysfake-exec -- CMD`: the same rules as
`sysfake run`, run by the C launcher without Python."""
from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from support import (
    child_env,
    describe,
    find_leftovers,
    missing,
    require,
    run_in_gvisor,
    run_sysfake,
    sysfake_cmd,
)
from support.fakes import CAP, CAP_TEXT, fake
from support.progs import Progs
from sysfake.compiled import launcher


def compile_rules(out: Path, *rule_args: str) -> Path:
    res = run_sysfake(["compile", *rule_args, "-o", str(out)])
    assert res.returncode == 0, describe(res)
    exe = out / "sysfake-exec"
    assert res.stdout == f"run with: {exe} -- CMD [ARGS...]\n", describe(res)
    return exe


def run_exec(argv: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, env=child_env(),
                          check=False)


def test_redirect_and_fake_apply(progs: Progs, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    dst.write_text("the target\n")
    src = tmp_path / "src"
    exe = compile_rules(tmp_path / "c", "--redirect", f"{src}={dst}", *fake(CAP, CAP_TEXT))
    res = run_exec([exe, "--", progs["readfile"], str(src)])
    assert (res.returncode, res.stdout) == (0, "the target\n"), describe(res)
    res = run_exec([exe, "sh", "-c", f"cat {CAP}; sh -c 'cat {src}'"])  # a grandchild too
    assert (res.returncode, res.stdout) == (0, CAP_TEXT + "the target\n"), describe(res)


def test_same_answers_as_run_with_a_cgroupfs_profile(tmp_path: Path) -> None:
    exe = compile_rules(tmp_path / "c", "--profile", "cgroup-v1")
    script = "ls /sys/fs/cgroup; cat /proc/self/cgroup; grep -c cgroup /proc/self/mountinfo"
    res = run_exec([exe, "sh", "-c", script])
    ref = run_sysfake(["run", "--profile", "cgroup-v1", "--", "sh", "-c", script])
    assert ref.returncode == 0 and "devices" in ref.stdout, describe(ref)
    assert (res.returncode, res.stdout) == (0, ref.stdout), describe(res)


def test_exit_status_is_the_commands(tmp_path: Path) -> None:
    exe = compile_rules(tmp_path / "c", "--hide", "/nonexistent-x")
    assert run_exec([exe, "sh", "-c", "exit 7"]).returncode == 7
    assert run_exec([exe, "sh", "-c", "kill -TERM $$"]).returncode == -15
    res = run_exec([exe, "--", str(tmp_path / "no-such-command")])
    assert res.returncode == 127, describe(res)
    assert res.stderr.count("\n") == 1 and "no-such-command" in res.stderr, describe(res)


def test_leftovers_are_ended(tmp_path: Path) -> None:
    exe = compile_rules(tmp_path / "c", "--hide", "/nonexistent-x")
    t0 = time.monotonic()
    proc = subprocess.Popen([str(exe), "--grace", "0.3", "sh", "-c", "sleep 300 & exit 3"],
                            stdin=subprocess.DEVNULL, env=child_env())
    assert proc.wait(timeout=30) == 3
    assert time.monotonic() - t0 < 20
    assert find_leftovers(proc.pid, None) == []


@pytest.mark.parametrize(("argv", "message"), [
    ([], "sysfake-exec: no command given"),
    (["--bogus", "true"], "sysfake-exec: unknown or incomplete option --bogus"),
    (["--orphans", "never", "true"], "sysfake-exec: --orphans must be kill or wait"),
    (["--grace", "soon", "true"],
     "sysfake-exec: --grace needs a number of seconds from 0 to 86400"),
])
def test_bad_usage_is_one_error_line(tmp_path: Path, argv: list[str], message: str) -> None:
    exe = compile_rules(tmp_path / "c", "--hide", "/nonexistent-x")
    res = run_exec([exe, *argv])
    assert res.returncode == 2, describe(res)
    assert res.stderr == f"{message} (usage: sysfake-exec [-v] [--orphans kill|wait] " \
        "[--grace SECONDS] [--table FILE] [--] CMD [ARGS...])\n", describe(res)


def test_missing_table_names_the_file(tmp_path: Path) -> None:
    exe = compile_rules(tmp_path / "c", "--hide", "/nonexistent-x")
    res = run_exec([exe, "--table", str(tmp_path / "nope.sft"), "true"])
    assert res.returncode == 2, describe(res)
    assert res.stderr.startswith(f"sysfake-exec: {tmp_path / 'nope.sft'}: No such file"), \
        describe(res)
    assert res.stderr.count("\n") == 1, describe(res)


def test_corrupt_table_is_refused_before_anything_runs(tmp_path: Path) -> None:
    exe = compile_rules(tmp_path / "c", "--hide", "/nonexistent-x")
    (tmp_path / "c" / "table.sft").write_bytes(b"SFT1 not really a table")
    marker = tmp_path / "ran"
    res = run_exec([exe, "touch", str(marker)])
    assert res.returncode == 2 and res.stderr.startswith("sysfake-exec: "), describe(res)
    assert res.stderr.count("\n") == 1, describe(res)
    assert not marker.exists()


def test_bad_rules_file_names_file_line_and_key(tmp_path: Path) -> None:
    rules = tmp_path / "bad.yaml"
    rules.write_text("version: 1\nrules:\n  - match: /x\n    redirectt: /y\n")
    out = tmp_path / "c"
    res = run_sysfake(["compile", "--rules", str(rules), "-o", str(out)])
    assert res.returncode == 2, describe(res)
    assert res.stderr.startswith(f"sysfake: {rules}:4") and "redirectt" in res.stderr, \
        describe(res)
    assert res.stderr.count("\n") == 1 and not out.exists(), describe(res)


def test_output_directory_rules(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine\n")
    res = run_sysfake(["compile", "--hide", "/x", "-o", str(foreign)])
    assert res.returncode == 2 and "not made by sysfake compile" in res.stderr, describe(res)
    assert (foreign / "keep.txt").read_text() == "mine\n"
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    res = run_sysfake(["compile", "--hide", "/x", "-o", str(shared)])
    assert res.returncode == 2 and "writable by others" in res.stderr, describe(res)
    afile = tmp_path / "afile"
    afile.write_text("")
    res = run_sysfake(["compile", "--hide", "/x", "-o", str(afile)])
    assert res.returncode == 2 and "not a directory" in res.stderr, describe(res)
    # compiling again into an earlier output replaces the rules and the state
    out = tmp_path / "c"
    exe = compile_rules(out, "--profile", "cgroup-v1")
    made = run_exec([exe, "mkdir", "/sys/fs/cgroup/pids/sysfake-test"])
    assert made.returncode == 0, describe(made)
    assert run_exec([exe, "test", "-d", "/sys/fs/cgroup/pids/sysfake-test"]).returncode == 0
    compile_rules(out, "--profile", "cgroup-v1")
    assert run_exec([exe, "test", "-d", "/sys/fs/cgroup/pids/sysfake-test"]).returncode == 1


def one_error_line(res: subprocess.CompletedProcess[str], message: str) -> None:
    assert (res.returncode, res.stdout, res.stderr) == (2, "", f"sysfake: compile: {message}\n"), \
        describe(res)


def test_output_path_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    for out, message in [
        ("/proc/sysfake-x", "cannot create /proc/sysfake-x: No such file or directory"),
        (f"{afile}/x", f"cannot create {afile}/x: Not a directory"),
        ("", "the output directory is an empty path"),  # not the current directory
    ]:
        one_error_line(run_sysfake(["compile", "--hide", "/x", "-o", out], cwd=tmp_path),
                       message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_directory_name_with_a_newline_stays_one_line_and_can_be_pasted(
        tmp_path: Path) -> None:
    """The "run with:" line printed DIR raw: a newline in it split the line."""
    out = tmp_path / "new\nline 'q' \x01"
    res = run_sysfake(["compile", "--fake", "/sysfake-x=pasted\\n", "-o", str(out)])
    assert res.returncode == 0, describe(res)
    quoted = f"$'{tmp_path}/new\\nline \\'q\\' \\x01/sysfake-exec'"
    assert res.stdout == f"run with: {quoted} -- CMD [ARGS...]\n", describe(res)
    pasted = subprocess.run(["bash", "-c", f"{quoted} -- cat /sysfake-x"], capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, env=child_env(), timeout=60,
                            check=False)
    assert (pasted.returncode, pasted.stdout) == (0, "pasted\n"), describe(pasted)
    # and an error naming it is one line too
    (out / "sysfake-exec").unlink()
    (out / ".sysfake-compiled").unlink()
    one_error_line(run_sysfake(["compile", "--hide", "/x", "-o", str(out)]),
                   f"{tmp_path}/new\\nline 'q' \\x01: not empty and not made by "
                   "sysfake compile")


def test_a_removed_working_directory_is_said(tmp_path: Path) -> None:
    script = 'mkdir gone && cd gone && rmdir ../gone && exec "$@"'
    res = subprocess.run(["sh", "-c", script, "sh",
                          *sysfake_cmd(["compile", "--hide", "/x", "-o", "out"])],
                         cwd=tmp_path, env=child_env(), capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=60, check=False)
    one_error_line(res, "out: the current working directory no longer exists "
                        "(give an absolute path)")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_compile_leaves_the_directory_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "c"
    exe = compile_rules(out, "--profile", "cgroup-v1")
    assert run_exec([exe, "mkdir", "/sys/fs/cgroup/pids/kept"]).returncode == 0
    # a write that fails once the new state is built: the launcher's staging name taken
    (out / "sysfake-exec.tmp").mkdir()
    before = sorted(p.name for p in out.iterdir())
    res = run_sysfake(["compile", "--hide", "/x", "-o", str(out)])
    one_error_line(res, f"cannot write {exe}.tmp: Is a directory")
    # the earlier compile's table, launcher and state are still there and work
    assert sorted(p.name for p in out.iterdir()) == before
    assert run_exec([exe, "test", "-d", "/sys/fs/cgroup/pids/kept"]).returncode == 0
    (out / "sysfake-exec.tmp").rmdir()
    compile_rules(out, "--hide", "/x")  # and the next try is not refused


def need_root() -> None:
    if os.geteuid() != 0:
        missing("needs root to mount a small tmpfs")


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir()
    subprocess.run([require("mount"), "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                   check=True, timeout=30)
    try:
        yield where
    finally:
        subprocess.run([require("umount"), "-l", str(where)], check=True, timeout=30)


def test_a_read_only_file_system_is_named(tmp_path: Path) -> None:
    need_root()
    with tmpfs(tmp_path / "ro", "ro") as ro:
        one_error_line(run_sysfake(["compile", "--hide", "/x", "-o", str(ro / "x")]),
                       f"cannot create {ro}/x: Read-only file system")


def test_a_full_file_system_is_named_and_leaves_nothing_behind(tmp_path: Path) -> None:
    need_root()
    with tmpfs(tmp_path / "small", "size=64k") as small:
        out = small / "x"
        res = run_sysfake(["compile", "--profile", "cgroup-v1", "-o", str(out)])
        assert res.returncode == 2 and res.stderr.count("\n") == 1, describe(res)
        assert res.stderr.startswith(f"sysfake: compile: cannot write {out}/"), describe(res)
        assert res.stderr.endswith(": No space left on device\n"), describe(res)
        assert list(small.iterdir()) == []
        # room for one compile, not for a second beside it
        size = (launcher().stat().st_size + 384 * 1024) // 1024
        subprocess.run([require("mount"), "-o", f"remount,size={size}k", str(small)],
                       check=True, timeout=30)
        exe = compile_rules(out, "--profile", "cgroup-v1")
        assert run_exec([exe, "mkdir", "/sys/fs/cgroup/pids/kept"]).returncode == 0
        before = sorted(p.name for p in out.iterdir())
        res = run_sysfake(["compile", "--profile", "cgroup-v1", "-o", str(out)])
        one_error_line(res, f"cannot write {exe}: No space left on device")
        assert sorted(p.name for p in out.iterdir()) == before
        assert run_exec([exe, "test", "-d", "/sys/fs/cgroup/pids/kept"]).returncode == 0


@pytest.mark.gvisor
def test_in_gvisor_with_the_gvisor_profile(tmp_path: Path) -> None:
    require("runsc")
    exe = compile_rules(tmp_path / "c", "--profile", "gvisor")
    rc, out = run_in_gvisor([exe, "sh", "-c",
                             "cat /proc/sys/kernel/cap_last_cap; ls /sys/fs/cgroup | head -3"])
    assert (rc, out) == (0, "40\ncpu\ncpuacct\ncpuset\n"), out
