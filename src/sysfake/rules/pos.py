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
    # A place inside an anchored node (&name) that the document reaches through
    # an alias (*name, or <<: *name): `via` is where that alias is written (and
    # has a `via` of its own when it is inside an anchored node too), `anchor`
    # the name. An error is put where the document uses it, naming both.
    via: Pos | None = None
    anchor: str = ""

    def __str__(self) -> str:
        return f"{self.line}:{self.col}"

    def used_at(self) -> Pos:
        """Where the document uses what is written here: the outermost alias
        that reaches it, or here."""
        p = self
        while p.via is not None:
            p = p.via
        return p

    def written(self) -> str:
        """'' here, or, reached through aliases, where the text is, for the end
        of an error put at used_at(): " (in the anchor &a, at 3:7)"."""
        if self.via is None:
            return ""
        hops = [f"in the anchor &{self.anchor}, at {self}"]
        p = self.via
        while p.via is not None:  # the alias is inside another anchored node
            hops.append(f"which the anchor &{p.anchor} uses at {p}")
            p = p.via
        return " (" + ", ".join(hops) + ")"
