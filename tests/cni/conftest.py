"""Fixtures driving sysfake-cni-noop the way a CNI runtime does.

The plugin runs as a subprocess with ``CNI_*`` variables and the config on
stdin: the installed ``sysfake-cni-noop`` console script when there is one,
``python -m sysfake.cni.plugin`` otherwise (``SYSFAKE_CNI_PLUGIN``, a command
line, overrides).
Under ``CI=true`` a missing tool is a failure, elsewhere a skip.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
try:
    import sysfake.cni  # noqa: F401
except ImportError:
    sys.path.insert(0, str(SRC))

from support import missing  # noqa: E402
from sysfake.cni.install import find_entry_point  # noqa: E402


def require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false; under CI=true fail instead."""
    if not condition:
        missing(reason)


def plugin_command() -> list[str]:
    override = os.environ.get("SYSFAKE_CNI_PLUGIN")
    if override:
        return shlex.split(override)
    entry = find_entry_point()
    if entry is not None:
        return [str(entry)]
    return [sys.executable, "-m", "sysfake.cni.plugin"]


def base_env() -> dict[str, str]:
    """A runtime-like environment: PATH, and PYTHONPATH for the source tree."""
    pythonpath = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": pythonpath}


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def ok(self) -> Run:
        assert self.rc == 0, f"rc={self.rc} stdout={self.stdout!r} stderr={self.stderr!r}"
        return self

    def error(self, code: int, *needles: str) -> dict[str, Any]:
        """Assert a spec error result with ``code``; return it."""
        assert self.rc != 0, f"expected failure, got rc=0 stdout={self.stdout!r}"
        err: dict[str, Any] = self.json
        assert isinstance(err, dict), err
        assert isinstance(err.get("cniVersion"), str), err
        assert isinstance(err.get("msg"), str) and err["msg"], err
        assert err.get("code") == code, err
        text = err["msg"] + " " + err.get("details", "")
        for needle in needles:
            assert needle in text, (needle, err)
        return err


def run_plugin(
    command: str,
    config: dict[str, Any] | str | bytes | None,
    *,
    container_id: str | None = "c1",
    netns: str | None = "/var/run/netns/test",
    ifname: str | None = "eth0",
    args: str | None = None,
    path: str | None = "/opt/cni/bin",
    extra_env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Run:
    env = base_env()
    values = {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": netns,
        "CNI_IFNAME": ifname,
        "CNI_ARGS": args,
        "CNI_PATH": path,
    }
    env.update({k: v for k, v in values.items() if v is not None})
    env.update(extra_env or {})
    if isinstance(config, dict):
        data = json.dumps(config).encode()
    elif isinstance(config, str):
        data = config.encode()
    else:
        data = config or b""
    proc = subprocess.run(
        plugin_command(), input=data, env=env, capture_output=True, timeout=timeout, check=False
    )
    return Run(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


ConfFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_conf(state_dir: Path) -> ConfFactory:
    """A plugin config with a host-local style ipam section in ``state_dir``."""

    def make(
        version: str = "1.0.0",
        name: str = "testnet",
        ranges: list[list[dict[str, str]]] | None = None,
        routes: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        ipam: dict[str, Any] = {
            "type": "host-local",
            "dataDir": str(state_dir),
            "ranges": ranges if ranges is not None else [[{"subnet": "10.88.0.0/24"}]],
        }
        if routes is not None:
            ipam["routes"] = routes
        conf: dict[str, Any] = {
            "cniVersion": version,
            "name": name,
            "type": "sysfake-cni-noop",
            "ipam": ipam,
        }
        conf.update(extra)
        return conf

    return make


def allocation_files(state_dir: Path, network: str = "testnet") -> dict[str, str]:
    """address -> 'containerID/ifname' as stored on disk."""
    d = state_dir / network
    out: dict[str, str] = {}
    if not d.is_dir():
        return out
    for p in d.iterdir():
        if p.name[0].isdigit() or ":" in p.name:
            cid, _, ifname = p.read_bytes().decode().partition("\r\n")
            out[p.name] = f"{cid}/{ifname}"
    return out


@pytest.fixture(scope="session")
def cnitool(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The libcni client: $SYSFAKE_CNITOOL, or built by build_cnitool.sh once per session."""
    given = os.environ.get("SYSFAKE_CNITOOL")
    if given:
        require(os.access(given, os.X_OK), f"SYSFAKE_CNITOOL={given} is not executable")
        return given
    require(shutil.which("go") is not None, "go is not installed (apt-get install golang-go)")
    require(
        Path("/usr/share/gocode/src/github.com/containernetworking/cni/libcni").is_dir(),
        "libcni sources missing (apt-get install golang-github-appc-cni-dev)",
    )
    # Not the pytest cache: CI runs with -p no:cacheprovider.
    out = tmp_path_factory.mktemp("sysfake-cnitool")
    proc = subprocess.run(
        ["sh", str(HERE / "build_cnitool.sh"), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"build_cnitool.sh failed:\n{proc.stdout}\n{proc.stderr}"
    return str(out / "cnitool")


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh network namespace, as a runtime creates one; yields its path."""
    require(os.geteuid() == 0, "network namespaces need root")
    require(shutil.which("ip") is not None, "iproute2 'ip' is not installed")
    name = f"sysfake-cni-{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False)
    require(proc.returncode == 0, f"ip netns add failed: {proc.stderr.strip()}")
    try:
        yield f"/run/netns/{name}"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
