"""The first rewrite of an address space, written over the program's own path
string and put back at the exit stop (csrc/inplace.c): no scratch mapping,
so a process whose only rewrite it is saves the injected mmap and its two
stops. Only where the new path fits, no other thread shares the memory, the
string is writable and the call has one path: every other case takes the
scratch mapping, and the program never sees its buffer changed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import describe, run_sysfake
from support.progs import Progs

IN_PLACE = "rewritten in place"
MAPPED = "scratch mapped at"


def _run(progs: Progs, tmp_path: Path, mode: str, src: str, dst_name: str = "dst",
         extra: tuple[str, ...] = ()) -> tuple[list[str], str]:
    dst = tmp_path / dst_name
    dst.write_text("redirected\n")
    argv = [progs["inplace"], mode] + ([] if mode == "rodata" else [src])
    res = run_sysfake(["run", "-v", *extra, "--redirect", f"{src}={dst}", "--", *argv])
    assert res.returncode == 0, describe(res)
    return res.stdout.splitlines(), res.stderr


def test_a_first_rewrite_is_written_in_place_and_put_back(progs: Progs, tmp_path: Path) -> None:
    out, log = _run(progs, tmp_path, "once", str(tmp_path / "src"))
    assert out == ["redirected intact"], log
    assert log.count(IN_PLACE) == 1 and MAPPED not in log, log


def test_the_second_rewrite_maps_scratch_memory(progs: Progs, tmp_path: Path) -> None:
    out, log = _run(progs, tmp_path, "twice", str(tmp_path / "src"))
    assert out == ["redirected intact"] * 2, log
    assert log.count(IN_PLACE) == 1 and log.count(MAPPED) == 1, log


@pytest.mark.parametrize("case", ["longer", "rodata", "thread"])
def test_where_it_cannot_be_in_place_the_mapping_is_used(
        progs: Progs, tmp_path: Path, case: str) -> None:
    if case == "longer":  # the new path does not fit in the old one's bytes
        out, log = _run(progs, tmp_path, "once", str(tmp_path / "s"), "a-much-longer-name")
    elif case == "rodata":  # a string literal: read-only memory
        out, log = _run(progs, tmp_path, "rodata", "/sysfake-inplace-test/rodata-path")
    else:  # another thread shares the memory
        out, log = _run(progs, tmp_path, "thread", str(tmp_path / "src"))
    assert out == ["redirected intact"], log
    assert IN_PLACE not in log and log.count(MAPPED) == 1, log


def test_a_virtual_file_read_by_cat_needs_no_mapping(tmp_path: Path) -> None:
    # the tracer's memfd path (/proc/PID/fd/N) is shorter than the file's
    res = run_sysfake(["run", "-v", "--fake", "/proc/sys/kernel/cap_last_cap=40\n", "--",
                       "cat", "/proc/sys/kernel/cap_last_cap"])
    assert (res.returncode, res.stdout) == (0, "40\n"), describe(res)
    assert res.stderr.count(IN_PLACE) == 1 and MAPPED not in res.stderr, res.stderr


def test_recorded_with_the_programs_path(progs: Progs, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    dst.write_text("redirected\n")
    trace = tmp_path / "t.jsonl"
    res = run_sysfake(["record", "-v", "-o", str(trace), "--redirect", f"{src}={dst}", "--",
                       progs["inplace"], "once", str(src)])
    assert (res.returncode, res.stdout) == (0, "redirected intact\n"), describe(res)
    assert IN_PLACE in res.stderr
    recs = [json.loads(x) for x in trace.read_text().splitlines()]
    opens = [r for r in recs if r["type"] == "syscall" and r.get("path") == str(src)]
    assert len(opens) == 1 and opens[0]["result"] >= 0 and opens[0]["rule"] is not None, opens
