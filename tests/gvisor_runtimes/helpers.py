"""Building blocks for the container-runtime acceptance tests in gVisor (issue 5).

* `make_bundle`: a busybox-static OCI bundle (rootfs with /bin/busybox and the
  applet links, config.json from `runc spec`, edited the way a user would);
* `containerd_config`: a containerd config with the CRI plugin disabled and
  every path in one private directory;
* `Scenario` scripts: `runc_script`, `crun_script`, `ctr_script`,
  `negative_runc_script`, each a whole shell script run in ONE fresh
  `runsc --platform=ptrace --network=none do`;
* `run_scenario`: runs such a script, returns a `Result` with the exit
  status, the whole output and the sections the script marked.

The script writes what the tests assert on as marked sections, so a runtime's
warnings on stderr cannot be confused with the container's output:

    @@stdout@@        the runtime's (and so the container's) stdout
    @@stderr@@        its stderr (sysfake's own messages included)
    @@rc=N@@          its exit status (124: the inner `timeout` stopped it)

runsc quirks (shared/docs/gvisor-runtime-findings.md): runsc makes the
shared stdout O_NONBLOCK, so everything goes to a file opened with O_APPEND
and is read afterwards; files the sandbox writes stay in its overlay, so the
script prints what the test needs.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
REPO = TESTS.parent
if str(TESTS) not in sys.path:  # run as a script (investigate.py)
    sys.path.insert(0, str(TESTS))

from support.runner import CMD_ENV, child_env  # noqa: E402

RUNSC_ARGS = ("--platform=ptrace", "--network=none")
CAP = "/proc/sys/kernel/cap_last_cap"
CAP_VALUE = "40\n"

#: How long one runtime invocation (`sysfake run -- runc run ...`) may take
#: inside the sandbox before the inner `timeout` stops it (issue 5: 20 s).
RUNTIME_LIMIT = 20.0
#: containerd start-up (socket wait) plus `ctr run`.
CONTAINERD_LIMIT = 60.0
#: The whole sandbox (start-up, Python import, the scenario).
SANDBOX_LIMIT = 150.0

#: Tools each scenario needs on the host (found with shutil.which).
TOOLS: dict[str, tuple[str, ...]] = {
    "runc": ("runsc", "timeout", "runc", "busybox"),
    "runc-limits": ("runsc", "timeout", "runc", "busybox"),
    "crun": ("runsc", "timeout", "crun", "runc", "busybox"),
    "ctr": ("runsc", "timeout", "containerd", "ctr", "containerd-shim-runc-v2", "runc",
            "busybox"),
    "ctr-exit7": ("runsc", "timeout", "containerd", "ctr", "containerd-shim-runc-v2", "runc",
                  "busybox"),
    "ctr-crun": ("runsc", "timeout", "containerd", "ctr", "containerd-shim-runc-v2", "crun",
                 "runc", "busybox"),
    "negative-runc": ("runsc", "timeout", "runc", "busybox"),
}

#: The limits of acceptance item 2 (cpu, pids, memory). The cpu shares value
#: is shorter than the fake file's "1024", which catches a missing O_TRUNC.
LIMITS: dict[str, Any] = {
    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
    "pids": {"limit": 64},
    "memory": {"limit": 64 * 1024 * 1024},
}


# ---------------------------------------------------------------- sysfake command

def sysfake_argv() -> list[str]:
    """How to start sysfake inside the sandbox: SYSFAKE_TEST_CMD, else this
    interpreter's `-m sysfake` (absolute, so PATH inside runsc does not matter)."""
    prefix = shlex.split(os.environ.get(CMD_ENV, ""))
    return prefix or [sys.executable, "-m", "sysfake"]


def sysfake_run(options: Sequence[str] = ()) -> str:
    """Shell words for `sysfake run [OPTIONS] --` (the command follows)."""
    return shlex.join([*sysfake_argv(), "run", *options, "--"])


# ---------------------------------------------------------------- OCI bundle

def make_rootfs(rootfs: Path, busybox: str) -> Path:
    """A rootfs with /bin/busybox (static) and links for cat, sh, echo, true."""
    (rootfs / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(os.path.realpath(busybox), rootfs / "bin" / "busybox")
    for applet in ("cat", "sh", "echo", "true", "sleep", "ls"):
        link = rootfs / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        (rootfs / d).mkdir(exist_ok=True)
    return rootfs


def make_bundle(bundle: Path, busybox: str, args: Sequence[str], *,
                limits: Mapping[str, Any] | None = None, runc: str = "runc") -> Path:
    """A busybox-static OCI bundle in `bundle` whose process runs `args`.

    config.json comes from `runc spec` (the default namespaces, mounts,
    capabilities, masked and read-only paths a user would get), then: the
    args, no terminal, a writable root, and optional `linux.resources` limits.
    """
    bundle.mkdir(parents=True, exist_ok=True)
    make_rootfs(bundle / "rootfs", busybox)
    cfg = bundle / "config.json"
    if cfg.exists():
        cfg.unlink()
    subprocess.run([runc, "spec"], cwd=bundle, check=True, stdin=subprocess.DEVNULL,
                   capture_output=True)
    spec = json.loads(cfg.read_text())
    spec["process"]["args"] = list(args)
    spec["process"]["terminal"] = False
    spec["root"]["readonly"] = False
    if limits:
        res = spec["linux"].setdefault("resources", {})
        for k, v in limits.items():
            res[k] = v
    cfg.write_text(json.dumps(spec, indent=2) + "\n")
    return bundle


# ---------------------------------------------------------------- containerd

@dataclass
class Containerd:
    config: Path
    socket: str  # the gRPC socket path (inside the sandbox)
    base: str  # directory holding root, state and the sockets (created in the sandbox)


def containerd_config(dest: Path) -> Containerd:
    """A containerd config (CRI plugin disabled) writing only below a short
    private directory. Paths stay short: a unix socket path has 108 bytes."""
    base = f"/tmp/sfk-ctd-{uuid.uuid4().hex[:8]}"
    sock = f"{base}/containerd.sock"
    text = f"""version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[debug]
  level = "info"

[plugins."io.containerd.runtime.v1.linux"]
  shim_debug = false
"""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    return Containerd(dest, sock, base)


def ctr_words(ctd: Containerd, rootfs: Path, cid: str, args: Sequence[str],
              runc_binary: str | None = None) -> str:
    """`ctr --address SOCK run [--runc-binary B] --rootfs DIR CID ARGS...`.

    `--rootfs` is a boolean flag (DIR is the first positional argument) and
    ctr stops reading flags at the first positional one, so every flag comes
    before it."""
    argv = ["ctr", "--address", ctd.socket, "run"]
    if runc_binary:
        argv += ["--runc-binary", runc_binary]
    return shlex.join([*argv, "--rootfs", str(rootfs), cid, *args])


# ---------------------------------------------------------------- scripts

_SECTIONS = """\
echo @@stdout@@; cat "$T/out"
echo @@stderr@@; cat "$T/err"
echo "@@rc=$rc@@"
"""


def _measured(command: str, limit: float) -> str:
    """Run `command` with stdout/stderr to files, bounded by `timeout -k 5 LIMIT`,
    then print the marked sections."""
    return (f"timeout -k 5 {limit:g} {command} >\"$T/out\" 2>\"$T/err\" </dev/null\n"
            "rc=$?\n" + _SECTIONS)


def _prologue() -> str:
    return "T=$(mktemp -d /tmp/sfk-scenario.XXXXXX)\n"


def measured_script(command: str, cwd: Path, limit: float, before: str = "") -> str:
    """A whole scenario: the shell lines `before` (unmeasured), then `command`
    in `cwd`, bounded and reported in marked sections."""
    return (_prologue() + before + f"cd {shlex.quote(str(cwd))} || exit 99\n"
            + _measured(command, limit))


def runtime_script(runtime: str, bundle: Path, root: str, cid: str, *,
                   sysfake: str | None, limit: float = RUNTIME_LIMIT, before: str = "") -> str:
    """`[sysfake run OPTIONS --] RUNTIME --root ROOT run CID` in the bundle,
    after the shell lines `before` (unmeasured)."""
    cmd = f"{runtime} --root {shlex.quote(root)} run {shlex.quote(cid)}"
    if sysfake is not None:
        cmd = f"{sysfake} {cmd}"
    return measured_script(cmd, bundle, limit, before)


def ctr_script(ctd: Containerd, rootfs: Path, args: Sequence[str], *, sysfake: str,
               runc_binary: str | None = None, cid: str = "c1",
               limit: float = CONTAINERD_LIMIT, leave_containerd: bool = False) -> str:
    """containerd and `ctr run` under ONE sysfake: an inner shell starts
    containerd, waits for its socket, runs ctr, stops containerd (unless
    `leave_containerd`: then sysfake has to end it) and exits with ctr's
    status. containerd's log goes to a section of its own."""
    stop = "" if leave_containerd else "kill $cpid 2>/dev/null\nwait $cpid 2>/dev/null\n"
    inner = f"""mkdir -p {ctd.base}
containerd -c {shlex.quote(str(ctd.config))} >"$T/containerd.log" 2>&1 &
cpid=$!
i=0
while [ ! -S {ctd.socket} ]; do
  i=$((i+1))
  if [ $i -gt 300 ] || ! kill -0 $cpid 2>/dev/null; then
    echo "containerd did not create {ctd.socket}" >&2; kill $cpid 2>/dev/null; exit 98
  fi
  sleep 0.1
done
{ctr_words(ctd, rootfs, cid, args, runc_binary)}
crc=$?
{stop}exit $crc
"""
    cmd = f"{sysfake} sh -c {shlex.quote(inner)}"
    return (_prologue() + "export T\n" + _measured(cmd, limit)
            + "echo @@containerd@@; cat \"$T/containerd.log\" 2>/dev/null\n")


# ---------------------------------------------------------------- running

@dataclass
class Result:
    """A finished scenario."""

    status: int  # runsc's exit status (124: the outer timeout fired)
    output: str  # everything the sandbox printed
    script: str = ""
    sections: dict[str, str] = field(default_factory=dict)

    @property
    def rc(self) -> int | None:
        """The runtime's exit status, None if the script never got there."""
        m = re.search(r"^@@rc=(-?\d+)@@$", self.output, re.M)
        return int(m.group(1)) if m else None

    @property
    def stdout(self) -> str | None:
        return self.sections.get("stdout")

    @property
    def stderr(self) -> str:
        return self.sections.get("stderr", "")

    def describe(self) -> str:
        return (f"\n--- runsc exit status: {self.status}"
                f"\n--- scenario script:\n{self.script}"
                f"\n--- sandbox output:\n{self.output}")


def parse_sections(output: str) -> dict[str, str]:
    """The marked sections of a scenario's output (@@name@@ lines)."""
    out: dict[str, str] = {}
    name: str | None = None
    for line in output.splitlines(keepends=True):
        m = re.fullmatch(r"@@([a-z]+)@@\n?", line)
        if m:
            name = m.group(1)
            out[name] = ""
        elif re.fullmatch(r"@@rc=-?\d+@@\n?", line):
            name = None
        elif name is not None:
            out[name] += line
    return out


def run_scenario(script: str, *, timeout: float = SANDBOX_LIMIT,
                 env: Mapping[str, str] | None = None, runsc: str = "runsc") -> Result:
    """Run `script` with sh in ONE fresh `runsc --platform=ptrace --network=none do`,
    bounded by `timeout -k 5 TIMEOUT`; output through a file opened with O_APPEND."""
    with tempfile.TemporaryDirectory(prefix="sysfake-rt-") as tmp:
        sfile = Path(tmp) / "scenario.sh"
        sfile.write_text(script)
        out = Path(tmp) / "output"
        argv = ["timeout", "-k", "5", f"{timeout:g}", runsc, *RUNSC_ARGS, "do",
                "sh", str(sfile)]
        with open(out, "ab") as f:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                  env=child_env(env), timeout=timeout + 30, check=False)
        text = out.read_text(errors="replace")
    return Result(proc.returncode, text, script, parse_sections(text))


# ---------------------------------------------------------------- named scenarios

#: Scenario name -> what it runs (for investigate.py and the tests' ids).
SCENARIOS: dict[str, str] = {
    "runc": "sysfake run -- runc --root R run ID (bundle: cat cap_last_cap)",
    "runc-limits": "the same with cpu, pids and memory limits in config.json",
    "crun": "sysfake run -- crun --root R run ID",
    "ctr": "containerd + ctr run --rootfs DIR c1 cat cap_last_cap, under one sysfake",
    "ctr-exit7": "containerd + ctr run ... sh -c 'cat cap_last_cap; exit 7'",
    "ctr-crun": "containerd + ctr run --runc-binary crun ...",
    "negative-runc": "runc run without sysfake (expect: no cgroup mount found in mountinfo)",
}

EXIT7_ARGS = ("/bin/sh", "-c", f"cat {CAP}; exit 7")


def scenario_script(name: str, work: Path, busybox: str,
                    sysfake_options: Sequence[str] = (), compiled: bool = False) -> str:
    """The whole sandbox script of a named scenario; files go below `work`.
    `compiled`: runtime scenarios compile the gvisor profile in the sandbox
    first and run under `DIR/sysfake-exec` instead of `sysfake run`."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    sf = sysfake_run(sysfake_options)
    before = ""
    if compiled:
        out = work / "compiled"
        before = (shlex.join([*sysfake_argv(), "compile", "--profile", "gvisor", "-o", str(out)])
                  + " >/dev/null || exit 97\n")
        sf = shlex.join([str(out / "sysfake-exec"), "--"])
    cat = ("/bin/cat", CAP)
    if name in ("runc", "runc-limits", "crun", "negative-runc"):
        limits = LIMITS if name == "runc-limits" else None
        bundle = make_bundle(work / "bundle", busybox, ["cat", CAP], limits=limits)
        runtime = "crun" if name == "crun" else "runc"
        return runtime_script(runtime, bundle, str(work / "state"), "t1",
                              sysfake=None if name == "negative-runc" else sf, before=before)
    rootfs = make_rootfs(work / "rootfs", busybox)
    ctd = containerd_config(work / "containerd.toml")
    args = EXIT7_ARGS if name == "ctr-exit7" else cat
    return ctr_script(ctd, rootfs, args, sysfake=sf,
                      runc_binary="crun" if name == "ctr-crun" else None)
