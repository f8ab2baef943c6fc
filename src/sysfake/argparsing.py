"""The argparse parser of every sysfake command: one-line errors, and no shutil.

argparse makes a help formatter for every argument it adds (to check its
metavar), and the formatter imports `shutil` for the terminal width. `shutil`
imports `bz2`, `lzma`, `zlib` and `fnmatch`, three of them C extensions: 64 ms
of a start inside gVisor, 5 ms on the host. `Formatter` finds the width the way
`shutil.get_terminal_size()` does, without it.
"""
from __future__ import annotations

import argparse
import os
import sys

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import Callable, NoReturn, TypeVar

    Num = TypeVar("Num", int, float)


def number(convert: Callable[[str], Num], ok: Callable[[Num], bool],
           needs: str) -> Callable[[str], Num]:
    """An argparse type: the text as a number `ok` takes, else one line
    "needs NEEDS, not 'TEXT'" (a NaN fails every comparison `ok` makes)."""
    def parse(text: str) -> Num:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"needs {needs}, not {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"needs {needs}, not {text!r}")
        return value
    return parse


def file_name(text: str) -> str:
    """An argparse type: a file name, which '' is not (opening '' fails with
    ENOENT, and the message then names no file)."""
    if not text:
        raise argparse.ArgumentTypeError("needs a file name, not ''")
    return text


def terminal_columns(fallback: int = 80) -> int:
    """$COLUMNS, else the width of the terminal on stdout, else `fallback`."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or fallback


class Formatter(argparse.HelpFormatter):
    """argparse's help formatter, its width found without importing shutil."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        # argparse's own default: the terminal's columns less 2
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line and exit 2, and no shutil import."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)
