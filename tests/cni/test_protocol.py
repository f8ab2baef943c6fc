"""Spec conformance of each command, driven through the executable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import ConfFactory, allocation_files, run_plugin

SUPPORTED = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


# -- VERSION ---------------------------------------------------------------
@pytest.mark.parametrize("requested", ["0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_version_echoes_requested_version(requested: str) -> None:
    out = (
        run_plugin(
            "VERSION",
            {"cniVersion": requested},
            container_id=None,
            netns=None,
            ifname=None,
            path=None,
        )
        .ok()
        .json
    )
    assert out == {"cniVersion": requested, "supportedVersions": SUPPORTED}


def test_version_without_stdin_reports_latest() -> None:
    out = run_plugin("VERSION", b"", container_id=None, netns=None, ifname=None).ok().json
    assert out["cniVersion"] == "1.1.0"
    assert out["supportedVersions"] == SUPPORTED


def test_version_bad_json_is_decode_error() -> None:
    run_plugin("VERSION", b"{not json").error(6)


# -- environment -------------------------------------------------------------
def test_missing_command_is_code_4(make_conf: ConfFactory) -> None:
    run_plugin("", make_conf()).error(4, "CNI_COMMAND")


def test_unknown_command_is_code_4(make_conf: ConfFactory) -> None:
    run_plugin("FROB", make_conf()).error(4, "CNI_COMMAND")


@pytest.mark.parametrize("command", ["ADD", "CHECK"])
@pytest.mark.parametrize("missing", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"])
def test_add_check_required_env(make_conf: ConfFactory, command: str, missing: str) -> None:
    kw: dict[str, Any] = {"container_id": "c1", "netns": "/n", "ifname": "eth0"}
    kw[
        {"CNI_CONTAINERID": "container_id", "CNI_NETNS": "netns", "CNI_IFNAME": "ifname"}[missing]
    ] = None
    err = run_plugin(command, make_conf(), **kw).error(4, missing)
    assert err["cniVersion"] == "1.0.0"


@pytest.mark.parametrize("missing", ["CNI_CONTAINERID", "CNI_IFNAME"])
def test_del_required_env(make_conf: ConfFactory, missing: str) -> None:
    kw: dict[str, Any] = {"container_id": "c1", "ifname": "eth0"}
    kw[{"CNI_CONTAINERID": "container_id", "CNI_IFNAME": "ifname"}[missing]] = None
    run_plugin("DEL", make_conf(), **kw).error(4, missing)


def test_del_netns_is_optional(make_conf: ConfFactory) -> None:
    run = run_plugin("DEL", make_conf(), netns=None).ok()
    assert run.stdout == ""


@pytest.mark.parametrize("cid", ["-leading-dash", "has space", "a/b", "é"])
def test_invalid_container_id(make_conf: ConfFactory, cid: str) -> None:
    run_plugin("ADD", make_conf(), container_id=cid).error(4, "CNI_CONTAINERID")


@pytest.mark.parametrize("ifname", ["averyverylongname", "a/b", "a:b", "a b", ".", ".."])
def test_invalid_ifname(make_conf: ConfFactory, ifname: str) -> None:
    run_plugin("ADD", make_conf(), ifname=ifname).error(4, "CNI_IFNAME")


def test_malformed_cni_args(make_conf: ConfFactory) -> None:
    run_plugin("ADD", make_conf(), args="FOO").error(4, "CNI_ARGS")


def test_unknown_cni_args_rejected_unless_ignore_unknown(make_conf: ConfFactory) -> None:
    run_plugin("ADD", make_conf(), args="FOO=bar").error(4, "CNI_ARGS", "FOO")
    run_plugin("ADD", make_conf(), args="IgnoreUnknown=1;FOO=bar;K8S_POD_NAME=x").ok()


# -- configuration -----------------------------------------------------------
@pytest.mark.parametrize("data", [b"{", b"[1, 2]", b"\xff\xfe", b'"x"'])
def test_undecodable_config_is_code_6(data: bytes) -> None:
    run_plugin("ADD", data).error(6)


@pytest.mark.parametrize("ver", ["0.1.0", "0.2.0", "1.2.0", "2.0.0"])
def test_unsupported_version_is_code_1(make_conf: ConfFactory, ver: str) -> None:
    run_plugin("ADD", make_conf(version=ver)).error(1, ver)


def test_missing_version_means_0_1_0(make_conf: ConfFactory) -> None:
    conf = make_conf()
    del conf["cniVersion"]
    run_plugin("ADD", conf).error(1, "0.1.0")


def test_malformed_version_is_code_6(make_conf: ConfFactory) -> None:
    run_plugin("ADD", make_conf(version="one")).error(6)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"name": ""}, "name"),
        ({"name": "a/b"}, "name"),
        ({"name": "..x"}, "name"),
        ({"type": ""}, "type"),
        ({"type": "a/b"}, "type"),
    ],
)
def test_invalid_name_or_type_is_code_7(
    make_conf: ConfFactory, change: dict[str, str], needle: str
) -> None:
    run_plugin("ADD", make_conf(**change)).error(7, needle)


@pytest.mark.parametrize(
    ("ranges", "needle"),
    [
        ([[{"subnet": "10.0.0.1/24"}]], "host bits"),
        ([[{"subnet": "10.0.0.0/31"}]], "too small"),
        ([[{"subnet": "10.0.0.0/24", "rangeStart": "10.0.1.5"}]], "rangeStart"),
        ([[{"subnet": "10.0.0.0/24", "rangeStart": "10.0.0.9", "rangeEnd": "10.0.0.5"}]], "after"),
        ([[{"subnet": "10.0.0.0/24"}, {"subnet": "fd00::/64"}]], "mixed"),
        ([[{"subnet": "10.0.0.0/24"}], [{"subnet": "10.0.0.0/25"}]], "overlaps"),
        ([[{"subnet": "not-a-net"}]], "CIDR"),
        ([], "no IP ranges"),
        ([[]], "non-empty"),
    ],
)
def test_invalid_ipam_is_code_7(make_conf: ConfFactory, ranges: list[Any], needle: str) -> None:
    run_plugin("ADD", make_conf(ranges=ranges)).error(7, needle)


def test_static_addresses_are_unsupported_field(make_conf: ConfFactory) -> None:
    conf = make_conf()
    conf["ipam"]["addresses"] = [{"address": "10.0.0.5/24"}]
    run_plugin("ADD", conf).error(2, "ipam.addresses", "10.0.0.5/24")


# -- ADD ---------------------------------------------------------------------
def test_add_result_1_0_0(make_conf: ConfFactory, state_dir: Path) -> None:
    conf = make_conf(
        ranges=[[{"subnet": "10.88.0.0/24", "gateway": "10.88.0.254"}], [{"subnet": "fd88::/64"}]],
        routes=[{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "fd88::1"}],
        dns={"nameservers": ["10.88.0.10"], "search": ["svc.local"]},
    )
    res = run_plugin("ADD", conf, netns="/run/netns/pod1").ok().json
    assert res["cniVersion"] == "1.0.0"
    assert res["interfaces"] == [{"name": "eth0", "sandbox": "/run/netns/pod1"}]
    assert res["ips"] == [
        {"interface": 0, "address": "10.88.0.1/24", "gateway": "10.88.0.254"},
        {"interface": 0, "address": "fd88::2/64", "gateway": "fd88::1"},
    ]
    assert res["routes"] == [{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "fd88::1"}]
    assert res["dns"] == {"nameservers": ["10.88.0.10"], "search": ["svc.local"]}
    assert allocation_files(state_dir) == {"10.88.0.1": "c1/eth0", "fd88::2": "c1/eth0"}


@pytest.mark.parametrize("ver", ["0.3.0", "0.3.1", "0.4.0"])
def test_add_result_0_x_has_ip_version(make_conf: ConfFactory, ver: str) -> None:
    conf = make_conf(version=ver, ranges=[[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd01::/64"}]])
    res = run_plugin("ADD", conf).ok().json
    assert res["cniVersion"] == ver
    assert [ip["version"] for ip in res["ips"]] == ["4", "6"]
    assert all(ip["interface"] == 0 for ip in res["ips"])


def test_add_result_1_1_0_keeps_route_extensions(make_conf: ConfFactory) -> None:
    routes = [{"dst": "10.0.0.0/8", "table": 100, "mtu": 1400}]
    res = run_plugin("ADD", make_conf(version="1.1.0", routes=routes)).ok().json
    assert res["routes"] == routes
    res = run_plugin("ADD", make_conf(version="1.0.0", routes=routes), container_id="c2").ok().json
    assert res["routes"] == [{"dst": "10.0.0.0/8"}]


def test_add_legacy_subnet_and_resolv_conf(make_conf: ConfFactory, tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("# c\nnameserver 10.0.0.53\nsearch a.example b.example\noptions ndots:5\n")
    conf = make_conf(ranges=[])
    del conf["ipam"]["ranges"]
    conf["ipam"].update(
        subnet="10.5.0.0/16",
        rangeStart="10.5.3.10",
        rangeEnd="10.5.3.20",
        gateway="10.5.0.1",
        resolvConf=str(resolv),
    )
    res = run_plugin("ADD", conf).ok().json
    assert res["ips"] == [{"interface": 0, "address": "10.5.3.10/16", "gateway": "10.5.0.1"}]
    assert res["dns"] == {
        "nameservers": ["10.0.0.53"],
        "search": ["a.example", "b.example"],
        "options": ["ndots:5"],
    }


def test_add_default_gateway_and_range(make_conf: ConfFactory) -> None:
    conf = make_conf(ranges=[[{"subnet": "192.168.7.0/30"}]])
    res = run_plugin("ADD", conf).ok().json
    # .0 network, .1 gateway, .3 broadcast: only .2 is allocatable.
    assert res["ips"] == [{"interface": 0, "address": "192.168.7.2/30", "gateway": "192.168.7.1"}]
    run_plugin("ADD", conf, container_id="c2").error(100, "192.168.7.1-192.168.7.2")


def test_add_without_ipam_returns_interface_only(make_conf: ConfFactory) -> None:
    conf = make_conf()
    del conf["ipam"]
    res = run_plugin("ADD", conf).ok().json
    assert res["interfaces"] == [{"name": "eth0", "sandbox": "/var/run/netns/test"}]
    assert "ips" not in res


def test_add_twice_same_attachment_is_error(make_conf: ConfFactory, state_dir: Path) -> None:
    first = run_plugin("ADD", make_conf()).ok().json
    run_plugin("ADD", make_conf()).error(103, "c1", "eth0")
    second_if = run_plugin("ADD", make_conf(), ifname="net1").ok().json
    assert first["ips"][0]["address"] != second_if["ips"][0]["address"]
    assert sorted(allocation_files(state_dir).values()) == ["c1/eth0", "c1/net1"]


def test_add_requested_ips(make_conf: ConfFactory) -> None:
    conf = make_conf(
        ranges=[[{"subnet": "10.9.0.0/24"}], [{"subnet": "fd09::/64"}]],
        runtimeConfig={"ips": ["10.9.0.77/24", "fd09::77"]},
    )
    res = run_plugin("ADD", conf).ok().json
    assert [ip["address"] for ip in res["ips"]] == ["10.9.0.77/24", "fd09::77/64"]
    run_plugin("ADD", conf, container_id="c2").error(102, "10.9.0.77", "c1")
    out_of_range = make_conf(runtimeConfig={"ips": ["172.16.0.1"]})
    run_plugin("ADD", out_of_range, container_id="c3").error(102, "172.16.0.1")
    gateway = make_conf(args={"cni": {"ips": ["10.88.0.1"]}})
    run_plugin("ADD", gateway, container_id="c4").error(102, "gateway")
    via_env = run_plugin("ADD", make_conf(), container_id="c5", args="IP=10.88.0.42").ok().json
    assert via_env["ips"][0]["address"] == "10.88.0.42/24"
    run_plugin("ADD", make_conf(), container_id="c6", args="IP=nope").error(4, "CNI_ARGS")


def test_requested_ip_failure_rolls_back(make_conf: ConfFactory, state_dir: Path) -> None:
    conf = make_conf(ranges=[[{"subnet": "10.9.0.0/24"}], [{"subnet": "fd09::/64"}]])
    run_plugin("ADD", conf, container_id="a", args="IP=fd09::5").ok()
    # Set 0 would allocate first, then set 1's request fails: nothing may remain.
    run_plugin("ADD", conf, container_id="b", args="IP=fd09::5").error(102)
    assert sorted(allocation_files(state_dir, "testnet").values()) == ["a/eth0", "a/eth0"]


# -- DEL ---------------------------------------------------------------------
def test_del_releases_and_is_idempotent(make_conf: ConfFactory, state_dir: Path) -> None:
    run_plugin("ADD", make_conf()).ok()
    run_plugin("ADD", make_conf(), container_id="c2").ok()
    assert len(allocation_files(state_dir)) == 2
    for _ in range(3):
        run = run_plugin("DEL", make_conf()).ok()
        assert run.stdout == ""
        assert list(allocation_files(state_dir).values()) == ["c2/eth0"]


def test_del_unknown_container_and_missing_state_succeed(
    make_conf: ConfFactory, state_dir: Path
) -> None:
    run_plugin("DEL", make_conf(), container_id="never-added").ok()
    assert not state_dir.exists()


def test_del_works_after_ranges_became_invalid(make_conf: ConfFactory, state_dir: Path) -> None:
    run_plugin("ADD", make_conf()).ok()
    broken = make_conf(ranges=[[{"subnet": "garbage"}]])
    run_plugin("DEL", broken).ok()
    assert allocation_files(state_dir) == {}


def test_del_with_prev_result(make_conf: ConfFactory, state_dir: Path) -> None:
    res = run_plugin("ADD", make_conf()).ok().json
    run_plugin("DEL", make_conf(prevResult=res)).ok()
    assert allocation_files(state_dir) == {}


# -- CHECK -------------------------------------------------------------------
def _netns_path(tmp_path: Path) -> str:
    p = tmp_path / "netns"
    p.touch()
    return str(p)


def test_check_after_add(make_conf: ConfFactory, tmp_path: Path) -> None:
    ns = _netns_path(tmp_path)
    res = run_plugin("ADD", make_conf(), netns=ns).ok().json
    run = run_plugin("CHECK", make_conf(prevResult=res), netns=ns).ok()
    assert run.stdout == ""


def test_check_requires_prev_result(make_conf: ConfFactory, tmp_path: Path) -> None:
    ns = _netns_path(tmp_path)
    run_plugin("ADD", make_conf(), netns=ns).ok()
    run_plugin("CHECK", make_conf(), netns=ns).error(7, "prevResult")


@pytest.mark.parametrize("ver", ["0.3.0", "0.3.1"])
def test_check_not_allowed_before_0_4_0(make_conf: ConfFactory, ver: str) -> None:
    run_plugin("CHECK", make_conf(version=ver, prevResult={})).error(1, "CHECK")


def test_check_detects_missing_reservation(make_conf: ConfFactory, tmp_path: Path) -> None:
    ns = _netns_path(tmp_path)
    res = run_plugin("ADD", make_conf(), netns=ns).ok().json
    run_plugin("DEL", make_conf(), netns=ns).ok()
    run_plugin("CHECK", make_conf(prevResult=res), netns=ns).error(101, "no address")


def test_check_detects_mismatched_prev_result(make_conf: ConfFactory, tmp_path: Path) -> None:
    ns = _netns_path(tmp_path)
    res = run_plugin("ADD", make_conf(), netns=ns).ok().json
    wrong = json.loads(json.dumps(res))
    wrong["ips"][0]["address"] = "10.88.0.200/24"
    run_plugin("CHECK", make_conf(prevResult=wrong), netns=ns).error(101, "10.88.0.")
    no_if = dict(res, interfaces=[{"name": "eth9", "sandbox": ns}])
    run_plugin("CHECK", make_conf(prevResult=no_if), netns=ns).error(101, "eth0")


def test_check_missing_netns_is_code_3(make_conf: ConfFactory, tmp_path: Path) -> None:
    ns = str(tmp_path / "gone")
    res = run_plugin("ADD", make_conf(), netns=ns).ok().json
    run_plugin("CHECK", make_conf(prevResult=res), netns=ns).error(3, ns)


# -- STATUS ------------------------------------------------------------------
def test_status_ready(make_conf: ConfFactory) -> None:
    run = run_plugin(
        "STATUS", make_conf(version="1.1.0"), container_id=None, netns=None, ifname=None, path=None
    ).ok()
    assert run.stdout == ""


def test_status_needs_1_1_0(make_conf: ConfFactory) -> None:
    run_plugin("STATUS", make_conf(version="1.0.0")).error(1, "STATUS")


def test_status_full_range_is_code_50(make_conf: ConfFactory) -> None:
    conf = make_conf(version="1.1.0", ranges=[[{"subnet": "10.3.0.0/30"}]])
    run_plugin("ADD", conf).ok()
    run_plugin("STATUS", conf).error(50, "10.3.0.1-10.3.0.2")


def test_status_unusable_state_dir_is_code_50(make_conf: ConfFactory, state_dir: Path) -> None:
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    state_dir.write_text("a file where the state directory should be")
    run_plugin("STATUS", make_conf(version="1.1.0")).error(50)


def test_status_invalid_config_is_code_7(make_conf: ConfFactory) -> None:
    run_plugin("STATUS", make_conf(version="1.1.0", ranges=[[{"subnet": "x"}]])).error(7)


# -- GC ----------------------------------------------------------------------
def _gc_conf(make_conf: ConfFactory, valid: object) -> dict[str, Any]:
    conf = make_conf(version="1.1.0")
    conf["cni.dev/valid-attachments"] = valid
    return conf


def test_gc_removes_only_stale(make_conf: ConfFactory, state_dir: Path) -> None:
    for cid in ("keep", "stale1", "stale2"):
        run_plugin("ADD", make_conf(version="1.1.0"), container_id=cid).ok()
    run_plugin("ADD", make_conf(version="1.1.0"), container_id="keep", ifname="net1").ok()
    valid = [{"containerID": "keep", "ifname": "eth0"}]
    run = run_plugin(
        "GC", _gc_conf(make_conf, valid), container_id=None, ifname=None, netns=None
    ).ok()
    assert run.stdout == ""
    assert list(allocation_files(state_dir).values()) == ["keep/eth0"]


def test_gc_null_list_releases_all(make_conf: ConfFactory, state_dir: Path) -> None:
    run_plugin("ADD", make_conf(version="1.1.0")).ok()
    run_plugin("GC", _gc_conf(make_conf, None)).ok()
    assert allocation_files(state_dir) == {}


def test_gc_without_valid_attachments_is_code_7(make_conf: ConfFactory, state_dir: Path) -> None:
    run_plugin("ADD", make_conf(version="1.1.0")).ok()
    run_plugin("GC", make_conf(version="1.1.0")).error(7, "valid-attachments")
    assert len(allocation_files(state_dir)) == 1
    run_plugin("GC", _gc_conf(make_conf, [{"ifname": "eth0"}])).error(7, "containerID")


def test_gc_needs_1_1_0_and_cni_path(make_conf: ConfFactory) -> None:
    conf = _gc_conf(make_conf, [])
    conf["cniVersion"] = "1.0.0"
    run_plugin("GC", conf).error(1, "GC")
    run_plugin("GC", _gc_conf(make_conf, []), path=None).error(4, "CNI_PATH")


def test_gc_on_missing_state_succeeds(make_conf: ConfFactory, state_dir: Path) -> None:
    run_plugin("GC", _gc_conf(make_conf, [])).ok()
    assert not state_dir.exists()


# -- errors ------------------------------------------------------------------
def test_error_result_uses_config_version(make_conf: ConfFactory) -> None:
    err = run_plugin("ADD", make_conf(version="0.4.0", name="")).error(7)
    assert err["cniVersion"] == "0.4.0"
    assert set(err) <= {"cniVersion", "code", "msg", "details"}


def test_allocation_order_crosses_octets_then_exhausts(make_conf: ConfFactory) -> None:
    conf = make_conf(
        ranges=[[{"subnet": "10.20.0.0/16", "rangeStart": "10.20.5.254", "rangeEnd": "10.20.6.1"}]]
    )
    got = [
        run_plugin("ADD", conf, container_id=f"c{i}").ok().json["ips"][0]["address"]
        for i in range(4)
    ]
    assert got == ["10.20.5.254/16", "10.20.5.255/16", "10.20.6.0/16", "10.20.6.1/16"]
    run_plugin("ADD", conf, container_id="c4").error(100, "10.20.5.254-10.20.6.1")
