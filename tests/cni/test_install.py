"""Installing the executable into a CNI bin dir, and running it from there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sysfake.cni import install as inst

from .conftest import SRC, require


def run_version(exe: Path) -> dict[str, object]:
    # A runtime's environment: nothing of ours, not even PYTHONPATH.
    env = {"PATH": "/usr/bin:/bin", "CNI_COMMAND": "VERSION"}
    proc = subprocess.run(
        [str(exe)],
        input=b'{"cniVersion":"1.0.0"}',
        env=env,
        capture_output=True,
        check=False,
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def fake_console_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A console script as pip writes it (absolute interpreter in the shebang)."""
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    script = venv_bin / "sysfake-cni-noop"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(SRC)!r})\n"
        "from sysfake.cni.plugin import main\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(main())\n"
    )
    script.chmod(0o755)
    monkeypatch.setattr(inst, "find_entry_point", lambda: script)
    return script


def test_symlink_to_console_script_runs(tmp_path: Path, fake_console_script: Path) -> None:
    path = Path(inst.install(str(tmp_path / "opt-cni-bin"), name="noop"))
    assert path.is_symlink() and Path(os.readlink(path)) == fake_console_script
    assert run_version(path)["cniVersion"] == "1.0.0"
    # Re-installing the same thing is a no-op; a different target needs force.
    assert inst.install(str(tmp_path / "opt-cni-bin"), name="noop") == str(path)
    with pytest.raises(FileExistsError):
        inst.install(str(tmp_path / "opt-cni-bin"), name="noop", copy=True)
    inst.install(str(tmp_path / "opt-cni-bin"), name="noop", copy=True, force=True)
    assert not path.is_symlink()
    assert path.read_bytes() == fake_console_script.read_bytes()
    assert run_version(path)["supportedVersions"]


def test_wrapper_when_no_console_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inst, "find_entry_point", lambda: None)
    path = Path(inst.install(str(tmp_path / "bin")))
    assert path.name == "sysfake-cni-noop"
    assert "-m sysfake.cni.plugin" in path.read_text()
    assert os.access(path, os.X_OK)
    assert run_version(path)["cniVersion"] == "1.0.0"
    assert inst.install(str(tmp_path / "bin")) == str(path)  # idempotent


def test_real_entry_point_if_installed(tmp_path: Path) -> None:
    entry = inst.find_entry_point()
    require(entry is not None, "sysfake is not pip-installed here")
    assert entry is not None
    path = Path(inst.install(str(tmp_path / "bin"), name="x"))
    assert run_version(path)["supportedVersions"]


def test_existing_file_is_kept_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inst, "find_entry_point", lambda: None)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bridge").write_text("real bridge")
    with pytest.raises(FileExistsError):
        inst.install(str(bin_dir), name="bridge")
    assert (bin_dir / "bridge").read_text() == "real bridge"
    assert inst.main([str(bin_dir), "--name", "bridge"]) == 2
    assert inst.main([str(bin_dir), "--name", "bridge", "--force"]) == 0
    assert run_version(bin_dir / "bridge")["cniVersion"] == "1.0.0"
    assert sorted(p.name for p in bin_dir.iterdir()) == ["bridge"]  # no temp files left


@pytest.mark.parametrize("name", ["", "a/b", ".."])
def test_invalid_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        inst.install(str(tmp_path), name=name)


def test_main_prints_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inst, "find_entry_point", lambda: None)
    assert inst.main([str(tmp_path / "b"), "--name", "sysfake", "--copy"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "b" / "sysfake")


def test_plugin_help_flag() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sysfake.cni.plugin", "--help"],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "1.1.0" in proc.stdout
