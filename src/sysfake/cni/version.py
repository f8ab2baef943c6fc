"""CNI specification versions this plugin speaks."""

from __future__ import annotations

import re

from .errors import DECODING_FAILURE, INCOMPATIBLE_VERSION, CNIError

# 0.1.0/0.2.0 use a different result type (ip4/ip6) and are refused with code 1.
SUPPORTED_VERSIONS: tuple[str, ...] = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
LATEST = SUPPORTED_VERSIONS[-1]

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")

Version = tuple[int, int, int]


def parse(text: str) -> Version:
    """Parse ``MAJOR.MINOR.PATCH``; a malformed string is a decoding failure (6)."""
    m = _SEMVER.match(text)
    if m is None:
        raise CNIError(DECODING_FAILURE, "invalid cniVersion", f"cannot parse version {text!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def require_supported(text: str) -> Version:
    """Parse ``text`` and fail with code 1 unless it is a supported version."""
    ver = parse(text)
    if text not in SUPPORTED_VERSIONS:
        raise CNIError(
            INCOMPATIBLE_VERSION,
            default_incompatible_msg(text),
            "plugin supports CNI versions " + ", ".join(SUPPORTED_VERSIONS),
        )
    return ver


def default_incompatible_msg(text: str) -> str:
    return f"incompatible CNI version {text}"


def at_least(ver: Version, text: str) -> bool:
    """True when ``ver`` is ``text`` or newer."""
    return ver >= parse(text)
