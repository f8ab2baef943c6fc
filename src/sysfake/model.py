"""The in-memory rule model shared by the loader, the compiler and both backends."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class MatchKind(enum.IntEnum):
    EXACT = 0
    PREFIX = 1  # pattern ends with "/": the directory itself and everything below
    GLOB = 2  # "*" stays inside one component, "**" crosses "/", "?" one char


class Action(enum.IntEnum):
    CONTENT = 1  # a virtual file served from a tracer-owned memfd
    REDIRECT = 2  # prefix mapped onto another prefix
    HIDE = 3  # ENOENT
    ERRNO = 4  # any errno


@dataclass(frozen=True)
class Origin:
    """Where a rule came from, for error messages, `explain` and records."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        return self.file


@dataclass
class VirtualFile:
    content: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    readonly: bool = False


@dataclass
class PathRule:
    match: str
    kind: MatchKind
    action: Action
    origin: Origin
    vfile: VirtualFile | None = None
    target: str | None = None
    errno: int = 0
    only_exe: str | None = None
    only_comm: str | None = None


@dataclass
class RuleSet:
    """Rules in precedence order: the first rule that matches a path decides it."""

    path_rules: list[PathRule] = field(default_factory=list)
