"""The environment the traced command starts with: sysfake's own, as it was
given, not as Python changed it.

Python (PEP 538) coerces a C or POSIX locale at start-up: with LC_ALL unset
and the LC_CTYPE locale C, POSIX or unset, it sets LC_CTYPE=C.UTF-8 (or
C.utf8, UTF-8) in its own environment, and every child inherits it. Under
`sysfake run` that would change the traced program's locale (what it prints,
how it sorts) and make each new program load locale files: five more path
syscalls, each a stop, in every `cat` of a fork/exec loop. The environment
the process was started with is still in /proc/self/environ (setenv does not
change it), so the coerced variable is put back as it was there.

Only the inherited environment is repaired: an `env` handed to `core.run()`
is used as it is. (A program that calls the API after setting LC_CTYPE to
one of those values itself should pass `env`: the set cannot be told apart
from Python's.)
"""
from __future__ import annotations

import os
from collections.abc import Mapping

# what CPython's _Py_CoerceLegacyLocale may set LC_CTYPE to
COERCED = ("C.UTF-8", "C.utf8", "UTF-8")


def initial_environ(path: str = "/proc/self/environ") -> dict[str, str] | None:
    """The environment this process was started with, or None if unreadable."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    out: dict[str, str] = {}
    for item in data.split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep and k:
            out.setdefault(os.fsdecode(k), os.fsdecode(v))
    return out


def coerced_by_python(env: Mapping[str, str], start: Mapping[str, str]) -> bool:
    """Whether env's LC_CTYPE is Python's locale coercion of the start
    environment: a value coercion sets, which the process did not start
    with, where Python coerces (no LC_ALL, no PYTHONCOERCECLOCALE=0). Whether
    the start locale was C is not checked: a LANG naming a locale that is not
    installed is C too."""
    now = env.get("LC_CTYPE")
    if now not in COERCED or start.get("LC_CTYPE") == now:
        return False
    return not start.get("LC_ALL") and start.get("PYTHONCOERCECLOCALE") != "0"


def tracee_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The traced command's environment: `env`, else this process's own with
    Python's locale coercion undone."""
    out = dict(os.environ if env is None else env)
    if env is None and out.get("LC_CTYPE") in COERCED:  # else nothing to read
        start = initial_environ()
        if start is not None and coerced_by_python(out, start):
            if "LC_CTYPE" in start:
                out["LC_CTYPE"] = start["LC_CTYPE"]
            else:
                del out["LC_CTYPE"]
    if os.environ.get("SYSFAKE_STRIP_PRELOAD"):
        # sanitizer runs preload ASan into Python; the traced command must not inherit it
        out.pop("LD_PRELOAD", None)
        out.pop("SYSFAKE_STRIP_PRELOAD", None)
    return out


__all__ = ["COERCED", "coerced_by_python", "initial_environ", "tracee_env"]
