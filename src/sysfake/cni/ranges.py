"""Address ranges in host-local's format: pure address arithmetic, no I/O.

A *range* is a subnet with an optional ``rangeStart``, ``rangeEnd`` and
``gateway``; a *range set* is a list of ranges of one address family from
which one address is handed out. The network address, the IPv4 broadcast
address and the gateway are never allocated.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from typing import Any, Union

from ..datatype import datatype
from .errors import INVALID_NETWORK_CONFIG, CNIError

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def _invalid(details: str) -> CNIError:
    return CNIError(INVALID_NETWORK_CONFIG, "invalid IPAM configuration", details)


def parse_ip(value: object, what: str) -> IPAddress:
    if not isinstance(value, str):
        raise _invalid(f"{what}: expected an IP address string, got {value!r}")
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise _invalid(f"{what}: {value!r} is not an IP address") from None


def parse_ip_maybe_cidr(value: object, what: str) -> IPAddress:
    """An address given as ``10.0.0.5`` or ``10.0.0.5/24`` (the ``ips`` convention)."""
    if isinstance(value, str) and "/" in value:
        try:
            return ipaddress.ip_interface(value).ip
        except ValueError:
            raise _invalid(f"{what}: {value!r} is not an IP address") from None
    return parse_ip(value, what)


def parse_subnet(value: object, what: str) -> IPNetwork:
    if not isinstance(value, str):
        raise _invalid(f"{what}: expected a CIDR string, got {value!r}")
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise _invalid(f"{what}: {value!r} is not a CIDR subnet") from None
    if net.network_address != ipaddress.ip_interface(value).ip:
        raise _invalid(
            f"{what}: {value!r} has host bits set; for a /{net.prefixlen} the network "
            f"address is {net.network_address}"
        )
    if net.max_prefixlen - net.prefixlen < 2:
        raise _invalid(f"{what}: network {value} too small to allocate from")
    return net


@datatype(frozen=True)
class Range:
    """One allocatable range inside a subnet."""

    subnet: IPNetwork
    start: IPAddress
    end: IPAddress
    gateway: IPAddress | None

    @property
    def version(self) -> int:
        return self.subnet.version

    def contains(self, addr: IPAddress) -> bool:
        """``addr`` lies in the subnet between start and end (host-local's Contains)."""
        return (
            addr.version == self.version
            and addr in self.subnet
            and int(self.start) <= int(addr) <= int(self.end)
        )

    def excluded(self, addr: IPAddress) -> bool:
        """Addresses never handed out: network, IPv4 broadcast, gateway."""
        if addr == self.subnet.network_address:
            return True
        if self.version == 4 and addr == self.subnet.broadcast_address:
            return True
        return addr == self.gateway

    def capacity(self) -> int:
        """How many addresses this range can hand out."""
        size = int(self.end) - int(self.start) + 1
        for addr in {self.subnet.network_address, self.subnet.broadcast_address, self.gateway}:
            if addr is not None and self.contains(addr) and self.excluded(addr):
                size -= 1
        return size

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"

    def to_json(self) -> dict[str, str]:
        out = {"subnet": str(self.subnet), "rangeStart": str(self.start), "rangeEnd": str(self.end)}
        if self.gateway is not None:
            out["gateway"] = str(self.gateway)
        return out


def _default_end(subnet: IPNetwork) -> IPAddress:
    # host-local: last address for IPv6, broadcast - 1 for IPv4.
    if subnet.version == 4:
        return subnet.broadcast_address - 1
    return subnet.broadcast_address


def parse_range(obj: object, what: str) -> Range:
    if not isinstance(obj, dict):
        raise _invalid(f"{what}: expected an object, got {obj!r}")
    if "subnet" not in obj:
        raise _invalid(f"{what}: missing 'subnet'")
    subnet = parse_subnet(obj["subnet"], f"{what}.subnet")
    start = (
        parse_ip(obj["rangeStart"], f"{what}.rangeStart")
        if obj.get("rangeStart")
        else subnet.network_address + 1
    )
    end = (
        parse_ip(obj["rangeEnd"], f"{what}.rangeEnd")
        if obj.get("rangeEnd")
        else _default_end(subnet)
    )
    gateway = (
        parse_ip(obj["gateway"], f"{what}.gateway")
        if obj.get("gateway")
        else subnet.network_address + 1
    )
    for name, addr in (("rangeStart", start), ("rangeEnd", end)):
        if addr.version != subnet.version or addr not in subnet:
            raise _invalid(f"{what}.{name}: {addr} is not in network {subnet}")
    if gateway.version != subnet.version:
        raise _invalid(f"{what}.gateway: {gateway} is not of the family of {subnet}")
    if int(start) > int(end):
        raise _invalid(f"{what}: rangeStart {start} is after rangeEnd {end}")
    rng = Range(subnet=subnet, start=start, end=end, gateway=gateway)
    if rng.capacity() <= 0:
        raise _invalid(f"{what}: range {rng} has no allocatable address")
    return rng


@datatype(frozen=True)
class RangeSet:
    """Ranges of one family; an attachment gets one address from the set."""

    ranges: tuple[Range, ...]

    @property
    def version(self) -> int:
        return self.ranges[0].version

    def range_for(self, addr: IPAddress) -> Range | None:
        for rng in self.ranges:
            if rng.contains(addr):
                return rng
        return None

    def contains(self, addr: IPAddress) -> bool:
        return self.range_for(addr) is not None

    def capacity(self) -> int:
        return sum(r.capacity() for r in self.ranges)

    def overlaps(self, other: RangeSet) -> bool:
        return any(
            a.version == b.version and int(a.start) <= int(b.end) and int(b.start) <= int(a.end)
            for a in self.ranges
            for b in other.ranges
        )

    def iterate(self, last: IPAddress | None) -> Iterator[tuple[IPAddress, Range]]:
        """Every allocatable address once, round-robin after ``last`` (host-local order).

        Starts just after ``last`` when it lies in the set, else at the first
        range's start, and wraps around through all ranges.
        """
        n = len(self.ranges)
        first_idx, first_addr = 0, self.ranges[0].start
        if last is not None:
            for i, rng in enumerate(self.ranges):
                if rng.contains(last):
                    if int(last) < int(rng.end):
                        first_idx, first_addr = i, last + 1
                    else:
                        first_idx = (i + 1) % n
                        first_addr = self.ranges[first_idx].start
                    break
        # Walk ranges first_idx..n-1, 0..first_idx, the first one from
        # first_addr, and finally the head of the first range up to first_addr.
        for step in range(n + 1):
            idx = (first_idx + step) % n
            rng = self.ranges[idx]
            if step == 0:
                lo, hi = int(first_addr), int(rng.end)
            elif step == n:
                lo, hi = int(rng.start), int(first_addr) - 1
            else:
                lo, hi = int(rng.start), int(rng.end)
            for value in range(lo, hi + 1):
                addr = (
                    ipaddress.ip_address(value)
                    if rng.version == 4
                    else ipaddress.IPv6Address(value)
                )
                if not rng.excluded(addr):
                    yield addr, rng

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.ranges)


def parse_range_set(obj: object, what: str) -> RangeSet:
    if not isinstance(obj, list) or not obj:
        raise _invalid(f"{what}: expected a non-empty list of ranges")
    ranges = tuple(parse_range(item, f"{what}[{i}]") for i, item in enumerate(obj))
    families = {r.version for r in ranges}
    if len(families) > 1:
        raise _invalid(f"{what}: mixed address families")
    for i, a in enumerate(ranges):
        for j in range(i + 1, len(ranges)):
            b = ranges[j]
            if int(a.start) <= int(b.end) and int(b.start) <= int(a.end):
                raise _invalid(f"{what}: range {a} overlaps with range {b}")
    return RangeSet(ranges)


def parse_range_sets(ipam: dict[str, Any]) -> tuple[RangeSet, ...]:
    """The range sets of an ``ipam`` section (legacy top-level ``subnet`` first)."""
    sets: list[RangeSet] = []
    if ipam.get("subnet"):
        legacy = {k: ipam[k] for k in ("subnet", "rangeStart", "rangeEnd", "gateway") if k in ipam}
        sets.append(parse_range_set([legacy], "ipam"))
    raw = ipam.get("ranges")
    if raw is not None:
        if not isinstance(raw, list):
            raise _invalid("ipam.ranges: expected a list of range sets")
        sets.extend(parse_range_set(rs, f"ipam.ranges[{i}]") for i, rs in enumerate(raw))
    for i, a in enumerate(sets):
        for j in range(i + 1, len(sets)):
            if a.overlaps(sets[j]):
                raise _invalid(f"ipam: range set {i} overlaps with range set {j}")
    return tuple(sets)


def addresses_in(sets: Sequence[RangeSet], addr: IPAddress) -> int | None:
    """Index of the range set holding ``addr``, or None."""
    for i, rs in enumerate(sets):
        if rs.contains(addr):
            return i
    return None
