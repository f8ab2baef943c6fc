#!/usr/bin/env python3
"""Thin wrapper: the same as `sysfake bench ARGS` (works from a checkout too)."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from sysfake.bench import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
