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


def _pos(node: Node, via: Pos | None = None, anchor: str = "") -> Pos:
    m = node.start_mark
    return Pos(m.line + 1, m.column + 1, via, anchor)


# What parse(expand_aliases=True) converts at most: it runs again on a file
# already found in error, only to name the aliases the error was reached through.
MAX_EXPANDED = 10_000


class ExpansionTooLarge(Exception):
    """parse(expand_aliases=True) gave up: the aliases stand for more than
    MAX_EXPANDED nodes."""


class _Loader(yaml.SafeLoader):
    """PyYAML's SafeLoader, except that an alias is its own node: a shallow copy of
    the anchored one, marked where the alias is written, its anchor's name in
    `alias_anchor`. An error about what the alias stands for (a duplicate rule) then
    names the place it is used; its children are still shared, so a chain of
    aliases stays linear to convert (but see parse's expand_aliases).

    Nesting deeper than MAX_DEPTH is refused where it passes the limit: PyYAML
    composes a level with three nested calls, and 2000 levels reached Python's
    recursion limit, whose error has no line."""

    def __init__(self, stream: str, filename: str) -> None:
        super().__init__(stream)
        self.filename = filename
        self.depth = 0  # of the node being composed; the document's is 0
        self.alias_anchor: dict[int, str] = {}  # id of an alias's node -> the anchor's name

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
        event = self.peek_event()  # type: ignore[no-untyped-call]
        node = super().compose_node(parent, index)
        assert node is not None  # an alias names a node (or the composer raised)
        alias = copy.copy(node)
        alias.start_mark = alias.end_mark = event.start_mark
        self.alias_anchor[id(alias)] = str(event.anchor)
        return alias



class _Converter:
    def __init__(self, loader: _Loader, filename: str, expand: bool) -> None:
        self.loader = loader
        self.filename = filename
        self.expand = expand
        self.done: dict[int, YNode] = {}  # what no alias reaches, converted once
        self.active: set[int] = set()
        self.count = 0

    def err(self, msg: str, pos: Pos) -> RulesError:
        return RulesError.at(msg, self.filename, pos)

    def convert(self, node: Node, depth: int = 0, via: Pos | None = None,
                anchor: str = "") -> YNode:
        """`node` as a YNode; `via` and `anchor`: the alias (and its anchor's
        name) that `node` is reached through, if any (Pos.via), when expanding."""
        nid = id(node)
        if via is None and nid in self.done:  # what an alias reaches is its own
            return self.done[nid]
        pos = _pos(node, via, anchor)
        if nid in self.active:  # at the alias that closes the loop
            raise self.err("recursive YAML alias", Pos(pos.line, pos.col))
        if depth > MAX_DEPTH:
            raise self.err(f"YAML nesting deeper than {MAX_DEPTH} levels", pos)
        self.count += 1
        if self.expand:
            if self.count > MAX_EXPANDED:
                raise ExpansionTooLarge
            name = self.loader.alias_anchor.get(nid)
            if name is not None:  # an alias: what is inside it is reached through it
                via, anchor = pos, name
        elif self.count > MAX_NODES:
            raise self.err(f"more than {MAX_NODES} YAML nodes", pos)
        self.active.add(nid)
        try:
            out: YNode
            if isinstance(node, ScalarNode):
                out = self._scalar(node, pos)
            elif isinstance(node, SequenceNode):
                self._check_tag(node, "tag:yaml.org,2002:seq", pos)
                out = YSeq([self.convert(n, depth + 1, via, anchor) for n in node.value], pos)
            elif isinstance(node, MappingNode):
                self._check_tag(node, "tag:yaml.org,2002:map", pos)
                out = self._mapping(node, pos, depth, via, anchor)
            else:  # pragma: no cover - PyYAML has no other node kinds
                raise self.err("unexpected YAML node", pos)
        finally:
            self.active.discard(nid)
        if via is None:
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

    def _mapping(self, node: MappingNode, pos: Pos, depth: int, via: Pos | None,
                 anchor: str) -> YMap:
        out = YMap(pos=pos)
        merged: list[YMap] = []
        for knode, vnode in node.value:
            kpos = _pos(knode, via, anchor)
            if isinstance(knode, ScalarNode) and knode.tag == MERGE_TAG:
                v = self.convert(vnode, depth + 1, via, anchor)
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
                raise RulesError.at(f"duplicate key '{key}' (first given at line {first.line})",
                                    self.filename, kpos, key)
            out.entries[key] = YEntry(key, kpos, self.convert(vnode, depth + 1, via, anchor))
        for m in merged:  # explicit keys win; the first merged mapping wins among merges
            for key, entry in m.entries.items():
                out.entries.setdefault(key, entry)
        return out


def parse(text: str, filename: str, expand_aliases: bool = False) -> YNode | None:
    """Parse one YAML document. Returns None for an empty document. Raises RulesError.

    With expand_aliases, what an alias stands for is converted again for each
    alias, its positions naming the alias and the anchor (pos.Pos.via), so that
    an error inside it is put where the alias is: for a second look at a file
    found in error, since a chain of aliases grows exponentially when expanded
    (ExpansionTooLarge past MAX_EXPANDED nodes)."""
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
            return _Converter(loader, filename, expand_aliases).convert(node)
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
