"""Every operator's derivative, against its analytic form and a central difference.

Each case is one way to reach an operator from user code: Value with Value, Value with
a Python number on either side, the method, the builtin and the module function. Inputs
are drawn away from kinks and domain edges (those are tested in ``test_ieee_edges.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scalar_helpers import central_difference, close

import sg_scalar
from sg_scalar import OPS, Value
from sg_scalar.graph import topological_order


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


ANY = floats(-5.0, 5.0)
POS = floats(0.1, 10.0)
NONZERO = floats(-5.0, -0.1) | floats(0.1, 5.0)
AWAY = floats(-5.0, -1e-3) | floats(1e-3, 5.0)  # away from a kink at 0
EXPONENT = floats(-3.0, 3.0)
INT = st.integers(-4, 4)
# Two numbers at least 1e-3 apart: maximum/minimum away from their tie.
APART = st.tuples(ANY, AWAY).map(lambda t: (t[0], t[0] + t[1]))


@dataclass(frozen=True)
class Case:
    """One operator call: ``value_fn`` on Values (then numbers), ``float_fn`` on floats.

    The first ``n_values`` drawn inputs become leaf Values, the rest are passed as Python
    numbers; ``grad_fn`` gives the analytic gradient of each Value input. ``ops`` are the
    entries of ``OPS`` the call must record in the graph.
    """

    id: str
    ops: tuple[str, ...]
    value_fn: Callable[..., Value]
    float_fn: Callable[..., float]
    grad_fn: Callable[..., tuple[float, ...]]
    inputs: st.SearchStrategy[tuple[Any, ...]]
    n_values: int


def case(
    id: str,
    ops: tuple[str, ...],
    value_fn: Callable[..., Value],
    float_fn: Callable[..., float],
    grad_fn: Callable[..., tuple[float, ...]],
    *domains: st.SearchStrategy[Any],
    inputs: st.SearchStrategy[tuple[Any, ...]] | None = None,
    n_values: int | None = None,
) -> Case:
    strategy = inputs if inputs is not None else st.tuples(*domains)
    count = n_values if n_values is not None else len(domains)
    return Case(id, ops, value_fn, float_fn, grad_fn, strategy, count)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _sign(x: float) -> float:
    return 1.0 if x > 0 else -1.0


CASES = [
    # -- add, and its reflected form with numbers on either side ----------------------
    case("x+y", ("add",), lambda x, y: x + y, lambda x, y: x + y, lambda x, y: (1.0, 1.0),
         ANY, ANY),
    case("x+c", ("add",), lambda x, c: x + c, lambda x, c: x + c, lambda x, c: (1.0,),
         ANY, ANY, n_values=1),
    case("c+x", ("add",), lambda x, c: c + x, lambda x, c: c + x, lambda x, c: (1.0,),
         ANY, ANY, n_values=1),
    case("x+int", ("add",), lambda x, k: x + k, lambda x, k: x + k, lambda x, k: (1.0,),
         ANY, INT, n_values=1),
    case("int+x", ("add",), lambda x, k: k + x, lambda x, k: k + x, lambda x, k: (1.0,),
         ANY, INT, n_values=1),
    # -- sub: a composition of add and neg -------------------------------------------
    case("x-y", ("add", "neg"), lambda x, y: x - y, lambda x, y: x - y,
         lambda x, y: (1.0, -1.0), ANY, ANY),
    case("x-c", ("add",), lambda x, c: x - c, lambda x, c: x - c, lambda x, c: (1.0,),
         ANY, ANY, n_values=1),
    case("c-x", ("add", "neg"), lambda x, c: c - x, lambda x, c: c - x,
         lambda x, c: (-1.0,), ANY, ANY, n_values=1),
    case("int-x", ("add", "neg"), lambda x, k: k - x, lambda x, k: k - x,
         lambda x, k: (-1.0,), ANY, INT, n_values=1),
    # -- mul --------------------------------------------------------------------------
    case("x*y", ("mul",), lambda x, y: x * y, lambda x, y: x * y, lambda x, y: (y, x),
         ANY, ANY),
    case("x*c", ("mul",), lambda x, c: x * c, lambda x, c: x * c, lambda x, c: (c,),
         ANY, ANY, n_values=1),
    case("c*x", ("mul",), lambda x, c: c * x, lambda x, c: c * x, lambda x, c: (c,),
         ANY, ANY, n_values=1),
    case("int*x", ("mul",), lambda x, k: k * x, lambda x, k: k * x,
         lambda x, k: (float(k),), ANY, INT, n_values=1),
    # -- div: a composition of mul and pow_const ------------------------------------
    case("x/y", ("mul", "pow_const"), lambda x, y: x / y, lambda x, y: x / y,
         lambda x, y: (1.0 / y, -x / y**2), ANY, NONZERO),
    case("x/c", ("mul",), lambda x, c: x / c, lambda x, c: x / c, lambda x, c: (1.0 / c,),
         ANY, NONZERO, n_values=1),
    case("c/x", ("mul", "pow_const"), lambda x, c: c / x, lambda x, c: c / x,
         lambda x, c: (-c / x**2,), NONZERO, ANY, n_values=1),
    case("int/x", ("mul", "pow_const"), lambda x, k: k / x, lambda x, k: k / x,
         lambda x, k: (-k / x**2,), NONZERO, INT, n_values=1),
    # -- neg --------------------------------------------------------------------------
    case("-x", ("neg",), lambda x: -x, lambda x: -x, lambda x: (-1.0,), ANY),
    # -- pow with a number exponent (int or float) ----------------------------------
    case("x**int", ("pow_const",), lambda x, k: x**k, lambda x, k: x**k,
         lambda x, k: (k * x ** (k - 1),), NONZERO, INT, n_values=1),
    case("x**float", ("pow_const",), lambda x, p: x**p, lambda x, p: x**p,
         lambda x, p: (p * x ** (p - 1.0),), POS, EXPONENT, n_values=1),
    # -- pow with a Value exponent, and a number raised to a Value ------------------
    case("x**y", ("pow",), lambda x, y: x**y, lambda x, y: x**y,
         lambda x, y: (y * x ** (y - 1.0), x**y * math.log(x)), POS, EXPONENT),
    case("c**y", ("pow",), lambda y, c: c**y, lambda y, c: c**y,
         lambda y, c: (c**y * math.log(c),), EXPONENT, POS, n_values=1),
    case("int**y", ("pow",), lambda y, k: k**y, lambda y, k: k**y,
         lambda y, k: (k**y * math.log(k),), EXPONENT, st.integers(1, 5), n_values=1),
    # -- elementary functions ----------------------------------------------------------
    case("exp", ("exp",), lambda x: x.exp(), math.exp, lambda x: (math.exp(x),), ANY),
    case("log", ("log",), lambda x: x.log(), math.log, lambda x: (1.0 / x,), POS),
    case("sqrt", ("sqrt",), lambda x: x.sqrt(), math.sqrt,
         lambda x: (0.5 / math.sqrt(x),), POS),
    case("tanh", ("tanh",), lambda x: x.tanh(), math.tanh,
         lambda x: (1.0 / math.cosh(x) ** 2,), ANY),
    case("sigmoid", ("sigmoid",), lambda x: x.sigmoid(), _sigmoid,
         lambda x: (math.exp(-x) / (1.0 + math.exp(-x)) ** 2,), ANY),
    case("sin", ("sin",), lambda x: x.sin(), math.sin, lambda x: (math.cos(x),), ANY),
    case("cos", ("cos",), lambda x: x.cos(), math.cos, lambda x: (-math.sin(x),), ANY),
    # -- piecewise functions, away from their kinks --------------------------------
    case("relu", ("relu",), lambda x: x.relu(), lambda x: max(x, 0.0),
         lambda x: (1.0 if x > 0 else 0.0,), AWAY),
    case("x.abs()", ("abs",), lambda x: x.abs(), abs, lambda x: (_sign(x),), AWAY),
    case("abs(x)", ("abs",), lambda x: abs(x), abs, lambda x: (_sign(x),), AWAY),
    case("x.maximum(y)", ("maximum",), lambda x, y: x.maximum(y), max,
         lambda x, y: (1.0, 0.0) if x > y else (0.0, 1.0), inputs=APART, n_values=2),
    case("maximum(x,y)", ("maximum",), sg_scalar.maximum, max,
         lambda x, y: (1.0, 0.0) if x > y else (0.0, 1.0), inputs=APART, n_values=2),
    case("x.maximum(c)", ("maximum",), lambda x, c: x.maximum(c), max,
         lambda x, c: (1.0 if x > c else 0.0,), inputs=APART, n_values=1),
    case("maximum(c,x)", ("maximum",), lambda x, c: sg_scalar.maximum(c, x), max,
         lambda x, c: (1.0 if x > c else 0.0,), inputs=APART, n_values=1),
    case("x.minimum(y)", ("minimum",), lambda x, y: x.minimum(y), min,
         lambda x, y: (1.0, 0.0) if x < y else (0.0, 1.0), inputs=APART, n_values=2),
    case("minimum(x,y)", ("minimum",), sg_scalar.minimum, min,
         lambda x, y: (1.0, 0.0) if x < y else (0.0, 1.0), inputs=APART, n_values=2),
    case("x.minimum(c)", ("minimum",), lambda x, c: x.minimum(c), min,
         lambda x, c: (1.0 if x < c else 0.0,), inputs=APART, n_values=1),
    case("minimum(c,x)", ("minimum",), lambda x, c: sg_scalar.minimum(c, x), min,
         lambda x, c: (1.0 if x < c else 0.0,), inputs=APART, n_values=1),
]  # fmt: skip


def _run(case: Case, args: tuple[Any, ...]) -> tuple[Value, list[Value]]:
    leaves = [Value(a) for a in args[: case.n_values]]
    return case.value_fn(*leaves, *args[case.n_values :]), leaves


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_gradient_matches_analytic_form(case: Case, data: st.DataObject) -> None:
    args = data.draw(case.inputs, label="inputs")
    out, leaves = _run(case, args)
    recorded = {node.op for node in topological_order(out)}
    assert set(case.ops) <= recorded, f"{case.id} recorded {recorded}"
    assert close(out.data, case.float_fn(*args), atol=1e-12, rtol=1e-12)
    out.backward()
    expected = case.grad_fn(*args)
    for leaf, want in zip(leaves, expected, strict=True):
        assert close(leaf.grad, want, atol=1e-12, rtol=1e-9), (leaf.grad, want)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_gradient_matches_central_difference(case: Case, data: st.DataObject) -> None:
    args = data.draw(case.inputs, label="inputs")
    out, leaves = _run(case, args)
    out.backward()
    n, consts = case.n_values, args[case.n_values :]
    for i, leaf in enumerate(leaves):
        fd = central_difference(lambda *xs: case.float_fn(*xs, *consts), args[:n], i)
        assert close(leaf.grad, fd, atol=1e-5, rtol=1e-5), (i, leaf.grad, fd)


def test_every_operator_of_the_table_has_a_case() -> None:
    covered = {name for case in CASES for name in case.ops}
    assert covered == set(OPS)


def test_numbers_on_either_side_do_not_receive_gradients() -> None:
    # The number side is a constant: no grad flows to it, and only x is in the graph.
    x = Value(1.5)
    out = 2.0 * x + x / 4 - 3 + 2**x + (1 - x) * 5.0
    order = topological_order(out)
    leaves = [node for node in order if node.is_leaf]
    assert leaves == [x]
    out.backward()
    assert close(x.grad, 2.0 + 0.25 + 2**1.5 * math.log(2.0) - 5.0, atol=1e-12, rtol=1e-12)
