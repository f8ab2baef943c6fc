"""Syscall rules (`syscall:`): validation and compilation to model.SyscallRule.

Syscall names and numbers come from python-ptrace's table for the running
architecture (``ptrace.syscall.linux.x86_64.SYSCALL_NAMES``); argument types
and path arguments from its prototypes (``ptrace.syscall.SYSCALL_PROTOTYPES``)
as interpreted by ``sysfake.backends.pyref.syscalls`` (the same path arguments
the path rules see). Nothing here is a hand-written syscall table; the only
hand-written knowledge is the layout of the result structures that `patch:`
can write (``STRUCTS``) and which argument points at them.

Those tables cost a start 5-10 ms on a host and about 18 ms inside gVisor,
so the facts about the syscalls the shipped profiles name (number,
prototype, path arguments) are kept in `_profile_snapshot.py`, made from the
same tables and used while the installed python-ptrace is the version they
were made from (``facts``): `sysfake run` with a shipped profile imports no
syscall table.
"""
from __future__ import annotations

import re
import struct
from functools import cache

from ..datatype import datatype
from ..model import ArgMatch, ArgOp, ArgSet, MatchKind, Origin, Patch, SetOp, SysAction, SyscallRule
from .constants import CONSTANTS
from .spec import Ctx, check_path_len, classify
from .suggest import did_you_mean
from .validate import (
    bool_value,
    map_node,
    parse_errno,
    parse_id,
    parse_only,
    string_value,
    unknown_keys,
)
from .yamlpos import YEntry, YMap, YNode, YScalar, YSeq, type_name

MAX_ARGS = 6
MAX_MATCHERS = 4  # per rule, the table's limit
MAX_IF_ERRNO = 4
WHEN_MAX_FIRST = 65535  # strace's limits
WHEN_MAX_LAST = 65534
WHEN_MAX_STEP = 65535
MAX_DELAY_US = 0xFFFFFFFF
U64 = (1 << 64) - 1

# a syscall's number, python-ptrace's (type, name) arguments (None: no
# prototype), and its path arguments
Facts = tuple[int, "tuple[tuple[str, str], ...] | None", tuple[int, ...]]

# argument types that are 32 bits wide in the kernel ABI: the upper half of the
# register is undefined, so a matcher compares only the lower 32 bits
INT32_TYPES = frozenset({
    "int", "unsigned int", "unsigned", "__s32", "u32", "umode_t", "pid_t", "uid_t", "gid_t",
    "old_uid_t", "old_gid_t", "key_serial_t", "key_t", "clockid_t", "mqd_t", "qid_t", "timer_t",
})
FD_TYPES = frozenset({"int", "unsigned int"})

SYS_ACTIONS = ("errno", "return", "patch", "pass", "set_args", "delay")
SYS_RULE_KEYS = ("syscall", "id", "args", "path", "path_arg", "only", "when", "if_errno",
                 *SYS_ACTIONS, "override")
ARG_OPS = {"eq": ArgOp.EQ, "ne": ArgOp.NE, "any": ArgOp.ANY, "all": ArgOp.ALL,
           "none": ArgOp.NONE}
SET_OPS = {"set": SetOp.SET, "or": SetOp.OR, "clear": SetOp.CLEAR}


# ---------------------------------------------------------------- result structures

@datatype(frozen=True)
class Field:
    offset: int
    size: int
    text: bool = False  # a NUL-padded string field (the last byte stays NUL)


@datatype(frozen=True)
class Struct:
    name: str
    size: int
    fields: dict[str, Field]


_STATFS_FIELDS = ("f_type", "f_bsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree",
                  "f_fsid", "f_namelen", "f_frsize", "f_flags")
STATFS = Struct("struct statfs", 120,  # x86_64: eleven 8-byte fields, then f_spare[4]
                {n: Field(8 * i, 8) for i, n in enumerate(_STATFS_FIELDS)})
UTS_LEN = 65
_UTS_FIELDS = ("sysname", "nodename", "release", "version", "machine", "domainname")
UTSNAME = Struct("struct utsname", UTS_LEN * 6,
                 {n: Field(UTS_LEN * i, UTS_LEN, text=True) for i, n in enumerate(_UTS_FIELDS)})
# syscall -> (the argument that points at the result, its layout)
STRUCTS: dict[str, tuple[int, Struct]] = {
    "statfs": (1, STATFS),
    "fstatfs": (1, STATFS),
    "uname": (0, UTSNAME),
}


# ---------------------------------------------------------------- prototypes

@cache
def syscall_numbers() -> dict[str, int]:
    """Every x86_64 syscall python-ptrace names: name -> number."""
    from ..backends.pyref.syscalls import FIRST_X32
    from ..record.syscalls import SYSCALL_NAMES

    return {n: nr for nr, n in SYSCALL_NAMES.items() if nr < FIRST_X32}


def live_facts(name: str) -> Facts | None:
    """A syscall's facts from python-ptrace's tables; None if it has no such syscall."""
    from ..backends.pyref.syscalls import SYSCALLS
    from ..backends.pyref.syscalls import prototype as ptrace_prototype

    nr = syscall_numbers().get(name)
    if nr is None:
        return None
    info = SYSCALLS.get(nr)
    return nr, ptrace_prototype(name), tuple(i for i, _dfd in info.paths) if info else ()


@cache
def _snapshot_facts() -> dict[str, Facts]:
    from ..record.ptrace_tables import installed_version
    from ._profile_snapshot import FACTS_PTRACE_VERSION, SYSCALL_FACTS

    return SYSCALL_FACTS if installed_version() == FACTS_PTRACE_VERSION else {}


def facts(name: str) -> Facts | None:
    """A syscall's facts: the snapshot's for a syscall the shipped profiles
    name, else python-ptrace's; None if there is no such syscall."""
    return _snapshot_facts().get(name) or live_facts(name)


def nr_of(name: str) -> int | None:
    f = facts(name)
    return None if f is None else f[0]


def prototype(name: str) -> tuple[tuple[str, str], ...] | None:
    f = facts(name)
    return None if f is None else f[1]


def arg_width(name: str, idx: int) -> int:
    args = prototype(name)
    if args is None or idx >= len(args):
        return 8
    return 4 if args[idx][0] in INT32_TYPES else 8


def path_args(name: str) -> tuple[int, ...]:
    f = facts(name)
    return f[2] if f else ()


def fd_args(name: str) -> tuple[int, ...]:
    args = prototype(name) or ()
    return tuple(i for i, (t, n) in enumerate(args) if t in FD_TYPES and n == "fd")


def default_path_arg(name: str) -> tuple[int, bool] | None:
    """(argument, is_fd) a `path:` looks at by default, or None."""
    p = path_args(name)
    if p:
        return p[0], False
    f = fd_args(name)
    if f:
        return f[0], True
    return None


# ---------------------------------------------------------------- spec

@datatype
class SysRuleSpec:
    """One validated syscall rule (one per syscall of a `syscall: [a, b]` list)."""

    rule: SyscallRule
    key: str
    rid: str | None = None
    override: bool = False
    path_written: str = ""
    when_written: str = ""
    delay_written: str = ""
    order: int = 0  # position among all syscall rules as read (the tie-break)
    generated: bool = False

    @property
    def origin(self) -> Origin:
        return self.rule.origin


# ---------------------------------------------------------------- values

NUM_TEXT = re.compile(r"^-?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0|[1-9][0-9]*)$")


def const_value(ctx: Ctx, node: YNode, key: str, what: str = "a value") -> int:
    """An integer, a symbolic constant, or a list of them OR-ed together (as u64)."""
    if isinstance(node, YSeq):
        if not node.items:
            ctx.fail("an empty list has no value (give at least one constant)", node.pos, key)
        v = 0
        for i, item in enumerate(node.items):
            if isinstance(item, YSeq):
                ctx.fail("lists do not nest", item.pos, f"{key}[{i}]")
            v |= const_value(ctx, item, f"{key}[{i}]", what)
        return v
    if isinstance(node, YScalar):
        val = node.value
        if isinstance(val, int) and not isinstance(val, bool):
            if not -(1 << 63) <= val <= U64:
                ctx.fail(f"{node.text} does not fit in 64 bits", node.pos, key)
            return val & U64
        if isinstance(val, str):
            name = val.strip()
            if name in CONSTANTS:
                return CONSTANTS[name] & U64
            if NUM_TEXT.match(name):
                return int(name, 0) & U64
            ctx.fail(f"unknown constant {name!r}{did_you_mean(name, CONSTANTS, 0.75)}",
                     node.pos, key)
    ctx.fail(f"must be {what} (an integer, a constant name like MS_REC, or a list of them "
             f"OR-ed together), not {type_name(node)}", node.pos, key)


WHEN_RE = re.compile(r"^([0-9]+)(?:\.\.([0-9]+))?(?:\+([0-9]*))?$")


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, ... 21st, 22nd, ... 111th."""
    if n % 100 in (11, 12, 13):
        return f"{n}th"
    return f"{n}" + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def parse_when(ctx: Ctx, node: YNode, key: str) -> tuple[int, int, int, str]:
    """strace's when= syntax: FIRST, FIRST+, FIRST+STEP, FIRST..LAST, FIRST..LAST+,
    FIRST..LAST+STEP. Returns (first, last (0: no end), step, text)."""
    if isinstance(node, YScalar) and isinstance(node.value, int) \
            and not isinstance(node.value, bool):
        text = str(node.value)
    elif isinstance(node, YScalar) and isinstance(node.value, str):
        text = node.value
    else:
        ctx.fail(f"must be a number or a string like \"2..5\", not {type_name(node)}",
                 node.pos, key)
    forms = "N, N+, N+STEP, N..M, N..M+ or N..M+STEP"
    if re.fullmatch(r"[0-9]+\.\.", text):
        ctx.fail(f"{text!r} has no end; strace writes 'from N on' as {text[:-2]}+", node.pos, key)
    if re.fullmatch(r"[0-9]+\.\.\+[0-9]+", text):
        first, step = text.split("..+")
        ctx.fail(f"{text!r} is ambiguous: strace reads it as {first}..{step}; write "
                 f"{first}+{step} for every {ordinal(int(step))} call from the "
                 f"{ordinal(int(first))} on, or "
                 f"{first}..{step}", node.pos, key)
    m = WHEN_RE.match(text)
    if not m:
        ctx.fail(f"bad when {text!r}: expected {forms} (decimal numbers)", node.pos, key)
    n_first = int(m.group(1))
    n_last = int(m.group(2)) if m.group(2) is not None else None
    plus = m.group(3)
    if not 1 <= n_first <= WHEN_MAX_FIRST:
        ctx.fail(f"the first call number must be 1..{WHEN_MAX_FIRST}, not {n_first}",
                 node.pos, key)
    if n_last is not None and not n_first <= n_last <= WHEN_MAX_LAST:
        ctx.fail(f"the last call number must be {n_first}..{WHEN_MAX_LAST}, not {n_last}",
                 node.pos, key)
    n_step = 1
    if plus:
        n_step = int(plus)
        if not 1 <= n_step <= WHEN_MAX_STEP:
            ctx.fail(f"the step must be 1..{WHEN_MAX_STEP}, not {n_step}", node.pos, key)
    if n_last is None:
        n_last = 0 if plus is not None else n_first
    return n_first, n_last, n_step, text


_DELAY_UNITS = {"s": 1_000_000, "ms": 1000, "us": 1, "ns": 0.001}
DELAY_RE = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(s|ms|us|ns)?$")


def parse_delay(ctx: Ctx, node: YNode, key: str) -> tuple[int, str]:
    """"100ms", "2s", "500us", "1.5s", "250ns" (rounded up to a microsecond), or a bare
    number of microseconds (strace's default unit). Returns (microseconds, text)."""
    if isinstance(node, YScalar) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        text = node.text
    elif isinstance(node, YScalar) and isinstance(node.value, str):
        text = node.value.strip()
    else:
        ctx.fail(f"must be a duration like \"100ms\", not {type_name(node)}", node.pos, key)
    m = DELAY_RE.match(text)
    if not m:
        ctx.fail(f"bad duration {text!r}: write a number with s, ms, us or ns "
                 "(a bare number is microseconds), e.g. \"100ms\"", node.pos, key)
    num = float(m.group(1))
    us_f = num * _DELAY_UNITS[m.group(2) or "us"]
    us = int(us_f) if us_f == int(us_f) else int(us_f) + 1
    if us <= 0:
        ctx.fail("a delay must be at least 1us", node.pos, key)
    if us > MAX_DELAY_US:
        ctx.fail(f"a delay must be at most {MAX_DELAY_US}us (about 71 minutes)", node.pos, key)
    return us, text


def arg_index(ctx: Ctx, entry: YEntry, key: str) -> int:
    k = entry.key
    if not re.fullmatch(r"[0-9]+", k) or not 0 <= int(k) < MAX_ARGS:
        ctx.fail(f"argument index must be 0..{MAX_ARGS - 1} (0 is the first argument), "
                 f"not {k!r}", entry.key_pos, key)
    return int(k)



# ---------------------------------------------------------------- rules

def _names(ctx: Ctx, en: YEntry, key: str) -> list[tuple[str, YNode, str]]:
    node = en.value
    items = node.items if isinstance(node, YSeq) else [node]
    if isinstance(node, YSeq) and not items:
        ctx.fail("needs at least one syscall name", node.pos, key)
    out: list[tuple[str, YNode, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        k = f"{key}[{i}]" if isinstance(node, YSeq) else key
        name = string_value(ctx, item, k, "a syscall name like statfs")
        if nr_of(name) is None:
            ctx.fail(f"unknown syscall {name!r} for x86_64"
                     f"{did_you_mean(name, syscall_numbers())}", item.pos, k)
        if name in seen:
            ctx.fail(f"{name} is listed twice", item.pos, k)
        seen.add(name)
        out.append((name, item, k))
    return out


def _matchers(ctx: Ctx, en: YEntry, key: str) -> list[tuple[int, ArgOp, int, YNode, str]]:
    m = map_node(ctx, en.value, key, "a mapping of argument index to value, like {1: SIOCSIFFLAGS}")
    out: list[tuple[int, ArgOp, int, YNode, str]] = []
    for k, e in m.entries.items():
        sub = f"{key}.{k}"
        idx = arg_index(ctx, e, sub)
        v = e.value
        if isinstance(v, YMap):
            if not v.entries:
                ctx.fail("needs one of " + ", ".join(ARG_OPS), v.pos, sub)
            unknown_keys(ctx, v, tuple(ARG_OPS), sub)
            for op, oe in v.entries.items():
                val = const_value(ctx, oe.value, f"{sub}.{op}")
                if ARG_OPS[op] in (ArgOp.ANY, ArgOp.ALL, ArgOp.NONE) and val == 0:
                    ctx.fail(f"'{op}' needs a non-zero mask", oe.value.pos, f"{sub}.{op}")
                out.append((idx, ARG_OPS[op], val, oe.value, f"{sub}.{op}"))
        else:
            out.append((idx, ArgOp.EQ, const_value(ctx, v, sub), v, sub))
    if len(out) > MAX_MATCHERS:
        _i, _o, _v, node, k = out[MAX_MATCHERS]
        ctx.fail(f"at most {MAX_MATCHERS} argument matchers per rule (each of eq, ne, any, "
                 f"all, none counts); split the rule", node.pos, k)
    return out


def _argsets(ctx: Ctx, en: YEntry, key: str) -> list[tuple[int, SetOp, int]]:
    m = map_node(ctx, en.value, key, "a mapping like {3: {clear: [MS_REC]}}")
    if not m.entries:
        ctx.fail("needs at least one argument", m.pos, key)
    out: list[tuple[int, SetOp, int]] = []
    for k, e in m.entries.items():
        sub = f"{key}.{k}"
        idx = arg_index(ctx, e, sub)
        v = map_node(ctx, e.value, sub, "a mapping with set, or or clear, like {clear: MS_REC}")
        if not v.entries:
            ctx.fail("needs one of set, or, clear", v.pos, sub)
        unknown_keys(ctx, v, tuple(SET_OPS), sub)
        if "set" in v.entries and len(v.entries) > 1:
            other = next(o for o in v.entries if o != "set")
            ctx.fail("'set' replaces the whole value; it does not combine with "
                     f"'{other}'", v.entries[other].key_pos, f"{sub}.{other}")
        for op, oe in v.entries.items():
            out.append((idx, SET_OPS[op], const_value(ctx, oe.value, f"{sub}.{op}")))
    return out


def _patches(ctx: Ctx, en: YEntry, key: str, name: str, name_key: str, name_node: YNode,
             fill: bool) -> list[Patch]:
    if name not in STRUCTS:
        known = ", ".join(sorted(STRUCTS))
        ctx.fail(f"patch: sysfake knows no result structure of {name} (known: {known})",
                 en.key_pos, key)
    arg, st = STRUCTS[name]
    m = map_node(ctx, en.value, key, f"a mapping of {st.name} fields to values")
    if not m.entries:
        ctx.fail("needs at least one field", m.pos, key)
    out: list[Patch] = [Patch(arg, 0, bytes(st.size))] if fill else []
    for fname, fe in m.entries.items():
        sub = f"{key}.{fname}"
        f = st.fields.get(fname)
        if f is None:
            ctx.fail(f"{st.name} of {name} has no field {fname!r}"
                     f"{did_you_mean(fname, st.fields)}; fields: {', '.join(st.fields)}",
                     fe.key_pos, sub)
        if f.text:
            s = string_value(ctx, fe.value, sub, "a string")
            data = s.encode("utf-8", "surrogateescape")
            if len(data) >= f.size:
                ctx.fail(f"{fname} holds at most {f.size - 1} bytes (it is NUL-terminated "
                         f"in {f.size}), not {len(data)}", fe.value.pos, sub)
            out.append(Patch(arg, f.offset, data.ljust(f.size, b"\0")))
        else:
            v = const_value(ctx, fe.value, sub)
            out.append(Patch(arg, f.offset, struct.pack("<Q", v & U64)[:f.size]))
    return out


def _path_arg(ctx: Ctx, e: dict[str, YEntry], key: str, name: str,
              name_node: YNode, name_key: str) -> tuple[int, bool]:
    if "path_arg" in e:
        pe = e["path_arg"]
        pk = f"{key}.path_arg"
        v = pe.value
        idx = v.value if isinstance(v, YScalar) else None
        if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < MAX_ARGS:
            ctx.fail(f"must be an argument index 0..{MAX_ARGS - 1}, not {type_name(v)}",
                     v.pos, pk)
        if idx in path_args(name):
            return idx, False
        args = prototype(name)
        if args is not None and idx < len(args):
            t, n = args[idx]
            if t in FD_TYPES and "fd" in n:
                return idx, True
            if "char *" in t and "*const *" not in t:
                return idx, False
            ctx.fail(f"argument {idx} of {name} is '{t} {n}': neither a path nor an fd",
                     v.pos, pk)
        ctx.fail(f"cannot tell whether argument {idx} of {name} is a path or an fd "
                 "(python-ptrace has no prototype for it)", v.pos, pk)
    d = default_path_arg(name)
    if d is None:
        ctx.fail(f"{name} has no path or fd argument to match (give path_arg: N)",
                 name_node.pos, name_key)
    return d


def validate_sysrule(ctx: Ctx, m: YMap, key: str) -> list[SysRuleSpec]:
    """Validate one `syscall:` rule; one spec per syscall named."""
    unknown_keys(ctx, m, SYS_RULE_KEYS, key, {
        "match": "syscall rules match paths with 'path:', not 'match:'",
        "content": "'content' belongs to path rules (match:), not to syscall rules",
        "hide": "'hide' belongs to path rules (match:); use errno: ENOENT",
        "redirect": "'redirect' belongs to path rules (match:), not to syscall rules",
    })
    e = m.entries
    origin = Origin(ctx.filename, m.pos.line, m.pos.col)
    names = _names(ctx, e["syscall"], f"{key}.syscall")
    acts = [a for a in SYS_ACTIONS if a in e]
    if not acts:
        ctx.fail("no action: give one of errno, return, patch, pass, set_args or delay", m.pos,
                 key)

    def clash(a: str, b: str, why: str = "") -> None:
        if a in e and b in e:
            first, second = sorted((a, b), key=lambda k: (e[k].key_pos.line, e[k].key_pos.col))
            ctx.fail(f"'{second}' does not go with '{first}' (line {e[first].key_pos.line})"
                     + (f": {why}" if why else ""), e[second].key_pos, f"{key}.{second}")

    clash("errno", "return", "a skipped call either fails or returns a value")
    clash("errno", "patch", "a failed call has no result structure to patch")
    for a in ("errno", "return", "patch", "set_args", "if_errno"):
        clash("pass", a, "pass leaves the call alone")
    for a in ("errno", "return"):
        clash("set_args", a, "the call is skipped, so rewritten arguments would not be seen")
    clash("set_args", "patch")
    clash("set_args", "if_errno")
    if "if_errno" in e and not {"errno", "return"} & set(e):
        ie = e["if_errno"]
        ctx.fail("if_errno needs errno or return (what to answer instead of the real error)"
                 + ("; a failed call has no result to patch, so add return: 0" if "patch" in e
                    else ""), ie.key_pos, f"{key}.if_errno")
    if "pass" in e:
        pv = e["pass"]
        if not bool_value(ctx, pv.value, f"{key}.pass"):
            ctx.fail("pass: false is not an action (remove it)", pv.value.pos, f"{key}.pass")
    errno_v = parse_errno(ctx, e["errno"].value, f"{key}.errno") if "errno" in e else 0
    retval = 0
    if "return" in e:
        rv = e["return"].value
        rk = f"{key}.return"
        if not isinstance(rv, YScalar) or not isinstance(rv.value, int) \
                or isinstance(rv.value, bool):
            ctx.fail(f"must be an integer (the value the call returns), not {type_name(rv)}",
                     rv.pos, rk)
        retval = rv.value
        if not -4095 <= retval <= (1 << 63) - 1 or -4095 <= retval < 0:
            ctx.fail("a negative return is an error: use errno: NAME instead"
                     if -4095 <= retval < 0 else f"{rv.text} does not fit a return value",
                     rv.pos, rk)
    if_errno: list[int] = []
    if "if_errno" in e:
        ik = f"{key}.if_errno"
        iv = e["if_errno"].value
        items = iv.items if isinstance(iv, YSeq) else [iv]
        if not items:
            ctx.fail("needs at least one errno", iv.pos, ik)
        if len(items) > MAX_IF_ERRNO:
            ctx.fail(f"at most {MAX_IF_ERRNO} errnos", items[MAX_IF_ERRNO].pos, ik)
        for i, it in enumerate(items):
            n = parse_errno(ctx, it, f"{ik}[{i}]" if isinstance(iv, YSeq) else ik)
            if n > 0x7FFF:
                ctx.fail("if_errno values must be below 32768", it.pos, ik)
            if_errno.append(n)
    when = (1, 0, 1, "")
    if "when" in e:
        when = parse_when(ctx, e["when"].value, f"{key}.when")
    delay_us, delay_text = 0, ""
    if "delay" in e:
        delay_us, delay_text = parse_delay(ctx, e["delay"].value, f"{key}.delay")
    path: str | None = None
    path_kind = MatchKind.EXACT
    path_written = ""
    if "path" in e:
        pn = e["path"].value
        path_written = string_value(ctx, pn, f"{key}.path", "a path pattern")
        if path_written.startswith(("pipe:", "socket:", "anon_inode:")):
            check_path_len(ctx, path_written, pn.pos, f"{key}.path")
            path, path_kind = path_written, (MatchKind.GLOB if set("*?") & set(path_written)
                                             else MatchKind.EXACT)
        else:
            path, path_kind = classify(ctx, path_written, pn.pos, f"{key}.path")
    elif "path_arg" in e:
        ctx.fail("path_arg without path (which path should it match?)", e["path_arg"].key_pos,
                 f"{key}.path_arg")
    only_exe = only_comm = None
    if "only" in e:
        only_exe, only_comm = parse_only(ctx, e["only"], f"{key}.only")
    rid: str | None = None
    if "id" in e:
        rid = parse_id(ctx, e["id"], f"{key}.id")
    override = bool_value(ctx, e["override"].value, f"{key}.override") if "override" in e \
        else False
    matchers = _matchers(ctx, e["args"], f"{key}.args") if "args" in e else []
    sets = _argsets(ctx, e["set_args"], f"{key}.set_args") if "set_args" in e else []
    if "errno" in e:
        action = SysAction.ERRNO
    elif "return" in e:
        action = SysAction.RETURN
    elif "patch" in e:
        action = SysAction.PATCH
    elif "pass" in e:
        action = SysAction.PASS
    elif "set_args" in e:
        action = SysAction.REWRITE
    else:
        action = SysAction.DELAY
    out: list[SysRuleSpec] = []
    for name, nnode, nkey in names:
        parg: int | None = None
        pfd = False
        if path is not None:
            parg, pfd = _path_arg(ctx, e, key, name, nnode, nkey)
            if not pfd and path_written.startswith(("pipe:", "socket:", "anon_inode:")):
                ctx.fail(f"{path_written!r} names an fd that is not a file, but argument "
                         f"{parg} of {name} is a path", e["path"].value.pos, f"{key}.path")
        patches = (_patches(ctx, e["patch"], f"{key}.patch", name, nkey, nnode,
                            fill=action is SysAction.RETURN) if "patch" in e else [])
        args = [ArgMatch(i, op, v if op in (ArgOp.EQ, ArgOp.NE) else 0,
                         v if op not in (ArgOp.EQ, ArgOp.NE) else 0, arg_width(name, i))
                for i, op, v, _n, _k in matchers]
        nr = nr_of(name)
        assert nr is not None  # _names() refused an unknown name
        rule = SyscallRule(
            nr=nr, name=name, action=action, origin=origin, errno=errno_v,
            retval=retval, path=path, path_kind=path_kind, path_arg=parg, path_fd=pfd,
            only_exe=only_exe, only_comm=only_comm, when_first=when[0], when_last=when[1],
            when_step=when[2], delay_us=delay_us, args=args, patches=patches,
            argsets=[ArgSet(i, op, v) for i, op, v in sets], if_errno=if_errno)
        out.append(SysRuleSpec(rule, key, rid, override, path_written, when[3], delay_text))
    return out
