"""`sysfake run` with rules given only as flags imports only what it needs.

Start-up is most of what sysfake adds to a short command (docs/performance.md),
and most of start-up is imports. These modules used to be imported (or are
kept out on purpose) by a run whose rules are all --fake/--redirect/--hide
flags; each is needed only by another path: reading YAML, looking up profiles,
building the fake cgroup tree, syscall rules, directory listings, error
suggestions, `sysfake doctor`.

The check reads the log of `python -X importtime`, not timings. The child runs
with -S (and this interpreter's search path in PYTHONPATH), so that the log
lists every module the run imports, including those a site .pth file happens
to import before sysfake starts (a certifi .pth imports pathlib and tempfile).
"""
from __future__ import annotations

from pathlib import Path

from support import describe
from support.imports import imported as _imported
from support.imports import run_importtime

NOT_IMPORTED = (
    "yaml",  # PyYAML: only to read a rules file
    "ptrace",  # python-ptrace's syscall tables: only for syscall rules
    "sysfake.rules.validate",  # rules file validation
    "sysfake.rules.yamlpos",
    "sysfake.rules.yamlparse",
    "sysfake.rules.sysrules",
    "sysfake.rules.constants",  # the symbolic constants of syscall rules
    "sysfake.cgroupfs",  # only for a cgroupfs: key
    "sysfake.environment",  # only to pick the default profile, and for doctor
    "pathlib",  # profile lookup uses os.path
    "difflib",  # "did you mean" in error messages
    "tempfile",  # only when a directory listing is made
    "subprocess",
    "dataclasses",  # it imports inspect: sysfake.datatype instead
    "inspect",
    "shutil",  # argparse's help formatter imports it: argparsing.Formatter does not
    "_cffi_backend",  # the launcher runs the core (core.exec_launcher): Python never loads it
    "sysfake._core",
    "typing",  # 3 ms (10 in gVisor): its names are imported for type checkers only
)


def test_flag_only_run_imports_only_what_it_needs(tmp_path: Path) -> None:
    # Both files exist, so the directory already lists the redirect's source and the
    # run needs no virtual directory listing (which would rightly import tempfile).
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_text("real\n")
    dst.write_text("redirected\n")
    res = run_importtime(["-m", "sysfake", "run", "--redirect", f"{src}={dst}", "--", "true"],
                         tmp_path)
    assert res.returncode == 0, describe(res)
    imported = _imported(res.stderr)
    # the log is the whole run's: the rules were loaded and the core ran the command
    for needed in ("sysfake.cli", "sysfake.rules.loader", "sysfake.table", "sysfake.core"):
        assert needed in imported, describe(res)
    unexpected = [m for m in NOT_IMPORTED if m in imported]
    assert not unexpected, f"imported by a flag-only run: {unexpected}" + describe(res)


def test_profile_run_with_a_cgroup_tree_imports_no_tempfile(tmp_path: Path) -> None:
    # the gvisor profile builds the fake cgroup tree in a private directory
    # (tempdirs.make, not tempfile.mkdtemp) and reads the profile from its snapshot
    res = run_importtime(["-m", "sysfake", "run", "--profile", "gvisor", "--", "true"],
                         tmp_path)
    assert res.returncode == 0, describe(res)
    imported = _imported(res.stderr)
    assert "sysfake.cgroupfs" in imported, describe(res)
    unexpected = [m for m in ("tempfile", "shutil", "random", "yaml", "dataclasses", "typing")
                  if m in imported]
    assert not unexpected, f"imported by a gvisor-profile run: {unexpected}" + describe(res)
