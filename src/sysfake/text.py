"""Text made safe to print on one line and in YAML comments (traces, rule listings).

Paths, argv, exe and comm in a trace are whatever the programs used: they
may hold newlines, escape sequences, bytes that are not UTF-8 (read back as
surrogateescape's U+DC80..U+DCFF) or, from a hand-written trace, lone
surrogates that no encoder takes.
"""
from __future__ import annotations

import os
import re

TYPE_CHECKING = False  # typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import TextIO

# What stays as it is: printable ASCII and the characters YAML allows in a
# comment, less the ones YAML reads as a line break (U+2028, U+2029) or a
# byte order mark (U+FEFF).
_ESCAPE = re.compile("[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
                     "\U00010000-\U0010ffff]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    o = ord(c)
    if c in _NAMED:
        return _NAMED[c]
    if 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{o - 0xDC00:02x}"
    if o < 0x100:
        return f"\\x{o:02x}"
    return f"\\u{o:04x}"


def printable(s: str) -> str:
    """s with control characters, line breaks, undecodable bytes and lone
    surrogates written as backslash escapes (\\n, \\xff, \\ud800)."""
    return _ESCAPE.sub(_escape, s)


def _file_name(name: object) -> str:
    if isinstance(name, (str, bytes, os.PathLike)):
        return printable(os.fsdecode(name))
    return str(name)  # an fd


def os_error(err: OSError) -> str:
    """An OSError in words on one line: its file (escaped; a rename's two) and
    the system's message, without the "[Errno N]" and quotes of str(err)."""
    what = err.strerror or str(err) or type(err).__name__
    if err.filename is None:
        return printable(what)
    names = _file_name(err.filename)
    if err.filename2 is not None:
        names += f" -> {_file_name(err.filename2)}"
    return f"{names}: {printable(what)}"


_SHELL_SAFE = re.compile(r"[\w@%+=:,./-]+", re.ASCII)  # shlex.quote's, without importing it


def shell_quote(s: str) -> str:
    """s as one shell word that stays on one line: quoted as shlex.quote
    quotes it, or, when it holds what printable() escapes, in bash's $'...'
    with the escapes that give its bytes back (pasted, it names the file)."""
    if _SHELL_SAFE.fullmatch(s):
        return s
    if not _ESCAPE.search(s):
        return "'" + s.replace("'", "'\"'\"'") + "'"
    out = []
    for c in s:
        if c in "'\\":
            out.append("\\" + c)
        elif not _ESCAPE.match(c):
            out.append(c)
        elif c in _NAMED or 0xDC80 <= ord(c) <= 0xDCFF or ord(c) < 0x80:
            out.append(_ESCAPE.sub(_escape, c))
        else:  # \xNN in $'...' is a byte: give the character's UTF-8 bytes
            out.append("".join(f"\\x{b:02x}" for b in c.encode("utf-8", "surrogatepass")))
    return "$'" + "".join(out) + "'"


class Lines:
    """Writes to `out`, each a line made printable but for its final newline:
    a rule's path may hold a newline or a byte that is not UTF-8 too."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, s: str) -> int:
        end = "\n" if s.endswith("\n") else ""
        return self._out.write(printable(s[:len(s) - len(end)]) + end)


__all__ = ["Lines", "os_error", "printable", "shell_quote"]
