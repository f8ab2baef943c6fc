"""The key cases inside gVisor (`runsc do`, ptrace platform), where the faked
files really are missing. Each call runs in a fresh sandbox."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from support import require, run_in_gvisor, sysfake_cmd
from support.fakes import (
    CAP,
    CAP_TEXT_GVISOR,
    REAPER_RULES,
    SETGROUPS,
    alternating_redirects,
    fake,
    run,
)
from support.progs import Progs

pytestmark = pytest.mark.gvisor


def _sysfake(*options: list[str], cmd: list[str]) -> list[str]:
    return sysfake_cmd(run(*options, cmd=cmd))


def test_negative_control_cap_last_cap_missing() -> None:
    rc, out = run_in_gvisor(["cat", CAP])
    assert (rc, out) == (1, f"cat: {CAP}: No such file or directory\n")


def test_grandchild_reads_fake(busybox: str) -> None:
    inner = f"{busybox} cat {CAP}; echo inner"
    rc, out = run_in_gvisor(_sysfake(fake(CAP, CAP_TEXT_GVISOR),
                                     cmd=["sh", "-c", f"sh -c '{inner}'; echo outer"]))
    assert (rc, out) == (0, CAP_TEXT_GVISOR + "inner\nouter\n")


def test_threads_read_fake(progs: Progs) -> None:
    rc, out = run_in_gvisor(_sysfake(fake(CAP, CAP_TEXT_GVISOR),
                                     cmd=[progs["threads"], "-b", "64", CAP, CAP_TEXT_GVISOR]))
    assert (rc, out) == (0, "ok 64/64\n")


def test_more_threads_than_scratch_slots(progs: Progs) -> None:
    # 300 > 256 slots: the rest wait at their seccomp stop, rewound.
    rc, out = run_in_gvisor(_sysfake(fake(CAP, CAP_TEXT_GVISOR),
                                     cmd=[progs.static("threads"), "-b", "300", CAP,
                                          CAP_TEXT_GVISOR]))
    assert (rc, out) == (0, "ok 300/300\n")


def test_scratch_is_mapped_at_the_first_rewrite_only(progs: Progs, tmp_path: Path) -> None:
    # No one-stop stat answer in gVisor (no process_vm_writev): the redirected
    # stat is the first rewrite, and maps the scratch; nothing before it does
    # (no rewrite in place there: only POKEDATA writes, see csrc/inplace.c).
    dst = tmp_path / "dst"
    dst.write_text("redirected\n")
    plain = tmp_path / "plain"
    plain.write_text("x\n")
    src = tmp_path / "src"
    rc, out = run_in_gvisor(_sysfake(["--redirect", f"{src}={dst}"],
                                     cmd=[progs["scratchmaps"], str(plain), str(src)]))
    assert (rc, out) == (0, "start=0 plain=0 stat=1 open=1 again=1 read=redirected\n")


@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
def test_rewrite_survives_the_program_unmapping_tracer_memory(progs: Progs, static: bool) -> None:
    """The program unmaps the tracer's memory between rewritten opens. Words
    already in the tracee are not written again (csrc/mem.c): the loss shows
    as the call's EFAULT at its exit stop, and the tracer maps a new mapping
    and runs the call again."""
    prog = progs.static("unmapper") if static else progs["unmapper"]
    text = CAP_TEXT_GVISOR.rstrip("\n")
    rc, out = run_in_gvisor(_sysfake(["-v"], fake(CAP, CAP_TEXT_GVISOR), cmd=[prog, CAP]))
    assert rc == 0 and f"first={text}|second={text}|unmapped=1\n" in out, out[-3000:]
    assert ": scratch mapping gone" in out, out[-3000:]


@pytest.mark.parametrize("what", ["redirect", "fake"])
def test_unmapped_trampolines_in_gvisor(progs: Progs, tmp_path: Path, what: str) -> None:
    """40 opens through trampolines (from the 33rd here), the scratch mapping
    unmapped, 40 more from the same call site: the first of those returns to
    a trampoline that is gone. The tracer takes the SIGSEGV, maps a new
    mapping and runs the call again; the program never sees the signal."""
    src = CAP if what == "fake" else str(tmp_path / "src")
    dst = tmp_path / "dst"
    dst.write_text(CAP_TEXT_GVISOR)
    rule = fake(CAP, CAP_TEXT_GVISOR) if what == "fake" else ["--redirect", f"{src}={dst}"]
    rc, out = run_in_gvisor(_sysfake(["-v"], rule, cmd=[progs["tramp"], "unmap", src,
                                                         CAP_TEXT_GVISOR.rstrip("\n"), "40"]))
    assert rc == 0 and "unmap ok\n" in out, out[-3000:]
    assert ": SIGSEGV at its trampoline" in out, out[-3000:]


def test_threads_whose_first_rewrites_come_at_once_share_one_scratch_mapping(
        progs: Progs, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    dst.write_text("redirected\n")
    src = tmp_path / "src"
    rc, out = run_in_gvisor(_sysfake(["-v", "--redirect", f"{src}={dst}"],
                                     cmd=[progs["scratchmaps"], "-t", "64", str(src),
                                          "redirected"]))
    assert (rc, "reads=64\n" in out.splitlines(keepends=True)) == (0, True), out[-2000:]
    assert len(re.findall(r": scratch mapped at 0x", out)) == 1, out[-2000:]


def test_daemon_reads_fake_after_parent_exit(progs: Progs, tmp_path: Path) -> None:
    result = tmp_path / "daemon.out"
    inner = _sysfake(fake(CAP, CAP_TEXT_GVISOR), ["--orphans=wait"],
                     cmd=[progs["daemon"], str(result), CAP])
    # The sandbox's writes are not visible on the host: read the result inside.
    script = f"{shlex.join(inner)} >/dev/null; echo rc=$?; cat {result}"
    rc, out = run_in_gvisor(["sh", "-c", script])
    assert (rc, out) == (0, "rc=0\n" + CAP_TEXT_GVISOR)


def test_proc_self_aliases_in_sandbox_pid_namespace(progs: Progs) -> None:
    # /proc/<pid>/setgroups does not exist in gVisor; pids are the sandbox's.
    paths = ["/proc/self/setgroups", "/proc/%p/setgroups", "/proc/thread-self/setgroups",
             "/proc/%p/task/%t/setgroups"]
    rc, out = run_in_gvisor(_sysfake(fake(SETGROUPS, "allow\n"),
                                     cmd=[progs["readfile"], *paths]))
    assert (rc, out) == (0, "allow\n" * len(paths))


def test_exec_from_thread(progs: Progs) -> None:
    rc, out = run_in_gvisor(_sysfake(fake(CAP, CAP_TEXT_GVISOR),
                                     cmd=[progs["exec_from_thread"], "/bin/cat", CAP]))
    assert rc == 0, out
    assert re.fullmatch(r"leader=\d+\n" + re.escape(CAP_TEXT_GVISOR), out), out


def test_go_program(goread: str) -> None:
    rc, out = run_in_gvisor(_sysfake(fake(CAP, CAP_TEXT_GVISOR),
                                     cmd=[goread, CAP, "16", "/bin/cat"]))
    assert (rc, out) == (0, 'goroutines ok=16/16 content="40\\n"\ncat: "40\\n"\n')


def test_exit_status_and_signal_status() -> None:
    rc, out = run_in_gvisor(["sh", "-c",
                             f"{shlex.join(_sysfake(cmd=['sh', '-c', 'exit 7']))}; echo a=$?; "
                             f"{shlex.join(_sysfake(cmd=['sh', '-c', 'kill -9 $$']))}; echo b=$?"])
    # sysfake dies of the command's SIGKILL, and sh says so, as it would untraced
    assert (rc, out) == (0, "a=7\nKilled\nb=137\n")


def test_python_backend_in_sandbox(busybox: str) -> None:
    """The reference tracer runs in gVisor too (no subreaper there): a
    grandchild sees the fake, and the command's exit status comes back."""
    inner = f"{busybox} cat {CAP}; exit 3"
    rc, out = run_in_gvisor(_sysfake(["--backend=python"], fake(CAP, CAP_TEXT_GVISOR),
                                     cmd=["sh", "-c", f"sh -c '{inner}'; echo rc=$?; exit 5"]))
    assert (rc, out) == (5, CAP_TEXT_GVISOR + "rc=3\n")




def test_subreaper_gets_orphaned_grandchildren(progs: Progs, tmp_path: Path) -> None:
    """gVisor has no subreaper: an orphan's exit reaches the emulated subreaper
    through the reaper (also when the orphan's first stop comes after its
    creator exited: it is handed to the heir at that late link)."""
    rules = tmp_path / "reaper.yaml"
    rules.write_text(REAPER_RULES)
    rc, out = run_in_gvisor(_sysfake(["--rules", str(rules)], cmd=[progs["subreaper"], "5"]))
    assert (rc, out) == (0, "".join(f"orphan {k}: status 5\n" for k in range(5)))



#: `sysfake -v`'s line for a call that stopped at its exit with an
#: emulation's exit hook (PF_EMUL, csrc/core.h) among its work
_EMUL_EXIT = re.compile(r"^sysfake: (\d+): exit work (0x[0-9a-f]+) ret", re.M)


def _emul_exits(out: str) -> int:
    return sum(1 for m in _EMUL_EXIT.finditer(out) if int(m.group(2), 16) & 0x100)


def test_a_wait_the_reaper_cannot_answer_takes_no_exit_stop(progs: Progs,
                                                             tmp_path: Path) -> None:
    """A shell waiting for its own children, none of them meant for anyone
    else, needs nothing from the reaper: its waits do not stop at their exit
    (three stops a loop iteration in gVisor before). The subreaper's wait
    for its orphans still does, and is answered."""
    rules = tmp_path / "reaper.yaml"
    rules.write_text(REAPER_RULES)
    loop = "i=0; while [ $i -lt 5 ]; do /bin/true; i=$((i+1)); done; echo loop done"
    rc, out = run_in_gvisor(_sysfake(["--rules", str(rules), "-v"], cmd=["sh", "-c", loop]))
    assert rc == 0 and "loop done\n" in out, out
    assert "new child" in out and _emul_exits(out) == 0, out
    rc, out = run_in_gvisor(_sysfake(["--rules", str(rules), "-v"],
                                     cmd=[progs["subreaper"], "2"]))
    assert rc == 0 and "orphan 1: status 5\n" in out, out
    assert _emul_exits(out) >= 2 and "wait answered" in out, out


def test_repeated_rewrites_return_through_trampolines(progs: Progs, tmp_path: Path) -> None:
    # Only POKEDATA writes here: the trampolines come after 3 two-stop rewrites,
    # as on the host, each poked in at its slot's first use.
    dst = tmp_path / "dst"
    dst.write_text("redirected\n")
    src = str(tmp_path / "src")
    rc, out = run_in_gvisor(_sysfake(["-v", "--redirect", f"{src}={dst}"],
                                     cmd=[progs["tramp"], "loop", src, "redirected", "60", "4"]))
    assert (rc, "loop ok\n" in out.splitlines(keepends=True)) == (0, True), out[-2000:]
    assert out.count(": trampolines ready: 0") == 1, out[-2000:]
    assert ": trampoline of slot 0 written" in out, out[-2000:]
    # 60 opens in each of 4 threads and a forked child: all but a few
    assert len(re.findall(r": openat returns through its trampoline$", out, re.M)) >= 280, \
        out[-2000:]


def test_signals_at_calls_that_return_through_trampolines(progs: Progs, tmp_path: Path) -> None:
    # gVisor's FIFOs do not work over these filesystems, so no blocked open
    # here (tests/test_run_trampoline.py has those). gVisor reports a signal
    # after the trampoline ran: the registers must be the call's own. The
    # program works around gVisor leaving SIGUSR1 pending (docs/core.md, 8).
    dst = tmp_path / "dst"
    dst.write_text("redirected\n")
    src = str(tmp_path / "src")
    rc, out = run_in_gvisor(_sysfake(["-v", "--redirect", f"{src}={dst}"],
                                     cmd=[progs["tramp"], "storm", src, "redirected", "400"]))
    assert (rc, "storm ok\n" in out.splitlines(keepends=True)) == (0, True), out[-2000:]
    assert len(re.findall(r": openat returns through its trampoline$", out, re.M)) >= 300, \
        out[-2000:]


def test_virtual_file_opens_return_through_trampolines(progs: Progs, tmp_path: Path) -> None:
    src = str(tmp_path / "virtual")
    rc, out = run_in_gvisor(_sysfake(["-v", "--fake", f"{src}=redirected\\n"],
                                     cmd=[progs["tramp"], "loop", src, "redirected", "60", "2"]))
    assert (rc, "loop ok\n" in out.splitlines(keepends=True)) == (0, True), out[-2000:]
    assert len(re.findall(r": openat returns through its trampoline$", out, re.M)) >= 100, \
        out[-2000:]


def test_a_slot_is_written_again_whenever_its_words_differ(tmp_path: Path) -> None:
    """Where only POKEDATA writes, the slot words that differ are poked and
    the rest left out (csrc/mem.c): alternating targets, and one longer than
    the words the tracer remembers, each read their own."""
    rules, cmd, want = alternating_redirects(tmp_path)
    rc, out = run_in_gvisor(_sysfake(rules, cmd=cmd))
    assert (rc, out) == (0, want), out[-2000:]


def _tracer_preads(options: list[str], cmd: list[str]) -> int:
    """How often the tracer preads tracee memory (/proc/PID/mem: gVisor has no
    process_vm_readv) while `cmd` runs under the gvisor profile."""
    argv = [require("strace"), "-qq", "-o", "|cat >&2", "-e", "signal=none", "-e",
            "trace=pread64", *_sysfake(["--profile", "gvisor", *options], cmd=cmd)]
    rc, out = run_in_gvisor(argv)
    assert rc == 0 and "loop done\n" in out, out
    return len(re.findall(r"^pread64\(", out, re.M))


def test_an_emulation_reads_no_path_the_rules_read_too() -> None:
    """cgroupfs looks at every open's path, which the path rules then read
    again: one pread of it a call, not two (the last string read is kept
    until the stop is over)."""
    loop = "for i in 1 2 3 4 5 6 7 8; do cat /dev/null; done; echo loop done"
    with_cg = _tracer_preads([], ["sh", "-c", loop])
    without = _tracer_preads(["--disable-rule", "cgroupfs"], ["sh", "-c", loop])
    # 8 cats open ld.so.cache, libc and /dev/null: 24 more reads before
    assert with_cg <= without + 2, (with_cg, without)


def test_default_profile_memory_cgroup_is_unlimited() -> None:
    rc, out = run_in_gvisor(sysfake_cmd(["run", "--", "cat",
                                         "/sys/fs/cgroup/memory/memory.limit_in_bytes"]))
    assert (rc, out) == (0, "9223372036854771712\n"), out



def test_the_probe_finds_stuck_signals() -> None:
    """gVisor leaves a signal sent to a tracee in a ptrace stop pending until
    something interrupts the tracee (docs/safety.md); the probe says so
    (not on the host: test_run_signals.py)."""
    rc, out = run_in_gvisor(["sh", "-c", shlex.join(sysfake_cmd(["doctor"])) +
                             " | grep stuck_signals"])
    assert (rc, out) == (0, "  stuck_signals      yes\n"), out
