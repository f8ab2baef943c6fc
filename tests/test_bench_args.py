"""`sysfake bench`'s bad arguments: one line and exit status 2, before
anything is built or run.

Every call also points --cache-dir below a regular file: a harness that
wrongly accepted the arguments stops at building its helpers (a quick
failure) instead of running the suite for minutes.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from support import describe, run_sysfake


def bench(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    blocker = tmp_path / "afile"
    blocker.write_text("")
    res = run_sysfake(["bench", "--cache-dir", str(blocker / "cache"), *args], timeout=60)
    assert res.stderr.count("\n") <= 1, describe(res)
    return res.returncode, res.stdout, res.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--workloads", ""], "sysfake bench: --workloads: an empty list "
                          "(leave the option out for all)\n"),
    (["--workloads", " , "], "sysfake bench: --workloads ' , ': an empty name "
                             "between commas\n"),
    (["--workloads", "stat,,2"], "sysfake bench: --workloads 'stat,,2': an empty name "
                                 "between commas\n"),
    (["--contenders", ""], "sysfake bench: --contenders: an empty list "
                           "(leave the option out for all)\n"),
    (["--iterations", "-1"], "sysfake bench: error: unrecognized arguments: "
                             "--iterations -1\n"),
    (["--reps", "-1"], "sysfake bench: error: argument --reps: needs a whole number "
                       "from 1, not '-1'\n"),
    (["--reps", "0"], "sysfake bench: error: argument --reps: needs a whole number "
                      "from 1, not '0'\n"),
    (["--slow-reps", "x"], "sysfake bench: error: argument --slow-reps: needs a whole "
                           "number from 1, not 'x'\n"),
    (["--timeout", "nan"], "sysfake bench: error: argument --timeout: needs a number "
                           "above 0, not 'nan'\n"),
    (["--scale", "-0.5"], "sysfake bench: error: argument --scale: needs a number "
                          "above 0, not '-0.5'\n"),
    (["--cpu", "-3"], "sysfake bench: error: argument --cpu: needs a CPU number from 0, "
                      "not '-3'\n"),
    (["--cpu", "99999"], "sysfake bench: --cpu 99999: not one this process may run on ("),
    (["--workloads", "nope"], "sysfake bench: unknown workload 'nope' (known: 0/startup, "),
    (["--contenders", "floor,nope"], "sysfake bench: unknown contender(s) nope (known: "),
    (["--merge", "/nonexistent/r.json"], "sysfake bench: --merge: /nonexistent/r.json: "
                                         "No such file or directory\n"),
])
def test_bad_arguments_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    rc, out, err = bench(tmp_path, *args)
    assert (rc, out) == (2, ""), err
    assert err.startswith(message), err


def test_merge_of_a_file_that_is_not_a_result(tmp_path: Path) -> None:
    notjson = tmp_path / "r.json"
    notjson.write_text("[1, 2]\n")
    rc, out, err = bench(tmp_path, "--merge", str(notjson))
    assert (rc, out, err) == (2, "", f"sysfake bench: --merge: {notjson}: not a "
                                     "sysfake-bench/1 result file\n")


def test_a_cache_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    # the earliest failure of a run that was accepted: nothing is measured
    rc, out, err = bench(tmp_path, "--workloads", "startup", "--contenders", "untraced")
    assert (rc, out) == (1, ""), err
    assert err.startswith(f"sysfake bench: cannot build the helpers in {tmp_path}/afile/cache: "
                          "Not a directory"), err


def test_list_runs_nothing(tmp_path: Path) -> None:
    rc, out, err = bench(tmp_path, "--list")
    assert (rc, err) == (0, ""), err
    lines = out.splitlines()
    assert lines[0].startswith("workload 0 startup ")
    assert any(line.startswith("contender sysfake-exec ") for line in lines)
