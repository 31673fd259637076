"""Packaging: version, import without torch, the torch oracle's install hint."""

from __future__ import annotations

import doctest
import importlib.metadata
import sys

import numpy as np
import pytest

import sg_verify
from sg_verify import oracles
from sg_verify.registry import TENSOR_SPECS


def test_version_matches_metadata() -> None:
    assert sg_verify.__version__ == importlib.metadata.version("sg-verify") == "0.1.0"


def test_doctests() -> None:
    result = doctest.testmod(oracles)
    assert result.failed == 0
    assert result.attempted > 0


def test_torch_oracle_says_how_to_install_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    spec = TENSOR_SPECS[0]
    with pytest.raises(ImportError, match=r"sg-verify\[torch\]"):
        oracles.torch_check(spec, spec.sample(np.random.default_rng(0)))
