"""Where the built-in rule profiles (``include: [NAME]``, ``--profile NAME``) live.

The source of truth is the repository's top-level ``rules/`` directory
(``rules/NAME.yaml``). Installed wheels carry a copy in the package directory
``sysfake/profiles/`` (a build step copies ``rules/*.yaml`` there). Lookup
order: ``<package dir>/profiles/``, then the source tree's ``rules/``.

The loader uses the ``str`` functions (`profile_file`): `sysfake run` reads the
default profile on every start, and pathlib would add a few ms to its start-up.
"""
from __future__ import annotations

import os
import re

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from pathlib import Path

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SUFFIX = ".yaml"


def profile_dir_names() -> list[str]:
    """Existing profile directories, in lookup order (as strings)."""
    here = os.path.dirname(os.path.realpath(__file__))
    cands = [os.path.join(here, "profiles")]
    root = os.path.dirname(os.path.dirname(here))  # src/sysfake/profiles.py -> repository root
    if (os.path.isfile(os.path.join(root, "pyproject.toml"))
            and os.path.isdir(os.path.join(root, "src", "sysfake"))):
        cands.append(os.path.join(root, "rules"))
    return [d for d in cands if os.path.isdir(d)]


def profile_dirs() -> list[Path]:
    """Existing profile directories, in lookup order."""
    from pathlib import Path  # lazily: see the module docstring

    return [Path(d) for d in profile_dir_names()]


def is_profile_name(name: str) -> bool:
    """True if `name` is written like a profile (no '/', no .yaml/.yml suffix)."""
    return (bool(PROFILE_NAME.match(name)) and not name.endswith((".yaml", ".yml"))
            and name not in (".", ".."))


def profile_file(name: str) -> str | None:
    """The file of profile `name`, or None (find_profile as a string)."""
    if not is_profile_name(name):
        return None
    for d in profile_dir_names():
        p = os.path.join(d, name + SUFFIX)
        if os.path.isfile(p):
            return p
    return None


def find_profile(name: str) -> Path | None:
    p = profile_file(name)
    if p is None:
        return None
    from pathlib import Path  # lazily: see the module docstring

    return Path(p)


def available_profiles() -> list[str]:
    names: set[str] = set()
    for d in profile_dirs():
        names.update(p.name[:-len(SUFFIX)] for p in d.glob("*" + SUFFIX)
                     if is_profile_name(p.name[:-len(SUFFIX)]))
    return sorted(names)
