"""The binary record decoder and the pipe drain, on hand-built records."""
from __future__ import annotations

import os
import struct
import threading
import time

import pytest

from sysfake.record.stream import (
    Decoder,
    Drain,
    RawExec,
    RawExit,
    RawFork,
    RawRecord,
    RawRepeat,
    RawSyscall,
    decode_one,
    encode,
    make_pipe,
)

from .helpers import AT_FDCWD, OPENAT, T0, exec_, exit_, fork, repeat, scenario, syscall


def test_decode_each_type() -> None:
    s = decode_one(syscall(T0, 7, 5, OPENAT, -2, [AT_FDCWD, 1, 2, 3, 4, 5], b"x/y",
                           b"/a/x/y", rule=3, flags=1))
    assert s == RawSyscall(T0, 1, 7, 5, OPENAT, 3, -2, (AT_FDCWD, 1, 2, 3, 4, 5), "x/y",
                           "/a/x/y")
    e = decode_one(exec_(T0, 9, 1, b"/bin/true", b"true", [b"true", b"", b"a b"]))
    assert e == RawExec(T0, 0, 9, 1, "/bin/true", "true", ["true", "", "a b"], False)
    assert decode_one(fork(T0, 1, 2, 0x11)) == RawFork(T0, 0, 1, 2, 0x11)
    assert decode_one(exit_(T0, 2, 0x0900)) == RawExit(T0, 0, 2, 0x0900)


def test_sizes_match_the_design() -> None:
    assert len(syscall(T0, 1, 1, 0, 0)) == 12 + 76
    assert len(exec_(T0, 1, 1, b"", b"", [])) == 12 + 14
    assert len(fork(T0, 1, 2)) == 28 and len(exit_(T0, 1, 0)) == 20


def test_argv_truncated_at_1k() -> None:
    av = b"x" * 1024  # the core's 1 KiB cut, without the final NUL
    body = struct.pack("<iiHHH", 1, 0, 0, 0, len(av)) + av
    rec = struct.pack("<HBBd", 12 + len(body), 2, 0, T0) + body
    e = decode_one(rec)
    assert isinstance(e, RawExec) and e.argv_truncated and e.argv == ["x" * 1024]


def test_non_utf8_paths_survive() -> None:
    s = decode_one(syscall(T0, 1, 1, OPENAT, 0, [], b"/\xff", b"/\xff"))
    assert isinstance(s, RawSyscall) and os.fsencode(s.canon) == b"/\xff"


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64, 100000])
def test_any_chunking(step: int) -> None:
    data = scenario()
    whole = Decoder().feed(data)
    dec = Decoder()
    got: list[RawRecord] = []
    for i in range(0, len(data), step):
        got += dec.feed(data[i:i + step])
    assert got == whole and dec.error is None and dec.leftover() == 0
    assert len(whole) == 20


def test_encode_roundtrip() -> None:
    recs = Decoder().feed(scenario())
    assert b"".join(encode(r) for r in recs) == scenario()


def test_repeat_is_the_threads_last_syscall_at_a_new_time() -> None:
    a = syscall(T0, 7, 7, OPENAT, -2, [AT_FDCWD, 1], b"x", b"/x", rule=0)
    b = syscall(T0 + 1, 8, 7, OPENAT, 3, [AT_FDCWD, 2], b"y", b"/y")
    assert decode_one(repeat(T0 + 5, 8)) == RawRepeat(T0 + 5, 0, 8)
    out = Decoder().feed(a + b + repeat(T0 + 2, 7) + repeat(T0 + 3, 8) + repeat(T0 + 4, 7))
    assert [(r.time, r.tid) for r in out] == [(T0, 7), (T0 + 1, 8), (T0 + 2, 7), (T0 + 3, 8),
                                             (T0 + 4, 7)]
    assert out[2] == RawSyscall(T0 + 2, 0, 7, 7, OPENAT, 0, -2, (AT_FDCWD, 1, 0, 0, 0, 0),
                                "x", "/x")
    assert encode(RawRepeat(T0 + 5, 0, 8)) == repeat(T0 + 5, 8)


@pytest.mark.parametrize("between", [exec_(T0, 7, 1, b"/bin/x", b"x", [b"x"]), fork(T0, 7, 9),
                                     exit_(T0, 9, 0)])
def test_repeat_after_exec_fork_or_exit_is_an_error(between: bytes) -> None:
    a = syscall(T0, 7, 7, OPENAT, -2, [AT_FDCWD], b"x", b"/x")
    dec = Decoder()
    out = dec.feed(a + repeat(T0, 7) + between + repeat(T0, 7) + a)
    assert len(out) == 3 and dec.error is not None
    assert "repeat record for thread 7, which has no syscall record" in dec.error


def test_unknown_type_is_skipped() -> None:
    odd = struct.pack("<HBBd", 16, 99, 0, T0) + b"abcd"
    dec = Decoder()
    out = dec.feed(fork(T0, 1, 2) + odd + exit_(T0, 2, 0))
    assert [type(r) for r in out] == [RawFork, RawExit] and dec.unknown == 1


def test_corrupt_size_stops_decoding() -> None:
    dec = Decoder()
    out = dec.feed(fork(T0, 1, 2) + struct.pack("<HBBd", 4, 1, 0, T0) + fork(T0, 1, 3))
    assert len(out) == 1 and dec.error is not None and "bad record size 4" in dec.error
    assert dec.feed(fork(T0, 1, 4)) == []


def test_inconsistent_lengths_are_an_error() -> None:
    rec = bytearray(syscall(T0, 1, 1, OPENAT, 0, [], b"ab", b"/ab"))
    struct.pack_into("<H", rec, 12 + 72, 9)  # raw_len beyond the record
    dec = Decoder()
    assert dec.feed(bytes(rec)) == [] and dec.error and "path lengths" in dec.error


def test_truncated_stream_is_reported() -> None:
    r, w = make_pipe()
    got: list[RawRecord] = []
    d = Drain(r, got.extend)
    d.start()
    os.write(w, fork(T0, 1, 2) + exit_(T0, 2, 0)[:7])
    os.close(w)
    errs = d.finish(10)
    assert len(got) == 1 and any("ends inside a record (7 bytes" in e for e in errs)


def test_drain_keeps_the_pipe_empty_while_the_sink_is_slow() -> None:
    """The writer (standing in for the tracer) must never wait on a slow sink."""
    r, w = make_pipe()
    batches: list[int] = []
    records = 0

    def slow_sink(recs: list[RawRecord]) -> None:
        nonlocal records
        records += len(recs)
        batches.append(len(recs))
        time.sleep(0.3)

    d = Drain(r, slow_sink)
    d.start()
    chunk = b"".join(fork(T0, 1, i) for i in range(2048))  # 56 KiB
    n_chunks = 200  # ~11 MiB: far more than any pipe buffer
    t0 = time.monotonic()
    for _ in range(n_chunks):
        os.write(w, chunk)  # blocking write, like the core's
    wrote_in = time.monotonic() - t0
    sink_busy_until = 0.3 * len(batches)
    os.close(w)
    errs = d.finish(60)
    assert errs == []
    assert records == 2048 * n_chunks
    # the writer finished long before the sink could have consumed batch by batch
    assert wrote_in < 5.0, wrote_in
    assert len(batches) < n_chunks / 4, (len(batches), sink_busy_until)


def _flood_then_finish(d: Drain, w: int) -> list[str]:
    """Write 50 x 4096 fork records (more than a pipe holds) into a started
    drain: the writer must never block on it. The errors finish() gives."""
    th = threading.Thread(target=lambda: [os.write(w, fork(T0, 1, 2) * 4096)
                                          for _ in range(50)])
    th.start()
    th.join(20)
    assert not th.is_alive()
    os.close(w)
    return d.finish(10)


def test_drain_sink_error_keeps_draining() -> None:
    r, w = make_pipe()

    def bad(recs: list[RawRecord]) -> None:
        raise OSError("disk full")

    d = Drain(r, bad)
    d.start()
    errs = _flood_then_finish(d, w)
    assert any("disk full" in e for e in errs)


def test_drain_converter_error_keeps_draining_and_is_reported() -> None:
    # the bytes -> lines step failing (say python-ptrace cannot be imported
    # for a word the C writer asks for) must not stop the drain: the tracer
    # would block on a full pipe
    r, w = make_pipe()
    d = Drain(r, lambda recs: None)

    def broken(data: bytes) -> list[str]:
        raise ImportError("No module named 'ptrace'")

    d.chunk = broken
    d.start()
    errs = _flood_then_finish(d, w)
    assert any("ptrace" in e for e in errs), errs


def test_bad_record_size_names_its_offset_in_the_whole_stream() -> None:
    # two good records (28 bytes each), then a size of 3, fed in any chunking
    data = fork(T0, 1, 2) * 2 + b"\x03\x00" + b"\x00" * 20
    for chunk in (1, 5, 28, 29, len(data)):
        dec = Decoder()
        got = []
        for i in range(0, len(data), chunk):
            got += dec.feed(data[i:i + chunk])
        assert len(got) == 2
        assert dec.error == "bad record size 3 at stream offset 56", (chunk, dec.error)
