"""Known /proc/sys values: the data file rules/data/sysctl-defaults.yaml.

It is data, not a rule profile (it lives below rules/data/, which profile
lookup does not search). Installed packages carry it as
sysfake/profiles/data/sysctl-defaults.yaml.
"""
from __future__ import annotations

from pathlib import Path

from ..datatype import datatype
from ..profiles import profile_dirs
from ..rules.pos import Pos
from ..rules.yamlpos import YMap, YNode, YScalar

DATA_NAME = "sysctl-defaults.yaml"
FORMAT = "sysctl-defaults/1"
PROC_SYS = "/proc/sys/"


class SysctlDataError(Exception):
    pass


@datatype(frozen=True)
class Known:
    key: str  # below /proc/sys, e.g. vm/overcommit_memory
    value: str | None  # file text without the final newline; None: machine-specific
    expected: bool  # programs want exactly this value
    why: str
    source: str

    @property
    def path(self) -> str:
        return PROC_SYS + self.key


def data_path() -> Path | None:
    for d in profile_dirs():
        p = d / "data" / DATA_NAME
        if p.is_file():
            return p
    return None


def _at(where: str, pos: Pos) -> str:
    return f"{where}:{pos.line}:{pos.col}"


def _text(node: YNode, what: str, where: str, key: str) -> str:
    """A string scalar that a rules file can hold (it is written into one)."""
    if not isinstance(node, YScalar) or not isinstance(node.value, str):
        raise SysctlDataError(f"{_at(where, node.pos)}: {key}: {what} must be a quoted string")
    try:
        node.value.encode("utf-8")
    except UnicodeEncodeError:  # "\ud800" unescaped by YAML
        raise SysctlDataError(f"{_at(where, node.pos)}: {key}: {what} is not UTF-8 text"
                              ) from None
    return node.value


def parse(text: str, where: str) -> dict[str, Known]:
    """The entries of a data file's text; raises SysctlDataError, one line with
    FILE:LINE:COL (yamlpos keeps every node's position)."""
    from ..rules.errors import RulesError
    from ..rules.yamlpos import parse as parse_yaml

    try:
        doc = parse_yaml(text, where)
    except RulesError as e:
        raise SysctlDataError(str(e)) from None
    fmt = doc.entries.get("format") if isinstance(doc, YMap) else None
    if not isinstance(doc, YMap) or fmt is None or not isinstance(fmt.value, YScalar) \
            or fmt.value.value != FORMAT:
        pos = fmt.value.pos if fmt is not None else doc.pos if doc is not None else Pos(1, 1)
        raise SysctlDataError(f"{_at(where, pos)}: expected a mapping with format: {FORMAT}")
    table = doc.entries.get("sysctls")
    if table is None:
        raise SysctlDataError(f"{_at(where, doc.pos)}: 'sysctls' is missing")
    if not isinstance(table.value, YMap):
        raise SysctlDataError(f"{_at(where, table.value.pos)}: 'sysctls' must be a mapping")
    out: dict[str, Known] = {}
    for key, item in table.value.entries.items():
        ent = item.value
        if key.startswith("/") or not isinstance(ent, YMap):
            raise SysctlDataError(f"{_at(where, item.key_pos)}: bad entry {key!r} (a path "
                                  "below /proc/sys, with a mapping)")
        _text(YScalar(key, key, False, item.key_pos), "the key", where, key)
        unknown = set(ent.entries) - {"value", "expected", "why", "source"}
        if unknown:
            first = min(unknown, key=lambda k: (ent.entries[k].key_pos.line,
                                                ent.entries[k].key_pos.col))
            raise SysctlDataError(f"{_at(where, ent.entries[first].key_pos)}: {key}: "
                                  f"unknown keys {sorted(unknown)}")
        v = ent.entries.get("value")
        value = None
        if v is not None and not (isinstance(v.value, YScalar) and v.value.value is None):
            value = _text(v.value, "value", where, key)
        for req in ("why", "source"):
            if req not in ent.entries:
                raise SysctlDataError(f"{_at(where, item.key_pos)}: {key}: 'why' and 'source' "
                                      "are required strings")
        why = _text(ent.entries["why"].value, "why", where, key)
        source = _text(ent.entries["source"].value, "source", where, key)
        x = ent.entries.get("expected")
        expected = False
        if x is not None:
            if not isinstance(x.value, YScalar) or not isinstance(x.value.value, bool):
                raise SysctlDataError(f"{_at(where, x.value.pos)}: {key}: expected must be "
                                      "true or false")
            expected = x.value.value
        out[key] = Known(key, value, expected, why, source)
    return out


def load_known(path: Path | None = None) -> dict[str, Known]:
    """The known values by key (empty when the data file is not installed)."""
    from ..rules.errors import RulesError
    from ..rules.yamlpos import decode

    p = path or data_path()
    if p is None:
        return {}
    try:
        data = p.read_bytes()
    except OSError as e:
        raise SysctlDataError(f"{p}: {e.strerror or e}") from None
    try:
        text = decode(data, str(p))  # not UTF-8: where the first bad byte is
    except RulesError as e:
        raise SysctlDataError(str(e)) from None
    return parse(text, str(p))


def host_value(path: str, root: str = "/") -> tuple[str | None, str]:
    """The host's own content of a /proc/sys file (without the final newline),
    or (None, why not)."""
    full = Path(root) / path.lstrip("/")
    try:
        with open(full, "rb") as f:
            data = f.read(65536)
    except IsADirectoryError:
        return None, "it is a directory on this host"
    except FileNotFoundError:
        return None, "this host has no such file"
    except OSError as e:
        return None, f"this host's file cannot be read ({e.strerror or e})"
    except ValueError:  # a NUL or a lone surrogate (UnicodeEncodeError) from the trace
        return None, "no file can have this name"
    text = data.decode("utf-8", "replace")
    return (text[:-1] if text.endswith("\n") else text), ""


__all__ = ["PROC_SYS", "Known", "SysctlDataError", "data_path", "host_value", "load_known",
           "parse"]
