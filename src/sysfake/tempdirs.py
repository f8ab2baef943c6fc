"""The private directories a run makes (a fake cgroup tree, directory listings).

A run removes them when the command is over. Called, a TempDirs removes them
itself; `sysfake run` hands their paths to the launcher instead (`--remove`),
which removes them after the command, since no Python is left by then.

`make()` creates one as `tempfile.mkdtemp()` would, without importing
`tempfile`: with the `shutil`, `random` and `weakref` it imports, 112 ms of
a start inside gVisor (`python -S`), where the default profile needs both
directories.
"""
from __future__ import annotations

import os

_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789_"  # tempfile's


def _candidates() -> list[str]:
    # tempfile.gettempdir()'s order
    dirs = [os.environ[v] for v in ("TMPDIR", "TEMP", "TMP") if os.environ.get(v)]
    try:
        cwd = os.getcwd()
    except OSError:  # a removed current directory: as tempfile, the relative "."
        cwd = os.curdir
    return [*dirs, "/tmp", "/var/tmp", "/usr/tmp", cwd]


def make(prefix: str) -> str:
    """A new directory, mode 0700, named PREFIX + 8 random characters, in the
    first of $TMPDIR, $TEMP, $TMP, /tmp, /var/tmp, /usr/tmp and the current
    directory where one can be made."""
    last: OSError | None = None
    for top in _candidates():
        for _ in range(100):
            name = "".join(_LETTERS[b % len(_LETTERS)] for b in os.urandom(8))
            try:
                # in the try: a relative $TMPDIR needs the current directory
                path = os.path.abspath(os.path.join(top, prefix + name))
                os.mkdir(path, 0o700)
                return path
            except FileExistsError as e:
                last = e
            except OSError as e:  # missing, not a directory, not writable: the next one
                last = e
                break
    raise last if last is not None else FileNotFoundError("no temporary directory")


class TempDirs:
    """Directories to remove, deepest contents first, when the run is over."""

    __slots__ = ("dirs",)

    def __init__(self, *dirs: str) -> None:
        self.dirs = list(dirs)

    def __call__(self) -> None:
        if self.dirs:
            import shutil

            for d in self.dirs:
                shutil.rmtree(d, ignore_errors=True)
