"""Build the C tracing core with cffi (API mode, out of line).

Metadata lives in pyproject.toml. This file hands setuptools the cffi module,
as argon2-cffi does, and ships the YAML profiles of rules/ inside the package.
"""
import glob
import os
import shutil

from setuptools import setup
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


setup(cffi_modules=["src/sysfake/_build_core.py:ffibuilder"], cmdclass={"build_py": BuildPy})
