"""Issue 5 acceptance: runc, crun and containerd run a container inside gVisor
under `sysfake run` with no rules given (the detected gVisor profile).

Each test runs ONE fresh `runsc --platform=ptrace --network=none do`. The
container's process is `cat /proc/sys/kernel/cap_last_cap`; it must print
exactly `40` and the runtime must exit with the container's status. Wall
clock limits are enforced with `timeout -k 5 N` inside the sandbox (status
124/137 means the run hung), never with a timed assertion.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import (
    CAP,
    CAP_VALUE,
    CONTAINERD_LIMIT,
    RUNTIME_LIMIT,
    Result,
    containerd_config,
    ctr_script,
    make_bundle,
    make_rootfs,
    measured_script,
    run_scenario,
    scenario_script,
    sysfake_run,
)

pytestmark = pytest.mark.gvisor

HUNG = (124, 137)  # timeout's status after TERM, after KILL


def _check(res: Result, *, rc: int, stdout: str, limit: float) -> None:
    assert res.status == 0, "the sandbox did not finish the script" + res.describe()
    assert res.rc is not None, "the scenario never reported a status" + res.describe()
    assert res.rc not in HUNG, (f"the run did not end within {limit:g} s (hang)"
                                + res.describe())
    assert (res.rc, res.stdout) == (rc, stdout), res.describe()


def _scenario(name: str, work: Path, busybox: str) -> Result:
    return run_scenario(scenario_script(name, work, busybox))


# ---------------------------------------------------------------- 1, 2: runc

def test_runc_run(runtime_tools: Callable[[str], str], work: Path) -> None:
    """1. sysfake run -- runc --root R run ID: prints 40, exits 0, within 20 s."""
    res = _scenario("runc", work, runtime_tools("runc"))
    _check(res, rc=0, stdout=CAP_VALUE, limit=RUNTIME_LIMIT)


def test_runc_run_with_compiled_rules(runtime_tools: Callable[[str], str], work: Path) -> None:
    """1 again, without Python at run time: `sysfake compile --profile gvisor`
    in the sandbox, then `DIR/sysfake-exec -- runc ... run` (docs/compile.md)."""
    res = run_scenario(scenario_script("runc", work, runtime_tools("runc"), compiled=True))
    _check(res, rc=0, stdout=CAP_VALUE, limit=RUNTIME_LIMIT)


def test_runc_run_with_limits(runtime_tools: Callable[[str], str], work: Path) -> None:
    """2. The same with cpu (shares 512: shorter than the default 1024), pids and
    memory limits in config.json."""
    res = _scenario("runc-limits", work, runtime_tools("runc-limits"))
    _check(res, rc=0, stdout=CAP_VALUE, limit=RUNTIME_LIMIT)


# ---------------------------------------------------------------- 3: crun

def test_crun_run(runtime_tools: Callable[[str], str], work: Path) -> None:
    """3. sysfake run -- crun --root R run ID: prints 40, exits 0."""
    res = _scenario("crun", work, runtime_tools("crun"))
    _check(res, rc=0, stdout=CAP_VALUE, limit=RUNTIME_LIMIT)


# ---------------------------------------------------------------- 4: containerd

def test_ctr_run(runtime_tools: Callable[[str], str], work: Path) -> None:
    """4. containerd (CRI disabled) and ctr run --rootfs under one sysfake."""
    res = _scenario("ctr", work, runtime_tools("ctr"))
    _check(res, rc=0, stdout=CAP_VALUE, limit=CONTAINERD_LIMIT)


def test_ctr_run_exit_status(runtime_tools: Callable[[str], str], work: Path) -> None:
    """4. sh -c 'cat ...; exit 7' in the container: ctr exits 7."""
    res = _scenario("ctr-exit7", work, runtime_tools("ctr-exit7"))
    # containerd reads /proc/<pid>/cgroup of the container's processes (traced):
    # they see the fake, so containerd finds their cgroups.
    assert "loading cgroup for" not in res.output, res.describe()
    _check(res, rc=7, stdout=CAP_VALUE, limit=CONTAINERD_LIMIT)


def test_ctr_run_with_crun(runtime_tools: Callable[[str], str], work: Path) -> None:
    """4. ctr run --runc-binary crun: the shim drives crun instead of runc."""
    res = _scenario("ctr-crun", work, runtime_tools("ctr-crun"))
    _check(res, rc=0, stdout=CAP_VALUE, limit=CONTAINERD_LIMIT)


# ---------------------------------------------------------------- 5: negative control

def test_negative_control_runc_without_sysfake(runtime_tools: Callable[[str], str],
                                                work: Path) -> None:
    """5. Without sysfake, runc fails on the missing cgroup mounts."""
    res = _scenario("negative-runc", work, runtime_tools("negative-runc"))
    assert res.status == 0, res.describe()
    assert (res.rc, res.stdout) == (1, ""), res.describe()
    assert re.search(r'level=error msg="runc run failed: no cgroup mount found in mountinfo"',
                     res.stderr), res.describe()


# ---------------------------------------------------------------- 6: no hang

def test_sysfake_exits_when_command_exits_with_daemons_left(
        runtime_tools: Callable[[str], str], work: Path) -> None:
    """6. `sysfake run` ends on its own when its command ends, even though the
    command leaves containerd and its shim running (they are terminated), and
    nothing of the run is left in the sandbox afterwards."""
    busybox = runtime_tools("ctr")
    rootfs = make_rootfs(work / "rootfs", busybox)
    ctd = containerd_config(work / "containerd.toml")
    script = ctr_script(ctd, rootfs, ["/bin/cat", "/proc/sys/kernel/cap_last_cap"],
                        sysfake=sysfake_run(), leave_containerd=True)
    script += ("echo @@procs@@\n"
               "for p in /proc/[0-9]*; do [ \"${p#/proc/}\" = $$ ] || "
               "cat $p/comm 2>/dev/null; done\n")
    res = run_scenario(script)
    _check(res, rc=0, stdout=CAP_VALUE, limit=CONTAINERD_LIMIT)
    left = sorted(set(res.sections.get("procs", "").split()) - {"sh", "cat"})
    assert left == [], f"processes left after sysfake exited: {left}" + res.describe()


# ---------------------------------------------------------------- 7: runc kill

def test_runc_kill_reaches_a_busy_container(runtime_tools: Callable[[str], str],
                                            work: Path) -> None:
    """7. `runc kill ID TERM` ends a container whose process is busy with
    calls that stop for the tracer (reading the faked cap_last_cap in a
    loop), three times over. gVisor leaves a signal sent to a tracee in a
    ptrace stop pending, so before sysfake toggled the receiver's mask
    (docs/safety.md) such a kill was lost about a third of the time and
    `runc run` never returned. The container traps TERM (as init in its PID
    namespace it would otherwise ignore it on Linux) and exits 3."""
    busy = ("trap 'exit 3' TERM; echo up > /tmp/up; "
            f"while :; do read x < {CAP}; done")
    bundle = make_bundle(work / "bundle", runtime_tools("runc"), ["sh", "-c", busy])
    up = shlex.quote(str(bundle / "rootfs" / "tmp" / "up"))
    root = shlex.quote(str(work / "state"))
    inner = f"""for i in 1 2 3; do
  rm -f {up}
  runc --root {root} run t$i & r=$!
  while [ ! -e {up} ]; do sleep 0.1; done
  sleep 0.5
  runc --root {root} kill t$i TERM
  wait $r
  echo "rc$i=$?"
  runc --root {root} delete -f t$i 2>/dev/null
done
"""
    script = measured_script(f"{sysfake_run()} sh -c {shlex.quote(inner)}", bundle,
                             3 * RUNTIME_LIMIT)
    res = run_scenario(script)
    _check(res, rc=0, stdout="rc1=3\nrc2=3\nrc3=3\n", limit=3 * RUNTIME_LIMIT)
