"""Linking new children to their creators inside gVisor, whose fork events
name a child in its creator's PID namespace (docs/core.md, section 4, "Exact ids").

A creator in the tracer's own namespace gives exact ids, and the tracer then
reads no /proc/PID/status to link its children; a creator moved into another
namespace (by clone flags, unshare or setns) must still be matched by /proc
facts: test_run_namespaces.py's nested namespaces, made by `unshare -pf`
and by clone(CLONE_NEWPID) (tests/progs/newpid.c)."""
from __future__ import annotations

import re

import pytest

from support import require, run_in_gvisor, sysfake_cmd
from support.fakes import CAP, CAP_TEXT_GVISOR, fake, run

STATUS_OPEN = re.compile(r'openat\([^\n]*"/proc/\d+/status"')


@pytest.mark.gvisor
@pytest.mark.parametrize("rule", [fake(CAP, CAP_TEXT_GVISOR),
                                  ["--redirect", f"{CAP}=/etc/hostname"]], ids=["fake", "redirect"])
def test_forks_in_the_tracers_namespace_read_no_status_in_gvisor(rule: list[str]) -> None:
    # Two status reads a fork before: 22 for this loop. The children open no
    # virtual file but the last (whose credentials are then read, once).
    loop = f"for i in 1 2 3 4 5 6 7 8 9 10; do cat /dev/null; done; cat {CAP} >/dev/null"
    cmd = [require("strace"), "-qq", "-o", "|cat >&2", "-e", "signal=none", "-e",
           "trace=openat", *sysfake_cmd(["run", "--backend=c", "--no-profile",
                                         *run(rule, cmd=["sh", "-c", loop])[1:]])]
    rc, out = run_in_gvisor(cmd)
    assert rc == 0, out
    # left: the probe's own (does the kernel show NSpid?) and the last cat's
    assert len(STATUS_OPEN.findall(out)) <= 2, out

