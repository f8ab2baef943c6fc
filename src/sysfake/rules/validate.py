"""Validate one parsed rules document and turn its rules into RuleSpecs.

This is hand validation (for precise, positioned, friendly messages); the
JSON Schema in sysfake/data/rules.schema.json describes the same language and
tests keep the two in agreement. RuleSpec and the checks that command-line
flags share with files are in spec.py.
"""
from __future__ import annotations

import errno as _errno
import re

from ..datatype import datatype, field
from ..model import EMULATION_NAMES, Generator, MatchKind, Origin
from .spec import (
    ID_RE,
    MAX_CONTENT,
    Ctx,
    NameSpec,
    RuleSpec,
    check_abs_path,
    check_action_pattern,
    classify,
    redirect_target,
)
from .suggest import did_you_mean
from .yamlpos import Pos, YEntry, YMap, YNode, YScalar, YSeq, type_name

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from collections.abc import Callable

    from .sysrules import SysRuleSpec

FORMAT_VERSION = 1
TOP_KEYS = ("version", "include", "rules", "emulate", "disable", "cgroupfs")
ACTIONS = ("content", "from_host", "redirect", "hide", "errno", "list")
FILE_ATTRS = ("readonly", "mode", "uid", "gid")
DIR_ATTRS = ("mode", "uid", "gid")  # what list: takes of FILE_ATTRS
DIR_MODE = 0o555
RULE_KEYS = ("match", *ACTIONS, *FILE_ATTRS, "generate", "only", "override", "id")
GENERATORS = {"mountinfo": Generator.MOUNTINFO}
CGROUPFS_KEYS = ("controllers", "version")
CGROUP_CONTROLLERS = ("cpuset", "cpu", "cpuacct", "memory", "devices", "freezer", "pids")
ONLY_KEYS = ("exe", "comm")
MAX_ID = 0xFFFFFFFE  # (uid_t)-1 is "no change" to the kernel
MAX_ERRNO = 4095
COMM_MAX = 15  # TASK_COMM_LEN - 1

# Keys that are part of the language but not implemented yet. Each maps to the
# message users get; an implementation replaces its entry with a real handler.
RESERVED_RULE_KEYS = {
    "extra": "extra: is not a key: with generate: mountinfo, content: holds the extra lines",
}


def errno_names() -> dict[str, int]:
    """Every errno name this platform knows (aliases such as EWOULDBLOCK included)."""
    return {n: v for n, v in vars(_errno).items()
            if n.startswith("E") and n.isupper() and isinstance(v, int) and 0 < v <= MAX_ERRNO}


ERRNO_NAMES = errno_names()
ERRNO_BY_NUMBER = {v: n for n, v in sorted(ERRNO_NAMES.items(), reverse=True)}
ERRNO_BY_NUMBER.update({num: name for num, name in _errno.errorcode.items()
                        if name in ERRNO_NAMES})


@datatype
class IncludeSpec:
    name: str
    pos: Pos
    key: str


@datatype
class CgroupfsSpec:
    controllers: tuple[str, ...]
    origin: Origin
    key: str = "cgroupfs"


@datatype
class FileSpec:
    includes: list[IncludeSpec]
    rules: list[RuleSpec]
    sys_rules: list[SysRuleSpec] = field(default_factory=list)
    emulate: list[NameSpec] = field(default_factory=list)
    disable: list[NameSpec] = field(default_factory=list)
    cgroupfs: CgroupfsSpec | None = None


# ---------------------------------------------------------------- values

def _string(ctx: Ctx, node: YNode, key: str, what: str = "a string",
            allow_nul: bool = False) -> str:
    if not isinstance(node, YScalar) or not isinstance(node.value, str):
        hint = ""
        if isinstance(node, YScalar) and node.value is not None:
            hint = f" (quote it: \"{node.text}\")"
        ctx.fail(f"must be {what}, not {type_name(node)}{hint}", node.pos, key)
    s = node.value
    if "\0" in s and not allow_nul:
        ctx.fail("must not contain a NUL character", node.pos, key)
    try:
        s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        ctx.fail("contains characters that cannot be encoded as UTF-8", node.pos, key)
    return s


def _bool(ctx: Ctx, node: YNode, key: str) -> bool:
    if not isinstance(node, YScalar) or not isinstance(node.value, bool):
        ctx.fail(f"must be true or false, not {type_name(node)}", node.pos, key)
    return node.value


def as_int(v: object) -> int | None:
    """An integer value as JSON Schema sees it (no booleans; 2.0 counts as 2)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return None


def _int(ctx: Ctx, node: YNode, key: str, lo: int, hi: int, what: str) -> int:
    v = as_int(node.value) if isinstance(node, YScalar) else None
    if v is None:
        ctx.fail(f"must be {what}, not {type_name(node)}", node.pos, key)
    if not lo <= v <= hi:
        assert isinstance(node, YScalar)
        ctx.fail(f"must be {what}, not {node.text}", node.pos, key)
    return v


def parse_errno(ctx: Ctx, node: YNode, key: str) -> int:
    if isinstance(node, YScalar) and isinstance(node.value, str):
        name = node.value
        if name in ERRNO_NAMES:
            return ERRNO_NAMES[name]
        ctx.fail(f"unknown errno {name!r}{did_you_mean(name, ERRNO_NAMES)}", node.pos, key)
    return _int(ctx, node, key, 1, MAX_ERRNO,
                f"an errno name like ENOENT or a number 1..{MAX_ERRNO}")


OCTAL_INT_TEXT = re.compile(r"^[-+]?0(?:o?[0-7_]+)?$")
MODE_TEXT = re.compile(r"^(?:0o|0)?([0-7]{1,4})$")


def parse_mode(ctx: Ctx, node: YNode, key: str) -> int:
    what = "an octal permission string like \"0644\""
    if isinstance(node, YScalar) and isinstance(node.value, str):
        m = MODE_TEXT.match(node.value)
        if not m:
            ctx.fail(f"must be {what}, not {node.value!r}", node.pos, key)
        return int(m.group(1), 8)
    v = _int(ctx, node, key, 0, 0o7777, f"{what} (or an integer 0..4095)")
    assert isinstance(node, YScalar)
    if node.plain and not OCTAL_INT_TEXT.match(node.text):
        ctx.fail(f"ambiguous mode {node.text}: write it as an octal string, "
                 f"\"0{node.text}\" or \"0{v:o}\"", node.pos, key)
    return v


def comm_too_long(comm: str) -> str | None:
    """Why no process can have this command name (as the kernel cuts it), or None."""
    raw = comm.encode("utf-8", "surrogateescape")
    if len(raw) <= COMM_MAX:
        return None
    short = raw[:COMM_MAX].decode("utf-8", "ignore")
    return (f"the kernel keeps only {COMM_MAX} bytes of a command name; "
            f"{comm!r} is seen as {short!r}")


def _comm_ok(ctx: Ctx, comm: str, pos: Pos, key: str) -> None:
    if not comm:
        ctx.fail("must not be empty", pos, key)
    why = None if set("*?[") & set(comm) else comm_too_long(comm)
    if why:
        ctx.fail(why, pos, key)


# ---------------------------------------------------------------- structure

def _map(ctx: Ctx, node: YNode, key: str, what: str) -> YMap:
    if not isinstance(node, YMap):
        ctx.fail(f"must be {what}, not {type_name(node)}", node.pos, key)
    return node


def _seq(ctx: Ctx, node: YNode, key: str, what: str) -> YSeq:
    if not isinstance(node, YSeq):
        ctx.fail(f"must be {what}, not {type_name(node)}", node.pos, key)
    return node


def _unknown(ctx: Ctx, m: YMap, allowed: tuple[str, ...], where: str,
             reserved: dict[str, str] | None = None) -> None:
    for k, e in m.entries.items():
        sub = f"{where}.{k}" if where else k
        if reserved and k in reserved:
            ctx.fail(reserved[k], e.key_pos, sub)
        if k not in allowed:
            ctx.fail(f"unknown key '{k}'{did_you_mean(k, allowed)}; allowed: "
                     + ", ".join(allowed), e.key_pos, sub)


def validate_document(doc: YNode | None, filename: str) -> FileSpec:
    ctx = Ctx(filename)
    if doc is None:
        ctx.fail("empty file: expected a mapping starting with 'version: 1'", Pos(1, 1), None)
    top = _map(ctx, doc, "", "a mapping with keys version, include, rules")
    _unknown(ctx, top, TOP_KEYS, "")
    ver = top.entries.get("version")
    if ver is None:
        ctx.fail("missing 'version: 1'", top.pos, "version")
    _version(ctx, ver.value, "version", FORMAT_VERSION,
             f"unsupported version {{}}: this sysfake reads version {FORMAT_VERSION}")
    includes: list[IncludeSpec] = []
    if "include" in top.entries:
        inc = _seq(ctx, top.entries["include"].value, "include",
                   "a list of profile names or file paths")
        for i, item in enumerate(inc.items):
            k = f"include[{i}]"
            name = _string(ctx, item, k, "a profile name or a file path")
            if not name:
                ctx.fail("must not be empty", item.pos, k)
            includes.append(IncludeSpec(name, item.pos, k))
    spec = FileSpec(includes, [])
    if "rules" in top.entries:
        seq = _seq(ctx, top.entries["rules"].value, "rules", "a list of rules (use [] for none)")
        for i, item in enumerate(seq.items):
            k = f"rules[{i}]"
            if isinstance(item, YMap) and "syscall" in item.entries:
                if "match" in item.entries:
                    ctx.fail("a rule has either match: (a path rule) or syscall: (a syscall "
                             "rule), not both; syscall rules match paths with path:",
                             item.entries["match"].key_pos, f"{k}.match")
                # here, not at the top: sysrules loads python-ptrace's syscall tables,
                # which a file of path rules only (the minimal profile) does not need
                from .sysrules import validate_sysrule
                spec.sys_rules.extend(validate_sysrule(ctx, item, k))
            else:
                spec.rules.append(validate_rule(ctx, item, k))
    for lk in ("emulate", "disable"):
        if lk in top.entries:
            seq = _seq(ctx, top.entries[lk].value, lk, "a list of names")
            for i, item in enumerate(seq.items):
                k = f"{lk}[{i}]"
                name = _string(ctx, item, k, "a name")
                if lk == "emulate" and name not in EMULATION_NAMES:
                    ctx.fail(f"unknown emulation {name!r}{did_you_mean(name, EMULATION_NAMES)}; "
                             "known: " + ", ".join(EMULATION_NAMES), item.pos, k)
                if lk == "disable" and not ID_RE.match(name):
                    ctx.fail(f"{name!r} is not a rule id or an emulation name", item.pos, k)
                getattr(spec, lk).append(
                    NameSpec(name, Origin(filename, item.pos.line, item.pos.col), k))
    if "cgroupfs" in top.entries:
        spec.cgroupfs = _cgroupfs(ctx, top.entries["cgroupfs"])
    return spec


def _version(ctx: Ctx, v: YNode, key: str, want: int, other: str) -> None:
    """A version is the integer `want`: not "1", 1.0 or true (YAML's true == 1 in
    Python), which would read as the right number but are not what is meant.
    `other` is the message for another integer, with {} for it."""
    if isinstance(v, YScalar) and type(v.value) is int:  # bool is a subclass of int
        if v.value != want:
            ctx.fail(other.format(v.text), v.pos, key)
        return
    hint = ""
    if isinstance(v, YScalar) and isinstance(v.value, str):
        if v.value.strip() == str(want):
            hint = f": write {key.rsplit('.', 1)[-1]}: {want}, without quotes"
        what = f"the string {v.text!r}"
    else:
        what = type_name(v)
    ctx.fail(f"must be the number {want}, not {what}{hint}", v.pos, key)


def _cgroupfs(ctx: Ctx, en: YEntry) -> CgroupfsSpec:
    m = _map(ctx, en.value, "cgroupfs", "a mapping like {controllers: [cpu, devices], version: 1}")
    _unknown(ctx, m, CGROUPFS_KEYS, "cgroupfs")
    if "version" in m.entries:
        _version(ctx, m.entries["version"].value, "cgroupfs.version", 1,
                 "only cgroup version 1 can be faked, not {} (cgroup v2 needs bpf() for the "
                 "device controller, which gVisor lacks)")
    ctrls: tuple[str, ...] = CGROUP_CONTROLLERS
    if "controllers" in m.entries:
        seq = _seq(ctx, m.entries["controllers"].value, "cgroupfs.controllers",
                   "a list of controller names")
        names: list[str] = []
        for i, item in enumerate(seq.items):
            k = f"cgroupfs.controllers[{i}]"
            c = _string(ctx, item, k, "a controller name")
            if c not in CGROUP_CONTROLLERS:
                ctx.fail(f"unknown cgroup v1 controller {c!r}"
                         f"{did_you_mean(c, CGROUP_CONTROLLERS)}; known: "
                         + ", ".join(CGROUP_CONTROLLERS), item.pos, k)
            if c in names:
                ctx.fail(f"{c} is listed twice", item.pos, k)
            names.append(c)
        if "devices" not in names:
            ctx.fail("the devices controller is always needed (runc checks it); add devices",
                     seq.pos, "cgroupfs.controllers")
        ctrls = tuple(names)
    return CgroupfsSpec(ctrls, Origin(ctx.filename, m.pos.line, m.pos.col))


def validate_rule(ctx: Ctx, node: YNode, key: str) -> RuleSpec:
    m = _map(ctx, node, key, "a mapping like {match: /path, content: \"...\"}")
    _unknown(ctx, m, RULE_KEYS, key, RESERVED_RULE_KEYS)
    e = m.entries
    if "match" not in e:
        ctx.fail("missing 'match' (the path pattern this rule applies to)", m.pos, key)
    acts = [a for a in e if a in ACTIONS]
    if not acts:
        ctx.fail("no action: give exactly one of " + ", ".join(ACTIONS), m.pos, key)
    if len(acts) > 1:
        second = e[acts[1]]
        ctx.fail(f"only one action per rule, and this rule already has '{acts[0]}' "
                 f"(line {e[acts[0]].key_pos.line})", second.key_pos, f"{key}.{acts[1]}")
    action = acts[0]
    for a in FILE_ATTRS:
        if a in e and action not in ("content", "from_host") and not (
                action == "list" and a in DIR_ATTRS):
            goes = "content, from_host or list" if a in DIR_ATTRS else "content or from_host"
            ctx.fail(f"'{a}' only goes with {goes}, not with {action}",
                     e[a].key_pos, f"{key}.{a}")
    mnode = e["match"].value
    written = _string(ctx, mnode, f"{key}.match", "a path pattern")
    pattern, kind = classify(ctx, written, mnode.pos, f"{key}.match")
    if action == "list":
        pattern, kind = _dir_pattern(ctx, pattern, kind, mnode.pos, f"{key}.match")
    spec = RuleSpec(origin=Origin(ctx.filename, m.pos.line, m.pos.col), key=key,
                    match=pattern, kind=kind, action=action, match_written=written,
                    match_pos=mnode.pos)
    handlers: dict[str, Callable[[YEntry, str], None]] = {
        "content": lambda en, k: _set_content(ctx, spec, en, k),
        "from_host": lambda en, k: _set_from_host(ctx, spec, en, k),
        "redirect": lambda en, k: _set_redirect(ctx, spec, en, k),
        "hide": lambda en, k: _set_hide(ctx, en, k),
        "errno": lambda en, k: setattr(spec, "errno", parse_errno(ctx, en.value, k)),
        "readonly": lambda en, k: setattr(spec, "readonly", _bool(ctx, en.value, k)),
        "mode": lambda en, k: setattr(spec, "mode", parse_mode(ctx, en.value, k)),
        "uid": lambda en, k: setattr(spec, "uid", _int(ctx, en.value, k, 0, MAX_ID,
                                                       f"a number 0..{MAX_ID}")),
        "gid": lambda en, k: setattr(spec, "gid", _int(ctx, en.value, k, 0, MAX_ID,
                                                       f"a number 0..{MAX_ID}")),
        "only": lambda en, k: _set_only(ctx, spec, en, k),
        "override": lambda en, k: setattr(spec, "override", _bool(ctx, en.value, k)),
        "id": lambda en, k: setattr(spec, "rid", parse_id(ctx, en, k)),
        "generate": lambda en, k: _set_generate(ctx, spec, en, k),
        "list": lambda en, k: _set_list(ctx, spec, en, k),
    }
    for k, en in e.items():
        if k in handlers:
            handlers[k](en, f"{key}.{k}")
    if action == "hide":
        spec.errno = _errno.ENOENT
    if action == "list" and "mode" not in e:
        spec.mode = DIR_MODE
    if spec.generator is not Generator.STATIC and action != "content":
        ctx.fail(f"generate: needs content: (the lines added after the generated ones), "
                 f"not {action}", e["generate"].key_pos, f"{key}.generate")
    check_action_pattern(ctx, spec, mnode.pos, e[action].value.pos)
    return spec


def _set_content(ctx: Ctx, spec: RuleSpec, en: YEntry, k: str) -> None:
    s = _string(ctx, en.value, k, "a string (the file's content)", allow_nul=True)
    data = s.encode("utf-8", "surrogateescape")
    if len(data) > MAX_CONTENT:
        ctx.fail(f"content is larger than {MAX_CONTENT} bytes", en.value.pos, k)
    spec.content = data


def _set_from_host(ctx: Ctx, spec: RuleSpec, en: YEntry, k: str) -> None:
    s = _string(ctx, en.value, k, "an absolute host path")
    check_abs_path(ctx, s, en.value.pos, k)
    spec.from_host = s


def _set_redirect(ctx: Ctx, spec: RuleSpec, en: YEntry, k: str) -> None:
    s = _string(ctx, en.value, k, "an absolute path")
    spec.target = redirect_target(ctx, s, en.value.pos, k)
    spec.target_written = s


def _dir_pattern(ctx: Ctx, pattern: str, kind: MatchKind, pos: Pos,
                 k: str) -> tuple[str, MatchKind]:
    """list: names one directory: '/a/b' and '/a/b/' are the same; no globs."""
    if kind is MatchKind.GLOB:
        ctx.fail("list needs one directory (an exact path, a trailing '/' is allowed), "
                 "not a glob", pos, k)
    if kind is MatchKind.PREFIX and pattern != "/":
        pattern = pattern.rstrip("/")
    return pattern, MatchKind.EXACT


def _set_list(ctx: Ctx, spec: RuleSpec, en: YEntry, k: str) -> None:
    spec.listing = _bool(ctx, en.value, k)


def _set_hide(ctx: Ctx, en: YEntry, k: str) -> None:
    if not _bool(ctx, en.value, k):
        ctx.fail("hide: false is not an action (remove the rule, or use hide: true)",
                 en.value.pos, k)


def _set_only(ctx: Ctx, spec: RuleSpec, en: YEntry, k: str) -> None:
    spec.only_exe, spec.only_comm = parse_only(ctx, en, k)


def parse_only(ctx: Ctx, en: YEntry, k: str) -> tuple[str | None, str | None]:
    m = _map(ctx, en.value, k, "a mapping like {exe: \"*/runc\", comm: runc}")
    _unknown(ctx, m, ONLY_KEYS, k)
    if not m.entries:
        ctx.fail("needs exe, comm or both", m.pos, k)
    exe = comm = None
    if "exe" in m.entries:
        v = m.entries["exe"].value
        exe = _string(ctx, v, f"{k}.exe", "a glob on the executable's path")
        if not exe:
            ctx.fail("must not be empty", v.pos, f"{k}.exe")
    if "comm" in m.entries:
        v = m.entries["comm"].value
        comm = _string(ctx, v, f"{k}.comm", "a command name (or glob)")
        _comm_ok(ctx, comm, v.pos, f"{k}.comm")
    return exe, comm


def parse_id(ctx: Ctx, en: YEntry, k: str) -> str:
    s = _string(ctx, en.value, k, "a rule id like runc-statfs")
    if not ID_RE.match(s):
        ctx.fail(f"a rule id is letters, digits, '.', '_' and '-' (starting with a letter "
                 f"or digit), not {s!r}", en.value.pos, k)
    if s in EMULATION_NAMES:
        ctx.fail(f"{s!r} is the name of an emulation; choose another id", en.value.pos, k)
    return s


def _set_generate(ctx: Ctx, spec: RuleSpec, en: YEntry, k: str) -> None:
    s = _string(ctx, en.value, k, "a generator name")
    if s not in GENERATORS:
        ctx.fail(f"unknown generator {s!r}{did_you_mean(s, GENERATORS)}; known: "
                 + ", ".join(GENERATORS), en.value.pos, k)
    spec.generator = GENERATORS[s]


string_value = _string
bool_value = _bool
map_node = _map
seq_node = _seq
unknown_keys = _unknown
