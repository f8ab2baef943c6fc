"""Encode a RuleSet into the compiled rule table that the C core executes.

The format is the contract between Python and csrc/table.c; it is described
in docs/design.md ("Compiled rule table"). All integers are little-endian.
"""
from __future__ import annotations

import struct

from .datatype import datatype, field
from .model import Action, MatchKind, PathRule, RuleSet, SyscallRule, VirtualFile

MAGIC = b"SFT1"
VERSION = 3
NO_VFILE = 0xFFFFFFFF

# magic version n_path n_vfile n_sysrule pool_len emul n_trap n_patch n_aset rsvd rsvd
HEADER = struct.Struct("<4sIIIIIIIIIII")
PATH_RULE = struct.Struct("<BBHiIIIIIIIIII")  # 48 bytes
VFILE = struct.Struct("<IIIIII")  # 24 bytes

TRAP = struct.Struct("<III")  # kind a b
TRAP_SYSCALL = 0
TRAP_WATCH = 1
TRAP_CGROUP_ROOT = 2
TRAP_CGROUP_FILES = 3
# nr rule_id action path_arg path_fd path_kind err retval path exe comm (off,len)
# when_first when_last when_step delay_us patch_first patch_count aset_first aset_count
# if_errno[4], then 4 argument matchers
SYSRULE_HEAD = struct.Struct("<IIBBBBiqIIIIIIIIIIIIII4h")
ARGM = struct.Struct("<BBBBIQQ")  # idx op width pad pad value mask
SYSRULE_SIZE = SYSRULE_HEAD.size + 4 * ARGM.size
PATCH = struct.Struct("<BBHIII")  # arg pad pad offset data_off data_len
ASET = struct.Struct("<BBHIQ")  # idx op pad pad value
NO_ARG = 0xFF

VFILE_READONLY = 1
VFILE_DIR = 2  # content is the tracer-view path of the placeholder directory
VFILE_DIR_WEAK = 4  # a directory listed only where the process lacks the real one


@datatype
class RecordSpec:
    """What record mode watches: path prefixes, and extra syscall numbers to trap
    (those in `when_set`, number -> argument index, only when that argument is
    non-zero)."""

    watch: list[str]
    syscalls: list[int]
    when_set: dict[int, int] = field(default_factory=dict)


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
        flags = ((VFILE_READONLY if v.readonly else 0) | (VFILE_DIR if v.directory else 0)
                 | (VFILE_DIR_WEAK if v.weak else 0)
                 | (int(v.generator) << 8))
        vrecs += VFILE.pack(off, ln, v.mode & 0o7777, v.uid, v.gid, flags)
    traps = bytearray()
    n_trap = 0

    def trap(kind: int, a: int, b: int) -> None:
        nonlocal traps, n_trap
        traps += TRAP.pack(kind, a, b)
        n_trap += 1

    if record is not None:
        for nr in record.syscalls:
            arg = record.when_set.get(nr)
            trap(TRAP_SYSCALL, nr, 0 if arg is None else arg + 1)
        for w in record.watch:
            trap(TRAP_WATCH, *pool.add(_b(w)))
    if rules.cgroupfs_root:
        trap(TRAP_CGROUP_ROOT, *pool.add(_b(rules.cgroupfs_root)))
    if rules.cgroupfs_files:
        trap(TRAP_CGROUP_FILES, *pool.add(rules.cgroupfs_files))
    srecs, patches, asets = _encode_sysrules(rules.syscall_rules, pool,
                                             len(rules.path_rules))
    head = HEADER.pack(MAGIC, VERSION, len(rules.path_rules), len(vfiles),
                       len(rules.syscall_rules), len(pool.data), int(rules.emulations), n_trap,
                       len(patches) // PATCH.size, len(asets) // ASET.size, 0, 0)
    return bytes(head + recs + vrecs + traps + srecs + patches + asets + pool.data)


def _encode_sysrules(rules: list[SyscallRule], pool: _Pool,
                     first_id: int) -> tuple[bytearray, bytearray, bytearray]:
    recs, patches, asets = bytearray(), bytearray(), bytearray()
    for i, r in enumerate(rules):
        if len(r.args) > 4:
            raise ValueError(f"{r.origin}: at most 4 argument matchers per rule")
        if len(r.if_errno) > 4:
            raise ValueError(f"{r.origin}: at most 4 errnos in if_errno")
        pf = len(patches) // PATCH.size
        for p in r.patches:
            off, ln = pool.add(p.data)
            patches += PATCH.pack(p.arg, 0, 0, p.offset, off, ln)
        af = len(asets) // ASET.size
        for a in r.argsets:
            asets += ASET.pack(a.idx, int(a.op), 0, 0, a.value & (2**64 - 1))
        path = pool.add(_b(r.path))
        exe = pool.add(_b(r.only_exe))
        comm = pool.add(_b(r.only_comm))
        errs = [*r.if_errno, 0, 0, 0, 0][:4]
        recs += SYSRULE_HEAD.pack(
            r.nr, first_id + i, int(r.action),
            NO_ARG if r.path_arg is None else r.path_arg, 1 if r.path_fd else 0,
            int(r.path_kind), r.errno, r.retval,
            path[0], path[1], exe[0], exe[1], comm[0], comm[1],
            r.when_first, r.when_last, r.when_step, r.delay_us,
            pf, len(r.patches), af, len(r.argsets), *errs)
        for k in range(4):
            if k < len(r.args):
                m = r.args[k]
                recs += ARGM.pack(m.idx, int(m.op), m.width, 0, 0,
                                  m.value & (2**64 - 1), m.mask & (2**64 - 1))
            else:
                recs += ARGM.pack(NO_ARG, 0, 8, 0, 0, 0, 0)
    return recs, patches, asets


def decode(blob: bytes) -> RuleSet:
    """Inverse of encode(); used by the Python backend and by tests. Raises ValueError."""
    from .model import Origin

    if len(blob) < HEADER.size:
        raise ValueError("table too short")
    (magic, ver, n_path, n_vfile, n_sys, pool_len, emul, n_trap, n_patch, n_aset,
     _r1, _r2) = HEADER.unpack_from(blob, 0)
    if magic != MAGIC or ver != VERSION:
        raise ValueError("bad table magic or version")
    if n_sys or emul or n_patch or n_aset:
        raise ValueError("syscall rules and emulations are not supported by this decoder")
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
        if fl >> 8:
            raise ValueError("generated virtual files are not supported by this decoder")
        if fl & VFILE_DIR:
            raise ValueError("virtual directories (list: rules) are not supported by this "
                             "decoder (the Python reference backend); use the C backend")
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
        if r.vfile.directory and not r.vfile.listing:
            return "list: false (real listings at and below this directory)"
        if r.vfile.directory:
            return f"list (virtual directory) mode {r.vfile.mode:o}"
        return f"content {r.vfile.content!r} mode {r.vfile.mode:o}"
    if r.action is Action.REDIRECT:
        return f"redirect -> {r.target}"
    if r.action is Action.HIDE:
        return "hide (ENOENT)"
    return f"errno {r.errno}"
