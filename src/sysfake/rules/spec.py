"""What validation makes of a rule, and the checks that rules files and flags share.

`sysfake run --fake/--redirect/--hide` turns its flags into RuleSpecs with this
module alone: the YAML side (validate.py, yamlpos.py and their classes) is
imported only when a rules file is read, which keeps flag-only start-up short.
"""
from __future__ import annotations

import re

from ..datatype import datatype
from ..model import Generator, MatchKind, Origin
from ..paths import canonical
from .errors import RulesError
from .pos import Pos

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import NoReturn

NO_POS = Pos(0, 0)
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_CONTENT = 16 << 20
# The C core keeps a path in char[SF_PATH_MAX] (csrc/core.h; 4096, the kernel's
# PATH_MAX) and its table parser refuses longer patterns and targets: such a rule
# could never match anyway, since the kernel refuses longer path strings.
MAX_PATH = 4095


@datatype
class RuleSpec:
    """One validated rule from a file or a command-line flag, before precedence."""

    origin: Origin
    key: str  # "rules[2]" or the command-line flag
    match: str  # canonical pattern
    kind: MatchKind
    action: str  # one of validate.ACTIONS
    content: bytes | None = None
    from_host: str | None = None
    target: str | None = None
    target_written: str = ""
    errno: int = 0
    readonly: bool = False
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    only_exe: str | None = None
    only_comm: str | None = None
    override: bool = False
    match_written: str = ""
    match_pos: Pos = NO_POS
    rid: str | None = None  # the rule's id: (for disable:)
    generator: Generator = Generator.STATIC
    listing: bool = True  # list: true / false


@datatype
class NameSpec:
    """One name of an emulate: or disable: list (or of --disable-rule)."""

    name: str
    origin: Origin
    key: str


class Ctx:
    """Error reporting for one file (or the command line)."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, msg: str, pos: Pos | None, key: str | None) -> NoReturn:
        if pos is None:
            raise RulesError(msg, self.filename, 0, 0, key)
        raise RulesError.at(msg, self.filename, pos, key)


def check_path_len(ctx: Ctx, s: str, pos: Pos | None, key: str) -> None:
    if len(s.encode("utf-8", "surrogateescape")) > MAX_PATH:
        ctx.fail(f"longer than {MAX_PATH} bytes (Linux's PATH_MAX, and the longest path "
                 "the tracer handles)", pos, key)


def check_abs_path(ctx: Ctx, s: str, pos: Pos | None, key: str) -> None:
    if not s:
        ctx.fail("must not be empty", pos, key)
    if "\0" in s:
        ctx.fail("must not contain a NUL character", pos, key)
    check_path_len(ctx, s, pos, key)
    if not s.startswith("/"):
        hint = " (a path in the traced process's view, e.g. /proc/...)"
        if s.startswith("~"):
            hint = " ('~' is not expanded)"
        ctx.fail(f"must be an absolute path starting with '/', not {s!r}{hint}", pos, key)


GLOB_CHARS = frozenset("*?")
PREFIX_GLOB = re.compile(r"^[^*?]*/\*\*$")


def classify(ctx: Ctx, written: str, pos: Pos | None, key: str) -> tuple[str, MatchKind]:
    """Validate a match pattern; return (canonical pattern, kind).

    The kind is decided by how the pattern is written: anything with `*` or
    `?` is a GLOB, else a trailing `/` makes a PREFIX, else EXACT. A glob
    whose only wildcard is a trailing `/**` is the PREFIX `/a/`; a glob ending
    in `/` gets `**` appended (the directory and everything below).
    """
    check_abs_path(ctx, written, pos, key)
    if not GLOB_CHARS & set(written):
        kind = MatchKind.PREFIX if written.endswith("/") else MatchKind.EXACT
        return canonical(written, keep_trailing_slash=True), kind
    bad = sorted(set("[]{}") & set(written))
    if bad:
        ctx.fail(f"'{bad[0]}' is not supported in glob patterns: only *, ** and ? "
                 "are wildcards", pos, key)
    for comp in written.split("/"):
        if "**" in comp and comp != "**":
            ctx.fail(f"'**' must be a whole path component (like /a/**/b), not {comp!r}",
                     pos, key)
        if comp in (".", ".."):
            ctx.fail(f"'{comp}' components are not allowed in glob patterns", pos, key)
    p = canonical(written, keep_trailing_slash=True)
    if PREFIX_GLOB.match(p):
        return p[:-2], MatchKind.PREFIX
    if p.endswith("/"):
        p += "**"
        check_path_len(ctx, p, pos, key)  # as the table holds it
    return p, MatchKind.GLOB


def check_action_pattern(ctx: Ctx, spec: RuleSpec, mpos: Pos | None,
                         apos: Pos | None) -> None:
    """Constraints between the pattern kind and the action."""
    if spec.action in ("content", "from_host") and spec.kind is MatchKind.PREFIX:
        ctx.fail(f"{spec.action} needs a file pattern (exact or glob); the prefix "
                 f"{spec.match_written!r} would turn the directory itself into a file",
                 mpos, f"{spec.key}.match" if spec.key.startswith("rules") else spec.key)
    if spec.action == "redirect":
        assert spec.target is not None
        k = f"{spec.key}.redirect" if spec.key.startswith("rules") else spec.key
        if spec.kind is MatchKind.GLOB:
            ctx.fail("redirect needs an exact path or a prefix ending in '/', not a glob",
                     mpos, f"{spec.key}.match" if spec.key.startswith("rules") else spec.key)
        if (spec.kind is MatchKind.PREFIX) != spec.target_written.endswith("/"):
            if spec.kind is MatchKind.PREFIX:
                ctx.fail(f"the source {spec.match_written!r} is a prefix (ends in '/'), so the "
                         f"target must be one too: {spec.target_written + '/'!r}", apos, k)
            ctx.fail(f"the source {spec.match_written!r} is an exact path, so the target must "
                     f"not end in '/' (or make both prefixes: {spec.match_written + '/'!r})",
                     apos, k)


def redirect_target(ctx: Ctx, s: str, pos: Pos | None, k: str) -> str:
    check_abs_path(ctx, s, pos, k)
    if GLOB_CHARS & set(s):
        ctx.fail("a redirect target cannot contain wildcards", pos, k)
    return canonical(s, keep_trailing_slash=True)
