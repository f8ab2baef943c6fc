"""prevResult handling: the plugin's result merged into the chain's result."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from sysfake.cni.result import encode, normalize

from .conftest import ConfFactory, run_plugin

PREV: dict[str, Any] = {
    "cniVersion": "1.0.0",
    "interfaces": [
        {"name": "veth1234", "mac": "aa:bb:cc:dd:ee:ff"},
        {"name": "lo", "sandbox": "/run/netns/pod"},
    ],
    "ips": [{"address": "192.168.50.7/24", "gateway": "192.168.50.1", "interface": 1}],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "192.168.50.1"}],
    "dns": {"nameservers": ["192.168.50.53"]},
}


def test_add_appends_interface_and_ips_to_prev_result(make_conf: ConfFactory) -> None:
    conf = make_conf(
        prevResult=copy.deepcopy(PREV),
        routes=[{"dst": "0.0.0.0/0"}, {"dst": "10.0.0.0/8"}],
        dns={"nameservers": ["10.88.0.53"]},
    )
    res = run_plugin("ADD", conf, netns="/run/netns/pod").ok().json
    assert res["interfaces"] == [
        {"name": "veth1234", "mac": "aa:bb:cc:dd:ee:ff"},
        {"name": "lo", "sandbox": "/run/netns/pod"},
        {"name": "eth0", "sandbox": "/run/netns/pod"},
    ]
    assert res["ips"] == [
        {"interface": 1, "address": "192.168.50.7/24", "gateway": "192.168.50.1"},
        {"interface": 2, "address": "10.88.0.2/24", "gateway": "10.88.0.1"},
    ]
    # Routes: previous ones kept, ours appended without duplicates.
    assert res["routes"] == [
        {"dst": "0.0.0.0/0"},
        {"dst": "192.168.0.0/16", "gw": "192.168.50.1"},
        {"dst": "10.0.0.0/8"},
    ]
    # The previous plugin's DNS wins.
    assert res["dns"] == {"nameservers": ["192.168.50.53"]}


def test_add_reuses_existing_interface_of_same_name(make_conf: ConfFactory) -> None:
    prev = {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "sandbox": "/run/netns/pod", "mac": "02:00:00:00:00:01"}],
        "ips": [],
    }
    res = run_plugin("ADD", make_conf(prevResult=prev), netns="/run/netns/pod").ok().json
    assert res["interfaces"] == prev["interfaces"]
    assert [ip["interface"] for ip in res["ips"]] == [0]


def test_add_without_ipam_passes_prev_result_through(make_conf: ConfFactory) -> None:
    prev: dict[str, Any] = copy.deepcopy(PREV)
    prev["interfaces"].append({"name": "eth0", "sandbox": "/run/netns/pod"})
    conf = make_conf(prevResult=prev)
    del conf["ipam"]
    res = run_plugin("ADD", conf, netns="/run/netns/pod").ok().json
    assert res == {
        **prev,
        "ips": [{"interface": 1, "address": "192.168.50.7/24", "gateway": "192.168.50.1"}],
    }


def test_prev_result_in_0_4_0_format(make_conf: ConfFactory) -> None:
    prev = {
        "cniVersion": "0.4.0",
        "interfaces": [{"name": "eth0", "sandbox": "/run/netns/pod"}],
        "ips": [{"version": "6", "address": "fd00::9/64", "interface": 0}],
    }
    res = (
        run_plugin("ADD", make_conf(version="0.4.0", prevResult=prev), netns="/run/netns/pod")
        .ok()
        .json
    )
    assert res["cniVersion"] == "0.4.0"
    assert res["ips"] == [
        {"version": "6", "interface": 0, "address": "fd00::9/64"},
        {"version": "4", "interface": 0, "address": "10.88.0.2/24", "gateway": "10.88.0.1"},
    ]


def test_malformed_prev_result_is_code_6(make_conf: ConfFactory) -> None:
    for prev in (
        "x",
        {"ips": [{"address": "not-an-ip"}]},
        {"interfaces": [], "ips": [{"address": "10.0.0.1/8", "interface": 3}]},
        {"interfaces": [{"mac": "no name"}]},
    ):
        run_plugin("ADD", make_conf(prevResult=prev)).error(6, "prevResult")


def test_check_in_chain_ignores_foreign_addresses(make_conf: ConfFactory, tmp_path: Path) -> None:
    ns = tmp_path / "ns"
    ns.touch()
    res = run_plugin("ADD", make_conf(prevResult=copy.deepcopy(PREV)), netns=str(ns)).ok().json
    # A later plugin added another address and route: still consistent.
    res["ips"].append({"interface": 2, "address": "172.16.0.9/12"})
    res["routes"].append({"dst": "172.16.0.0/12"})
    run_plugin("CHECK", make_conf(prevResult=res), netns=str(ns)).ok()


def test_encode_round_trip_between_versions() -> None:
    res = normalize(
        {
            "interfaces": [{"name": "eth0", "sandbox": "/n", "mtu": 1400}],
            "ips": [{"version": "4", "address": "10.0.0.2/24", "interface": 0}],
            "routes": [{"dst": "0.0.0.0/0", "table": 5}],
        }
    )
    v11 = encode(res, "1.1.0")
    assert v11["interfaces"] == [{"name": "eth0", "sandbox": "/n", "mtu": 1400}]
    assert v11["routes"] == [{"dst": "0.0.0.0/0", "table": 5}]
    assert "version" not in v11["ips"][0]
    v03 = encode(res, "0.3.1")
    assert v03["interfaces"] == [{"name": "eth0", "sandbox": "/n"}]
    assert v03["ips"] == [{"version": "4", "interface": 0, "address": "10.0.0.2/24"}]
    assert v03["routes"] == [{"dst": "0.0.0.0/0"}]
