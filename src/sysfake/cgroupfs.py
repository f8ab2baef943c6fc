"""The fake cgroup v1 tree behind /sys/fs/cgroup, and the rules that go with it.

`cgroupfs: {controllers: [...], version: 1}` in a rules file makes
`prepare_runtime` (called by `sysfake run` just before the table is encoded)
build the tree of shared/docs/gvisor-runtime-findings.md ("The fake tree
that worked") in a private mode-0700 directory:

    <base>/root/<controller>/...      what the traced processes see as /sys/fs/cgroup

and add the rules that make it look mounted: the redirect, /proc/self/cgroup,
/proc/cgroups, the cgroup lines of /proc/self/mountinfo (after the process's
real ones), and the statfs/fstatfs f_type patches (TMPFS_MAGIC for
/sys/fs/cgroup itself, CGROUP_SUPER_MAGIC below it). A user rule with the
same identity as a generated one wins. The files of a new cgroup directory
travel in the rule table (`template_files`), and the core writes them there.
"""
from __future__ import annotations

import os
import struct

from .datatype import datatype
from .model import (
    Action,
    Emulation,
    Generator,
    MatchKind,
    Origin,
    Patch,
    PathRule,
    RuleSet,
    SysAction,
    SyscallRule,
    VirtualFile,
)
from .rules.constants import CONSTANTS
from .tempdirs import TempDirs
from .tempdirs import make as make_private

DEFAULT_CONTROLLERS = ("cpuset", "cpu", "cpuacct", "memory", "devices", "freezer", "pids")
MOUNT_POINT = "/sys/fs/cgroup"
ORIGIN = Origin("<cgroupfs>")

COMMON_FILES: dict[str, str] = {
    "cgroup.clone_children": "",
    "cgroup.procs": "",
    "notify_on_release": "0\n",
    "tasks": "",
}
#: The kernel's "no limit" for a v1 memory cgroup: PAGE_COUNTER_MAX pages of
#: 4 KiB, LONG_MAX rounded down to a page.
NO_MEMORY_LIMIT = 0x7FFFFFFFFFFFF000

CONTROLLER_FILES: dict[str, dict[str, str]] = {
    "cpuset": {"cpuset.cpus": "0-1\n", "cpuset.mems": "0\n", "cpuset.cpu_exclusive": "0\n",
               "cpuset.mem_exclusive": "0\n"},
    "cpu": {"cpu.cfs_period_us": "100000\n", "cpu.cfs_quota_us": "-1\n",
            "cpu.shares": "1024\n"},
    "cpuacct": {},
    # What an unlimited v1 memory cgroup reads: a limit of 0 reads as no
    # memory at all (Java printed "Memory Limit: 0.00K").
    "memory": {**{f"memory.{n}": f"{NO_MEMORY_LIMIT}\n" for n in (
        "limit_in_bytes", "soft_limit_in_bytes", "memsw.limit_in_bytes",
        "kmem.limit_in_bytes")},
        "memory.swappiness": "60\n",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        "memory.use_hierarchy": "1\n"},
    "devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
    "freezer": {"freezer.state": "THAWED\n"},
    "pids": {"pids.max": "max\n"},
}


def controller_files(ctrl: str) -> dict[str, str]:
    return {**COMMON_FILES, **CONTROLLER_FILES[ctrl]}


@datatype
class CgroupTree:
    root: str  # tracer-view directory behind /sys/fs/cgroup
    base: str  # the private directory holding it

    @property
    def cleanup(self) -> TempDirs:
        """Removes the tree (its base)."""
        return TempDirs(self.base)


def _write_tree(top: str, controllers: tuple[str, ...]) -> None:
    # os.open/os.write: three syscalls a file where open() makes six (fstat,
    # ioctl, lseek), which inside gVisor made the two trees 3.5 times slower
    os.mkdir(top, 0o755)
    for c in controllers:
        d = os.path.join(top, c)
        os.mkdir(d, 0o755)
        for name, text in controller_files(c).items():
            fd = os.open(os.path.join(d, name),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            try:
                data = text.encode("ascii")
                while data:
                    data = data[os.write(fd, data):]
            finally:
                os.close(fd)


def template_files(controllers: tuple[str, ...] | list[str]) -> bytes:
    """What the core writes into a new cgroup directory of each controller:
    b"<ctrl>/<name>\0<content>\0" for every file."""
    return b"".join(f"{c}/{name}\0{text}\0".encode("ascii")
                    for c in controllers for name, text in controller_files(c).items())


def build(controllers: tuple[str, ...] | list[str] = DEFAULT_CONTROLLERS,
          base: str | None = None) -> CgroupTree:
    """Create the fake tree in a new private directory
    (`base`, which must not exist yet, when given: `sysfake compile`)."""
    ctrls = tuple(controllers)
    unknown = [c for c in ctrls if c not in CONTROLLER_FILES]
    if unknown:
        raise ValueError(f"unknown cgroup v1 controllers: {', '.join(unknown)}")
    if "devices" not in ctrls:
        raise ValueError("the devices controller is always needed")
    if base is None:
        base = make_private("sysfake-cgroupfs-")  # mode 0700
    else:
        os.mkdir(base, 0o700)
    try:
        root = os.path.join(base, "root")
        _write_tree(root, ctrls)
    except OSError as e:  # a write's ENOSPC names no file: name the tree
        TempDirs(base)()
        raise OSError(e.errno, f"cannot write the fake cgroup tree: {e.strerror}",
                      e.filename or base) from None
    except BaseException:
        TempDirs(base)()
        raise

    return CgroupTree(root, base)


# ---------------------------------------------------------------- generated rules

def proc_cgroup_text(controllers: tuple[str, ...]) -> str:
    return "".join(f"{i}:{c}:/\n" for i, c in enumerate(controllers, 1))


def proc_cgroups_text(controllers: tuple[str, ...]) -> str:
    head = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
    return head + "".join(f"{c}\t{i}\t1\t1\n" for i, c in enumerate(controllers, 1))


def _real_mounts() -> tuple[int, int]:
    """(mount id of /, highest mount id) in this process's mountinfo; (1, 0) if unreadable."""
    root_id, top = 1, 0
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 5 or not parts[0].isdigit():
                    continue
                mid = int(parts[0])
                top = max(top, mid)
                if parts[4] == "/":
                    root_id = mid
    except OSError:
        pass
    return root_id, top


def mountinfo_text(controllers: tuple[str, ...], parent: int = 1, first_id: int = 1000) -> str:
    """The lines added after the real mountinfo: a read-only tmpfs on /sys/fs/cgroup and
    one cgroup v1 mount per controller (no proc/sysfs lines: see the findings' caveats)."""
    tid = first_id
    lines = [f"{tid} {parent} 0:{tid} / {MOUNT_POINT} ro,nosuid,nodev,noexec - tmpfs tmpfs "
             "ro,mode=755\n"]
    for i, c in enumerate(controllers, 1):
        mid = tid + i
        lines.append(f"{mid} {tid} 0:{mid} / {MOUNT_POINT}/{c} rw,nosuid,nodev,noexec,relatime"
                     f" - cgroup cgroup rw,{c}\n")
    return "".join(lines)


def _statfs_rules(path: str, kind: MatchKind, magic: int) -> list[SyscallRule]:
    from .rules.sysrules import default_path_arg, nr_of

    out = []
    for name in ("statfs", "fstatfs"):
        d, nr = default_path_arg(name), nr_of(name)
        assert d is not None and nr is not None
        out.append(SyscallRule(nr=nr, name=name, action=SysAction.PATCH,
                               origin=ORIGIN, path=path, path_kind=kind, path_arg=d[0],
                               path_fd=d[1], patches=[Patch(1, 0, struct.pack("<Q", magic))]))
    return out


def generated_rules(root: str, controllers: tuple[str, ...], mount_parent: int = 1,
                    first_mount_id: int = 1000) -> tuple[list[PathRule], list[SyscallRule]]:
    """The path and syscall rules that make `root` look like a cgroup v1 mount."""
    def content(path: str, text: str, gen: Generator = Generator.STATIC) -> PathRule:
        return PathRule(path, MatchKind.EXACT, Action.CONTENT, ORIGIN,
                        vfile=VirtualFile(text.encode(), 0o444, readonly=True, generator=gen))

    paths = [
        PathRule(MOUNT_POINT + "/", MatchKind.PREFIX, Action.REDIRECT, ORIGIN,
                 target=root.rstrip("/") + "/"),
        content("/proc/self/cgroup", proc_cgroup_text(controllers)),
        content("/proc/cgroups", proc_cgroups_text(controllers)),
        content("/proc/self/mountinfo",
                mountinfo_text(controllers, mount_parent, first_mount_id), Generator.MOUNTINFO),
    ]
    sys_rules = (_statfs_rules(MOUNT_POINT, MatchKind.EXACT, CONSTANTS["TMPFS_MAGIC"])
                 + _statfs_rules(MOUNT_POINT + "/", MatchKind.PREFIX,
                                 CONSTANTS["CGROUP_SUPER_MAGIC"]))
    return paths, sys_rules


def prepare_runtime(src: object, base: str | None = None) -> tuple[RuleSet, TempDirs]:
    """The RuleSet to encode for a run, and what to call when the run is over.

    `src` is a rules.LoadResult (or a RuleSet, returned unchanged). With a
    `cgroupfs:` key the fake tree is built now (in `base` when given) and its
    rules are merged in (user rules with the same identity win), in
    precedence order."""
    from .rules.loader import LoadResult
    from .rules.precedence import identity, sort_key, sys_identity, sys_sort_key

    if isinstance(src, RuleSet):
        return src, TempDirs()
    if not isinstance(src, LoadResult):
        raise TypeError("prepare_runtime needs a LoadResult or a RuleSet")
    if src.cgroupfs is None:
        return src.ruleset(), TempDirs()
    tree = build(src.cgroupfs.controllers, base)
    try:
        parent, top = _real_mounts()
        first_id = (top // 1000 + 1) * 1000 + 1000
        paths, sysr = generated_rules(tree.root, src.cgroupfs.controllers, parent, first_id)
        have = {identity(lr.rule) for lr in src.rules}
        rules = [lr.rule for lr in src.rules] + [r for r in paths if identity(r) not in have]
        rules.sort(key=sort_key)
        have_sys = {sys_identity(sr.rule) for sr in src.sys_rules}
        n = len(src.sys_rules)
        keyed = [(sys_sort_key(sr.rule, sr.spec.order), sr.rule) for sr in src.sys_rules]
        keyed += [(sys_sort_key(r, n + i), r) for i, r in enumerate(sysr)
                  if sys_identity(r) not in have_sys]
        keyed.sort(key=lambda kr: kr[0])
        rs = RuleSet(rules, [r for _k, r in keyed], src.emulations,
                     cgroupfs_root=tree.root,
                     cgroupfs_files=template_files(src.cgroupfs.controllers))
        if not src.disabled or all(d.name != "cgroupfs" for d in src.disabled):
            rs.emulations |= Emulation.CGROUPFS
    except BaseException:
        tree.cleanup()
        raise
    return rs, tree.cleanup
