"""sysfake.tempdirs: private directories made as tempfile.mkdtemp makes them
(without importing tempfile), and removed by TempDirs."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sysfake.tempdirs import TempDirs, make


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.delenv(v, raising=False)


def test_make_is_a_new_private_directory_in_tmpdir(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    a, b = make("sysfake-x-"), make("sysfake-x-")
    assert a != b
    for d in (a, b):
        assert os.path.dirname(d) == str(tmp_path)
        name = os.path.basename(d)
        assert name.startswith("sysfake-x-") and len(name) == len("sysfake-x-") + 8
        assert set(name[len("sysfake-x-"):]) <= set("abcdefghijklmnopqrstuvwxyz0123456789_")
        st = os.lstat(d)
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700
        assert os.listdir(d) == []


def test_make_falls_back_as_tempfile_does(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    not_dir = tmp_path / "file"
    not_dir.write_text("")
    second = tmp_path / "second"
    second.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
    monkeypatch.setenv("TEMP", str(not_dir))
    monkeypatch.setenv("TMP", str(second))
    d = make("sysfake-y-")
    assert os.path.dirname(d) == str(second)
    monkeypatch.delenv("TMP")
    d2 = make("sysfake-y-")
    try:
        assert os.path.dirname(d2) == "/tmp"
    finally:
        TempDirs(d2)()


def test_make_in_a_removed_current_directory(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # getcwd() fails there: tempfile falls back, and so must make(), with a
    # relative $TMPDIR too (it needs the current directory)
    _clear(monkeypatch)
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    monkeypatch.setenv("TMPDIR", "relative")
    d = make("sysfake-z-")
    try:
        assert os.path.dirname(d) == "/tmp"
    finally:
        TempDirs(d)()


def test_tempdirs_removes_its_trees(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "deep" / "er").mkdir(parents=True)
    (a / "deep" / "er" / "f").write_text("x")
    b.mkdir()
    os.symlink("/etc", b / "link")  # removed, not followed
    TempDirs(str(a), str(b), str(tmp_path / "gone"))()
    assert sorted(os.listdir(tmp_path)) == []
    assert os.path.isdir("/etc")
    TempDirs()()  # nothing to do
