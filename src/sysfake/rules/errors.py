"""The one exception type of the rules language."""
from __future__ import annotations

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from .pos import Pos


def _one_line(text: str) -> str:
    return " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text


class RulesError(Exception):
    """A problem in a rules file or a rules command-line flag.

    ``str(err)`` is a single line: ``FILE:LINE:COL: KEY: MESSAGE`` (the parts
    that are unknown are left out). ``line`` and ``col`` are 1-based, 0 when
    unknown. ``key`` is the dotted path of the offending key, e.g.
    ``rules[2].errno``, or the command-line flag, e.g. ``--fake '/a=b'``.
    """

    def __init__(self, message: str, file: str | None = None, line: int = 0,
                 col: int = 0, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.col = col
        self.key = key

    @classmethod
    def at(cls, message: str, file: str, pos: Pos, key: str | None = None) -> RulesError:
        """An error about what is written at `pos`: put where the document
        uses it, and, when that is an alias, ending with where it is written."""
        use = pos.used_at()
        return cls(message + pos.written(), file, use.line, use.col, key)

    def where(self) -> str:
        if not self.file:
            return ""
        if self.line and self.col:
            return f"{self.file}:{self.line}:{self.col}"
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file

    def __str__(self) -> str:
        parts = [p for p in (self.where(), self.key) if p]
        parts.append(self.message)
        return _one_line(": ".join(parts))

    def __repr__(self) -> str:
        return (f"RulesError({self.message!r}, file={self.file!r}, line={self.line}, "
                f"col={self.col}, key={self.key!r})")
