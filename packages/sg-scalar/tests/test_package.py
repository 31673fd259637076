"""Package metadata and the doctests of the public modules."""

from __future__ import annotations

import doctest
import importlib.metadata
import re
from pathlib import Path

import pytest

import sg_scalar
import sg_scalar.dot
import sg_scalar.graph
import sg_scalar.ieee
import sg_scalar.rules
import sg_scalar.value

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


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


@pytest.mark.parametrize("module", [sg_scalar, sg_scalar.value], ids=lambda m: m.__name__)
def test_doctests_pass(module: object) -> None:
    result = doctest.testmod(module, verbose=False, report=False)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize(
    "module",
    [sg_scalar.graph, sg_scalar.rules, sg_scalar.ieee, sg_scalar.dot],
    ids=lambda m: m.__name__,
)
def test_doctests_of_other_modules_pass(module: object) -> None:
    assert doctest.testmod(module, verbose=False, report=False).failed == 0
