"""Python façade over the C core: the only module that talks to sysfake._core."""
from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping, Sequence

from .datatype import datatype
from .tracee_env import tracee_env

TYPE_CHECKING = False  # mypy reads it as True; typing costs start-up (test_run_startup.py)
if TYPE_CHECKING:
    from typing import Any, NoReturn

MECH_NAMES = {
    "vm_readv": "SF_MECH_VM_READV",
    "vm_writev": "SF_MECH_VM_WRITEV",
    "mem_read": "SF_MECH_MEM_READ",
    "mem_write": "SF_MECH_MEM_WRITE",
    "syscall_info": "SF_MECH_SYSCALL_INFO",
    "seccomp": "SF_MECH_SECCOMP",
    "seccomp_old_order": "SF_MECH_SECCOMP_OLD_ORDER",
    "skip_at_seccomp": "SF_MECH_SKIP_AT_SECCOMP",
    "subreaper": "SF_MECH_SUBREAPER",
    "tracer_stat": "SF_MECH_TRACER_STAT",
    "set_return": "SF_MECH_SET_RETURN",
    "pidfd_info": "SF_MECH_PIDFD_INFO",
    "nspid": "SF_MECH_NSPID",
    "errno_nr": "SF_MECH_ERRNO_NR",
    "stuck_signals": "SF_MECH_STUCK_SIGNALS",
}


#: Signals Python ignores for itself at start-up (bit N-1 for signal N), which
#: a command gets at their default, as subprocess gives them: what the caller
#: had is lost by then.
PYTHON_IGNORES = (1 << (13 - 1)) | (1 << (25 - 1))  # SIGPIPE, SIGXFSZ


class CoreError(Exception):
    """The C core could not start the command (the message is one line)."""


def _lib() -> Any:
    try:
        return importlib.import_module("sysfake._core")
    except ImportError as e:  # pragma: no cover - depends on the build
        raise CoreError(f"the C core is not built ({e}); try --backend python") from e


def available() -> bool:
    try:
        _lib()
    except CoreError:
        return False
    return True


@datatype
class Probe:
    ok: bool
    mechanisms: dict[str, bool]
    error: str


def probe() -> Probe:
    core = _lib()
    res = core.ffi.new("struct sf_probe_result *")
    core.lib.sf_probe(res)
    mech = int(res.mech)
    names = {k: bool(mech & getattr(core.lib, v)) for k, v in MECH_NAMES.items()}
    return Probe(bool(res.ok), names, core.ffi.string(res.error).decode(errors="replace"))


def mech_mask(names: Sequence[str]) -> int:
    core = _lib()
    mask = 0
    for n in names:
        if n not in MECH_NAMES:
            raise CoreError(f"unknown mechanism {n!r} (known: {', '.join(MECH_NAMES)})")
        mask |= int(getattr(core.lib, MECH_NAMES[n]))
    return mask


def check_table(table: bytes) -> str | None:
    core = _lib()
    err = core.ffi.new("char[512]")
    if core.lib.sf_table_check(table, len(table), err, 512) != 0:
        return str(core.ffi.string(err).decode(errors="replace"))
    return None


LAUNCHER = "sysfake-exec"  # built beside the C core (setup.py)


def _check_run(argv: Sequence[str], orphans: str) -> None:
    """What run() and exec_launcher() refuse before starting anything."""
    if orphans not in ("kill", "wait"):
        raise CoreError(f"--orphans must be kill or wait, not {orphans!r}")
    if not argv:
        raise CoreError("no command given")


def exec_launcher(table: bytes, argv: Sequence[str], *, orphans: str = "kill",
                  grace: float = 2.0, disable: Sequence[str] = (), verbose: bool = False,
                  remove: Sequence[str] = ()) -> None:
    """Replace this process by the C launcher running argv under `table`, as
    run() would; the launcher removes the `remove` directories afterwards.

    Returns (having changed nothing) only when the launcher cannot be started:
    no launcher beside the core, or no memfd. Then use run(). With nothing of
    Python left, the tracer is a small process: forking it (the probe, the
    command) costs far less than forking Python, above all inside gVisor."""
    _check_run(argv, orphans)
    exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), LAUNCHER)
    if not os.access(exe, os.X_OK):
        return
    # without --disable the mask is 0: no need to load the core's extension here
    args = [exe, "--prog", "sysfake", "--orphans", orphans, "--grace", repr(float(grace)),
            "--disable-mask", str(mech_mask(disable) if disable else 0)]
    if verbose:
        args.append("-v")
    for d in remove:
        args += ["--remove", d]
    try:
        fd = os.memfd_create("sysfake-table", 0)  # no CLOEXEC: the launcher reads it
    except (AttributeError, OSError):
        return
    fd = _above_stdio(fd)
    try:
        view = memoryview(table)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
        args += ["--table-fd", str(fd), "--", *argv]
        env = tracee_env(None)
        sys.stdout.flush()
        sys.stderr.flush()
        _execve_as_caller(exe, args, env)
    except OSError:
        pass
    os.close(fd)


def _above_stdio(fd: int) -> int:
    """fd moved above 0-2: with a standard fd closed by the caller, the table
    would take its number, and the command would find it open."""
    low = []
    while fd < 3:
        low.append(fd)
        fd = os.dup(fd)
    for x in low:
        os.close(x)
    os.set_inheritable(fd, True)  # os.dup's copy is not: the launcher reads it
    return fd


def _execve_as_caller(exe: str, args: list[str], env: Mapping[str, str]) -> None:
    """execve with SIGPIPE and SIGXFSZ at their default, as the caller most
    likely had them: Python ignores them itself, and the launcher keeps for
    the command what it finds ignored. Back as they were if execve fails."""
    import signal

    sigs = (signal.SIGPIPE, signal.SIGXFSZ)
    old = [signal.signal(s, signal.SIG_DFL) for s in sigs]
    try:
        os.execve(exe, args, env)
    finally:
        for s, h in zip(sigs, old):
            signal.signal(s, h)


def run(
    table: bytes,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    orphans: str = "kill",
    grace: float = 2.0,
    disable: Sequence[str] = (),
    record_fd: int = -1,
    verbose: bool = False,
) -> int:
    """Run argv under the tracer; return its exit status, or -N if signal N
    killed it (as subprocess does)."""
    _check_run(argv, orphans)
    core = _lib()
    ffi = core.ffi
    env = tracee_env(env)
    keep: list[Any] = []

    def cstrs(items: Sequence[bytes]) -> Any:
        arr = ffi.new("char *[]", len(items) + 1)
        for i, s in enumerate(items):
            c = ffi.new("char[]", s)
            keep.append(c)
            arr[i] = c
        arr[len(items)] = ffi.NULL
        return arr

    c_argv = cstrs([os.fsencode(a) for a in argv])
    c_env = cstrs([os.fsencode(k) + b"=" + os.fsencode(v) for k, v in env.items()])
    opt = ffi.new("struct sf_options *")
    opt.orphans_wait = 1 if orphans == "wait" else 0
    opt.grace_ms = int(grace * 1000)
    opt.disable_mech = mech_mask(disable)
    opt.record_fd = record_fd
    opt.verbose = 1 if verbose else 0
    opt.sig_default = PYTHON_IGNORES
    err = ffi.new("char[512]")
    status = int(core.lib.sf_run(table, len(table), c_argv, c_env, opt, err, 512))
    if status < 0:
        raise CoreError(ffi.string(err).decode(errors="replace"))
    return os.waitstatus_to_exitcode(status)


def die_of(signum: int) -> NoReturn:
    """End this process as a command killed by `signum` ended: die of the
    same signal (its own core dump off), so that a shell that waits for
    sysfake sees what it would have seen untraced."""
    import contextlib

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    try:
        lib = _lib().lib
    except CoreError:  # pragma: no cover - the reference tracer without a built core
        import signal

        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    else:
        lib.sf_exit_as(signum)  # a wait status of signum: killed by it
    os._exit(128 + signum)  # a signal this process cannot die of
