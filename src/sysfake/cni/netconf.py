"""The plugin configuration object a runtime writes to stdin.

Parsing is split so each command only fails on what it needs: DEL and GC
release leases with just ``name`` and ``ipam.dataDir``, even when the ranges
have since become invalid.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from ..datatype import datatype
from . import version
from .environ import Invocation
from .errors import (
    DECODING_FAILURE,
    INVALID_ENVIRONMENT,
    INVALID_NETWORK_CONFIG,
    IO_FAILURE,
    UNSUPPORTED_FIELD,
    CNIError,
)
from .ipam import DEFAULT_DATA_DIR
from .ranges import (
    IPAddress,
    RangeSet,
    parse_ip,
    parse_ip_maybe_cidr,
    parse_range_sets,
)

_NETWORK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
VALID_ATTACHMENTS_KEY = "cni.dev/valid-attachments"
# CNI_ARGS keys understood or conventionally passed by runtimes.
KNOWN_CNI_ARGS = frozenset(
    {
        "IgnoreUnknown",
        "IP",
        "K8S_POD_NAME",
        "K8S_POD_NAMESPACE",
        "K8S_POD_INFRA_CONTAINER_ID",
        "K8S_POD_UID",
    }
)
_ROUTE_INT_FIELDS = ("mtu", "advmss", "priority", "table", "scope")


def _invalid(msg: str, details: str) -> CNIError:
    return CNIError(INVALID_NETWORK_CONFIG, msg, details)


def decode(data: bytes) -> dict[str, Any]:
    """stdin bytes to a JSON object; anything else is a decoding failure (6)."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CNIError(
            DECODING_FAILURE, "failed to decode network configuration", str(exc)
        ) from None
    if not isinstance(obj, dict):
        raise CNIError(
            DECODING_FAILURE,
            "failed to decode network configuration",
            f"expected a JSON object, got {type(obj).__name__}",
        )
    return obj


def config_version(raw: dict[str, Any]) -> str:
    """The ``cniVersion`` string. A missing one means 0.1.0 (libcni's reading)."""
    value = raw.get("cniVersion", "")
    if value in ("", None):
        return "0.1.0"
    if not isinstance(value, str):
        raise CNIError(
            DECODING_FAILURE, "invalid cniVersion", f"cniVersion must be a string, got {value!r}"
        )
    return value


@datatype(frozen=True)
class Route:
    dst: ipaddress.IPv4Network | ipaddress.IPv6Network
    gw: IPAddress | None
    extra: tuple[tuple[str, int], ...] = ()

    def to_json(self, with_extra: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"dst": str(self.dst)}
        if self.gw is not None:
            out["gw"] = str(self.gw)
        if with_extra:
            out.update(self.extra)
        return out


@datatype(frozen=True)
class IPAMConf:
    data_dir: str
    range_sets: tuple[RangeSet, ...]
    routes: tuple[Route, ...]
    dns: dict[str, Any]


@datatype(frozen=True)
class NetConf:
    raw: dict[str, Any]
    cni_version: str
    name: str
    type: str

    @property
    def version(self) -> version.Version:
        return version.parse(self.cni_version)

    @property
    def ipam_raw(self) -> dict[str, Any] | None:
        value = self.raw.get("ipam")
        return value if isinstance(value, dict) and value else None

    @property
    def data_dir(self) -> str:
        """Where leases live (``ipam.dataDir``, host-local's default otherwise)."""
        ipam = self.ipam_raw or {}
        value = ipam.get("dataDir") or DEFAULT_DATA_DIR
        if not isinstance(value, str):
            raise _invalid(
                "invalid IPAM configuration", f"ipam.dataDir: expected a path, got {value!r}"
            )
        return value

    @property
    def prev_result(self) -> dict[str, Any] | None:
        value = self.raw.get("prevResult")
        if value is None:
            return None
        if not isinstance(value, dict):
            raise CNIError(
                DECODING_FAILURE,
                "failed to decode prevResult",
                f"expected an object, got {value!r}",
            )
        return value

    def ipam(self) -> IPAMConf | None:
        """The parsed ``ipam`` section, or None when there is none."""
        raw = self.ipam_raw
        if raw is None:
            return None
        if "addresses" in raw:
            raise CNIError(
                UNSUPPORTED_FIELD,
                "unsupported field ipam.addresses",
                f"ipam.addresses={json.dumps(raw['addresses'])}: static addresses are not "
                "supported; "
                "use ipam.ranges with rangeStart/rangeEnd, or request addresses with 'ips'",
            )
        sets = parse_range_sets(raw)
        if not sets:
            raise _invalid(
                "invalid IPAM configuration", "ipam: no IP ranges specified (ranges or subnet)"
            )
        return IPAMConf(
            data_dir=self.data_dir,
            range_sets=sets,
            routes=parse_routes(raw.get("routes")),
            dns=read_resolv_conf(raw["resolvConf"]) if raw.get("resolvConf") else {},
        )

    def dns(self) -> dict[str, Any]:
        """The top-level ``dns`` dictionary, checked for shape."""
        value = self.raw.get("dns")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise _invalid("invalid dns", f"dns: expected an object, got {value!r}")
        out: dict[str, Any] = {}
        for key in ("nameservers", "search", "options"):
            items = value.get(key)
            if items is None:
                continue
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise _invalid("invalid dns", f"dns.{key}: expected a list of strings")
            if items:
                out[key] = list(items)
        domain = value.get("domain")
        if domain:
            if not isinstance(domain, str):
                raise _invalid("invalid dns", "dns.domain: expected a string")
            out["domain"] = domain
        return out

    def requested_ips(self, inv: Invocation) -> list[IPAddress]:
        """Addresses asked for by ``runtimeConfig.ips``, ``args.cni.ips`` or ``CNI_ARGS IP=``."""
        found: list[IPAddress] = []
        sources: list[tuple[str, object]] = []
        rc = self.raw.get("runtimeConfig")
        if isinstance(rc, dict) and "ips" in rc:
            sources.append(("runtimeConfig.ips", rc["ips"]))
        args = self.raw.get("args")
        if isinstance(args, dict) and isinstance(args.get("cni"), dict) and "ips" in args["cni"]:
            sources.append(("args.cni.ips", args["cni"]["ips"]))
        for what, value in sources:
            if value is None:
                continue
            if not isinstance(value, list):
                raise _invalid("invalid ips", f"{what}: expected a list of addresses")
            for i, item in enumerate(value):
                found.append(parse_ip_maybe_cidr(item, f"{what}[{i}]"))
        env_ip = inv.arg("IP")
        if env_ip:
            for part in env_ip.split(","):
                try:
                    found.append(parse_ip_maybe_cidr(part.strip(), "CNI_ARGS IP"))
                except CNIError:
                    raise CNIError(
                        INVALID_ENVIRONMENT,
                        "invalid CNI_ARGS",
                        f"CNI_ARGS IP={part!r} is not an IP address",
                    ) from None
        unique: list[IPAddress] = []
        for addr in found:
            if addr not in unique:
                unique.append(addr)
        return unique

    def valid_attachments(self) -> set[tuple[str, str]]:
        """``cni.dev/valid-attachments`` for GC; JSON null means none."""
        if VALID_ATTACHMENTS_KEY not in self.raw:
            raise _invalid(
                "missing cni.dev/valid-attachments",
                "GC needs the list of valid attachments (an empty list releases everything)",
            )
        value = self.raw[VALID_ATTACHMENTS_KEY]
        if value is None:
            return set()
        if not isinstance(value, list):
            raise _invalid("invalid cni.dev/valid-attachments", "expected a list of objects")
        out: set[tuple[str, str]] = set()
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise _invalid(
                    "invalid cni.dev/valid-attachments", f"entry {i}: expected an object"
                )
            cid, ifname = item.get("containerID"), item.get("ifname")
            if not isinstance(cid, str) or not cid or not isinstance(ifname, str):
                raise _invalid(
                    "invalid cni.dev/valid-attachments",
                    f"entry {i}: needs string 'containerID' and 'ifname'",
                )
            out.add((cid, ifname))
        return out


def check_cni_args(inv: Invocation) -> None:
    """Unknown CNI_ARGS keys are an error unless ``IgnoreUnknown`` is true (CONVENTIONS.md)."""
    ignore = (inv.arg("IgnoreUnknown") or "").lower() in ("1", "true")
    if ignore:
        return
    unknown = sorted({k for k, _ in inv.args if k not in KNOWN_CNI_ARGS})
    if unknown:
        raise CNIError(
            INVALID_ENVIRONMENT,
            "unknown CNI_ARGS",
            "CNI_ARGS has unknown keys "
            + ", ".join(unknown)
            + " (set IgnoreUnknown=1 to ignore them)",
        )


def parse(raw: dict[str, Any], need_name: bool = True) -> NetConf:
    """Check the keys every command needs: ``cniVersion``, ``name``, ``type``."""
    ver = config_version(raw)
    version.require_supported(ver)
    name = raw.get("name")
    if need_name:
        if not isinstance(name, str) or not name:
            raise _invalid("missing network name", "the configuration needs a string 'name'")
        if not _NETWORK_NAME.match(name):
            raise _invalid(
                "invalid network name",
                f"name={name!r}: must start with an alphanumeric character followed by "
                "alphanumerics, '_', '.' or '-'",
            )
    ptype = raw.get("type")
    if need_name:
        if not isinstance(ptype, str) or not ptype:
            raise _invalid("missing plugin type", "the configuration needs a string 'type'")
        if "/" in ptype or "\\" in ptype:
            raise _invalid("invalid plugin type", f"type={ptype!r} must not contain '/' or '\\'")
    return NetConf(
        raw=raw,
        cni_version=ver,
        name=name if isinstance(name, str) else "",
        type=ptype if isinstance(ptype, str) else "",
    )


def parse_routes(value: object) -> tuple[Route, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _invalid("invalid IPAM configuration", "ipam.routes: expected a list")
    routes: list[Route] = []
    for i, item in enumerate(value):
        what = f"ipam.routes[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("dst"), str):
            raise _invalid("invalid IPAM configuration", f"{what}: needs a string 'dst'")
        try:
            dst = ipaddress.ip_network(item["dst"], strict=False)
        except ValueError:
            raise _invalid(
                "invalid IPAM configuration", f"{what}.dst: {item['dst']!r} is not a CIDR"
            ) from None
        gw = None
        if item.get("gw"):
            gw = parse_ip(item["gw"], f"{what}.gw")
            if gw.version != dst.version:
                raise _invalid(
                    "invalid IPAM configuration", f"{what}: gw {gw} is not of the family of {dst}"
                )
        extra: list[tuple[str, int]] = []
        for key in _ROUTE_INT_FIELDS:
            if key in item:
                val = item[key]
                if not isinstance(val, int) or isinstance(val, bool):
                    raise _invalid(
                        "invalid IPAM configuration", f"{what}.{key}: expected an integer"
                    )
                extra.append((key, val))
        routes.append(Route(dst=dst, gw=gw, extra=tuple(extra)))
    return tuple(routes)


def read_resolv_conf(path: object) -> dict[str, Any]:
    """host-local's ``resolvConf``: nameserver, domain, search and options lines."""
    if not isinstance(path, str):
        raise _invalid(
            "invalid IPAM configuration", f"ipam.resolvConf: expected a path, got {path!r}"
        )
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise CNIError(IO_FAILURE, "cannot read ipam.resolvConf",
                       f"{path}: {exc.strerror or exc}") from None
    out: dict[str, Any] = {}
    for line in lines:
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) < 2:
            continue
        key, values = fields[0], fields[1:]
        if key == "nameserver":
            out.setdefault("nameservers", []).append(values[0])
        elif key == "domain":
            out["domain"] = values[0]
        elif key == "search":
            out["search"] = values
        elif key == "options":
            out.setdefault("options", []).extend(values)
    return out
