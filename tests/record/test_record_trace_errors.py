"""A trace that cannot be written: one line before anything starts, or a
warning after the command ran (whose exit status sysfake keeps). Never a
traceback."""
from __future__ import annotations

import json
import resource
import subprocess
from pathlib import Path

from support import child_env, describe, run_sysfake, sysfake_cmd

LOOP = 'i=0; while [ $i -lt 300 ]; do cat /etc/hostname >/dev/null; i=$((i+1)); done; exit 7'


def test_a_trace_file_that_takes_no_header_stops_before_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    res = run_sysfake(["record", "-o", "/dev/full", "--", "sh", "-c", f"touch {marker}"])
    assert res.returncode == 2, describe(res)
    assert res.stderr == "sysfake: cannot write /dev/full: No space left on device\n", \
        describe(res)
    assert not marker.exists()  # the command never started


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))  # Python ignores SIGXFSZ


def test_a_trace_that_fills_up_warns_and_keeps_the_commands_status(tmp_path: Path) -> None:
    trace = tmp_path / "small.trace"
    res = subprocess.run(sysfake_cmd(["record", "-o", str(trace), "--", "sh", "-c", LOOP]),
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                         env=child_env(), preexec_fn=_limit_file_size, check=False)
    assert res.returncode == 7, describe(res)
    assert "Traceback" not in res.stderr, describe(res)
    lines = res.stderr.splitlines()
    assert lines and all(ln.startswith("sysfake: warning: writing the trace failed: ")
                         for ln in lines), describe(res)
    assert "File too large" in lines[0]
    # what was written before the limit is the trace's start, header first
    data = trace.read_bytes()
    assert 0 < len(data) <= 8192
    assert json.loads(data.split(b"\n", 1)[0])["type"] == "header"


def test_a_trace_reader_that_goes_away_is_a_plain_warning(tmp_path: Path) -> None:
    """A trace on a pipe whose reader went away warned "[Errno 32] Broken
    pipe", Python's words: the system's are "Broken pipe"."""
    proc = subprocess.Popen(
        sysfake_cmd(["record", "-o", "/dev/stdout", "--watch", "/etc", "--",
                     "sh", "-c", "sleep 1; " + LOOP]),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=child_env())
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert json.loads(proc.stdout.readline())["type"] == "header"
        proc.stdout.close()  # the reader goes away while the command runs
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 7, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert err == "sysfake: warning: writing the trace failed: Broken pipe\n"
