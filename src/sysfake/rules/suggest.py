"""'did you mean' suggestions for unknown names."""
from __future__ import annotations

from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate most like `word` (case-insensitive equality first), or None."""
    cands = list(candidates)
    for c in cands:
        if c.lower() == word.lower():
            return c
    # here, not at the top: did_you_mean() runs only for an error, and every run
    # imports this module (difflib and its heapq are a millisecond of start-up)
    import difflib

    lowered = {c.lower(): c for c in cands}
    hits = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[hits[0]] if hits else None


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean X?)`` or the empty string."""
    hit = closest(word, candidates, cutoff)
    return f" (did you mean {hit}?)" if hit is not None and hit != word else ""
