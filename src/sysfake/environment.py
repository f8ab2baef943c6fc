"""What kind of kernel sysfake runs on, what it lacks, and which profile fits.

Two entry points:

* `detect_profile()` is cheap (a few small file reads and `uname`, no
  processes): `sysfake run` calls it to pick the default profile when the
  user gave no rules.
* `doctor_report()` runs every probe (the core's ptrace probe and small
  throwaway helper processes) and returns printable lines, whether sysfake
  can work here, and the profile it would pick.

gVisor detection never relies on one signal (a container can fake any single
one of them). `gvisor_signals()` collects independent observations and
gVisor is assumed when at least `GVISOR_MIN_SIGNALS` of them hold, one of
which must be the identity of the kernel itself (uname or /proc/version):

1. ``uname``: release ``4.4.0`` and version ``#1 SMP Sun Jan 10 15:06:54 PST
   2016`` (gVisor's fixed, made-up kernel identity);
2. ``/proc/version`` says the same (read from procfs, not from the libc);
3. ``/proc/self/status`` has no ``NSpid:`` line (Linux has it since 4.1);
4. ``/proc/sys/kernel/cap_last_cap`` is missing (Linux has it since 3.2);
5. ``/proc/self/ns/mnt`` is missing (gVisor has no mount namespaces; it
   only lists net, pid and user);
6. ``/proc/self/mountinfo`` has a root mount of type ``overlay`` or ``9p``
   with source ``none`` and no cgroup mounts at all.

None of these reads dmesg or needs privileges. See
shared/docs/gvisor-runtime-findings.md for the behaviour behind each.
"""
from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable

from .datatype import datatype, field

GVISOR_RELEASE = "4.4.0"
GVISOR_VERSION = "#1 SMP Sun Jan 10 15:06:54 PST 2016"
GVISOR_MIN_SIGNALS = 3

DEFAULT_PROFILE = "minimal"
GVISOR_PROFILE = "gvisor"

#: /proc/sys files container runtimes and Kubernetes read (docs/k3s.md).
PROC_SYS_FILES = (
    "kernel/cap_last_cap",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "kernel/panic",
    "kernel/panic_on_oops",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "net/ipv4/conf/all/route_localnet",
    "net/ipv4/conf/all/forwarding",
    "net/bridge/bridge-nf-call-iptables",
    "net/netfilter/nf_conntrack_max",
)
PROC_SELF_FILES = ("setgroups", "cgroup", "mountinfo", "uid_map")

HELPER_TIMEOUT = 10.0


@datatype(frozen=True)
class Signal:
    """One observation for (or against) gVisor."""

    name: str
    present: bool
    detail: str
    identity: bool = False  # about the kernel's own identity (uname, /proc/version)


@datatype(frozen=True)
class Check:
    """One thing this environment has or lacks; `fix` says what covers a lack."""

    name: str
    ok: bool | None  # None: could not be checked here
    detail: str
    fix: str = ""


@datatype
class Report:
    gvisor: bool
    signals: list[Signal]
    profile: str
    tracing_ok: bool
    tracing_error: str
    mechanisms: dict[str, bool] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)


# ---------------------------------------------------------------- small readers

def _read(path: str, limit: int = 1 << 16) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def _exists(path: str) -> bool:
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def _errname(err: int) -> str:
    return errno.errorcode.get(err, str(err)) if err else "ok"


# ---------------------------------------------------------------- gVisor detection

def gvisor_signals() -> list[Signal]:
    """The independent observations listed in the module docstring."""
    out: list[Signal] = []
    u = os.uname()
    out.append(Signal("uname", u.release == GVISOR_RELEASE and u.version == GVISOR_VERSION,
                      f"release {u.release}, version {u.version}", identity=True))
    ver = _read("/proc/version") or ""
    out.append(Signal("/proc/version", GVISOR_RELEASE in ver and GVISOR_VERSION in ver,
                      ver.strip() or "unreadable", identity=True))
    status = _read("/proc/self/status")
    if status is not None:
        has = any(line.startswith("NSpid:") for line in status.splitlines())
        out.append(Signal("NSpid", not has, "present in /proc/self/status" if has
                          else "missing from /proc/self/status"))
    cap = _exists("/proc/sys/kernel/cap_last_cap")
    out.append(Signal("cap_last_cap", not cap,
                      "present" if cap else "/proc/sys/kernel/cap_last_cap missing"))
    if _exists("/proc/self/ns"):
        mnt = _exists("/proc/self/ns/mnt") or os.path.islink("/proc/self/ns/mnt")
        out.append(Signal("mount namespace", not mnt,
                          "/proc/self/ns/mnt present" if mnt else "/proc/self/ns/mnt missing"))
    mi = _read("/proc/self/mountinfo")
    if mi is not None:
        root_fs = ""
        cgroups = 0
        for line in mi.splitlines():
            parts = line.split(" - ", 1)
            head, tail = parts[0].split(), (parts[1].split() if len(parts) > 1 else [])
            if len(head) >= 5 and head[4] == "/" and len(tail) >= 2:
                root_fs = f"{tail[0]} {tail[1]}"
            if tail and tail[0] in ("cgroup", "cgroup2"):
                cgroups += 1
        odd = root_fs in ("overlay none", "9p none") and cgroups == 0
        out.append(Signal("mountinfo", odd, f"root {root_fs or '?'}, {cgroups} cgroup mounts"))
    return out


def is_gvisor(signals: list[Signal] | None = None) -> bool:
    sig = gvisor_signals() if signals is None else signals
    hits = [s for s in sig if s.present]
    return len(hits) >= GVISOR_MIN_SIGNALS and any(s.identity for s in hits)


def detect_profile() -> str:
    """The default profile for `sysfake run`: gvisor when detected, else minimal."""
    return GVISOR_PROFILE if is_gvisor() else DEFAULT_PROFILE


# ---------------------------------------------------------------- helper processes

def _helper(code: str) -> tuple[dict[str, str] | None, str]:
    """Run a small Python program in a throwaway process; it prints KEY=VALUE lines."""
    # here, not at the top: only doctor runs helpers, and `sysfake run` imports this
    # module for detect_profile() (subprocess and textwrap are ~4 ms of its start-up)
    import subprocess
    import textwrap

    try:
        res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=HELPER_TIMEOUT, check=False)
    except OSError as err:
        from .text import os_error
        return None, os_error(err)
    except subprocess.TimeoutExpired:  # str() of it holds the whole program
        return None, f"the check did not end within {HELPER_TIMEOUT:g} s"
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or [f"exit status {res.returncode}"])[-1]
        return None, tail
    vals: dict[str, str] = {}
    for line in res.stdout.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            vals[k] = v
    return vals, ""


_PRELUDE = """
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def err(r):
    return 0 if r >= 0 else ctypes.get_errno()
def name(e):
    return errno.errorcode.get(e, str(e)) if e else "ok"
"""

# clone(CLONE_PARENT|SIGCHLD) from a grandchild: with the flag honoured the
# new process's parent is the top process, else the middle one (gVisor).
_CLONE_PARENT = _PRELUDE + """
CLONE_PARENT, SIGCHLD, SYS_clone = 0x8000, 17, 56
r, w = os.pipe()
top = os.getpid()
mid = os.fork()
if mid == 0:
    os.close(r)
    pid = libc.syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        os.write(w, b"%d" % os.getppid())
        os._exit(0)
    if pid < 0:
        os.write(w, b"E%d" % ctypes.get_errno())
    os.close(w)
    try:
        os.waitpid(pid, 0)
    except (ChildProcessError, OSError):
        pass
    os._exit(0)
os.close(w)
data = b""
while True:
    chunk = os.read(r, 64)
    if not chunk:
        break
    data += chunk
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
text = data.decode()
if text.startswith("E"):
    print("clone_parent=error " + name(int(text[1:])))
elif not text:
    print("clone_parent=error no answer")
else:
    p = int(text)
    print("clone_parent=" + ("yes" if p == top else "no (the parent is the caller)" if p == mid
                             else "no (parent %d)" % p))
"""

# syscalls whose results the gvisor profile fakes (findings rows in brackets)
_SYSCALLS = _PRELUDE + """
import socket
r, w = os.pipe()
try:
    os.fchown(r, os.getuid(), os.getgid())
    e = 0
except OSError as x:
    e = x.errno
print("fchown_pipe=" + name(e))
print("subreaper=" + name(err(libc.prctl(36, 1, 0, 0, 0))))
print("keyctl_join=" + name(err(libc.syscall(250, 1, 0))))
try:
    os.statvfs("/proc/sys")
    e = 0
except OSError as x:
    e = x.errno
print("statfs_proc=" + name(e))
print("openat2=" + name(err(libc.syscall(437, -100, b"/", 0, 0))))
try:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, bytes(16))
        e = 0
    except OSError as x:
        e = x.errno
    s.close()
    print("netlink_sndtimeo=" + name(e))
except OSError as x:
    print("netlink_sndtimeo=no netlink socket: " + name(x.errno))
"""

# mount flags, in a throwaway mount namespace (made private first on Linux;
# gVisor has no mount namespaces, so everything is unmounted again)
_MOUNTS = _PRELUDE + """
import tempfile
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC = 1, 32, 4096, 16384
MS_SLAVE, MS_PRIVATE, MS_STRICTATIME = 1 << 19, 1 << 18, 1 << 24
if os.geteuid() != 0:
    print("skipped=needs root")
    sys.exit(0)
if err(libc.unshare(0x20000)):
    print("skipped=unshare(CLONE_NEWNS): " + name(ctypes.get_errno()))
    sys.exit(0)
def mount(src, dst, fs, flags, data=None):
    return name(err(libc.mount(src, dst, fs, ctypes.c_ulong(flags), data)))
rec_private = mount(None, b"/", None, MS_REC | MS_PRIVATE)
print("rec_private=" + rec_private)
ns = os.readlink("/proc/self/ns/mnt") if os.path.exists("/proc/self/ns/mnt") else ""
if rec_private != "ok" and ns:
    print("skipped=cannot make the new mount namespace private")
    sys.exit(0)
d = tempfile.mkdtemp(prefix="sysfake-doctor-")
a, b = os.path.join(d, "a").encode(), os.path.join(d, "b").encode()
os.mkdir(a); os.mkdir(b)
done = []
try:
    r = mount(b"tmpfs", a, b"tmpfs", MS_STRICTATIME)
    print("strictatime=" + r)
    if r == "ok":
        done.append(a)
    else:
        r = mount(b"tmpfs", a, b"tmpfs", 0)
        print("tmpfs=" + r)
        if r == "ok":
            done.append(a)
    r = mount(a, b, None, MS_BIND | MS_REC)
    print("bind_rec=" + r)
    if r == "ok":
        done.append(b)
    else:
        r = mount(a, b, None, MS_BIND)
        print("bind=" + r)
        if r == "ok":
            done.append(b)
    print("remount_bind_ro=" + mount(None, b, None, MS_REMOUNT | MS_BIND | MS_RDONLY))
    print("rec_slave=" + mount(None, b, None, MS_REC | MS_SLAVE))
    print("devpts=" + mount(b"devpts", b, b"devpts", 0, b"newinstance"))
finally:
    for p in reversed(done):
        for _ in range(8):  # stacked mounts (devpts over the bind, ...)
            if libc.umount2(p, 2) != 0:
                break
    for p in (b, a):
        try:
            os.rmdir(p)
        except OSError:
            pass
    os.rmdir(d)
"""


# ---------------------------------------------------------------- checks

def _file_checks(gvisor: bool) -> list[Check]:
    out: list[Check] = []
    missing = [f for f in PROC_SYS_FILES if not _exists("/proc/sys/" + f)]
    out.append(Check("/proc/sys files", not missing,
                     "all present" if not missing else "missing: " + ", ".join(missing),
                     "content rules (gvisor: cap_last_cap; k3s: the sysctls)"))
    miss_self = [f for f in PROC_SELF_FILES if not _exists("/proc/self/" + f)]
    empty = [f for f in ("cgroup",) if f not in miss_self and not (_read("/proc/self/" + f)
                                                                     or "").strip()]
    bad = miss_self + [f + " (empty)" for f in empty]
    out.append(Check("/proc/self files", not bad,
                     "all present" if not bad else "missing: " + ", ".join(bad),
                     "gvisor profile: setgroups rule, cgroupfs (cgroup, mountinfo)"))
    mi = _read("/proc/self/mountinfo") or ""
    v1 = v2 = 0
    ctrls: set[str] = set()
    for line in mi.splitlines():
        tail = line.split(" - ", 1)[1].split() if " - " in line else []
        if tail[:1] == ["cgroup"]:
            v1 += 1
            ctrls.update(o for o in (tail[2].split(",") if len(tail) > 2 else [])
                         if o not in ("rw", "ro"))
        elif tail[:1] == ["cgroup2"]:
            v2 += 1
    if v1:
        detail = f"cgroup v1: {', '.join(sorted(ctrls))}"
    elif v2:
        detail = "cgroup v2 only"
    else:
        detail = "no cgroup mounts in /proc/self/mountinfo"
    out.append(Check("cgroup mounts", bool(v1 or v2), detail + (
        " (runc 1.1 fails: no cgroup mount found in mountinfo)" if not (v1 or v2) else ""),
        "cgroup-v1 profile (cgroupfs:)"))
    mnt = _exists("/proc/self/ns/mnt")
    out.append(Check("mount namespaces", mnt, "yes" if mnt else
                     "no /proc/self/ns/mnt: mounts done by containers are global",
                     "gvisor profile: global-umount, a fresh sandbox per run"))
    return out


def _helper_checks() -> list[Check]:
    out: list[Check] = []
    vals, why = _helper(_CLONE_PARENT)
    cp = (vals or {}).get("clone_parent", "")
    out.append(Check("CLONE_PARENT honoured", cp == "yes" if vals else None,
                     cp or f"not checked: {why}",
                     "gvisor profile: reaper emulation (runc and ctr hang without it)"))
    vals, why = _helper(_SYSCALLS)
    if vals is None:
        out.append(Check("syscall results", None, f"not checked: {why}"))
    else:
        table: list[tuple[str, str, Callable[[str], bool], str]] = [
            ("fchown on a pipe", "fchown_pipe", lambda v: v == "ok",
             "gvisor-fchown-pipe"),
            ("PR_SET_CHILD_SUBREAPER", "subreaper", lambda v: v == "ok",
             "gvisor-prctl-subreaper, reaper emulation"),
            ("keyctl JOIN_SESSION_KEYRING", "keyctl_join", lambda v: v in ("ok", "ENOSYS"),
             "gvisor-keyctl-session"),
            ("statfs(/proc/sys)", "statfs_proc", lambda v: v == "ok", "gvisor-statfs-proc"),
            ("openat2", "openat2", lambda v: v != "ENOSYS",
             "cgroupfs statfs magics (runc falls back to fstatfs checks)"),
            ("SO_SNDTIMEO on netlink", "netlink_sndtimeo", lambda v: v == "ok",
             "gvisor-setsockopt-sndtimeo"),
        ]
        for label, key, good, fix in table:
            v = vals.get(key)
            out.append(Check(label, None if v is None else good(v), v or "not reported", fix))
    vals, why = _helper(_MOUNTS)
    if vals is None or "skipped" in vals:
        out.append(Check("mount flags", None,
                         f"not checked: {why or (vals or {}).get('skipped', '')}"))
    else:
        labels = {
            "rec_private": ("MS_REC|MS_PRIVATE", "gvisor-mount-propagation-rec"),
            "strictatime": ("tmpfs with MS_STRICTATIME", "gvisor-mount-atime"),
            "bind_rec": ("MS_BIND|MS_REC", "gvisor-mount-bind-rec"),
            "remount_bind_ro": ("MS_REMOUNT|MS_BIND|MS_RDONLY", "gvisor-mount-remount"),
            "rec_slave": ("MS_REC|MS_SLAVE", "gvisor-mount-propagation-slave"),
            "devpts": ("devpts newinstance", "gvisor-mount-devpts"),
        }
        for key, (label, fix) in labels.items():
            v = vals.get(key)
            if v is not None:
                out.append(Check(f"mount {label}", v == "ok", v, fix))
    return out


def report(run_helpers: bool = True) -> Report:
    """Everything `sysfake doctor` says (the helper processes only if asked)."""
    from .core import CoreError, probe

    signals = gvisor_signals()
    gv = is_gvisor(signals)
    try:
        p = probe()
        tracing_ok, tracing_error, mech = p.ok, p.error, dict(p.mechanisms)
    except CoreError as err:
        tracing_ok, tracing_error, mech = False, str(err), {}
    checks = _file_checks(gv)
    if run_helpers:
        checks += _helper_checks()
    return Report(gv, signals, GVISOR_PROFILE if gv else DEFAULT_PROFILE, tracing_ok,
                  tracing_error, mech, checks)


def _mark(ok: bool | None) -> str:
    return "ok  " if ok else "--  " if ok is None else "LACK"


def format_report(r: Report) -> list[str]:
    lines = [f"tracing: {'works' if r.tracing_ok else 'DOES NOT WORK: ' + r.tracing_error}"]
    for name, ok in r.mechanisms.items():
        lines.append(f"  {name:18} {'yes' if ok else 'no'}")
    hits = sum(s.present for s in r.signals)
    lines.append(f"environment: {'gVisor' if r.gvisor else 'not gVisor'} "
                 f"({hits} of {len(r.signals)} gVisor signals)")
    for s in r.signals:
        lines.append(f"  {'+' if s.present else '-'} {s.name:16} {s.detail}")
    lines.append("checks:")
    for c in r.checks:
        fix = f"  [{c.fix}]" if c.fix and c.ok is False else ""
        lines.append(f"  {_mark(c.ok)} {c.name:34} {c.detail}{fix}")
    lines.append(f"profile: {r.profile} (sysfake run uses it when no rules are given; "
                 "--profile NAME overrides, --no-profile disables)")
    return lines


def doctor_report(run_helpers: bool = True) -> tuple[list[str], bool, str]:
    """(printable lines, whether sysfake can work here, the profile it picks)."""
    r = report(run_helpers)
    return format_report(r), r.tracing_ok, r.profile
