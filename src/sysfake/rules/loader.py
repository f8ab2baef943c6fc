"""Load rules from files, includes, built-in profiles and command-line flags.

    load(files, fakes, redirects, hides, profiles) -> RuleSet

Sources are read in this order: --profile names, --rules files (each
followed depth-first by its includes), then --fake/--redirect/--hide flags.
A file reached twice (diamond includes, or a profile both included and given
with --profile) is loaded once; an include cycle is an error.

Every rule is validated, then rules with the same identity (kind, pattern,
only:) are resolved by layer: command-line flags (layer 2) replace file rules
with `override: true` (layer 1), which replace plain file rules (layer 0).
Two rules of the same identity in the same layer are an error naming both.
Then from_host files are read (a missing one skips its rule, with a note),
and the rules are sorted by precedence (precedence.sort_key).
"""
from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

from ..datatype import datatype, field
from ..model import (
    EMULATION_NAMES,
    Action,
    Emulation,
    Origin,
    PathRule,
    RuleSet,
    SyscallRule,
    VirtualFile,
)
from ..profiles import available_profiles, is_profile_name, profile_file
from .errors import RulesError
from .precedence import identity, kind_name, sort_key, sys_identity, sys_sort_key
from .spec import (
    ID_RE,
    MAX_CONTENT,
    Ctx,
    NameSpec,
    RuleSpec,
    check_action_pattern,
    classify,
    redirect_target,
)
from .suggest import did_you_mean

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from .sysrules import SysRuleSpec
    from .validate import CgroupfsSpec, FileSpec

CMDLINE = "<command line>"
MAX_FILE = 16 << 20
# Far more than a real set of files nests, and short of Python's recursion limit
# (each level is a few frames, and a YAML parse needs some hundreds of its own).
MAX_INCLUDE_DEPTH = 32
LAYER_FILE, LAYER_OVERRIDE, LAYER_CLI = 0, 1, 2
_ACTION = {"content": Action.CONTENT, "from_host": Action.CONTENT,
           "redirect": Action.REDIRECT, "hide": Action.HIDE, "errno": Action.ERRNO,
           "list": Action.CONTENT}


@datatype
class LoadedRule:
    """A rule of the final set, with what `check` and `explain` need to know about it."""

    rule: PathRule
    spec: RuleSpec
    layer: int

    @property
    def origin(self) -> Origin:
        return self.rule.origin


@datatype
class LoadedSysRule:
    """A syscall rule of the final set."""

    spec: SysRuleSpec
    layer: int

    @property
    def rule(self) -> SyscallRule:
        return self.spec.rule

    @property
    def origin(self) -> Origin:
        return self.spec.rule.origin


@datatype
class LoadResult:
    rules: list[LoadedRule] = field(default_factory=list)  # precedence order
    overridden: list[tuple[LoadedRule, LoadedRule]] = field(default_factory=list)  # (lost, won)
    skipped: list[tuple[LoadedRule, str]] = field(default_factory=list)  # (rule, why)
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # files read, in order
    sys_rules: list[LoadedSysRule] = field(default_factory=list)  # precedence order
    sys_overridden: list[tuple[LoadedSysRule, LoadedSysRule]] = field(default_factory=list)
    emulations: Emulation = field(default_factory=lambda: Emulation(0))
    emulate_origin: dict[str, Origin] = field(default_factory=dict)
    cgroupfs: CgroupfsSpec | None = None
    disabled: list[NameSpec] = field(default_factory=list)  # names that took effect

    def ruleset(self) -> RuleSet:
        return RuleSet([lr.rule for lr in self.rules], [sr.rule for sr in self.sys_rules],
                       self.emulations)


# ---------------------------------------------------------------- C-style escapes

_SIMPLE_ESC = {"n": b"\n", "t": b"\t", "r": b"\r", "\\": b"\\", "0": b"\0", "a": b"\a",
               "b": b"\b", "f": b"\f", "v": b"\v", "e": b"\x1b", '"': b'"', "'": b"'"}


def parse_cli_text(s: str) -> bytes:
    """Interpret C-style escapes in a --fake TEXT: \\n \\t \\r \\\\ \\" \\' \\a \\b \\f
    \\v \\e, \\xHH (1-2 hex digits), \\NNN (1-3 octal digits). Other characters are
    taken as UTF-8 (undecodable command-line bytes come back unchanged).
    Raises RulesError for a bad escape."""
    out = bytearray()
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c != "\\":
            j = s.find("\\", i)
            j = n if j < 0 else j
            out += s[i:j].encode("utf-8", "surrogateescape")
            i = j
            continue
        if i + 1 >= n:
            raise RulesError("a trailing backslash escapes nothing (write \\\\ for a backslash)")
        e = s[i + 1]
        if e == "x":
            j = i + 2
            while j < n and j < i + 4 and s[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i + 2:
                raise RulesError(f"\\x needs hex digits (at character {i + 1})")
            out.append(int(s[i + 2:j], 16))
            i = j
        elif e in "01234567":
            j = i + 1
            while j < n and j < i + 4 and s[j] in "01234567":
                j += 1
            v = int(s[i + 1:j], 8)
            if v > 0xFF:
                raise RulesError(f"octal escape \\{s[i + 1:j]} is above \\377")
            out.append(v)
            i = j
        elif e in _SIMPLE_ESC:
            out += _SIMPLE_ESC[e]
            i += 2
        else:
            raise RulesError(f"unknown escape \\{e} (at character {i + 1}; "
                             "write \\\\ for a backslash)")
    return bytes(out)


MAX_SHOWN_ARG = 100


def show_arg(flag: str, arg: str) -> str:
    shown = arg if arg.isprintable() else arg.encode("unicode_escape",
                                                     "backslashreplace").decode("ascii")
    if len(shown) > MAX_SHOWN_ARG:  # the error stays one readable line
        return f"{flag} {shlex.quote(shown[:MAX_SHOWN_ARG - 20] + '...')} ({len(arg)} characters)"
    return f"{flag} {shlex.quote(shown)}"


# ---------------------------------------------------------------- loader

def _through_aliases(err: RulesError, text: str, display: str) -> RulesError:
    """`err`, or, in a file with aliases, the error a second look finds with
    them expanded: put where the alias that reaches it is written, naming the
    anchor and where in it the error is (yamlparse.parse's expand_aliases)."""
    if "*" not in text:  # no alias
        return err
    from .validate import validate_document
    from .yamlparse import ExpansionTooLarge
    from .yamlparse import parse as parse_yaml

    try:
        validate_document(parse_yaml(text, display, expand_aliases=True), display)
    except RulesError as again:
        return again
    except ExpansionTooLarge:
        pass
    return err


class _Loader:
    def __init__(self) -> None:
        self.specs: list[RuleSpec] = []
        self.sys_specs: list[SysRuleSpec] = []
        self.emulate: list[NameSpec] = []
        self.disable: list[NameSpec] = []
        self.cgroupfs: CgroupfsSpec | None = None
        self.notes: list[str] = []
        self.loaded: set[str] = set()
        self.stack: list[tuple[str, str]] = []  # (realpath, display)
        self.sources: list[str] = []

    def load_file(self, path: str, display: str, via: RulesError | None = None) -> None:
        real = os.path.realpath(path)
        for r, _d in self.stack:
            if r == real:
                chain = " -> ".join([d for _r, d in self.stack] + [display])
                assert via is not None
                via.message = f"include cycle: {chain}"
                raise via
        if real in self.loaded:
            return
        if via is not None and len(self.stack) > MAX_INCLUDE_DEPTH:
            via.message = (f"includes nested more than {MAX_INCLUDE_DEPTH} levels deep "
                           f"(from {self.stack[0][1]}); {display} is not read")
            raise via
        try:
            data = read_at_most(path, MAX_FILE)
        except OSError as e:
            msg = f"cannot read rules file: {e.strerror or e}"
            if not display:  # an empty name would leave the message naming no file
                msg = f"cannot read rules file '': {e.strerror or e}"
            if via is not None:
                via.message = f"cannot read {display}: {e.strerror or e}"
                raise via from None
            raise RulesError(msg, display) from None
        if len(data) > MAX_FILE:
            raise RulesError(f"rules file larger than {MAX_FILE} bytes", display)
        self.loaded.add(real)
        self.sources.append(display)
        self.stack.append((real, display))
        from .yamlpos import decode  # lazily: see load_text

        try:
            self.load_text(decode(data, display), display, os.path.dirname(path))
        finally:
            self.stack.pop()

    def load_text(self, text: str, display: str, base_dir: str) -> None:
        # here, not at the top: rules given only as flags need neither the YAML tree
        # nor the document validation (their modules cost ms of run's start-up)
        from .validate import validate_document
        from .yamlpos import parse

        try:
            spec: FileSpec = validate_document(parse(text, display), display)
        except RulesError as e:
            raise _through_aliases(e, text, display) from None
        for inc in spec.includes:
            err = RulesError("", display, inc.pos.line, inc.pos.col, inc.key)
            if is_profile_name(inc.name):
                p = profile_file(inc.name)
                if p is None:
                    err.message = _unknown_profile(inc.name)
                    raise err
                self.load_file(p, p, err)
            else:
                if inc.name.startswith("~"):
                    err.message = "'~' is not expanded in include paths"
                    raise err
                full = os.path.join(base_dir, inc.name)
                shown = os.path.normpath(os.path.join(os.path.dirname(display), inc.name))
                self.load_file(full, shown, err)
        self.specs.extend(spec.rules)
        for sr in spec.sys_rules:
            sr.order = len(self.sys_specs)
            self.sys_specs.append(sr)
        self.emulate.extend(spec.emulate)
        self.disable.extend(spec.disable)
        if spec.cgroupfs is not None:
            if self.cgroupfs is not None:
                self.notes.append(f"{spec.cgroupfs.origin}: cgroupfs replaces the one at "
                                  f"{self.cgroupfs.origin}")
            self.cgroupfs = spec.cgroupfs

    def load_profile(self, name: str) -> None:
        key = show_arg("--profile", name)
        p = profile_file(name)
        if p is None:
            raise RulesError(_unknown_profile(name), CMDLINE, key=key)
        self.load_file(p, p)


def _unknown_profile(name: str) -> str:
    avail = available_profiles()
    if not is_profile_name(name):
        return f"{name!r} is not a profile name (letters, digits, '.', '_', '-')"
    return (f"unknown profile {name!r}{did_you_mean(name, avail)}; available: "
            + (", ".join(avail) or "none"))


def _cli_spec(flag: str, arg: str) -> RuleSpec:
    key = show_arg(flag, arg)
    ctx = Ctx(CMDLINE)
    origin = Origin(key)
    if flag == "--hide":
        pat, kind = classify(ctx, arg, None, key)
        spec = RuleSpec(origin, key, pat, kind, "hide", errno=2, match_written=arg)
    else:
        what = "PATH=TEXT" if flag == "--fake" else "SRC=DST"
        if "=" not in arg:
            ctx.fail(f"expected {what}", None, key)
        src, _, val = arg.partition("=")
        pat, kind = classify(ctx, src, None, key)
        if flag == "--fake":
            try:
                data = parse_cli_text(val)
            except RulesError as e:
                ctx.fail(e.message, None, key)
            if len(data) > MAX_CONTENT:
                ctx.fail(f"content is larger than {MAX_CONTENT} bytes", None, key)
            spec = RuleSpec(origin, key, pat, kind, "content", content=data, match_written=src)
        else:
            spec = RuleSpec(origin, key, pat, kind, "redirect", match_written=src,
                            target=redirect_target(ctx, val, None, key), target_written=val)
    check_action_pattern(ctx, spec, None, None)
    return spec


def _to_rule(spec: RuleSpec, content: bytes | None) -> PathRule:
    action = _ACTION[spec.action]
    vf = None
    if spec.action == "list":  # the listing is made at run time (sysfake.vdirs)
        vf = VirtualFile(b"", spec.mode, spec.uid, spec.gid, True, directory=True,
                         listing=spec.listing)
    elif action is Action.CONTENT:
        assert content is not None
        vf = VirtualFile(content, spec.mode, spec.uid, spec.gid, spec.readonly, spec.generator)
    return PathRule(match=spec.match, kind=spec.kind, action=action, origin=spec.origin,
                    vfile=vf, target=spec.target, errno=spec.errno,
                    only_exe=spec.only_exe, only_comm=spec.only_comm)


def read_at_most(path: str, limit: int) -> bytes:
    """Up to limit + 1 bytes of path (a longer file is the caller's error).

    Read in pieces: f.read(limit + 1) sets aside the whole limit first
    (MemoryError under a small ulimit -v, for a file of a few bytes). Opened
    O_NONBLOCK, then blocking again: a FIFO nobody writes to reads as empty
    instead of hanging, and a pipe (`--rules <(...)`) is still read whole."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        os.set_blocking(fd, True)
        parts: list[bytes] = []
        got = 0
        while got <= limit:
            b = os.read(fd, min(1 << 20, limit + 1 - got))
            if not b:
                break
            parts.append(b)
            got += len(b)
        return b"".join(parts)
    finally:
        os.close(fd)


def _read_host(path: str) -> tuple[bytes | None, str]:
    try:
        data = read_at_most(path, MAX_CONTENT)
    except OSError as e:
        return None, f"host file {path} cannot be read ({e.strerror or e}); rule skipped"
    if len(data) > MAX_CONTENT:
        return None, f"host file {path} is larger than {MAX_CONTENT} bytes; rule skipped"
    return data, ""


def _describe_identity(spec: RuleSpec) -> str:
    s = f"{kind_name(spec.kind)} {spec.match}"
    only = [f"{k}={v}" for k, v in (("exe", spec.only_exe), ("comm", spec.only_comm)) if v]
    return s + (f" with only: {', '.join(only)}" if only else "")


def resolve(specs: list[tuple[RuleSpec, int]], read_host: bool = True) -> LoadResult:
    """Resolve equal rules by layer, read from_host files, sort by precedence."""
    res = LoadResult()
    groups: dict[object, list[tuple[RuleSpec, int]]] = {}
    for spec, layer in specs:
        probe = _to_rule(spec, b"")
        groups.setdefault(identity(probe), []).append((spec, layer))
    winners: list[tuple[RuleSpec, int]] = []
    for members in groups.values():
        top = max(layer for _s, layer in members)
        best = [(s, layer) for s, layer in members if layer == top]
        if len(best) > 1:
            (a, _), (b, _) = best[0], best[1]
            hint = {LAYER_FILE: "; remove one, or mark the one that should win override: true",
                    LAYER_OVERRIDE: "; only one rule may override it",
                    LAYER_CLI: ""}[top]
            o = b.origin
            raise RulesError(f"duplicate rule: {_describe_identity(b)} is also defined at "
                             f"{a.origin}{hint}", o.file if o.line else CMDLINE,
                             o.line, o.col, b.key)
        winners.append(best[0])
        for s, layer in members:
            if layer != top:
                res.overridden.append((LoadedRule(_to_rule(s, s.content or b""), s, layer),
                                       LoadedRule(_to_rule(best[0][0], b""), best[0][0], top)))
                res.notes.append(f"{s.origin}: {s.key} is overridden by {best[0][0].origin}")
        if best[0][0].override and top == LAYER_OVERRIDE and len(members) == 1:
            s = best[0][0]
            res.notes.append(f"{s.origin}: {s.key} has override: true but no other rule "
                             f"for {_describe_identity(s)}")
    loaded: list[LoadedRule] = []
    for spec, layer in winners:
        content = spec.content
        if spec.action == "from_host":
            assert spec.from_host is not None
            data, why = _read_host(spec.from_host) if read_host else (b"", "")
            if data is None:
                res.skipped.append((LoadedRule(_to_rule(spec, b""), spec, layer), why))
                res.notes.append(f"{spec.origin}: {spec.key}: {why}")
                continue
            content = data
        loaded.append(LoadedRule(_to_rule(spec, content if content is not None else b""),
                                 spec, layer))
    # fix up the winners recorded in `overridden` now that contents are known
    by_id = {id(lr.spec): lr for lr in loaded}
    res.overridden = [(lost, by_id.get(id(won.spec), won)) for lost, won in res.overridden]
    loaded.sort(key=lambda lr: sort_key(lr.rule))
    res.rules = loaded
    return res


def _describe_sys(r: SyscallRule) -> str:
    parts = [r.name]
    if r.args:
        parts.append("args " + ", ".join(f"{m.idx}:{m.op.name.lower()}" for m in r.args))
    if r.path is not None:
        parts.append(f"path {r.path}")
    if r.only_exe or r.only_comm:
        parts.append("only " + " ".join(f"{k}={v}" for k, v in
                                        (("exe", r.only_exe), ("comm", r.only_comm)) if v))
    return " ".join(parts)


def resolve_sys(specs: list[tuple[SysRuleSpec, int]],
                res: LoadResult) -> list[LoadedSysRule]:
    """Equal syscall rules by layer (as for path rules), then precedence order."""
    groups: dict[object, list[tuple[SysRuleSpec, int]]] = {}
    for spec, layer in specs:
        groups.setdefault(sys_identity(spec.rule), []).append((spec, layer))
    out: list[LoadedSysRule] = []
    for members in groups.values():
        top = max(layer for _s, layer in members)
        best = [(s, layer) for s, layer in members if layer == top]
        if len(best) > 1:
            a, b = best[0][0], best[1][0]
            hint = ("; remove one, or mark the one that should win override: true"
                    if top == LAYER_FILE else "; only one rule may override it")
            o = b.origin
            raise RulesError(f"duplicate syscall rule: {_describe_sys(b.rule)} (with the same "
                             f"when and if_errno) is also defined at {a.origin}{hint}",
                             o.file, o.line, o.col, b.key)
        won = LoadedSysRule(best[0][0], top)
        out.append(won)
        for s, layer in members:
            if layer != top:
                res.sys_overridden.append((LoadedSysRule(s, layer), won))
                res.notes.append(f"{s.origin}: {s.key} is overridden by {won.origin}")
    out.sort(key=lambda lr: sys_sort_key(lr.rule, lr.spec.order))
    return out


def _finish(ld: _Loader, res: LoadResult, disable_rules: Sequence[str]) -> None:
    """Syscall rules, emulations, cgroupfs, then disable: (after all includes)."""
    res.notes[:0] = ld.notes
    ids: dict[str, Origin] = {}
    for lr in res.rules:
        rid = lr.spec.rid
        if rid is not None:
            if rid in ids:
                o = lr.origin
                raise RulesError(f"duplicate rule id {rid!r}: also used at {ids[rid]}",
                                 o.file, o.line, o.col, f"{lr.spec.key}.id")
            ids[rid] = lr.origin
    seen_sys: dict[str, str] = {}  # id -> key (the rules of one syscall: list share an id)
    for ss in ld.sys_specs:
        if ss.rid is None:
            continue
        where = f"{ss.origin}"
        if (ss.rid in ids and seen_sys.get(ss.rid) != where):
            o = ss.origin
            raise RulesError(f"duplicate rule id {ss.rid!r}: also used at {ids[ss.rid]}",
                             o.file, o.line, o.col, f"{ss.key}.id")
        ids[ss.rid] = ss.origin
        seen_sys[ss.rid] = where
    res.sys_rules = resolve_sys(
        [(s, LAYER_OVERRIDE if s.override else LAYER_FILE) for s in ld.sys_specs], res)
    for e in ld.emulate:
        res.emulations |= EMULATION_NAMES[e.name]
        res.emulate_origin.setdefault(e.name, e.origin)
    res.cgroupfs = ld.cgroupfs
    if ld.cgroupfs is not None:
        res.emulations |= Emulation.CGROUPFS
        res.emulate_origin.setdefault("cgroupfs", ld.cgroupfs.origin)
    names = list(ld.disable)
    for d in disable_rules:
        key = show_arg("--disable-rule", d)
        if not ID_RE.match(d):
            raise RulesError(f"{d!r} is not a rule id or an emulation name", CMDLINE, key=key)
        names.append(NameSpec(d, Origin(key), key))
    for n in names:
        hit = False
        if n.name in EMULATION_NAMES:
            res.emulations &= ~EMULATION_NAMES[n.name]
            hit = True
        before = len(res.rules) + len(res.sys_rules)
        res.rules = [lr for lr in res.rules if lr.spec.rid != n.name]
        res.sys_rules = [sr for sr in res.sys_rules if sr.spec.rid != n.name]
        if len(res.rules) + len(res.sys_rules) != before:
            hit = True
        if not hit:
            known = sorted(set(ids) | set(EMULATION_NAMES))
            msg = (f"disable: no rule has id {n.name!r} and no emulation is called that"
                   f"{did_you_mean(n.name, known)}")
            o = n.origin
            if o.line:
                raise RulesError(msg, o.file, o.line, o.col, n.key)
            raise RulesError(msg, CMDLINE, key=n.key)
        res.disabled.append(n)
        res.notes.append(f"{n.origin}: {n.name} disabled")


def load_detailed(files: Sequence[str] = (), fakes: Sequence[str] = (),
                  redirects: Sequence[str] = (), hides: Sequence[str] = (),
                  profiles: Sequence[str] = (), *, read_host: bool = True,
                  disable_rules: Sequence[str] = ()) -> LoadResult:
    """Like load(), but returns the LoadResult used by check and explain."""
    ld = _Loader()
    for name in profiles:
        ld.load_profile(name)
    for f in files:
        ld.load_file(f, f)
    specs = [(s, LAYER_OVERRIDE if s.override else LAYER_FILE) for s in ld.specs]
    for flag, args in (("--fake", fakes), ("--redirect", redirects), ("--hide", hides)):
        specs.extend((_cli_spec(flag, a), LAYER_CLI) for a in args)
    res = resolve(specs, read_host)
    res.sources = ld.sources
    _finish(ld, res, disable_rules)
    return res


def load(files: Sequence[str] = (), fakes: Sequence[str] = (), redirects: Sequence[str] = (),
         hides: Sequence[str] = (), profiles: Sequence[str] = (),
         disable_rules: Sequence[str] = ()) -> RuleSet:
    """Load and compile rules; the RuleSet is in precedence order. Raises RulesError.

    The cgroupfs: tree is not built here: use sysfake.cgroupfs.prepare_runtime on
    load_detailed()'s result before encoding the table for a run."""
    return load_detailed(files, fakes, redirects, hides, profiles,
                         disable_rules=disable_rules).ruleset()


def load_text_detailed(text: str, filename: str = "<string>",
                       base_dir: str | None = None, *, read_host: bool = True) -> LoadResult:
    """Load one rules document given as text (includes resolve against base_dir)."""
    ld = _Loader()
    base = base_dir if base_dir is not None else os.path.dirname(filename) or "."
    ld.sources.append(filename)
    ld.load_text(text, filename, base)
    specs = [(s, LAYER_OVERRIDE if s.override else LAYER_FILE) for s in ld.specs]
    res = resolve(specs, read_host)
    res.sources = ld.sources
    _finish(ld, res, ())
    return res


def load_text(text: str, filename: str = "<string>", base_dir: str | None = None) -> RuleSet:
    return load_text_detailed(text, filename, base_dir).ruleset()


__all__ = ["CMDLINE", "LoadResult", "LoadedRule", "LoadedSysRule", "RulesError", "load",
           "load_detailed", "load_text", "load_text_detailed", "parse_cli_text"]
