"""Virtual directories: `ls` of a directory lists the virtual files below it
(docs/rules.md, "list"), with real processes on the host and in gVisor."""
from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import pytest

from support import describe, require, run_in_gvisor, run_sysfake, sysfake_cmd
from support.fakes import CAP, CAP_TEXT_GVISOR, VIRT, VIRT_TEXT, fake, hide, run
from support.progs import Progs

KERNEL = "/proc/sys/kernel"


def _real(path: str) -> list[str]:
    return sorted(os.listdir(path))


def _lines(names: list[str]) -> str:
    return "".join(f"{n}\n" for n in sorted(names))


def _rules(tmp_path: Path, body: str) -> list[str]:
    f = tmp_path / "rules.yaml"
    f.write_text("version: 1\nrules:\n" + body)
    return ["--rules", str(f)]


def test_listing_merges_virtual_with_real(busybox: str) -> None:
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), cmd=[busybox, "ls", "-1", KERNEL]))
    expected = _lines([*_real(KERNEL), "sfk_virtual"])
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


def test_coreutils_ls_and_python_listdir_twice() -> None:
    # os.listdir(fd) rewinds the fd at the end: the second listing starts over.
    script = (f"ls {KERNEL} | grep -c .; python3 -c \"import os; fd = os.open('{KERNEL}', "
              "os.O_RDONLY | os.O_DIRECTORY); a = os.listdir(fd); b = os.listdir(fd); "
              "print(len(a), a == b, 'sfk_virtual' in a)\"")
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), cmd=["sh", "-c", script]))
    n = len(_real(KERNEL)) + 1
    assert (res.returncode, res.stdout) == (0, f"{n}\n{n} True True\n"), describe(res)


def test_hidden_entry_disappears_from_listing(busybox: str) -> None:
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), hide(f"{KERNEL}/ostype"),
                          cmd=[busybox, "ls", "-1", KERNEL]))
    names = [n for n in _real(KERNEL) if n != "ostype"] + ["sfk_virtual"]
    assert "ostype" in _real(KERNEL)
    assert (res.returncode, res.stdout) == (0, _lines(names)), describe(res)


def test_gvisor_profile_lists_on_the_host(busybox: str) -> None:
    # Nothing is missing on the host: the real listing, cap_last_cap included.
    res = run_sysfake(run(["--profile", "gvisor"], cmd=[busybox, "ls", "-1", KERNEL]))
    assert (res.returncode, res.stdout) == (0, _lines(_real(KERNEL))), describe(res)
    assert "cap_last_cap\n" in res.stdout


def test_purely_virtual_directory(tmp_path: Path, marker: str, busybox: str) -> None:
    top = f"/sfk-vdir-{marker}"
    assert not os.path.exists(top)
    rules = _rules(tmp_path, f"""\
  - match: {top}/conf/enabled
    content: "1\\n"
  - match: {top}/empty/
    list: true
    mode: "0750"
""")
    script = (f"ls -1 {top}; ls -1 {top}/conf; ls -a {top}/empty | tr '\\n' ' '; echo; "
              f"stat -c '%F %a' {top} {top}/empty; cat {top}/conf/enabled; "
              f"find {top} | sort; cd {top}/conf && cat enabled && ls && ls .. && pwd; "
              f"ls -la {top} | grep -c '\\.\\.$'; mkdir {top}/empty; echo mkdir=$?")
    res = run_sysfake(run(rules, cmd=["sh", "-c", script]))
    expected = ("conf\nempty\n" "enabled\n" ". .. \n"
                "directory 555\ndirectory 750\n" "1\n"
                f"{top}\n{top}/conf\n{top}/conf/enabled\n{top}/empty\n"
                "1\nenabled\nconf\nempty\n" f"{top}/conf\n" "1\n" "mkdir=1\n")
    assert (res.returncode, res.stdout) == (0, expected), describe(res)
    assert "File exists" in res.stderr, describe(res)


def test_names_in_a_listed_directory_are_looked_up_at_their_real_place(
        tmp_path: Path, busybox: str) -> None:
    # cd into the (real, listed) directory, then relative names: real files stay real.
    real = Path(f"{KERNEL}/ostype").read_text()
    script = (f"cd {KERNEL} && cat ostype sfk_virtual && "
              f"{busybox} find . -name ostype -o -name sfk_virtual | sort")
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (
        0, real + VIRT_TEXT + "./ostype\n./sfk_virtual\n"), describe(res)


def _jail(tmp_path: Path, busybox: str) -> Path:
    root = tmp_path / "jail"
    root.mkdir()
    shutil.copy(busybox, root / "busybox")
    return root


def test_listing_after_chroot_without_proc(tmp_path: Path, busybox: str) -> None:
    root = _jail(tmp_path, busybox)
    chroot = require("chroot")
    script = (f"{chroot} {root} /busybox ls -1 {KERNEL} /proc/sys /proc; "
              f"{chroot} {root} /busybox find /proc; "
              f"{chroot} {root} /busybox cat {KERNEL}/sfk_virtual")
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), cmd=["sh", "-c", script]))
    expected = (f"/proc:\nsys\n\n/proc/sys:\nkernel\n\n{KERNEL}:\nsfk_virtual\n"
                f"/proc\n/proc/sys\n{KERNEL}\n{VIRT}\n" + VIRT_TEXT)
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


def test_listing_in_new_pid_namespace(busybox: str) -> None:
    script = f"{busybox} ls -1 {KERNEL}"
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT),
                          cmd=[require("unshare"), "-pfm", "--mount-proc", "sh", "-c", script]))
    expected = _lines([*_real(KERNEL), "sfk_virtual"])
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


def test_python_backend_refuses_list_rules(tmp_path: Path) -> None:
    rules = _rules(tmp_path, "  - match: /sfk-empty/\n    list: true\n")
    res = run_sysfake(run(["--backend", "python"], rules, cmd=["true"]))
    assert res.returncode == 2, describe(res)
    assert "virtual directories" in res.stderr and "Traceback" not in res.stderr, describe(res)


@pytest.mark.gvisor
def test_gvisor_profile_lists_proc_sys_kernel_in_gvisor(busybox: str) -> None:
    # Without sysfake: coreutils ls fails (statx EINVAL), busybox lacks cap_last_cap.
    script = (f"ls {KERNEL} >/dev/null 2>&1; echo plain=$?; "
              f"{busybox} ls {KERNEL} | grep -c cap_last_cap; "
              + shlex.join(sysfake_cmd(run(["--profile", "gvisor"], cmd=[
                  "sh", "-c", f"ls {KERNEL} > /tmp/k; echo rc=$?; ls /proc/sys; "
                  f"grep -c cap_last_cap /tmp/k; grep -c . /tmp/k; cat {CAP}"]))))
    rc, out = run_in_gvisor(["sh", "-c", script])
    lines = out.splitlines()
    assert rc == 0 and lines[:3] == ["plain=2", "0", "rc=0"], out
    assert lines[3:6] == ["kernel", "net", "vm"], out
    assert lines[6] == "1" and int(lines[7]) > 5, out  # merged with gVisor's own entries
    assert lines[8:] == [CAP_TEXT_GVISOR.strip()], out


@pytest.mark.gvisor
def test_listing_after_chroot_in_gvisor(tmp_path: Path, busybox: str) -> None:
    root = _jail(tmp_path, busybox)
    cmd = sysfake_cmd(run(fake(VIRT, VIRT_TEXT), cmd=[
        "sh", "-c", f"chroot {root} /busybox ls -1 {KERNEL} /proc/sys"]))
    rc, out = run_in_gvisor(cmd)
    assert (rc, out) == (0, f"/proc/sys:\nkernel\n\n{KERNEL}:\nsfk_virtual\n")



def test_docs_list_example_runs(tmp_path: Path, busybox: str) -> None:
    # The `list` example of docs/rules.md, as written, with real processes.
    from rules.test_docs_examples import OK

    text = dict(OK)["list"]
    assert not os.path.exists("/run/sysfake-demo") and not os.path.exists("/run/sysfake-empty")
    f = tmp_path / "list.yaml"
    f.write_text(text)
    script = (f"{busybox} ls -1 /run/sysfake-demo /run/sysfake-demo/flags; "
              "cat /run/sysfake-demo/flags/enabled; stat -c '%F %a' /run/sysfake-empty; "
              f"{busybox} ls -A /run/sysfake-empty | wc -l; "
              f"{busybox} ls -1 {KERNEL} | grep -c -x -e ostype -e cap_last_cap; "
              f"{busybox} ls /run | grep sysfake-")
    res = run_sysfake(run(["--rules", str(f)], cmd=["sh", "-c", script]))
    expected = ("/run/sysfake-demo:\nflags\n\n/run/sysfake-demo/flags:\nenabled\n" "1\n"
                "directory 755\n" "0\n" "1\n" "sysfake-demo\nsysfake-empty\n")
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


def test_docs_list_off_example_runs(tmp_path: Path, busybox: str) -> None:
    # list: false: a lookup-table file below /sys/devices/system/cpu adds no CPU.
    from rules.test_docs_examples import OK

    cpu = "/sys/devices/system/cpu"
    if os.path.exists(f"{cpu}/cpu9"):
        pytest.skip("this machine has a cpu9")
    f = tmp_path / "off.yaml"
    f.write_text(dict(OK)["list-off"])
    script = (f"{busybox} ls -1 {cpu}; cat {cpu}/cpu9/topology/core_id; "
              f"test -e {cpu}/cpu9; echo exists=$?")
    res = run_sysfake(run(["--rules", str(f)], cmd=["sh", "-c", script]))
    assert (res.returncode, res.stdout) == (0, _lines(_real(cpu)) + "9\nexists=1\n"), \
        describe(res)
    # Without the list: false rule, the directory of the lookup file appears.
    f.write_text(dict(OK)["list-off"].split("  - match: /sys/devices/system/cpu/\n")[0])
    res = run_sysfake(run(["--rules", str(f)], cmd=[busybox, "ls", "-1", cpu]))
    assert (res.returncode, res.stdout) == (0, _lines([*_real(cpu), "cpu9"])), describe(res)


def test_check_and_explain_describe_list_rules(tmp_path: Path) -> None:
    rules = _rules(tmp_path, "  - match: /sfk-e/\n    list: true\n"
                             "  - match: /sfk-f/\n    list: false\n")
    res = run_sysfake(["explain", "/sfk-e", *rules])
    assert res.returncode == 0 and "a directory listing its real entries" in res.stdout, \
        describe(res)
    res = run_sysfake(["explain", "/sfk-f", *rules])
    assert "the real directory, listed as it is" in res.stdout, describe(res)
    res = run_sysfake(["check", rules[1]])
    assert "list: true (mode 0555)" in res.stdout and "list: false" in res.stdout, \
        describe(res)


def test_listing_after_pivot_root(tmp_path: Path, busybox: str) -> None:
    root = _jail(tmp_path, busybox)
    (root / "old").mkdir()
    inner = f"/busybox umount -l /old; /busybox ls -1 {KERNEL}; /busybox find /proc"
    script = (f"mount --make-rprivate / && mount --bind {root} {root} && cd {root} && "
              f"pivot_root . old && exec /busybox sh -c {shlex.quote(inner)}")
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT),
                          cmd=[require("unshare"), "-m", "sh", "-c", script]))
    expected = f"sfk_virtual\n/proc\n/proc/sys\n{KERNEL}\n{VIRT}\n"
    assert (res.returncode, res.stdout) == (0, expected), describe(res)


def test_legacy_getdents_lists_the_virtual_file_too(progs: Progs) -> None:
    # Old binaries list with getdents (not getdents64): the same answer, in
    # its own record format (d_type in the last byte), over several calls.
    res = run_sysfake(run(fake(VIRT, VIRT_TEXT), cmd=[progs["lsold"], KERNEL]))
    assert res.returncode == 0, describe(res)
    legacy, new = res.stdout.splitlines()
    assert legacy.split(" ", 1)[1] == new.split(" ", 1)[1], describe(res)
    names = {e.rsplit("/", 1)[0]: e.rsplit("/", 1)[1] for e in new.split()[1:]}
    assert names.pop("sfk_virtual") == "8", describe(res)  # DT_REG
    assert sorted(names) == sorted([".", "..", *_real(KERNEL)]), describe(res)


@pytest.mark.gvisor
def test_legacy_getdents_in_gvisor(progs: Progs) -> None:
    cmd = sysfake_cmd(["run", "--profile", "gvisor", "--", progs["lsold"], KERNEL])
    rc, out = run_in_gvisor(cmd)
    assert rc == 0, out
    legacy, new = out.splitlines()[-2:]
    assert legacy.startswith("getdents: ") and new.startswith("getdents64: "), out
    assert legacy.split(" ", 1)[1] == new.split(" ", 1)[1], out
    assert "cap_last_cap/8" in new.split(), out
