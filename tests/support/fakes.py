"""Paths and texts the tests fake, and CLI argument builders."""
from __future__ import annotations

#: Exists on the host (the real value there is "40\n" or so) but is missing in gVisor.
CAP = "/proc/sys/kernel/cap_last_cap"
#: Host runs fake CAP with this text, which differs from the host's real value.
CAP_TEXT = "33\n"
#: gVisor runs fake CAP with the value a real kernel has.
CAP_TEXT_GVISOR = "40\n"
#: Missing on the host: a purely virtual file.
VIRT = "/proc/sys/kernel/sfk_virtual"
VIRT_TEXT = "virtual 1\n"
#: /proc/<pid>/setgroups: the real file says "allow\n" on the host.
SETGROUPS = "/proc/self/setgroups"
SETGROUPS_TEXT = "sfk-deny\n"


def c_escape(text: str) -> str:
    """The CLI's TEXT form of `text` (C escapes are interpreted by sysfake)."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def fake(path: str, text: str) -> list[str]:
    """`--fake PATH=TEXT` as two argv items."""
    return ["--fake", f"{path}={c_escape(text)}"]


def redirect(src: str, dst: str) -> list[str]:
    return ["--redirect", f"{src}={dst}"]


def hide(path: str) -> list[str]:
    return ["--hide", path]


def run(*options: list[str], cmd: list[str]) -> list[str]:
    """`run OPTIONS... -- CMD...` for run_sysfake."""
    argv = ["run"]
    for opt in options:
        argv += opt
    return [*argv, "--", *cmd]
