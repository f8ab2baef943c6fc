"""Encode a RuleSet into the compiled rule table that the C core executes.

The format is the contract between Python and csrc/table.c; it is described
in docs/design.md ("Compiled rule table"). All integers are little-endian.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .model import Action, MatchKind, PathRule, RuleSet, VirtualFile

MAGIC = b"SFT1"
VERSION = 1
NO_VFILE = 0xFFFFFFFF

HEADER = struct.Struct("<4sIIIIIII")  # magic version n_path n_vfile n_sysrule pool_len flags n_trap
PATH_RULE = struct.Struct("<BBHiIIIIIIIIII")  # 48 bytes
VFILE = struct.Struct("<IIIIII")  # 24 bytes

TRAP = struct.Struct("<III")  # kind a b
TRAP_SYSCALL = 0
TRAP_WATCH = 1

VFILE_READONLY = 1


@dataclass
class RecordSpec:
    """What record mode watches: path prefixes, and extra syscall numbers to trap."""

    watch: list[str]
    syscalls: list[int]


class _Pool:
    def __init__(self) -> None:
        self.data = bytearray()
        self._seen: dict[bytes, int] = {}

    def add(self, value: bytes | None) -> tuple[int, int]:
        if not value:
            return 0, 0
        off = self._seen.get(value)
        if off is None:
            off = len(self.data)
            self.data += value
            self._seen[value] = off
        return off, len(value)


def _b(s: str | None) -> bytes | None:
    return None if s is None else s.encode("utf-8", "surrogateescape")


def encode(rules: RuleSet, record: RecordSpec | None = None) -> bytes:
    pool = _Pool()
    vfiles: list[VirtualFile] = []
    recs = bytearray()
    for rule_id, r in enumerate(rules.path_rules):
        vidx = NO_VFILE
        if r.action is Action.CONTENT:
            assert r.vfile is not None
            vidx = len(vfiles)
            vfiles.append(r.vfile)
        pat = pool.add(_b(r.match))
        tgt = pool.add(_b(r.target))
        exe = pool.add(_b(r.only_exe))
        comm = pool.add(_b(r.only_comm))
        recs += PATH_RULE.pack(
            int(r.kind), int(r.action), 0, r.errno,
            pat[0], pat[1], tgt[0], tgt[1], vidx,
            exe[0], exe[1], comm[0], comm[1], rule_id,
        )
    vrecs = bytearray()
    for v in vfiles:
        off, ln = pool.add(v.content)
        vrecs += VFILE.pack(off, ln, v.mode & 0o7777, v.uid, v.gid,
                            VFILE_READONLY if v.readonly else 0)
    traps = bytearray()
    n_trap = 0
    if record is not None:
        for nr in record.syscalls:
            traps += TRAP.pack(TRAP_SYSCALL, nr, 0)
            n_trap += 1
        for w in record.watch:
            off, ln = pool.add(_b(w))
            traps += TRAP.pack(TRAP_WATCH, off, ln)
            n_trap += 1
    head = HEADER.pack(MAGIC, VERSION, len(rules.path_rules), len(vfiles), 0,
                       len(pool.data), 0, n_trap)
    return bytes(head + recs + vrecs + traps + pool.data)


@dataclass
class DecodedTable:
    rules: RuleSet


def decode(blob: bytes) -> RuleSet:
    """Inverse of encode(); used by the Python backend and by tests. Raises ValueError."""
    from .model import Origin

    if len(blob) < HEADER.size:
        raise ValueError("table too short")
    magic, ver, n_path, n_vfile, n_sys, pool_len, _flags, n_trap = HEADER.unpack_from(blob, 0)
    if magic != MAGIC or ver != VERSION:
        raise ValueError("bad table magic or version")
    if n_sys:
        raise ValueError("syscall rules are not supported by this decoder")
    off = HEADER.size
    need = off + n_path * PATH_RULE.size + n_vfile * VFILE.size + n_trap * TRAP.size + pool_len
    if need != len(blob):
        raise ValueError("table size mismatch")
    pool_start = off + n_path * PATH_RULE.size + n_vfile * VFILE.size + n_trap * TRAP.size
    pool = blob[pool_start:]

    def s(o: int, n: int) -> str | None:
        if n == 0:
            return None
        if o + n > len(pool):
            raise ValueError("string outside pool")
        return pool[o:o + n].decode("utf-8", "surrogateescape")

    raw_rules = [PATH_RULE.unpack_from(blob, off + i * PATH_RULE.size) for i in range(n_path)]
    voff = off + n_path * PATH_RULE.size
    vfiles = []
    for i in range(n_vfile):
        co, cl, mode, uid, gid, fl = VFILE.unpack_from(blob, voff + i * VFILE.size)
        if co + cl > len(pool):
            raise ValueError("content outside pool")
        vfiles.append(VirtualFile(bytes(pool[co:co + cl]), mode, uid, gid,
                                  bool(fl & VFILE_READONLY)))
    out = RuleSet()
    for (kind, action, _fl, err, po, pl, to, tl, vi, eo, el, co, cl, _rid) in raw_rules:
        pat = s(po, pl)
        if pat is None:
            raise ValueError("empty pattern")
        vf = None
        if Action(action) is Action.CONTENT:
            if vi >= len(vfiles):
                raise ValueError("bad vfile index")
            vf = vfiles[vi]
        out.path_rules.append(PathRule(
            match=pat, kind=MatchKind(kind), action=Action(action), origin=Origin("<table>"),
            vfile=vf, target=s(to, tl), errno=err, only_exe=s(eo, el), only_comm=s(co, cl)))
    return out


def describe(rules: PathRule) -> str:
    """One-line human description of a rule's action (for check/explain)."""
    r = rules
    if r.action is Action.CONTENT:
        assert r.vfile is not None
        return f"content {r.vfile.content!r} mode {r.vfile.mode:o}"
    if r.action is Action.REDIRECT:
        return f"redirect -> {r.target}"
    if r.action is Action.HIDE:
        return "hide (ENOENT)"
    return f"errno {r.errno}"
