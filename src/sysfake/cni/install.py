"""Put ``sysfake-cni-noop`` into a CNI bin directory under a ``type`` name.

The console-script wrapper pip writes starts with the absolute path of its
interpreter, so a symlink to it (or a copy of it) runs from any directory and
any environment. When there is no such wrapper (running from a source tree),
a two-line shell wrapper is written that execs ``python -m sysfake.cni.plugin``
with this interpreter and this source tree.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from . import PLUGIN_NAME

_WRAPPER_MARK = "# sysfake-cni-noop wrapper"


def find_entry_point() -> Path | None:
    """The installed ``sysfake-cni-noop`` console script, if there is one.

    Looked for beside the running interpreter first (a venv's bin), then on PATH.
    """
    candidates = [Path(sys.executable).parent / PLUGIN_NAME]
    found = shutil.which(PLUGIN_NAME)
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path.absolute()
    return None


def wrapper_script() -> str:
    """A shell wrapper running the plugin with this interpreter and package."""
    src = Path(__file__).resolve().parents[2]
    python = shlex.quote(str(Path(sys.executable).absolute()))
    return (
        "#!/bin/sh\n"
        f"{_WRAPPER_MARK}: runs the plugin with a fixed interpreter\n"
        f"PYTHONPATH={shlex.quote(str(src))}${{PYTHONPATH:+:$PYTHONPATH}} "
        f'exec {python} -m sysfake.cni.plugin "$@"\n'
    )


def _same(dest: Path, entry: Path | None, copy: bool) -> bool:
    """``dest`` already is what we would install."""
    if dest.is_symlink():
        return not copy and entry is not None and Path(os.readlink(dest)) == entry
    try:
        have = dest.read_bytes()
    except OSError:
        return False
    want = entry.read_bytes() if entry is not None else wrapper_script().encode()
    return have == want and os.access(dest, os.X_OK)


class InstallError(Exception):
    """Why the plugin cannot be installed: one line that names the path."""


class InvalidName(InstallError, ValueError):
    """The name is not a plain file name."""


class PluginExists(InstallError, FileExistsError):
    """A different file is there already, and ``force`` was not given."""


def _bin_dir(bin_dir: str) -> tuple[Path, bool]:
    """The CNI bin directory, created when its parent exists, and whether
    it was created.

    Missing parents are not created: ``/opt/cni/bni`` is more often a typo
    than a wish, and a runtime looks in one fixed directory."""
    if not bin_dir:  # Path("") is the current directory: never what was meant
        raise InstallError("the CNI bin directory is an empty path")
    directory = Path(bin_dir)
    try:
        if directory.is_dir():
            return directory, False
        if directory.exists() or directory.is_symlink():
            raise InstallError(f"{directory}: exists and is not a directory")
        if not directory.is_absolute():
            try:
                os.getcwd()
            except FileNotFoundError:
                raise InstallError(f"{directory}: the current working directory no longer "
                                   "exists (give an absolute path)") from None
        parent = directory.absolute().parent
        if not parent.is_dir():
            why = "is not a directory" if parent.exists() else "does not exist"
            raise InstallError(f"{directory}: its parent {parent} {why} "
                               "(only DIR itself is created)")
        directory.mkdir(mode=0o755)
    except OSError as err:
        raise InstallError(f"cannot create {directory}: {err.strerror or err}") from None
    return directory, True


def install(
    bin_dir: str,
    name: str = PLUGIN_NAME,
    force: bool = False,
    copy: bool = False,
) -> str:
    """Install the plugin as ``bin_dir/name``; return that path.

    A symlink to the console script by default, a copy of it with ``copy``,
    a shell wrapper when no console script is installed. ``bin_dir`` is
    created if its parent exists. An existing different file is only
    replaced with ``force`` (PluginExists, a FileExistsError, otherwise); an
    invalid name is InvalidName (a ValueError); every other refusal is an
    InstallError naming the path.
    """
    if not name or "/" in name or "\0" in name or name in (".", ".."):
        raise InvalidName(f"invalid plugin name {name!r}: it must be a file name "
                          "(the network configuration's type)")
    directory, created = _bin_dir(bin_dir)
    try:
        return _put(directory / name, force, copy)
    except BaseException:
        if created:  # a refusal leaves nothing behind
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


def _put(dest: Path, force: bool, copy: bool) -> str:
    """Install the plugin as ``dest`` in an existing directory."""
    directory, name = dest.parent, dest.name
    entry = find_entry_point()
    if dest.exists() or dest.is_symlink():
        if _same(dest, entry, copy):
            return str(dest)
        if dest.is_dir() and not dest.is_symlink():
            raise InstallError(f"{dest}: is a directory")
        if not force:
            raise PluginExists(f"{dest} exists and differs from what would be installed "
                               "(--force replaces it)")
    # Build next to dest and rename over it: never a half-written plugin.
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    except OSError as err:
        raise InstallError(f"cannot write into {directory}: {err.strerror or err}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if entry is not None and not copy:
            tmp.unlink()
            tmp.symlink_to(entry)
        else:
            if entry is not None:
                shutil.copyfile(entry, tmp)
            else:
                tmp.write_text(wrapper_script())
            tmp.chmod(0o755)
        tmp.replace(dest)
    except BaseException as exc:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        if isinstance(exc, OSError):  # ENOSPC names no file
            raise InstallError(f"cannot write {dest}: {exc.strerror or exc}") from None
        raise
    return str(dest)


USAGE = "sysfake cni install DIR [--name NAME] [--copy] [--force]"


def _parser() -> argparse.ArgumentParser:
    from ..argparsing import Parser  # one-line usage errors, exit 2

    parser = Parser(
        prog="sysfake cni install",
        description="Install the no-op CNI plugin into a CNI bin directory "
        "(created if its parent exists).",
    )
    parser.add_argument("dir", help="CNI bin directory, e.g. /opt/cni/bin")
    parser.add_argument(
        "--name",
        default=PLUGIN_NAME,
        help="file name, i.e. the 'type' used in the network config (default: %(default)s)",
    )
    parser.add_argument("--copy", action="store_true", help="copy instead of symlinking")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``sysfake cni install DIR [--name NAME] [--copy] [--force]``.

    Prints the installed path; a refusal is one line on stderr and exit
    status 2, like every sysfake usage error."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        path = install(args.dir, name=args.name, force=args.force, copy=args.copy)
    except InstallError as exc:
        print(f"sysfake cni install: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


def cli(argv: list[str]) -> int:
    """``sysfake cni COMMAND ...``: the one command is ``install``."""
    if argv[:1] in (["-h"], ["--help"]):
        print(f"usage: {USAGE}\n\n"
              "The no-op CNI plugin (docs/cni.md).\n\n"
              "commands:\n  install  put sysfake-cni-noop into a CNI bin directory "
              "(sysfake cni install --help)")
        return 0
    if not argv:
        print(f"sysfake cni: error: no command given (usage: {USAGE})", file=sys.stderr)
        return 2
    if argv[0] != "install":
        print(f"sysfake cni: error: unknown command {argv[0]!r} (usage: {USAGE})",
              file=sys.stderr)
        return 2
    return main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
