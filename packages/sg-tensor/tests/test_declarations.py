"""The public API is made from the declarations, and agrees with them.

The methods, operator symbols and functions are installed from the declarations when
sg-tensor is imported; ``tensor.py`` repeats the operator symbols only as signatures for
type checkers, and this test fails when the two disagree.
"""

from __future__ import annotations

import ast
import importlib
import inspect

import numpy as np
import pytest

import sg_tensor
from sg_tensor import DECLARATIONS, Tensor
from sg_tensor.interop import FUNCTIONS, UFUNCS


def _typed_stubs() -> set[str]:
    """The names ``tensor.py`` declares for type checkers under ``if TYPE_CHECKING:``."""
    tree = ast.parse(inspect.getsource(importlib.import_module("sg_tensor.tensor")))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor"]
    names = set()
    for node in cls.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            names |= {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    return names


def test_the_typed_operator_symbols_are_the_installed_ones() -> None:
    from_declarations = set()
    for decl in DECLARATIONS.values():
        for form in decl.forms:
            if form.kind in ("operator", "reflected"):
                from_declarations.add(form.api)
            if form.kind == "property":
                from_declarations.add(form.name)
    stubs = _typed_stubs() - {"__getattr__"}
    assert from_declarations == stubs, (
        f"declared but not typed: {sorted(from_declarations - stubs)}; "
        f"typed but not declared: {sorted(stubs - from_declarations)}"
    )
    for name in stubs:
        assert name in vars(Tensor), f"{name} is typed but not installed"


def test_every_declared_form_is_installed() -> None:
    for decl in DECLARATIONS.values():
        for form in decl.forms:
            if form.kind in ("method", "property"):
                assert form.name in vars(Tensor), (decl.name, form.name)
            elif form.kind == "function":
                assert form.name in sg_tensor.functional.__all__, (decl.name, form.name)
                assert getattr(sg_tensor, form.name) is getattr(sg_tensor.functional, form.name)
            elif form.kind == "numpy":
                assert form.target in UFUNCS or form.target in FUNCTIONS, (decl.name, form.api)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'cummax'"):
        sg_tensor.cummax
    with pytest.raises(AttributeError, match="cummax"):
        Tensor(np.zeros(2)).cummax


def test_parameters_are_checked_with_the_operator_in_the_message() -> None:
    x = Tensor(np.zeros(3))
    with pytest.raises(TypeError, match="leaky_relu: negative_slope must be a real number"):
        x.leaky_relu("steep")
    with pytest.raises(TypeError, match=r"leaky_relu\(\) got an unexpected keyword argument"):
        x.leaky_relu(slope=0.1)
    with pytest.raises(ValueError, match="softplus: beta must be positive"):
        x.softplus(beta=0.0)
    with pytest.raises(TypeError, match="sum"):
        x.sum(0, False, 3)
