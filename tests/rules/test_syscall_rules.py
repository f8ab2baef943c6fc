"""Syscall rules, emulate, disable, id, cgroupfs and generate: in the loader and the table."""
from __future__ import annotations

import os
import stat
import struct

import pytest

from sysfake.cgroupfs import build, generated_rules, prepare_runtime
from sysfake.model import (
    Action,
    ArgOp,
    Emulation,
    Generator,
    MatchKind,
    RuleSet,
    SetOp,
    SysAction,
)
from sysfake.rules import RulesError, load_detailed
from sysfake.rules.constants import CONSTANTS
from sysfake.rules.sysrules import nr_of, parse_when
from sysfake.rules.validate import Ctx
from sysfake.rules.yamlpos import Pos, YScalar
from sysfake.table import HEADER, encode

from .helpers import error_of, load_str, write


def one(text: str) -> object:
    res = load_str(text)
    assert len(res.sys_rules) == 1, res.sys_rules
    return res.sys_rules[0].rule


def test_issue_example_compiles() -> None:
    res = load_str("""
        version: 1
        rules:
          - syscall: ioctl
            args: {1: SIOCSIFFLAGS}
            return: 0
          - syscall: [statfs, fstatfs]
            path: /sys/fs/cgroup/**
            patch: {f_type: CGROUP_SUPER_MAGIC}
          - syscall: mount
            args: {3: {any: [MS_PRIVATE, MS_SLAVE, MS_SHARED]}}
            return: 0
          - syscall: uname
            patch: {release: "5.15.0"}
          - syscall: openat2
            path: /sys/fs/cgroup/**
            errno: ENOSYS
    """)
    rules = {r.rule.name: r.rule for r in res.sys_rules}
    assert set(rules) == {"ioctl", "statfs", "fstatfs", "mount", "uname", "openat2"}
    io = rules["ioctl"]
    assert io.nr == nr_of("ioctl") == 16 and io.action is SysAction.RETURN
    assert (io.args[0].idx, io.args[0].op, io.args[0].value, io.args[0].width) == \
        (1, ArgOp.EQ, 0x8914, 4)
    st, fst = rules["statfs"], rules["fstatfs"]
    assert (st.path_arg, st.path_fd, fst.path_arg, fst.path_fd) == (0, False, 0, True)
    assert st.path == "/sys/fs/cgroup/" and st.path_kind is MatchKind.PREFIX
    assert st.patches[0].arg == 1 and st.patches[0].offset == 0
    assert st.patches[0].data == struct.pack("<Q", 0x27E0EB)
    mo = rules["mount"]
    assert (mo.args[0].op, mo.args[0].mask, mo.args[0].width) == \
        (ArgOp.ANY, CONSTANTS["MS_PRIVATE"] | CONSTANTS["MS_SLAVE"] | CONSTANTS["MS_SHARED"], 8)
    un = rules["uname"]
    assert un.action is SysAction.PATCH and un.patches[0].offset == 130
    assert un.patches[0].data == b"5.15.0".ljust(65, b"\0")
    o2 = rules["openat2"]
    assert (o2.action, o2.errno, o2.path_arg) == (SysAction.ERRNO, 38, 1)
    blob = encode(res.ruleset())
    fields = HEADER.unpack_from(blob, 0)
    assert fields[1] == 3 and fields[4] == 6  # version, n_sysrule


def test_return_with_patch_fills_the_structure_first() -> None:
    r = one("""
        version: 1
        rules:
          - syscall: statfs
            if_errno: ENOSYS
            return: 0
            patch: {f_type: PROC_SUPER_MAGIC, f_bsize: 4096}
    """)
    assert r.action is SysAction.RETURN and r.if_errno == [38]
    assert r.patches[0].offset == 0 and r.patches[0].data == bytes(120)
    assert [(p.offset, len(p.data)) for p in r.patches[1:]] == [(0, 8), (8, 8)]


def test_every_key() -> None:
    r = one("""
        version: 1
        rules:
          - syscall: mount
            id: bindrec
            args: {3: {all: [MS_BIND, MS_REC], none: MS_REMOUNT}, 2: {ne: 0}}
            path: /var/**
            only: {exe: "*/runc", comm: runc}
            when: "2..9+3"
            delay: 1.5ms
            set_args: {3: {clear: MS_REC, or: MS_SILENT}}
            override: true
    """)
    assert r.action is SysAction.REWRITE and r.delay_us == 1500
    assert (r.when_first, r.when_last, r.when_step) == (2, 9, 3)
    assert (r.only_exe, r.only_comm, r.path, r.path_kind, r.path_arg) == \
        ("*/runc", "runc", "/var/", MatchKind.PREFIX, 1)
    assert [(m.idx, m.op) for m in r.args] == [(3, ArgOp.ALL), (3, ArgOp.NONE), (2, ArgOp.NE)]
    assert [(a.idx, a.op, a.value) for a in r.argsets] == [
        (3, SetOp.CLEAR, CONSTANTS["MS_REC"]), (3, SetOp.OR, CONSTANTS["MS_SILENT"])]


@pytest.mark.parametrize("body,check", [
    ("pass: true", lambda r: r.action is SysAction.PASS),
    ("delay: 2s", lambda r: r.action is SysAction.DELAY and r.delay_us == 2_000_000),
    ("delay: 500", lambda r: r.delay_us == 500),
    ("delay: '250ns'", lambda r: r.delay_us == 1),
    ("errno: EPERM\n    delay: 100ms", lambda r: r.action is SysAction.ERRNO and
     r.delay_us == 100_000),
    ("return: 7", lambda r: r.retval == 7),
    ("args: {0: 0x10}\n    return: 0", lambda r: r.args[0].value == 16),
    ("args: {0: '-100'}\n    return: 0", lambda r: r.args[0].value == 2**64 - 100),
    ("args: {0: [1, 2, 4]}\n    return: 0", lambda r: r.args[0].value == 7),
    ("args: {0: {eq: AT_FDCWD}}\n    return: 0", lambda r: r.args[0].value == 2**64 - 100),
    ("when: 3\n    errno: EPERM", lambda r: (r.when_first, r.when_last, r.when_step) == (3, 3, 1)),
    ("when: '3+'\n    errno: EPERM", lambda r: (r.when_first, r.when_last) == (3, 0)),
    ("when: '3+2'\n    errno: EPERM", lambda r: (r.when_last, r.when_step) == (0, 2)),
    ("when: '2..5+'\n    errno: EPERM", lambda r: (r.when_last, r.when_step) == (5, 1)),
    ("if_errno: EPERM\n    errno: EACCES", lambda r: r.if_errno == [1]),
])
def test_actions_and_values(body: str, check: object) -> None:
    r = one(f"version: 1\nrules:\n  - syscall: fchown\n    {body}\n")
    assert callable(check) and check(r)


def test_widths_from_prototypes() -> None:
    r = one("version: 1\nrules:\n  - syscall: prctl\n    args: {0: 1, 1: 2}\n    errno: EPERM\n")
    assert [m.width for m in r.args] == [4, 8]


def test_fd_paths_and_path_arg() -> None:
    r = one("version: 1\nrules:\n  - syscall: fchown\n    path: 'pipe:*'\n    errno: EPERM\n")
    assert (r.path, r.path_kind, r.path_fd, r.path_arg) == ("pipe:*", MatchKind.GLOB, True, 0)
    r = one("version: 1\nrules:\n  - syscall: renameat2\n    path: /a\n    path_arg: 3\n"
            "    errno: EPERM\n")
    assert (r.path_arg, r.path_fd) == (3, False)
    r = one("version: 1\nrules:\n  - syscall: mount\n    path: /mnt\n    return: 0\n")
    assert r.path_arg == 1  # the target, as the path rules see mount


def test_precedence_specific_first_then_reading_order() -> None:
    res = load_str("""
        version: 1
        rules:
          - syscall: mount
            return: 0
          - syscall: mount
            args: {3: {all: MS_BIND}}
            errno: EPERM
          - syscall: mount
            args: {3: {all: MS_BIND}}
            path: /x
            pass: true
          - syscall: uname
            patch: {release: "1"}
          - syscall: mount
            args: {3: {any: MS_REC}}
            errno: EINVAL
    """)
    order = [(r.rule.name, r.rule.action) for r in res.sys_rules]
    assert order == [("uname", SysAction.PATCH), ("mount", SysAction.PASS),
                     ("mount", SysAction.ERRNO), ("mount", SysAction.ERRNO),
                     ("mount", SysAction.RETURN)]
    assert res.sys_rules[2].rule.errno == 1  # EPERM was read before EINVAL


def test_exact_path_before_prefix_at_equal_specificity() -> None:
    res = load_str("""
        version: 1
        rules:
          - syscall: statfs
            path: /sys/fs/cgroup/
            patch: {f_type: CGROUP_SUPER_MAGIC}
          - syscall: statfs
            path: /sys/fs/cgroup
            patch: {f_type: TMPFS_MAGIC}
    """)
    assert [r.rule.path for r in res.sys_rules] == ["/sys/fs/cgroup", "/sys/fs/cgroup/"]


def test_duplicate_and_override(tmp_path: object) -> None:
    e = error_of("""
        version: 1
        rules:
          - syscall: uname
            patch: {release: "1"}
          - syscall: uname
            patch: {release: "2"}
    """)
    assert e.key == "rules[1]" and "duplicate syscall rule" in e.message
    assert "also defined at t.yaml:4:5" in e.message
    res = load_str("""
        version: 1
        rules:
          - syscall: uname
            patch: {release: "1"}
          - syscall: uname
            patch: {release: "2"}
            override: true
    """)
    assert len(res.sys_rules) == 1 and res.sys_rules[0].rule.patches[0].data.startswith(b"2\0")
    assert any("overridden" in n for n in res.notes)


ERRORS = [
    ("syscall: statfz\n    errno: EPERM", "rules[0].syscall", "did you mean statfs"),
    ("syscall: [statfs, statfs]\n    errno: EPERM", "rules[0].syscall[1]", "listed twice"),
    ("syscall: []\n    errno: EPERM", "rules[0].syscall", "at least one"),
    ("syscall: 3\n    errno: EPERM", "rules[0].syscall", "must be a syscall name"),
    ("syscall: uname", "rules[0]", "no action"),
    ("syscall: uname\n    match: /a\n    errno: EPERM", "rules[0].match", "not both"),
    ("syscall: uname\n    content: x", "rules[0].content", "belongs to path rules"),
    ("syscall: uname\n    frobnicate: 1", "rules[0].frobnicate", "unknown key"),
    ("syscall: ioctl\n    args: {1: SIOCSIFFLAG}\n    return: 0", "rules[0].args.1",
     "did you mean SIOCSIFFLAGS"),
    ("syscall: ioctl\n    args: {6: 1}\n    return: 0", "rules[0].args.6", "0..5"),
    ("syscall: ioctl\n    args: {x: 1}\n    return: 0", "rules[0].args.x", "0..5"),
    ("syscall: ioctl\n    args: {1: {eqq: 1}}\n    return: 0", "rules[0].args.1.eqq",
     "did you mean eq"),
    ("syscall: ioctl\n    args: {1: {any: 0}}\n    return: 0", "rules[0].args.1.any",
     "non-zero mask"),
    ("syscall: ioctl\n    args: {1: true}\n    return: 0", "rules[0].args.1", "not the boolean"),
    ("syscall: mount\n    args: {0: 1, 1: 2, 2: 3, 3: 4, 4: 5}\n    return: 0",
     "rules[0].args.4", "at most 4 argument matchers"),
    ("syscall: mount\n    args: {3: {any: 1, all: 2, none: 4}, 0: 1, 1: 1}\n    return: 0",
     "rules[0].args.1", "at most 4"),
    ("syscall: statfs\n    errno: ENOSYS\n    patch: {f_type: 1}", "rules[0].patch",
     "does not go with 'errno'"),
    ("syscall: statfs\n    errno: ENOSYS\n    return: 0", "rules[0].return",
     "does not go with 'errno'"),
    ("syscall: statfs\n    pass: true\n    return: 0", "rules[0].return", "pass leaves"),
    ("syscall: statfs\n    pass: false", "rules[0].pass", "not an action"),
    ("syscall: mount\n    set_args: {3: {clear: 1}}\n    return: 0", "rules[0].return",
     "skipped"),
    ("syscall: mount\n    set_args: {3: {set: 1, or: 2}}", "rules[0].set_args.3.or",
     "'set' replaces"),
    ("syscall: mount\n    set_args: {3: {xor: 1}}", "rules[0].set_args.3.xor", "unknown key"),
    ("syscall: mount\n    set_args: {}", "rules[0].set_args", "at least one"),
    ("syscall: statfs\n    if_errno: ENOSYS\n    patch: {f_type: 1}", "rules[0].if_errno",
     "add return: 0"),
    ("syscall: statfs\n    if_errno: [A, B]\n    errno: EPERM", "rules[0].if_errno[0]",
     "unknown errno"),
    ("syscall: statfs\n    if_errno: [EPERM, EPERM, EPERM, EPERM, EPERM]\n    return: 0",
     "rules[0].if_errno", "at most 4"),
    ("syscall: open\n    patch: {f_type: 1}", "rules[0].patch", "no result structure of open"),
    ("syscall: statfs\n    patch: {f_typ: 1}", "rules[0].patch.f_typ", "did you mean f_type"),
    ("syscall: uname\n    patch: {release: 5}", "rules[0].patch.release", "quote it"),
    ("syscall: uname\n    patch: {release: '" + "x" * 65 + "'}", "rules[0].patch.release",
     "at most 64 bytes"),
    ("syscall: uname\n    patch: {}", "rules[0].patch", "at least one field"),
    ("syscall: statfs\n    return: -1", "rules[0].return", "use errno"),
    ("syscall: statfs\n    return: x", "rules[0].return", "must be an integer"),
    ("syscall: chdir\n    when: '2..'\n    errno: EPERM", "rules[0].when", "2+"),
    ("syscall: chdir\n    when: '1..+2'\n    errno: EPERM", "rules[0].when", "ambiguous"),
    ("syscall: chdir\n    when: 0\n    errno: EPERM", "rules[0].when", "1..65535"),
    ("syscall: chdir\n    when: '5..3'\n    errno: EPERM", "rules[0].when", "5..65534"),
    ("syscall: chdir\n    when: '1+0'\n    errno: EPERM", "rules[0].when", "step"),
    ("syscall: chdir\n    when: 'x'\n    errno: EPERM", "rules[0].when", "bad when"),
    ("syscall: chdir\n    when: '0x3'\n    errno: EPERM", "rules[0].when", "bad when"),
    ("syscall: chdir\n    delay: 1h", "rules[0].delay", "bad duration"),
    ("syscall: chdir\n    delay: 0ms", "rules[0].delay", "at least 1us"),
    ("syscall: chdir\n    delay: [1]", "rules[0].delay", "a duration"),
    ("syscall: getpid\n    path: /a\n    errno: EPERM", "rules[0].syscall",
     "no path or fd argument"),
    ("syscall: chdir\n    path_arg: 0\n    errno: EPERM", "rules[0].path_arg", "without path"),
    ("syscall: prctl\n    path: /a\n    path_arg: 1\n    errno: EPERM", "rules[0].path_arg",
     "neither a path nor an fd"),
    ("syscall: chdir\n    path: 'pipe:*'\n    errno: EPERM", "rules[0].path", "is a path"),
    ("syscall: chdir\n    path: a/b\n    errno: EPERM", "rules[0].path", "absolute"),
    ("syscall: chdir\n    only: {comm: ''}\n    errno: EPERM", "rules[0].only.comm", "empty"),
    ("syscall: chdir\n    id: 'a b'\n    errno: EPERM", "rules[0].id", "letters, digits"),
    ("syscall: chdir\n    id: reaper\n    errno: EPERM", "rules[0].id", "emulation"),
]


@pytest.mark.parametrize("body,key,msg", ERRORS, ids=[k + ":" + m for _b, k, m in ERRORS])
def test_errors(body: str, key: str, msg: str) -> None:
    e = error_of(f"version: 1\nrules:\n  - {body}\n", "s.yaml")
    assert e.key == key, str(e)
    assert msg in e.message, str(e)
    assert e.file == "s.yaml" and e.line >= 3 and e.col >= 1


def test_error_positions() -> None:
    e = error_of("version: 1\nrules:\n  - syscall: ioctl\n    args: {1: SIOCSIFFLAG}\n"
                 "    return: 0\n", "p.yaml")
    assert str(e).startswith("p.yaml:4:15: rules[0].args.1: unknown constant")


def test_parse_when_table() -> None:
    ctx = Ctx("w")
    for text, want in [("1", (1, 1, 1)), ("65535", (65535, 65535, 1)), ("2..65534", (2, 65534, 1)),
                       ("4+", (4, 0, 1)), ("4+65535", (4, 0, 65535)), ("1..3+", (1, 3, 1))]:
        assert parse_when(ctx, YScalar(text, text, True, Pos(1, 1)), "k")[:3] == want
    for text in ("65536", "2..65535", "1+65536", "1..2..3", "+1", "..5", "-1"):
        with pytest.raises(RulesError):
            parse_when(ctx, YScalar(text, text, True, Pos(1, 1)), "k")


# ---------------------------------------------------------------- emulate, disable, id

def test_emulate_and_disable(tmp_path: object) -> None:
    res = load_str("""
        version: 1
        emulate: [reaper, capset-mask, netlink-ack]
        disable: [capset-mask, r2]
        rules:
          - id: r1
            syscall: uname
            patch: {release: "1"}
          - id: r2
            syscall: [statfs, fstatfs]
            patch: {f_type: 1}
          - id: p1
            match: /a
            hide: true
    """)
    assert res.emulations == Emulation.REAPER | Emulation.NETLINK_ACK
    assert [r.rule.name for r in res.sys_rules] == ["uname"]
    assert res.ruleset().emulations == res.emulations
    e = error_of("version: 1\ndisable: [rule-on]\nrules:\n  - id: rule-one\n    match: /a\n"
                 "    hide: true\n")
    assert e.key == "disable[0]" and "did you mean rule-one" in e.message and e.line == 2


def test_disable_applies_after_includes(tmp_path: pytest.TempPathFactory) -> None:
    d = str(tmp_path)
    write(tmp_path, "base.yaml", """
        version: 1
        emulate: [reaper]
        rules:
          - id: base-uname
            syscall: uname
            patch: {release: "1"}
    """)  # type: ignore[arg-type]
    top = write(tmp_path, "top.yaml", """
        version: 1
        include: [base.yaml]
        disable: [base-uname]
    """)  # type: ignore[arg-type]
    res = load_detailed([top])
    assert res.sys_rules == [] and res.emulations == Emulation.REAPER
    res = load_detailed([os.path.join(d, "base.yaml")], disable_rules=["reaper"])
    assert res.emulations == Emulation(0) and len(res.sys_rules) == 1
    with pytest.raises(RulesError) as ei:
        load_detailed([os.path.join(d, "base.yaml")], disable_rules=["base-unme"])
    assert "did you mean base-uname" in str(ei.value) and "--disable-rule" in str(ei.value)


@pytest.mark.parametrize("body,key,msg", [
    ("emulate: [reapr]", "emulate[0]", "did you mean reaper"),
    ("emulate: reaper", "emulate", "must be a list"),
    ("disable: ['a b']", "disable[0]", "not a rule id"),
    ("cgroupfs: {controllers: [cpu]}", "cgroupfs.controllers", "devices"),
    ("cgroupfs: {controllers: [cpu, devices, cpu]}", "cgroupfs.controllers[2]", "twice"),
    ("cgroupfs: {controllers: [cpux, devices]}", "cgroupfs.controllers[0]", "did you mean cpu"),
    ("cgroupfs: {version: 2}", "cgroupfs.version", "version 1"),
    ("cgroupfs: {controller: [devices]}", "cgroupfs.controller", "did you mean controllers"),
    ("cgroupfs: [devices]", "cgroupfs", "must be a mapping"),
])
def test_top_level_errors(body: str, key: str, msg: str) -> None:
    e = error_of(f"version: 1\n{body}\n")
    assert e.key == key and msg in e.message, str(e)


def test_duplicate_ids() -> None:
    e = error_of("version: 1\nrules:\n  - {id: a, match: /a, hide: true}\n"
                 "  - {id: a, syscall: uname, patch: {release: x}}\n")
    assert "duplicate rule id 'a'" in e.message and e.key == "rules[1].id"
    e = error_of("version: 1\nrules:\n  - {id: a, match: /a, hide: true}\n"
                 "  - {id: a, match: /b, hide: true}\n")
    assert "duplicate rule id 'a'" in e.message


# ---------------------------------------------------------------- generate, cgroupfs

def test_generate_mountinfo() -> None:
    res = load_str("version: 1\nrules:\n  - match: /proc/self/mountinfo\n"
                   "    generate: mountinfo\n    content: \"1 2 3\\n\"\n")
    v = res.rules[0].rule.vfile
    assert v is not None and v.generator is Generator.MOUNTINFO and v.content == b"1 2 3\n"
    blob = encode(res.ruleset())
    assert blob  # generator bits are part of the vfile flags
    e = error_of("version: 1\nrules:\n  - {match: /a, generate: mountinfo, hide: true}\n")
    assert e.key == "rules[0].generate" and "needs content" in e.message
    e = error_of("version: 1\nrules:\n  - {match: /a, generate: mountinfoo, content: x}\n")
    assert "did you mean mountinfo" in e.message


def test_cgroupfs_tree_is_the_findings_tree() -> None:
    tree = build(("cpuset", "cpu", "cpuacct", "memory", "devices", "freezer", "pids"))
    try:
        assert stat.S_IMODE(os.stat(tree.base).st_mode) == 0o700
        files = [os.path.join(dp, f) for dp, _d, fs in os.walk(tree.root) for f in fs]
        # the findings' 98 minus cap_last_cap, setgroups, cgroup, mountinfo, halved:
        # no template copy (its files travel in the table)
        assert len(files) == 47
        assert sorted(os.listdir(tree.base)) == ["root"]
        with open(os.path.join(tree.root, "devices", "devices.list")) as f:
            assert f.read() == "a *:* rwm\n"
        with open(os.path.join(tree.root, "cpu", "cpu.shares")) as f:
            assert f.read() == "1024\n"
        assert sorted(os.listdir(os.path.join(tree.root, "cpu"))) == sorted([
            "cgroup.clone_children", "cgroup.procs", "cpu.cfs_period_us", "cpu.cfs_quota_us",
            "cpu.shares", "notify_on_release", "tasks"])
    finally:
        tree.cleanup()
    assert not os.path.exists(tree.base)


def test_cgroupfs_generated_rules() -> None:
    paths, sysr = generated_rules("/tmp/x/root", ("cpu", "devices"), 7, 5000)
    by = {p.match: p for p in paths}
    assert by["/sys/fs/cgroup/"].target == "/tmp/x/root/"
    assert by["/proc/self/cgroup"].vfile.content == b"1:cpu:/\n2:devices:/\n"  # type: ignore
    cg = by["/proc/cgroups"].vfile.content  # type: ignore[union-attr]
    assert cg.splitlines()[0] == b"#subsys_name\thierarchy\tnum_cgroups\tenabled"
    mi = by["/proc/self/mountinfo"].vfile
    assert mi is not None and mi.generator is Generator.MOUNTINFO
    assert mi.content.decode().splitlines() == [
        "5000 7 0:5000 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755",
        "5001 5000 0:5001 / /sys/fs/cgroup/cpu rw,nosuid,nodev,noexec,relatime - cgroup "
        "cgroup rw,cpu",
        "5002 5000 0:5002 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime - cgroup "
        "cgroup rw,devices"]
    magic = {(r.name, r.path): struct.unpack("<Q", r.patches[0].data)[0] for r in sysr}
    assert magic == {("statfs", "/sys/fs/cgroup"): CONSTANTS["TMPFS_MAGIC"],
                     ("fstatfs", "/sys/fs/cgroup"): CONSTANTS["TMPFS_MAGIC"],
                     ("statfs", "/sys/fs/cgroup/"): CONSTANTS["CGROUP_SUPER_MAGIC"],
                     ("fstatfs", "/sys/fs/cgroup/"): CONSTANTS["CGROUP_SUPER_MAGIC"]}


def test_prepare_runtime() -> None:
    res = load_str("""
        version: 1
        cgroupfs: {controllers: [cpu, devices]}
        rules:
          - match: /proc/self/cgroup
            content: "0::/mine\\n"
    """)
    assert res.emulations & Emulation.CGROUPFS
    rs, cleanup = prepare_runtime(res)
    try:
        assert rs.cgroupfs_root and os.path.isdir(os.path.join(rs.cgroupfs_root, "devices"))
        assert rs.cgroupfs_files is not None
        assert b"cpu/cpu.shares\x001024\n\x00" in rs.cgroupfs_files
        assert b"devices/devices.list\x00a *:* rwm\n\x00" in rs.cgroupfs_files
        assert b"memory/" not in rs.cgroupfs_files
        assert rs.emulations & Emulation.CGROUPFS
        cg = [r for r in rs.path_rules if r.match == "/proc/self/cgroup"]
        assert len(cg) == 1 and cg[0].vfile and cg[0].vfile.content == b"0::/mine\n"
        assert [r.path for r in rs.syscall_rules if r.name == "statfs"] == \
            ["/sys/fs/cgroup", "/sys/fs/cgroup/"]
        assert any(r.action is Action.REDIRECT for r in rs.path_rules)
        encode(rs)
    finally:
        cleanup()
    assert not os.path.exists(os.path.dirname(rs.cgroupfs_root))
    plain = RuleSet()
    assert prepare_runtime(plain)[0] is plain
