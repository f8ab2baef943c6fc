"""Success results: building, merging with ``prevResult`` and encoding per version.

Results are held in the 1.x shape (no ``version`` key in ``ips``) and encoded
for the configuration's ``cniVersion`` on output.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from . import version
from .errors import DECODING_FAILURE, CNIError
from .ipam import Allocation
from .netconf import Route

Result = dict[str, Any]

_IFACE_KEYS = ("name", "mac", "sandbox")
_IFACE_KEYS_11 = ("mtu", "socketPath", "pciID")
_ROUTE_KEYS = ("dst", "gw")
_ROUTE_KEYS_11 = ("mtu", "advmss", "priority", "table", "scope")
_DNS_KEYS = ("nameservers", "domain", "search", "options")


def _bad(details: str) -> CNIError:
    return CNIError(DECODING_FAILURE, "failed to decode prevResult", details)


def normalize(prev: dict[str, Any]) -> Result:
    """Check a ``prevResult`` (any supported version) and bring it to the 1.x shape."""
    interfaces = prev.get("interfaces") or []
    ips = prev.get("ips") or []
    routes = prev.get("routes") or []
    dns = prev.get("dns") or {}
    if not isinstance(interfaces, list) or not all(
        isinstance(i, dict) and isinstance(i.get("name"), str) for i in interfaces
    ):
        raise _bad("interfaces: expected a list of objects with a string 'name'")
    if not isinstance(ips, list) or not all(isinstance(i, dict) for i in ips):
        raise _bad("ips: expected a list of objects")
    if not isinstance(routes, list) or not all(
        isinstance(r, dict) and isinstance(r.get("dst"), str) for r in routes
    ):
        raise _bad("routes: expected a list of objects with a string 'dst'")
    if not isinstance(dns, dict):
        raise _bad("dns: expected an object")
    out_ips: list[dict[str, Any]] = []
    for n, ip in enumerate(ips):
        try:
            ipaddress.ip_interface(ip.get("address"))
        except (TypeError, ValueError):
            raise _bad(
                f"ips[{n}].address: {ip.get('address')!r} is not an address in CIDR form"
            ) from None
        idx = ip.get("interface")
        if idx is not None and (
            not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(interfaces)
        ):
            raise _bad(f"ips[{n}].interface: {idx!r} is not an index into interfaces")
        out_ips.append({k: v for k, v in ip.items() if k != "version"})
    return {
        "interfaces": [dict(i) for i in interfaces],
        "ips": out_ips,
        "routes": [dict(r) for r in routes],
        "dns": dict(dns),
    }


def build(
    ifname: str,
    netns: str,
    allocations: Sequence[Allocation],
    routes: Sequence[Route],
    dns: dict[str, Any],
    prev: Result | None,
) -> Result:
    """This attachment's result, merged into ``prev`` when chained.

    The interface is reused when ``prev`` already lists ``ifname`` in this
    sandbox; addresses and routes are appended (routes without duplicates);
    ``prev``'s DNS wins when it has any.
    """
    res: Result = (
        prev if prev is not None else {"interfaces": [], "ips": [], "routes": [], "dns": {}}
    )
    iface_idx = next(
        (
            i
            for i, iface in enumerate(res["interfaces"])
            if iface.get("name") == ifname and iface.get("sandbox", "") == netns
        ),
        None,
    )
    if iface_idx is None:
        res["interfaces"].append({"name": ifname, "sandbox": netns})
        iface_idx = len(res["interfaces"]) - 1
    for alloc in allocations:
        ip: dict[str, Any] = {
            "address": f"{alloc.address}/{alloc.range.subnet.prefixlen}",
            "interface": iface_idx,
        }
        if alloc.range.gateway is not None:
            ip["gateway"] = str(alloc.range.gateway)
        res["ips"].append(ip)
    for route in routes:
        entry = route.to_json(with_extra=True)
        if entry not in res["routes"]:
            res["routes"].append(entry)
    if not res["dns"] and dns:
        res["dns"] = dict(dns)
    return res


def encode(res: Result, cni_version: str) -> Result:
    """``res`` as the result type of ``cni_version`` (0.3.0 to 1.1.0)."""
    ver = version.parse(cni_version)
    v11 = version.at_least(ver, "1.1.0")
    v1 = version.at_least(ver, "1.0.0")
    iface_keys = _IFACE_KEYS + (_IFACE_KEYS_11 if v11 else ())
    route_keys = _ROUTE_KEYS + (_ROUTE_KEYS_11 if v11 else ())
    out: Result = {"cniVersion": cni_version}
    interfaces = [
        {k: i[k] for k in iface_keys if k in i and i[k] not in ("", None)}
        for i in res["interfaces"]
    ]
    if interfaces:
        out["interfaces"] = interfaces
    ips = []
    for ip in res["ips"]:
        entry: dict[str, Any] = {}
        if not v1:
            entry["version"] = str(ipaddress.ip_interface(ip["address"]).version)
        for key in ("interface", "address", "gateway"):
            if key in ip and ip[key] is not None:
                entry[key] = ip[key]
        ips.append(entry)
    if ips:
        out["ips"] = ips
    routes = [{k: r[k] for k in route_keys if k in r} for r in res["routes"]]
    if routes:
        out["routes"] = routes
    out["dns"] = {k: res["dns"][k] for k in _DNS_KEYS if res["dns"].get(k)}
    return out
