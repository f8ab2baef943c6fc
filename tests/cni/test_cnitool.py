"""The plugin under a real CNI runtime: libcni (tests/cni/cnitool) in real netns."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sysfake.cni.install import install

from .conftest import allocation_files, base_env, require

TUNING = "/usr/lib/cni/tuning"


@pytest.fixture
def cni_bin(tmp_path: Path) -> Path:
    """A CNI bin dir holding the plugin under the type name 'noop'."""
    bin_dir = tmp_path / "bin"
    install(str(bin_dir), name="noop")
    return bin_dir


def cnitool_run(
    tool: str,
    bin_dir: Path,
    tmp_path: Path,
    *args: str,
    container_id: str = "ctr1",
    ifname: str = "eth0",
) -> subprocess.CompletedProcess[str]:
    env = base_env()
    env.update(
        CNI_PATH=str(bin_dir),
        CNI_CACHE_DIR=str(tmp_path / "cache"),
        CNI_CONTAINERID=container_id,
        CNI_IFNAME=ifname,
    )
    return subprocess.run(
        [tool, *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )


def write_conflist(
    tmp_path: Path, plugins: list[dict[str, Any]], version: str = "1.0.0", **extra: Any
) -> str:
    path = tmp_path / "net.conflist"
    path.write_text(
        json.dumps({"cniVersion": version, "name": "podnet", "plugins": plugins, **extra})
    )
    return str(path)


def noop_plugin(state: Path, subnet: str = "10.42.0.0/24") -> dict[str, Any]:
    return {
        "type": "noop",
        "ipam": {
            "type": "host-local",
            "dataDir": str(state),
            "ranges": [[{"subnet": subnet}]],
            "routes": [{"dst": "0.0.0.0/0"}],
        },
    }


def ns_exec(netns: str, *cmd: str) -> str:
    name = os.path.basename(netns)
    return subprocess.run(
        ["ip", "netns", "exec", name, *cmd], capture_output=True, text=True, check=True
    ).stdout


def test_libcni_version_and_validate(cnitool: str, cni_bin: Path, tmp_path: Path) -> None:
    out = cnitool_run(cnitool, cni_bin, tmp_path, "version", "noop")
    assert out.returncode == 0, out.stderr
    assert "1.0.0" in json.loads(out.stdout)["supportedVersions"]
    conf = write_conflist(tmp_path, [noop_plugin(tmp_path / "state")])
    out = cnitool_run(cnitool, cni_bin, tmp_path, "validate", conf)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0"])
def test_add_check_del_in_netns(
    cnitool: str, cni_bin: Path, tmp_path: Path, netns: str, version: str
) -> None:
    state = tmp_path / "state"
    conf = write_conflist(tmp_path, [noop_plugin(state)], version=version)
    add = cnitool_run(cnitool, cni_bin, tmp_path, "add", conf, netns)
    assert add.returncode == 0, add.stdout + add.stderr
    res = json.loads(add.stdout)
    assert res["cniVersion"] == version
    assert res["interfaces"] == [{"name": "eth0", "sandbox": netns}]
    assert res["ips"][0]["address"] == "10.42.0.2/24"
    assert res["ips"][0]["gateway"] == "10.42.0.1"
    assert allocation_files(state, "podnet") == {"10.42.0.2": "ctr1/eth0"}
    check = cnitool_run(cnitool, cni_bin, tmp_path, "check", conf, netns)
    if version == "0.3.1":
        assert check.returncode != 0  # libcni refuses CHECK before 0.4.0
    else:
        assert check.returncode == 0, check.stdout + check.stderr
    # Nothing was configured inside the namespace: only loopback exists.
    links = ns_exec(netns, "ip", "-o", "link", "show")
    assert "eth0" not in links and "lo" in links
    for _ in range(2):  # DEL is idempotent through libcni too
        delete = cnitool_run(cnitool, cni_bin, tmp_path, "del", conf, netns)
        assert delete.returncode == 0, delete.stdout + delete.stderr
    assert allocation_files(state, "podnet") == {}


def test_check_fails_through_libcni_when_lease_lost(
    cnitool: str, cni_bin: Path, tmp_path: Path, netns: str
) -> None:
    state = tmp_path / "state"
    conf = write_conflist(tmp_path, [noop_plugin(state)])
    assert cnitool_run(cnitool, cni_bin, tmp_path, "add", conf, netns).returncode == 0
    (state / "podnet" / "10.42.0.2").unlink()
    check = cnitool_run(cnitool, cni_bin, tmp_path, "check", conf, netns)
    assert check.returncode != 0
    assert json.loads(check.stdout)["code"] == 101


def test_add_error_reaches_libcni(cnitool: str, cni_bin: Path, tmp_path: Path, netns: str) -> None:
    conf = write_conflist(tmp_path, [noop_plugin(tmp_path / "state", subnet="10.42.0.0/31")])
    add = cnitool_run(cnitool, cni_bin, tmp_path, "add", conf, netns)
    assert add.returncode != 0
    err = json.loads(add.stdout)
    assert err["code"] == 7 and "too small" in err["details"]


def test_two_noop_plugins_chained_dual_stack(
    cnitool: str, cni_bin: Path, tmp_path: Path, netns: str
) -> None:
    v4 = noop_plugin(tmp_path / "state4", "10.43.0.0/24")
    v6 = noop_plugin(tmp_path / "state6", "fd43::/64")
    v6["ipam"]["routes"] = [{"dst": "::/0"}]
    conf = write_conflist(tmp_path, [v4, v6])
    add = cnitool_run(cnitool, cni_bin, tmp_path, "add", conf, netns)
    assert add.returncode == 0, add.stdout + add.stderr
    res = json.loads(add.stdout)
    assert res["interfaces"] == [{"name": "eth0", "sandbox": netns}]
    assert [ip["address"] for ip in res["ips"]] == ["10.43.0.2/24", "fd43::2/64"]
    assert all(ip["interface"] == 0 for ip in res["ips"])
    assert res["routes"] == [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]
    check = cnitool_run(cnitool, cni_bin, tmp_path, "check", conf, netns)
    assert check.returncode == 0, check.stdout + check.stderr
    delete = cnitool_run(cnitool, cni_bin, tmp_path, "del", conf, netns)
    assert delete.returncode == 0, delete.stdout + delete.stderr
    assert allocation_files(tmp_path / "state4", "podnet") == {}
    assert allocation_files(tmp_path / "state6", "podnet") == {}


def test_chained_with_tuning_sysctl(
    cnitool: str, cni_bin: Path, tmp_path: Path, netns: str
) -> None:
    """Debian's tuning plugin after the noop one sets a per-netns sysctl.

    tuning's CHECK looks up the (non-existent) eth0 link, so such a chain
    needs "disableCheck": true -- the spec's switch for exactly this case.
    """
    require(
        os.access(TUNING, os.X_OK),
        f"{TUNING} missing (apt-get install containernetworking-plugins)",
    )
    os.symlink(TUNING, cni_bin / "tuning")
    state = tmp_path / "state"
    conf = write_conflist(
        tmp_path,
        [noop_plugin(state), {"type": "tuning", "sysctl": {"net.core.somaxconn": "777"}}],
        disableCheck=True,
    )
    host_value = Path("/proc/sys/net/core/somaxconn").read_text().strip()
    add = cnitool_run(cnitool, cni_bin, tmp_path, "add", conf, netns, container_id="tuned")
    assert add.returncode == 0, add.stdout + add.stderr
    res = json.loads(add.stdout)
    assert res["ips"][0]["address"] == "10.42.0.2/24"
    assert ns_exec(netns, "cat", "/proc/sys/net/core/somaxconn").strip() == "777"
    assert Path("/proc/sys/net/core/somaxconn").read_text().strip() == host_value
    check = cnitool_run(cnitool, cni_bin, tmp_path, "check", conf, netns, container_id="tuned")
    assert check.returncode == 0, check.stdout + check.stderr
    delete = cnitool_run(cnitool, cni_bin, tmp_path, "del", conf, netns, container_id="tuned")
    assert delete.returncode == 0, delete.stdout + delete.stderr
    assert allocation_files(state, "podnet") == {}


def test_concurrent_pods_through_libcni(cnitool: str, cni_bin: Path, tmp_path: Path) -> None:
    """Ten runtimes ADD at once (netns paths need not exist for ADD)."""
    from concurrent.futures import ThreadPoolExecutor

    state = tmp_path / "state"
    conf = write_conflist(tmp_path, [noop_plugin(state)])

    def add(i: int) -> str:
        out = cnitool_run(
            cnitool, cni_bin, tmp_path, "add", conf, f"/run/netns/fake{i}", container_id=f"pod{i}"
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return str(json.loads(out.stdout)["ips"][0]["address"])

    with ThreadPoolExecutor(max_workers=10) as pool:
        addrs = list(pool.map(add, range(10)))
    assert len(set(addrs)) == 10
