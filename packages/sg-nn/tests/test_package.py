"""Package metadata, public names and the doctests of the public modules."""

from __future__ import annotations

import doctest
import importlib
import importlib.metadata
import re
from pathlib import Path
from types import ModuleType

import pytest

import sg_nn

MODULE = importlib.import_module("sg_nn.module")
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


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


@pytest.mark.parametrize("module", [sg_nn, MODULE], ids=lambda m: m.__name__)
def test_doctests_pass(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
