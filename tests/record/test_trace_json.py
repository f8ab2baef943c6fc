"""The trace writer's fast path for syscall records writes exactly what
json.dumps(asdict(record)) writes (the schema in docs/record.md is defined by
the dataclasses; the fast path only saves time in record mode)."""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sysfake.record.syscalls import Arg
from sysfake.record.trace import SyscallEvent, to_json


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
