"""Package metadata, public names and the doctests of the public modules."""

from __future__ import annotations

import doctest
import importlib
import importlib.metadata
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import sg_tensor

# ``sg_tensor.tensor`` is the factory function, which shadows the module of that name
TENSOR_MODULE = importlib.import_module("sg_tensor.tensor")
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def public_modules(package: ModuleType) -> list[ModuleType]:
    """The package and every module under it, except those named with a leading ``_``."""
    prefix = package.__name__ + "."
    names = [info.name for info in pkgutil.walk_packages(package.__path__, prefix)]
    public = [n for n in names if not any(part.startswith("_") for part in n.split("."))]
    return [package, *(importlib.import_module(name) for name in public)]


def examples(module: ModuleType) -> int:
    """How many doctest examples the docstrings of ``module`` hold."""
    return sum(len(test.examples) for test in doctest.DocTestFinder().find(module))


MODULES = public_modules(sg_tensor)


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


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_doctests_pass(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_every_module_is_doctested_and_the_documented_ones_have_examples() -> None:
    names = {m.__name__ for m in MODULES}
    assert {"sg_tensor.op", "sg_tensor.elementwise", "sg_tensor.functional"} <= names
    assert TENSOR_MODULE in MODULES
    for module in (sg_tensor, TENSOR_MODULE):
        assert examples(module) > 0, module.__name__


def test_ops_registry_holds_declared_operators() -> None:
    ops = sg_tensor.OPS
    assert {"add", "matmul", "getitem", "logsumexp", "softmax"} <= set(ops)
    for name, op in ops.items():
        assert op.name == name
        assert callable(op.forward)
        assert callable(op.vjp)
        assert op.vjp.__doc__, f"the rule of {name!r} has no math docstring"
