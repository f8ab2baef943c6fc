"""Building the test programs in tests/progs/."""
from __future__ import annotations

import os
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROGS_DIR = Path(__file__).resolve().parent.parent / "progs"

CFLAGS = ("-O1", "-pthread", "-Wall", "-Wextra")


class BuildError(RuntimeError):
    pass


def _compile(cc: str, src: Path, out: Path, static: bool) -> None:
    argv = [cc, *CFLAGS, *(["-static"] if static else []), "-o", str(out), str(src)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(argv)} failed:\n{proc.stdout}{proc.stderr}")


class Progs:
    """The compiled C programs: `progs["readfile"]`, `progs.static("readfile")`."""

    def __init__(self, build_dir: Path, cc: str) -> None:
        self.dir = build_dir
        self._cc = cc
        self.sources = sorted(PROGS_DIR.glob("*.c"))

    def build_all(self) -> None:
        jobs = [(src, self.dir / src.stem, False) for src in self.sources]
        jobs += [(src, self.dir / f"{src.stem}.static", True) for src in self.sources]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            futures = [pool.submit(_compile, self._cc, *job) for job in jobs]
            for fut in futures:
                fut.result()

    def __getitem__(self, name: str) -> str:
        path = self.dir / name
        if not path.exists():
            raise KeyError(f"no test program {name!r} in {self.dir}")
        return str(path)

    def static(self, name: str) -> str:
        return self[f"{name}.static"]


def build_go(src_dir: Path, out: Path, go: str, cache_dir: Path) -> None:
    """`go build` in GOPATH mode, offline, without cgo (a static binary)."""
    env = dict(os.environ)
    env.update({
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "CGO_ENABLED": "0",
        "GOPROXY": "off",
        "GOCACHE": str(cache_dir / "cache"),
        "GOPATH": str(cache_dir / "gopath"),
    })
    argv = [go, "build", "-o", str(out), "."]
    proc = subprocess.run(argv, cwd=src_dir, env=env, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(argv)} failed:\n{proc.stdout}{proc.stderr}")


def is_static_elf(path: str) -> bool:
    """True when the ELF file at `path` has no PT_INTERP (no dynamic loader)."""
    with open(path, "rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF" or ident[4] != 2:  # 64-bit only
            return False
        endian = "<" if ident[5] == 1 else ">"
        e_phoff = struct.unpack_from(endian + "Q", ident, 0x20)[0]
        e_phentsize, e_phnum = struct.unpack_from(endian + "HH", ident, 0x36)
        f.seek(e_phoff)
        table = f.read(e_phentsize * e_phnum)
    for i in range(e_phnum):
        (p_type,) = struct.unpack_from(endian + "I", table, i * e_phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True
