"""Bad input to record, report and suggest: one line on stderr naming the
file (and line), exit status 2, never a traceback; and odd recorded text
(newlines, bytes that are not UTF-8, lone surrogates) printed escaped, with
suggest's output still loading in `sysfake check`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import child_env, describe, run_sysfake

HEADER = {"type": "header", "format": 1, "sysfake": "0", "time": 1.7e9, "argv": ["true"],
          "cwd": "/", "watch": ["/proc"], "syscalls": [], "rules": []}
EVENT = {"time": 1.7e9, "pid": 10, "tgid": 10, "ppid": 1, "exe": "/bin/x", "comm": "x"}


def _loads(rules: Path, text: str | None = None) -> None:
    """`sysfake check` takes the rules suggest wrote (written to `rules` first
    when given as text)."""
    if text is not None:
        rules.write_text(text)
    checked = run_sysfake(["check", str(rules)])
    assert checked.returncode == 0, describe(checked)


def _line(**fields: object) -> str:
    return json.dumps(fields) + "\n"


def _failed_open(path: str) -> str:
    return _line(type="syscall", **EVENT, syscall="openat", nr=257, args=[], path=path,
                 resolved=path, rule=None, result=-2, errno="ENOENT")


def _one_line_error(res: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert res.returncode == 2, describe(res)
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("sysfake: "), describe(res)
    assert "Traceback" not in res.stderr, describe(res)
    for p in parts:
        assert p in res.stderr, describe(res)


@pytest.mark.parametrize("cmd", ["report", "suggest"])
def test_a_torn_header_alone_is_a_one_line_error(tmp_path: Path, cmd: str) -> None:
    t = tmp_path / "torn.trace"
    t.write_text(_line(**HEADER)[:40])  # killed in the middle of the first line
    res = run_sysfake([cmd, str(t)])
    _one_line_error(res, f"{t}:1: the header line is cut short")


@pytest.mark.parametrize("cmd", ["report", "suggest"])
def test_deeply_nested_json_is_a_one_line_error(tmp_path: Path, cmd: str) -> None:
    t = tmp_path / "deep.trace"
    t.write_text(_line(**HEADER) + "[" * 100_000 + "\n" + _line(**HEADER))
    res = run_sysfake([cmd, str(t)])
    _one_line_error(res, f"{t}:2: ", "nested too deeply")


@pytest.mark.parametrize(("field", "value", "line"), [
    ("argv", [1, 2], 1), ("watch", [None], 1), ("syscalls", [{}], 1),
    ("exec-argv", ["sh", 3], 2), ("end-errors", [1], 2),
    ("time", 10 ** 400, 1), ("end-time", 10 ** 400, 2),
])
def test_list_fields_hold_strings_and_times_are_numbers(tmp_path: Path, field: str,
                                                         value: object, line: int) -> None:
    header = dict(HEADER)
    rest = ""
    if field == "exec-argv":
        rest = _line(type="exec", **EVENT, argv=value)
        field = "argv"
    elif field.startswith("end-"):
        end = {"type": "end", "time": 1.7e9, "exit_status": 0, "events": 0, "processes": 0}
        field = field[4:]
        end[field] = value
        rest = _line(**end)
    else:
        header[field] = value
    t = tmp_path / "bad.trace"
    t.write_text(_line(**header) + rest)
    for cmd in ("report", "suggest"):
        res = run_sysfake([cmd, str(t)])
        _one_line_error(res, f"{t}:{line}: field {field!r}")


def test_lone_surrogates_are_printed_escaped(tmp_path: Path) -> None:
    t = tmp_path / "sur.trace"
    t.write_text(_line(**dict(HEADER, cwd="/w\ud800", argv=["cat", "/proc/sys/a\ud800"]))
                 + _failed_open("/proc/sys/a\ud800") + _failed_open("/proc/x\ud800"))
    res = run_sysfake(["report", str(t)])
    assert res.returncode == 0, describe(res)
    assert "cwd: /w\\ud800\n" in res.stdout
    assert "  /proc/sys/a\\ud800  ENOENT\n" in res.stdout
    res = run_sysfake(["suggest", str(t)])
    assert res.returncode == 0, describe(res)
    assert "# /proc/x\\ud800: ENOENT" in res.stdout
    # a lone surrogate is no path a rule can name: a comment, nothing to uncomment
    assert "  # /proc/sys/a\\ud800: ENOENT" in res.stdout
    _loads(tmp_path / "s.yaml", res.stdout)


def _record(tmp_path: Path, script: str) -> Path:
    trace = tmp_path / "odd.trace"
    res = run_sysfake(["record", "-o", str(trace), "--", "sh", "-c", script])
    assert res.returncode == 1, describe(res)  # cat failed, as it should
    return trace


def _uncomment(text: str) -> str:
    """The suggestions with each placeholder filled in and uncommented."""
    out = []
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if ln.startswith("  # - match: ") and lines[i + 1] == '  #   content: "VALUE\\n"':
            out.append("  " + ln[4:])
        elif ln == '  #   content: "VALUE\\n"':
            out.append('    content: "x\\n"')
        elif ln == "rules: []":
            out.append("rules:")
        else:
            out.append(ln)
    return "\n".join(out) + "\n"


def test_odd_recorded_paths_stay_in_their_comments_and_load(tmp_path: Path) -> None:
    # a newline in a path, bytes that are not UTF-8, an escape sequence
    trace = _record(tmp_path, 'cat /proc/"$(printf "a\\nb")" /proc/sys/"$(printf "\\377\\376")" '
                              '/proc/sys/"$(printf "x\\033y")"')
    res = run_sysfake(["suggest", str(trace)])
    assert res.returncode == 0, describe(res)
    assert "  # /proc/a\\nb: ENOENT\n" in res.stdout
    assert "  # /proc/sys/\\xff\\xfe: ENOENT\n" in res.stdout
    assert "  # /proc/sys/x\\x1by: ENOENT\n" in res.stdout
    _loads(tmp_path / "s.yaml", res.stdout)
    # the placeholders, filled in, are rules for exactly those paths
    filled = tmp_path / "filled.yaml"
    filled.write_text(_uncomment(res.stdout))
    code = ("import sys; from sysfake.rules import load; "
            "print(sorted(r.match.encode('utf-8', 'surrogateescape') "
            "for r in load([sys.argv[1]]).path_rules))")
    got = subprocess.run([sys.executable, "-c", code, str(filled)], capture_output=True,
                         text=True, env=child_env(), check=False, timeout=60)
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == repr(sorted([b"/proc/a\nb", b"/proc/sys/\xff\xfe",
                                              b"/proc/sys/x\x1by"]))
    rep = run_sysfake(["report", str(trace)])
    assert rep.returncode == 0, describe(rep)
    assert "  /proc/a\\nb  ENOENT\n" in rep.stdout
    assert "  /proc/sys/\\xff\\xfe  ENOENT\n" in rep.stdout
    assert "\x1b" not in rep.stdout


def test_an_active_rule_for_an_odd_path_loads(tmp_path: Path) -> None:
    # a value known for the path makes an active rule: it must load as written
    data = tmp_path / "data.yaml"
    data.write_text('format: sysctl-defaults/1\nsysctls:\n  "x\\ey":\n    value: "5"\n'
                    "    expected: true\n    why: w\n    source: s\n")
    trace = _record(tmp_path, 'cat /proc/sys/"$(printf "x\\033y")"')
    out = tmp_path / "s.yaml"
    res = run_sysfake(["suggest", str(trace), "--data", str(data), "-o", str(out)])
    assert res.returncode == 0, describe(res)
    assert '  - match: "/proc/sys/x\\u001by"\n    content: "5\\n"\n' in out.read_text()
    _loads(out)


@pytest.mark.parametrize(("content", "where", "msg"), [
    (b"format: sysctl-defaults/1\n\xff\xfe", ":2:1: ", "not UTF-8 text (byte 0xff)"),
    (b"format: sysctl-defaults/1\nsysctls:\n  a: [\n", ":4:1: ", "YAML syntax error"),
    (b"format: sysctl-defaults/1\nsysctls:\n  a/b:\n    value: 1\n    why: w\n    source: s\n",
     ":4:12: ", "a/b: value must be a quoted string"),
    (b"format: sysctl-defaults/1\nsysctls:\n  a/b:\n    why: w\n    source: s\n"
     b"    expected: yes please\n", ":6:15: ", "a/b: expected must be true or false"),
    (b"format: sysctl-defaults/2\n", ":1:9: ", "expected a mapping with format"),
])
def test_bad_data_files_are_one_line_with_a_position(tmp_path: Path, content: bytes,
                                                     where: str, msg: str) -> None:
    t = tmp_path / "ok.trace"
    t.write_text(_line(**HEADER))
    data = tmp_path / "data.yaml"
    data.write_bytes(content)
    res = run_sysfake(["suggest", str(t), "--data", str(data)])
    _one_line_error(res, f"{data}{where}{msg}")


def test_suggest_will_not_overwrite_its_trace(tmp_path: Path) -> None:
    t = tmp_path / "t.trace"
    t.write_text(_line(**HEADER) + _failed_open("/proc/sys/kernel/x"))
    before = t.read_bytes()
    (tmp_path / "link.trace").symlink_to(t)
    for name in (str(t), f"{tmp_path}/./t.trace", str(tmp_path / "link.trace")):
        res = run_sysfake(["suggest", str(t), "-o", name])
        _one_line_error(res, f"{name}: will not write over the trace they come from")
    assert t.read_bytes() == before


def test_record_from_a_deleted_cwd_says_so_and_leaves_no_trace(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    trace = tmp_path / "x.trace"
    # the deleted directory is the child's cwd from the start (cd, then rmdir)
    res = subprocess.run(["sh", "-c", f'cd "{gone}" && rmdir "{gone}" && exec "$@"', "sh",
                          sys.executable, "-m", "sysfake", "record", "-o", str(trace), "--",
                          "true"], capture_output=True, text=True, env=child_env(),
                         stdin=subprocess.DEVNULL, timeout=60, check=False)
    _one_line_error(res, "the current directory is gone")
    assert not os.path.lexists(trace)


def test_record_refused_by_the_core_leaves_no_trace(tmp_path: Path) -> None:
    trace = tmp_path / "x.trace"
    res = run_sysfake(["record", "-o", str(trace), "--disable", "no_such_thing", "--", "true"])
    _one_line_error(res, "unknown mechanism 'no_such_thing'")
    assert not os.path.lexists(trace)


@pytest.mark.parametrize("cmd", ["report", "suggest"])
def test_devices_fifos_and_read_errors_end_in_one_line(tmp_path: Path, cmd: str) -> None:
    """/dev/zero never ends (its one line grew until memory ran out), a FIFO
    nobody writes to hung, a read error was called an output error."""
    _one_line_error(run_sysfake([cmd, "/dev/zero"], timeout=20), "/dev/zero: not a trace file")
    fifo = tmp_path / "t.fifo"
    os.mkfifo(fifo)
    _one_line_error(run_sysfake([cmd, str(fifo)], timeout=20), f"{fifo}: empty trace")
    _one_line_error(run_sysfake([cmd, "/proc/self/mem"], timeout=20),
                    "/proc/self/mem: cannot read trace: Input/output error")


def test_a_trace_through_a_pipe_is_read(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    rec = run_sysfake(["record", "-o", str(trace), "--", "true"])
    assert rec.returncode == 0, describe(rec)
    res = subprocess.run(["bash", "-c", 'exec "$@" <(cat "$0")', str(trace),
                          sys.executable, "-m", "sysfake", "report"], capture_output=True,
                         text=True, env=child_env(), timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("command: true\n"), describe(res)


@pytest.mark.parametrize("cmd", ["record", "suggest"])
def test_an_empty_output_name_is_a_usage_error_naming_the_option(tmp_path: Path,
                                                                 cmd: str) -> None:
    """-o '' was "cannot write : No such file or directory" after the rules
    were loaded (record), or stdout (suggest)."""
    marker = tmp_path / "ran"
    t = tmp_path / "t.trace"
    t.write_text(_line(**HEADER))
    args = (["record", "-o", "", "--", "sh", "-c", f"touch {marker}"] if cmd == "record"
            else ["suggest", str(t), "-o", ""])
    res = run_sysfake(args)
    assert res.returncode == 2, describe(res)
    assert res.stdout == "", describe(res)
    assert res.stderr == (f"sysfake {cmd}: error: argument -o/--output: "
                          "needs a file name, not ''\n"), describe(res)
    assert not marker.exists()  # nothing ran


def test_a_watch_prefix_longer_than_path_max_is_refused_before_anything_runs(
        tmp_path: Path) -> None:
    """A --watch prefix of more than 4095 bytes (as a rules file's path, which
    the loader refuses) was taken: it can match no path the kernel takes."""
    marker, trace = tmp_path / "ran", tmp_path / "x.trace"
    longest = "/" + "é" * 2047  # 4095 bytes: taken
    ok = run_sysfake(["record", "-o", str(trace), "--watch", longest, "--", "true"])
    assert ok.returncode == 0, describe(ok)
    trace.unlink()
    res = run_sysfake(["record", "-o", str(trace), "--watch", "/proc", "--watch", longest + "a",
                       "--", "sh", "-c", f"touch {marker}"])
    _one_line_error(res, "--watch '/éééé", "(2049 characters): longer than 4095 bytes")
    assert not marker.exists() and not trace.exists()


@pytest.mark.parametrize("cmd", ["report", "suggest"])
def test_header_errors_name_their_line(tmp_path: Path, cmd: str) -> None:
    """A second header said "TRACE: a second header record", with no line, and
    a first record that is not a header was put on line 1 whatever blank
    lines came before it."""
    two = tmp_path / "two.trace"
    two.write_text(_line(**HEADER) + _failed_open("/proc/x") + "\n" + _line(**HEADER))
    _one_line_error(run_sysfake([cmd, str(two)]),
                    f"sysfake: {two}:4: a second header record (the first is on line 1")
    late = tmp_path / "late.trace"
    late.write_text("\n" + _line(**HEADER) + "\n" + _line(**HEADER))
    _one_line_error(run_sysfake([cmd, str(late)]),
                    f"sysfake: {late}:4: a second header record (the first is on line 2")
    headless = tmp_path / "headless.trace"
    headless.write_text("\n\n" + _failed_open("/proc/x"))
    _one_line_error(run_sysfake([cmd, str(headless)]),
                    f"sysfake: {headless}:3: the first record must be the header")
    future = tmp_path / "future.trace"
    future.write_text("\n" + _line(**{**HEADER, "format": 99}))
    _one_line_error(run_sysfake([cmd, str(future)]),
                    f"sysfake: {future}:2: trace format 99 is not supported")
