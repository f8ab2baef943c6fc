"""Known /proc/sys values: the data file rules/data/sysctl-defaults.yaml.

It is data, not a rule profile (it lives below rules/data/, which profile
lookup does not search). Installed packages carry it as
sysfake/profiles/data/sysctl-defaults.yaml.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from ..datatype import datatype
from ..profiles import profile_dirs

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


def parse(text: str, where: str) -> dict[str, Known]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SysctlDataError(f"{where}: not YAML: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SysctlDataError(f"{where}: expected a mapping with format: {FORMAT}")
    table = doc.get("sysctls")
    if not isinstance(table, dict):
        raise SysctlDataError(f"{where}: 'sysctls' must be a mapping")
    out: dict[str, Known] = {}
    for key, ent in table.items():
        if not isinstance(key, str) or key.startswith("/") or not isinstance(ent, dict):
            raise SysctlDataError(f"{where}: bad entry {key!r}")
        value = ent.get("value")
        if value is not None and not isinstance(value, str):
            raise SysctlDataError(f"{where}: {key}: value must be a quoted string or null")
        why, source = ent.get("why"), ent.get("source")
        if not isinstance(why, str) or not isinstance(source, str):
            raise SysctlDataError(f"{where}: {key}: 'why' and 'source' are required strings")
        unknown = set(ent) - {"value", "expected", "why", "source"}
        if unknown:
            raise SysctlDataError(f"{where}: {key}: unknown keys {sorted(unknown)}")
        out[key] = Known(key, value, bool(ent.get("expected", False)), why, source)
    return out


def load_known(path: Path | None = None) -> dict[str, Known]:
    """The known values by key (empty when the data file is not installed)."""
    p = path or data_path()
    if p is None:
        return {}
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SysctlDataError(f"{p}: {e.strerror or e}") from None
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
    text = data.decode("utf-8", "replace")
    return (text[:-1] if text.endswith("\n") else text), ""


__all__ = ["PROC_SYS", "Known", "SysctlDataError", "data_path", "host_value", "load_known",
           "parse"]
