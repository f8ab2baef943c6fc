"""Run a command inside gVisor (`runsc do`), one fresh sandbox per call.

`runsc do` runs the command as root over the host's filesystem (writes go to
an overlay and are not visible on the host afterwards), so a test can call
the host's `python -m sysfake` inside the sandbox. Quirks handled here (see
shared/docs/gvisor-runtime-findings.md, "runsc quirks"):

* runsc makes the stdout file description O_NONBLOCK, so output goes to a
  file opened with O_APPEND (stdout and stderr share it), never to a pipe
  shared with anything else, and the file is read afterwards;
* `timeout -k` bounds the run, TERM to `runsc do` tears the sandbox down.
"""
from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .runner import child_env, require

RUNSC_ARGS = ("--platform=ptrace", "--network=none")

#: What `--backend python` always prints on stderr; stderr is merged into the
#: output here, so it is dropped to compare outputs across backends.
SLOW_BACKEND_WARNING = "sysfake: warning: --backend python is the slow reference tracer\n"


def run_in_gvisor(cmd: Sequence[str], timeout: float = 120.0) -> tuple[int, str]:
    """Run `cmd` in a fresh `runsc do` sandbox; return (exit status, output).

    The output is the command's stdout and stderr interleaved. Exit status
    124 means `timeout` stopped the sandbox.
    """
    runsc = require("runsc")
    require("timeout")
    with tempfile.TemporaryDirectory(prefix="sysfake-gvisor-") as tmp:
        out = Path(tmp) / "output"
        argv = ["timeout", "-k", "5", str(timeout), runsc, *RUNSC_ARGS, "do",
                *[str(c) for c in cmd]]
        with open(out, "ab") as f:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                  env=child_env(), timeout=timeout + 30, check=False)
        text = out.read_text(errors="replace").replace(SLOW_BACKEND_WARNING, "")
        return proc.returncode, text


def run_then_python_in_gvisor(cmd: Sequence[str], script: str, *args: str,
                              timeout: float = 120.0) -> tuple[int, str]:
    """`cmd`, then "exit=STATUS", then `python -c script ARGS...`, in one fresh
    sandbox: what `cmd` writes stays in the sandbox's overlay, so it is read
    there (a trace to count, for example)."""
    sh = (f"{shlex.join(cmd)}; echo exit=$?; "
          f"{shlex.join([sys.executable, '-c', script, *args])}")
    return run_in_gvisor(["sh", "-c", sh], timeout=timeout)
