"""Shared setup for the sg-optim tests.

The root ``pyproject.toml`` runs pytest with ``--import-mode=importlib``, under which
test modules cannot import their neighbours. This directory is put on ``sys.path`` so
that they can import ``optim_helpers.py`` (named after the package so that it does not
shadow another package's test helpers in a monorepo-wide run).
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
