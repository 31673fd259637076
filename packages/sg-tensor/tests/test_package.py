"""Package metadata, public names and the doctests of the public modules."""

from __future__ import annotations

import doctest
import importlib
import importlib.metadata
import re
from pathlib import Path
from types import ModuleType

import pytest

import sg_tensor

# ``sg_tensor.tensor`` is the factory function, which shadows the module of that name
TENSOR_MODULE = importlib.import_module("sg_tensor.tensor")
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_version_matches_installed_metadata_and_pyproject() -> None:
    declared = re.search(r'^version\s*=\s*"([^"]+)"', PYPROJECT.read_text(encoding="utf-8"), re.M)
    assert declared is not None
    assert declared[1] == "0.1.0"
    assert importlib.metadata.version("sg-tensor") == "0.1.0"
    assert sg_tensor.__version__ == importlib.metadata.version("sg-tensor")


def test_public_names_are_exported() -> None:
    for name in sg_tensor.__all__:
        assert hasattr(sg_tensor, name), name
    assert sg_tensor.Tensor is TENSOR_MODULE.Tensor
    assert len(sg_tensor.__all__) == len(set(sg_tensor.__all__))


@pytest.mark.parametrize("module", [sg_tensor, TENSOR_MODULE], ids=lambda m: m.__name__)
def test_doctests_pass(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0


def test_ops_registry_holds_declared_operators() -> None:
    ops = sg_tensor.OPS
    assert {"add", "matmul", "getitem", "logsumexp", "softmax"} <= set(ops)
    for name, op in ops.items():
        assert op.name == name
        assert callable(op.forward)
        assert callable(op.vjp)
        assert op.vjp.__doc__, f"the rule of {name!r} has no math docstring"
