"""Record stream -> trace lines, the fast way (record mode's writer).

A trapped syscall costs the tracer about 30 us; decoding its record into
RawSyscall, enriching it into a SyscallEvent and serialising that cost
Python about 13 us more, on the tracer's CPU when both share one. Lines()
goes from the record's bytes to its JSON line directly, for syscall records;
the other records (exec, fork, exit) go through Enricher and are written by
hand. The output is exactly Decoder + Enricher + to_json
(tests/record/test_trace_json.py).

Lines.feed() goes faster still: csrc/render/record_lines.c writes the lines
of the syscall and repeat records it has every piece for, and stops at the
first one it has not; this module writes that one and hands the C writer
what it worked out (the syscall's layout, the thread's facts, argument
texts, the thread's last line), from a thread's second syscall line on: a
fork/exec loop's processes make one call each. The C writer decides nothing
itself.
"""
from __future__ import annotations

import errno
import json.encoder
import struct
from functools import cache, lru_cache

from .enrich import Enricher
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
from .trace import AnyEvent, ExecEvent, ExitEvent, ForkEvent, _arg, _dumps, to_json

_str = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False
_HEAD = struct.Struct("<" + COMMON.format.lstrip("<") + SYSCALL_BODY.format.lstrip("<"))
_HEAD_SIZE = _HEAD.size
_REPEAT = struct.Struct("<" + COMMON.format.lstrip("<") + REPEAT_BODY.format.lstrip("<"))
_REST_MAX = 4096  # distinct lines kept; cleared when full
_OUT_CAP = 1 << 18  # bytes of lines the C writer fills per call
_T_EXEC_FORK_EXIT = (2, 3, 4)


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")  # what the trace file gets


class _CWriter:
    """csrc/render/record_lines.c, taught by Lines."""

    def __init__(self) -> None:
        from .._core import ffi, lib

        self.ffi, self.lib = ffi, lib
        self.h = ffi.gc(lib.sf_lines_new(), lib.sf_lines_free)
        if self.h == ffi.NULL:
            raise MemoryError
        self.calls: set[int] = set()
        self.out = ffi.new("char[]", _OUT_CAP)
        self.pos = ffi.new("size_t *")
        self.outn = ffi.new("size_t *")
        self.events = ffi.new("uint64_t *")
        for e in errno.errorcode:  # the C writer names the others "E<n>", as errno_name()
            if 0 < e < 4096:
                j = _b(_str(errno_name(e)))
                lib.sf_lines_set_errno(self.h, e, j, len(j))

    def render(self, buf: bytearray, pos: int) -> tuple[int, str, int, int]:
        """(new pos, lines, SF_LINES_* code, events) from the records at pos."""
        self.pos[0], self.outn[0], self.events[0] = pos, 0, 0
        rc = self.lib.sf_lines_render(self.h, self.ffi.from_buffer(buf), len(buf), self.pos,
                                      self.out, _OUT_CAP, self.outn, self.events)
        n = self.outn[0]
        text = (self.ffi.unpack(self.out, n).decode("utf-8", "surrogateescape")
                if n else "")
        return self.pos[0], text, rc, self.events[0]

    def teach_call(self, nr: int) -> None:
        if nr in self.calls or not 0 <= nr < 1024:
            return
        _, head, slots = _call_plan(nr)
        pre = [self.ffi.new("char[]", _b(p or "")) for p, _, _ in slots]
        hb = _b(head)
        self.lib.sf_lines_set_call(self.h, nr, hb, len(hb), len(slots),
                                   [k for _, _, k in slots],
                                   [int(p is None) for p, _, _ in slots], pre)
        self.calls.add(nr)

    def teach_texts(self, nr: int, args: tuple[int, ...]) -> None:
        name, _, slots = _call_plan(nr)
        for i, ((p, spec, kind), raw) in enumerate(zip(slots, args)):
            if p is None:
                v = convert(kind, raw)
                j = _b(_text_arg_json(name, spec, v))
                self.lib.sf_lines_set_text(self.h, nr, i, v & 0xFFFFFFFFFFFFFFFF, j, len(j))


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
    """Turn framed records into trace lines (str, with the newline)."""

    def __init__(self, enricher: Enricher, decoder: Decoder, *, c_writer: bool = True) -> None:
        self.enricher = enricher
        self.decoder = decoder
        self._c = _CWriter() if c_writer else None
        # record bytes after the time, flags and the thread's facts -> the
        # rest of the line
        self._rest: dict[tuple[bytes, int, int, int, str, str], str] = {}
        # tid -> the rest of its last syscall line, for repeat records (an
        # exec, fork or exit record ends what a repeat may refer to)
        self._last: dict[int, str] = {}
        # threads whose syscall record Python wrote once since the last exec,
        # fork or exit record: the C writer is taught a thread at its second
        # (a short-lived process makes one or two watched calls: teaching
        # it would cost more than the C writer saves)
        self._once: set[int] = set()
        self._taught = False  # the C writer knows some thread's last line

    def __call__(self, buf: bytearray, pos: int, size: int) -> str | None:
        typ = buf[pos + 2]
        if typ == T_REPEAT and size == _REPEAT.size:
            _, _, _, tm, tid = _REPEAT.unpack_from(buf, pos)
            rest = self._last.get(tid)
            if rest is None:
                raise StreamError(f"repeat record for thread {tid}, "
                                  f"which has no syscall record to repeat")
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
        bulk = self._bulk if self._c is not None else None
        return [x for x in self.decoder.frame(data, self._one, bulk) if x]

    def _bulk(self, buf: bytearray, pos: int) -> tuple[int, list[str | None], bool]:
        """The C writer's lines from pos on, until a record it was not taught."""
        c = self._c
        assert c is not None
        out: list[str | None] = []
        if not self._taught or (len(buf) > pos + 2 and buf[pos + 2] in _T_EXEC_FORK_EXIT):
            return pos, out, False  # it would stop at once: skip the call
        while True:
            pos, text, rc, events = c.render(buf, pos)
            if text:
                out.append(text)
                self.enricher.events += events
            # SF_LINES_FULL with progress: go on; without (a line too long
            # for it) as SF_LINES_NEED: the record is Python's
            if rc != 1 or not text:
                return pos, out, rc == 0  # SF_LINES_DONE: no whole record left

    def _one(self, buf: bytearray, pos: int, size: int) -> str | None:
        """One record in Python, then what it worked out to the C writer."""
        threads = len(self.enricher.threads)
        line = self(buf, pos, size)
        if self._c is not None:
            self._teach(self._c, buf, pos, size, threads)
        return line

    def _teach(self, c: _CWriter, buf: bytearray, pos: int, size: int, threads: int) -> None:
        """Hand the C writer what writing this record in Python worked out."""
        typ = buf[pos + 2]
        if typ in _T_EXEC_FORK_EXIT:
            c.lib.sf_lines_reset(c.h, 0)  # as self._last.clear(): facts may change
            self._once.clear()
            self._taught = False
            return
        if len(self.enricher.threads) != threads:
            # a new thread: others may take its facts from now on (state())
            c.lib.sf_lines_reset(c.h, 1)
        if typ == T_REPEAT and size == _REPEAT.size:
            tid = _REPEAT.unpack_from(buf, pos)[4]
        elif typ == T_SYSCALL and size >= _HEAD_SIZE:
            f = _HEAD.unpack_from(buf, pos)
            tid, nr = f[4], f[6]
            if tid not in self._once:
                self._once.add(tid)
                return
            st = self.enricher.threads[tid]
            j = _b(_thread_json(tid, st.tgid, st.ppid, st.exe, st.comm))
            c.lib.sf_lines_set_thread(c.h, tid, st.tgid, j, len(j))
            c.teach_call(nr)
            c.teach_texts(nr, tuple(f[9:15]))
        else:
            return
        r = _b(self._last[tid])
        c.lib.sf_lines_set_last(c.h, tid, r, len(r))
        self._taught = True


__all__ = ["Lines"]
