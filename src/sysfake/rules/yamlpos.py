"""YAML loading that keeps the line and column of every key and value.

PyYAML composes a node graph with marks; we turn it into a small tree of
YScalar / YSeq / YMap objects, each carrying its 1-based position. Anything
PyYAML or the conversion objects to becomes a RulesError with a position:
syntax errors, several documents in one file, duplicate keys, unknown tags,
recursive aliases, absurd nesting.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import RulesError

MAX_DEPTH = 64  # far deeper than any valid rules file
MAX_NODES = 200_000
MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class Pos:
    line: int  # 1-based
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.line}:{self.col}"


@dataclass
class YScalar:
    value: object  # the constructed value: str, int, bool, None, float, date, bytes ...
    text: str  # the scalar's text after unescaping
    plain: bool  # written without quotes
    pos: Pos


@dataclass
class YSeq:
    items: list[YNode]
    pos: Pos


@dataclass
class YEntry:
    key: str
    key_pos: Pos
    value: YNode


@dataclass
class YMap:
    entries: dict[str, YEntry] = field(default_factory=dict)
    pos: Pos = Pos(1, 1)


YNode = Union[YScalar, YSeq, YMap]


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


def _pos(node: Node) -> Pos:
    m = node.start_mark
    return Pos(m.line + 1, m.column + 1)


def _pos_of_index(text: str, index: int) -> Pos:
    before = text[:max(0, index)]
    line = before.count("\n") + 1
    col = index - (before.rfind("\n") + 1) + 1
    return Pos(line, col)


class _Converter:
    def __init__(self, loader: yaml.SafeLoader, filename: str) -> None:
        self.loader = loader
        self.filename = filename
        self.done: dict[int, YNode] = {}
        self.active: set[int] = set()
        self.count = 0

    def err(self, msg: str, pos: Pos) -> RulesError:
        return RulesError(msg, self.filename, pos.line, pos.col)

    def convert(self, node: Node, depth: int = 0) -> YNode:
        nid = id(node)
        if nid in self.done:
            return self.done[nid]
        pos = _pos(node)
        if nid in self.active:
            raise self.err("recursive YAML alias", pos)
        if depth > MAX_DEPTH:
            raise self.err(f"YAML nesting deeper than {MAX_DEPTH} levels", pos)
        self.count += 1
        if self.count > MAX_NODES:
            raise self.err(f"more than {MAX_NODES} YAML nodes", pos)
        self.active.add(nid)
        try:
            out: YNode
            if isinstance(node, ScalarNode):
                out = self._scalar(node, pos)
            elif isinstance(node, SequenceNode):
                self._check_tag(node, "tag:yaml.org,2002:seq", pos)
                out = YSeq([self.convert(n, depth + 1) for n in node.value], pos)
            elif isinstance(node, MappingNode):
                self._check_tag(node, "tag:yaml.org,2002:map", pos)
                out = self._mapping(node, pos, depth)
            else:  # pragma: no cover - PyYAML has no other node kinds
                raise self.err("unexpected YAML node", pos)
        finally:
            self.active.discard(nid)
        self.done[nid] = out
        return out

    def _check_tag(self, node: Node, want: str, pos: Pos) -> None:
        if node.tag != want:
            raise self.err(f"unsupported YAML tag {node.tag}", pos)

    def _scalar(self, node: ScalarNode, pos: Pos) -> YScalar:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            raise self.err(f"bad YAML value: {getattr(e, 'problem', None) or e}", pos) from None
        except (ValueError, TypeError, OverflowError) as e:
            raise self.err(f"bad YAML value {node.value!r}: {e}", pos) from None
        return YScalar(value, str(node.value), node.style is None, pos)

    def _mapping(self, node: MappingNode, pos: Pos, depth: int) -> YMap:
        out = YMap(pos=pos)
        merged: list[YMap] = []
        for knode, vnode in node.value:
            kpos = _pos(knode)
            if isinstance(knode, ScalarNode) and knode.tag == MERGE_TAG:
                v = self.convert(vnode, depth + 1)
                parts = v.items if isinstance(v, YSeq) else [v]
                for part in parts:
                    if not isinstance(part, YMap):
                        raise self.err("'<<' (merge key) needs a mapping or a list of mappings",
                                       kpos)
                    merged.append(part)
                continue
            if not isinstance(knode, ScalarNode):
                raise self.err("mapping keys must be plain words, not "
                               + ("a list" if isinstance(knode, SequenceNode) else "a mapping"),
                               kpos)
            key = str(knode.value)
            if key in out.entries:
                first = out.entries[key].key_pos
                raise RulesError(f"duplicate key '{key}' (first given at line {first.line})",
                                 self.filename, kpos.line, kpos.col, key)
            out.entries[key] = YEntry(key, kpos, self.convert(vnode, depth + 1))
        for m in merged:  # explicit keys win; the first merged mapping wins among merges
            for key, entry in m.entries.items():
                out.entries.setdefault(key, entry)
        return out


def parse(text: str, filename: str) -> YNode | None:
    """Parse one YAML document. Returns None for an empty document. Raises RulesError."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as e:
        raise _reader_error(e, text, filename) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            what = " ".join(x for x in (e.context, e.problem) if x) or "invalid YAML"
            if mark is None:
                raise RulesError(f"YAML syntax error: {what}", filename) from None
            raise RulesError(f"YAML syntax error: {what}", filename,
                             mark.line + 1, mark.column + 1) from None
        except yaml.reader.ReaderError as e:
            raise _reader_error(e, text, filename) from None
        except yaml.YAMLError as e:
            raise RulesError(f"YAML syntax error: {e}", filename) from None
        except RecursionError:
            raise RulesError("YAML nesting too deep", filename) from None
        if node is None:
            return None
        try:
            return _Converter(loader, filename).convert(node)
        except RecursionError:
            raise RulesError("YAML nesting too deep", filename) from None
    finally:
        loader.dispose()


def _reader_error(e: yaml.reader.ReaderError, text: str, filename: str) -> RulesError:
    p = _pos_of_index(text, e.position)
    ch = e.character
    code = ch if isinstance(ch, int) else ord(ch) if isinstance(ch, str) and ch else 0
    return RulesError(f"YAML syntax error: character U+{code:04X} is not allowed",
                      filename, p.line, p.col)


def decode(data: bytes, filename: str) -> str:
    """Bytes of a rules file to text (UTF-8), with a positioned error if it is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        good = data[:e.start].decode("utf-8", "replace")
        p = _pos_of_index(good, len(good))
        raise RulesError(f"not UTF-8 text (byte 0x{data[e.start]:02x})", filename,
                         p.line, p.col) from None
