"""The CNI error result (spec section 5, "Error") and its codes."""

from __future__ import annotations

from typing import Any

# Reserved, well-known codes (0-99).
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENVIRONMENT = 4
IO_FAILURE = 5
DECODING_FAILURE = 6
INVALID_NETWORK_CONFIG = 7
TRY_AGAIN_LATER = 11
# STATUS (spec 1.1.0).
PLUGIN_NOT_AVAILABLE = 50
PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY = 51

# Plugin-specific codes (100+), documented in docs/cni.md.
RANGE_EXHAUSTED = 100
CHECK_FAILED = 101
ADDRESS_UNAVAILABLE = 102
DUPLICATE_ATTACHMENT = 103
INTERNAL = 999

_MESSAGES = {
    INCOMPATIBLE_VERSION: "Incompatible CNI version",
    UNSUPPORTED_FIELD: "Unsupported field in network configuration",
    UNKNOWN_CONTAINER: "Container unknown or does not exist",
    INVALID_ENVIRONMENT: "Invalid necessary environment variables",
    IO_FAILURE: "I/O failure",
    DECODING_FAILURE: "Failed to decode content",
    INVALID_NETWORK_CONFIG: "Invalid network config",
    TRY_AGAIN_LATER: "Try again later",
    PLUGIN_NOT_AVAILABLE: "Plugin not available",
    PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY: "Plugin not available, limited connectivity",
    RANGE_EXHAUSTED: "No IP addresses available",
    CHECK_FAILED: "Attachment is not as expected",
    ADDRESS_UNAVAILABLE: "Requested IP address unavailable",
    DUPLICATE_ATTACHMENT: "Attachment already exists",
    INTERNAL: "Internal error",
}


def default_message(code: int) -> str:
    """Short message for ``code`` (the spec's ``msg``)."""
    return _MESSAGES.get(code, "Plugin error")


class CNIError(Exception):
    """An error the plugin reports as a CNI error result."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(f"{msg}: {details}" if details else msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_json(self, cni_version: str) -> dict[str, Any]:
        """The error result object; ``details`` is omitted when empty."""
        out: dict[str, Any] = {"cniVersion": cni_version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out
