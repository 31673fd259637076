"""Elementwise operators: arithmetic with broadcasting, and the elementary functions.

Each entry is the forward (a numpy ufunc or a short expression) and below it the
vector-Jacobian product. Binary entries are declared ``broadcasts=True``: their
gradients come back with the output's shape and are reduced to each input's shape by
the shared ``unbroadcast`` (see :mod:`sg_tensor.op`). Where PyTorch has a convention
at a kink or a domain edge, the rule follows it and says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sg_tensor.op import data, indicator, op, quiet

Grads = tuple[Any, ...]


# ---------------------------------------------------------------------------------------
# Binary arithmetic (broadcasting)
# ---------------------------------------------------------------------------------------
@op("add", np.add, broadcasts=True)
def add(g: Any, out: Any, a: Any, b: Any) -> Grads:
    """d(a + b) = da + db."""
    return g, g


@op("sub", np.subtract, broadcasts=True)
def sub(g: Any, out: Any, a: Any, b: Any) -> Grads:
    """d(a - b) = da - db. (Its own rule rather than a + (-b): one pass less over memory.)"""
    return g, -g


@op("mul", np.multiply, broadcasts=True, needs_input_grad=True)
def mul(g: Any, out: Any, a: Any, b: Any, *, needs_input_grad: tuple[bool, bool]) -> Grads:
    """d(a * b) = b da + a db."""
    need_a, need_b = needs_input_grad
    return (g * b if need_a else None), (g * a if need_b else None)


@op("div", quiet(np.divide), broadcasts=True, needs_input_grad=True)
def div(g: Any, out: Any, a: Any, b: Any, *, needs_input_grad: tuple[bool, bool]) -> Grads:
    """d(a / b) = da / b - a db / b**2."""
    need_a, need_b = needs_input_grad
    return (g / b if need_a else None), (-g * a / (b * b) if need_b else None)


@op("pow", quiet(np.power), broadcasts=True, needs_input_grad=True)
def pow_(g: Any, out: Any, x: Any, y: Any, *, needs_input_grad: tuple[bool, bool]) -> Grads:
    """d(x**y) = y x**(y-1) dx + x**y log(x) dy, with PyTorch's zeros.

    The x-gradient is 0 where ``y == 0``; the y-gradient is 0 where ``x == 0`` and
    ``y >= 0`` (instead of ``0 * log 0 = nan``); a negative ``x`` gives ``nan`` there.
    """
    x_data, y_data = data(x), data(y)
    need_x, need_y = needs_input_grad
    gx = gy = None
    if need_x:
        gx = np.where(y_data == 0, 0.0, g * (y * x ** (y - 1)))
    if need_y:
        gy = np.where((x_data == 0) & (y_data >= 0), 0.0, g * (out * np.log(x)))
    return gx, gy


@op("maximum", np.maximum, broadcasts=True)
def maximum(g: Any, out: Any, a: Any, b: Any) -> Grads:
    """The gradient goes to the larger input; a tie splits it in half (PyTorch)."""
    a_data, b_data = data(a), data(b)
    tie = a_data == b_data
    return (
        g * np.where(tie, 0.5, np.where(a_data < b_data, 0.0, 1.0)),
        g * np.where(tie, 0.5, np.where(a_data > b_data, 0.0, 1.0)),
    )


@op("minimum", np.minimum, broadcasts=True)
def minimum(g: Any, out: Any, a: Any, b: Any) -> Grads:
    """The gradient goes to the smaller input; a tie splits it in half (PyTorch)."""
    a_data, b_data = data(a), data(b)
    tie = a_data == b_data
    return (
        g * np.where(tie, 0.5, np.where(a_data > b_data, 0.0, 1.0)),
        g * np.where(tie, 0.5, np.where(a_data < b_data, 0.0, 1.0)),
    )


@op("where", lambda a, b, *, condition: np.where(condition, a, b), broadcasts=True)
def where(g: Any, out: Any, a: Any, b: Any, *, condition: np.ndarray) -> Grads:
    """where(c, a, b): the gradient goes to ``a`` where ``c`` holds, else to ``b``."""
    return np.where(condition, g, 0.0), np.where(condition, 0.0, g)


# ---------------------------------------------------------------------------------------
# Unary functions
# ---------------------------------------------------------------------------------------
@op("neg", np.negative)
def neg(g: Any, out: Any, x: Any) -> Grads:
    """d(-x) = -dx."""
    return (-g,)


@op("pow_scalar", quiet(lambda x, *, p: np.power(x, p)))
def pow_scalar(g: Any, out: Any, x: Any, *, p: float) -> Grads:
    """d(x**p) = p x**(p-1) dx for a number ``p``; 0 everywhere when ``p == 0`` (PyTorch)."""
    if p == 0:
        return (g * 0.0,)
    return (g * (p * x ** (p - 1)),)


@op("exp", quiet(np.exp))
def exp(g: Any, out: Any, x: Any) -> Grads:
    """d(e**x) = e**x dx, the output itself."""
    return (g * out,)


@op("log", quiet(np.log))
def log(g: Any, out: Any, x: Any) -> Grads:
    """d(log x) = dx / x: ``inf`` at 0; ``log`` of a negative number is ``nan``."""
    return (g / x,)


@op("sqrt", quiet(np.sqrt))
def sqrt(g: Any, out: Any, x: Any) -> Grads:
    """d(sqrt x) = dx / (2 sqrt x): ``inf`` at 0."""
    return (g / (2 * out),)


@op("abs", np.abs)
def abs_(g: Any, out: Any, x: Any) -> Grads:
    """d|x| = sign(x) dx, which is 0 at the kink x == 0 (PyTorch)."""
    return (g * indicator(x, np.sign(data(x))),)


@op("sin", np.sin)
def sin(g: Any, out: Any, x: Any) -> Grads:
    """d(sin x) = cos(x) dx."""
    return (g * np.cos(x),)


@op("cos", np.cos)
def cos(g: Any, out: Any, x: Any) -> Grads:
    """d(cos x) = -sin(x) dx."""
    return (g * -np.sin(x),)


def _clip(x: np.ndarray, *, min: float | None, max: float | None) -> np.ndarray:
    if min is not None:
        x = np.maximum(x, min)
    if max is not None:
        x = np.minimum(x, max)
    return x


@op("clip", _clip)
def clip(g: Any, out: Any, x: Any, *, min: float | None, max: float | None) -> Grads:
    """The gradient passes where ``min <= x <= max`` (bounds included, as PyTorch's clamp)."""
    x_data = data(x)
    inside = np.ones(x_data.shape, dtype=bool)
    if min is not None:
        inside &= x_data >= min
    if max is not None:
        inside &= x_data <= max
    return (np.where(inside, g, 0.0),)


@op("astype", lambda x, *, dtype: x.astype(dtype))
def astype(g: Any, out: Any, x: Any, *, dtype: np.dtype[Any]) -> Grads:
    """A change of precision: the gradient is converted back to the input's dtype."""
    return (g.astype(x.dtype),)
