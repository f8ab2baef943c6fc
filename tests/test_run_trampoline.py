"""Path rewrites in one stop: the call returns through a trampoline in the
tracee that puts its argument registers back (csrc/tramp.c). Every open here
is a raw `syscall` whose six argument registers the program compares after
the call; `-v` shows which way the core took."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from support import describe, run_sysfake
from support.fakes import CAP, PEEKPOKE, alternating_redirects, fake, redirect, run
from support.progs import Progs

TEXT = "redirected"
ARMED = re.compile(r": openat returns through its trampoline$", re.M)


def _files(tmp_path: Path) -> tuple[str, str, str]:
    dst = tmp_path / "dst"
    dst.write_text(TEXT + "\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    return str(tmp_path / "src"), str(dst), str(fifo)


def _fifo_open(progs: Progs, tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    """`tramp MODE`: a thread blocked in a redirected open of a FIFO."""
    src, dst, fifo = _files(tmp_path)
    fifo_src = str(tmp_path / "fifo_src")
    res = run_sysfake(run(["-v"], redirect(src, dst), redirect(fifo_src, fifo),
                          cmd=[progs["tramp"], mode, src, TEXT, "8", fifo_src, fifo]))
    assert (res.returncode, res.stdout) == (0, f"{mode} ok\n"), describe(res)
    return res


@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
@pytest.mark.parametrize("threads", [1, 8])
def test_repeated_rewrites_return_through_trampolines_with_registers_intact(
        progs: Progs, tmp_path: Path, static: bool, threads: int) -> None:
    """After three two-stop rewrites, the address space gets its trampolines
    (set up once) and later rewrites return through them: in every thread,
    and in a forked child, whose copy of the address space has them too."""
    src, dst, _ = _files(tmp_path)
    prog = progs.static("tramp") if static else progs["tramp"]
    res = run_sysfake(run(["-v"], redirect(src, dst),
                          cmd=[prog, "loop", src, TEXT, "50", str(threads)]))
    assert (res.returncode, res.stdout) == (0, "loop ok\n"), describe(res)
    assert res.stderr.count(": trampolines ready: 0") == 1, describe(res)
    # the parent's threads and the child: all but the opens made before the
    # trampolines were there (threads that start at once take two stops)
    assert len(ARMED.findall(res.stderr)) >= 45 * (threads + 1), describe(res)


def test_where_only_pokedata_writes_each_slots_trampoline_comes_at_its_first_use(
        progs: Progs, tmp_path: Path) -> None:
    """As in gVisor (only PTRACE_POKEDATA writes): the code page is made
    read+exec empty, and each slot's trampoline is poked in at the slot's
    first use (POKEDATA writes a read-only page), once per address space:
    not the 512 pokes of the whole page before the first one can be used."""
    src, dst, _ = _files(tmp_path)
    res = run_sysfake(run(["-v", *PEEKPOKE], redirect(src, dst),
                          cmd=[progs["tramp"], "loop", src, TEXT, "50", "4"]))
    assert (res.returncode, res.stdout) == (0, "loop ok\n"), describe(res)
    log = res.stderr
    assert log.count(": trampolines ready: 0") == 1, describe(res)
    written = re.findall(r": trampoline of slot (\d+) written$", log, re.M)
    # every slot once, after the page is read+exec; the forked child has its
    # parent's copy (the loop forks once its threads are done)
    assert written and len(written) == len(set(written)), describe(res)
    assert log.index(": trampolines ready: 0") < log.index(": trampoline of slot"), describe(res)
    assert len(ARMED.findall(log)) >= 45 * 5, describe(res)


def test_without_the_mechanism_every_rewrite_takes_two_stops(
        progs: Progs, tmp_path: Path) -> None:
    """--disable set_return: the same program, the same result, no trampoline."""
    src, dst, _ = _files(tmp_path)
    res = run_sysfake(run(["-v", "--disable", "set_return"], redirect(src, dst),
                          cmd=[progs["tramp"], "loop", src, TEXT, "20", "4"]))
    assert (res.returncode, res.stdout) == (0, "loop ok\n"), describe(res)
    assert "trampoline" not in res.stderr, describe(res)


def test_signal_before_the_trampoline_runs_gets_the_calls_own_registers(
        progs: Progs, tmp_path: Path) -> None:
    """A thread blocked in a redirected open of a FIFO takes SIGUSR1 (SA_RESTART)
    again and again; its handler opens a redirected file too. The tracer puts
    the registers back at each signal-delivery stop (the handler must never see
    the rewritten ones, nor reuse the slot), the kernel restarts the original
    call, and it is redirected again."""
    res = _fifo_open(progs, tmp_path, "signal")
    assert "signal before its trampoline ran" in res.stderr, describe(res)


def test_signals_as_calls_return_get_the_calls_own_registers(
        progs: Progs, tmp_path: Path) -> None:
    """SIGUSR1 without pause at a thread making redirected opens: many land as
    a call returns, before its trampoline ran. The handler's own redirected
    opens (other registers, another return address) must not disturb the
    interrupted call's, nor take its slot while it is needed."""
    src, dst, _ = _files(tmp_path)
    res = run_sysfake(run(["-v"], redirect(src, dst),
                          cmd=[progs["tramp"], "storm", src, TEXT, "2000"]))
    assert (res.returncode, res.stdout) == (0, "storm ok\n"), describe(res)
    assert "signal before its trampoline ran" in res.stderr, describe(res)


def test_call_restarted_without_a_signal_lands_on_the_trampolines_syscall(
        progs: Progs, tmp_path: Path) -> None:
    """A group stop interrupts a thread's redirected FIFO open (the SIGSTOP is
    delivered to the main thread). When the process continues there is no
    signal for the thread, and the kernel restarts the call by moving its
    return address back over a syscall instruction: the one before the
    trampoline. It runs again as rewritten, and the tracer lets it."""
    res = _fifo_open(progs, tmp_path, "stop")
    assert "restart of a call armed with a trampoline" in res.stderr, describe(res)


def test_virtual_file_opens_return_through_trampolines(progs: Progs, tmp_path: Path) -> None:
    """An open of a virtual file (the tracer's memfd, through /proc) returns
    through a trampoline where it cannot fail: a process with the tracer's
    root, namespaces and credentials."""
    src = str(tmp_path / "virtual")
    res = run_sysfake(run(["-v", "--fake", f"{src}={TEXT}\\n"],
                          cmd=[progs["tramp"], "loop", src, TEXT, "50", "4"]))
    assert (res.returncode, res.stdout) == (0, "loop ok\n"), describe(res)
    # Opens made while the trampolines are being set up take two stops; how
    # many depends on how the five threads are scheduled. Once they are
    # ready, every open returns through one.
    _, ready, after = res.stderr.partition("trampolines ready")
    opens = after.count(f"openat({src}) -> {src} rule")
    assert ready and opens >= 125, describe(res)
    assert len(ARMED.findall(after)) == opens, describe(res)


def test_virtual_file_after_the_process_drops_to_another_uid(
        progs: Progs, tmp_path: Path) -> None:
    """Then the process becomes uid 65534: it may no longer open the
    tracer's fds. The credential change is trapped, no open of the virtual
    file returns through a trampoline after it, and each is answered (a
    failed open of the memfd is replayed at the exit stop, then the process
    gets its own copy)."""
    src = str(tmp_path / "virtual")
    res = run_sysfake(run(["-v", "--fake", f"{src}={TEXT}\\n"],
                          cmd=[progs["tramp"], "setuid", src, TEXT, "20"]))
    assert (res.returncode, res.stdout) == (0, "setuid ok\n"), describe(res)
    log = res.stderr
    assert len(ARMED.findall(log)) >= 15, describe(res)
    # the credentials are looked at again at the first open after the change
    assert ": tracer stat refused" in log, describe(res)
    assert not ARMED.findall(log[log.index(": tracer stat refused"):]), describe(res)


@pytest.mark.parametrize("what", ["redirect", "fake"])
def test_a_trampoline_unmapped_by_the_program(progs: Progs, tmp_path: Path, what: str) -> None:
    """`tramp unmap`: 40 opens through trampolines, the program unmaps the
    tracer's scratch mapping, 40 more from the same call site with the same
    registers. Their slot words are not written again (csrc/mem.c), so the
    first of them returns to a trampoline that is gone: the tracer takes
    the SIGSEGV, maps a new mapping and runs the call again (tramp_fault);
    the program never sees the signal and every open reads the target."""
    src, dst, _ = _files(tmp_path)
    rule = fake(CAP, TEXT + "\n") if what == "fake" else redirect(src, dst)
    path = CAP if what == "fake" else src
    res = run_sysfake(run(["-v"], rule, cmd=[progs["tramp"], "unmap", path, TEXT, "40"]))
    assert (res.returncode, res.stdout) == (0, "unmap ok\n"), describe(res)
    assert ": SIGSEGV at its trampoline" in res.stderr, describe(res)


def test_a_slot_is_written_again_whenever_its_words_differ(tmp_path: Path) -> None:
    """The tracer leaves out a slot write whose words are all there already
    (csrc/mem.c, mem_write_slot). Opens from one call site alternate between
    paths redirected to targets of one length, then to a target longer than
    the words it remembers, then back: each must read its own target."""
    rules, cmd, want = alternating_redirects(tmp_path)
    res = run_sysfake(run(["-v"], rules, cmd=cmd))
    assert (res.returncode, res.stdout) == (0, want), describe(res)
    assert len(ARMED.findall(res.stderr)) >= 60, describe(res)
