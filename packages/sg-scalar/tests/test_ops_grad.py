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
NZ = floats(-5.0, -0.1) | floats(0.1, 5.0)  # nonzero: a divisor, a base with k < 0
AWAY = floats(-5.0, -1e-3) | floats(1e-3, 5.0)  # away from a kink at 0
EXP = floats(-3.0, 3.0)  # exponents
INT = st.integers(-4, 4)
BASE = st.integers(1, 5)
# Two numbers at least 1e-3 apart: maximum/minimum away from their tie.
APART = st.tuples(ANY, AWAY).map(lambda t: (t[0], t[0] + t[1]))


@dataclass(frozen=True)
class Case:
    """One operator call: ``fn`` on Values (then numbers), ``float_fn`` on floats.

    ``grad_fn`` gives the analytic gradient of each Value input: as many leading inputs
    become leaf Values as it returns gradients, the rest are passed as Python numbers.
    ``ops`` are the entries of ``OPS`` the call must record in the graph.
    """

    id: str
    ops: tuple[str, ...]
    fn: Callable[..., Value]
    float_fn: Callable[..., float]
    grad_fn: Callable[..., tuple[float, ...]]
    inputs: st.SearchStrategy[tuple[Any, ...]]

    def n_values(self, args: tuple[Any, ...]) -> int:
        """How many inputs are Values: one analytic gradient each."""
        return len(self.grad_fn(*args))


def case(
    id: str,
    ops: str,
    fn: Callable[..., Any],
    grad_fn: Callable[..., tuple[float, ...]],
    *domains: st.SearchStrategy[Any],
    floats: Callable[..., float] | None = None,
    draw: st.SearchStrategy[tuple[Any, ...]] | None = None,
) -> Case:
    """A case; ``fn`` also computes the float result unless ``floats`` is given.

    The inputs are drawn from ``domains`` (one strategy per input) or from ``draw`` (a
    strategy of tuples).
    """
    strategy = draw if draw is not None else st.tuples(*domains)
    return Case(id, tuple(ops.split()), fn, floats or fn, grad_fn, strategy)


def _dx_pow(x: float, p: float) -> float:
    return p * x ** (p - 1.0)


def _dy_pow(x: float, y: float) -> float:
    return x**y * math.log(x)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _dsigmoid(x: float) -> tuple[float]:
    return (math.exp(-x) / (1.0 + math.exp(-x)) ** 2,)


def _dtanh(x: float) -> tuple[float]:
    return (1.0 / math.cosh(x) ** 2,)


def _relu(x: float) -> float:
    return max(x, 0.0)


def _sign(x: float) -> tuple[float]:
    return (1.0 if x > 0 else -1.0,)


def _dmax(x: float, y: float) -> tuple[float, float]:
    return (1.0, 0.0) if x > y else (0.0, 1.0)


def _dmin(x: float, y: float) -> tuple[float, float]:
    return (1.0, 0.0) if x < y else (0.0, 1.0)


def _dmax_x(x: float, c: float) -> tuple[float]:
    return (1.0 if x > c else 0.0,)


def _dmin_x(x: float, c: float) -> tuple[float]:
    return (1.0 if x < c else 0.0,)


def _maximum_cx(x: Value, c: float) -> Value:
    return sg_scalar.maximum(c, x)


def _minimum_cx(x: Value, c: float) -> Value:
    return sg_scalar.minimum(c, x)


CASES = [
    # -- add, and its reflected form with numbers on either side ----------------------
    case("x+y", "add", lambda x, y: x + y, lambda x, y: (1.0, 1.0), ANY, ANY),
    case("x+c", "add", lambda x, c: x + c, lambda x, c: (1.0,), ANY, ANY),
    case("c+x", "add", lambda x, c: c + x, lambda x, c: (1.0,), ANY, ANY),
    case("x+int", "add", lambda x, k: x + k, lambda x, k: (1.0,), ANY, INT),
    case("int+x", "add", lambda x, k: k + x, lambda x, k: (1.0,), ANY, INT),
    # -- sub: a composition of add and neg -------------------------------------------
    case("x-y", "add neg", lambda x, y: x - y, lambda x, y: (1.0, -1.0), ANY, ANY),
    case("x-c", "add", lambda x, c: x - c, lambda x, c: (1.0,), ANY, ANY),
    case("c-x", "add neg", lambda x, c: c - x, lambda x, c: (-1.0,), ANY, ANY),
    case("int-x", "add neg", lambda x, k: k - x, lambda x, k: (-1.0,), ANY, INT),
    # -- mul --------------------------------------------------------------------------
    case("x*y", "mul", lambda x, y: x * y, lambda x, y: (y, x), ANY, ANY),
    case("x*c", "mul", lambda x, c: x * c, lambda x, c: (c,), ANY, ANY),
    case("c*x", "mul", lambda x, c: c * x, lambda x, c: (c,), ANY, ANY),
    case("int*x", "mul", lambda x, k: k * x, lambda x, k: (float(k),), ANY, INT),
    # -- div: a composition of mul and pow_const ------------------------------------
    case("x/y", "mul pow_const", lambda x, y: x / y, lambda x, y: (1 / y, -x / y**2), ANY, NZ),
    case("x/c", "mul", lambda x, c: x / c, lambda x, c: (1 / c,), ANY, NZ),
    case("c/x", "mul pow_const", lambda x, c: c / x, lambda x, c: (-c / x**2,), NZ, ANY),
    case("int/x", "mul pow_const", lambda x, k: k / x, lambda x, k: (-k / x**2,), NZ, INT),
    # -- neg --------------------------------------------------------------------------
    case("-x", "neg", lambda x: -x, lambda x: (-1.0,), ANY),
    # -- pow with a number exponent (int or float) ----------------------------------
    case("x**int", "pow_const", lambda x, k: x**k, lambda x, k: (_dx_pow(x, k),), NZ, INT),
    case("x**p", "pow_const", lambda x, p: x**p, lambda x, p: (_dx_pow(x, p),), POS, EXP),
    # -- pow with a Value exponent, and a number raised to a Value ------------------
    case("x**y", "pow", lambda x, y: x**y, lambda x, y: (_dx_pow(x, y), _dy_pow(x, y)), POS, EXP),
    case("c**y", "pow", lambda y, c: c**y, lambda y, c: (_dy_pow(c, y),), EXP, POS),
    case("int**y", "pow", lambda y, k: k**y, lambda y, k: (_dy_pow(k, y),), EXP, BASE),
    # -- elementary functions ----------------------------------------------------------
    case("exp", "exp", lambda x: x.exp(), lambda x: (math.exp(x),), ANY, floats=math.exp),
    case("log", "log", lambda x: x.log(), lambda x: (1 / x,), POS, floats=math.log),
    case("sqrt", "sqrt", lambda x: x.sqrt(), lambda x: (0.5 / x**0.5,), POS, floats=math.sqrt),
    case("tanh", "tanh", lambda x: x.tanh(), _dtanh, ANY, floats=math.tanh),
    case("sigmoid", "sigmoid", lambda x: x.sigmoid(), _dsigmoid, ANY, floats=_sigmoid),
    case("sin", "sin", lambda x: x.sin(), lambda x: (math.cos(x),), ANY, floats=math.sin),
    case("cos", "cos", lambda x: x.cos(), lambda x: (-math.sin(x),), ANY, floats=math.cos),
    # -- piecewise functions, away from their kinks --------------------------------
    case("relu", "relu", lambda x: x.relu(), lambda x: (float(x > 0),), AWAY, floats=_relu),
    case("x.abs()", "abs", lambda x: x.abs(), _sign, AWAY, floats=abs),
    case("abs(x)", "abs", abs, _sign, AWAY),
    case("x.maximum(y)", "maximum", lambda x, y: x.maximum(y), _dmax, draw=APART, floats=max),
    case("maximum(x,y)", "maximum", sg_scalar.maximum, _dmax, draw=APART, floats=max),
    case("x.minimum(y)", "minimum", lambda x, y: x.minimum(y), _dmin, draw=APART, floats=min),
    case("minimum(x,y)", "minimum", sg_scalar.minimum, _dmin, draw=APART, floats=min),
    # with a number on either side: the grad of the Value input only
    case("x.maximum(c)", "maximum", lambda x, c: x.maximum(c), _dmax_x, draw=APART, floats=max),
    case("maximum(c,x)", "maximum", _maximum_cx, _dmax_x, draw=APART, floats=max),
    case("x.minimum(c)", "minimum", lambda x, c: x.minimum(c), _dmin_x, draw=APART, floats=min),
    case("minimum(c,x)", "minimum", _minimum_cx, _dmin_x, draw=APART, floats=min),
]


def _run(case: Case, args: tuple[Any, ...]) -> tuple[Value, list[Value]]:
    n = case.n_values(args)
    leaves = [Value(a) for a in args[:n]]
    return case.fn(*leaves, *args[n:]), leaves


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
    for leaf, want in zip(leaves, case.grad_fn(*args), strict=True):
        assert close(leaf.grad, want, atol=1e-12, rtol=1e-9), (leaf.grad, want)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_gradient_matches_central_difference(case: Case, data: st.DataObject) -> None:
    args = data.draw(case.inputs, label="inputs")
    out, leaves = _run(case, args)
    out.backward()
    n = len(leaves)
    for i, leaf in enumerate(leaves):
        fd = central_difference(lambda *xs: case.float_fn(*xs, *args[n:]), args[:n], i)
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
