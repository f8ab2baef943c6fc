"""report and suggest on a hand-built trace; the suggestions load as rules."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from sysfake.profiles import available_profiles
from sysfake.record.analyze import analyze
from sysfake.record.report import render
from sysfake.record.suggest import suggest
from sysfake.record.sysctl import data_path, load_known
from sysfake.record.trace import load_trace
from sysfake.rules import load

from .helpers import scenario, write_trace


def _analysis(tmp_path: Path):  # type: ignore[no-untyped-def]
    p = tmp_path / "t.trace"
    write_trace(p, scenario())
    return analyze(load_trace(str(p)))


def test_report_groups_and_tree(tmp_path: Path) -> None:
    text = render(_analysis(tmp_path))
    fp = text.split("Failed paths")[1].split("Failed syscalls")[0]
    order = re.findall(r"^  (/\S+)", fp, re.M)
    assert order == ["/proc/sys/kernel/cap_last_cap", "/proc/sys/kernel/panic_on_oops",
                     "/proc/sys/kernel/sfk_unknown", "/proc/sys/vm/overcommit_memory",
                     "/sys/fs/cgroup/unified"]
    assert "decided by rule 0: hide (ENOENT), glob /proc/sys/kernel/* at hide.yaml:3:5" in fp
    assert "/usr/bin/reader: write EIO" in fp
    assert "ioctl cmd=0x8914  EPERM x2" in text
    tree = text.split("Process tree")[1]
    lines = tree.splitlines()[1:]
    assert lines[0].startswith("  100 sh -c 'sh -c reader' [/bin/sh] — exit 1")
    assert lines[1].startswith("  └─ 101 sh -c reader [/bin/sh] — exit 1")
    assert lines[2].startswith("     ├─ 102 reader x [/usr/bin/reader] — exit 1, 310 ms")
    assert "+1 thread" in lines[2] and "7 failures" in lines[2]
    assert lines[3].startswith("     └─ 103 (sh) [/bin/sh] — killed by SIGKILL, 10 ms")
    by_prog = text.split("Failures by program")[1].split("Rules that acted")[0]
    assert by_prog.index("/usr/bin/reader") < by_prog.index("ioctl (cmd=0x8914): EPERM x2")


def test_suggest_values_and_placeholders(tmp_path: Path) -> None:
    text = suggest(_analysis(tmp_path), load_known(), host_root=None)
    y = tmp_path / "fixes.yaml"
    y.write_text(text)
    rs = load([str(y)])
    got = {r.match: r.vfile.content for r in rs.path_rules if r.vfile}
    # expected by kubelet (data), kernel default (no host), expected write target
    assert got == {"/proc/sys/kernel/panic_on_oops": b"1\n",
                   "/proc/sys/kernel/cap_last_cap": b"40\n",
                   "/proc/sys/vm/overcommit_memory": b"1\n"}
    # no value known: a commented placeholder, never a guess
    assert '# - match: "/proc/sys/kernel/sfk_unknown"' in text
    assert "sysctl-defaults.yaml does not list it" in text
    assert '# - match: "/sys/fs/cgroup/unified"' in text
    assert "#   /usr/bin/reader: write EIO" in text
    assert "# - syscall: ioctl\n  #   args: {1: 0x8914}\n  #   return: 0" in text
    # the comments say who failed and which rule decided it
    assert "decided at record time by hide.yaml:3:5: hide (ENOENT)" in text
    assert yaml.safe_load(text)["version"] == 1


def test_suggest_prefers_the_host_value_for_defaults(tmp_path: Path) -> None:
    root = tmp_path / "host"
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/cap_last_cap").write_text("38\n")
    (root / "proc/sys/kernel/panic_on_oops").write_text("0\n")  # expected 1 wins
    (root / "proc/sys/kernel/sfk_unknown").write_text("7\n")
    text = suggest(_analysis(tmp_path), load_known(), host_root=str(root))
    y = tmp_path / "fixes.yaml"
    y.write_text(text)
    got = {r.match: r.vfile.content for r in load([str(y)]).path_rules if r.vfile}
    assert got["/proc/sys/kernel/cap_last_cap"] == b"38\n"
    assert got["/proc/sys/kernel/panic_on_oops"] == b"1\n"
    assert got["/proc/sys/kernel/sfk_unknown"] == b"7\n"


def test_nothing_failed_still_loads(tmp_path: Path) -> None:
    from .helpers import T0, exec_, exit_
    p = tmp_path / "t.trace"
    write_trace(p, exec_(T0, 5, 1, b"/bin/true", b"true", [b"true"]) + exit_(T0, 5, 0))
    text = suggest(analyze(load_trace(str(p))), load_known(), None)
    assert "rules: []" in text and "nothing failed" in text
    y = tmp_path / "f.yaml"
    y.write_text(text)
    assert load([str(y)]).path_rules == []


def test_sysctl_data_is_not_a_profile_and_has_kubelet_values() -> None:
    assert data_path() is not None
    assert "sysctl-defaults" not in available_profiles()
    k = load_known()
    want = {"vm/overcommit_memory": "1", "vm/panic_on_oom": "0", "kernel/panic": "10",
            "kernel/panic_on_oops": "1", "kernel/keys/root_maxkeys": "1000000",
            "kernel/keys/root_maxbytes": "25000000", "net/ipv4/conf/all/route_localnet": "1",
            "net/ipv4/conf/all/forwarding": "1", "net/ipv4/conf/default/forwarding": "1",
            "net/bridge/bridge-nf-call-iptables": "1",
            "net/netfilter/nf_conntrack_tcp_timeout_established": "86400",
            "net/netfilter/nf_conntrack_tcp_timeout_close_wait": "3600",
            "kernel/cap_last_cap": "40"}
    for key, v in want.items():
        assert k[key].value == v, key
    for key in ("net/netfilter/nf_conntrack_max", "kernel/pid_max", "kernel/keys/maxkeys",
                "fs/inotify/max_user_watches", "fs/inotify/max_user_instances",
                "net/core/somaxconn", "vm/max_map_count"):
        assert key in k
    assert all(e.why and e.source for e in k.values())
