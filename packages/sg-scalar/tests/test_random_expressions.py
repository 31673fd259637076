"""Random expression DAGs: backward() against central differences of a float evaluation.

An expression is a list of steps over 1-3 inputs; each step applies an operator to
earlier steps or inputs, chosen at random, so sub-expressions are reused and diamonds
occur. Every operator is written once, against a small library object, and evaluated
twice: on ``Value`` (the library under test) and on plain floats (the oracle). Operators
with a restricted domain get an argument made valid (``log(a*a + 0.5)``), magnitudes are
bounded, and examples are rejected near a kink of relu/abs/maximum/minimum, or where the
central difference itself is unreliable (it changes when its step doubles).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import assume, find, given, settings
from hypothesis import strategies as st
from scalar_helpers import central_difference, close

import sg_scalar
from sg_scalar import Value
from sg_scalar.graph import topological_order

BOUND = 1e3  # largest magnitude allowed for any intermediate result
KINK_MARGIN = 1e-3  # closest a relu/abs/maximum/minimum argument may be to its kink


class UnreliableOracleError(Exception):
    """The float evaluation left the region where finite differences are reliable."""


class ValueLib:
    """The functions of the expression language on Values: the library under test."""

    exp = staticmethod(lambda a: a.exp())
    log = staticmethod(lambda a: a.log())
    sqrt = staticmethod(lambda a: a.sqrt())
    tanh = staticmethod(lambda a: a.tanh())
    sigmoid = staticmethod(lambda a: a.sigmoid())
    sin = staticmethod(lambda a: a.sin())
    cos = staticmethod(lambda a: a.cos())
    relu = staticmethod(lambda a: a.relu())
    abs = staticmethod(abs)
    maximum = staticmethod(sg_scalar.maximum)
    minimum = staticmethod(lambda a, b: a.minimum(b))


class FloatLib:
    """The same functions on floats, recording the signed distance to every kink."""

    def __init__(self) -> None:
        self.kinks: list[float] = []

    exp = staticmethod(math.exp)
    log = staticmethod(math.log)
    sqrt = staticmethod(math.sqrt)
    tanh = staticmethod(math.tanh)
    sigmoid = staticmethod(lambda a: 0.5 * (1.0 + math.tanh(0.5 * a)))
    sin = staticmethod(math.sin)
    cos = staticmethod(math.cos)

    def relu(self, a: float) -> float:
        self.kinks.append(a)
        return max(a, 0.0)

    def abs(self, a: float) -> float:
        self.kinks.append(a)
        return abs(a)

    def maximum(self, a: float, b: float) -> float:
        self.kinks.append(a - b)
        return max(a, b)

    def minimum(self, a: float, b: float) -> float:
        self.kinks.append(a - b)
        return min(a, b)


@dataclass(frozen=True)
class Operator:
    arity: int
    fn: Callable[..., Any]  # fn(lib, *args, c) on Values or floats
    text: str  # format with the argument names and the constant c
    consts: Sequence[float] = (0.0,)


def _positive(a: Any) -> Any:
    return a * a + 0.5  # >= 0.5: a valid argument for log, sqrt and fractional powers


OPERATORS: dict[str, Operator] = {
    "add": Operator(2, lambda lib, a, b, c: a + b, "{0} + {1}"),
    "sub": Operator(2, lambda lib, a, b, c: a - b, "{0} - {1}"),
    "mul": Operator(2, lambda lib, a, b, c: a * b, "{0} * {1}"),
    "div": Operator(2, lambda lib, a, b, c: a / _positive(b), "{0} / ({1}*{1} + 0.5)"),
    "neg": Operator(1, lambda lib, a, c: -a, "-{0}"),
    "add_c": Operator(1, lambda lib, a, c: a + c, "{0} + {c}", (-1.5, 0.5, 2)),
    "c_sub": Operator(1, lambda lib, a, c: c - a, "{c} - {0}", (-1, 0.25, 3.0)),
    "c_mul": Operator(1, lambda lib, a, c: c * a, "{c} * {0}", (-2.0, 0.5, 3)),
    "div_c": Operator(1, lambda lib, a, c: a / c, "{0} / {c}", (-4.0, 0.5, 3)),
    "c_div": Operator(1, lambda lib, a, c: c / _positive(a), "{c} / ({0}*{0} + 0.5)", (-1, 2.0)),
    "pow_int": Operator(1, lambda lib, a, c: a**c, "{0} ** {c}", (0, 1, 2, 3)),
    "pow_frac": Operator(
        1, lambda lib, a, c: _positive(a) ** c, "({0}*{0} + 0.5) ** {c}", (-2, -0.5, 0.5, 1.5)
    ),
    "pow_value": Operator(2, lambda lib, a, b, c: _positive(a) ** b, "({0}*{0} + 0.5) ** {1}"),
    "c_pow": Operator(1, lambda lib, a, c: c**a, "{c} ** {0}", (0.5, 2, 3.0)),
    "exp": Operator(1, lambda lib, a, c: lib.exp(a), "exp({0})"),
    "log": Operator(1, lambda lib, a, c: lib.log(_positive(a)), "log({0}*{0} + 0.5)"),
    "sqrt": Operator(1, lambda lib, a, c: lib.sqrt(_positive(a)), "sqrt({0}*{0} + 0.5)"),
    "tanh": Operator(1, lambda lib, a, c: lib.tanh(a), "tanh({0})"),
    "sigmoid": Operator(1, lambda lib, a, c: lib.sigmoid(a), "sigmoid({0})"),
    "sin": Operator(1, lambda lib, a, c: lib.sin(a), "sin({0})"),
    "cos": Operator(1, lambda lib, a, c: lib.cos(a), "cos({0})"),
    "relu": Operator(1, lambda lib, a, c: lib.relu(a), "relu({0})"),
    "abs": Operator(1, lambda lib, a, c: lib.abs(a), "abs({0})"),
    "maximum": Operator(2, lambda lib, a, b, c: lib.maximum(a, b), "maximum({0}, {1})"),
    "minimum": Operator(2, lambda lib, a, b, c: lib.minimum(a, b), "minimum({0}, {1})"),
}


@dataclass(frozen=True)
class Step:
    op: str
    args: tuple[int, ...]
    const: float


@dataclass(frozen=True)
class Expr:
    """Inputs ``x0..`` then steps ``t<i> = op(earlier names)``; the last step is the output."""

    n_inputs: int
    steps: tuple[Step, ...]

    def name(self, i: int) -> str:
        return f"x{i}" if i < self.n_inputs else f"t{i}"

    def __repr__(self) -> str:
        lines = [f"Expr({', '.join(self.name(i) for i in range(self.n_inputs))}):"]
        for k, step in enumerate(self.steps):
            names = [self.name(i) for i in step.args]
            body = OPERATORS[step.op].text.format(*names, c=step.const)
            lines.append(f"  {self.name(self.n_inputs + k)} = {body}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints failing examples with this hook (it lists a dataclass's
        # fields otherwise): show the readable form.
        printer.text(repr(self))

    def evaluate(self, lib: Any, inputs: Sequence[Any], check: bool = False) -> Any:
        env = list(inputs)
        for step in self.steps:
            result = OPERATORS[step.op].fn(lib, *(env[i] for i in step.args), step.const)
            if check and not (math.isfinite(result) and abs(result) <= BOUND):
                raise UnreliableOracleError(f"{result} out of range")
            env.append(result)
        return env[-1]

    def shares_a_node(self) -> bool:
        """Whether some input or step is used twice: the graph has a diamond or reuse."""
        uses = [i for step in self.steps for i in step.args]
        return len(uses) != len(set(uses))


@st.composite
def expressions(draw: st.DrawFn) -> Expr:
    n_inputs = draw(st.integers(1, 3), label="n_inputs")
    steps = []
    for k in range(draw(st.integers(1, 8))):
        available = n_inputs + k
        name = draw(st.sampled_from(sorted(OPERATORS)))
        op = OPERATORS[name]
        args = tuple(draw(st.integers(0, available - 1)) for _ in range(op.arity))
        steps.append(Step(name, args, draw(st.sampled_from(op.consts))))
    return Expr(n_inputs, tuple(steps))


def float_eval(expr: Expr, xs: Sequence[float]) -> tuple[float, list[float]]:
    """The float value and the kink arguments (UnreliableOracleError outside the safe region)."""
    lib = FloatLib()
    try:
        value = expr.evaluate(lib, xs, check=True)
    except (OverflowError, ZeroDivisionError, ValueError) as exc:
        raise UnreliableOracleError(str(exc)) from exc
    return value, lib.kinks


INPUTS = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(expr=expressions(), data=st.data())
def test_backward_matches_central_difference(expr: Expr, data: st.DataObject) -> None:
    xs = data.draw(st.lists(INPUTS, min_size=expr.n_inputs, max_size=expr.n_inputs), "xs")
    try:
        expected, kinks = float_eval(expr, xs)
    except UnreliableOracleError:
        assume(False)
    assume(all(abs(k) > KINK_MARGIN for k in kinks))
    signs = [k > 0 for k in kinks]

    def f(*point: float) -> float:
        value, point_kinks = float_eval(expr, point)
        if [k > 0 for k in point_kinks] != signs:  # the step crossed a kink
            raise UnreliableOracleError("kink crossed")
        return value

    try:
        fds = [central_difference(f, xs, i, h=1e-6) for i in range(expr.n_inputs)]
        coarse = [central_difference(f, xs, i, h=2e-6) for i in range(expr.n_inputs)]
    except UnreliableOracleError:
        assume(False)
    # The oracle must be trustworthy: a central difference whose value moves when the
    # step doubles is dominated by truncation (fast oscillation such as cos(9.5**(3x)))
    # or rounding, and cannot judge the gradient.
    assume(
        all(abs(a - b) <= 0.2 * (1e-5 + 1e-5 * abs(a)) for a, b in zip(fds, coarse, strict=True))
    )

    leaves = [Value(x) for x in xs]
    out = expr.evaluate(ValueLib, leaves)
    assert close(out.data, expected, atol=1e-9, rtol=1e-9), (out.data, expected)
    out.backward()
    for i, (leaf, fd) in enumerate(zip(leaves, fds, strict=True)):
        assert close(leaf.grad, fd, atol=1e-5, rtol=1e-5), (f"x{i}", leaf.grad, fd)


def test_strategy_reaches_diamonds() -> None:
    # find() raises NoSuchExample unless the strategy can build an expression that uses
    # a node twice (x*x-style reuse, or two paths that rejoin) with steps after it.
    expr = find(expressions(), lambda e: e.shares_a_node() and len(e.steps) >= 3)
    assert expr.shares_a_node()


def test_expression_operators_reach_every_entry_of_ops() -> None:
    recorded: set[str] = set()
    for name, op in OPERATORS.items():
        step = Step(name, tuple(range(op.arity)), op.consts[-1])
        out = Expr(2, (step,)).evaluate(ValueLib, [Value(0.3), Value(-0.7)])
        recorded |= {node.op for node in topological_order(out)}
    assert recorded - {""} == set(sg_scalar.OPS)


def test_repr_shows_the_expression() -> None:
    expr = Expr(2, (Step("mul", (0, 1), 0.0), Step("log", (2,), 0.0), Step("c_pow", (3,), 2)))
    assert repr(expr) == "Expr(x0, x1):\n  t2 = x0 * x1\n  t3 = log(t2*t2 + 0.5)\n  t4 = 2 ** t3"
    assert float_eval(expr, [1.0, 2.0])[0] == 2 ** math.log(4.5)
