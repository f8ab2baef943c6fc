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

A compile that fails leaves DIR as it found it: what it created is removed
and an earlier compile's state is put back, so the next try is not refused.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from .core import LAUNCHER
from .rules.loader import LoadResult

TABLE = "table.sft"
MARK = ".sysfake-compiled"
STATE = "state"
# an earlier compile's state/, set aside while this compile builds its own
OLD_STATE = ".sysfake-old-state"


class CompileError(Exception):
    """Why DIR cannot be written; one line."""


def launcher() -> Path:
    """The launcher built beside the C core."""
    path = Path(__file__).with_name(LAUNCHER)
    if not path.is_file():
        raise CompileError(f"{path}: the launcher was not built (reinstall sysfake)")
    return path


def _failed(err: OSError, verb: str, path: Path) -> CompileError:
    """One line naming the path: OSError's own text has no path for a write
    (ENOSPC) and Python's `[Errno N] ...` wording."""
    where = os.fsdecode(err.filename) if err.filename is not None else str(path)
    return CompileError(f"cannot {verb} {where}: {err.strerror or err}")


def _absolute(out_dir: str) -> Path:
    if not out_dir:  # Path("") is the current directory: never what was meant
        raise CompileError("the output directory is an empty path")
    try:
        return Path(out_dir).absolute()
    except FileNotFoundError:  # getcwd() of a removed directory
        raise CompileError(f"{out_dir}: the current working directory no longer exists "
                           "(give an absolute path)") from None


def _make_dirs(out: Path) -> list[Path]:
    """mkdir -p `out`; the directories made, the topmost first."""
    missing: list[Path] = []
    path = out
    while not (path.exists() or path.is_symlink()) and path != path.parent:
        missing.append(path)
        path = path.parent
    made: list[Path] = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except OSError as err:
            if made:
                shutil.rmtree(made[0], ignore_errors=True)
            raise _failed(err, "create", path) from None
        made.append(path)
    return made


def _fresh_dir(out: Path) -> list[Path]:
    """Make `out` ready for a compile: new, empty, or an earlier compile's.
    Returns the directories it created (to remove if the compile fails)."""
    try:
        if not (out.exists() or out.is_symlink()):
            return _make_dirs(out)
        if not out.is_dir() or out.is_symlink():
            raise CompileError(f"{out}: exists and is not a directory")
        st = out.stat()
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise CompileError(f"{out}: owned by another user or writable by others")
        if any(out.iterdir()) and not (out / MARK).is_file():
            raise CompileError(f"{out}: not empty and not made by sysfake compile")
    except OSError as err:  # EACCES on a parent, ELOOP...
        raise _failed(err, "use", out) from None
    return []


def _remove(path: Path) -> None:
    """Remove a file or a tree, whatever is there, ignoring what cannot be."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _stage(path: Path, data: bytes, mode: int) -> Path:
    """Write `data` beside `path`, to be renamed over it once all is written,
    so that a concurrent sysfake-exec sees the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        tmp.chmod(mode)
    except OSError as err:
        raise _failed(err, "write", path) from None
    return tmp


def _write(out: Path, exe: Path, loaded: LoadResult) -> None:
    """Everything a compile writes into `out`, which _fresh_dir prepared."""
    from .cgroupfs import prepare_runtime
    from .core import check_table
    from .table import encode
    from .vdirs import prepare as prepare_dirs

    if not (out / MARK).is_file():  # first: a compile killed half-way is still ours
        try:
            (out / MARK).write_text(
                "made by sysfake compile; compiling again replaces state/\n")
        except OSError as err:
            raise _failed(err, "write", out / MARK) from None
    state = out / STATE
    try:
        state.mkdir(mode=0o700)
        rules, _keep = prepare_runtime(loaded, base=str(state / "cgroupfs"))
        rules, _keep_dirs = prepare_dirs(rules, base=str(state / "vdirs"))
    except OSError as err:  # a write's ENOSPC names no file: name the state
        raise _failed(err, "write", state) from None
    table = encode(rules)
    problem = check_table(table)
    if problem is not None:  # a bug, not bad input: the loader validated everything
        raise CompileError(f"the compiled table is invalid: {problem}")
    try:
        launcher_bytes = exe.read_bytes()
    except OSError as err:
        raise _failed(err, "read", exe) from None
    staged = [(_stage(out / TABLE, table, 0o644), out / TABLE),
              (_stage(out / LAUNCHER, launcher_bytes, 0o755), out / LAUNCHER)]
    for tmp, final in staged:
        try:
            os.replace(tmp, final)
        except OSError as err:
            raise _failed(err, "write", final) from None


def _undo(out: Path, created: list[Path], before: set[str] | None) -> None:
    """Leave `out` as the failed compile found it, as far as it can be."""
    if created:
        shutil.rmtree(created[0], ignore_errors=True)
        return
    with contextlib.suppress(OSError):
        for name in os.listdir(out):
            if before is not None and name not in before:
                _remove(out / name)
        if (out / OLD_STATE).is_dir() and not (out / STATE).exists():
            os.rename(out / OLD_STATE, out / STATE)


def compile_to(out_dir: str, loaded: LoadResult) -> Path:
    """Write the table, its state and the launcher into out_dir; return the launcher."""
    exe = launcher()
    out = _absolute(out_dir)
    created = _fresh_dir(out)
    before: set[str] | None = None
    try:
        _remove(out / OLD_STATE)  # from a compile that was killed
        if (out / STATE).exists() or (out / STATE).is_symlink():
            os.rename(out / STATE, out / OLD_STATE)
        before = set(os.listdir(out))
        _write(out, exe, loaded)
    except OSError as err:  # only the set-aside above: _write names its own paths
        _undo(out, created, before)
        raise _failed(err, "write", out) from None
    except BaseException:
        _undo(out, created, before)
        raise
    _remove(out / OLD_STATE)
    return out / LAUNCHER
