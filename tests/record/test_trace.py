"""Enrichment of raw records and the JSON Lines trace schema."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sysfake.record.enrich import Enricher, ThreadState, clone_text
from sysfake.record.stream import Decoder
from sysfake.record.syscalls import (
    ArgSpec,
    decode_args,
    name_of,
    number_of,
    prototype,
    trapped_numbers,
)
from sysfake.record.trace import (
    ExecEvent,
    ExitEvent,
    ForkEvent,
    SyscallEvent,
    TraceError,
    iter_trace,
    load_trace,
)

from .helpers import T0, scenario, write_trace


def _events() -> list[object]:
    en = Enricher()
    return [en.convert(r) for r in Decoder().feed(scenario())]


def test_process_state_follows_fork_and_exec() -> None:
    ev = _events()
    sc = [e for e in ev if isinstance(e, SyscallEvent)]
    first = sc[0]
    assert (first.pid, first.tgid, first.ppid, first.exe, first.comm) == (
        102, 102, 101, "/usr/bin/reader", "reader")
    thread = sc[3]  # from thread 112 of process 102
    assert (thread.pid, thread.tgid, thread.ppid, thread.exe) == (112, 102, 101,
                                                                 "/usr/bin/reader")
    forks = [e for e in ev if isinstance(e, ForkEvent)]
    assert [f.thread for f in forks] == [False, False, True, False]
    # the killed sibling inherited its parent's exe (it never exec'd)
    killed = next(e for e in ev if isinstance(e, ExitEvent) and e.pid == 103)
    assert (killed.exe, killed.signal, killed.exit_code, killed.ppid) == ("/bin/sh", "SIGKILL",
                                                                          None, 101)


def test_syscall_names_and_args_from_python_ptrace() -> None:
    sc = [e for e in _events() if isinstance(e, SyscallEvent)]
    o = sc[0]
    assert (o.syscall, o.nr, o.errno, o.result, o.rule) == ("openat", 257, "ENOENT", -2, 0)
    args = {a.name: a for a in o.args}
    assert args["dirfd"].value == -100 and args["dirfd"].text == "AT_FDCWD"
    assert args["flags"].text is not None and "O_CLOEXEC" in args["flags"].text
    io = sc[5]
    assert io.syscall == "ioctl" and io.errno == "EPERM" and io.path is None
    assert {a.name: a.value for a in io.args}["cmd"] == 0x8914
    ok = sc[-1]
    assert ok.result == 3 and ok.errno is None


def test_name_tables() -> None:
    assert name_of(16) == "ioctl" and number_of("ioctl") == 16  # not the x32 number
    assert name_of(99999) == "syscall_99999" and number_of("no_such_call") is None
    t = trapped_numbers()
    assert t["mount"] == 165 and t["clone3"] == 435 and t["openat2"] == 437
    assert [a.name for a in decode_args("clone3", [1, 2, 3, 4, 5, 6])] == [
        "arg0", "arg1", "arg2", "arg3", "arg4", "arg5"]
    assert "CLONE_THREAD" in clone_text(0x10000 | 0x100)


def test_plain_record_classes() -> None:
    # ThreadState and ArgSpec are not dataclasses (cheaper to define at start-up)
    st = ThreadState(5)
    assert (st.tgid, st.ppid, st.exe, st.comm) == (5, 0, "", "")
    st.ppid, st.comm = 2, "sh"
    assert repr(st) == "ThreadState(tgid=5, ppid=2, exe='', comm='sh')"
    with pytest.raises(AttributeError):
        st.other = 1  # type: ignore[attr-defined]
    proto = prototype("openat")
    assert proto is not None and proto[0] == ArgSpec("dirfd", "int")
    assert (proto[2].name, proto[2].type) == ("flags", "int")
    assert len({proto[0], ArgSpec("dirfd", "int")}) == 1  # a cache key (fastline)


def test_roundtrip_through_jsonl(tmp_path: Path) -> None:
    p = tmp_path / "t.trace"
    write_trace(p, scenario())
    tr = load_trace(str(p))
    assert tr.end is not None and tr.end.exit_status == 1 and tr.end.processes == 4
    assert tr.header.rules[0].origin == "hide.yaml:3:5"
    assert [type(e) for e in tr.events] == [type(e) for e in _events()]
    assert tr.events == _events()
    assert isinstance(tr.events[0], ExecEvent) and tr.events[0].argv[2] == "sh -c reader"
    # every line is one JSON object with a type
    for line in p.read_text().splitlines():
        assert "type" in json.loads(line)


def test_torn_last_line_is_ignored_and_missing_end_is_allowed(tmp_path: Path) -> None:
    p = tmp_path / "t.trace"
    write_trace(p, scenario(), end=False)
    with open(p, "a") as f:
        f.write('{"time": 1, "pid"')
    tr = load_trace(str(p))
    assert tr.end is None and len(tr.events) == 20


@pytest.mark.parametrize(("text", "msg"), [
    ("", "empty trace"),
    ('{"type":"exit"}\n', ":1: missing field 'time'"),
    ("not json\n", ":1: not JSON"),
    ('{"type":"bogus"}\n', "unknown record type 'bogus'"),
])
def test_bad_traces_are_one_line_errors(tmp_path: Path, text: str, msg: str) -> None:
    p = tmp_path / "t.trace"
    p.write_text(text)
    with pytest.raises(TraceError) as ei:
        list(iter_trace(str(p))) if text else load_trace(str(p))
    assert msg in str(ei.value) and "\n" not in str(ei.value)


def test_first_record_must_be_the_header(tmp_path: Path) -> None:
    p = tmp_path / "t.trace"
    p.write_text('{"type":"end","time":1,"exit_status":0,"events":0,"processes":0}\n')
    with pytest.raises(TraceError, match="first record must be the header"):
        load_trace(str(p))
    _ = T0
