"""libFuzzer on the C table parser and matcher (csrc/fuzz/fuzz_table.c) for
~20 s: no crash, no sanitizer report, no disagreement between sf_table_check
and sf_match_path."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from stress_support import scale

from support import child_env, missing, require

RUN_SH = Path(__file__).resolve().parents[2] / "csrc" / "fuzz" / "run.sh"
SECONDS = 20


def test_fuzz_table_parser(tmp_path: Path) -> None:
    require("clang")
    secs = int(SECONDS * max(1.0, scale()))
    env = child_env({"FUZZ_DIR": str(tmp_path), "CC": "clang"})
    env.pop("LD_PRELOAD", None)  # the sanitizer CI pass preloads gcc's ASan
    try:
        res = subprocess.run(["bash", str(RUN_SH), str(secs)], capture_output=True, text=True,
                             timeout=secs + 120, env=env, stdin=subprocess.DEVNULL,
                             check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("the fuzzer did not stop after -max_total_time")
    log = res.stdout + res.stderr
    if res.returncode != 0 and "-fsanitize=fuzzer" in log and not (tmp_path / "fuzz_table"
                                                                   ).exists():
        missing(f"cannot build the libFuzzer target (install libclang-rt-14-dev):\n{log[-2000:]}")
    crashes = list((tmp_path / "artifacts").glob("*"))
    assert res.returncode == 0 and not crashes, (
        f"fuzzer found a problem (artifacts: {crashes}):\n{log[-6000:]}")
    assert "Done" in log, log[-2000:]
