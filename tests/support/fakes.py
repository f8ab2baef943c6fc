"""Paths and texts the tests fake, and CLI argument builders."""
from __future__ import annotations

import sys
from pathlib import Path

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


#: As gVisor: no process_vm_readv/writev, /proc/PID/mem not writable, so
#: only PTRACE_PEEKDATA/POKEDATA reach the tracee's memory.
#: The reaper emulation as the gvisor profile switches it on (prctl answered 0).
REAPER_RULES = """version: 1
emulate: [reaper]
rules:
  - syscall: prctl
    args: {0: PR_SET_CHILD_SUBREAPER}
    if_errno: EINVAL
    return: 0
"""

PEEKPOKE = ["--disable", "vm_readv", "--disable", "vm_writev", "--disable", "mem_write"]


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


def alternating_redirects(tmp_path: Path) -> tuple[list[str], list[str], str]:
    """Three redirects from one call site (Python's open): two targets of one
    length, then one longer than the slot words the tracer remembers."""
    a, b, long_ = tmp_path / "ta", tmp_path / "tb", tmp_path / ("d" * 200) / ("l" * 200)
    long_.parent.mkdir()
    for f, text in ((a, "a"), (b, "b"), (long_, "l")):
        f.write_text(text + "\n")
    script = ("import sys\n"
              "src = sys.argv[1:4]\n"
              "order = [0, 1] * 20 + [2, 0, 2, 1, 2, 0] * 5\n"
              "got = ''.join(open(src[i]).read().strip() for i in order)\n"
              "print(got == ''.join('abl'[i] for i in order) or got)\n")
    srcs = [str(tmp_path / f"s{i}") for i in range(3)]
    rules = [*redirect(srcs[0], str(a)), *redirect(srcs[1], str(b)), *redirect(srcs[2], str(long_))]
    return rules, [sys.executable, "-c", script, *srcs], "True\n"
