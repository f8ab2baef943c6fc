"""Hand-built binary records (struct.pack straight from docs/design.md) and traces."""
from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from sysfake.record.enrich import Enricher
from sysfake.record.stream import Decoder
from sysfake.record.trace import FORMAT, End, Header, RuleInfo, TraceWriter

T0 = 1_700_000_000.0


def common(typ: int, size: int, t: float, flags: int = 0) -> bytes:
    return struct.pack("<HBBd", size, typ, flags, t)


def syscall(t: float, tid: int, tgid: int, nr: int, ret: int, args: Sequence[int] = (),
            raw: bytes = b"", canon: bytes = b"", rule: int = -1, flags: int = 0) -> bytes:
    a = [*args, 0, 0, 0, 0, 0, 0][:6]
    body = struct.pack("<iiiiq6QHH", tid, tgid, nr, rule, ret, *a, len(raw), len(canon))
    body += raw + canon
    return common(1, 12 + len(body), t, flags) + body


def exec_(t: float, tid: int, ppid: int, exe: bytes, comm: bytes, argv: Sequence[bytes]) -> bytes:
    av = b"".join(x + b"\0" for x in argv)
    body = struct.pack("<iiHHH", tid, ppid, len(exe), len(comm), len(av)) + exe + comm + av
    return common(2, 12 + len(body), t) + body


def fork(t: float, parent: int, child: int, flags: int = 17) -> bytes:
    return common(3, 28, t) + struct.pack("<iiQ", parent, child, flags)


def exit_(t: float, tid: int, status: int) -> bytes:
    return common(4, 20, t) + struct.pack("<ii", tid, status)


def repeat(t: float, tid: int, flags: int = 0) -> bytes:
    return common(5, 16, t, flags) + struct.pack("<i", tid)


OPENAT, IOCTL, WRITE_ = 257, 16, 1
AT_FDCWD = 0xFFFFFF9C  # -100 as the register holds it (upper half zero)
ENOENT, EPERM, EIO = 2, 1, 5


def scenario() -> bytes:
    """sh (100) forks sh (101) which forks reader (102, two threads) reading three
    /proc/sys files hidden by rule 0; reader also writes overcommit_memory (EIO) and
    fails an ioctl; 103 is a short-lived sibling killed by SIGKILL."""
    b = b""
    b += exec_(T0, 100, 1, b"/bin/sh", b"sh", [b"sh", b"-c", b"sh -c reader"])
    b += fork(T0 + 0.1, 100, 101)
    b += exec_(T0 + 0.2, 101, 100, b"/bin/sh", b"sh", [b"sh", b"-c", b"reader"])
    b += fork(T0 + 0.3, 101, 102)
    b += exec_(T0 + 0.4, 102, 101, b"/usr/bin/reader", b"reader", [b"reader", b"x"])
    b += fork(T0 + 0.45, 102, 112, 0x3D0F00)  # a thread (CLONE_THREAD|CLONE_VM|...)
    for i, p in enumerate([b"/proc/sys/kernel/cap_last_cap", b"/proc/sys/kernel/panic_on_oops",
                           b"/proc/sys/kernel/sfk_unknown"]):
        b += syscall(T0 + 0.5 + i / 100, 102, 102, OPENAT, -ENOENT,
                     [AT_FDCWD, 0x1000, 0o2000000, 0], p, p, rule=0)
    b += syscall(T0 + 0.55, 112, 102, OPENAT, -EIO, [AT_FDCWD, 0x1000, 0o1, 0],
                 b"overcommit_memory", b"/proc/sys/vm/overcommit_memory")
    b += syscall(T0 + 0.56, 112, 102, OPENAT, -ENOENT, [AT_FDCWD, 0x1000, 0, 0],
                 b"/sys/fs/cgroup/unified", b"/sys/fs/cgroup/unified")
    b += syscall(T0 + 0.57, 102, 102, IOCTL, -EPERM, [3, 0x8914, 0x7FFF0000])
    b += syscall(T0 + 0.58, 102, 102, IOCTL, -EPERM, [3, 0x8914, 0x7FFF0000])
    b += syscall(T0 + 0.59, 102, 102, OPENAT, 3, [AT_FDCWD, 0x1000, 0, 0],
                 b"/proc/self/status", b"/proc/self/status")
    b += exit_(T0 + 0.6, 112, 0)
    b += exit_(T0 + 0.61, 102, 1 << 8)
    b += fork(T0 + 0.62, 101, 103)
    b += exit_(T0 + 0.63, 103, 9)
    b += exit_(T0 + 0.7, 101, 1 << 8)
    b += exit_(T0 + 0.8, 100, 1 << 8)
    return b


HIDE_RULE = RuleInfo(0, "/proc/sys/kernel/*", "glob", "hide", "hide.yaml:3:5", "hide (ENOENT)")


def write_trace(path: Path, data: bytes, rules: Sequence[RuleInfo] = (HIDE_RULE,),
                end: bool = True) -> None:
    dec = Decoder()
    recs = dec.feed(data)
    assert dec.error is None and dec.leftover() == 0
    en = Enricher()
    with open(path, "w") as f:
        w = TraceWriter(f)
        w.write(Header(FORMAT, "test", T0, ["sh", "-c", "sh -c reader"], "/", ["/proc", "/sys"],
                       ["ioctl"], list(rules)))
        for r in recs:
            w.write(en.convert(r))
        if end:
            w.write(End(T0 + 1, 1, en.events, len(en.processes)))
