"""The binary record stream from the C core, and the thread that drains it.

Format (docs/design.md, "Record stream"; little-endian): every record starts
with `u16 size` (whole record), `u8 type`, `u8 flags`, `f64 time`; the body
depends on the type (syscall 1, exec 2, fork 3, exit 4, repeat 5: the
thread's last syscall record again, at a new time).

`Drain` owns the read end of the pipe. One thread only moves bytes from the
pipe into memory (so the pipe never fills and the tracer never waits on
Python); a second thread decodes them, enriches them (enrich.Enricher) and
writes JSON Lines.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import threading
from collections import deque
from collections.abc import Callable

from ..datatype import NamedTuple

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import Any, TypeAlias, TypeVar

    T = TypeVar("T")

COMMON = struct.Struct("<HBBd")  # size type flags time: 12 bytes
SYSCALL_BODY = struct.Struct("<iiiiq6QHH")  # tid tgid nr rule_id ret args[6] raw_len canon_len
EXEC_BODY = struct.Struct("<iiHHH")  # tid ppid exe_len comm_len argv_len
FORK_BODY = struct.Struct("<iiQ")  # parent_tid child_tid clone_flags
EXIT_BODY = struct.Struct("<ii")  # tid wait_status
REPEAT_BODY = struct.Struct("<i")  # tid

T_SYSCALL, T_EXEC, T_FORK, T_EXIT, T_REPEAT = 1, 2, 3, 4, 5
ARGV_MAX = 1024  # the core keeps this much of /proc/PID/cmdline
NO_RULE = -1


class StreamError(Exception):
    """The byte stream is not a valid record stream (the rest cannot be framed)."""


def _s(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


# NamedTuples, not frozen dataclasses: one is made per record, and both
# making and defining them cost a fraction (start-up counts: record mode);
# datatype's, not typing's: those cost record's start-up 1 ms more.
class RawSyscall(NamedTuple):
    time: float
    flags: int
    tid: int
    tgid: int
    nr: int
    rule_id: int  # -1: none
    ret: int  # result or -errno
    args: tuple[int, int, int, int, int, int]
    raw: str  # path as named ("" when the syscall has none)
    canon: str  # canonical path ("" when none)


class RawExec(NamedTuple):
    time: float
    flags: int
    tid: int
    ppid: int
    exe: str
    comm: str
    argv: list[str]
    argv_truncated: bool


class RawFork(NamedTuple):
    time: float
    flags: int
    parent: int
    child: int
    clone_flags: int


class RawExit(NamedTuple):
    time: float
    flags: int
    tid: int
    status: int


RawRecord: TypeAlias = "RawSyscall | RawExec | RawFork | RawExit"


class RawRepeat(NamedTuple):
    """Thread `tid`'s last syscall record again, at `time` (Decoder resolves it)."""

    time: float
    flags: int
    tid: int


class Unknown(NamedTuple):
    """A well-framed record of a type this decoder does not know (skipped)."""

    type: int
    size: int


def decode_one(rec: bytes) -> RawRecord | RawRepeat | Unknown:
    """Decode one whole record (exactly `size` bytes). Raises StreamError.
    A repeat record stays a RawRepeat: only a Decoder knows what it repeats."""
    if len(rec) < COMMON.size:
        raise StreamError(f"record of {len(rec)} bytes is shorter than its header")
    size, typ, flags, tm = COMMON.unpack_from(rec, 0)
    if size != len(rec):
        raise StreamError(f"record size {size} but {len(rec)} bytes given")
    body = memoryview(rec)[COMMON.size:]
    if typ == T_SYSCALL:
        if len(body) < SYSCALL_BODY.size:
            raise StreamError(f"syscall record too short ({size} bytes)")
        f = SYSCALL_BODY.unpack_from(body, 0)
        tid, tgid, nr, rid, ret = f[0:5]
        args = tuple(f[5:11])
        raw_len, canon_len = f[11], f[12]
        p = SYSCALL_BODY.size
        if p + raw_len + canon_len != len(body):
            raise StreamError(f"syscall record of {size} bytes has path lengths "
                              f"{raw_len}+{canon_len}")
        raw = bytes(body[p:p + raw_len])
        canon = bytes(body[p + raw_len:p + raw_len + canon_len])
        return RawSyscall(tm, flags, tid, tgid, nr, rid, ret,
                          (args[0], args[1], args[2], args[3], args[4], args[5]),
                          _s(raw), _s(canon))
    if typ == T_EXEC:
        if len(body) < EXEC_BODY.size:
            raise StreamError(f"exec record too short ({size} bytes)")
        tid, ppid, el, cl, al = EXEC_BODY.unpack_from(body, 0)
        p = EXEC_BODY.size
        if p + el + cl + al != len(body):
            raise StreamError(f"exec record of {size} bytes has lengths {el}+{cl}+{al}")
        exe = _s(bytes(body[p:p + el]))
        comm = _s(bytes(body[p + el:p + el + cl]))
        argv_b = bytes(body[p + el + cl:p + el + cl + al])
        truncated = al >= ARGV_MAX  # possibly cut: the core reads at most 1 KiB
        parts = argv_b.split(b"\0")
        if parts and parts[-1] == b"":
            parts.pop()
        return RawExec(tm, flags, tid, ppid, exe, comm, [_s(a) for a in parts], truncated)
    if typ == T_FORK:
        if len(body) != FORK_BODY.size:
            raise StreamError(f"fork record of {size} bytes")
        parent, child, cflags = FORK_BODY.unpack_from(body, 0)
        return RawFork(tm, flags, parent, child, cflags)
    if typ == T_EXIT:
        if len(body) != EXIT_BODY.size:
            raise StreamError(f"exit record of {size} bytes")
        tid, status = EXIT_BODY.unpack_from(body, 0)
        return RawExit(tm, flags, tid, status)
    if typ == T_REPEAT:
        if len(body) != REPEAT_BODY.size:
            raise StreamError(f"repeat record of {size} bytes")
        (tid,) = REPEAT_BODY.unpack_from(body, 0)
        return RawRepeat(tm, flags, tid)
    return Unknown(typ, size)


_SIZE = struct.Struct("<H")




class Decoder:
    """Incremental framing: feed() bytes in any chunking, get whole records back.

    After a framing error (a size smaller than the common header) the stream
    cannot be re-synchronised: `error` is set and further input is ignored."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._consumed = 0  # stream bytes before _buf (framed and dropped)
        self.error: str | None = None
        self.unknown = 0  # skipped records of unknown type
        self._last: dict[int, RawSyscall] = {}  # what a repeat record repeats

    def _decode_at(self, buf: bytearray, pos: int, size: int) -> RawRecord | Unknown:
        rec = decode_one(bytes(buf[pos:pos + size]))
        if isinstance(rec, RawRepeat):
            last = self._last.get(rec.tid)
            if last is None:
                raise StreamError(f"repeat record for thread {rec.tid}, "
                                  f"which has no syscall record to repeat")
            return last._replace(time=rec.time)
        if isinstance(rec, RawSyscall):
            self._last[rec.tid] = rec
        elif not isinstance(rec, Unknown):
            self._last.clear()
        return rec

    def feed(self, data: bytes) -> list[RawRecord]:
        out: list[RawRecord] = []
        for rec in self.frame(data, self._decode_at):
            if isinstance(rec, Unknown):
                self.unknown += 1
            else:
                out.append(rec)
        return out

    def frame(self, data: bytes, fn: Callable[[bytearray, int, int], T],
              bulk: Callable[[bytearray, int], tuple[int, list[T], bool]] | None = None,
              ) -> list[T]:
        """Whole records in `data` (after what is buffered), each as fn(buf, pos, size).
        fn may raise StreamError: the stream stops there, as in feed().

        `bulk(buf, pos)`, when given, goes first at each record and may take
        any number of whole ones: it returns (new pos, what they gave, whether
        no whole record is left); fn takes the record it stopped at."""
        if self.error is not None:
            return []
        self._buf += data
        out: list[T] = []
        pos = 0
        buf = self._buf
        n = len(buf)
        while n - pos >= 2:
            if bulk is not None:
                pos, more, done = bulk(buf, pos)
                out += more
                if done or n - pos < 2:
                    break
            (size,) = _SIZE.unpack_from(buf, pos)
            if size < COMMON.size:
                self.error = f"bad record size {size} at stream offset {self._consumed + pos}"
                break
            if n - pos < size:
                break
            try:
                out.append(fn(buf, pos, size))
            except StreamError as e:
                self.error = str(e)
                break
            pos += size
        del buf[:pos]
        self._consumed += pos
        if self.error is not None:
            self._buf.clear()
        return out

    def leftover(self) -> int:
        """Bytes of an incomplete record still buffered (at EOF: a truncated stream)."""
        return len(self._buf)


# ---------------------------------------------------------------- encoding (tests, tools)

def _common(typ: int, size: int, tm: float, flags: int = 0) -> bytes:
    return COMMON.pack(size, typ, flags, tm)


def encode_syscall(r: RawSyscall) -> bytes:
    raw, canon = os.fsencode(r.raw), os.fsencode(r.canon)
    body = SYSCALL_BODY.pack(r.tid, r.tgid, r.nr, r.rule_id, r.ret, *r.args,
                             len(raw), len(canon)) + raw + canon
    return _common(T_SYSCALL, COMMON.size + len(body), r.time, r.flags) + body


def encode_exec(r: RawExec) -> bytes:
    exe, comm = os.fsencode(r.exe), os.fsencode(r.comm)
    argv = b"".join(os.fsencode(a) + b"\0" for a in r.argv)[:ARGV_MAX]
    body = EXEC_BODY.pack(r.tid, r.ppid, len(exe), len(comm), len(argv)) + exe + comm + argv
    return _common(T_EXEC, COMMON.size + len(body), r.time, r.flags) + body


def encode_fork(r: RawFork) -> bytes:
    body = FORK_BODY.pack(r.parent, r.child, r.clone_flags)
    return _common(T_FORK, COMMON.size + len(body), r.time, r.flags) + body


def encode_exit(r: RawExit) -> bytes:
    body = EXIT_BODY.pack(r.tid, r.status)
    return _common(T_EXIT, COMMON.size + len(body), r.time, r.flags) + body


def encode_repeat(r: RawRepeat) -> bytes:
    body = REPEAT_BODY.pack(r.tid)
    return _common(T_REPEAT, COMMON.size + len(body), r.time, r.flags) + body


def encode(r: RawRecord | RawRepeat) -> bytes:
    if isinstance(r, RawRepeat):
        return encode_repeat(r)
    if isinstance(r, RawSyscall):
        return encode_syscall(r)
    if isinstance(r, RawExec):
        return encode_exec(r)
    if isinstance(r, RawFork):
        return encode_fork(r)
    return encode_exit(r)


# ---------------------------------------------------------------- draining the pipe

PIPE_SIZE = 1 << 20  # ask for a 1 MiB pipe buffer (capped by fs/pipe-max-size)
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def make_pipe() -> tuple[int, int]:
    """(read end, write end), both close-on-exec, with a large pipe buffer if allowed."""
    r, w = os.pipe()  # Python's pipes are not inheritable (O_CLOEXEC)
    for size in (PIPE_SIZE, 256 << 10):
        try:
            fcntl.fcntl(w, _F_SETPIPE_SZ, size)
            break
        except OSError:
            continue
    return r, w


class Drain:
    """Drain `read_fd` into `sink` (called with each batch of decoded records).

    start() launches two daemon threads: the reader only copies bytes into an
    in-memory queue; the worker decodes them and calls `sink`. finish() (after
    the write end is closed) waits for both and returns the stream errors."""

    def __init__(self, read_fd: int, sink: Callable[[list[Any]], None]) -> None:
        """`sink` gets RawRecords, as Decoder.feed gives them, unless `chunk` is
        set: it gets each chunk of bytes and frames it itself (with self.decoder)."""
        self.fd = read_fd
        self.sink = sink
        self.chunk: Callable[[bytes], list[Any]] | None = None
        self.decoder = Decoder()
        self._chunks: deque[bytes] = deque()
        self._cv = threading.Condition()
        self._eof = False
        self.read_error: str | None = None
        self.sink_error: str | None = None
        self.bytes_read = 0
        self._reader = threading.Thread(target=self._read, name="sysfake-record-read",
                                        daemon=True)
        self._worker = threading.Thread(target=self._work, name="sysfake-record-decode",
                                        daemon=True)

    def start(self) -> None:
        self._reader.start()
        self._worker.start()

    def _read(self) -> None:
        try:
            while True:
                try:
                    data = os.read(self.fd, 1 << 16)
                except InterruptedError:  # pragma: no cover - PEP 475 retries
                    continue
                except OSError as e:
                    self.read_error = f"reading the record pipe failed: {e.strerror or e}"
                    break
                if not data:
                    break
                self.bytes_read += len(data)
                with self._cv:
                    self._chunks.append(data)
                    self._cv.notify()
        finally:
            with self._cv:
                self._eof = True
                self._cv.notify()

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._chunks and not self._eof:
                    self._cv.wait()
                if not self._chunks and self._eof:
                    return
                data = b"".join(self._chunks)
                self._chunks.clear()
            if self.sink_error is not None:
                continue  # keep draining: the tracer must never block
            try:
                recs: list[Any] = (self.chunk(data) if self.chunk is not None
                                   else self.decoder.feed(data))
                if recs:
                    self.sink(recs)
            except Exception as e:  # "Broken pipe", not "[Errno 32] Broken pipe"
                from ..text import os_error
                why = os_error(e) if isinstance(e, OSError) else str(e) or type(e).__name__
                self.sink_error = f"writing the trace failed: {why}"

    def finish(self, timeout: float | None = None) -> list[str]:
        """Wait for the end of the stream (the write end closed everywhere) and for
        the worker; return the problems seen. With a timeout, a stream that has
        not ended by then (another process holds the write end) is cut there."""
        self._reader.join(timeout)
        cut = self._reader.is_alive()
        if cut:
            with self._cv:
                self._eof = True
                self._cv.notify()
        self._worker.join(timeout)
        errors = [e for e in (self.read_error, self.sink_error) if e]
        if cut:
            errors.append("the record pipe did not close (another process holds it); "
                          "the trace stops here")
        else:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        if self.decoder.error:
            errors.append(f"record stream corrupt: {self.decoder.error}; the rest was dropped")
        elif self.decoder.leftover() and self.sink_error is None:  # else: cut by the error
            errors.append(f"record stream ends inside a record "
                          f"({self.decoder.leftover()} bytes dropped)")
        if self.decoder.unknown:
            errors.append(f"{self.decoder.unknown} records of unknown type skipped")
        return errors


__all__ = ["ARGV_MAX", "NO_RULE", "Decoder", "Drain", "RawExec", "RawExit", "RawFork",
           "RawRecord", "RawRepeat", "RawSyscall", "StreamError", "Unknown", "decode_one", "encode",
           "make_pipe"]
