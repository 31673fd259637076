"""Package metadata and the doctests of the public modules."""

from __future__ import annotations

import doctest
import importlib
import importlib.metadata
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import sg_scalar
import sg_scalar.value

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


MODULES = public_modules(sg_scalar)


def declared_version() -> str:
    text = PYPROJECT.read_text(encoding="utf-8")
    project = re.search(r"^\[project\]$(.*?)(?=^\[)", text, re.MULTILINE | re.DOTALL)
    assert project is not None
    version = re.search(r'^version\s*=\s*"([^"]+)"\s*$', project[1], re.MULTILINE)
    assert version is not None
    return version[1]


def test_version_matches_installed_metadata_and_pyproject() -> None:
    assert declared_version() == "0.1.0"
    assert importlib.metadata.version("sg-scalar") == declared_version()
    assert sg_scalar.__version__ == declared_version()


def test_public_names_are_exported() -> None:
    for name in sg_scalar.__all__:
        assert hasattr(sg_scalar, name), name
    assert sg_scalar.Value is sg_scalar.value.Value


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_doctests_pass(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_every_module_is_doctested_and_the_documented_ones_have_examples() -> None:
    names = {m.__name__ for m in MODULES}
    assert {"sg_scalar.graph", "sg_scalar.rules", "sg_scalar.ieee", "sg_scalar.dot"} <= names
    for module in (sg_scalar, sg_scalar.value, importlib.import_module("sg_scalar.dot")):
        assert examples(module) > 0, module.__name__
