"""Where the built-in rule profiles (``include: [NAME]``, ``--profile NAME``) live.

The source of truth is the repository's top-level ``rules/`` directory
(``rules/NAME.yaml``). Installed wheels carry a copy in the package directory
``sysfake/profiles/`` (a build step copies ``rules/*.yaml`` there). Lookup
order: ``<package dir>/profiles/``, then the source tree's ``rules/``.
"""
from __future__ import annotations

import re
from pathlib import Path

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SUFFIX = ".yaml"


def profile_dirs() -> list[Path]:
    """Existing profile directories, in lookup order."""
    here = Path(__file__).resolve().parent
    cands = [here / "profiles"]
    root = here.parent.parent  # src/sysfake/profiles.py -> repository root
    if (root / "pyproject.toml").is_file() and (root / "src" / "sysfake").is_dir():
        cands.append(root / "rules")
    return [d for d in cands if d.is_dir()]


def is_profile_name(name: str) -> bool:
    """True if `name` is written like a profile (no '/', no .yaml/.yml suffix)."""
    return (bool(PROFILE_NAME.match(name)) and not name.endswith((".yaml", ".yml"))
            and name not in (".", ".."))


def find_profile(name: str) -> Path | None:
    if not is_profile_name(name):
        return None
    for d in profile_dirs():
        p = d / (name + SUFFIX)
        if p.is_file():
            return p
    return None


def available_profiles() -> list[str]:
    names: set[str] = set()
    for d in profile_dirs():
        names.update(p.name[:-len(SUFFIX)] for p in d.glob("*" + SUFFIX)
                     if is_profile_name(p.name[:-len(SUFFIX)]))
    return sorted(names)
