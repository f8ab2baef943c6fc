"""Count a tracer's own syscalls: one untimed run under `strace -c`.

strace follows the tracer process only (no -f), so the counts are what the
tracer asks of the kernel to handle the workload's stops, not what the
workload does. `sysfake run` execs its launcher in the same process, so its
counts include Python's start-up and then the C loop. The summary is piped
to stderr (`-o |cat >&2`): inside runsc a file the tracer writes stays in
the sandbox's overlay.
"""
from __future__ import annotations

import re
from typing import Any

# "% time     seconds  usecs/call     calls    errors syscall": a row is
# percent, seconds, usecs/call, calls, [errors], name
_ROW = re.compile(rb"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$")
_HEAD = re.compile(rb"^% time\s+seconds\s+usecs/call\s+calls\s+errors\s+syscall\s*$")


def wrap(strace: str, argv: list[str]) -> list[str]:
    return [strace, "-c", "-o", "|cat >&2", "--", *argv]


def parse(stderr: bytes) -> dict[str, int] | None:
    """The last `strace -c` table in stderr as {syscall: calls}, without the
    total row; None when there is none."""
    lines = stderr.splitlines()
    starts = [i for i, ln in enumerate(lines) if _HEAD.match(ln)]
    if not starts:
        return None
    out: dict[str, int] = {}
    for ln in lines[starts[-1] + 1:]:
        if ln.startswith(b"---"):
            continue
        m = _ROW.match(ln)
        if not m:
            break
        name = m.group(2).decode()
        if name != "total":
            out[name] = int(m.group(1))
    return out


def summary(calls: dict[str, int], intercepted: int | None) -> dict[str, Any]:
    """Totals and, per intercepted syscall of the workload, each call's count."""
    ordered = dict(sorted(calls.items(), key=lambda kv: -kv[1]))  # most first
    total = sum(ordered.values())
    n = intercepted or 0
    per = {k: round(v / n, 3) for k, v in ordered.items()} if n else {}
    return {"total": total, "calls": ordered,
            "per_intercepted": round(total / n, 3) if n else None,
            "per_intercepted_by_call": per}


def line(name: str, s: dict[str, Any], top: int = 6) -> str:
    """`  floor-r   4.00 a call: ptrace 2.00, wait4 1.00, ...` for the report."""
    if "error" in s:
        return f"  {name:15s} {s['error']}"
    if s["per_intercepted"] is None:
        return f"  {name:15s} {s['total']} in all"
    parts = [f"{k} {v:.2f}" for k, v in list(s["per_intercepted_by_call"].items())[:top]
             if v >= 0.01]  # start-up's few calls are noise at this scale
    return f"  {name:15s} {s['per_intercepted']:6.2f} a call: {', '.join(parts)}"
