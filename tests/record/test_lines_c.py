"""Record mode's C line writer (csrc/render/record_lines.c) writes exactly the
lines of the Python writer, over any stream and any chunking of the pipe: it
only ever writes what Python taught it."""
from __future__ import annotations

import json
import struct
import tempfile
import time

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sysfake._core import ffi, lib

from sysfake.record.enrich import Enricher
from sysfake.record.fastline import Lines, _CWriter
from sysfake.record.stream import Decoder
from sysfake.record.trace import to_json

from . import helpers
from .test_trace_json import records

NOW = time.time()


def _repr(x: float) -> str:
    buf = ffi.new("char[64]")
    return str(ffi.string(buf, lib.sf_float_repr(x, buf, 64)).decode())


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=False)
       | st.floats(min_value=NOW - 1e6, max_value=NOW + 1e8)
       | st.integers(min_value=0, max_value=2**64 - 1).map(
           lambda b: struct.unpack("<d", struct.pack("<Q", b))[0]).filter(lambda x: x == x)
       # times with few decimals: their shortest digits are fewer than 16
       | st.integers(min_value=int(NOW * 1000) - 10**6, max_value=int(NOW * 1000) + 10**6).map(
           lambda m: m / 1000)
       # the core's times: whole microseconds, written without a search
       | st.integers(min_value=10**6, max_value=2**33 * 10**6 + 10**6).map(lambda n: n / 10**6))
@example(2e15)
@example(9.999999)
@example(10.000001)
@example(999999999.999999)
@example(1000000000.000001)
@example(1796602941.12)
@example(8589934591.999999)
@example(8589934592.000001)
@example(1796602941.1)
@example(1796602941.5)
@example(999999999.9999999)
@example(9.999999999999998)
@example(1.1)
@example(1e16)
@example(1e-05)
@example(0.0001)
@example(-0.0)
@example(5e-324)
@example(2.0**52)
@example(2.0**53 - 1)
@example(1.0)
@example(1e15 + 0.3)
@example(2.0**-24)
@example(2.0**31)
@example(2.0**31 + 2.0**-21)
@example(2.0**31 - 2.0**-22)
def test_float_repr_is_pythons(x: float) -> None:
    # times: 1 <= x < 2^53; the C writer leaves other times to Python
    assert _repr(x) == (repr(x) if 1 <= x < 2**53 else "")


def _same(got: str, want: str) -> None:
    """got == want, reported as the first differing line (pytest's diff of a
    whole trace takes minutes)."""
    if got == want:
        return
    g, w = got.splitlines(), want.splitlines()
    i = next((k for k, (a, b) in enumerate(zip(g, w)) if a != b), min(len(g), len(w)))
    raise AssertionError(f"line {i} of {len(g)}/{len(w)} differs:\n"
                         f"  got:  {g[i] if i < len(g) else None!r}\n"
                         f"  want: {w[i] if i < len(w) else None!r}")


def _slow(data: bytes) -> tuple[str, Decoder, Enricher]:
    dec, en = Decoder(), Enricher()
    return "".join(to_json(en.convert(r)) + "\n" for r in dec.feed(data)), dec, en


def _same_in_chunks(data: bytes, chunk: int) -> None:
    """Lines.feed over `data` cut into `chunk`-byte reads writes the ordinary trace."""
    slow, slow_dec, slow_en = _slow(data)
    dec = Decoder()
    lines = Lines(Enricher(), dec)
    fast: list[str] = []
    for i in range(0, len(data), chunk):
        fast += lines.feed(data[i:i + chunk])
    _same("".join(fast), slow)
    # the End line's counts and the progress line's, from the C writer's threads
    assert (dec.unknown, dec.error, lines.counts()) == (
        slow_dec.unknown, slow_dec.error,
        (slow_en.events, len(slow_en.processes), slow_en.live_processes()))
    # the recorder's way: the C writer writes the same lines to the file itself
    with tempfile.TemporaryFile() as f:
        dec = Decoder()
        lines = Lines(Enricher(), dec, out_fd=f.fileno())
        for i in range(0, len(data), chunk):
            assert lines.feed(data[i:i + chunk]) == []
        f.seek(0)
        _same(f.read().decode("utf-8", "surrogateescape"), slow)
        assert (dec.unknown, dec.error) == (slow_dec.unknown, slow_dec.error)


@settings(max_examples=400, deadline=None)
@given(st.lists(records, max_size=40), st.integers(min_value=1, max_value=97))
def test_c_lines_are_the_ordinary_trace(recs: list[bytes], chunk: int) -> None:
    _same_in_chunks(b"".join(recs), chunk)


# Records whose header is right and whose body is not: any type, any body,
# and now and then a size that does not match (or is below the header's).
junk = st.builds(lambda typ, body, size, t: struct.pack("<HBBd", size if size is not None
                                                        else 12 + len(body), typ, 0, t) + body,
                 st.integers(min_value=0, max_value=7), st.binary(max_size=40),
                 st.none() | st.integers(min_value=0, max_value=60),
                 st.floats(min_value=0, max_value=4e9))


@settings(max_examples=400, deadline=None)
@given(st.lists(records | junk, max_size=30), st.integers(min_value=1, max_value=97))
def test_c_lines_refuse_malformed_records_as_python_does(recs: list[bytes], chunk: int) -> None:
    # the C writer sends what it cannot frame back to Python: the same lines,
    # then the same error, or the same count of skipped unknown records
    _same_in_chunks(b"".join(recs), chunk)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(range(11)), min_size=1, max_size=80),
       st.lists(st.floats(min_value=0, max_value=4e9), min_size=80, max_size=80),
       st.integers(min_value=1, max_value=400))
# thread 7 (exe y) moves to process 3, whose leader shows up only later: from
# then on 7 takes the leader's facts, with no exec or fork record between
@example([9, 10, 10, 0, 10, 5], [1.5] * 80, 400)
def test_c_lines_follow_threads_execs_and_repeats(picks: list[int], times: list[float],
                                                  chunk: int) -> None:
    # loops of the same calls by threads whose facts change under them: a new
    # leader (its first record), an exec, a fork; repeats in between
    pool = [
        lambda t: helpers.syscall(t, 3, 3, 262, 0, [1, 2, 3], b"/a", b"/b", 1, 0),
        lambda t: helpers.syscall(t, 4, 3, 257, -2, [0xFFFFFF9C, 2, 0o2000000], b"/a\n",
                                  b"/\xff", -1, 0),
        lambda t: helpers.syscall(t, 5, 9, 16, -1, [3, 0x5401, 7], b"", b"", -1, 0),
        lambda t: helpers.exec_(t, 3, 1, b"/bin/x", b"x", [b"x"]),
        lambda t: helpers.fork(t, 3, 4, 0x3D0F00),
        lambda t: helpers.repeat(t, 3),
        lambda t: helpers.repeat(t, 4),
        lambda t: helpers.repeat(t, 5),
        lambda t: helpers.syscall(t, 9, 9, 62, 0, [5, 9], b"", b"", -1, 0),
        lambda t: helpers.exec_(t, 7, 0, b"/bin/y", b"y", [b"y"]),
        lambda t: helpers.syscall(t, 7, 3, 262, 0, [1, 2, 3], b"/c", b"/c", -1, 0),
    ]
    _same_in_chunks(b"".join(pool[k](times[i]) for i, k in enumerate(picks)), chunk)


def _feed_counting(data: bytes) -> tuple[str, int, list[int]]:
    """Lines.feed(data) joined, how many of its records Python wrote, and
    what the C writer asked Python for (SF_NEED_*), in order."""
    lines = Lines(Enricher(), Decoder())
    python_lines = 0
    asked: list[int] = []
    orig_call, orig_teach = Lines.__call__, _CWriter.teach

    def counting(self: Lines, buf: bytearray, pos: int, size: int) -> str | None:
        nonlocal python_lines
        python_lines += 1
        return orig_call(self, buf, pos, size)

    def teach(self: _CWriter) -> bool:
        asked.append(self.need.what)
        return orig_teach(self)

    Lines.__call__ = counting  # type: ignore[method-assign]
    _CWriter.teach = teach  # type: ignore[method-assign]
    try:
        out = "".join(lines.feed(data))
    finally:
        Lines.__call__ = orig_call  # type: ignore[method-assign]
        _CWriter.teach = orig_teach  # type: ignore[method-assign]
    return out, python_lines, asked


def test_c_writer_writes_every_line_of_a_loop() -> None:
    # not a timing: the C writer really is the one writing a loop's lines
    calls = [helpers.syscall(NOW + i, 7, 7, 262, 0, [0xFFFFFF9C, 0x1000 + i, 0x2000 + i],
                             b"/p", b"/p") for i in range(500)]
    data = b"".join(calls) + b"".join(helpers.repeat(NOW + 600 + i, 7) for i in range(500))
    out, python_lines, asked = _feed_counting(data)
    _same(out, _slow(data)[0])
    # taught newfstatat's layout once (python-ptrace has no texts for its arguments)
    assert python_lines == 0
    assert asked == [lib.SF_NEED_CALL]


def test_c_writer_writes_a_fork_exec_loop_once_taught() -> None:
    # a fork/exec loop: each child makes one watched call and exits, and
    # its parent one between forks; once the first iteration taught the
    # words (the calls, their texts, the clone flags), C writes all of it
    data = b""
    for i in range(50):
        data += (helpers.syscall(NOW + i, 7, 7, 257, 3, [0xFFFFFF9C, 0x1000, 0o1101], b"/dev/null",
                                 b"/dev/null")
                 + helpers.fork(NOW + i, 7, 100 + i, 0x4100)
                 + helpers.exec_(NOW + i, 100 + i, 7, b"/bin/cat", b"cat", [b"cat", b"/p"])
                 + helpers.syscall(NOW + i, 100 + i, 100 + i, 257, 3, [0xFFFFFF9C, 0x2000, 0],
                                   b"/p", b"/p")
                 + helpers.exit_(NOW + i, 100 + i, 0)
                 + helpers.exit_(NOW + i, 100 + i, 9))  # killed: a signal's name
    out, python_lines, asked = _feed_counting(data)
    _same(out, _slow(data)[0])
    assert python_lines == 0
    # openat's layout, its dirfd, mode and flags texts (two flags values);
    # the clone flags; SIGKILL's name
    assert sorted(asked) == sorted([lib.SF_NEED_CALL, *[lib.SF_NEED_TEXT] * 4,
                                    lib.SF_NEED_CLONE, lib.SF_NEED_SIGNAL])


def test_c_writer_names_every_errno_as_python_does() -> None:
    # errno values Python has a name for, and others ("E<n>"), at the edges
    rets = [-1, -2, -133, -134, -300, -4095, -4096, 0, 7]
    data = b"".join(helpers.syscall(NOW + i, 7, 7, 257, r, [0xFFFFFF9C, 0x1000], b"/p", b"/p")
                    for i, r in enumerate(rets * 2))
    _same("".join(Lines(Enricher(), Decoder()).feed(data)), _slow(data)[0])


def test_c_writer_escapes_paths_as_json_does() -> None:
    # every byte value, in paths the C writer writes, non-UTF-8 bytes kept
    # as they are
    paths = [bytes(range(i, i + 16)) for i in range(0, 256, 16)] + [b'"\\/\x7f\xc3\xa9\xed\xa0\x80']
    data = b"".join(helpers.syscall(NOW + i, 7, 7, 262, -2, [1, 2, 3], b"/x/" + p, p)
                    for i, p in enumerate([b"/first", b"/second", *paths]))
    out, python_lines, _ = _feed_counting(data)
    _same(out, _slow(data)[0])
    assert python_lines == 0


def test_c_writer_reads_each_argument_type_as_python_does() -> None:
    # signed and unsigned, 32 and 64 bits, texts (open flags, lseek whence):
    # register values at every edge, the same thread and call each time
    edges = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x1_0000_0000, 2**63 - 1, 2**63,
             2**64 - 1]
    data = b""
    for nr in (257, 8, 9, 0, 999):  # openat, lseek, mmap, read, unknown
        for i, v in enumerate(edges):
            data += helpers.syscall(NOW + i, 7, 7, nr, 0, [v, v, v ^ 1, v, v, v], b"", b"")
    out, python_lines, _ = _feed_counting(data)
    _same(out, _slow(data)[0])
    assert python_lines == 0


def test_c_writer_writes_long_lines_and_cut_command_lines() -> None:
    # a path of 64 KiB that escapes to six times its size (more than the
    # output buffer: it grows), a command line the core cut at 1 KiB, and
    # argv parts with no NUL after the last
    long = b"\x01" * 65000
    data = (helpers.exec_(NOW, 7, 1, b"/bin/x", b"x", [b"a" * 600, b"b" * 424])
            + helpers.syscall(NOW, 7, 7, 257, 3, [0xFFFFFF9C, 0, 0], long, b"/p")
            + helpers.exec_(NOW, 7, 1, b"/bin/x", b"x", [b"a" * 600, b"b" * 421])
            + helpers.common(2, 12 + 14 + 3, NOW) + struct.pack("<iiHHH", 7, 1, 0, 0, 3) + b"a\0b")
    out, python_lines, _ = _feed_counting(data)
    _same(out, _slow(data)[0])
    assert python_lines == 0
    assert [json.loads(x).get("argv_truncated") for x in out.splitlines()] == [
        True, None, False, False]
