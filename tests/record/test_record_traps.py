"""Record mode's extra traps (sysfake.record.syscalls.TRAPPED): prlimit64 is
trapped only when it sets a limit (ONLY_WHEN_SET), so the read glibc makes in
every process costs no stop. A read that fails would be recorded if it were
trapped (EINVAL is a recorded errno): its absence shows it was not."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support import describe, run_sysfake, run_then_python_in_gvisor, sysfake_cmd
from support.progs import Progs

# the new-limit pointer of rlimits.c's second failing set: its low 32 bits
# are zero
HIGH_ONLY = 0x700000000


def _prlimits(trace: Path) -> list[dict[str, Any]]:
    evs = [json.loads(line) for line in trace.read_text().splitlines()]
    return [e for e in evs if e.get("syscall") == "prlimit64"]


def test_only_the_sets_of_prlimit64_are_trapped(progs: Progs, tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    res = run_sysfake(["record", "-o", str(trace), "--", progs["rlimits"]])
    assert (res.returncode, res.stdout) == (0, "0 -1 -1 -1\nrlimits ok\n"), describe(res)
    recs = _prlimits(trace)
    assert [(e["result"], e["errno"]) for e in recs] == [(-22, "EINVAL")] * 2, recs
    assert [e["args"][1]["value"] for e in recs] == [7, 7]  # RLIMIT_NOFILE, not 999
    assert recs[1]["args"][2]["value"] == HIGH_ONLY


def test_only_the_sets_of_prlimit64_are_trapped_in_gvisor(progs: Progs, tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"  # in the sandbox's overlay: read there
    show = ("import json,sys\n"
            "ev=[json.loads(l) for l in open(sys.argv[1])]\n"
            "print('prlimit64', [(e['args'][1]['value'], e['args'][2]['value'], e['errno'])"
            " for e in ev if e.get('syscall')=='prlimit64'])\n")
    cmd = sysfake_cmd(["record", "-o", str(trace), "--", progs["rlimits"]])
    rc, out = run_then_python_in_gvisor(cmd, show, str(trace))
    assert rc == 0, out[-2000:]
    assert "rlimits ok\nexit=0\n" in out, out[-2000:]
    line = next((x for x in out.splitlines() if x.startswith("prlimit64 ")), "")
    assert line.endswith(f", (7, {HIGH_ONLY}, 'EINVAL')]"), out[-2000:]
    assert line.count("EINVAL") == 2, out[-2000:]
