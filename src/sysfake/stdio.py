"""sysfake's own standard streams, when they cannot be written.

A stream whose fd was closed when sysfake started is None in Python, and the
first write or flush of it raised AttributeError; one on a full disk or a
pipe whose reader went away fails at write or flush. sysfake says so in one
line, or, for a reader that went away, ends quietly as a C tool killed by
SIGPIPE would: never a traceback, and never a command left unstarted
because sysfake could not flush what it never wrote."""
from __future__ import annotations

import errno
import io
import os
import sys


class _Closed(io.TextIOBase):
    """Stands in for a stream whose fd was closed: writes fail as they would
    on the fd (EBADF), or, for stderr, where nothing could be said of it,
    are dropped."""

    def __init__(self, name: str, quiet: bool) -> None:
        super().__init__()
        self._name = name
        self._quiet = quiet

    @property
    def name(self) -> str:
        return self._name

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if self._quiet:
            return len(s)
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))


def stand_in_for_closed() -> None:
    """Give a closed stdout or stderr a stand-in (see _Closed)."""
    if sys.stdout is None:
        sys.stdout = _Closed("<stdout>", quiet=False)
    if sys.stderr is None:
        sys.stderr = _Closed("<stderr>", quiet=True)


def say(line: str) -> None:
    """One line on stderr, if stderr can take it."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def failed(err: OSError) -> int:
    """An OSError nothing else caught: one line, status 2. One without a file
    name came from writing sysfake's own output (stdout, stderr)."""
    where = f"{err.filename}: " if err.filename else "cannot write its output: "
    say(f"sysfake: {where}{err.strerror or err}")
    return 2


__all__ = ["failed", "say", "stand_in_for_closed"]
