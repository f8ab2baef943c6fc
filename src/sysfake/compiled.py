"""`sysfake compile`: rules compiled once into a directory that runs commands
without Python.

`sysfake run` spends about 80 ms starting Python before the command starts.
For a command started often (a runtime that containerd spawns, a CI step),
`sysfake compile [RULES] -o DIR` writes the compiled table (`table.sft`), the
state it refers to (fake cgroup tree, virtual-directory placeholders, under
`state/`) and a copy of the C launcher (`sysfake-exec`, linked with the same
core); `DIR/sysfake-exec -- CMD` then runs CMD traced in a few milliseconds.
The state persists between runs, as a real cgroupfs does while the machine is
up; compiling again into DIR starts it afresh.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .core import LAUNCHER
from .rules.loader import LoadResult

TABLE = "table.sft"
MARK = ".sysfake-compiled"


class CompileError(Exception):
    """Why DIR cannot be written; one line."""


def launcher() -> Path:
    """The launcher built beside the C core."""
    path = Path(__file__).with_name(LAUNCHER)
    if not path.is_file():
        raise CompileError(f"{path}: the launcher was not built (reinstall sysfake)")
    return path


def _fresh_dir(out: Path) -> None:
    """Make `out` ready for a compile: new, empty, or an earlier compile's."""
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise CompileError(f"{out}: exists and is not a directory")
        st = out.stat()
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise CompileError(f"{out}: owned by another user or writable by others")
        if any(out.iterdir()) and not (out / MARK).is_file():
            raise CompileError(f"{out}: not empty and not made by sysfake compile")
        shutil.rmtree(out / "state", ignore_errors=True)
    else:
        out.mkdir(parents=True)


def _replace(path: Path, data: bytes, mode: int) -> None:
    """Write a file so that a concurrent sysfake-exec sees the old or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(mode)
    os.replace(tmp, path)


def compile_to(out_dir: str, loaded: LoadResult) -> Path:
    """Write the table, its state and the launcher into out_dir; return the launcher."""
    from .cgroupfs import prepare_runtime
    from .core import check_table
    from .table import encode
    from .vdirs import prepare as prepare_dirs

    exe = launcher()
    out = Path(out_dir).absolute()
    _fresh_dir(out)
    state = out / "state"
    state.mkdir(mode=0o700)
    rules, _keep = prepare_runtime(loaded, base=str(state / "cgroupfs"))
    rules, _keep_dirs = prepare_dirs(rules, base=str(state / "vdirs"))
    table = encode(rules)
    problem = check_table(table)
    if problem is not None:  # a bug, not bad input: the loader validated everything
        raise CompileError(f"the compiled table is invalid: {problem}")
    (out / MARK).write_text("made by sysfake compile; compiling again replaces state/\n")
    _replace(out / TABLE, table, 0o644)
    _replace(out / LAUNCHER, exe.read_bytes(), 0o755)
    return out / LAUNCHER
