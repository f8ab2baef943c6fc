"""`sysfake run` error handling: missing command, bad options."""
from __future__ import annotations

from pathlib import Path

import pytest

from support import describe, run_sysfake
from support.fakes import CAP, CAP_TEXT, fake, run


def _one_line(stderr: str) -> str:
    # Warnings the user opted into (e.g. "--backend python is the slow
    # reference tracer") are not part of the error.
    lines = [ln for ln in stderr.splitlines()
             if ln.strip() and not ln.startswith("sysfake: warning:")]
    assert len(lines) == 1, f"expected a one-line error, got:\n{stderr}"
    return lines[0]


@pytest.mark.parametrize("cmd", ["/nonexistent/sfk-no-such-cmd", "sfk-no-such-cmd"])
def test_command_not_found(cmd: str) -> None:
    res = run_sysfake(run(fake(CAP, CAP_TEXT), cmd=[cmd, "arg"]))
    assert res.returncode == 127, describe(res)
    assert res.stdout == "", describe(res)
    assert "Traceback" not in res.stderr, describe(res)
    line = _one_line(res.stderr)
    assert "sfk-no-such-cmd" in line, describe(res)


def test_command_not_found_in_child_is_the_shells_business() -> None:
    res = run_sysfake(run(cmd=["sh", "-c", "sfk-no-such-cmd"]))
    assert res.returncode == 127, describe(res)
    assert "sfk-no-such-cmd" in res.stderr, describe(res)


@pytest.mark.parametrize("args", [
    pytest.param(["run", "--fake", "no-equals-sign", "--", "true"], id="fake-without-equals"),
    pytest.param(["run", "--fake", "relative/path=x", "--", "true"], id="fake-relative-path"),
    pytest.param(["run", "--redirect", "/proc/sys/net/", "--", "true"], id="redirect-no-target"),
    pytest.param(["run", "--hide", "relative", "--", "true"], id="hide-relative"),
    pytest.param(["run", "--backend", "fortran", "--", "true"], id="bad-backend"),
    pytest.param(["run", "--orphans=ignore", "--", "true"], id="bad-orphans"),
    pytest.param(["run", "--grace", "soon", "--", "true"], id="bad-grace"),
    pytest.param(["run", "--no-such-option", "--", "true"], id="unknown-option"),
    pytest.param(["run", "--fake", f"{CAP}=x"], id="no-command"),
    pytest.param(["run", "--", ], id="empty-command"),
    pytest.param(["run", "--rules", "/nonexistent/sfk-rules.yaml", "--", "true"],
                 id="missing-rules-file"),
])
def test_bad_cli_input(args: list[str]) -> None:
    res = run_sysfake(args)
    assert res.returncode == 2, describe(res)
    assert "Traceback" not in res.stderr, describe(res)
    _one_line(res.stderr)


def test_bad_rules_file_content(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("this: [is, not: valid\n")
    res = run_sysfake(["run", "--rules", str(rules), "--", "true"])
    assert res.returncode == 2, describe(res)
    assert "Traceback" not in res.stderr, describe(res)


@pytest.mark.parametrize("cmd", ["run", "compile", "check", "explain"])
def test_a_command_alone_parses_as_with_every_command(cmd: str) -> None:
    # `sysfake run ...` builds only run's sub-parser (cli._COMMANDS): its usage,
    # help and defaults are those of the full parser's
    import argparse

    from sysfake import cli

    def sub(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
        action = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
        parser: argparse.ArgumentParser = action.choices[cmd]
        return parser

    alone, full = cli._build(cmd), cli._build()
    assert sub(alone).format_help() == sub(full).format_help()
    args = {"run": ["run", "--", "true"], "compile": ["compile", "-o", "d"],
            "check": ["check", "f"], "explain": ["explain", "/p"]}[cmd]
    assert alone.parse_args(args) == full.parse_args(args)
    assert list(sub(full).prog.split()) == ["sysfake", cmd]
    assert "doctor" in full.format_help() and "doctor" not in alone.format_help()


@pytest.mark.parametrize("columns", ["", "50", "130", "junk"])
def test_help_is_as_wide_as_argparses_own(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # argparsing.Formatter finds the width without shutil; the help must not change
    import argparse

    from sysfake import cli

    monkeypatch.setenv("COLUMNS", columns)
    ours = cli._build()
    theirs = cli._build()
    for ap in [theirs, *(a for act in theirs._actions
                         if isinstance(act, argparse._SubParsersAction)
                         for a in act.choices.values())]:
        ap.formatter_class = argparse.HelpFormatter
    assert ours.format_help() == theirs.format_help()
    assert cli._build("run").format_usage() == theirs.format_usage()
    sub = next(a for a in theirs._actions if isinstance(a, argparse._SubParsersAction))
    run_ours = next(a for a in cli._build("run")._actions
                    if isinstance(a, argparse._SubParsersAction)).choices["run"]
    assert run_ours.format_help() == sub.choices["run"].format_help()
