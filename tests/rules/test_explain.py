from __future__ import annotations

from pathlib import Path

import pytest

from sysfake.rules import cmd_check, cmd_explain

from .helpers import write

RULES = """\
version: 1
rules:
  - match: /proc/sys/
    errno: EACCES
  - match: /proc/sys/net/
    redirect: /var/lib/sysfake/net/
  - match: /proc/sys/vm/overcommit_memory
    content: "1\\n"
    only: {exe: "*/runc"}
  - match: /proc/sys/vm/overcommit_memory
    content: "0\\n"
    mode: "0444"
    readonly: true
  - match: /etc/gone
    from_host: /nonexistent/host/file
"""


@pytest.fixture
def rules(tmp_path: Path) -> str:
    return write(tmp_path, "r.yaml", RULES)


def test_check_prints_table(rules: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_check([rules]) == 0
    out = capsys.readouterr().out.splitlines()
    table = [ln for ln in out if ln[:3].strip().isdigit()]
    assert len(table) == 4
    assert "exact" in table[0] and "[only exe=*/runc]" in table[0] and f"{rules}:7:5" in table[0]
    assert 'content "0\\n" (2 bytes, mode 0444, readonly)' in table[1]
    assert "prefix" in table[2] and "redirect -> /var/lib/sysfake/net/" in table[2]
    assert "errno EACCES (13, Permission denied)" in table[3]
    assert any(ln.startswith("note: ") and "skipped" in ln for ln in out)
    assert out[-1] == "ok: 4 rules from 1 file"


def test_check_error_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad.yaml", "version: 1\nrules: [{match: /a, errno: ENOENTT}]\n")
    assert cmd_check([bad]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean ENOENT" in err and f"{bad}:2:" in err


def test_check_profile_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_check(["proc-sys-basics"]) == 0
    assert "/proc/sys/kernel/cap_last_cap" in capsys.readouterr().out


def test_explain_winner_and_losers(rules: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_explain("/proc/sys/vm/overcommit_memory", [rules], [], [], [], None, None, []) == 0
    out = capsys.readouterr().out
    assert f"decided by: {rules}:10:5 rules[3]: exact /proc/sys/vm/overcommit_memory" in out
    assert 'the process sees: virtual file with content "0\\n"' in out
    assert "only: exe=*/runc and no --exe was given" in out
    assert "an exact path beats a prefix" in out


def test_explain_only_and_cli_override(rules: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_explain("/proc/sys/vm/overcommit_memory", [rules], [], [], [],
                       "/usr/bin/runc", "runc", []) == 0
    assert 'content "1\\n"' in capsys.readouterr().out
    assert cmd_explain("/proc/sys/vm/overcommit_memory", [rules],
                       ["/proc/sys/vm/overcommit_memory=2\\n"], [], [], None, None, []) == 0
    out = capsys.readouterr().out
    assert "decided by: --fake '/proc/sys/vm/overcommit_memory=2\\n': exact" in out
    assert "overridden by --fake" in out


def test_explain_redirect_errno_hide_unmatched(rules: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    cmd_explain("/proc/thread-self/../../proc/sys/net/ipv4/ip_forward", [rules], [], [], [],
                None, None, [])
    out = capsys.readouterr().out
    assert "path: /proc/sys/net/ipv4/ip_forward" in out
    assert "/var/lib/sysfake/net/ipv4/ip_forward (redirected)" in out
    assert "a longer prefix wins" in out
    cmd_explain("/proc/sys/kernel/pid_max", [rules], [], [], [], None, None, [])
    assert "every access fails with EACCES" in capsys.readouterr().out
    cmd_explain("/etc/x", [rules], [], [], ["/etc/x"], None, None, [])
    assert "no such file: ENOENT" in capsys.readouterr().out
    cmd_explain("/etc/gone", [rules], [], [], [], None, None, [])
    out = capsys.readouterr().out
    assert "not matched: the real file" in out and "skipped: host file" in out


def test_explain_errors(rules: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_explain("relative", [rules], [], [], [], None, None, []) == 2
    assert cmd_explain("/a", [rules], ["oops"], [], [], None, None, []) == 2
    assert cmd_explain("/a", [], [], [], [], None, None, ["nope"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 3 and "Traceback" not in err
