"""Record stream -> trace lines, the fast way (record mode's writer).

A trapped syscall costs the tracer about 30 us; decoding its record into
RawSyscall, enriching it into a SyscallEvent and serialising that cost
Python about 13 us more, on the tracer's CPU when both share one.

Lines.feed() hands the bytes to csrc/render/record_lines.c, which writes
every record's line and keeps each thread's facts (the Enricher's, in C).
It stops at a record that needs a word it was not taught: a syscall's name
and argument layout, an argument's symbolic text, clone flags, a signal's
name, an odd time. This module works that piece out once (python-ptrace,
the signal module) and teaches it; a fork/exec loop is taught in its first
iterations and then written by C alone. The C writer decides nothing.

Lines() on its own (c_writer=False, or called per record) writes each line
in Python from the Enricher: the reference the C writer is tested against.
Both give exactly Decoder + Enricher + to_json (tests/record/test_trace_json.py,
tests/record/test_lines_c.py).
"""
from __future__ import annotations

import errno
import os
import struct
from functools import cache, lru_cache

from .enrich import Enricher, clone_text, signal_name
from .stream import (
    COMMON,
    NO_RULE,
    REPEAT_BODY,
    SYSCALL_BODY,
    T_REPEAT,
    T_SYSCALL,
    Decoder,
    RawRepeat,
    StreamError,
    Unknown,
    decode_one,
)
from .syscalls import (
    Arg,
    ArgSpec,
    arg_text,
    convert,
    errno_name,
    may_have_text,
    name_of,
    prototype,
    value_kind,
)
from .trace import AnyEvent, ExecEvent, ExitEvent, ForkEvent, _arg, _dumps, _str, to_json

_HEAD = struct.Struct("<" + COMMON.format.lstrip("<") + SYSCALL_BODY.format.lstrip("<"))
_HEAD_SIZE = _HEAD.size
_REPEAT = struct.Struct("<" + COMMON.format.lstrip("<") + REPEAT_BODY.format.lstrip("<"))
_REST_MAX = 4096  # distinct lines kept; cleared when full
_OUT_CAP = 1 << 18  # bytes of lines the C writer fills per call
_DONE, _FULL, _NEED = 0, 1, 2  # SF_LINES_*


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")  # what the trace file gets


class _CWriter:
    """csrc/render/record_lines.c, taught by Lines what it asks for."""

    def __init__(self) -> None:
        from .._core import ffi, lib

        self.ffi, self.lib = ffi, lib
        self.h = ffi.gc(lib.sf_lines_new(), lib.sf_lines_free)
        if self.h == ffi.NULL:
            raise MemoryError
        self.cap = _OUT_CAP
        self.out = ffi.new("char[]", self.cap)
        self.pos = ffi.new("size_t *")
        self.outn = ffi.new("size_t *")
        self.need = ffi.new("struct sf_lines_need *")
        self.counts = ffi.new("uint64_t[3]")
        for e in errno.errorcode:  # the C writer names the others "E<n>", as errno_name()
            if 0 < e < 4096:
                j = _b(_str(errno_name(e)))
                lib.sf_lines_set_errno(self.h, e, j, len(j))

    def render(self, buf: bytearray, pos: int) -> tuple[int, int, int]:
        """(new pos, bytes of lines now in the output buffer, SF_LINES_* code)
        from the records at pos."""
        self.pos[0], self.outn[0] = pos, 0
        rc = self.lib.sf_lines_render(self.h, self.ffi.from_buffer(buf), len(buf), self.pos,
                                      self.out, self.cap, self.outn, self.need)
        return self.pos[0], int(self.outn[0]), rc

    def text(self, n: int) -> str:
        """The first n bytes of the output buffer, as lines."""
        data: bytes = self.ffi.unpack(self.out, n)
        return data.decode("utf-8", "surrogateescape")

    def write(self, fd: int, n: int) -> None:
        """The first n bytes of the output buffer, straight to fd: a trace of
        a stat loop is 500 bytes a line, and copying them through Python
        (bytes, str, the joined str, its encoding) cost record mode about a
        tenth of a microsecond a line each time."""
        view = memoryview(self.ffi.buffer(self.out, n))
        done = 0
        while done < n:
            done += os.write(fd, view[done:])

    def grow(self) -> None:
        """Room for a line longer than the output buffer (a path of 64 KiB, escaped)."""
        self.cap *= 2
        self.out = self.ffi.new("char[]", self.cap)

    def teach(self) -> bool:
        """Teach the piece the last render() stopped for; False: the record is
        Python's. MemoryError when the C writer could not keep it (it would
        ask again for ever)."""
        need, lib, h = self.need, self.lib, self.h
        what = need.what
        if what == lib.SF_NEED_CALL:
            rc = self._teach_call(need.nr)
        elif what == lib.SF_NEED_TEXT:
            name, _, slots = _call_plan(need.nr)
            _, spec, kind = slots[need.arg]
            v = convert(kind, need.value)  # the value as Python reads it
            j = _b(_text_arg_json(name, spec, v))
            rc = lib.sf_lines_set_text(h, need.nr, need.arg, need.value, j, len(j))
        elif what == lib.SF_NEED_CLONE:
            j = _b(_str(clone_text(need.value)))
            rc = lib.sf_lines_set_clone(h, need.value, j, len(j))
        elif what == lib.SF_NEED_SIGNAL:
            j = _b(_str(signal_name(need.arg)))
            rc = lib.sf_lines_set_signal(h, need.arg, j, len(j))
        elif what == lib.SF_NEED_TIME:
            j = _b(float.__repr__(need.time))
            rc = lib.sf_lines_set_time(h, need.time, j, len(j))
        else:
            return False
        if rc != 0:
            raise MemoryError
        return True

    def _teach_call(self, nr: int) -> int:
        _, head, slots = _call_plan(nr)
        pre = [self.ffi.new("char[]", _b(p or "")) for p, _, _ in slots]
        hb = _b(head)
        return int(self.lib.sf_lines_set_call(self.h, nr, hb, len(hb), len(slots),
                                              [k for _, _, k in slots],
                                              [int(p is None) for p, _, _ in slots], pre))

    def read_counts(self) -> tuple[int, int, int]:
        """(lines, processes seen, processes with a live thread)."""
        c = self.counts
        self.lib.sf_lines_counts(self.h, c, c + 1, c + 2)
        return int(c[0]), int(c[1]), int(c[2])


@cache
def _call_plan(nr: int) -> tuple[str, str, tuple[tuple[str | None, ArgSpec, int], ...]]:
    """How one syscall's '"syscall":...,"args":[...]' is built: the name, and per
    argument either the JSON before its value (an argument that never has a
    text: only its number varies) or None (rendered whole, by value)."""
    name = name_of(nr)
    proto = prototype(name)
    specs = (proto[:6] if proto is not None
             else tuple(ArgSpec(f"arg{i}", None) for i in range(6)))
    slots = tuple((None if may_have_text(name, sp) else
                   _dumps({"name": sp.name, "type": sp.type, "value": 0})[:-2], sp,
                   value_kind(sp.type))
                  for sp in specs)
    return name, f'"syscall":{_str(name)},"nr":{int.__repr__(nr)},"args":[', slots


@lru_cache(maxsize=8192)
def _text_arg_json(name: str, spec: ArgSpec, value: int) -> str:
    return _dumps(_arg(Arg(spec.name, spec.type, value, arg_text(name, spec, value))))


def _call_json(nr: int, args: tuple[int, int, int, int, int, int]) -> str:
    """'"syscall":...,"nr":...,"args":[...]': decode_args + _arg + json, per argument."""
    name, head, slots = _call_plan(nr)
    parts = []
    for (pre, spec, kind), raw in zip(slots, args):
        v = convert(kind, raw)
        parts.append(_text_arg_json(name, spec, v) if pre is None
                     else f"{pre}{int.__repr__(v)}}}")
    return f'{head}{",".join(parts)}]'


@lru_cache(maxsize=1024)
def _thread_json(tid: int, tgid: int, ppid: int, exe: str, comm: str) -> str:
    return (f'"pid":{int.__repr__(tid)},"tgid":{int.__repr__(tgid)},'
            f'"ppid":{int.__repr__(ppid)},"exe":{_str(exe)},"comm":{_str(comm)}')


@lru_cache(maxsize=4096)
def _paths_json(both: bytes, raw_len: int) -> str:
    """'"path":...,"resolved":...' from the record's two paths, back to back."""
    raw = both[:raw_len].decode("utf-8", "surrogateescape")
    canon = both[raw_len:].decode("utf-8", "surrogateescape")
    return (f'"path":{_str(raw) if raw else "null"},'
            f'"resolved":{_str(canon) if canon else "null"}')


@lru_cache(maxsize=1024)
def _result_json(ret: int) -> str:
    errno = errno_name(-ret) if -4096 < ret < 0 else None
    return f'"result":{int.__repr__(ret)},"errno":{"null" if errno is None else _str(errno)}'


def _opt_str(s: str | None) -> str:
    return "null" if s is None else _str(s)


def _event_json(ev: AnyEvent) -> str:
    """to_json of an exec, fork or exit event, by hand (a process's life is three
    of them: a fork/exec loop writes more of these than of syscall lines)."""
    head = (f'{{"time":{float.__repr__(ev.time)},'
            f'{_thread_json(ev.pid, ev.tgid, ev.ppid, ev.exe, ev.comm)},')
    if isinstance(ev, ForkEvent):
        return (f'{head}"child":{int.__repr__(ev.child)},'
                f'"thread":{"true" if ev.thread else "false"},'
                f'"clone_flags":{int.__repr__(ev.clone_flags)},'
                f'"clone_text":{_str(ev.clone_text)},"type":"fork"}}')
    if isinstance(ev, ExitEvent):
        return (f'{head}"status":{int.__repr__(ev.status)},'
                f'"exit_code":{"null" if ev.exit_code is None else int.__repr__(ev.exit_code)},'
                f'"signal":{_opt_str(ev.signal)},'
                f'"core_dumped":{"true" if ev.core_dumped else "false"},"type":"exit"}}')
    if isinstance(ev, ExecEvent):
        return (f'{head}"argv":[{",".join(map(_str, ev.argv))}],'
                f'"argv_truncated":{"true" if ev.argv_truncated else "false"},"type":"exec"}}')
    return to_json(ev)


class Lines:
    """Turn framed records into trace lines (str, with the newline).

    With the C writer (the default) every well-formed record is its line:
    Python only teaches it words (_CWriter.teach) and reports the records it
    refuses (malformed, of an unknown type, a repeat of nothing). Without it,
    Lines() itself writes each record, with the Enricher."""

    def __init__(self, enricher: Enricher, decoder: Decoder, *, c_writer: bool = True,
                 out_fd: int | None = None) -> None:
        """out_fd: the C writer writes its lines there itself, and feed() gives
        only the lines Python wrote (none, while the C writer takes every
        well-formed record)."""
        self.enricher = enricher
        self.decoder = decoder
        self._c = _CWriter() if c_writer else None
        self._out_fd = out_fd
        # record bytes after the time, flags and the thread's facts -> the
        # rest of the line
        self._rest: dict[tuple[bytes, int, int, int, str, str], str] = {}
        # tid -> the rest of its last syscall line, for repeat records (an
        # exec, fork or exit record ends what a repeat may refer to)
        self._last: dict[int, str] = {}
        self._counts = (0, 0, 0)

    def counts(self) -> tuple[int, int, int]:
        """(events written, processes seen, processes running), as of the last
        feed(): the End line's and the progress line's (which reads it from
        another thread: the C writer's own counts are read only by feed())."""
        if self._c is None:
            e = self.enricher
            return e.events, len(e.processes), e.live_processes()
        return self._counts

    def __call__(self, buf: bytearray, pos: int, size: int) -> str | None:
        typ = buf[pos + 2]
        if typ == T_REPEAT and size == _REPEAT.size:
            _, _, _, tm, tid = _REPEAT.unpack_from(buf, pos)
            rest = self._last.get(tid)
            if rest is None:
                raise _no_repeat(tid)
            self.enricher.events += 1
            return f'{{"time":{float.__repr__(tm)},{rest}'
        if typ != T_SYSCALL or size < _HEAD_SIZE:
            rec = decode_one(bytes(buf[pos:pos + size]))
            if isinstance(rec, Unknown):
                self.decoder.unknown += 1
                return None
            if isinstance(rec, RawRepeat):  # a repeat record of the wrong size
                raise StreamError(f"repeat record of {size} bytes")
            self._last.clear()
            return _event_json(self.enricher.convert(rec)) + "\n"
        (_, _, flags, tm, tid, tgid, nr, rid, ret, a0, a1, a2, a3, a4, a5, raw_len,
         canon_len) = _HEAD.unpack_from(buf, pos)
        p = pos + _HEAD_SIZE
        if _HEAD_SIZE + raw_len + canon_len != size:
            raise StreamError(f"syscall record of {size} bytes has path lengths "
                              f"{raw_len}+{canon_len}")
        en = self.enricher
        en.events += 1
        st = en.state(tid, tgid)
        # A loop repeats the same call: its line differs only in the time.
        key = (bytes(buf[pos + COMMON.size:pos + size]), flags, st.tgid, st.ppid, st.exe,
               st.comm)
        rest = self._rest.get(key)
        if rest is None:
            rest = (f'{_thread_json(tid, st.tgid, st.ppid, st.exe, st.comm)},'
                    f'{_call_json(nr, (a0, a1, a2, a3, a4, a5))},'
                    f'{_paths_json(bytes(buf[p:p + raw_len + canon_len]), raw_len)},'
                    f'"rule":{"null" if rid == NO_RULE else int.__repr__(rid)},'
                    f'{_result_json(ret)},"flags":{int.__repr__(flags)},"type":"syscall"}}\n')
            if len(self._rest) >= _REST_MAX:
                self._rest.clear()
            self._rest[key] = rest
        self._last[tid] = rest
        return f'{{"time":{float.__repr__(tm)},{rest}'

    def feed(self, data: bytes) -> list[str]:
        """The lines of the whole records in `data` (after what is buffered)."""
        if self._c is None:
            return [x for x in self.decoder.frame(data, self) if x]
        out = [x for x in self.decoder.frame(data, self._refused, self._bulk) if x]
        self._counts = self._c.read_counts()
        return out

    def _bulk(self, buf: bytearray, pos: int) -> tuple[int, list[str | None], bool]:
        """The C writer's lines from pos on, taught as it asks, until a record
        it refuses (then _refused) or the end of the whole records."""
        c = self._c
        assert c is not None
        out: list[str | None] = []
        while True:
            pos, n, rc = c.render(buf, pos)
            if n and self._out_fd is not None:
                c.write(self._out_fd, n)
            elif n:
                out.append(c.text(n))
            if rc == _DONE:
                return pos, out, True
            if rc == _FULL:
                if not n:
                    c.grow()
                continue
            if rc == _NEED:
                try:
                    if c.teach():
                        continue
                    return pos, out, False  # the record is _refused's
                except MemoryError:
                    pass
            # out of memory: the stream stops here, as a corrupt one does
            self.decoder.error = "the C line writer ran out of memory"
            return pos, out, True

    def _refused(self, buf: bytearray, pos: int, size: int) -> str | None:
        """A record the C writer refused: skipped when of an unknown type, else
        the reason it cannot be framed (StreamError), as Decoder gives it."""
        rec = decode_one(bytes(buf[pos:pos + size]))
        if isinstance(rec, Unknown):
            self.decoder.unknown += 1
            return None
        if isinstance(rec, RawRepeat):
            raise _no_repeat(rec.tid)
        raise StreamError(f"the C line writer refused a well-formed {type(rec).__name__}")


def _no_repeat(tid: int) -> StreamError:
    return StreamError(f"repeat record for thread {tid}, which has no syscall record to repeat")


__all__ = ["Lines"]
