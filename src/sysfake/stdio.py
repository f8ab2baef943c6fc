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

TYPE_CHECKING = False  # typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import Callable, TextIO, TypeVar

    R = TypeVar("R")


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


class OutputError(OSError):
    """Writing sysfake's own stdout failed (a full disk, a closed fd)."""


def _as_output_error(call: Callable[..., R], *args: object) -> R:
    """call(*args), its OSError an OutputError (EPIPE stays itself: the
    reader went away, and sysfake then dies of SIGPIPE)."""
    try:
        return call(*args)
    except BrokenPipeError:
        raise
    except OSError as e:
        raise OutputError(e.errno, e.strerror) from None


class _Guarded:
    """sys.stdout, with its write errors told apart from every other OSError
    (a write's ENOSPC names no file, nor does a failed read)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, s: str) -> int:
        return _as_output_error(self._stream.write, s)

    def flush(self) -> None:
        _as_output_error(self._stream.flush)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def guard_stdout() -> None:
    sys.stdout = _Guarded(sys.stdout)


def failed(err: OSError) -> int:
    """An OSError nothing else caught: one line, status 2, naming its file,
    or sysfake's own output if that is what could not be written."""
    from .text import os_error  # the file name may hold a newline: still one line

    if isinstance(err, OutputError):
        say(f"sysfake: cannot write its output: {os_error(err)}")
    else:
        say(f"sysfake: {os_error(err)}")
    return 2


__all__ = ["OutputError", "failed", "guard_stdout", "say", "stand_in_for_closed"]
