"""Build the C tracing core with cffi (API mode, out of line).

Metadata lives in pyproject.toml. This file hands setuptools the cffi module,
as argon2-cffi does, and ships the YAML profiles of rules/ inside the package.
"""
import glob
import os
import shutil

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        here = os.path.dirname(__file__) or "."
        # rules/*.yaml are profiles; rules/data/*.yaml is data the recorder reads.
        for sub in ("", "data"):
            dst = os.path.join(self.build_lib, "sysfake", "profiles", sub)
            os.makedirs(dst, exist_ok=True)
            for src in glob.glob(os.path.join(here, "rules", sub, "*.yaml")):
                shutil.copy(src, dst)


class BuildExt(build_ext):
    """Also link the C core with csrc/launcher/ into the `sysfake-exec`
    executable, beside the extension (`sysfake compile` copies it)."""

    def run(self) -> None:
        super().run()
        here = os.path.dirname(os.path.abspath(__file__))
        csrc = os.path.join(here, "csrc")
        sources = sorted(glob.glob(os.path.join(csrc, "*.c")))
        sources.append(os.path.join(csrc, "launcher", "sysfake_exec.c"))
        flags = ["-std=gnu11", "-Wall", "-Wextra", "-O2", "-fno-strict-aliasing"]
        ldflags: list = []
        if os.environ.get("SYSFAKE_SANITIZE"):
            flags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"]
            ldflags += ["-fsanitize=address,undefined"]
        tmp = os.path.join(self.build_temp, "launcher")
        objects = self.compiler.compile(sources, output_dir=tmp, include_dirs=[csrc],
                                        extra_postargs=flags)
        out_dir = os.path.dirname(self.get_ext_fullpath("sysfake._core"))
        self.compiler.link_executable(objects, "sysfake-exec", output_dir=out_dir,
                                      extra_postargs=ldflags)
        self._launcher = os.path.join(out_dir, "sysfake-exec")

    def get_outputs(self) -> list:
        launcher = getattr(self, "_launcher", None)
        return super().get_outputs() + ([launcher] if launcher else [])


setup(cffi_modules=["src/sysfake/_build_core.py:ffibuilder"],
      cmdclass={"build_py": BuildPy, "build_ext": BuildExt})
