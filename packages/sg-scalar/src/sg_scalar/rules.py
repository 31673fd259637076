"""The scalar operators: each one forward and one gradient rule, side by side.

Every entry is ``@op(name, forward, ...)`` above its vector-Jacobian product. The rule
gets the output gradient ``g``, the forward result ``out`` and the inputs under their
forward names (plus keyword arguments such as the exponent ``p``) and returns one
gradient per input. Rules run on floats (ordinary backward) and on ``Value`` nodes
(``create_graph=True``), so they use only arithmetic and the functions of
:mod:`sg_scalar.ieee`, which work on both.

The rest of each entry is the operator's facts (see :mod:`sg_scalar.declare`): how
``Value`` spells it (an operator symbol, a method), its inputs' domains, its kinks and
ties, a bound for random expressions; the PyTorch counterpart is the symbol or
``torch.<name>`` unless given. Subtraction and division are compositions of these
entries (see ``Value``), declared at the end without a rule of their own. Values at
kinks and domain edges follow PyTorch: the docstring of each rule says what happens.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from sg_scalar.bounds import (
    Bound,
    constant_power_bound,
    log_bound,
    power_bound,
    product,
    quotient,
    same,
    total,
    unit,
)
from sg_scalar.declare import (
    NONZERO,
    POSITIVE,
    REAL,
    Case,
    Declaration,
    Domain,
    Edge,
    Form,
    Kink,
    Params,
    Tie,
    Torch,
    power_domain,
)
from sg_scalar.graph import Op, Rule
from sg_scalar.ieee import cos, data, div, exp, log, nan, power, sigmoid, sign, sin, sqrt

OPS: dict[str, Op] = {}
"""Every scalar operator with a rule, by name: the table the driver runs."""
DECLARATIONS: dict[str, Declaration] = {}
"""Every scalar operator and composite with its facts: what the checks are built from."""

TWO = (REAL, REAL)


def declare(
    name: str,
    operator: str | None = None,
    *,
    op: Op | None = None,
    method: str | None = None,
    function: str | None = None,
    reflected: bool = False,
    torch: str | Torch | None = None,
    inputs: Sequence[Domain | Callable[[Params], Domain]] = (REAL,),
    cases: Sequence[Case] = (Case(),),
    edges: Sequence[Edge] = (),
    bound: Bound = same,
    uses: Sequence[str] = (),
) -> Declaration:
    """Record the facts of operator (or composite) ``name``; its forms in this order:
    the operator symbol, the method, the function, the reflected operator (``1.5 + x``)."""
    forms = [Form("operator", operator)] if operator else []
    forms += [Form("method", method)] if method else []
    forms += [Form("function", function)] if function else []
    forms += [Form("reflected", operator or name, 1.5)] if reflected else []
    DECLARATIONS[name] = Declaration(
        name=name,
        engine="scalar",
        module="sg_scalar",
        op=op,
        signature="binary" if len(inputs) == 2 else "unary",
        inputs=tuple(inputs),
        forms=tuple(forms),
        torch=Torch(torch or operator or f"torch.{name}")
        if not isinstance(torch, Torch)
        else torch,
        cases=tuple(cases),
        edges=tuple(edges),
        bound=bound,
        uses=tuple(uses),
        doc=" ".join(((op.vjp.__doc__ if op else "") or "").split()),
    )
    return DECLARATIONS[name]


def op(
    name: str, forward: Callable[..., float], operator: str | None = None, **facts: Any
) -> Callable[[Rule], Op]:
    """Declare an operator: its forward and facts above, its gradient rule below."""

    def register(vjp: Rule) -> Op:
        OPS[name] = Op(name, forward, vjp)
        declare(name, operator, op=OPS[name], **facts)
        return OPS[name]

    return register


def shapes(declaration: Declaration) -> list[tuple[tuple[int, ...], ...]]:
    """The shapes a scalar check samples: every input is a number (0-d)."""
    return [((),) * declaration.arity]


POW_CASES = [Case({"p": p}) for p in (3, 2, 0.5, -2, -1, 1.5, 0)]


# ---------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------
@op("add", lambda a, b: a + b, "+", reflected=True, inputs=TWO, bound=total)
def add(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """d(a + b)/da = 1, d(a + b)/db = 1."""
    return g, g


@op("mul", lambda a, b: a * b, "*", reflected=True, inputs=TWO, bound=product)
def mul(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """d(a * b)/da = b, d(a * b)/db = a."""
    return g * b, g * a


@op("neg", lambda x: -x, "-x")
def neg(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(-x)/dx = -1."""
    return (-g,)


@op("pow_const", lambda x, *, p: power(x, p), "**", torch=Torch("torch.pow", exponent="p"),
    inputs=(power_domain,), cases=POW_CASES, bound=constant_power_bound)  # fmt: skip
def pow_const(g: Any, out: Any, x: Any, *, p: float) -> tuple[Any]:
    """d(x**p)/dx = p * x**(p - 1) for a number p.

    ``p == 0`` gives 0 everywhere (PyTorch). At ``x == 0`` with ``p < 1`` the
    derivative is ``inf`` (or ``nan`` times a zero gradient); a negative ``x`` with a
    non-integer ``p`` gives ``nan``, as the forward does.
    """
    if p == 0:
        return (g * 0.0,)
    return (g * (p * power(x, p - 1.0)),)


@op("pow", lambda x, y: power(x, y), "**", reflected=True, inputs=(POSITIVE, REAL),
    bound=power_bound)  # fmt: skip
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
@op("exp", exp, method="exp", bound=lambda b: math.exp(b.high()))
def exp_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(e**x)/dx = e**x, the output itself."""
    return (g * out,)


@op("log", log, method="log", inputs=(POSITIVE,), bound=log_bound)
def log_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(log x)/dx = 1 / x: ``inf`` at 0, ``nan`` below (where log is ``nan``)."""
    return (div(g, x),)


@op("sqrt", sqrt, method="sqrt", inputs=(POSITIVE,), bound=lambda b: math.sqrt(b.high()))
def sqrt_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(sqrt x)/dx = 1 / (2 sqrt x): ``inf`` at 0."""
    return (div(g, 2.0 * out),)


@op("sin", sin, method="sin", bound=unit)
def sin_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(sin x)/dx = cos x."""
    return (g * cos(x),)


@op("cos", cos, method="cos", bound=unit)
def cos_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(cos x)/dx = -sin x."""
    return (-(g * sin(x)),)


@op("tanh", math.tanh, method="tanh", bound=unit)
def tanh(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(tanh x)/dx = 1 - tanh(x)**2, from the output."""
    return (g * (1.0 - out * out),)


@op("sigmoid", sigmoid, method="sigmoid", bound=unit)
def sigmoid_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(sigmoid x)/dx = s * (1 - s) with s = sigmoid(x), from the output."""
    return (g * (1.0 - out) * out,)


# ---------------------------------------------------------------------------------------
# Piecewise functions: the derivative at a kink is a choice, PyTorch's here.
# ---------------------------------------------------------------------------------------
@op("relu", lambda x: 0.0 if x <= 0 else x, method="relu", edges=[Kink(0.0, "left")])
def relu(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d(relu x)/dx = 1 where the output is > 0 or nan, else 0 (so 0 at the kink x == 0):
    PyTorch's mask is ``not (out <= 0)``, which lets the gradient through at a nan."""
    mask = 0.0 if data(out) <= 0 else 1.0
    # On nodes (second order) the mask is a node of derivative zero (Value._indicator).
    return (g * (mask if type(out) is float else out._indicator(mask)),)


@op("abs", abs, "abs", method="abs", edges=[Kink(0.0, "mean")])
def abs_(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d|x|/dx = sign(x), which is 0 at the kink x == 0."""
    s = sign(data(x))
    return (g * (s if type(x) is float else x._indicator(s)),)


def _maximum(a: float, b: float) -> float:
    return nan if a != a or b != b else (a if a >= b else b)


def _minimum(a: float, b: float) -> float:
    return nan if a != a or b != b else (a if a <= b else b)


@op("maximum", _maximum, method="maximum", function="maximum", inputs=TWO, edges=[Tie()])
def maximum(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """The gradient goes to the larger input; a tie splits it in half (PyTorch)."""
    a_data, b_data = data(a), data(b)
    if a_data == b_data:
        return g * 0.5, g * 0.5
    return g * (0.0 if a_data < b_data else 1.0), g * (0.0 if a_data > b_data else 1.0)


@op("minimum", _minimum, method="minimum", function="minimum", inputs=TWO, edges=[Tie()])
def minimum(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """The gradient goes to the smaller input; a tie splits it in half (PyTorch)."""
    a_data, b_data = data(a), data(b)
    if a_data == b_data:
        return g * 0.5, g * 0.5
    return g * (0.0 if a_data > b_data else 1.0), g * (0.0 if a_data < b_data else 1.0)


# ---------------------------------------------------------------------------------------
# Composites: Value writes them with the operators above; they are checked like them.
# ---------------------------------------------------------------------------------------
declare("sub", "-", reflected=True, inputs=TWO, bound=total, uses=("add", "neg"))
declare("truediv", "/", reflected=True, inputs=(REAL, NONZERO), bound=quotient,
        uses=("mul", "pow_const"))  # fmt: skip
