"""sysfake's own standard streams when they cannot be written, and options
checked before anything starts: one line or a signal, never a traceback, and
the command still runs with the fds its caller gave."""
from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from support import child_env, describe, sysfake_cmd, without_launcher


def _sysfake(args: list[str], *, close: tuple[int, ...] = (), stdout: int | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """sysfake ARGS with the given fds closed (as `>&-` does); stderr captured
    unless it is one of them."""
    def closer() -> None:
        for fd in close:
            os.close(fd)
    pre: Callable[[], None] | None = closer if close else None
    return subprocess.run(sysfake_cmd(args), stdin=subprocess.DEVNULL,
                          stdout=stdout if stdout is not None else subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env or child_env(),
                          timeout=60, preexec_fn=pre)


RUNS = [["run", "--hide", "/nonexistent", "--"],
        ["record", "-o", "TRACE", "--hide", "/nonexistent", "--"]]


@pytest.mark.parametrize("in_python", [False, True], ids=["launcher", "in-python"])
@pytest.mark.parametrize("how", RUNS, ids=["run", "record"])
@pytest.mark.parametrize("fd", [1, 2])
def test_a_closed_stdout_or_stderr_still_runs_the_command(tmp_path: Path, how: list[str],
                                                          fd: int, in_python: bool) -> None:
    made = tmp_path / "made"
    how = [str(tmp_path / "t.trace") if a == "TRACE" else a for a in how]
    # the command sees the fd closed, as it would untraced
    script = f'touch {made}; [ -e /proc/self/fd/{fd} ] && exit 9; exit 7'
    env = without_launcher(tmp_path) if in_python else None
    res = _sysfake([*how, "sh", "-c", script], close=(fd,), env=env)
    assert res.returncode == 7, describe(res)
    assert made.exists()
    assert "Traceback" not in res.stderr, describe(res)


def test_output_to_a_full_disk_is_one_line(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        res = _sysfake(["schema"], stdout=full.fileno())
    assert res.returncode == 2, describe(res)
    assert res.stderr == "sysfake: cannot write its output: No space left on device\n"


def test_output_to_a_closed_stdout_is_one_line() -> None:
    res = _sysfake(["schema"], close=(1,))
    assert res.returncode == 2, describe(res)
    assert res.stderr == "sysfake: cannot write its output: Bad file descriptor\n"


def test_a_reader_that_went_away_ends_it_as_sigpipe_would() -> None:
    r, w = os.pipe()
    os.close(r)  # no reader: the first write fails with EPIPE
    try:
        res = _sysfake(["schema"], stdout=w)
    finally:
        os.close(w)
    assert (res.returncode, res.stderr) == (-signal.SIGPIPE, ""), describe(res)


@pytest.mark.parametrize("cmd", ["run", "record"])
@pytest.mark.parametrize("grace", ["-1", "nan", "inf", "1e309", "86401", "abc", ""])
def test_grace_out_of_range_is_one_line_before_anything_starts(tmp_path: Path, cmd: str,
                                                               grace: str) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    made = tmp_path / "made"
    out = ["-o", str(tmp_path / "t.trace")] if cmd == "record" else []
    # a profile with a fake cgroup tree: its temporary directories are made
    # only after the options are checked
    res = _sysfake([cmd, *out, "--profile", "cgroup-v1", "--grace", grace, "--", "touch",
                    str(made)], env=child_env({"TMPDIR": str(tmp)}))
    assert res.returncode == 2, describe(res)
    assert res.stderr == (f"sysfake {cmd}: error: argument --grace: needs seconds from 0 to "
                          f"86400, not {grace!r}\n"), describe(res)
    assert not made.exists() and list(tmp.iterdir()) == []
    assert not (tmp_path / "t.trace").exists()


def test_a_fifo_nobody_writes_reads_as_empty_and_a_pipe_still_works(tmp_path: Path) -> None:
    fifo = tmp_path / "rules.yaml"
    os.mkfifo(fifo)
    res = _sysfake(["check", str(fifo)])
    assert res.returncode == 2 and res.stderr.count("\n") == 1, describe(res)
    assert "empty file" in res.stderr, describe(res)
    res = subprocess.run(["bash", "-c", 'exec "$@" <(printf "version: 1\\nrules: []\\n")',
                          "bash", *sysfake_cmd(["check"])], capture_output=True, text=True,
                         env=child_env(), timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("ok: 0 rules"), describe(res)


def test_a_small_memory_limit_still_loads_rules() -> None:
    """A rules file was read with f.read(16 MiB + 1), which sets the whole
    size aside first (MemoryError under ulimit -v 30000)."""
    res = subprocess.run(["sh", "-c", 'ulimit -v 60000; exec "$@"', "sh",
                          *sysfake_cmd(["check", "minimal"])], capture_output=True,
                         text=True, env=child_env(), timeout=60)
    assert res.returncode == 0, describe(res)


def test_text_stdout_cannot_encode_is_escaped(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text('version: 1\nrules:\n  - {match: "/proc/\u00e9", content: y}\n')
    res = _sysfake(["check", str(f)], env=child_env({"PYTHONIOENCODING": "ascii"}))
    assert res.returncode == 0 and "/proc/\\xe9" in res.stdout, describe(res)


def test_a_command_name_with_a_newline_is_one_line() -> None:
    res = _sysfake(["run", "--hide", "/nonexistent", "--", "tr\nue"])
    assert res.returncode == 127, describe(res)
    assert res.stderr == "sysfake: cannot run 'tr\\x0aue': No such file or directory\n"


def test_record_will_not_write_over_its_rules_or_into_proc(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("version: 1\nrules: []\n")
    res = _sysfake(["record", "-r", str(rules), "-o", str(rules), "--", "true"])
    assert res.returncode == 2 and "will not write over the rules" in res.stderr, describe(res)
    assert rules.read_text() == "version: 1\nrules: []\n"
    # a kernel file reached through a link (this one only renames the writer)
    link = tmp_path / "comm"
    link.symlink_to("/proc/self/comm")
    res = _sysfake(["record", "-o", str(link), "--", "true"])
    assert res.returncode == 2 and "will not write into proc's kernel files" in res.stderr, \
        describe(res)
