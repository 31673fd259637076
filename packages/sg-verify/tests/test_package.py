"""Packaging: version, import without torch, the torch oracle's install hint."""

from __future__ import annotations

import doctest
import importlib
import importlib.metadata
import pkgutil
import sys
from types import ModuleType

import numpy as np
import pytest

import sg_verify
from sg_verify import oracles
from sg_verify.registry import TENSOR_SPECS


def public_modules(package: ModuleType) -> list[ModuleType]:
    """The package and every module under it, except those named with a leading ``_``."""
    prefix = package.__name__ + "."
    names = [info.name for info in pkgutil.walk_packages(package.__path__, prefix)]
    public = [n for n in names if not any(part.startswith("_") for part in n.split("."))]
    return [package, *(importlib.import_module(name) for name in public)]


def examples(module: ModuleType) -> int:
    """How many doctest examples the docstrings of ``module`` hold."""
    return sum(len(test.examples) for test in doctest.DocTestFinder().find(module))


MODULES = public_modules(sg_verify)


def test_version_matches_metadata() -> None:
    assert sg_verify.__version__ == importlib.metadata.version("sg-verify") == "0.1.0"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_doctests_pass(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_every_module_is_doctested_and_the_documented_ones_have_examples() -> None:
    names = {m.__name__ for m in MODULES}
    assert {"sg_verify.expressions.ir", "sg_verify.mutants.runner", "sg_verify.cli"} <= names
    for name in ("oracles", "strategies", "expressions", "mutants"):
        assert examples(importlib.import_module(f"sg_verify.{name}")) > 0, name


def test_torch_oracle_says_how_to_install_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    spec = TENSOR_SPECS[0]
    with pytest.raises(ImportError, match=r"sg-verify\[torch\]"):
        oracles.torch_check(spec, spec.sample(np.random.default_rng(0)))
