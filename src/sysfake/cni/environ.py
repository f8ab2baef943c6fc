"""The ``CNI_*`` environment variables (spec section 2, "Parameters")."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..datatype import datatype, field
from .errors import INVALID_ENVIRONMENT, CNIError

COMMANDS = ("ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC")

# Which variables each command requires (spec 1.1.0 section 2).
REQUIRED: dict[str, tuple[str, ...]] = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "VERSION": (),
    "STATUS": (),
    "GC": ("CNI_PATH",),
}

# "Must start with an alphanumeric character, optionally followed by any
# combination of one or more alphanumeric characters, underscore, dot or hyphen."
_CONTAINER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
IFNAMSIZ = 16


@datatype(frozen=True)
class Invocation:
    """One plugin invocation as described by the environment."""

    command: str
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    args: tuple[tuple[str, str], ...] = ()
    path: tuple[str, ...] = field(default_factory=tuple)

    def arg(self, key: str) -> str | None:
        """Value of ``key`` in CNI_ARGS (last one wins), or None."""
        found: str | None = None
        for k, v in self.args:
            if k == key:
                found = v
        return found


def validate_container_id(value: str) -> None:
    if not _CONTAINER_ID.match(value):
        raise CNIError(
            INVALID_ENVIRONMENT,
            "invalid CNI_CONTAINERID",
            f"CNI_CONTAINERID={value!r}: must start with an alphanumeric character followed by "
            "alphanumerics, '_', '.' or '-'",
        )


def validate_ifname(value: str) -> None:
    """Linux interface-name rules, as the spec and libcni's ValidateInterfaceName."""
    problem = ""
    if not value:
        problem = "must not be empty"
    elif len(value.encode()) >= IFNAMSIZ:
        problem = f"must be shorter than {IFNAMSIZ} bytes"
    elif value in (".", ".."):
        problem = "must not be '.' or '..'"
    elif any(c in value for c in "/:") or any(c.isspace() for c in value):
        problem = "must not contain '/', ':' or whitespace"
    if problem:
        raise CNIError(
            INVALID_ENVIRONMENT, "invalid CNI_IFNAME", f"CNI_IFNAME={value!r}: {problem}"
        )


def parse_cni_args(value: str) -> tuple[tuple[str, str], ...]:
    """Parse ``K1=V1;K2=V2``; a pair without ``=`` or key is an invalid CNI_ARGS (4)."""
    pairs: list[tuple[str, str]] = []
    if not value:
        return ()
    for item in value.split(";"):
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise CNIError(
                INVALID_ENVIRONMENT,
                "invalid CNI_ARGS",
                f"CNI_ARGS: {item!r} is not a KEY=VALUE pair",
            )
        pairs.append((key, val))
    return tuple(pairs)


def read(env: Mapping[str, str]) -> Invocation:
    """Read and validate the variables ``env`` holds for its CNI_COMMAND."""
    command = env.get("CNI_COMMAND", "")
    if not command:
        raise CNIError(INVALID_ENVIRONMENT, "missing CNI_COMMAND", "CNI_COMMAND is not set")
    if command not in COMMANDS:
        raise CNIError(
            INVALID_ENVIRONMENT,
            "unknown CNI_COMMAND",
            f"CNI_COMMAND={command!r}: expected one of " + ", ".join(COMMANDS),
        )
    missing = [name for name in REQUIRED[command] if not env.get(name)]
    if missing:
        raise CNIError(
            INVALID_ENVIRONMENT,
            "required environment variables missing",
            f"{command} requires " + ", ".join(missing),
        )
    container_id = env.get("CNI_CONTAINERID", "")
    ifname = env.get("CNI_IFNAME", "")
    if command in ("ADD", "DEL", "CHECK"):
        validate_container_id(container_id)
        validate_ifname(ifname)
    path = tuple(p for p in env.get("CNI_PATH", "").split(":") if p)
    return Invocation(
        command=command,
        container_id=container_id,
        netns=env.get("CNI_NETNS", ""),
        ifname=ifname,
        args=parse_cni_args(env.get("CNI_ARGS", "")),
        path=path,
    )
