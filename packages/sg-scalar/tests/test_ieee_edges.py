"""Kinks and domain edges follow PyTorch, and never raise a Python exception.

Each row gives the inputs, the expected forward value and the expected gradient of every
input, written out explicitly (``nan`` equals ``nan`` here).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scalar_helpers import same_float

import sg_scalar
from sg_scalar import Value

inf, nan = math.inf, math.nan


def row(
    id: str,
    inputs: tuple[float, ...],
    fn: Callable[..., Value],
    out: float,
    grads: tuple[float, ...],
) -> object:
    return pytest.param(inputs, fn, out, grads, id=id)


EDGES = [
    # -- kinks: the derivative is PyTorch's choice --------------------------------------
    row("relu'(0)=0", (0.0,), lambda x: x.relu(), 0.0, (0.0,)),
    row("relu'(-0.0)=0", (-0.0,), lambda x: x.relu(), 0.0, (0.0,)),
    row("abs'(0)=0", (0.0,), lambda x: x.abs(), 0.0, (0.0,)),
    row("maximum tie splits", (1.0, 1.0), lambda a, b: a.maximum(b), 1.0, (0.5, 0.5)),
    row("minimum tie splits", (-2.0, -2.0), lambda a, b: a.minimum(b), -2.0, (0.5, 0.5)),
    row("maximum(x, x)", (3.0,), lambda x: x.maximum(x), 3.0, (1.0,)),
    row("minimum(x, x)", (3.0,), lambda x: sg_scalar.minimum(x, x), 3.0, (1.0,)),
    row("maximum tie with a number", (1.0,), lambda x: x.maximum(1), 1.0, (0.5,)),
    row("minimum tie with a number", (1.0,), lambda x: sg_scalar.minimum(1.0, x), 1.0, (0.5,)),
    # -- log and sqrt at and below 0 -----------------------------------------------------
    row("log(0)=-inf", (0.0,), lambda x: x.log(), -inf, (inf,)),
    row("log(-1)=nan", (-1.0,), lambda x: x.log(), nan, (-1.0,)),
    row("sqrt(-1)=nan", (-1.0,), lambda x: x.sqrt(), nan, (nan,)),
    row("sqrt'(0)=inf", (0.0,), lambda x: x.sqrt(), 0.0, (inf,)),
    # -- pow with a number exponent ------------------------------------------------------
    row("0**-1=inf", (0.0,), lambda x: x**-1, inf, (-inf,)),
    row("(-0.0)**-1=-inf", (-0.0,), lambda x: x**-1, -inf, (-inf,)),
    row("0**-2=inf", (0.0,), lambda x: x**-2.0, inf, (-inf,)),
    row("(-8)**0.5=nan", (-8.0,), lambda x: x**0.5, nan, (nan,)),
    row("(-2)**3", (-2.0,), lambda x: x**3, -8.0, (12.0,)),
    row("0**0, grad 0", (0.0,), lambda x: x**0, 1.0, (0.0,)),
    row("0**0.0, grad 0", (0.0,), lambda x: x**0.0, 1.0, (0.0,)),
    row("(-3)**0, grad 0", (-3.0,), lambda x: x**0, 1.0, (0.0,)),
    row("0**0.5, grad inf", (0.0,), lambda x: x**0.5, 0.0, (inf,)),
    # -- pow with a Value exponent: d/dy is 0 at x == 0, y >= 0 --------------------------
    row("0**y at y=0", (0.0, 0.0), lambda x, y: x**y, 1.0, (0.0, 0.0)),
    row("0**y at y=2", (0.0, 2.0), lambda x, y: x**y, 0.0, (0.0, 0.0)),
    row("0**y at y=0.5", (0.0, 0.5), lambda x, y: x**y, 0.0, (inf, 0.0)),
    row("0**y at y=-1", (0.0, -1.0), lambda x, y: x**y, inf, (-inf, -inf)),
    row("number 0**y at y=2", (2.0,), lambda y: 0.0**y, 0.0, (0.0,)),
    row("x**y at x=-2, y=2", (-2.0, 2.0), lambda x, y: x**y, 4.0, (-4.0, nan)),
    row("x**y at y=0", (-2.0, 0.0), lambda x, y: x**y, 1.0, (0.0, nan)),
    # -- overflow and saturation -------------------------------------------------------
    row("exp(1000)=inf", (1000.0,), lambda x: x.exp(), inf, (inf,)),
    row("exp(-1000)=0", (-1000.0,), lambda x: x.exp(), 0.0, (0.0,)),
    row("sigmoid(1000)=1", (1000.0,), lambda x: x.sigmoid(), 1.0, (0.0,)),
    row("sigmoid(-1000)=0", (-1000.0,), lambda x: x.sigmoid(), 0.0, (0.0,)),
    row("tanh(1000)=1", (1000.0,), lambda x: x.tanh(), 1.0, (0.0,)),
    row("tanh(-1000)=-1", (-1000.0,), lambda x: x.tanh(), -1.0, (0.0,)),
    row("10**400=inf", (10.0,), lambda x: x**400, inf, (inf,)),
    row("sin(inf)=nan", (inf,), lambda x: x.sin(), nan, (nan,)),
    row("cos(-inf)=nan", (-inf,), lambda x: x.cos(), nan, (nan,)),
    # -- division by zero --------------------------------------------------------------
    row("1/Value(0)=inf", (1.0, 0.0), lambda a, b: a / b, inf, (inf, -inf)),
    row("-1/Value(0)=-inf", (-1.0, 0.0), lambda a, b: a / b, -inf, (inf, inf)),
    row("0/Value(0)=nan", (0.0, 0.0), lambda a, b: a / b, nan, (inf, nan)),
    row("Value(1)/0=inf", (1.0,), lambda a: a / 0, inf, (inf,)),
    row("1.0/Value(0)=inf", (0.0,), lambda b: 1.0 / b, inf, (-inf,)),
]


@pytest.mark.parametrize(("inputs", "fn", "out", "grads"), EDGES)
def test_edge_value_and_gradient(
    inputs: tuple[float, ...],
    fn: Callable[..., Value],
    out: float,
    grads: tuple[float, ...],
) -> None:
    leaves = [Value(x) for x in inputs]
    result = fn(*leaves)
    assert same_float(result.data, out), result.data
    result.backward()
    for leaf, want in zip(leaves, grads, strict=True):
        assert same_float(leaf.grad, want), (leaf.grad, want)


def test_same_float_tells_values_apart() -> None:
    # The comparison the table relies on: nan only equals nan, inf keeps its sign.
    assert same_float(nan, nan)
    assert not same_float(0.0, nan)
    assert not same_float(nan, 0.0)
    assert not same_float(inf, -inf)
    assert same_float(-0.0, 0.0)


UNARY = [
    lambda x: -x,
    lambda x: x.exp(),
    lambda x: x.log(),
    lambda x: x.sqrt(),
    lambda x: x.tanh(),
    lambda x: x.sigmoid(),
    lambda x: x.relu(),
    lambda x: x.sin(),
    lambda x: x.cos(),
    lambda x: x.abs(),
    lambda x: x**-1,
    lambda x: x**0.5,
    lambda x: x**-2.5,
    lambda x: x**0,
    lambda x: 1.0 / x,
    lambda x: 0.0**x,
    lambda x: (-2.0) ** x,
]
BINARY = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / b,
    lambda a, b: a**b,
    lambda a, b: a.maximum(b),
    lambda a, b: a.minimum(b),
]
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, inf, -inf, nan, 1e308, -1e308, 5e-324]
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(range(len(UNARY))),
    st.sampled_from(range(len(BINARY))),
    ANY_FLOAT,
    ANY_FLOAT,
)
def test_no_python_exception_for_any_float(u: int, b: int, x: float, y: float) -> None:
    # Any float, nan and inf included, goes through every operator and its gradient
    # without an exception: the results are IEEE floats.
    a, c = Value(x), Value(y)
    out = UNARY[u](BINARY[b](a, c))
    assert isinstance(out.data, float)
    out.backward()
    assert isinstance(a.grad, float)
    assert isinstance(c.grad, float)
