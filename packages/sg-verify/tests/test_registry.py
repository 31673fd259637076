"""The registry covers every public operator, and every spec passes the FD oracle."""

from __future__ import annotations

import numpy as np
import pytest

import sg_scalar
import sg_tensor
from sg_scalar import Value
from sg_tensor import Tensor
from sg_tensor.inplace import METHODS
from sg_verify.oracles import fd_check
from sg_verify.registry import SCALAR_SPECS, TENSOR_SPECS, all_specs

# Public attributes that are not differentiable operators (data access, gradient
# bookkeeping, numpy protocols). Anything else public on Tensor/Value is an operator and
# needs a registry entry: a new method fails the completeness test until it has one.
TENSOR_NON_OPERATORS = {
    "backward", "data", "detach", "dtype", "grad", "is_leaf", "item", "ndim", "numpy", "op",
    "requires_grad", "requires_grad_", "shape", "size", "zero_grad",
    "dim", "grad_fn", "new_full", "new_ones", "new_tensor", "new_zeros", "numel",
    "register_hook", "retain_grad", "retains_grad", "tolist", "argmax", "argmin", "argsort",
    "long", "int", "bool", "half", "all", "any", "isnan", "isinf", "isfinite", "logical_and",
    "logical_or", "logical_xor", "logical_not", "__and__", "__or__", "__xor__", "__rand__",
    "__ror__", "__rxor__",
    "__invert__", "allclose", "equal", "contiguous", "is_contiguous", "detach_",
    # % is remainder's spelling (checked by name); // has no derivative (as PyTorch)
    "__mod__", "__rmod__", "__floordiv__", "__rfloordiv__", "floor_divide",
    "__array__", "__array_function__", "__array_ufunc__", "__array_priority__", "__bool__",
    "__eq__", "__float__", "__ge__", "__gt__", "__hash__", "__init__", "__int__", "__iter__",
    "__le__", "__len__", "__lt__", "__ne__", "__pos__", "__repr__", "__format__", "__index__",
}  # fmt: skip
VALUE_NON_OPERATORS = {
    "backward", "data", "detach", "grad", "is_leaf", "item", "op", "requires_grad",
    "zero_grad", "__float__", "__bool__", "__init__", "__repr__",
}  # fmt: skip
FUNCTIONAL_NON_OPERATORS = {"as_tensor"}
_CLASS_PLUMBING = {
    "__slots__",
    "__module__",
    "__annotations__",
    "__doc__",
    "__weakref__",
    "__static_attributes__",
    "__firstlineno__",
    "__dict__",
}


def _public_members(cls: type) -> set[str]:
    names = set()
    for name in dir(cls):
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            continue
        if name.startswith("__") and name not in cls.__dict__:
            continue  # inherited from object
        names.add(name)
    return names


def tensor_public_operators() -> set[str]:
    # in-place methods record no graph (refused where one is recorded): not operators
    members = _public_members(Tensor) - TENSOR_NON_OPERATORS - _CLASS_PLUMBING - set(METHODS)
    functions = set(sg_tensor.functional.__all__) - FUNCTIONAL_NON_OPERATORS
    return members | functions | set(sg_tensor.OPS)


def scalar_public_operators() -> set[str]:
    members = _public_members(Value) - VALUE_NON_OPERATORS - _CLASS_PLUMBING
    return members | {"maximum", "minimum"} | set(sg_scalar.OPS)


def _covered(specs) -> set[str]:
    names = set()
    for spec in specs:
        names.update(spec.covers)
        names.add(spec.op)
    return names


def test_every_public_tensor_operator_has_a_registry_entry() -> None:
    missing = sorted(tensor_public_operators() - _covered(TENSOR_SPECS))
    assert not missing, f"tensor operators without a registry entry: {missing}"


def test_every_public_scalar_operator_has_a_registry_entry() -> None:
    missing = sorted(scalar_public_operators() - _covered(SCALAR_SPECS))
    assert not missing, f"scalar operators without a registry entry: {missing}"


def test_the_completeness_check_notices_a_new_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Tensor, "cummax", lambda self: self, raising=False)
    assert "cummax" in tensor_public_operators() - _covered(TENSOR_SPECS)


def test_spec_names_are_unique() -> None:
    names = [(s.engine, s.name) for s in all_specs()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: f"{s.engine}:{s.name}")
def test_finite_difference_oracle_passes(spec) -> None:
    arrays = spec.sample(np.random.default_rng(0))
    result = fd_check(spec, arrays)
    assert result.passed, f"{spec.name}: scale-aware error {result.worst:.3g} at {result.where}"
