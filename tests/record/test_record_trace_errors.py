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
