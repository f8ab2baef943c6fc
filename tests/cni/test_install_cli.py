"""`sysfake cni install` from the command line: what it creates, and its
refusals, each one line on stderr with exit status 2 that names the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import describe, run_sysfake

NAME_RULE = "it must be a file name (the network configuration's type)"


def refused(args: list[str], message: str, cwd: Path | None = None) -> None:
    res = run_sysfake(args, cwd=cwd)
    assert (res.returncode, res.stdout) == (2, ""), describe(res)
    assert res.stderr.startswith(message) and res.stderr.count("\n") == 1, describe(res)


@pytest.mark.parametrize("name", ["", "../../x", "a/b", ".", ".."])
def test_invalid_name(tmp_path: Path, name: str) -> None:
    refused(["cni", "install", str(tmp_path / "bin"), "--name", name],
            f"sysfake cni install: invalid plugin name {name!r}: {NAME_RULE}\n")
    assert list(tmp_path.iterdir()) == []


def test_a_directory_that_cannot_be_one(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    for bin_dir, message in [
        (str(afile), f"{afile}: exists and is not a directory\n"),
        (f"{afile}/bin", f"{afile}/bin: its parent {afile} is not a directory "
                         "(only DIR itself is created)\n"),
        ("/proc", "cannot write into /proc: "),  # ENOENT as root, EACCES otherwise
        ("", "the CNI bin directory is an empty path\n"),
    ]:
        refused(["cni", "install", bin_dir], f"sysfake cni install: {message}", cwd=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]
    assert afile.read_text() == "mine\n"


def test_dir_is_created_but_not_its_missing_parents(tmp_path: Path) -> None:
    deep = tmp_path / "no" / "such" / "bin"
    refused(["cni", "install", str(deep)],
            f"sysfake cni install: {deep}: its parent {deep.parent} does not exist "
            "(only DIR itself is created)\n")
    assert list(tmp_path.iterdir()) == []
    res = run_sysfake(["cni", "install", str(tmp_path / "bin")])
    assert (res.returncode, res.stdout, res.stderr) == \
        (0, f"{tmp_path}/bin/sysfake-cni-noop\n", ""), describe(res)
    assert (tmp_path / "bin" / "sysfake-cni-noop").exists()


def test_a_different_file_needs_force(tmp_path: Path) -> None:
    (tmp_path / "bridge").write_text("the real bridge\n")
    refused(["cni", "install", str(tmp_path), "--name", "bridge"],
            f"sysfake cni install: {tmp_path}/bridge exists and differs from what would be "
            "installed (--force replaces it)\n")
    assert (tmp_path / "bridge").read_text() == "the real bridge\n"
    res = run_sysfake(["cni", "install", str(tmp_path), "--name", "bridge", "--force"])
    assert (res.returncode, res.stdout) == (0, f"{tmp_path}/bridge\n"), describe(res)
    assert [p.name for p in tmp_path.iterdir()] == ["bridge"]  # no temporary file left


def test_missing_command_or_dir_is_one_line() -> None:
    refused(["cni"], "sysfake")
    refused(["cni", "install"], "sysfake cni install: error: the following arguments "
                                "are required: dir\n")
    refused(["cni", "install", "--bogus", "x"], "sysfake cni install: error: unrecognized "
                                                "arguments: --bogus\n")


def test_install_help() -> None:
    res = run_sysfake(["cni", "install", "--help"])
    assert (res.returncode, res.stderr) == (0, ""), describe(res)
    assert res.stdout.startswith("usage: sysfake cni install "), describe(res)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_cni_help(flag: str) -> None:
    res = run_sysfake(["cni", flag])
    assert (res.returncode, res.stderr) == (0, ""), describe(res)
    assert res.stdout.startswith("usage: sysfake cni install DIR"), describe(res)
