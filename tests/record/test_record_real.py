"""record -> suggest -> run with the real C core, on the host and inside gVisor.

A grandchild (sh -> sh -> readfile) reads three /proc/sys files that are
missing: hidden by glob rules on the host, really missing in gVisor. The
suggested rules, added to the same run, make the grandchild succeed.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path

import pytest

from support import describe, run_in_gvisor, run_sysfake, sysfake_cmd
from support.progs import Progs

FILES = ["/proc/sys/kernel/cap_last_cap", "/proc/sys/kernel/panic_on_oops",
         "/proc/sys/kernel/keys/root_maxkeys"]
HIDE = """version: 1
rules:
  - match: /proc/sys/kernel/cap_last_*
    hide: true
  - match: /proc/sys/kernel/panic_on_oop?
    hide: true
  - match: /proc/sys/kernel/keys/root_maxk*
    hide: true
"""


def _tree(progs: Progs) -> list[str]:
    inner = shlex.join([progs["readfile"], *FILES])
    return ["sh", "-c", f"sh -c {shlex.quote(inner)}; echo outer=$?"]


_MARK = "=== trace ==="


def _events(trace: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in trace.read_text().splitlines()]


def test_record_suggest_rerun_on_host(progs: Progs, tmp_path: Path) -> None:
    hide = tmp_path / "hide.yaml"
    hide.write_text(HIDE)
    trace = tmp_path / "run.trace"
    res = run_sysfake(["record", "-o", trace, "--rules", hide, "--", *_tree(progs)])
    assert res.returncode == 0, describe(res)
    assert res.stdout == "ERR ENOENT\n" * 3 + "outer=1\n", describe(res)

    recs = _events(trace)
    assert recs[0]["type"] == "header" and recs[-1]["type"] == "end"
    origins = {r["id"]: r["origin"] for r in recs[0]["rules"]}  # type: ignore[index]
    failed = [r for r in recs if r["type"] == "syscall" and r["errno"] == "ENOENT"
              and r["resolved"] in FILES]
    assert sorted({str(r["resolved"]) for r in failed}) == sorted(FILES)
    for r in failed:
        assert str(r["exe"]).endswith("/readfile") and r["comm"] == "readfile"
        assert str(origins[r["rule"]]).startswith(f"{hide}:")  # type: ignore[index]
    # the grandchild's parent is the inner sh, whose parent is the outer sh
    execs = {r["pid"]: r for r in recs if r["type"] == "exec"}
    gc = execs[failed[0]["pid"]]
    assert execs[gc["ppid"]]["argv"][:2] == ["sh", "-c"]  # type: ignore[index]

    rep = run_sysfake(["report", trace])
    assert rep.returncode == 0, describe(rep)
    for f in FILES:
        assert f"  {f}  ENOENT" in rep.stdout
    assert "└─ " in rep.stdout and "readfile" in rep.stdout.split("Process tree")[1]

    fixes = tmp_path / "fixes.yaml"
    sug = run_sysfake(["suggest", trace, "-o", fixes])
    assert sug.returncode == 0, describe(sug)
    text = fixes.read_text()
    assert "readfile" in text  # who read it is in the comments
    host_cap = Path(FILES[0]).read_text()
    again = run_sysfake(["run", "--rules", hide, "--rules", fixes, "--", *_tree(progs)])
    assert again.returncode == 0, describe(again) + text
    assert again.stdout == host_cap + "1\n1000000\nouter=0\n", describe(again) + text


@pytest.mark.gvisor
def test_record_suggest_rerun_in_gvisor(progs: Progs, tmp_path: Path) -> None:
    # Everything happens in one sandbox: its writes are not visible outside.
    trace, fixes = tmp_path / "g.trace", tmp_path / "g-fixes.yaml"
    record = sysfake_cmd(["record", "-o", trace, "--", *_tree(progs)])
    suggest = sysfake_cmd(["suggest", trace, "-o", fixes])
    rerun = sysfake_cmd(["run", "--rules", fixes, "--", *_tree(progs)])
    # the trace stays in the sandbox's overlay: shown between markers
    script = (f"{shlex.join(record)}; echo rec=$?; {shlex.join(suggest)}; echo sug=$?; "
              f"grep -c '^  - match:' {fixes}; {shlex.join(rerun)}; echo run=$?; "
              f"echo {_MARK}; cat {trace}")
    rc, out = run_in_gvisor(["sh", "-c", script], timeout=180)
    assert rc == 0, out
    out, _, text = out.partition(f"{_MARK}\n")
    # in gVisor the files are really missing, and so are the host values:
    # cap_last_cap comes from the kernel default, the others from kubelet's values
    assert out == ("ERR ENOENT\n" * 3 + "outer=1\nrec=0\nsug=0\n3\n"
                   "40\n1\n1000000\nouter=0\nrun=0\n"), out
    # gVisor's exec lines come from /proc (no PIDFD_GET_INFO there): the
    # grandchild's parent chain, exe and argv as on the host
    recs = [json.loads(line) for line in text.splitlines()]
    assert recs[0]["type"] == "header" and recs[-1]["type"] == "end", text
    execs = {r["pid"]: r for r in recs if r["type"] == "exec"}
    gc = [r for r in execs.values() if r["comm"] == "readfile"]
    assert len(gc) == 1 and gc[0]["exe"] == os.path.realpath(progs["readfile"]), text
    assert gc[0]["argv"] == [progs["readfile"], *FILES], text
    inner = execs[gc[0]["ppid"]]
    assert inner["argv"][:2] == ["sh", "-c"] and inner["ppid"] in execs, text
    assert execs[inner["ppid"]]["argv"] == _tree(progs), text
    forks = {r["child"]: r["pid"] for r in recs if r["type"] == "fork"}
    assert forks[gc[0]["pid"]] == inner["pid"], text


def _run_with_tty_stderr(argv: list[str], timeout: float = 60.0) -> tuple[int, str]:
    """Run argv with stderr on a pseudo-terminal (stdout to /dev/null); return
    (exit status, what the terminal received)."""
    import os
    import pty
    import select
    import subprocess
    import time

    from support import child_env

    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=slave, env=child_env())
    os.close(slave)
    got = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            got += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=10), got.decode(errors="replace")


def test_live_progress_only_on_a_terminal(tmp_path: Path) -> None:
    """A record that lasts shows a live process/event count when stderr is a
    terminal, and nothing of the kind when it is not."""
    cmd = ["sh", "-c", "for i in 1 2 3 4 5 6; do cat /proc/sys/kernel/ostype >/dev/null; "
           "sleep 0.2; done"]
    trace = tmp_path / "t.jsonl"
    rc, tty = _run_with_tty_stderr(sysfake_cmd(["record", "-o", str(trace), "--", *cmd]))
    assert rc == 0, tty
    lines = [x for x in tty.replace("\r", "\n").splitlines() if x.startswith("sysfake record:")]
    assert lines, f"no progress line on the terminal: {tty!r}"
    last = lines[-1]
    assert " processes (" in last and " events" in last, last
    assert int(last.split(":")[1].split()[0]) >= 7, last  # sh + 6 cats (sleeps too)
    res = run_sysfake(["record", "-o", str(tmp_path / "u.jsonl"), "--", *cmd])
    assert res.returncode == 0 and "sysfake record:" not in res.stderr, describe(res)


def test_exec_record_names_a_comm_with_parentheses_and_its_parent(progs: Progs,
                                                                  tmp_path: Path) -> None:
    # comm and the parent come from one /proc/PID/stat line, where a comm
    # like this one could be taken for the end of the field
    odd = tmp_path / "r) (x y"
    odd.write_bytes(Path(progs["readfile"]).read_bytes())
    odd.chmod(0o755)
    trace = tmp_path / "t.jsonl"
    res = run_sysfake(["record", "-o", str(trace), "--", "sh", "-c",
                       f"{shlex.quote(str(odd))} /proc/sys/kernel/ostype; echo done"])
    assert res.returncode == 0 and res.stdout.endswith("done\n"), describe(res)
    execs = [r for r in _events(trace) if r["type"] == "exec"]
    assert [r["comm"] for r in execs] == ["sh", "r) (x y"], execs
    assert execs[1]["exe"] == str(odd) and execs[1]["ppid"] == execs[0]["pid"]
    assert execs[1]["argv"] == [str(odd), "/proc/sys/kernel/ostype"]


def test_a_canonical_path_longer_than_a_record_keeps_is_cut(tmp_path: Path) -> None:
    """A relative path under a long working directory resolves to more than
    the 4095 bytes a record keeps of a path: the record holds its first 4095
    (csrc/syscall.c, rec_prepare), and the raw path whole."""
    deep = tmp_path.joinpath(*["d" * 200] * 15)  # about 3,000 bytes
    deep.mkdir(parents=True)
    rel = "/".join(["r" * 200] * 14) + "/x"  # about 2,800 bytes, under 4096
    trace = tmp_path / "t.jsonl"
    script = f"try:\n    open({rel!r})\nexcept OSError as e:\n    print(e.errno)\n"
    py = f"exec {shlex.quote(sys.executable)} -c {shlex.quote(script)}"
    res = run_sysfake(["record", "-o", str(trace), "--watch", str(tmp_path), "--",
                       "sh", "-c", f"cd {shlex.quote(str(deep))} && {py}"])
    assert res.returncode == 0 and res.stdout.strip() == "2", describe(res)
    recs = [json.loads(x) for x in trace.read_text().splitlines()]
    opens = [r for r in recs if r["type"] == "syscall" and r.get("path") == rel]
    assert len(opens) == 1, [r.get("path", "")[:40] for r in recs if r["type"] == "syscall"]
    full = f"{deep}/{rel}"
    assert len(full) > 4095 and opens[0]["resolved"] == full[:4095]
    assert opens[0]["errno"] == "ENOENT"


def test_suggest_leaves_out_paths_the_programs_made(tmp_path: Path) -> None:
    """Python's multiprocessing.Lock is a sem_open: glibc tries random names
    under /dev/shm (ENOENT), then makes one. Such paths are not missing
    kernel files; a path that stays missing is still suggested."""
    trace = tmp_path / "t.trace"
    probe = "/dev/sysfake-missing-" + tmp_path.name
    script = (f"import multiprocessing, os; multiprocessing.Lock(); "
              f"print(os.path.exists({probe!r}))")
    res = run_sysfake(["record", "-o", trace, "--", sys.executable, "-c", script])
    assert (res.returncode, res.stdout) == (0, "False\n"), describe(res)
    made = [r for r in _events(trace) if r["type"] == "syscall"
            and str(r["resolved"]).startswith("/dev/shm/sem.") and r["errno"] == "ENOENT"]
    assert made, "no failed sem_open probe recorded: the test shows nothing"
    sug = run_sysfake(["suggest", trace])
    assert sug.returncode == 0, describe(sug)
    assert "/dev/shm/sem." not in sug.stdout, sug.stdout
    assert re.search(r"# \d+ paths that were missing, then worked", sug.stdout), sug.stdout
    assert f'- match: "{probe}"' in sug.stdout, sug.stdout


def test_record_loads_rules_as_run_does(tmp_path: Path) -> None:
    """A profile's cgroup tree and --disable-rule act under record as under
    run (record used to drop the tree and ignore --disable-rule)."""
    rules = tmp_path / "r.yaml"
    rules.write_text("version: 1\nrules:\n  - {id: fake-a, match: /proc/sys/kernel/sfk_a, "
                     "content: \"a\\n\"}\n  - {id: fake-b, match: /proc/sys/kernel/sfk_b, "
                     "content: \"b\\n\"}\n")
    script = ("cat /sys/fs/cgroup/memory/memory.use_hierarchy; "
              "stat -f -c %T /sys/fs/cgroup/memory; cat /proc/sys/kernel/sfk_a; "
              "cat /proc/sys/kernel/sfk_b 2>/dev/null || echo no b")
    outs = []
    for verb in (["run"], ["record", "-o", str(tmp_path / "t.trace")]):
        res = run_sysfake([*verb, "--profile", "cgroup-v1", "--rules", rules,
                           "--disable-rule", "fake-b", "--", "sh", "-c", script])
        assert res.returncode == 0, describe(res)
        outs.append(res.stdout)
    assert outs[0] == "1\ncgroupfs\na\nno b\n", outs
    assert outs[1] == outs[0], outs
