"""Record stream -> trace lines, the fast way (record mode's writer).

A trapped syscall costs the tracer about 30 us; decoding its record into
RawSyscall, enriching it into a SyscallEvent and serialising that cost
Python about 13 us more, on the tracer's CPU when both share one. Lines()
goes from the record's bytes to its JSON line directly, for syscall records;
the other records (exec, fork, exit: few) take the ordinary way. The output
is exactly Decoder + Enricher + to_json (tests/record/test_trace_json.py).
"""
from __future__ import annotations

import json.encoder
import struct
from functools import lru_cache

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
from .syscalls import decode_args, errno_name, name_of
from .trace import _arg, _dumps, to_json

_str = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False
_HEAD = struct.Struct("<" + COMMON.format.lstrip("<") + SYSCALL_BODY.format.lstrip("<"))
_HEAD_SIZE = _HEAD.size
_REPEAT = struct.Struct("<" + COMMON.format.lstrip("<") + REPEAT_BODY.format.lstrip("<"))
_REST_MAX = 4096  # distinct lines kept; cleared when full


@lru_cache(maxsize=4096)
def _call_json(nr: int, args: tuple[int, int, int, int, int, int]) -> str:
    """'"syscall":...,"nr":...,"args":[...]' for one distinct call."""
    name = name_of(nr)
    return (f'"syscall":{_str(name)},"nr":{int.__repr__(nr)},'
            f'"args":{_dumps([_arg(a) for a in decode_args(name, args)])}')


@lru_cache(maxsize=1024)
def _result_json(ret: int) -> str:
    errno = errno_name(-ret) if -4096 < ret < 0 else None
    return f'"result":{int.__repr__(ret)},"errno":{"null" if errno is None else _str(errno)}'


class Lines:
    """Turn framed records into trace lines (str, with the newline)."""

    def __init__(self, enricher: Enricher, decoder: Decoder) -> None:
        self.enricher = enricher
        self.decoder = decoder
        # record bytes after the time, flags and the thread's facts -> the
        # rest of the line
        self._rest: dict[tuple[bytes, int, int, int, str, str], str] = {}
        # tid -> the rest of its last syscall line, for repeat records (an
        # exec, fork or exit record ends what a repeat may refer to)
        self._last: dict[int, str] = {}

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
            return to_json(self.enricher.convert(rec)) + "\n"
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
            raw = bytes(buf[p:p + raw_len]).decode("utf-8", "surrogateescape")
            canon = bytes(buf[p + raw_len:p + raw_len + canon_len]).decode(
                "utf-8", "surrogateescape")
            rest = (f'"pid":{int.__repr__(tid)},'
                    f'"tgid":{int.__repr__(st.tgid)},"ppid":{int.__repr__(st.ppid)},'
                    f'"exe":{_str(st.exe)},"comm":{_str(st.comm)},'
                    f'{_call_json(nr, (a0, a1, a2, a3, a4, a5))},'
                    f'"path":{_str(raw) if raw else "null"},'
                    f'"resolved":{_str(canon) if canon else "null"},'
                    f'"rule":{"null" if rid == NO_RULE else int.__repr__(rid)},'
                    f'{_result_json(ret)},"flags":{int.__repr__(flags)},"type":"syscall"}}\n')
            if len(self._rest) >= _REST_MAX:
                self._rest.clear()
            self._rest[key] = rest
        self._last[tid] = rest
        return f'{{"time":{float.__repr__(tm)},{rest}'


__all__ = ["Lines"]
