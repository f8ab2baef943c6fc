"""Paths are matched as the process means them; fake, redirect and hide semantics."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from support import describe, run_sysfake
from support.fakes import (
    CAP,
    CAP_TEXT,
    SETGROUPS,
    SETGROUPS_TEXT,
    VIRT,
    VIRT_TEXT,
    fake,
    hide,
    redirect,
    run,
)
from support.progs import Progs


def stat_lines(text: str) -> str:
    """statcheck's expected output for a regular file whose content is `text`."""
    esc = text.replace("\\", "\\x5c").replace("\n", "\\n")
    size = len(text.encode())
    return (f"open: content={esc}\n"
            f"fstat: reg size={size}\n"
            f"stat: reg size={size}\n"
            f"lstat: reg size={size}\n"
            f"newfstatat: reg size={size}\n"
            f"newfstatat_nofollow: reg size={size}\n"
            f"statx: reg size={size}\n"
            "access: 0\n"
            "faccessat: 0\n"
            "faccessat2: 0\n"
            "readlink: ERR EINVAL\n")


def dirfd_lines(text: str) -> str:
    """dirfd's expected output for a regular file whose content is `text`."""
    esc = text.replace("\\", "\\x5c").replace("\n", "\\n")
    size = len(text.encode())
    return (f"openat: content={esc}\n"
            f"fstat: reg size={size}\n"
            f"newfstatat: reg size={size}\n"
            f"newfstatat_nofollow: reg size={size}\n"
            f"statx: reg size={size}\n"
            "faccessat: 0\n"
            "faccessat2: 0\n"
            "readlinkat: ERR EINVAL\n"
            "fstatat_empty: dir size=0\n")


ENOENT_STAT = "".join(f"{call}: ERR ENOENT\n" for call in (
    "open", "fstat", "stat", "lstat", "newfstatat", "newfstatat_nofollow", "statx",
    "access", "faccessat", "faccessat2", "readlink"))


# --- relative, normalised and dirfd-relative paths -------------------------

@pytest.mark.parametrize(("cwd", "rel"), [
    ("/proc/sys/kernel", "cap_last_cap"),
    ("/proc/sys/kernel", "./cap_last_cap"),
    ("/proc/sys", "kernel/cap_last_cap"),
    ("/proc/sys/net", "../kernel/cap_last_cap"),
    ("/", "proc/sys/kernel/cap_last_cap"),
    ("/proc/sys/kernel", "../../sys/kernel//cap_last_cap"),
])
def test_relative_path_after_chdir(progs: Progs, cwd: str, rel: str) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[progs["readfile"], "-c", cwd, rel]))
    assert (res.returncode, res.stdout) == (0, CAP_TEXT), describe(res)


def test_relative_path_from_initial_cwd() -> None:
    # The command starts in sysfake's own cwd.
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=["cat", "cap_last_cap"]),
                      cwd="/proc/sys/kernel")
    assert (res.returncode, res.stdout) == (0, CAP_TEXT), describe(res)


def test_relative_paths_resolved_anew_each_time(progs: Progs, tmp_path: Path) -> None:
    # One thread, the same dirfd number and the cwd moving between a faked
    # directory and plain ones: the tracer holds /proc/<tid> open for such a
    # thread, and must still read where each name points at every call.
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "cap_last_cap").write_text("plain\n")
    dirs = [str(plain), "/proc/sys/kernel", str(plain), "/proc/sys/kernel", str(plain)]
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[progs["relmany"], "cap_last_cap", *dirs]))
    want = "".join(f"{d} {how}: {'33' if d.startswith('/proc') else 'plain'}\n"
                   for d in dirs for how in ("fd", "cwd"))
    assert (res.returncode, res.stdout) == (0, want), describe(res)


@pytest.mark.parametrize("path", [
    "/proc//sys/kernel/cap_last_cap",
    "/proc/sys/./kernel/cap_last_cap",
    "/proc/sys/net/../kernel/cap_last_cap",
    "//proc/sys/kernel/../kernel/./cap_last_cap",
])
def test_unnormalised_absolute_paths(progs: Progs, path: str) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[progs["readfile"], path]))
    assert (res.returncode, res.stdout) == (0, CAP_TEXT), describe(res)


@pytest.mark.parametrize(("dirpath", "name"), [
    ("/proc/sys/kernel", "cap_last_cap"),
    ("/proc/sys/kernel", "./cap_last_cap"),
    ("/proc/sys", "kernel/cap_last_cap"),
    ("/proc/sys/net", "../kernel/cap_last_cap"),
    ("/proc/sys/kernel", CAP),  # absolute name: the dirfd is ignored
])
def test_dirfd_relative_calls(progs: Progs, dirpath: str, name: str) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[progs["dirfd"], dirpath, name]))
    assert (res.returncode, res.stdout) == (0, dirfd_lines(CAP_TEXT)), describe(res)


def test_dirfd_relative_virtual_file(progs: Progs) -> None:
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT),
                          cmd=[progs["dirfd"], "/proc/sys/kernel", "sfk_virtual"]))
    assert (res.returncode, res.stdout) == (0, dirfd_lines(VIRT_TEXT)), describe(res)


# --- stat, statx, access agree with open ----------------------------------

@pytest.mark.parametrize(("path", "text"), [(CAP, CAP_TEXT), (VIRT, VIRT_TEXT)])
def test_stat_family_agrees_with_open(progs: Progs, path: str, text: str) -> None:
    res = run_sysfake(run(fake(path, text), cmd=[progs["statcheck"], path]))
    assert (res.returncode, res.stdout) == (0, stat_lines(text)), describe(res)


def test_stat_family_static(progs: Progs) -> None:
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), cmd=[progs.static("statcheck"), VIRT]))
    assert (res.returncode, res.stdout) == (0, stat_lines(VIRT_TEXT)), describe(res)


def test_unfaked_missing_file_stays_missing(progs: Progs) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[progs["statcheck"], VIRT]))
    assert (res.returncode, res.stdout) == (0, ENOENT_STAT), describe(res)


# --- /proc/self, /proc/thread-self, /proc/<pid> aliasing -------------------

def test_proc_self_aliases_in_one_process(progs: Progs) -> None:
    paths = ["/proc/self/setgroups", "/proc/%p/setgroups", "/proc/thread-self/setgroups",
             "/proc/%p/task/%t/setgroups", "/proc/self/task/%t/setgroups",
             "/proc/%p/task/%p/setgroups", "/proc/self/../self/./setgroups"]
    res = run_sysfake(run(fake(SETGROUPS, SETGROUPS_TEXT), cmd=[progs["readfile"], *paths]))
    assert (res.returncode, res.stdout) == (0, SETGROUPS_TEXT * len(paths)), describe(res)


def test_proc_pid_of_shell_itself() -> None:
    # The shell opens /proc/$$/... itself (builtin redirection).
    script = ('read a < /proc/$$/setgroups; read b < /proc/thread-self/setgroups; '
              'read c < /proc/self/setgroups; echo "$a|$b|$c"')
    res = run_sysfake(run(fake(SETGROUPS, SETGROUPS_TEXT), cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, "sfk-deny|sfk-deny|sfk-deny\n"), describe(res)


def test_proc_pid_of_other_traced_process_is_aliased(progs: Progs) -> None:
    # readfile reads its traced parent's /proc/<pid>/setgroups: the parent
    # would read the fake itself, so the fake is what others see too
    # (containerd reads /proc/<pid>/cgroup of container processes).
    script = f"{progs['readfile']} /proc/$$/setgroups; {progs['readfile']} /proc/self/setgroups"
    res = run_sysfake(run(fake(SETGROUPS, SETGROUPS_TEXT), cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, SETGROUPS_TEXT * 2), describe(res)


def test_proc_pid_of_untraced_process_is_not_aliased(progs: Progs) -> None:
    # This test's own process is not traced: its real file ("allow") is read.
    import os

    real = Path("/proc/self/setgroups").read_text()
    assert real != SETGROUPS_TEXT
    res = run_sysfake(run(fake(SETGROUPS, SETGROUPS_TEXT),
                          cmd=[progs["readfile"], f"/proc/{os.getpid()}/setgroups",
                               "/proc/self/setgroups"]))
    assert (res.returncode, res.stdout) == (0, real + SETGROUPS_TEXT), describe(res)


def test_proc_pid_of_other_process_in_nested_pid_namespace(progs: Progs) -> None:
    # Inside `unshare -pf --mount-proc` pids are the namespace's, not the
    # tracer's: /proc/1 there is the namespace's init (the traced sh), which
    # is aliased only by itself; a child reading it reads the real file.
    real = Path("/proc/self/setgroups").read_text()
    inner = f"{progs['readfile']} /proc/1/setgroups; {progs['readfile']} /proc/self/setgroups"
    res = run_sysfake(run(fake(SETGROUPS, SETGROUPS_TEXT),
                          cmd=["unshare", "-pf", "--mount-proc", "sh", "-c", inner]))
    assert (res.returncode, res.stdout) == (0, real + SETGROUPS_TEXT), describe(res)


# --- redirect --------------------------------------------------------------

@pytest.fixture
def net_tree(tmp_path: Path) -> Path:
    net = tmp_path / "net"
    (net / "core").mkdir(parents=True)
    (net / "core" / "somaxconn").write_text("77\n")
    (net / "core" / "extra").write_text("extra\n")
    return net


def test_redirect_prefix(progs: Progs, net_tree: Path) -> None:
    res = run_sysfake(run(redirect("/proc/sys/net/", f"{net_tree}/"),
                          cmd=[progs["readfile"], "/proc/sys/net/core/somaxconn",
                               "/proc/sys/net/core/extra", "/proc/sys/net/ipv4/ip_forward"]))
    assert (res.returncode, res.stdout) == (1, "77\nextra\nERR ENOENT\n"), describe(res)


def test_redirect_leaves_other_paths_alone(progs: Progs, net_tree: Path) -> None:
    real = Path("/proc/sys/kernel/ostype").read_text()
    res = run_sysfake(run(redirect("/proc/sys/net/", f"{net_tree}/"),
                          cmd=[progs["readfile"], "/proc/sys/kernel/ostype"]))
    assert (res.returncode, res.stdout) == (0, real), describe(res)


def test_chdir_into_redirected_dir(progs: Progs, net_tree: Path) -> None:
    res = run_sysfake(run(redirect("/proc/sys/net/", f"{net_tree}/"),
                          cmd=[progs["readfile"], "-c", "/proc/sys/net", "core/somaxconn",
                               "./core/../core/extra"]))
    assert (res.returncode, res.stdout) == (0, "77\nextra\n"), describe(res)


def test_shell_cd_into_redirected_dir(net_tree: Path) -> None:
    script = "cd /proc/sys/net/core && cat somaxconn && cd .. && cat core/extra"
    res = run_sysfake(run(redirect("/proc/sys/net/", f"{net_tree}/"), cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, "77\nextra\n"), describe(res)


def test_redirected_directory_listing(busybox: str, net_tree: Path) -> None:
    res = run_sysfake(run(redirect("/proc/sys/net/", f"{net_tree}/"),
                          cmd=[busybox, "ls", "-1", "/proc/sys/net/core"]))
    assert (res.returncode, res.stdout) == (0, "extra\nsomaxconn\n"), describe(res)


def test_redirect_virtual_prefix(progs: Progs, tmp_path: Path, marker: str) -> None:
    (tmp_path / "a.txt").write_text("aaa\n")
    virt = f"/sfk-virt-{marker}"
    res = run_sysfake(run(redirect(virt + "/", f"{tmp_path}/"),
                          cmd=[progs["readfile"], f"{virt}/a.txt", f"{virt}//./a.txt"]))
    assert (res.returncode, res.stdout) == (0, "aaa\naaa\n"), describe(res)


def test_redirect_exact_file(progs: Progs, tmp_path: Path) -> None:
    target = tmp_path / "cap"
    target.write_text("12\n")
    res = run_sysfake(run(redirect(CAP, str(target)), cmd=[progs["readfile"], CAP]))
    assert (res.returncode, res.stdout) == (0, "12\n"), describe(res)


# --- hide ------------------------------------------------------------------

def test_hide_existing_file(progs: Progs) -> None:
    res = run_sysfake(run(hide(CAP), cmd=[progs["statcheck"], CAP]))
    assert (res.returncode, res.stdout) == (0, ENOENT_STAT), describe(res)


def test_hide_prefix(progs: Progs) -> None:
    res = run_sysfake(run(hide("/proc/sys/kernel/"),
                          cmd=[progs["readfile"], "/proc/sys/kernel/ostype",
                               "/proc/sys/kernel", "/proc/sys/vm/../kernel/ostype"]))
    assert (res.returncode, res.stdout) == (1, "ERR ENOENT\n" * 3), describe(res)


def test_hide_prefix_blocks_chdir(progs: Progs) -> None:
    res = run_sysfake(run(hide("/proc/sys/kernel/"),
                          cmd=[progs["readfile"], "-c", "/proc/sys/kernel", "ostype"]))
    assert (res.returncode, res.stdout) == (1, "ERR chdir ENOENT\n"), describe(res)


# --- writes to a faked file -------------------------------------------------

def test_write_then_read_by_later_process(progs: Progs) -> None:
    script = f"{progs['readfile']} -w '41\n' {CAP}; cat {CAP}"
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, "wrote 3\n41\n"), describe(res)


def test_shell_redirect_write_then_read_elsewhere_in_tree(busybox: str) -> None:
    # Written by a grandchild, read back by a different, later grandchild.
    script = (f"(sh -c 'printf \"12345\\n\" > {VIRT}'); "
              f"sh -c '{busybox} cat {VIRT}'; cat {VIRT}")
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, "12345\n12345\n"), describe(res)


def test_stat_follows_written_size(progs: Progs) -> None:
    script = f"printf 'abcdef\\n' > {VIRT}; {progs['statcheck']} {VIRT}"
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, stat_lines("abcdef\n")), describe(res)


def test_writes_do_not_leak_to_host_or_next_run(progs: Progs, real_cap_text: str) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[progs["readfile"], "-w", "41\n", CAP]))
    assert (res.returncode, res.stdout) == (0, "wrote 3\n"), describe(res)
    assert Path(CAP).read_text() == real_cap_text
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=["cat", CAP]))
    assert (res.returncode, res.stdout) == (0, CAP_TEXT), describe(res)


# --- bad pointers -----------------------------------------------------------

@pytest.mark.parametrize("backend", ["default", "python"])
@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
def test_efault_passthrough(progs: Progs, static: bool, backend: str) -> None:
    prog = progs.static("efault") if static else progs["efault"]
    plain = subprocess.run([prog, CAP], capture_output=True, text=True, timeout=30, check=False)
    expected = ("open_null: ERR EFAULT\n"
                "open_badptr: ERR EFAULT\n"
                "openat_badptr: ERR EFAULT\n"
                "open_unterminated_at_page_end: ERR EFAULT\n"
                "open_valid_at_page_end: ok\n"
                "open_too_long: ERR ENAMETOOLONG\n"
                "stat_badptr: ERR EFAULT\n"
                "stat_valid_badbuf: ERR EFAULT\n"
                "newfstatat_valid_badbuf: ERR EFAULT\n"
                "statx_valid_badbuf: ERR EFAULT\n"
                "access_badptr: ERR EFAULT\n"
                "readlink_valid_badbuf: ERR EFAULT\n"
                "read_badbuf: ERR EFAULT\n")
    assert (plain.returncode, plain.stdout) == (0, expected)
    opts = [] if backend == "default" else [f"--backend={backend}"]
    res = run_sysfake(run(opts, fake(CAP, CAP_TEXT), cmd=[prog, CAP]))
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


# --- restarted syscalls -------------------------------------------------------

@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
def test_restarted_open_is_redirected_again_and_registers_intact(
        progs: Progs, tmp_path: Path, static: bool) -> None:
    """SIGALRM (SA_RESTART) interrupts a blocking open of a redirected FIFO
    many times; each kernel restart must be translated again, and the program
    must find its argument registers unchanged afterwards."""
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    src = tmp_path / "src"  # does not exist: only the redirect makes it the FIFO
    prog = progs.static("restart") if static else progs["restart"]
    res = run_sysfake(run(redirect(str(src), str(fifo)), cmd=[prog, str(src), str(fifo)]))
    assert (res.returncode, res.stdout) == (0, "ok interrupted=1\n"), describe(res)


# --- the tracer's memory in the tracee ---------------------------------------

@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
def test_rewrite_survives_the_program_unmapping_tracer_memory(
        progs: Progs, static: bool) -> None:
    """Rewritten paths live in memory the tracer maps into the process. A
    program that unmaps it must still get the fake on its next open: the
    tracer maps new memory and runs the call again; the call never reaches
    the kernel with its original path. The slot's words are not written
    again (csrc/mem.c), so the loss shows as the call's EFAULT at its exit
    stop (test_run_trampoline.py has the one-stop case)."""
    prog = progs.static("unmapper") if static else progs["unmapper"]
    text = CAP_TEXT.rstrip("\n")
    res = run_sysfake(run(["-v"], fake(CAP, CAP_TEXT), cmd=[prog, CAP]))
    assert (res.returncode, res.stdout) == (
        0, f"first={text}|second={text}|unmapped=1\n"), describe(res)
    assert ": scratch mapping gone" in res.stderr, describe(res)


@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
def test_scratch_is_mapped_at_the_first_rewrite_only(
        progs: Progs, tmp_path: Path, static: bool) -> None:
    """The C core maps its scratch memory into a process at the first call it
    must rewrite and cannot rewrite in place. Calls that match no rule (the
    loader's opens, a plain stat) and a redirected stat answered in one stop
    leave the process without it; the redirected open that follows is
    written over the program's own path (csrc/inplace.c), and the second
    one gets the mapping; both read the target."""
    dst = tmp_path / "dst"
    dst.write_text("redirected\n")
    plain = tmp_path / "plain"
    plain.write_text("x\n")
    src = tmp_path / "src"
    prog = progs.static("scratchmaps") if static else progs["scratchmaps"]
    res = run_sysfake(["run", "--redirect", f"{src}={dst}", "--", prog, str(plain), str(src)])
    assert (res.returncode, res.stdout) == (
        0, "start=0 plain=0 stat=0 open=0 again=1 read=redirected\n"), describe(res)


def test_threads_whose_first_rewrites_come_at_once_share_one_scratch_mapping(
        progs: Progs, tmp_path: Path) -> None:
    """64 threads make their process's first rewritten calls at once. One of
    them maps the scratch memory; the others wait at their stop until it is
    there (one mapping per address space, not one per thread), and every
    thread reads the target."""
    dst = tmp_path / "dst"
    dst.write_text("redirected\n")
    src = tmp_path / "src"
    res = run_sysfake(["run", "-v", "--redirect", f"{src}={dst}", "--", progs["scratchmaps"],
                       "-t", "64", str(src), "redirected"])
    assert (res.returncode, res.stdout) == (0, "reads=64\n"), describe(res)
    assert len(re.findall(r": scratch mapped at 0x", res.stderr)) == 1, describe(res)


@pytest.mark.parametrize("backend", [[], ["--backend", "python"]], ids=["c", "python"])
def test_virtual_file_named_as_a_directory_fails_like_a_real_file(
        progs: Progs, tmp_path: Path, backend: list[str]) -> None:
    """`file/` wants a directory: a virtual regular file gives the errors a
    real one gives (ENOTDIR; EISDIR for O_CREAT; EEXIST for mkdir), never its
    content."""
    real = tmp_path / "real"
    real.write_text("x\n")
    want = subprocess.run([progs["slashcalls"], str(real)], capture_output=True, text=True,
                          check=True).stdout
    assert "open: ENOTDIR\n" in want and "mkdir: EEXIST\n" in want
    res = run_sysfake(["run", *backend, *fake(VIRT, VIRT_TEXT), "--",
                       progs["slashcalls"], VIRT])
    assert (res.returncode, res.stdout) == (0, want), describe(res)
