"""Relative paths whose last component no rule has are not resolved.

Resolving a path relative to a directory fd or the cwd costs the tracer a
`readlink` of /proc/<tid>/fd/N or /proc/<tid>/cwd. When every rule's last
component is literal, a relative path whose last name is none of them can
match no rule from any directory, and the core lets it through unresolved
(csrc/match.c, sf_name_may_match). These tests watch the tracer's own
syscalls with strace, and check the cases where the name alone cannot decide.
"""
from __future__ import annotations

import re
from pathlib import Path

from support import describe, run_sysfake, traced_tracer
from support.fakes import CAP, CAP_TEXT, fake, redirect, run
from support.progs import Progs

# the tracer's readlink of a tracee's fd or cwd (path.c, proc_link)
DIR_LINK = re.compile(r'^readlinkat\(\d+, "(\d+|cwd)"|^readlink\("/proc/\d+/(fd/\d+|cwd)"',
                      re.M)
# the tracer's own lookup for a stat it answers itself (tracer_stat.c)
LOOKUP = re.compile(r"^openat2\(", re.M)


def test_unmatched_relative_names_cost_no_readlink(progs: Progs, tmp_path: Path) -> None:
    dirs = []
    for i in range(20):
        d = tmp_path / f"d{i}"
        d.mkdir()
        (d / "plain").write_text(f"p{i}\n")
        dirs.append(str(d))
    res, log = traced_tracer(tmp_path, run(fake(CAP, CAP_TEXT),
                                           cmd=[progs["relmany"], "plain", *dirs]),
                             "readlink,readlinkat")
    want = "".join(f"{d} {how}: p{i}\n" for i, d in enumerate(dirs) for how in ("fd", "cwd"))
    assert (res.returncode, res.stdout) == (0, want), describe(res)
    # 40 relative opens; only the launcher's and the loader's few absolute ones resolve
    assert len(DIR_LINK.findall(log)) < 5, log


def test_relative_names_a_rule_has_are_resolved(progs: Progs, tmp_path: Path) -> None:
    # The same walk with the rule's own last name: every call is resolved, and
    # the fake is seen from /proc/sys/kernel only.
    dirs = []
    for i in range(10):
        d = tmp_path / f"d{i}"
        d.mkdir()
        (d / "cap_last_cap").write_text("plain\n")
        dirs += [str(d), "/proc/sys/kernel"]
    res, log = traced_tracer(tmp_path, run(fake(CAP, CAP_TEXT),
                                           cmd=[progs["relmany"], "cap_last_cap", *dirs]),
                             "readlink,readlinkat")
    want = "".join(f"{d} {how}: {'33' if d.startswith('/proc') else 'plain'}\n"
                   for d in dirs for how in ("fd", "cwd"))
    assert (res.returncode, res.stdout) == (0, want), describe(res)
    assert len(DIR_LINK.findall(log)) >= 2 * len(dirs), log


def test_proc_pid_and_thread_self_names_are_resolved(progs: Progs, tmp_path: Path) -> None:
    # /proc/<own pid> and /proc/thread-self are /proc/self: their names are
    # not the rule's, and still match it. (A redirect: --hide would add a
    # virtual /proc listing, and with it every path is resolved anyway.)
    (tmp_path / "file").write_text("redirected\n")
    for name in ("$$", "thread-self"):
        res = run_sysfake(run(redirect("/proc/self", str(tmp_path / "file")),
                              cmd=["sh", "-c", f'exec "$0" /proc {name}', progs["dirfd"]]))
        assert res.returncode == 0, describe(res)
        assert res.stdout.startswith("openat: content=redirected\\n\nfstat: reg size=11\n"
                                     "newfstatat: reg size=11\n"), (name, describe(res))


def test_dotdot_names_the_directory_above(progs: Progs, tmp_path: Path) -> None:
    # `..` can name a redirected directory whatever its name.
    sub = tmp_path / "a" / "sub"
    sub.mkdir(parents=True)
    (tmp_path / "file").write_text("redirected\n")
    for name in ("..", "x/../..", "./.."):
        res = run_sysfake(run(redirect(str(tmp_path / "a"), str(tmp_path / "file")),
                              cmd=[progs["dirfd"], str(sub), name]))
        assert res.returncode == 0, describe(res)
        assert res.stdout.startswith("openat: content=redirected\\n\nfstat: reg size=11\n"
                                     "newfstatat: reg size=11\n"), (name, describe(res))


def test_relative_redirect_still_applies(progs: Progs, tmp_path: Path) -> None:
    (tmp_path / "src").write_text("source\n")
    (tmp_path / "dst").write_text("target\n")
    (tmp_path / "other").write_text("other\n")
    res = run_sysfake(run(redirect(str(tmp_path / "src"), str(tmp_path / "dst")),
                          cmd=["sh", "-c", "cat src ./src other"]), cwd=tmp_path)
    assert (res.returncode, res.stdout) == (0, "target\ntarget\nother\n"), describe(res)


def test_relative_write_open_of_proc_attr_still_stops_tracer_answers(busybox: str,
                                                                     tmp_path: Path) -> None:
    # A thread that opens /proc/self/attr/... for writing may change its LSM
    # label; the tracer then stops answering its stat calls itself (openat2
    # is its own lookup). The relative name "current" is no rule's, and must
    # still be seen.
    (tmp_path / "dst").write_text("target\n")
    src = tmp_path / "src"
    src.write_text("source\n")  # a missing one would add a virtual listing of tmp_path
    stats = "; ".join(["test -e src"] * 20)
    script = (f"cd {tmp_path}; {stats}; cd /proc/self; true 3>attr/current; "
              f"cd {tmp_path}; {stats}; echo done")
    res, log = traced_tracer(tmp_path, run(redirect(str(src), str(tmp_path / "dst")),
                                           cmd=[busybox, "sh", "-c", script]), "openat2")
    assert (res.returncode, res.stdout) == (0, "done\n"), describe(res)
    assert 20 <= len(LOOKUP.findall(log)) < 30, log
