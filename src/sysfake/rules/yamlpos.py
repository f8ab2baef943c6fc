"""YAML loading that keeps the line and column of every key and value.

PyYAML composes a node graph with marks; yamlparse turns it into a small tree
of YScalar / YSeq / YMap objects (defined here), each carrying its 1-based
position. Anything PyYAML or the conversion objects to becomes a RulesError
with a position: syntax errors, several documents in one file, duplicate
keys, unknown tags, recursive aliases, absurd nesting. This module does not
import PyYAML, so `sysfake run` with rules from flags only starts faster; nor
does reading a shipped profile (profile_snapshot.py).
"""
from __future__ import annotations

from ..datatype import datatype, field
from .errors import RulesError
from .pos import Pos as Pos  # defined apart for spec.py; Pos is part of this module's API

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import TypeAlias

MAX_DEPTH = 64  # far deeper than any valid rules file
MAX_NODES = 200_000
MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
FIRST_POS = Pos(1, 1)


@datatype
class YScalar:
    value: object  # the constructed value: str, int, bool, None, float, date, bytes ...
    text: str  # the scalar's text after unescaping
    plain: bool  # written without quotes
    pos: Pos


@datatype
class YSeq:
    items: list[YNode]
    pos: Pos


@datatype
class YEntry:
    key: str
    key_pos: Pos
    value: YNode


@datatype
class YMap:
    entries: dict[str, YEntry] = field(default_factory=dict)
    pos: Pos = FIRST_POS


YNode: TypeAlias = "YScalar | YSeq | YMap"


def type_name(node: YNode) -> str:
    """A human name for what a node holds: 'a mapping', 'a list', 'the integer 3' ..."""
    if isinstance(node, YMap):
        return "a mapping"
    if isinstance(node, YSeq):
        return "a list"
    v = node.value
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return f"the boolean {node.text}"
    if isinstance(v, int):
        return f"the integer {node.text}"
    if isinstance(v, float):
        return f"the number {node.text}"
    if isinstance(v, str):
        return "a string"
    return f"a {type(v).__name__} ({node.text})"


def _pos_of_index(text: str, index: int) -> Pos:
    before = text[:max(0, index)]
    line = before.count("\n") + 1
    col = index - (before.rfind("\n") + 1) + 1
    return Pos(line, col)


def parse(text: str, filename: str) -> YNode | None:
    """Parse one YAML document. Returns None for an empty document. Raises RulesError."""
    from .profile_snapshot import lookup  # a shipped profile's tree, made ahead of time

    found, tree = lookup(text)
    if found:
        return tree
    from .yamlparse import parse as parse_yaml  # PyYAML is loaded only to read YAML

    return parse_yaml(text, filename)


def decode(data: bytes, filename: str) -> str:
    """Bytes of a rules file to text (UTF-8), with a positioned error if it is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        good = data[:e.start].decode("utf-8", "replace")
        p = _pos_of_index(good, len(good))
        raise RulesError(f"not UTF-8 text (byte 0x{data[e.start]:02x})", filename,
                         p.line, p.col) from None
