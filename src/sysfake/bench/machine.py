"""Facts about the machine a benchmark ran on.

Run as ``python -m sysfake.bench.machine`` it prints the facts as JSON; the
harness does that inside a gVisor sandbox to describe the sandbox itself.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from typing import Any

# gVisor reports this fixed kernel identity (pkg/sentry/fsimpl/proc).
_GVISOR_RELEASE = "4.4.0"
_GVISOR_VERSION_MARK = "#1 SMP Sun Jan 10 15:06:54 PST 2016"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _run(argv: list[str], timeout: float = 20) -> str:
    """stdout+stderr of a command, or "" when it cannot run."""
    try:
        p = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
            stdin=subprocess.DEVNULL, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return p.stdout.decode(errors="replace")


def detect_gvisor(release: str, proc_version: str) -> tuple[bool, list[str]]:
    """Whether we run inside gVisor, with the evidence, without dmesg."""
    evidence: list[str] = []
    if release == _GVISOR_RELEASE:
        evidence.append(f"uname release is {release}")
    if _GVISOR_VERSION_MARK in proc_version:
        evidence.append("/proc/version carries gVisor's fixed build string")
    # gVisor's procfs has no /proc/self/ns/mnt (no mount namespaces) and its
    # cpuinfo model name is "unknown".
    if not os.path.exists("/proc/self/ns/mnt") and os.path.exists("/proc/self"):
        evidence.append("/proc/self/ns/mnt is missing")
    if "model name\t: unknown" in _read("/proc/cpuinfo"):
        evidence.append('/proc/cpuinfo model name is "unknown"')
    return (release == _GVISOR_RELEASE and len(evidence) >= 2), evidence


def cpu_model() -> str:
    m = re.search(r"^model name\s*:\s*(.+)$", _read("/proc/cpuinfo"), re.M)
    return m.group(1).strip() if m else platform.processor() or "unknown"


def proot_info(proot: str | None = None) -> dict[str, Any]:
    """A PRoot's version and the accelerators it was built with (`proot
    --version`: process_vm and seccomp_filter)."""
    exe = proot or shutil.which("proot")
    if not exe:
        return {"installed": False}
    out = _run([exe, "--version"])
    info: dict[str, Any] = {"installed": True, "path": exe}
    # the version ends the ASCII-art banner ("|____| 5.1.0"); a build from a
    # tarball without git history prints "-" there
    m = re.search(r"\|____\|\s+(\S+)", out) or re.search(r"\bv?(\d+\.\d+\.\d+)\b", out)
    if m and re.match(r"v?\d", m.group(1)):
        info["version"] = m.group(1).lstrip("v")
    else:
        info["version"] = None
    accel = dict(re.findall(r"\b(process_vm|seccomp_filter)\s*=\s*(\w+)", out))
    if accel:
        info["accelerators"] = {k: v == "yes" for k, v in accel.items()}
    if "seccomp_filter" in accel:
        info["seccomp_accelerator"] = accel["seccomp_filter"] == "yes"
        info["evidence"] = f"`proot --version`: seccomp_filter = {accel['seccomp_filter']}"
    else:
        try:
            with open(exe, "rb") as f:
                blob = f.read()
        except OSError:
            blob = b""
        info["seccomp_accelerator"] = b"PROOT_NO_SECCOMP" in blob
        info["evidence"] = "PROOT_NO_SECCOMP string in the binary"
    real = os.path.realpath(exe)
    if real.startswith("/usr/"):  # a packaged proot: which package version
        dpkg = _run(["dpkg-query", "-W", "-f", "${Version}", "proot"]).strip()
        if dpkg and "no packages found" not in dpkg:
            info["debian_package"] = dpkg
    return info


def describe_proot(info: dict[str, Any]) -> str:
    """One line: "PRoot 5.4.0 (process_vm=yes, seccomp_filter=yes)"."""
    if not info.get("installed"):
        return "PRoot (not installed)"
    acc = info.get("accelerators") or {}
    flags = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in acc.items())
    if not flags:
        flags = f"seccomp_filter={'yes' if info.get('seccomp_accelerator') else 'no'}"
    return f"PRoot {info.get('version') or '(version unknown)'} ({flags})"


def process_vm_works() -> bool:
    """Whether process_vm_readv works here (gVisor does not implement it; tracers
    such as PRoot then fall back to PTRACE_PEEKDATA word by word)."""
    import ctypes

    class _Iov(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.process_vm_readv
    except (OSError, AttributeError):
        return False
    fn.restype = ctypes.c_ssize_t
    src = ctypes.create_string_buffer(b"sysfake", 8)
    dst = ctypes.create_string_buffer(8)
    local = _Iov(ctypes.cast(dst, ctypes.c_void_p), 8)
    remote = _Iov(ctypes.cast(src, ctypes.c_void_p), 8)
    n = fn(os.getpid(), ctypes.byref(local), ctypes.c_ulong(1), ctypes.byref(remote),
           ctypes.c_ulong(1), ctypes.c_ulong(0))
    return bool(n == 8 and dst.raw == src.raw)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def tool_versions() -> dict[str, str]:
    tools: dict[str, str] = {}
    probes = {
        "strace": ["strace", "-V"],
        "runsc": ["runsc", "--version"],
        "go": ["go", "version"],
        "cc": ["cc", "--version"],
        "taskset": ["taskset", "--version"],
    }
    for name, argv in probes.items():
        if shutil.which(argv[0]):
            tools[name] = _first_line(_run(argv))
    return tools


def sysfake_info() -> dict[str, Any]:
    """The sysfake under test: its version and, from a checkout, the commit
    and whether the tree had uncommitted changes to the core or the package."""
    info: dict[str, Any] = {}
    try:
        import importlib.util

        spec = importlib.util.find_spec("sysfake")
        origin = spec.origin if spec else None
    except (ImportError, ValueError):
        origin = None
    if not origin:
        return info
    pkg = os.path.dirname(origin)
    info["package_dir"] = pkg
    head = _run(["git", "-C", pkg, "rev-parse", "HEAD"]).strip()
    if re.fullmatch(r"[0-9a-f]{40}", head):
        info["git_head"] = head
        top = _run(["git", "-C", pkg, "rev-parse", "--show-toplevel"]).strip()
        dirty = _run(["git", "-C", top, "status", "--porcelain", "--", "csrc", "src/sysfake"])
        info["git_dirty_files"] = len([ln for ln in dirty.splitlines() if ln.strip()])
    return info


def python_startup(runs: int = 7) -> dict[str, float]:
    """Median seconds for this interpreter to run nothing, with and without
    `site` (-S): how much of `sysfake run`'s start-up is Python's own, and
    how much of that the site packages' .pth hooks take."""
    import statistics
    import time

    out: dict[str, float] = {}
    for key, argv in (("python_startup_s", [sys.executable, "-c", "pass"]),
                      ("python_startup_nosite_s", [sys.executable, "-S", "-c", "pass"])):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
            times.append(time.perf_counter() - t0)
        out[key] = round(statistics.median(times), 4)
    return out


def tracer_cost(exe: str | None, cpu: int | None = None) -> dict[str, Any] | None:
    """What one tracer syscall costs here (µs per one-word read of a stopped
    tracee, by each mechanism; null where it fails), and one call handed to a
    supervisor: bench/csrc/tracer_cost.c, pinned to `cpu` as the runs are."""
    if not exe:
        return None
    out = _run([exe, "2000", *([str(cpu)] if cpu is not None else [])], timeout=60)
    try:
        data: dict[str, Any] = json.loads(out)
    except ValueError:
        return {"error": out[-200:] or "no output"}
    return data


def collect(proots: dict[str, str] | None = None,
            cost_exe: str | None = None, cpu: int | None = None) -> dict[str, Any]:
    """The facts; ``proots`` maps each PRoot contender to its binary, whose
    version and accelerators go under "proots" ("proot" is the one on PATH);
    ``cost_exe`` is the compiled tracer_cost probe, run on ``cpu`` if given."""
    u = os.uname()
    proc_version = _read("/proc/version").strip()
    in_gvisor, evidence = detect_gvisor(u.release, proc_version)
    try:
        affinity = len(os.sched_getaffinity(0))
    except OSError:
        affinity = os.cpu_count() or 0
    mem = re.search(r"^MemTotal:\s*(\d+)", _read("/proc/meminfo"), re.M)
    load = _read("/proc/loadavg").split()[:3]
    return {
        "hostname": u.nodename,
        "cores": os.cpu_count(),
        "cores_in_affinity": affinity,
        "kernel_release": u.release,
        "kernel_version": u.version,
        "proc_version": proc_version,
        "machine": u.machine,
        "cpu_model": cpu_model(),
        "mem_total_kib": int(mem.group(1)) if mem else None,
        "in_gvisor": in_gvisor,
        "gvisor_evidence": evidence,
        "loadavg": [float(x) for x in load] if load else [],
        "python": sys.version.split()[0],
        "tools": tool_versions(),
        "process_vm_readv": process_vm_works(),
        "tracer_syscall_us": tracer_cost(cost_exe, cpu),
        "proot": proot_info(),
        "proots": {name: proot_info(exe) for name, exe in (proots or {}).items()},
        "sysfake": sysfake_info(),
        **python_startup(),
    }


def loadavg() -> list[float]:
    return [float(x) for x in _read("/proc/loadavg").split()[:3]]


def main(argv: list[str] | None = None) -> int:
    """Arguments: NAME=PATH for each PRoot contender; --tracer-cost=PATH."""
    args = sys.argv[1:] if argv is None else argv
    cost = next((a.split("=", 1)[1] for a in args if a.startswith("--tracer-cost=")), None)
    proots = dict(a.split("=", 1) for a in args if "=" in a and not a.startswith("--"))
    json.dump(collect(proots, cost), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
