"""Build the C tracing core with cffi (API mode, out of line).

All metadata lives in pyproject.toml; this file only exists to hand
setuptools the cffi module, as argon2-cffi does.
"""
from setuptools import setup

setup(cffi_modules=["src/sysfake/_build_core.py:ffibuilder"])
