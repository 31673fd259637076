"""The scalar operators: each one forward and one gradient rule, side by side.

Every entry is ``@op(name, forward)`` above its vector-Jacobian product. The rule gets
the output gradient ``g``, the forward result ``out`` and the inputs under their forward
names (plus keyword arguments such as the exponent ``p``) and returns one gradient per
input. Rules run on floats (ordinary backward) and on ``Value`` nodes
(``create_graph=True``), so they use only arithmetic and the functions of
:mod:`sg_scalar.ieee`, which work on both.

Subtraction, division and the reflected operators are compositions of these entries
(see ``Value``), so they need no rule of their own. Values at kinks and domain edges
follow PyTorch: the docstring of each rule says what happens there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sg_scalar.graph import Op, Rule
from sg_scalar.ieee import cos, data, div, exp, log, nan, power, sigmoid, sign, sin, sqrt

OPS: dict[str, Op] = {}
"""Every scalar operator by name: the table the verification registry must cover."""


def op(name: str, forward: Callable[..., float]) -> Callable[[Rule], Op]:
    """Declare an operator: its forward above, its gradient rule below."""

    def register(vjp: Rule) -> Op:
        OPS[name] = Op(name, forward, vjp)
        return OPS[name]

    return register


# ---------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------
@op("add", lambda a, b: a + b)
def add(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """d(a + b)/da = 1, d(a + b)/db = 1."""
    return g, g


@op("mul", lambda a, b: a * b)
def mul(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """d(a * b)/da = b, d(a * b)/db = a."""
    return g * b, g * a


@op("neg", lambda x: -x)
def neg(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(-x)/dx = -1."""
    return (-g,)


@op("pow_const", lambda x, *, p: power(x, p))
def pow_const(g: Any, out: Any, x: Any, *, p: float) -> tuple[Any]:
    """d(x**p)/dx = p * x**(p - 1) for a number p.

    ``p == 0`` gives 0 everywhere (PyTorch). At ``x == 0`` with ``p < 1`` the
    derivative is ``inf`` (or ``nan`` times a zero gradient); a negative ``x`` with a
    non-integer ``p`` gives ``nan``, as the forward does.
    """
    if p == 0:
        return (g * 0.0,)
    return (g * (p * power(x, p - 1.0)),)


@op("pow", lambda x, y: power(x, y))
def pow_(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """d(x**y)/dx = y * x**(y - 1), d(x**y)/dy = x**y * log(x), both Values.

    As in PyTorch: the x-gradient is 0 where ``y == 0``; the y-gradient is 0 where
    ``x == 0`` and ``y >= 0`` (instead of ``0 * log 0 = nan``), and ``nan`` for ``x < 0``.
    """
    x_data, y_data = data(x), data(y)
    gx = g * 0.0 if y_data == 0 else g * (y * power(x, y - 1.0))
    gy = g * 0.0 if x_data == 0 and y_data >= 0 else g * (out * log(x))
    return gx, gy


# ---------------------------------------------------------------------------------------
# Elementary functions
# ---------------------------------------------------------------------------------------
@op("exp", exp)
def exp_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(e**x)/dx = e**x, the output itself."""
    return (g * out,)


@op("log", log)
def log_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(log x)/dx = 1 / x: ``inf`` at 0, ``nan`` below (where log is ``nan``)."""
    return (div(g, x),)


@op("sqrt", sqrt)
def sqrt_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(sqrt x)/dx = 1 / (2 sqrt x): ``inf`` at 0."""
    return (div(g, 2.0 * out),)


@op("sin", sin)
def sin_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(sin x)/dx = cos x."""
    return (g * cos(x),)


@op("cos", cos)
def cos_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(cos x)/dx = -sin x."""
    return (-(g * sin(x)),)


@op("tanh", math.tanh)
def tanh(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(tanh x)/dx = 1 - tanh(x)**2, from the output."""
    return (g * (1.0 - out * out),)


@op("sigmoid", sigmoid)
def sigmoid_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(sigmoid x)/dx = s * (1 - s) with s = sigmoid(x), from the output."""
    return (g * (1.0 - out) * out,)


# ---------------------------------------------------------------------------------------
# Piecewise functions: the derivative at a kink is a choice, PyTorch's here.
# ---------------------------------------------------------------------------------------
@op("relu", lambda x: 0.0 if x <= 0 else x)
def relu(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(relu x)/dx = 1 where the output is > 0, else 0 (so 0 at the kink x == 0)."""
    mask = 1.0 if data(out) > 0 else 0.0
    # On nodes (second order) the mask is a node of derivative zero (Value._indicator).
    return (g * (mask if type(out) is float else out._indicator(mask)),)


@op("abs", abs)
def abs_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d|x|/dx = sign(x), which is 0 at the kink x == 0."""
    s = sign(data(x))
    return (g * (s if type(x) is float else x._indicator(s)),)


def _maximum(a: float, b: float) -> float:
    return nan if a != a or b != b else (a if a >= b else b)


def _minimum(a: float, b: float) -> float:
    return nan if a != a or b != b else (a if a <= b else b)


@op("maximum", _maximum)
def maximum(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """The gradient goes to the larger input; a tie splits it in half (PyTorch)."""
    a_data, b_data = data(a), data(b)
    if a_data == b_data:
        return g * 0.5, g * 0.5
    return g * (0.0 if a_data < b_data else 1.0), g * (0.0 if a_data > b_data else 1.0)


@op("minimum", _minimum)
def minimum(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """The gradient goes to the smaller input; a tie splits it in half (PyTorch)."""
    a_data, b_data = data(a), data(b)
    if a_data == b_data:
        return g * 0.5, g * 0.5
    return g * (0.0 if a_data > b_data else 1.0), g * (0.0 if a_data < b_data else 1.0)
