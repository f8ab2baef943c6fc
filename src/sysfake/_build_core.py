"""cffi build script for the C core (API mode, out of line).

Set SYSFAKE_SANITIZE=1 to build with AddressSanitizer and
UndefinedBehaviorSanitizer (CI does this once).
"""
from __future__ import annotations

import glob
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CSRC = os.path.join(ROOT, "csrc")

# The public headers are the one declaration of the API: cffi reads them,
# less the preprocessor lines it does not take (guards, includes).
HEADERS = ("sysfake.h", os.path.join("render", "record_lines.h"))


def _cdef(header: str) -> str:
    with open(os.path.join(CSRC, header), encoding="utf-8") as f:
        lines = f.read().splitlines()
    return "\n".join(ln for ln in lines
                     if not ln.startswith("#") or
                     (ln.startswith("#define ") and len(ln.split()) >= 3))


CDEF = "\n".join(_cdef(h) for h in HEADERS)

ffibuilder = FFI()
ffibuilder.cdef(CDEF)

_cflags = ["-std=gnu11", "-Wall", "-Wextra", "-O2", "-fno-strict-aliasing"]
_ldflags: list[str] = []
if os.environ.get("SYSFAKE_SANITIZE"):
    _cflags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"]
    _ldflags += ["-fsanitize=address,undefined"]

# the tracer, and record mode's line writer (csrc/render/: not the tracer's)
_sources = sorted(glob.glob(os.path.join(CSRC, "*.c")) +
                  glob.glob(os.path.join(CSRC, "render", "*.c")))
ffibuilder.set_source(
    "sysfake._core",
    "".join(f'#include "{h}"\n' for h in HEADERS),
    sources=[os.path.relpath(s, ROOT) for s in _sources],
    include_dirs=[os.path.relpath(CSRC, ROOT)],
    extra_compile_args=_cflags,
    extra_link_args=_ldflags,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
