"""The calls a check should make of a declared operator, and the inputs to make them at.

:func:`examples` turns a :class:`~sg_scalar.declare.Declaration` into
:class:`Example` calls: its first form in every declared case (at every shape of its
signature where a case gives none) and each other form once. An example draws its own
inputs (:meth:`Example.draw`): in the declared domains, away from the kinks, all values
distinct where the operator has a tie, exact values where a case places them.
:func:`call_form` is how a form is called and :func:`apply` the canonical call. The
verification registry, the expression generator and sg-tensor's own gradient tests are
made from these.

No numpy here: inputs are drawn through the random generator given (numpy's
``Generator`` in practice) with arithmetic only.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sg_scalar.declare import (
    _BINARY_SYMBOLS,
    _UNARY_SYMBOLS,
    Case,
    Declaration,
    Form,
    Params,
    Shape,
    ZeroSpread,
)

__all__ = ["Example", "apply", "call_form", "examples"]


def examples(
    decl: Declaration, default_shapes: Callable[[Declaration], list[tuple[Shape, ...]]]
) -> list[Example]:
    """Every call a check should try: the first form in every case (and, where a case
    gives no shapes, at every shape ``default_shapes`` gives for the signature), each
    other form once, in the first case."""
    found: list[Example] = []
    forms = decl.forms_or_call
    if not forms:
        return found
    for i, case in enumerate(decl.cases):
        shape_sets = [case.shapes] if case.shapes is not None else default_shapes(decl)
        for shapes in shape_sets:
            found.append(Example(decl, forms[0], case, shapes, i))
    first = decl.cases[0]
    first_shapes = first.shapes if first.shapes is not None else default_shapes(decl)[0]
    for form in forms[1:]:
        shapes = first_shapes[1:] if form.kind == "reflected" else first_shapes
        found.append(Example(decl, form, first, shapes, 0))
    return found


def apply(decl: Declaration, *inputs: Any, **params: Any) -> Any:
    """Call the operator the canonical way: its ``call``, else its first form."""
    if decl.call is not None:
        return decl.call(*inputs, **params)
    return call_form(decl, decl.forms[0], inputs, params)


@dataclass(frozen=True, eq=False)
class Example:
    """One checkable call: an operator's form in a case, at given input shapes."""

    declaration: Declaration
    form: Form
    case: Case
    shapes: tuple[Shape, ...]
    case_index: int = 0

    @property
    def name(self) -> str:
        """A readable unique name: operator, form, case and shapes."""
        shapes = "|".join("x".join(map(str, s)) or "0d" for s in self.shapes)
        params = ",".join(f"{k}={_short(v)}" for k, v in self.case.params.items())
        label = self.case.label or params
        return f"{self.declaration.name}[{self.form}{';' + label if label else ''};{shapes}]"

    def call(self, *inputs: Any) -> Any:
        """Call the operator in this form on ``inputs`` (engine values)."""
        return call_form(self.declaration, self.form, inputs, self.case.params)

    def draw(self, rng: Any) -> list[Any]:
        """Inputs in the operator's domain, away from its kinks and ties (float64)."""
        decl, params = self.declaration, self.case.params
        offset = 1 if self.form.kind == "reflected" else 0  # the constant is input 0
        spread = any(isinstance(edge, ZeroSpread) for edge in decl.edges)
        if decl.ties is not None or spread:  # every value distinct: no two tie, no slice
            arrays = _distinct(rng, self.shapes)  # is (nearly) constant
        else:
            arrays = [
                decl.domain(i + offset, self.case).draw(rng, s) for i, s in enumerate(self.shapes)
            ]
        for index, point, _ in decl.kinks(params):
            if 0 <= index - offset < len(arrays):
                arrays[index - offset] = _push_away(arrays[index - offset], point, 0.05)
        for index, values in self.case.exact.items():
            for position, value in values.items():
                arrays[index][position] = value
        return arrays


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _push_away(x: Any, point: float, gap: float) -> Any:
    """``x`` with every value closer than ``gap`` to ``point`` moved to ``2 gap`` from it."""
    near = abs(x - point) < gap
    side = (x >= point) * 2.0 - 1.0
    return x + near * (point + side * 2 * gap - x)


def _distinct(rng: Any, shapes: Sequence[Shape]) -> list[Any]:
    """Arrays of ``shapes`` whose values, all together, are at least 0.1 apart."""
    sizes = [math.prod(s) for s in shapes]
    n = sum(sizes)
    values = (rng.permutation(n) - n / 2) * 0.1 + rng.uniform(-0.02, 0.02)
    arrays, start = [], 0
    for shape, size in zip(shapes, sizes):
        arrays.append(values[start : start + size].reshape(shape))
        start += size
    return arrays


def call_form(decl: Declaration, form: Form, inputs: Sequence[Any], params: Params) -> Any:
    """Call ``decl`` through ``form`` on ``inputs`` with ``params`` (see :class:`Form`).

    Methods and functions take the parameters positionally, in the case's order, after
    the inputs (the ``leading`` ones before); numpy functions take them by keyword.
    """
    result = _call_form(decl, form, inputs, params)
    return result if decl.output is None else result[decl.output]


def _call_form(decl: Declaration, form: Form, inputs: Sequence[Any], params: Params) -> Any:
    kind, name = form.kind, form.name
    if kind == "call" and decl.call is not None:
        return decl.call(*inputs, **params)
    args: list[Any] = [list(inputs)] if decl.variadic else list(inputs)
    lead = [params[p] for p in decl.leading]
    rest = {k: v for k, v in params.items() if k not in decl.leading}
    if kind == "method":
        return getattr(args[0], name)(*args[1:], *rest.values())
    if kind == "property":
        return getattr(args[0], name)
    if kind == "function":
        function = getattr(importlib.import_module(decl.module), name)
        return function(*lead, *args, *rest.values())
    if kind == "numpy":
        keywords = {form.rename.get(k, k): v for k, v in rest.items()}
        return form.target(*lead, *args, **keywords)
    values = list(params.values())
    if kind == "reflected":
        (x,) = inputs
        constant = form.target if form.target != "array" else _array_constant(name, x)
        return _BINARY_SYMBOLS[name][0](constant, x)
    if name in _BINARY_SYMBOLS:
        if len(inputs) == 1 and len(values) == 1:  # x ** p with a number p
            return _BINARY_SYMBOLS[name][0](inputs[0], values[0])
        return _BINARY_SYMBOLS[name][0](inputs[0], inputs[1])
    if name in _UNARY_SYMBOLS:
        return _UNARY_SYMBOLS[name][0](inputs[0])
    if name == "[]":
        return inputs[0][values[0]]
    raise ValueError(f"{decl.name}: unknown calling form {form}")


def _array_constant(symbol: str, x: Any) -> Any:
    """A constant array (numpy, from ``x``'s data) that can stand left of ``x``."""
    data = x.data
    if symbol == "@":  # (n, k) @ (k, n): the transposed shape fits
        data = data.swapaxes(-1, -2) if data.ndim >= 2 else data
    return data * 0.0 + 1.5  # positive: a valid base and divisor
