"""Shared setup for the sg-nn tests.

The root ``pyproject.toml`` runs pytest with ``--import-mode=importlib``, under which
test modules cannot import their neighbours. This directory is put on ``sys.path`` so
that they can import ``nn_helpers.py`` (named after the package so that it does not
shadow another package's test helpers in a monorepo-wide run).

Every test starts from a freshly seeded default generator (sg-tensor's, which sg-nn
uses), and the original generator object is put back afterwards, so no test depends on
the order in which the others ran and none leaks its random state into another
package's tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sg_tensor import seeding

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True)
def _fresh_default_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    # sg-nn draws from sg-tensor's default generator (the one manual_seed resets)
    monkeypatch.setattr(seeding, "_default", np.random.default_rng(20240601))
