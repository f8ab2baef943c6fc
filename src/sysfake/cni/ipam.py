"""The allocation store: host-local's on-disk format, locked and crash-safe.

Layout of ``<dataDir>/<network name>/`` (the same as host-local's, so a
network can move between the two plugins without losing its leases):

- ``<address>``           one file per allocated address, holding
                          ``CONTAINERID\\r\\nIFNAME``
- ``last_reserved_ip.N``  the last address handed out from range set N
- ``lock``                flock(2)ed for the whole of every operation

Every file is written to a ``.tmp-*`` file in the same directory, fsynced,
renamed into place and the directory fsynced. A process killed mid-write
leaves at most a ``.tmp-*`` file, which is never read as an allocation and is
removed by the next process that takes the lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import os
import secrets
import time
from collections.abc import Iterator, Sequence

from ..datatype import datatype
from .errors import (
    ADDRESS_UNAVAILABLE,
    DUPLICATE_ATTACHMENT,
    IO_FAILURE,
    RANGE_EXHAUSTED,
    TRY_AGAIN_LATER,
    CNIError,
)
from .ranges import IPAddress, Range, RangeSet

DEFAULT_DATA_DIR = "/var/lib/cni/networks"
LOCK_NAME = "lock"
LAST_RESERVED_PREFIX = "last_reserved_ip."
TMP_PREFIX = ".tmp-"
LINE_BREAK = "\r\n"
DEFAULT_LOCK_TIMEOUT = 60.0


@datatype(frozen=True)
class Owner:
    """Who holds an address. ``ifname`` is None for pre-ifname host-local files."""

    container_id: str
    ifname: str | None

    def matches(self, container_id: str, ifname: str) -> bool:
        return self.container_id == container_id and self.ifname in (None, ifname)

    def encode(self) -> str:
        return self.container_id + LINE_BREAK + (self.ifname or "")


@datatype(frozen=True)
class Allocation:
    """An address handed out from range set ``set_index`` (its ``range``)."""

    address: IPAddress
    range: Range
    set_index: int


def _decode_owner(data: str) -> Owner:
    lines = data.replace("\r\n", "\n").split("\n")
    container_id = lines[0].strip()
    ifname = lines[1].strip() if len(lines) > 1 and lines[1].strip() else None
    return Owner(container_id, ifname)


def _parse_address(name: str) -> IPAddress | None:
    if name.startswith(".") or name == LOCK_NAME or name.startswith(LAST_RESERVED_PREFIX):
        return None
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _used(rs: RangeSet, taken: dict[IPAddress, Owner]) -> int:
    """Allocated addresses that count against the capacity of ``rs``."""
    count = 0
    for addr in taken:
        rng = rs.range_for(addr)
        if rng is not None and not rng.excluded(addr):
            count += 1
    return count


def _io_error(what: str, exc: OSError) -> CNIError:
    return CNIError(IO_FAILURE, "IPAM store I/O failure", f"{what}: {exc.strerror or exc}")


class Store:
    """The allocations of one network. Use :meth:`locked` around every access."""

    def __init__(self, data_dir: str, network: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT):
        self.dir = os.path.join(data_dir or DEFAULT_DATA_DIR, network)
        self.lock_timeout = lock_timeout
        self._held = False

    # -- locking ---------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, create: bool = True) -> Iterator[Store]:
        """Hold the network's flock; clear temp files left by a crashed writer.

        With ``create`` false a missing directory is not created and the body
        still runs (on an empty store): DEL and GC must not fail for it.
        """
        if not os.path.isdir(self.dir):
            if not create:
                self._held = True
                try:
                    yield self
                finally:
                    self._held = False
                return
            try:
                os.makedirs(self.dir, mode=0o755, exist_ok=True)
            except OSError as exc:
                raise _io_error(f"creating {self.dir}", exc) from exc
        try:
            fd = os.open(os.path.join(self.dir, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise _io_error(f"opening lock in {self.dir}", exc) from exc
        try:
            self._acquire(fd)
            self._held = True
            self._remove_stale_temp_files()
            yield self
        finally:
            self._held = False
            os.close(fd)  # also releases the flock

    def _acquire(self, fd: int) -> None:
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise _io_error(f"locking {self.dir}", exc) from exc
            if time.monotonic() >= deadline:
                raise CNIError(
                    TRY_AGAIN_LATER,
                    "IPAM store is busy",
                    f"could not lock {self.dir} within {self.lock_timeout:g}s",
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.02)

    def _check_locked(self) -> None:
        if not self._held:
            raise RuntimeError("Store used outside Store.locked()")

    def _remove_stale_temp_files(self) -> None:
        for name in self._names():
            if name.startswith(TMP_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.dir, name))

    # -- low-level file access -------------------------------------------
    def _names(self) -> list[str]:
        try:
            return os.listdir(self.dir)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise _io_error(f"listing {self.dir}", exc) from exc

    def _write_atomic(self, name: str, data: str) -> None:
        tmp = os.path.join(self.dir, f"{TMP_PREFIX}{name}-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, data.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, os.path.join(self.dir, name))
            self._fsync_dir()
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise _io_error(f"writing {name} in {self.dir}", exc) from exc

    def _remove(self, name: str) -> None:
        try:
            os.unlink(os.path.join(self.dir, name))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _io_error(f"removing {name} in {self.dir}", exc) from exc
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- queries -----------------------------------------------------------
    def allocations(self) -> dict[IPAddress, Owner]:
        """Every allocated address and its owner."""
        self._check_locked()
        out: dict[IPAddress, Owner] = {}
        for name in self._names():
            addr = _parse_address(name)
            if addr is None:
                continue
            try:
                with open(os.path.join(self.dir, name), encoding="utf-8", errors="replace") as f:
                    out[addr] = _decode_owner(f.read())
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise _io_error(f"reading {name} in {self.dir}", exc) from exc
        return out

    def find(self, container_id: str, ifname: str) -> list[IPAddress]:
        """Addresses held by the attachment ``(container_id, ifname)``."""
        return sorted(
            (a for a, o in self.allocations().items() if o.matches(container_id, ifname)),
            key=lambda a: (a.version, int(a)),
        )

    def last_reserved(self, set_index: int) -> IPAddress | None:
        self._check_locked()
        try:
            with open(os.path.join(self.dir, f"{LAST_RESERVED_PREFIX}{set_index}")) as f:
                return ipaddress.ip_address(f.read().strip())
        except (FileNotFoundError, ValueError):
            return None
        except OSError as exc:
            raise _io_error(f"reading {LAST_RESERVED_PREFIX}{set_index}", exc) from exc

    # -- updates -----------------------------------------------------------
    def reserve(self, addr: IPAddress, owner: Owner, set_index: int | None) -> None:
        self._check_locked()
        self._write_atomic(str(addr), owner.encode())
        if set_index is not None:
            self._write_atomic(f"{LAST_RESERVED_PREFIX}{set_index}", str(addr))

    def release(self, addr: IPAddress) -> None:
        self._check_locked()
        self._remove(str(addr))

    def release_attachment(self, container_id: str, ifname: str) -> list[IPAddress]:
        """Release every address of ``(container_id, ifname)``; idempotent."""
        released = self.find(container_id, ifname)
        for addr in released:
            self.release(addr)
        return released

    def allocate(
        self,
        sets: Sequence[RangeSet],
        container_id: str,
        ifname: str,
        requested: Sequence[IPAddress] = (),
    ) -> list[Allocation]:
        """One address from each range set, all or nothing.

        ``requested`` addresses are taken in the range set that holds them;
        the other sets get the next free address after their last reservation.
        """
        self._check_locked()
        held = self.find(container_id, ifname)
        if held:
            raise CNIError(
                DUPLICATE_ATTACHMENT,
                "attachment already exists",
                f"container {container_id} interface {ifname} already holds "
                + ", ".join(map(str, held))
                + "; DEL it before adding it again",
            )
        taken = self.allocations()
        wanted: dict[int, IPAddress] = {}
        for addr in requested:
            idx = next((i for i, rs in enumerate(sets) if rs.contains(addr)), None)
            if idx is None:
                raise CNIError(
                    ADDRESS_UNAVAILABLE,
                    "requested IP address unavailable",
                    f"{addr} is not in any configured range",
                )
            if idx in wanted and wanted[idx] != addr:
                raise CNIError(
                    ADDRESS_UNAVAILABLE,
                    "requested IP address unavailable",
                    f"{wanted[idx]} and {addr} are both in range set {idx}; one address per set",
                )
            wanted[idx] = addr
        done: list[Allocation] = []
        try:
            for idx, rs in enumerate(sets):
                if idx in wanted:
                    alloc = self._take_requested(rs, idx, wanted[idx], taken)
                else:
                    alloc = self._take_next(rs, idx, taken)
                self.reserve(alloc.address, Owner(container_id, ifname), idx)
                taken[alloc.address] = Owner(container_id, ifname)
                done.append(alloc)
        except BaseException:
            for alloc in done:
                with contextlib.suppress(CNIError):
                    self.release(alloc.address)
            raise
        return done

    def _take_requested(
        self, rs: RangeSet, idx: int, addr: IPAddress, taken: dict[IPAddress, Owner]
    ) -> Allocation:
        rng = rs.range_for(addr)
        assert rng is not None
        if rng.excluded(addr):
            raise CNIError(
                ADDRESS_UNAVAILABLE,
                "requested IP address unavailable",
                f"{addr} is the network, broadcast or gateway address of {rng.subnet}",
            )
        if addr in taken:
            raise CNIError(
                ADDRESS_UNAVAILABLE,
                "requested IP address unavailable",
                f"{addr} is already allocated to container {taken[addr].container_id}",
            )
        return Allocation(addr, rng, idx)

    def _take_next(self, rs: RangeSet, idx: int, taken: dict[IPAddress, Owner]) -> Allocation:
        if _used(rs, taken) < rs.capacity():
            for addr, rng in rs.iterate(self.last_reserved(idx)):
                if addr not in taken:
                    return Allocation(addr, rng, idx)
        raise CNIError(
            RANGE_EXHAUSTED,
            "no IP addresses available",
            f"no IP addresses available in range set {rs} (range set {idx})",
        )

    def free_count(self, rs: RangeSet) -> int:
        """How many addresses of ``rs`` are still free (a lower bound of 0)."""
        return max(rs.capacity() - _used(rs, self.allocations()), 0)

    def garbage_collect(self, valid: set[tuple[str, str]]) -> list[IPAddress]:
        """Release every address whose owner is not in ``valid``.

        A pre-ifname owner is kept when its container ID appears in ``valid``.
        """
        valid_ids = {cid for cid, _ in valid}
        removed: list[IPAddress] = []
        errors: list[str] = []
        for addr, owner in self.allocations().items():
            if owner.ifname is None:
                keep = owner.container_id in valid_ids
            else:
                keep = (owner.container_id, owner.ifname) in valid
            if keep:
                continue
            try:
                self.release(addr)
                removed.append(addr)
            except CNIError as exc:
                errors.append(exc.details)
        if errors:
            raise CNIError(
                IO_FAILURE, "GC could not release every stale address", "; ".join(errors)
            )
        return removed
