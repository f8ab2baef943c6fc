"""A 1-based line and column in a rules file (yamlpos.py re-exports it).

Its own module so that rule specs from command-line flags (spec.py) can name a
position without importing the YAML tree.
"""
from __future__ import annotations

from ..datatype import datatype


@datatype(frozen=True)
class Pos:
    line: int  # 1-based
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.line}:{self.col}"
