#!/usr/bin/env python3
"""Run one container-runtime scenario in a fresh gVisor sandbox and print everything.

    python tests/gvisor_runtimes/investigate.py SCENARIO [--profile P] [--rules F]
                                                [--no-profile] [-v] [--keep] [--timeout S]

SCENARIO is one of the names `--list` prints (runc, runc-limits, crun, ctr,
ctr-exit7, ctr-crun, negative-runc). Without --profile/--rules sysfake
chooses its profile itself (as in the acceptance tests); -v adds
`sysfake run -v` (every tracer decision on stderr). The script, runsc's
exit status and the whole sandbox output are printed; --keep leaves the
bundle and config directory in place and prints its path.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gvisor_runtimes.helpers import (
    SANDBOX_LIMIT,
    SCENARIOS,
    run_scenario,
    scenario_script,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", help="scenario name (--list)")
    ap.add_argument("--list", action="store_true", help="list the scenarios")
    ap.add_argument("--profile", action="append", default=[], help="sysfake --profile NAME")
    ap.add_argument("--rules", action="append", default=[], help="sysfake --rules FILE")
    ap.add_argument("--no-profile", action="store_true", help="sysfake --no-profile")
    ap.add_argument("--disable-rule", action="append", default=[],
                    help="sysfake --disable-rule ID (a rule id or an emulation)")
    ap.add_argument("-v", "--verbose", action="store_true", help="sysfake run -v")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--timeout", type=float, default=SANDBOX_LIMIT,
                    help=f"bound for the whole sandbox (default {SANDBOX_LIMIT:g} s)")
    ap.add_argument("--busybox", default=shutil.which("busybox") or "/bin/busybox")
    ns = ap.parse_args(argv)
    if ns.list or not ns.scenario:
        for name, what in SCENARIOS.items():
            print(f"{name:14} {what}")
        return 0 if ns.list else 2
    opts: list[str] = []
    for p in ns.profile:
        opts += ["--profile", p]
    for r in ns.rules:
        opts += ["--rules", str(Path(r).resolve())]
    for d in ns.disable_rule:
        opts += ["--disable-rule", d]
    if ns.no_profile:
        opts.append("--no-profile")
    if ns.verbose:
        opts.append("-v")
    work = Path(tempfile.mkdtemp(prefix=f"sysfake-investigate-{ns.scenario}-"))
    try:
        script = scenario_script(ns.scenario, work, ns.busybox, opts)
        print(f"=== scenario {ns.scenario}: {SCENARIOS[ns.scenario]}")
        print(f"=== work directory {work}")
        print("=== script")
        print(script, end="")
        res = run_scenario(script, timeout=ns.timeout)
        print(f"=== runsc exit status {res.status}"
              + (" (the sandbox timed out)" if res.status in (124, 137) else ""))
        print("=== sandbox output")
        print(res.output, end="" if res.output.endswith("\n") or not res.output else "\n")
        print(f"=== runtime exit status {res.rc}")
        return 0
    finally:
        if ns.keep:
            print(f"=== kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
