"""The reference tracer on real processes (no mocks)."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pyref_obs import (
    content,
    errno_rule,
    hide,
    observe,
    pyref_run,
    redirect,
    table,
)

from sysfake.backends.pyref import UnsupportedTable, run
from sysfake.backends.pyref.seccomp import build_filter, enter_stop_follows_seccomp
from sysfake.backends.pyref.syscalls import SYSCALLS
from sysfake.model import MatchKind
from sysfake.table import HEADER

SRC = str(Path(__file__).resolve().parents[2] / "src")


def hx(data: bytes) -> str:
    return data.hex()


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "obs.txt"


def test_content_read_write_and_stat(tmp_path: Path, observer: str, out: Path) -> None:
    v = str(tmp_path / "virt")
    tbl = table(content(v, b"hello\n", mode=0o640, uid=12, gid=34))
    rc, lines = observe(pyref_run, tbl, observer, [
        f"read:{v}", f"stat:{v}", f"lstat:{v}", f"fstatat:{v}", f"statx:{v}",
        f"access:{v}:4", f"access:{v}:1", f"faccessat2:{v}:6", f"readlink:{v}",
        f"openat2:{v}", f"write:{v}:bye", f"read:{v}", f"stat:{v}"], out)
    assert rc == 0
    reg = "reg mode=640 size=6 uid=12 gid=34 nlink=1"
    hello = hx(b"hello\n")
    assert lines == [
        f"read {v} ={hello}", f"stat {v} {reg}", f"lstat {v} {reg}",
        f"fstatat {v} {reg}", f"statx {v} {reg}", f"access {v} 4 ok",
        f"access {v} ERR EACCES", f"faccessat2 {v} 6 ok", f"readlink {v} ERR EINVAL",
        f"openat2 {v} ={hello}", f"write {v} 3", f"read {v} ={hx(b'bye')}",
        f"stat {v} reg mode=640 size=3 uid=12 gid=34 nlink=1"]
    assert not os.path.exists(v)


def test_content_readonly(tmp_path: Path, observer: str, out: Path) -> None:
    v = str(tmp_path / "ro")
    tbl = table(content(v, b"x", mode=0o444, readonly=True))
    _, lines = observe(pyref_run, tbl, observer, [f"write:{v}:y", f"read:{v}"], out)
    assert lines == [f"write {v} ERR EACCES", f"read {v} ={hx(b'x')}"]


def test_hide_and_errno(tmp_path: Path, observer: str, out: Path) -> None:
    real = tmp_path / "real"
    real.write_text("data")
    d = tmp_path / "dir"
    d.mkdir()
    (d / "f").write_text("f")
    tbl = table(hide(str(real)), errno_rule(str(d) + "/", errno.EPERM, MatchKind.PREFIX))
    _, lines = observe(pyref_run, tbl, observer, [
        f"read:{real}", f"stat:{real}", f"access:{real}:0", f"read:{d}/f", f"stat:{d}"], out)
    assert lines == [f"read {real} ERR ENOENT", f"stat {real} ERR ENOENT",
                     f"access {real} ERR ENOENT", f"read {d}/f ERR EPERM",
                     f"stat {d} ERR EPERM"]


def test_redirect_relative_and_dirfd(tmp_path: Path, observer: str, out: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "a").write_text("from-src")
    (dst / "a").write_text("from-dst")
    tbl = table(redirect(f"{src}/", f"{dst}/"))
    _, lines = observe(pyref_run, tbl, observer, [
        f"read:{src}/a", f"read:{tmp_path}/./src/../src/a", f"at:{tmp_path}:src/a",
        f"at:{src}:a", f"chdir:{src}", "read:a", "read:../src/a"], out)
    want = hx(b"from-dst")
    assert lines == [f"read {src}/a ={want}", f"read {tmp_path}/./src/../src/a ={want}",
                     f"at src/a ={want}", f"at a ={want}", f"chdir {src} ok",
                     f"read a ={want}", f"read ../src/a ={want}"]


def test_proc_self_aliases(observer: str, out: Path) -> None:
    tbl = table(content("/proc/self/comm", b"fake\n"))
    ops = ["read:/proc/self/comm", "read:/proc/%p/comm", "read:/proc/thread-self/comm",
           "read:/proc/%p/task/%t/comm", "read:/proc/self/task/%t/comm",
           "read:/proc/1/comm"]
    _, lines = observe(pyref_run, tbl, observer, ops, out)
    fake = hx(b"fake\n")
    assert [ln.rsplit("=", 1)[-1] for ln in lines[:5]] == [fake] * 5
    assert not lines[5].endswith(fake)


def test_exit_statuses(observer: str, tmp_path: Path, out: Path) -> None:
    assert pyref_run(table(), ["sh", "-c", "exit 3"]) == 3
    assert pyref_run(table(), ["sh", "-c", "kill -9 $$"]) == -9
    assert pyref_run(table(), ["sh", "-c", "kill -TERM $$"]) == -15
    assert pyref_run(table(), [str(tmp_path / "missing")]) == 127
    rc, _ = observe(pyref_run, table(), observer, ["exit:7"], out)
    assert rc == 7


def test_grandchild_chain(tmp_path: Path, observer: str, out: Path) -> None:
    v = str(tmp_path / "virt")
    tbl = table(content(v, b"deep"))
    script = f"sh -c 'sh -c \"{observer} {out} read:{v}\"; exit 5'"
    assert pyref_run(tbl, ["sh", "-c", script]) == 5
    assert out.read_text().split() == ["read", v, "=" + hx(b"deep")]


def test_threads(tmp_path: Path, observer: str, out: Path) -> None:
    v = str(tmp_path / "virt")
    tbl = table(content(v, b"threaded"))
    _, lines = observe(pyref_run, tbl, observer, [f"threads:{v}"], out)
    assert lines == [f"threads {v} same=160 first={hx(b'threaded')}"]


def test_fork_exec_and_exec_from_thread(tmp_path: Path, observer: str, out: Path) -> None:
    v = str(tmp_path / "virt")
    tbl = table(content(v, b"exec"))
    code = textwrap.dedent(f"""
        import os, threading, time
        pid = os.fork()
        if pid == 0:
            os.execv({observer!r}, [{observer!r}, {str(out)!r} + ".child", "read:{v}"])
        os.waitpid(pid, 0)
        threading.Thread(target=lambda: os.execv(
            {observer!r}, [{observer!r}, {str(out)!r}, "read:{v}", "exit:4"])).start()
        time.sleep(30)
    """)
    assert pyref_run(tbl, [sys.executable, "-c", code]) == 4
    assert out.read_text().split() == ["read", v, "=" + hx(b"exec")]
    assert Path(str(out) + ".child").read_text().split() == ["read", v, "=" + hx(b"exec")]


def test_orphans_killed_after_grace() -> None:
    start = time.monotonic()
    assert pyref_run(table(), ["sh", "-c", "sleep 60 & exit 0"], orphans="kill",
                     grace=0.3) == 0
    assert time.monotonic() - start < 10


def test_orphans_wait(tmp_path: Path, observer: str, out: Path) -> None:
    v = str(tmp_path / "virt")
    tbl = table(content(v, b"late"))
    cmd = f"({observer} {out} read:{v}; sleep 0.2) & exit 0"
    assert pyref_run(tbl, ["sh", "-c", f"sleep 0.1; {cmd}"], orphans="wait") == 0
    assert out.read_text().split() == ["read", v, "=" + hx(b"late")]


def test_group_stop_and_continue(tmp_path: Path) -> None:
    flag = tmp_path / "resumed"
    script = (f"sh -c 'kill -STOP $$; echo yes > {flag}' & p=$!; sleep 0.3; "
              f"kill -CONT $p; wait $p; exit 6")
    assert pyref_run(table(), ["sh", "-c", script]) == 6
    assert flag.read_text() == "yes\n"


def test_sigterm_is_forwarded(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import sys
        from sysfake.backends.pyref import run
        from sysfake.table import encode
        from sysfake.model import RuleSet
        rc = run(encode(RuleSet()), ["sh", "-c", "echo up; exec sleep 60"])
        sys.exit(128 - rc if rc < 0 else rc)
    """)
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"up\n"
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_unsupported_tables_are_refused() -> None:
    blob = bytearray(table(hide("/x")))
    fields = list(HEADER.unpack_from(blob, 0))
    fields[4] = 1  # n_sysrule
    HEADER.pack_into(blob, 0, *fields)
    with pytest.raises(UnsupportedTable, match="syscall rules"):
        run(bytes(blob), ["true"])
    with pytest.raises(UnsupportedTable, match="bad rule table"):
        run(b"nonsense", ["true"])


def test_syscall_table_is_derived() -> None:
    by_name = {i.name: i for i in SYSCALLS.values()}
    assert by_name["openat"].paths == ((1, 0),)
    assert by_name["renameat2"].paths == ((1, 0), (3, 2))
    assert by_name["symlinkat"].paths == ((2, 1),)  # the target text is not a path
    assert by_name["readlink"].paths == ((0, None),)
    for name in ("statx", "execveat", "openat2", "faccessat2", "inotify_add_watch",
                 "lgetxattr", "umount2", "chroot", "mknodat", "fchmodat2"):
        assert name in by_name
    assert "getcwd" not in by_name and "read" not in by_name
    assert len(build_filter(SYSCALLS)) == len(SYSCALLS) + 6


def test_stop_order_probe_is_stable() -> None:
    assert enter_stop_follows_seccomp() in (True, False)
    assert enter_stop_follows_seccomp() == enter_stop_follows_seccomp()


def test_only_filters(tmp_path: Path, observer: str, out: Path) -> None:
    v = str(tmp_path / "virt")
    tbl = table(content(v, b"for-observe", only_exe="*/observe"),
                content(v, b"other", only_comm="nomatch"),
                content(v, b"fallback"))
    _, lines = observe(pyref_run, tbl, observer, [f"read:{v}"], out)
    assert lines == [f"read {v} ={hx(b'for-observe')}"]
    rc = pyref_run(tbl, ["sh", "-c", f"cat {v} > {out}"])
    assert rc == 0 and out.read_bytes() == b"fallback"
