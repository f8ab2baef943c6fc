"""The ``sysfake-cni-noop`` executable: the CNI protocol, configuring nothing.

A runtime runs it with ``CNI_*`` environment variables and the plugin
configuration on stdin; the result (ADD, VERSION) or an error result goes to
stdout, logs to stderr. Run it as ``sysfake-cni-noop`` or
``python -m sysfake.cni.plugin``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections.abc import Mapping
from typing import Any, Callable

from . import PLUGIN_NAME, environ, netconf, result, version
from .environ import Invocation
from .errors import (
    CHECK_FAILED,
    INCOMPATIBLE_VERSION,
    INTERNAL,
    INVALID_NETWORK_CONFIG,
    IO_FAILURE,
    PLUGIN_NOT_AVAILABLE,
    UNKNOWN_CONTAINER,
    CNIError,
)
from .ipam import Allocation, Store
from .netconf import NetConf

ABOUT = f"{PLUGIN_NAME}: a CNI plugin that allocates addresses and configures nothing"


def _require_version(conf: NetConf, minimum: str, command: str) -> None:
    if not version.at_least(conf.version, minimum):
        raise CNIError(
            INCOMPATIBLE_VERSION,
            f"config version does not allow {command}",
            f"{command} needs cniVersion {minimum} or later, "
            f"the configuration has {conf.cni_version}",
        )


def _lock_timeout(env: Mapping[str, str]) -> float:
    try:
        return float(env.get("SYSFAKE_CNI_LOCK_TIMEOUT", "60"))
    except ValueError:
        return 60.0


def cmd_add(inv: Invocation, conf: NetConf, env: Mapping[str, str]) -> str:
    netconf.check_cni_args(inv)
    prev_raw = conf.prev_result
    prev = result.normalize(prev_raw) if prev_raw is not None else None
    ipam = conf.ipam()
    requested = conf.requested_ips(inv)
    allocations: list[Allocation] = []
    if ipam is not None:
        store = Store(ipam.data_dir, conf.name, _lock_timeout(env))
        with store.locked():
            allocations = store.allocate(ipam.range_sets, inv.container_id, inv.ifname, requested)
    elif requested:
        raise CNIError(
            INVALID_NETWORK_CONFIG,
            "IP addresses requested without an ipam section",
            "requested " + ", ".join(map(str, requested)) + " but the configuration has no 'ipam'",
        )
    dns = conf.dns() or (ipam.dns if ipam is not None else {})
    res = result.build(
        inv.ifname,
        inv.netns,
        allocations,
        ipam.routes if ipam is not None else (),
        dns,
        prev,
    )
    return json.dumps(result.encode(res, conf.cni_version), indent=4) + "\n"


def cmd_del(inv: Invocation, conf: NetConf, env: Mapping[str, str]) -> str:
    # Only name and dataDir matter: a lease is released even if the ranges
    # have become invalid since ADD. Missing state is success (idempotent).
    if conf.ipam_raw is not None:
        store = Store(conf.data_dir, conf.name, _lock_timeout(env))
        with store.locked(create=False):
            released = store.release_attachment(inv.container_id, inv.ifname)
        if released:
            print(f"{PLUGIN_NAME}: released {', '.join(map(str, released))}", file=sys.stderr)
    return ""


def cmd_check(inv: Invocation, conf: NetConf, env: Mapping[str, str]) -> str:
    _require_version(conf, "0.4.0", "CHECK")
    netconf.check_cni_args(inv)
    prev_raw = conf.prev_result
    if prev_raw is None:
        raise CNIError(
            INVALID_NETWORK_CONFIG, "required prevResult missing", "CHECK needs prevResult"
        )
    prev = result.normalize(prev_raw)
    ipam = conf.ipam()
    if inv.netns.startswith("/") and not os.path.exists(inv.netns):
        raise CNIError(UNKNOWN_CONTAINER, "container network namespace does not exist", inv.netns)
    idx = next(
        (
            i
            for i, iface in enumerate(prev["interfaces"])
            if iface["name"] == inv.ifname and iface.get("sandbox", "") in ("", inv.netns)
        ),
        None,
    )
    if idx is None:
        raise CNIError(
            CHECK_FAILED,
            "interface missing from prevResult",
            f"prevResult has no interface {inv.ifname} in sandbox {inv.netns}",
        )
    if ipam is None:
        return ""
    listed = {
        ipaddress.ip_interface(ip["address"]).ip for ip in prev["ips"] if ip.get("interface") == idx
    }
    store = Store(ipam.data_dir, conf.name, _lock_timeout(env))
    with store.locked(create=False):
        held = set(store.find(inv.container_id, inv.ifname))
    if not held:
        raise CNIError(
            CHECK_FAILED,
            "no IP reservation",
            f"container {inv.container_id} interface {inv.ifname} "
            f"holds no address in network {conf.name}",
        )
    missing = sorted(map(str, held - listed))
    if missing:
        raise CNIError(
            CHECK_FAILED,
            "reserved address missing from prevResult",
            f"{', '.join(missing)} reserved for {inv.container_id}/{inv.ifname} "
            "but not in prevResult",
        )
    ours = {a for a in listed if any(rs.contains(a) for rs in ipam.range_sets)}
    foreign = sorted(map(str, ours - held))
    if foreign:
        raise CNIError(
            CHECK_FAILED,
            "address in prevResult not reserved",
            f"{', '.join(foreign)} listed in prevResult but not reserved for "
            f"{inv.container_id}/{inv.ifname}",
        )
    return ""


def cmd_status(inv: Invocation, conf: NetConf, env: Mapping[str, str]) -> str:
    _require_version(conf, "1.1.0", "STATUS")
    ipam = conf.ipam()
    if ipam is None:
        return ""
    store = Store(ipam.data_dir, conf.name, _lock_timeout(env))
    try:
        with store.locked():
            if not os.access(store.dir, os.W_OK):
                raise CNIError(IO_FAILURE, "state directory not writable", store.dir)
            full = [str(rs) for rs in ipam.range_sets if store.free_count(rs) == 0]
    except CNIError as exc:
        raise CNIError(PLUGIN_NOT_AVAILABLE, "IPAM store unavailable", str(exc)) from exc
    if full:
        raise CNIError(
            PLUGIN_NOT_AVAILABLE,
            "no IP addresses available",
            "range sets exhausted: " + "; ".join(full),
        )
    return ""


def cmd_gc(inv: Invocation, conf: NetConf, env: Mapping[str, str]) -> str:
    _require_version(conf, "1.1.0", "GC")
    valid = conf.valid_attachments()
    if conf.ipam_raw is not None:
        store = Store(conf.data_dir, conf.name, _lock_timeout(env))
        with store.locked(create=False):
            removed = store.garbage_collect(valid)
        if removed:
            print(f"{PLUGIN_NAME}: GC released {', '.join(map(str, removed))}", file=sys.stderr)
    return ""


def cmd_version(stdin: bytes) -> str:
    requested = version.LATEST
    if stdin.strip():
        raw = netconf.decode(stdin)
        if raw.get("cniVersion") not in (None, ""):
            requested = netconf.config_version(raw)
            version.parse(requested)
    out = {"cniVersion": requested, "supportedVersions": list(version.SUPPORTED_VERSIONS)}
    return json.dumps(out) + "\n"


_COMMANDS: dict[str, Callable[[Invocation, NetConf, Mapping[str, str]], str]] = {
    "ADD": cmd_add,
    "DEL": cmd_del,
    "CHECK": cmd_check,
    "STATUS": cmd_status,
    "GC": cmd_gc,
}


def _error_version(stdin: bytes) -> str:
    """The ``cniVersion`` for an error result: the configuration's if usable."""
    try:
        raw: Any = json.loads(stdin.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return version.LATEST
    if isinstance(raw, dict):
        ver = raw.get("cniVersion")
        if isinstance(ver, str) and ver in version.SUPPORTED_VERSIONS:
            return ver
    return version.LATEST


def run(env: Mapping[str, str], stdin: bytes) -> tuple[int, str]:
    """One invocation: the exit status and what goes to stdout."""
    try:
        inv = environ.read(env)
        if inv.command == "VERSION":
            return 0, cmd_version(stdin)
        conf = netconf.parse(netconf.decode(stdin))
        return 0, _COMMANDS[inv.command](inv, conf, env)
    except CNIError as exc:
        err = exc
    except OSError as exc:  # "file: message", not "[Errno N] message: 'file'"
        from ..text import os_error
        err = CNIError(INTERNAL, "internal error", f"{type(exc).__name__}: {os_error(exc)}")
    except Exception as exc:  # report, never a bare traceback to the runtime
        err = CNIError(INTERNAL, "internal error", f"{type(exc).__name__}: {exc}")
    print(f"{PLUGIN_NAME}: {err}", file=sys.stderr)
    return 1, json.dumps(err.to_json(_error_version(stdin))) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sysfake-cni-noop``; arguments are only for humans."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help", "--version", "version"):
        print(ABOUT)
        print("CNI protocol versions supported: " + ", ".join(version.SUPPORTED_VERSIONS))
        return 0
    try:
        stdin = sys.stdin.buffer.read() if sys.stdin is not None else b""
    except OSError as exc:
        err = CNIError(IO_FAILURE, "failed to read network configuration from stdin",
                       exc.strerror or str(exc))
        sys.stdout.write(json.dumps(err.to_json(version.LATEST)) + "\n")
        return 1
    status, out = run(os.environ, stdin)
    if out:
        sys.stdout.write(out)
        sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
