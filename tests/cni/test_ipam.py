"""The allocation store: concurrency, exhaustion, crash safety, host-local format."""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sysfake.cni.errors import CNIError
from sysfake.cni.ipam import Store
from sysfake.cni.ranges import parse_range_set

from .conftest import SRC, ConfFactory, allocation_files, base_env, require, run_plugin

HOST_LOCAL = "/usr/lib/cni/host-local"


def test_50_concurrent_adds_get_distinct_addresses(make_conf: ConfFactory, state_dir: Path) -> None:
    conf = make_conf(ranges=[[{"subnet": "10.50.0.0/24"}], [{"subnet": "fd50::/64"}]])

    def add(i: int) -> list[str]:
        res = run_plugin("ADD", conf, container_id=f"pod{i}", timeout=120).ok().json
        return [ip["address"] for ip in res["ips"]]

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(add, range(50)))
    v4 = [r[0] for r in results]
    v6 = [r[1] for r in results]
    assert len(set(v4)) == 50 and len(set(v6)) == 50
    net = ipaddress.ip_network("10.50.0.0/24")
    assert all(ipaddress.ip_interface(a).ip in net for a in v4)
    files = allocation_files(state_dir)
    assert len(files) == 100
    assert sorted(set(files.values())) == sorted(f"pod{i}/eth0" for i in range(50))
    # And 50 concurrent DELs release everything.
    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(lambda i: run_plugin("DEL", conf, container_id=f"pod{i}").ok(), range(50)))
    assert allocation_files(state_dir) == {}


def test_full_range_then_release(make_conf: ConfFactory) -> None:
    conf = make_conf(
        ranges=[[{"subnet": "10.60.0.0/24", "rangeStart": "10.60.0.10", "rangeEnd": "10.60.0.12"}]]
    )
    got = {
        run_plugin("ADD", conf, container_id=f"c{i}").ok().json["ips"][0]["address"]
        for i in range(3)
    }
    assert got == {"10.60.0.10/24", "10.60.0.11/24", "10.60.0.12/24"}
    err = run_plugin("ADD", conf, container_id="c3").error(100, "10.60.0.10-10.60.0.12")
    assert err["msg"] == "no IP addresses available"
    run_plugin("DEL", conf, container_id="c1").ok()
    res = run_plugin("ADD", conf, container_id="c3").ok().json
    assert res["ips"][0]["address"] == "10.60.0.11/24"


def test_full_ipv6_set_fails_whole_add(make_conf: ConfFactory, state_dir: Path) -> None:
    conf = make_conf(
        ranges=[
            [{"subnet": "10.61.0.0/24"}],
            [{"subnet": "fd61::/64", "rangeStart": "fd61::5", "rangeEnd": "fd61::5"}],
        ]
    )
    run_plugin("ADD", conf, container_id="a").ok()
    run_plugin("ADD", conf, container_id="b").error(100, "fd61::5")
    assert sorted(allocation_files(state_dir).values()) == ["a/eth0", "a/eth0"]


def test_lock_contention_times_out_with_code_11(make_conf: ConfFactory, state_dir: Path) -> None:
    d = state_dir / "testnet"
    d.mkdir(parents=True)
    fd = os.open(d / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        run_plugin("ADD", make_conf(), extra_env={"SYSFAKE_CNI_LOCK_TIMEOUT": "0.3"}).error(
            11, "lock"
        )
    finally:
        os.close(fd)
    run_plugin("ADD", make_conf()).ok()


def test_leftover_temp_files_do_not_break_the_store(
    make_conf: ConfFactory, state_dir: Path
) -> None:
    conf = make_conf(ranges=[[{"subnet": "10.70.0.0/29"}]])
    run_plugin("ADD", conf, container_id="a").ok()
    d = state_dir / "testnet"
    # What a writer killed mid-write leaves: partial temp files, never renamed.
    (d / ".tmp-10.70.0.3-4242-deadbeef").write_bytes(b"half")
    (d / ".tmp-last_reserved_ip.0-4242-cafebabe").write_bytes(b"10.70")
    (d / ".tmp-10.70.0.4-4243-00000000").write_bytes(b"")
    res = run_plugin("ADD", conf, container_id="b").ok().json
    assert res["ips"][0]["address"] == "10.70.0.3/29"
    assert sorted(p.name for p in d.iterdir() if p.name.startswith(".")) == []
    assert allocation_files(state_dir) == {"10.70.0.2": "a/eth0", "10.70.0.3": "b/eth0"}


@pytest.mark.parametrize("die_at", ["write", "rename"])
def test_kill_9_mid_write(make_conf: ConfFactory, state_dir: Path, die_at: str) -> None:
    """A plugin SIGKILLed while writing its lease leaves a store the next call can use."""
    conf = make_conf(ranges=[[{"subnet": "10.71.0.0/29"}]])
    run_plugin("ADD", conf, container_id="a").ok()
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(SRC)!r})
        from sysfake.cni import plugin
        real_write = os.write
        def write(fd, data):
            if {die_at!r} == "write":
                real_write(fd, data[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
            return real_write(fd, data)
        def rename(a, b):
            os.kill(os.getpid(), signal.SIGKILL)
        os.write = write
        os.rename = rename
        sys.exit(plugin.main([]))
    """)
    env = base_env()
    env.update(
        CNI_COMMAND="ADD",
        CNI_CONTAINERID="victim",
        CNI_NETNS="/x",
        CNI_IFNAME="eth0",
        CNI_PATH="/opt/cni/bin",
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(conf).encode(),
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    d = state_dir / "testnet"
    assert any(p.name.startswith(".tmp-") for p in d.iterdir()), "the crash left no temp file"
    # The store is intact: only 'a' holds an address, the victim holds none.
    assert allocation_files(state_dir) == {"10.71.0.2": "a/eth0"}
    res = run_plugin("ADD", conf, container_id="b").ok().json
    assert res["ips"][0]["address"] == "10.71.0.3/29"
    assert not any(p.name.startswith(".tmp-") for p in d.iterdir())
    run_plugin("DEL", conf, container_id="victim").ok()


def test_unreadable_lease_content_is_reserved_until_gc(
    make_conf: ConfFactory, state_dir: Path
) -> None:
    conf = make_conf(version="1.1.0", ranges=[[{"subnet": "10.72.0.0/29"}]])
    d = state_dir / "testnet"
    d.mkdir(parents=True)
    (d / "10.72.0.2").write_bytes(b"")  # e.g. a torn write by another tool
    res = run_plugin("ADD", conf, container_id="a").ok().json
    assert res["ips"][0]["address"] == "10.72.0.3/29"
    gc = dict(conf, **{"cni.dev/valid-attachments": [{"containerID": "a", "ifname": "eth0"}]})
    run_plugin("GC", gc).ok()
    assert allocation_files(state_dir) == {"10.72.0.3": "a/eth0"}


def test_store_format_is_host_local_compatible(make_conf: ConfFactory, state_dir: Path) -> None:
    """Leases written by Debian's host-local are honoured, and ours by host-local."""
    require(
        os.access(HOST_LOCAL, os.X_OK),
        f"{HOST_LOCAL} missing (apt-get install containernetworking-plugins)",
    )
    conf = make_conf(ranges=[[{"subnet": "10.73.0.0/29"}]])
    env = base_env()
    env.update(
        CNI_COMMAND="ADD",
        CNI_CONTAINERID="hl1",
        CNI_NETNS="/x",
        CNI_IFNAME="eth0",
        CNI_PATH="/usr/lib/cni",
    )
    hl = subprocess.run(
        [HOST_LOCAL], input=json.dumps(conf).encode(), env=env, capture_output=True, check=False
    )
    assert hl.returncode == 0, hl.stdout + hl.stderr
    hl_ip = json.loads(hl.stdout)["ips"][0]["address"]
    ours = run_plugin("ADD", conf, container_id="noop1").ok().json["ips"][0]["address"]
    assert ours != hl_ip
    env["CNI_CONTAINERID"] = "hl2"
    hl2 = subprocess.run(
        [HOST_LOCAL], input=json.dumps(conf).encode(), env=env, capture_output=True, check=False
    )
    assert hl2.returncode == 0, hl2.stdout + hl2.stderr
    assert json.loads(hl2.stdout)["ips"][0]["address"] not in (hl_ip, ours)
    # DEL by our plugin releases host-local's lease for the same attachment.
    run_plugin("DEL", conf, container_id="hl1").ok()
    assert "hl1/eth0" not in allocation_files(state_dir).values()


# -- in-process unit tests of the range arithmetic ---------------------------
def test_range_iteration_round_robin_and_wrap() -> None:
    rs = parse_range_set([{"subnet": "10.0.0.0/29"}, {"subnet": "10.0.1.0/30"}], "t")
    assert rs.capacity() == 5 + 1
    order = [str(a) for a, _ in rs.iterate(ipaddress.ip_address("10.0.0.5"))]
    assert order == ["10.0.0.6", "10.0.1.2", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]
    assert next(str(a) for a, _ in rs.iterate(None)) == "10.0.0.2"
    assert next(str(a) for a, _ in rs.iterate(ipaddress.ip_address("10.0.1.2"))) == "10.0.0.2"


def test_ipv6_range_defaults() -> None:
    rs = parse_range_set([{"subnet": "fd00::/126"}], "t")
    # ::0 network, ::1 gateway; IPv6 has no broadcast, so ::3 is allocatable.
    assert [str(a) for a, _ in rs.iterate(None)] == ["fd00::2", "fd00::3"]
    assert rs.capacity() == 2


def test_store_requires_lock(tmp_path: Path) -> None:
    store = Store(str(tmp_path), "n")
    with pytest.raises(RuntimeError):
        store.allocations()
    with store.locked(create=False) as s:
        assert s.allocations() == {}


def test_store_allocate_in_process(tmp_path: Path) -> None:
    rs = parse_range_set([{"subnet": "10.0.0.0/30"}], "t")
    store = Store(str(tmp_path), "n")
    with store.locked():
        (alloc,) = store.allocate([rs], "x", "eth0")
        assert str(alloc.address) == "10.0.0.2"
        with pytest.raises(CNIError) as exc:
            store.allocate([rs], "y", "eth0")
        assert exc.value.code == 100
        assert store.release_attachment("x", "eth0") == [alloc.address]
        assert store.release_attachment("x", "eth0") == []
