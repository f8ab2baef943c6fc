"""The snapshot of python-ptrace's tables is python-ptrace's, and its formatters
give python-ptrace's texts (src/sysfake/record/ptrace_tables.py).

Each comparison is against the installed python-ptrace, imported for real: a
python-ptrace upgrade that changes a table fails test_snapshot_is_current until
the snapshot is generated again."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysfake.record import ptrace_tables as pt
from sysfake.record.enrich import clone_text
from sysfake.record.syscalls import arg_text, arg_value, prototype

SNAPSHOT = Path(pt.__file__).with_name("_ptrace_snapshot.py")
LIVE = pt._live()
SNAP = pt._from_snapshot()
PAIRS = sorted((sc, arg) for sc, args in LIVE.formatters.items() for arg in args)


def test_snapshot_is_current() -> None:
    assert SNAPSHOT.read_text() == pt.snapshot_source(), (
        "python-ptrace changed: python -m sysfake.record.ptrace_tables > " + str(SNAPSHOT))


def test_snapshot_is_used_and_holds_python_ptraces_tables() -> None:
    assert SNAP is not None and pt.tables().source == "snapshot"
    assert dict(SNAP.prototypes) == {k: (v[0], tuple(tuple(a) for a in v[1]))
                                     for k, v in LIVE.prototypes.items()}
    assert list(SNAP.prototypes) == list(LIVE.prototypes)  # aliases are searched in order
    assert {k: tuple(v) for k, v in LIVE.aliases.items()} == SNAP.aliases
    assert dict(SNAP.constants) == dict(LIVE.constants)
    assert {k: set(v) for k, v in SNAP.formatters.items()} == \
        {k: set(v) for k, v in LIVE.formatters.items()}
    assert dict(SNAP.bitmasks) == dict(LIVE.bitmasks)
    assert SNAP.filename_arguments == LIVE.filename_arguments


def _edge_values() -> list[int]:
    masks = [m for t in LIVE.bitmasks.values() for m, _ in t]
    vals = {0, 1, 2, 3, 4, 5, 7, 17, 0o666, 0o644, 0o100, 0o1101, 0o2000000, 0o20200000,
            0x3D0F00, 0x1200011, 524288 | 1, 524288 | 2, 2048 | 1, 99, -1, -100, -5,
            0xFFFFFF9C, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 40}
    vals.update(masks)
    vals.update(m | 1 for m in masks)
    vals.update(sum(masks[i::3]) for i in range(3))
    return sorted(vals)


@pytest.mark.parametrize(("syscall", "arg"), PAIRS)
def test_formatters_give_python_ptraces_text(syscall: str, arg: str) -> None:
    assert SNAP is not None
    ours, theirs = SNAP.formatters[syscall][arg], LIVE.formatters[syscall][arg]
    for v in _edge_values():
        assert ours(v) == theirs(v), (syscall, arg, v)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PAIRS), st.integers(min_value=-(1 << 31), max_value=(1 << 64) - 1))
def test_formatters_agree_on_any_value(pair: tuple[str, str], raw: int) -> None:
    assert SNAP is not None
    syscall, arg = pair
    spec = next((s for s in prototype(syscall) or () if s.name == arg), None)
    for v in {raw, arg_value(spec.type if spec else None, raw)}:
        assert SNAP.formatters[syscall][arg](v) == LIVE.formatters[syscall][arg](v), (pair, v)


def test_arg_texts_of_a_real_open_and_clone() -> None:
    proto = prototype("openat")
    assert proto is not None
    dirfd, _, flags, mode = proto
    assert arg_text("openat", dirfd, -100) == "AT_FDCWD"
    assert arg_text("openat", dirfd, 3) is None  # only the number: no text
    assert arg_text("openat", flags, 0o1101) == "O_WRONLY|O_CREAT|O_TRUNC (0o1101)"
    assert arg_text("openat", mode, 0o666) == "0o666"
    from ptrace.syscall.posix_arg import CLONE_FLAGS_BITMASK
    from ptrace.tools import readBits
    f = 0x1200011  # CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD: a fork
    assert clone_text(f) == "|".join(["SIGCHLD", *readBits(f & ~0xFF, CLONE_FLAGS_BITMASK)])


def test_signal_names_are_python_ptraces() -> None:
    from ptrace.signames import signalName
    for sig in [*range(-1, 70), 404]:
        assert pt.signal_name(sig) == signalName(sig), sig


def _python(code: str) -> str:
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_snapshot_needs_no_python_ptrace_import() -> None:
    out = _python(
        "import sys\n"
        "from sysfake.record import syscalls as s, ptrace_tables as pt\n"
        "from sysfake.record.enrich import clone_text\n"
        "p = s.prototype('openat')\n"
        "print(pt.tables().source, s.arg_text('openat', p[2], 0o2000000), clone_text(17),\n"
        "      s.arg_text('kill', s.prototype('kill')[1], 9))\n"
        "print(sorted(m for m in sys.modules if m == 'ptrace' or m.startswith('ptrace.')))\n")
    assert out.splitlines() == ["snapshot O_RDONLY|O_CLOEXEC (0o2000000) SIGCHLD SIGKILL", "[]"]


def test_another_python_ptrace_version_is_imported_instead() -> None:
    out = _python(
        "from sysfake.record import syscalls as s, ptrace_tables as pt\n"
        "pt.installed_version = lambda: (0, 0, 1)\n"
        "p = s.prototype('openat')\n"
        "print(pt.tables().source, s.arg_text('openat', p[2], 0o2000000))\n")
    assert out.split() == ["python-ptrace", "O_RDONLY|O_CLOEXEC", "(0o2000000)"]


def test_installed_version_is_read_without_importing() -> None:
    out = _python("import sys\nfrom sysfake.record import ptrace_tables as pt\n"
                  "print(pt.installed_version(), 'ptrace' in sys.modules)\n")
    from ptrace.version import VERSION
    assert out.strip() == f"{tuple(VERSION)!r} False"
