"""The private directories a run makes (a fake cgroup tree, directory listings).

A run removes them when the command is over. Called, a TempDirs removes them
itself; `sysfake run` hands their paths to the launcher instead (`--remove`),
which removes them after the command, since no Python is left by then.
"""
from __future__ import annotations


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
