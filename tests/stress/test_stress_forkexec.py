"""10,000 fork+exec cycles (also in CI; SYSFAKE_STRESS_SCALE=5 gives 50,000)
from several parallel shells, each cycle a static program that opens the
faked file and checks its content.

Afterwards: every cycle saw the fake, sysfake's memory did not grow past
MEM_BOUND over a short baseline run of the same shape, and no process is
left traced, stopped or zombie.
"""
from __future__ import annotations

import subprocess
import time

import pytest
from stress_support import RssSampler, StressProgs, bad_states, marked_pids, scaled

from support import describe, start_sysfake
from support.fakes import CAP, CAP_TEXT, fake, run

SHELLS = 4
#: Total fork+exec cycles (scaled by SYSFAKE_STRESS_SCALE). About 6 s on 2 vCPUs.
CYCLES = 10000
BASELINE_CYCLES = 40
#: Peak RSS of sysfake (the Python process that hosts the C tracer) during the
#: long run may exceed the peak of the short baseline run by at most this much.
#: A leak of 1 KiB per traced process would show as ~10 MiB in CI, and a
#: leaked struct sf_proc (8 KiB) per cycle as 80 MiB.
MEM_BOUND = 4 * 1024 * 1024


def _script(check: str, per_shell: int) -> str:
    one = (f"i=0; ok=0; while [ $i -lt {per_shell} ]; do "
           f"{check} {CAP} '{CAP_TEXT}' && ok=$((ok+1)); i=$((i+1)); done; echo $ok")
    return " & ".join(f"( {one} )" for _ in range(SHELLS)) + " & wait"


def _run(sprogs: StressProgs, per_shell: int, timeout: float) -> tuple[str, int, float]:
    args = run(fake(CAP, CAP_TEXT), cmd=["sh", "-c", _script(sprogs.static("hammer") + " check",
                                                               per_shell)])
    t0 = time.monotonic()
    proc = start_sysfake(args)
    with RssSampler(proc.pid) as rss:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"fork+exec storm did not finish within {timeout}s\n{err}")
    elapsed = time.monotonic() - t0
    res = subprocess.CompletedProcess(args, proc.returncode, out, err)
    assert proc.returncode == 0, describe(res)
    counts = sorted(int(x) for x in out.split())
    assert counts == [per_shell] * SHELLS, describe(res)
    return out, rss.peak, elapsed


def test_fork_exec_storm_memory_and_leftovers(sprogs: StressProgs, marker: str) -> None:
    total = scaled(CYCLES)
    per_shell = max(1, total // SHELLS)
    _, base_peak, base_t = _run(sprogs, BASELINE_CYCLES // SHELLS, timeout=60)
    _, peak, elapsed = _run(sprogs, per_shell, timeout=60 + total * 0.05)
    rate = per_shell * SHELLS / elapsed
    print(f"\nfork+exec cycles: {per_shell * SHELLS} in {elapsed:.1f}s ({rate:.0f}/s); "
          f"sysfake peak RSS {peak / 2**20:.1f} MiB, baseline {base_peak / 2**20:.1f} MiB "
          f"({BASELINE_CYCLES} cycles, {base_t:.1f}s)")
    assert peak - base_peak <= MEM_BOUND, (
        f"sysfake RSS grew by {(peak - base_peak) / 2**20:.1f} MiB "
        f"(bound {MEM_BOUND / 2**20:.0f} MiB) over {per_shell * SHELLS} fork+exec cycles")
    # nothing of the run is left, and nothing is traced, stopped or zombie
    left = marked_pids(marker)
    assert not bad_states(left), bad_states(left)
    assert not left, f"processes left after sysfake returned: {left}"
