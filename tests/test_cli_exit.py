"""`sysfake run` and `record` exit without the interpreter's teardown (cli.entry),
and lose nothing by it: the command's status, sysfake's own output through a
pipe, the whole trace file. Other commands exit as usual."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support import child_env, describe, run_sysfake

# entry() as the console script runs it, with an atexit handler that shows
# whether the interpreter's teardown ran
PROBE = ("import atexit, sys; atexit.register(lambda: print('teardown', flush=True)); "
         "sys.argv = ['sysfake', *sys.argv[1:]]; from sysfake.cli import entry; entry()")


def _entry(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                          text=True, env=child_env(), timeout=60)


def test_run_skips_the_teardown_and_keeps_the_status_and_output() -> None:
    res = _entry(["run", "--", "sh", "-c", "echo out; echo err >&2; exit 7"])
    assert res.returncode == 7, describe(res)
    assert res.stdout == "out\n" and res.stderr == "err\n", describe(res)
    killed = _entry(["run", "--", "sh", "-c", "kill -9 $$"])
    assert killed.returncode == -9, describe(killed)  # killed as the command was
    assert "teardown" not in killed.stdout


def test_record_skips_the_teardown_and_writes_the_whole_trace(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    res = _entry(["record", "-o", str(trace), "--", "sh", "-c", "cat /proc/self/stat; exit 3"])
    assert res.returncode == 3, describe(res)
    assert "teardown" not in res.stdout
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    assert lines[0]["type"] == "header" and lines[-1]["type"] == "end"
    assert lines[-1]["exit_status"] == 3
    assert lines[-1]["events"] == len(lines) - 2 and lines[-1]["processes"] >= 2
    assert any(x.get("resolved") == "/proc/self/stat" for x in lines)


def test_other_commands_tear_down_as_usual(tmp_path: Path) -> None:
    res = _entry(["check", str(tmp_path / "missing.yaml")])
    assert res.returncode != 0 and "teardown" in res.stdout, describe(res)
    # and errors before the command starts still exit with sysfake's status
    bad = run_sysfake(["run", "--fake", "nonsense", "--", "true"])
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1, describe(bad)
