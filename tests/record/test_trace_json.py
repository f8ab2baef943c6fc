"""The trace writer writes exactly what json.dumps(asdict(record)) writes, and
record mode's fast path (fastline.Lines, bytes straight to lines) writes
exactly what the ordinary path does (the schema in docs/record.md is defined
by the datatypes in trace.py; the fast path only saves time)."""
from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysfake.datatype import asdict
from sysfake.record.enrich import Enricher
from sysfake.record.fastline import Lines
from sysfake.record.stream import Decoder
from sysfake.record.syscalls import Arg
from sysfake.record.trace import SyscallEvent, _dumps, to_json

from . import helpers


def reference(ev: SyscallEvent) -> str:
    d: dict[str, Any] = asdict(ev)
    d["args"] = [{k: v for k, v in a.items() if not (k == "text" and v is None)}
                 for a in d["args"]]
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


# Paths from a trace may hold any character, lone surrogates included
# (bytes that are not UTF-8 are kept with surrogateescape).
text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF,
                                      blacklist_categories=()), max_size=40)
ints = st.integers(min_value=-(2**63), max_value=2**64)
args = st.lists(st.builds(Arg, text, st.none() | text, ints, st.none() | text), max_size=6)


@settings(max_examples=400, deadline=None)
@given(time=st.floats(min_value=0, max_value=4e9, allow_nan=False), pid=ints, tgid=ints,
       ppid=ints, exe=text, comm=text, syscall=text, nr=ints, args=args,
       path=st.none() | text, resolved=st.none() | text, rule=st.none() | ints, result=ints,
       errno=st.none() | text, flags=ints)
def test_syscall_record_json_is_json_dumps(time: float, pid: int, tgid: int, ppid: int,
                                           exe: str, comm: str, syscall: str, nr: int,
                                           args: list[Arg], path: str | None,
                                           resolved: str | None, rule: int | None,
                                           result: int, errno: str | None,
                                           flags: int) -> None:
    ev = SyscallEvent(time, pid, tgid, ppid, exe, comm, syscall=syscall, nr=nr, args=args,
                      path=path, resolved=resolved, rule=rule, result=result, errno=errno,
                      flags=flags)
    assert to_json(ev) == reference(ev)
    assert json.loads(to_json(ev))["args"] == json.loads(reference(ev))["args"]


# what trace._dumps writes by hand (it does not import json) and what it hands to json
scalars = (st.none() | st.booleans() | ints | st.floats() | text
           | st.sampled_from([float("nan"), float("inf"), -float("inf"), -0.0, 1e300, 5e-324]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.tuples(inner, inner) | st.dictionaries(text, inner, max_size=4)
                      | st.dictionaries(ints | st.none() | st.booleans(), inner, max_size=3),
                      max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(values)
def test_dumps_is_json_encoders(v: Any) -> None:
    assert _dumps(v) == json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode(v)


def test_dumps_of_other_values_is_jsons() -> None:
    class Flag(int):
        pass

    assert _dumps([Flag(3), {1.5: "x"}, True]) == '[3,{"1.5":"x"},true]'
    with pytest.raises(TypeError, match="not JSON serializable"):
        _dumps({"x": object()})


# ---------------------------------------------------------------- fastline

tids = st.integers(min_value=1, max_value=6)
paths = st.binary(max_size=30)
records = st.one_of(
    st.builds(lambda t, tid, tgid, nr, ret, args, raw, canon, rule, flags:
              helpers.syscall(t, tid, tgid, nr, ret, args, raw, canon, rule, flags),
              st.floats(min_value=0, max_value=4e9), tids, tids,
              st.sampled_from([0, 2, 4, 6, 13, 16, 21, 59, 62, 157, 257, 262, 332, 999, -1]),
              st.integers(min_value=-5000, max_value=2**40),
              st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=6),
              paths, paths, st.integers(min_value=-1, max_value=5),
              st.integers(min_value=0, max_value=255)),
    st.builds(lambda t, tid, ppid, exe, comm, argv: helpers.exec_(t, tid, ppid, exe, comm, argv),
              st.floats(min_value=0, max_value=4e9), tids, tids, paths, paths,
              st.lists(paths, max_size=3)),
    st.builds(lambda t, p, c, f: helpers.fork(t, p, c, f), st.floats(min_value=0, max_value=4e9),
              tids, tids, st.integers(min_value=0, max_value=2**40)),
    st.builds(lambda t, tid, s: helpers.exit_(t, tid, s), st.floats(min_value=0, max_value=4e9),
              tids, st.integers(min_value=0, max_value=0xFFFF)),
    st.binary(min_size=12, max_size=12).map(lambda b: struct.pack("<H", 12) + b"\x09" + b[3:]),
    st.builds(lambda t, tid, f: helpers.repeat(t, tid, f), st.floats(min_value=0, max_value=4e9),
              tids, st.integers(min_value=0, max_value=255)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(records, max_size=25), st.integers(min_value=1, max_value=97))
def test_fast_lines_are_the_ordinary_trace(recs: list[bytes], chunk: int) -> None:
    data = b"".join(recs)
    slow_dec, slow_en = Decoder(), Enricher()
    slow = "".join(to_json(slow_en.convert(r)) + "\n" for r in slow_dec.feed(data))
    dec, en = Decoder(), Enricher()
    lines = Lines(en, dec)
    fast: list[str | None] = []
    for i in range(0, len(data), chunk):  # any chunking of the pipe
        fast += dec.frame(data[i:i + chunk], lines)
    assert "".join(x for x in fast if x) == slow
    assert (dec.unknown, dec.error, en.events) == (slow_dec.unknown, slow_dec.error,
                                                    slow_en.events)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(range(8)), min_size=1, max_size=60),
       st.lists(st.floats(min_value=0, max_value=4e9), min_size=60, max_size=60))
def test_repeated_calls_reuse_lines_but_follow_exec(picks: list[int], times: list[float]) -> None:
    # the same call again and again (a loop), with execs and forks that change
    # what its line says about the thread in between: Lines caches a line's
    # rest by the record and the thread's facts, never across a change
    pool = [
        lambda t: helpers.syscall(t, 3, 3, 262, 0, [1, 2, 3], b"/a", b"/b", 1, 0),
        lambda t: helpers.syscall(t, 3, 3, 262, -2, [1, 2, 3], b"/a", b"/b", 1, 0),
        lambda t: helpers.syscall(t, 4, 3, 262, 0, [1, 2, 3], b"/a", b"/b", 1, 0),
        lambda t: helpers.exec_(t, 3, 1, b"/bin/x", b"x", [b"x"]),
        lambda t: helpers.exec_(t, 3, 1, b"/bin/y", b"y", [b"y"]),
        lambda t: helpers.fork(t, 3, 4, 0x11),
        lambda t: helpers.repeat(t, 3),
        lambda t: helpers.repeat(t, 4),
    ]
    data = b"".join(pool[k](times[i]) for i, k in enumerate(picks))
    slow_dec, slow_en = Decoder(), Enricher()
    slow = "".join(to_json(slow_en.convert(r)) + "\n" for r in slow_dec.feed(data))
    dec, en = Decoder(), Enricher()
    fast = dec.frame(data, Lines(en, dec))
    assert "".join(x for x in fast if x) == slow
