"""Turn a tracee's path argument into the canonical path rules are matched on.

Relative paths are resolved against /proc/TID/cwd, *at paths against
/proc/TID/fd/DIRFD (AT_FDCWD meaning the cwd), then sysfake.paths.canonical()
normalises them and rewrites the caller's own /proc/<pid>, /proc/<pid>/task/<tid>
(numbers as the caller sees them in its PID namespace -- the last NStgid/NSpid
entries of /proc/TID/status -- or as the tracer sees them) to /proc/self.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable

from sysfake.paths import canonical

AT_FDCWD = -100


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


class Resolver:
    def __init__(self) -> None:
        self._ids: dict[int, tuple[int, ...]] = {}
        self._exe: dict[int, str | None] = {}

    def forget(self, tid: int) -> None:
        self._ids.pop(tid, None)
        self._exe.pop(tid, None)

    def exec_happened(self, tgid: int) -> None:
        self._exe.pop(tgid, None)

    def self_ids(self, tid: int, tgid: int) -> tuple[int, ...]:
        """Numbers that mean "this process/thread" to `tid`, in both PID namespaces."""
        ids = self._ids.get(tid)
        if ids is None:
            found = {tid, tgid}
            try:
                with open(f"/proc/{tid}/status", encoding="ascii", errors="replace") as f:
                    for line in f:
                        key, _, value = line.partition(":")
                        if key in ("NStgid", "NSpid") and value.split():
                            found.add(int(value.split()[-1]))
            except OSError:
                pass
            ids = tuple(sorted(found))
            self._ids[tid] = ids
        return ids

    def exe(self, tgid: int) -> str | None:
        if tgid not in self._exe:
            try:
                self._exe[tgid] = os.readlink(f"/proc/{tgid}/exe")
            except OSError:
                self._exe[tgid] = None
        return self._exe[tgid]

    @staticmethod
    def comm(tid: int) -> str | None:
        try:
            with open(f"/proc/{tid}/comm", "rb") as f:
                return f.read().rstrip(b"\n").decode("utf-8", "surrogateescape")
        except OSError:
            return None

    @staticmethod
    def absolute(tid: int, raw: bytes, dirfd: int | None) -> str | None:
        """`raw` made absolute in the tracee's view, or None when it cannot be."""
        if not raw:
            return None  # "" (AT_EMPTY_PATH and friends): not a path lookup
        path = raw.decode("utf-8", "surrogateescape")
        if path.startswith("/"):
            return path
        fd = AT_FDCWD if dirfd is None else _s32(dirfd)
        link = f"/proc/{tid}/cwd" if fd == AT_FDCWD else f"/proc/{tid}/fd/{fd}"
        if fd != AT_FDCWD and fd < 0:
            return None
        try:
            base = os.readlink(link)
            root = os.readlink(f"/proc/{tid}/root")
        except OSError:
            return None
        if not base.startswith("/"):
            return None  # pipe:[..], anon_inode:..: not a directory
        if root.startswith("/") and root != "/" and (
                base == root or base.startswith(root + "/")):
            base = base[len(root):] or "/"  # chrooted: the link is in the tracer's view
        return base.rstrip("/") + "/" + path

    def canonical(self, tid: int, tgid: int, path: str,
                  traced: Callable[[int], int | None] | None = None) -> str:
        """`traced(n)`: the tgid of traced thread n, else None. /proc/<pid> of
        another traced process is /proc/self too (it sees the rules itself),
        where the caller's pids are the tracer's (no nested PID namespace)."""
        ids = self.self_ids(tid, tgid)
        p = canonical(path, pids=ids)
        if traced is None or set(ids) != {tid, tgid}:
            return p
        m = re.match(r"^/proc/(\d+)(?:/task/(\d+))?(?=/|$)", p)
        if m and traced(int(m.group(1))) == int(m.group(1)) and (
                m.group(2) is None or traced(int(m.group(2))) == int(m.group(1))):
            p = "/proc/self" + p[m.end():]
        return p
