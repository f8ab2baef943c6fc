"""Repeat records from the real core: a thread that makes the same call again
costs the stream 16 bytes, and the trace still has one whole event per call.

Three threads open the same redirected path 40 times each, in step (a barrier).
The core's stream is read here directly, so the test sees the repeat records
themselves; the `sysfake record` run checks the trace built from them.
"""
from __future__ import annotations

import json
import os
import threading
from collections import Counter
from pathlib import Path

import pytest

from support import describe, run_sysfake, run_then_python_in_gvisor, sysfake_cmd
from support.progs import Progs
from sysfake.core import run
from sysfake.record.stream import T_REPEAT, T_SYSCALL, Decoder, RawSyscall, make_pipe
from sysfake.record.syscalls import TRAPPED, trapped_numbers
from sysfake.rules import load
from sysfake.table import RecordSpec, encode

SRC = "/proc/sys/kernel/cap_last_cap"
N, REPEAT = 3, 40


def _rules(tmp_path: Path) -> Path:
    (tmp_path / "cap").write_text("x")
    f = tmp_path / "redirect.yaml"
    f.write_text(f"version: 1\nrules:\n  - match: {SRC}\n    redirect: {tmp_path}/cap\n")
    return f


def _frames(data: bytes) -> list[int]:
    types, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos:pos + 2], "little")
        types.append(data[pos + 2])
        pos += size
    return types


def test_core_writes_repeats_and_they_decode_to_every_call(progs: Progs,
                                                           tmp_path: Path) -> None:
    rules = load([str(_rules(tmp_path))])
    nrs = trapped_numbers(TRAPPED)
    table = encode(rules, record=RecordSpec(watch=["/proc"], syscalls=list(nrs.values())))
    r, w = make_pipe()
    chunks: list[bytes] = []

    def drain() -> None:
        while data := os.read(r, 1 << 16):
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        status = run(table, [progs["threads"], "-b", "-r", str(REPEAT), str(N), SRC, "x"],
                     record_fd=w)
    finally:
        os.close(w)
        reader.join(30)
        os.close(r)
    assert status == 0  # every thread read the redirect's target
    data = b"".join(chunks)
    types = Counter(_frames(data))
    # a call repeats when its result does too: the threads' fds interleave,
    # so not every one does, but many do
    assert types[T_REPEAT] >= N * REPEAT // 4, types
    dec = Decoder()
    recs = dec.feed(data)
    assert dec.error is None and dec.leftover() == 0
    opens = [x for x in recs if isinstance(x, RawSyscall) and x.canon == SRC]
    per_tid = Counter(x.tid for x in opens)
    assert len(per_tid) == N and set(per_tid.values()) == {REPEAT}, per_tid
    for tid in per_tid:
        mine = [x for x in opens if x.tid == tid]
        assert all(x.ret >= 0 and x.rule_id == 0 for x in mine)
        assert len({(x.nr, x.args, x.raw) for x in mine}) == 1
        assert [x.time for x in mine] == sorted(x.time for x in mine)
    assert T_SYSCALL in types


def test_record_trace_has_every_repeated_call(progs: Progs, tmp_path: Path) -> None:
    trace = tmp_path / "t.trace"
    res = run_sysfake(["record", "-o", str(trace), "--rules", str(_rules(tmp_path)), "--",
                       progs["threads"], "-b", "-r", str(REPEAT), str(N), SRC, "x"])
    assert res.returncode == 0 and res.stdout == f"ok {N}/{N}\n", describe(res)
    evs = [json.loads(line) for line in trace.read_text().splitlines()]
    opens = [e for e in evs if e["type"] == "syscall" and e["resolved"] == SRC]
    assert len(opens) == N * REPEAT
    by_tid: dict[int, list[dict[str, object]]] = {}
    for e in opens:
        by_tid.setdefault(int(e["pid"]), []).append(e)
    assert sorted(len(v) for v in by_tid.values()) == [REPEAT] * N
    for v in by_tid.values():
        # the same event but for the time and the fd, with the thread's own facts
        assert len({json.dumps({k: x[k] for k in x if k not in ("time", "result")},
                               sort_keys=True) for x in v}) == 1
        assert all(int(str(x["result"])) >= 0 for x in v)
        assert v[0]["errno"] is None and v[0]["comm"] == "threads"
        assert v[0]["tgid"] != v[0]["pid"]
    assert evs[-1]["type"] == "end" and evs[-1]["events"] == len(evs) - 2
    # the core's times are whole microseconds (what the C writer writes fast)
    times = [float(str(e["time"])) for e in evs[1:-1]]
    assert all(round(t * 10**6) / 10**6 == t for t in times)
    assert any(len(str(t).split(".")[1]) > 3 for t in times)


@pytest.mark.gvisor
def test_record_trace_has_every_repeated_call_in_gvisor(progs: Progs, tmp_path: Path) -> None:
    # gVisor's tids and stops differ from Linux's; the trace must not. The
    # count runs in the same sandbox (its writes stay there).
    rules = _rules(tmp_path)
    trace = tmp_path / "g.trace"
    record = sysfake_cmd(["record", "-o", str(trace), "--rules", str(rules), "--",
                          progs["threads"], "-b", "-r", str(REPEAT), str(N), SRC, "x"])
    count = ("import json,collections,sys\n"
             "ev=[json.loads(l) for l in open(sys.argv[1])]\n"
             f"c=collections.Counter(e['pid'] for e in ev if e['type']=='syscall' "
             f"and e['resolved']=={SRC!r} and e['result']>=0)\n"
             "print('counts', sorted(c.values()), 'end', ev[-1]['events']==len(ev)-2)\n")
    rc, out = run_then_python_in_gvisor(record, count, str(trace), timeout=180)
    assert rc == 0, out
    assert out.endswith(f"ok {N}/{N}\nexit=0\ncounts {[REPEAT] * N} end True\n"), out
