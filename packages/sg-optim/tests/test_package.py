"""Package metadata, doctests, and what a step must not do: build graphs or change dtypes."""

from __future__ import annotations

import doctest
import importlib
import importlib.metadata
import pkgutil
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import sg_optim
import sg_tensor as st
from sg_optim import SGD, Adam, AdamW, Optimizer, RMSprop

PACKAGE = Path(__file__).resolve().parent.parent


def public_modules(package: ModuleType) -> list[ModuleType]:
    """The package and every module under it, except those named with a leading ``_``."""
    prefix = package.__name__ + "."
    names = [info.name for info in pkgutil.walk_packages(package.__path__, prefix)]
    public = [n for n in names if not any(part.startswith("_") for part in n.split("."))]
    return [package, *(importlib.import_module(name) for name in public)]


def examples(module: ModuleType) -> int:
    """How many doctest examples the docstrings of ``module`` hold."""
    return sum(len(test.examples) for test in doctest.DocTestFinder().find(module))


MODULES = public_modules(sg_optim)


def test_version_matches_installed_metadata_and_pyproject() -> None:
    declared = re.search(
        r'^version\s*=\s*"([^"]+)"', (PACKAGE / "pyproject.toml").read_text(encoding="utf-8"), re.M
    )
    assert declared is not None
    assert declared[1] == "0.1.0"
    assert importlib.metadata.version("sg-optim") == "0.1.0"
    assert sg_optim.__version__ == importlib.metadata.version("sg-optim")


def test_public_names_are_exported() -> None:
    for name in sg_optim.__all__:
        assert hasattr(sg_optim, name), name
    assert len(sg_optim.__all__) == len(set(sg_optim.__all__))
    for cls in (SGD, Adam, AdamW, RMSprop):
        assert issubclass(cls, Optimizer)
    assert issubclass(AdamW, Adam)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_doctests_pass(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_every_module_is_doctested_and_the_package_docstring_has_examples() -> None:
    names = {m.__name__ for m in MODULES}
    assert {
        f"sg_optim.{n}" for n in ("optimizer", "sgd", "adam", "rmsprop", "lr_scheduler")
    } <= names
    assert examples(sg_optim) > 0


def test_readme_examples_pass() -> None:
    result = doctest.testfile(
        str(PACKAGE / "README.md"), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0
    assert result.attempted > 0


def test_repr_lists_the_groups() -> None:
    w = st.tensor([1.0], requires_grad=True)
    text = repr(SGD([w], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (")
    assert "Parameter Group 0" in text
    assert "lr: 0.1" in text
    assert "momentum: 0.9" in text


# -- steps build no graph and keep dtypes -----------------------------------------------
ALL: dict[str, Callable[[list[st.Tensor]], Optimizer]] = {
    "SGD": lambda ps: SGD(ps, lr=0.1),
    "SGD-full": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    "SGD-dampening": lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1),
    "Adam": lambda ps: Adam(ps, lr=0.1),
    "Adam-full": lambda ps: Adam(ps, lr=0.1, amsgrad=True, weight_decay=0.1),
    "AdamW": lambda ps: AdamW(ps, lr=0.1, amsgrad=True, weight_decay=0.1),
    "RMSprop": lambda ps: RMSprop(ps, lr=0.01),
    "RMSprop-full": lambda ps: RMSprop(ps, lr=0.01, momentum=0.9, centered=True, weight_decay=0.1),
}


def _loss(params: list[st.Tensor]) -> st.Tensor:
    w, b, s = params
    return ((w @ w.T).sum() + (b * b * b).sum() + s * s).sum()


@pytest.mark.parametrize("name", list(ALL))
def test_steps_keep_parameters_as_leaves(name: str) -> None:
    params = [
        st.tensor(np.arange(6.0).reshape(2, 3) / 10, requires_grad=True),
        st.tensor([0.5, -1.0], requires_grad=True),
        st.tensor(2.0, requires_grad=True),
    ]
    data_ids = [id(p.data) for p in params]
    opt = ALL[name](params)
    for _ in range(3):
        opt.zero_grad()
        _loss(params).backward()
        opt.step()
        for p in params:
            assert p.is_leaf
            assert p.op == ""
            assert p._parents == ()
            assert p.requires_grad is True
            assert isinstance(p.data, np.ndarray)
            assert p.grad is not None
    # the updates are in place: the parameters keep their arrays
    assert [id(p.data) for p in params] == data_ids
    # the gradient at the new point is the analytic one: no stale graph is involved
    opt.zero_grad()
    _loss(params).backward()
    w, b, s = params
    np.testing.assert_allclose(params[0].grad, 2 * w.data.sum(axis=0) * np.ones((2, 1)), 1e-13)
    np.testing.assert_allclose(b.grad, 3 * b.data**2, rtol=1e-13)
    np.testing.assert_allclose(s.grad, 2 * s.data, rtol=1e-13)


@pytest.mark.parametrize("name", list(ALL))
def test_float32_parameters_stay_float32(name: str) -> None:
    params = [
        st.tensor(np.linspace(-1, 1.5, 6).reshape(2, 3), dtype=np.float32, requires_grad=True),
        st.tensor([0.5, -1.0], dtype=np.float32, requires_grad=True),
        st.tensor(np.float32(2.0), requires_grad=True),
    ]
    opt = ALL[name](params)
    for _ in range(4):
        opt.zero_grad()
        _loss(params).backward()
        for p in params:
            assert p.grad.dtype == np.float32
        opt.step()
        for p in params:
            assert p.dtype == np.float32
            assert np.all(np.isfinite(p.data))
    for p in params:
        for key, value in opt.state.get(p, {}).items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32, key


@pytest.mark.parametrize("name", list(ALL))
def test_float32_steps_track_the_float64_run(name: str) -> None:
    def run(dtype: type) -> list[np.ndarray]:
        params = [
            st.tensor(np.linspace(-1, 1.5, 6).reshape(2, 3), dtype=dtype, requires_grad=True),
            st.tensor([0.5, -1.0], dtype=dtype, requires_grad=True),
            st.tensor(np.array(2.0, dtype=dtype), requires_grad=True),
        ]
        opt = ALL[name](params)
        for _ in range(3):
            opt.zero_grad()
            _loss(params).backward()
            opt.step()
        return [p.data for p in params]

    for lo, hi in zip(run(np.float32), run(np.float64)):
        np.testing.assert_allclose(lo, hi, rtol=1e-4, atol=1e-5)
