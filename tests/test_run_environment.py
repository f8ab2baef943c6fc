"""The traced command gets sysfake's environment as sysfake was started with
it: Python's locale coercion (PEP 538 sets LC_CTYPE=C.UTF-8 in a C locale)
does not reach it (src/sysfake/tracee_env.py).

Each case starts sysfake with only the locale variables it names and checks
the locale variables the traced command was started with (its
/proc/self/environ) under run (the C launcher, the core kept in Python, the
reference backend), under record, and inside gVisor.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from support import child_env, describe, run_in_gvisor, sysfake_cmd, without_launcher

# (locale variables sysfake starts with, what the traced command must see)
CASES = {
    "no-locale": ({}, {}),
    "ctype-C": ({"LC_CTYPE": "C"}, {"LC_CTYPE": "C"}),
    "ctype-POSIX": ({"LC_CTYPE": "POSIX"}, {"LC_CTYPE": "POSIX"}),
    "lang-C": ({"LANG": "C"}, {"LANG": "C"}),
    "lang-not-installed": ({"LANG": "xx_YY.UTF-8"}, {"LANG": "xx_YY.UTF-8"}),
    "ctype-C.UTF-8-given": ({"LC_CTYPE": "C.UTF-8"}, {"LC_CTYPE": "C.UTF-8"}),
    "lang-C.UTF-8": ({"LANG": "C.UTF-8"}, {"LANG": "C.UTF-8"}),
    "lc-all-C": ({"LC_ALL": "C"}, {"LC_ALL": "C"}),
    "no-coercion": ({"PYTHONCOERCECLOCALE": "0"}, {}),
}


def _env(start: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in child_env().items()
           if not (k.startswith("LC_") or k in ("LANG", "PYTHONCOERCECLOCALE"))}
    env.update(start)
    return env


def _seen(out: str) -> dict[str, str]:
    return dict(json.loads(out.strip().splitlines()[-1]))


def _python_printer() -> list[str]:
    # a Python coerces its own os.environ: print what exec handed it
    return [sys.executable, "-c",
            "import json; d = open('/proc/self/environ', 'rb').read().split(b'\\0'); "
            "kv = [x.decode().split('=', 1) for x in d if b'=' in x]; "
            "print(json.dumps({k: v for k, v in kv if k.startswith('LC_') or k == 'LANG'}))"]


@pytest.mark.parametrize("mode", ["launcher", "core-in-python", "python-backend", "record"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_traced_command_gets_the_locale_sysfake_was_given(case: str, mode: str,
                                                             tmp_path: Path) -> None:
    start, want = CASES[case]
    env = _env(start)
    if mode == "record":
        args = ["record", "-o", str(tmp_path / "t.jsonl"), "--"]
    elif mode == "python-backend":
        args = ["run", "--no-profile", "--backend", "python", "--"]
    else:
        args = ["run", "--no-profile", "--"]
    if mode == "core-in-python":  # no launcher beside the core: run() keeps the core
        env["PYTHONPATH"] = without_launcher(tmp_path)["PYTHONPATH"]
    res = subprocess.run(sysfake_cmd([*args, *_python_printer()]), capture_output=True,
                         text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
                         check=False)
    assert res.returncode == 0, describe(res)
    assert _seen(res.stdout) == want, describe(res)


def test_an_env_given_to_the_api_is_used_as_it_is(tmp_path: Path) -> None:
    # coerced-looking but handed over explicitly: kept
    script = ("import sys; from sysfake.core import run; from sysfake.table import encode; "
              "from sysfake.model import RuleSet; "
              "sys.exit(run(encode(RuleSet([], [])), sys.argv[1:], "
              "{'LC_CTYPE': 'C.UTF-8', 'PATH': '/usr/bin:/bin'}))")
    res = subprocess.run([sys.executable, "-c", script, *_python_printer()],
                         capture_output=True, text=True, env=_env({}), timeout=60,
                         stdin=subprocess.DEVNULL, check=False)
    assert res.returncode == 0, describe(res)
    assert _seen(res.stdout) == {"LC_CTYPE": "C.UTF-8"}, describe(res)


@pytest.mark.gvisor
def test_in_gvisor_the_traced_command_gets_the_locale_sysfake_was_given() -> None:
    lines = []
    for case in ("no-locale", "ctype-C", "lang-C.UTF-8"):
        start, _ = CASES[case]
        sets = " ".join(f"{k}={shlex.quote(v)}" for k, v in start.items())
        unset = "-u LC_ALL -u LANG -u LC_CTYPE -u PYTHONCOERCECLOCALE"
        cmd = shlex.join(sysfake_cmd(["run", "--", *_python_printer()]))
        lines.append(f"env {unset} {sets} {cmd}")
    rc, out = run_in_gvisor(["sh", "-c", "; ".join(lines)], timeout=120)
    assert rc == 0, out
    got = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert got == [CASES[c][1] for c in ("no-locale", "ctype-C", "lang-C.UTF-8")], out


def test_python_itself_coerces_here() -> None:
    # what the cases rely on: without the repair, a C locale would show C.UTF-8
    res = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('LC_CTYPE'))"],
                         capture_output=True, text=True, env=_env({}), timeout=30, check=False)
    assert res.stdout.strip() in ("C.UTF-8", "C.utf8", "UTF-8"), describe(res)
    assert os.path.exists("/proc/self/environ")
