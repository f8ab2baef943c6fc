"""What docs/safety.md promises, checked against the real behaviour.

* sysfake writes nothing to disk: every open for writing that the sysfake
  process itself makes (strace without -f on it) is /proc/<pid>/mem of a
  tracee or /proc/<pid>/fd/<n> of a tracee (filling a private memfd copy).
* redirects are path rewrites: the target is never created by sysfake; writes
  through a redirect go to the target, never to the real /proc/sys file; a
  virtual file takes writes in memory.
* sysfake is NOT a security boundary: io_uring's IORING_OP_OPENAT and the
  i386 open via int 0x80 reach the real file although a rule hides it. These
  tests assert that the escape happens (a known, documented gap); if the core
  ever closes it, they fail and docs/safety.md must be updated with them.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from stress_support import StressProgs

from support import child_env, describe, require, run_sysfake, sysfake_cmd
from support.fakes import CAP, CAP_TEXT, fake, hide, redirect, run

DOMAIN = "/proc/sys/kernel/domainname"

_WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND")
_ALLOWED = re.compile(r'^"(/proc/\d+/mem|/proc/\d+/fd/\d+|/dev/null|/dev/tty)"$')


def test_sysfake_itself_writes_nothing_to_disk(tmp_path: Path) -> None:
    strace = require("strace")
    log = tmp_path / "strace.log"
    red = tmp_path / "red"
    red.mkdir()
    (red / "domainname").write_text("x\n")
    argv = [strace, "-qq", "-o", str(log), "-e",
            "trace=open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,renameat2,"
            "unlink,unlinkat,link,linkat,symlink,symlinkat,truncate,chmod,fchmodat,chown,"
            "fchownat",
            *sysfake_cmd(run(fake(CAP, CAP_TEXT), redirect("/proc/sys/kernel/domainname",
                                                           str(red / "domainname")),
                             hide("/etc/sfk-hidden"),
                             cmd=["sh", "-c", f"cat {CAP}; echo y > {DOMAIN}; "
                                  f"echo 9 > {CAP}; sh -c 'cat {CAP}'"]))]
    env = child_env({"PYTHONDONTWRITEBYTECODE": "1"})
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env,
                         stdin=subprocess.DEVNULL, check=False)
    assert res.returncode == 0, describe(res)
    assert res.stdout == CAP_TEXT + "9\n", describe(res)
    writes = []
    for line in log.read_text().splitlines():
        m = re.match(r"(\w+)\((.*)\)\s+=", line)
        if not m:
            continue
        name, args = m.groups()
        if name in ("open", "openat", "openat2", "creat"):
            path = next((a.strip() for a in args.split(", ") if a.strip().startswith('"')), "")
            writing = name == "creat" or _WRITE_FLAGS.search(args)
            if writing and not _ALLOWED.match(path):
                writes.append(line)
        else:
            writes.append(line)
    assert not writes, "sysfake wrote to the file system:\n" + "\n".join(writes)
    assert (red / "domainname").read_text() == "y\n"  # the tracee's write, redirected


def test_redirect_target_is_never_created(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "domainname"
    res = run_sysfake(run(redirect(DOMAIN, str(missing)),
                          cmd=["sh", "-c", f"cat {DOMAIN} 2>/dev/null || echo missing"]))
    assert (res.returncode, res.stdout) == (0, "missing\n"), describe(res)
    assert not (tmp_path / "no").exists()


def test_redirect_never_writes_through_to_real_proc_sys(tmp_path: Path) -> None:
    real = Path(DOMAIN).read_text()
    target = tmp_path / "kernel"
    target.mkdir()
    (target / "domainname").write_text(real)
    try:
        res = run_sysfake(run(redirect("/proc/sys/kernel/", f"{target}/"),
                              cmd=["sh", "-c", f"echo sfk-redirected > {DOMAIN}; cat {DOMAIN}"]))
        assert (res.returncode, res.stdout) == (0, "sfk-redirected\n"), describe(res)
        assert (target / "domainname").read_text() == "sfk-redirected\n"
        assert Path(DOMAIN).read_text() == real
    finally:
        if Path(DOMAIN).read_text() != real:  # never leave the host changed
            Path(DOMAIN).write_text(real)


def test_virtual_file_takes_writes_in_memory() -> None:
    real = Path(DOMAIN).read_text()
    try:
        res = run_sysfake(run(fake(DOMAIN, "fake-domain\n"),
                              cmd=["sh", "-c", f"echo sfk-virtual > {DOMAIN}; cat {DOMAIN}"]))
        assert res.returncode == 0, describe(res)
        assert res.stdout == "sfk-virtual\n", describe(res)
        assert Path(DOMAIN).read_text() == real
    finally:
        if Path(DOMAIN).read_text() != real:
            Path(DOMAIN).write_text(real)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    p = tmp_path / "secret"
    p.write_text("secret\n")
    return p


def test_known_gap_io_uring_and_int80_escape_hide(sprogs: StressProgs, secret: Path) -> None:
    plain = subprocess.run([sprogs["uring_open"], str(secret)], capture_output=True, text=True,
                           timeout=30, check=False)
    if plain.returncode == 77:
        pytest.skip(f"io_uring unavailable here: {plain.stdout.strip()}")
    res = run_sysfake(run(hide(str(secret)), cmd=[sprogs["uring_open"], str(secret)]))
    assert res.returncode == 0, describe(res)
    # The rule holds for openat(2)...
    assert "openat: ERR ENOENT\n" in res.stdout, describe(res)
    # ...but KNOWN GAP (docs/safety.md, "Not a security boundary"): io_uring
    # performs the open in the kernel without a syscall the tracer can trap,
    # and the i386 entry (int 0x80) is allowed by the x86_64-only seccomp
    # filter. Both read the hidden file. This is the documented behaviour.
    assert "io_uring: ok secret\n" in res.stdout, describe(res)
    assert "int80: ok secret\n" in res.stdout, describe(res)


def test_io_uring_gap_closed_by_a_rule(sprogs: StressProgs, secret: Path,
                                      tmp_path: Path) -> None:
    # docs/safety.md: where the io_uring gap matters, a syscall rule refuses
    # io_uring (programs then fall back to plain syscalls, which are traced).
    plain = subprocess.run([sprogs["uring_open"], str(secret)], capture_output=True, text=True,
                           timeout=30, check=False)
    if plain.returncode == 77:
        pytest.skip(f"io_uring unavailable here: {plain.stdout.strip()}")
    rules = tmp_path / "no-uring.yaml"
    rules.write_text("version: 1\nrules:\n  - syscall: io_uring_setup\n    errno: ENOSYS\n")
    res = run_sysfake(run(["--rules", str(rules)], hide(str(secret)),
                          cmd=[sprogs["uring_open"], str(secret)]))
    assert res.returncode == 77, describe(res)
    assert "openat: ERR ENOENT\n" in res.stdout, describe(res)
    assert "io_uring: unavailable ENOSYS\n" in res.stdout, describe(res)


def test_known_gap_symlink_to_covered_path(tmp_path: Path) -> None:
    # Rules match the path the program names (lexically), not where symlinks
    # lead: a symlink to a hidden file opens the real file.
    hidden = tmp_path / "hidden"
    hidden.write_text("real\n")
    link = tmp_path / "link"
    os.symlink(hidden, link)
    res = run_sysfake(run(hide(str(hidden)), cmd=["sh", "-c", f"cat {link}; cat {hidden} "
                                                   "2>/dev/null || echo gone"]))
    assert (res.returncode, res.stdout) == (0, "real\ngone\n"), describe(res)
