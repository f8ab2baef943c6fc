"""Put ``sysfake-cni-noop`` into a CNI bin directory under a ``type`` name.

The console-script wrapper pip writes starts with the absolute path of its
interpreter, so a symlink to it (or a copy of it) runs from any directory and
any environment. When there is no such wrapper (running from a source tree),
a two-line shell wrapper is written that execs ``python -m sysfake.cni.plugin``
with this interpreter and this source tree.
"""

from __future__ import annotations

import argparse
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


def install(
    bin_dir: str,
    name: str = PLUGIN_NAME,
    force: bool = False,
    copy: bool = False,
) -> str:
    """Install the plugin as ``bin_dir/name``; return that path.

    A symlink to the console script by default, a copy of it with ``copy``,
    a shell wrapper when no console script is installed. An existing
    different file is only replaced with ``force`` (FileExistsError otherwise).
    """
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"invalid plugin name {name!r}")
    directory = Path(bin_dir)
    directory.mkdir(parents=True, exist_ok=True)
    dest = directory / name
    entry = find_entry_point()
    if dest.exists() or dest.is_symlink():
        if _same(dest, entry, copy):
            return str(dest)
        if not force:
            raise FileExistsError(f"{dest} exists (use force to replace it)")
    # Build next to dest and rename over it: never a half-written plugin.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
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
    except BaseException:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        raise
    return str(dest)


def main(argv: list[str] | None = None) -> int:
    """``sysfake cni install DIR [--name NAME] [--copy] [--force]``."""
    parser = argparse.ArgumentParser(
        prog="sysfake cni install",
        description="Install the no-op CNI plugin into a CNI bin directory.",
    )
    parser.add_argument("dir", help="CNI bin directory, e.g. /opt/cni/bin")
    parser.add_argument(
        "--name",
        default=PLUGIN_NAME,
        help="file name, i.e. the 'type' used in the network config (default: %(default)s)",
    )
    parser.add_argument("--copy", action="store_true", help="copy instead of symlinking")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        path = install(args.dir, name=args.name, force=args.force, copy=args.copy)
    except (OSError, ValueError) as exc:
        print(f"sysfake cni install: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
