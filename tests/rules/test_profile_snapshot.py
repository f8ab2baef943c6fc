"""The shipped profiles' parsed trees (rules/profile_snapshot.py).

The snapshot must be what the generator makes of rules/*.yaml now (so an
edited profile fails here until `python -m sysfake.rules.profile_snapshot`
is run), its trees must be PyYAML's, a profile must load to the same table
either way, and `sysfake run` must read a shipped profile without importing
PyYAML, while any other text is still parsed.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import describe
from support.imports import imported, run_importtime
from sysfake.profiles import profile_file
from sysfake.rules import load_text_detailed
from sysfake.rules import profile_snapshot as snap
from sysfake.rules.yamlparse import parse as parse_yaml
from sysfake.table import encode

PROFILES = ["minimal", "proc-sys-basics", "cgroup-v1", "gvisor", "k3s"]


def test_snapshot_is_current() -> None:
    files = snap.shipped_files()
    assert sorted(os.path.basename(f)[:-5] for f in files) == sorted(PROFILES)
    module = Path(snap.__file__).with_name(snap.MODULE)
    assert module.read_text() == snap.snapshot_source(files), (
        "rules/*.yaml changed: run `python -m sysfake.rules.profile_snapshot`")


@pytest.mark.parametrize("name", PROFILES)
def test_snapshot_tree_is_pyyamls(name: str) -> None:
    path = profile_file(name)
    assert path is not None
    text = Path(path).read_text()
    found, tree = snap.lookup(text)
    assert found
    assert tree == parse_yaml(text, path)  # positions, values, texts and styles
    assert snap.lookup(text + "\n")[0] is False  # any other text is not in it


@pytest.mark.parametrize("name", PROFILES)
def test_profile_loads_to_the_same_table_either_way(name: str) -> None:
    path = profile_file(name)
    assert path is not None
    text = Path(path).read_text()
    base = os.path.dirname(path)
    from_snapshot = load_text_detailed(text, path, base)
    # a comment line more at the end: not in the snapshot, so PyYAML parses it
    # (the same positions); included profiles still come from the snapshot
    parsed = load_text_detailed(text + "# not shipped\n", path, base)
    assert encode(from_snapshot.ruleset()) == encode(parsed.ruleset())
    assert from_snapshot.notes == parsed.notes


def test_run_with_a_profile_imports_no_yaml(tmp_path: Path) -> None:
    for args in (["run", "--", "true"], ["run", "-p", "gvisor", "--", "true"]):
        res = run_importtime(["-m", "sysfake", *args], tmp_path)
        assert res.returncode == 0, describe(res)
        mods = imported(res.stderr)
        assert "sysfake.rules._profile_snapshot" in mods, describe(res)
        assert "yaml" not in mods, f"{args}: PyYAML imported"


def test_run_with_a_profile_imports_no_syscall_table(tmp_path: Path) -> None:
    # gvisor's syscall rules are checked with the snapshot's facts
    res = run_importtime(["-m", "sysfake", "run", "-p", "gvisor", "--", "true"], tmp_path)
    assert res.returncode == 0, describe(res)
    mods = imported(res.stderr)
    assert "sysfake.rules.sysrules" in mods, describe(res)
    for table in ("sysfake.record.syscalls", "sysfake.backends.pyref.syscalls", "ptrace"):
        assert table not in mods, f"{table} imported"


def test_facts_are_the_tables_and_only_for_their_python_ptrace(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sysfake.rules import _profile_snapshot, sysrules

    assert set(_profile_snapshot.SYSCALL_FACTS) >= {"statfs", "fstatfs", "mount", "ioctl"}
    for name, facts in _profile_snapshot.SYSCALL_FACTS.items():
        assert facts == sysrules.live_facts(name), name
    # another python-ptrace: its own tables, not the snapshot's
    sysrules._snapshot_facts.cache_clear()
    monkeypatch.setattr(_profile_snapshot, "FACTS_PTRACE_VERSION", (0, 0, 1))
    try:
        assert sysrules._snapshot_facts() == {}
        assert sysrules.nr_of("statfs") == 137
    finally:
        sysrules._snapshot_facts.cache_clear()


def test_edited_profile_is_parsed_from_its_text(tmp_path: Path) -> None:
    path = profile_file("minimal")
    assert path is not None
    edited = tmp_path / "minimal.yaml"
    edited.write_text(Path(path).read_text().replace("rules: []", "rules: [}"))
    res = run_importtime(["-m", "sysfake", "run", "--rules", str(edited), "--", "true"],
                         tmp_path)
    assert res.returncode == 2, describe(res)
    assert "yaml" in imported(res.stderr)
    assert f"{edited}:4:" in res.stderr, describe(res)
