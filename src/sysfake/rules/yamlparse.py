"""PyYAML's node graph -> the positioned tree of yamlpos (YScalar/YSeq/YMap)."""
from __future__ import annotations

import copy

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import RulesError
from .yamlpos import (
    MAX_DEPTH,
    MAX_NODES,
    MERGE_TAG,
    Pos,
    YEntry,
    YMap,
    YNode,
    YScalar,
    YSeq,
    _pos_of_index,
)


def _pos(node: Node) -> Pos:
    m = node.start_mark
    return Pos(m.line + 1, m.column + 1)


class _Loader(yaml.SafeLoader):
    """PyYAML's SafeLoader, except that an alias is its own node: a shallow copy of
    the anchored one, marked where the alias is written. An error about what the
    alias stands for (a duplicate rule) then names the place it is used; its
    children are still shared, so a chain of aliases stays linear to convert.

    Nesting deeper than MAX_DEPTH is refused where it passes the limit: PyYAML
    composes a level with three nested calls, and 2000 levels reached Python's
    recursion limit, whose error has no line."""

    def __init__(self, stream: str, filename: str) -> None:
        super().__init__(stream)
        self.filename = filename
        self.depth = 0  # of the node being composed; the document's is 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if not self.check_event(AliasEvent):
            if self.depth > MAX_DEPTH:  # as _Converter.convert counts it
                m = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise RulesError(f"YAML nesting deeper than {MAX_DEPTH} levels", self.filename,
                                 m.line + 1, m.column + 1)
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        node = super().compose_node(parent, index)
        assert node is not None  # an alias names a node (or the composer raised)
        alias = copy.copy(node)
        alias.start_mark = alias.end_mark = mark
        return alias



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
        loader = _Loader(text, filename)
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
