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

import sg_nn

MODULE = importlib.import_module("sg_nn.module")
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


MODULES = public_modules(sg_nn)


def test_version_matches_installed_metadata_and_pyproject() -> None:
    declared = re.search(r'^version\s*=\s*"([^"]+)"', PYPROJECT.read_text(encoding="utf-8"), re.M)
    assert declared is not None
    assert declared[1] == "0.1.0"
    assert importlib.metadata.version("sg-nn") == "0.1.0"
    assert sg_nn.__version__ == importlib.metadata.version("sg-nn") == "0.1.0"


def test_declared_dependencies_are_only_sg_tensor_and_numpy() -> None:
    requires = importlib.metadata.requires("sg-nn") or []
    runtime = {re.split(r"[ <>=;\[]", r, maxsplit=1)[0] for r in requires if "extra ==" not in r}
    assert runtime == {"sg-tensor", "numpy"}


def test_public_names_are_exported() -> None:
    for name in sg_nn.__all__:
        assert hasattr(sg_nn, name), name
    assert len(sg_nn.__all__) == len(set(sg_nn.__all__))
    assert sg_nn.Module is MODULE.Module
    assert sg_nn.Parameter is MODULE.Parameter
    assert sg_nn.data.make_moons is importlib.import_module("sg_nn.data").make_moons


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_doctests_pass(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_every_module_is_doctested_and_the_documented_ones_have_examples() -> None:
    names = {m.__name__ for m in MODULES}
    assert {"sg_nn.layers", "sg_nn.losses", "sg_nn.data", "sg_nn.checkpoint"} <= names
    for module in (sg_nn, MODULE):
        assert examples(module) > 0, module.__name__
