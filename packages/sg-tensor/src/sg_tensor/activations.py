"""Activation functions and the softmax family.

Each rule follows the formula PyTorch's own backward uses, so that float64 results
agree to the last bits; the rules that need the output (sigmoid, tanh, softmax) take
it from ``out`` rather than recomputing it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sg_scalar.bounds import Bounds, unit
from sg_scalar.declare import Case, Domain, Kink, Param, Torch
from sg_tensor.elementwise import floating
from sg_tensor.kernels import Into
from sg_tensor.op import call, choice, data, indicator, number, op, peak, quiet, real

Grads = tuple[Any, ...]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_KAPPA = 0.044715
_erf_object = np.frompyfunc(math.erf, 1, 1)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise (numpy has none; ``math.erf`` is exact to 1 ulp)."""
    return np.asarray(_erf_object(x), dtype=x.dtype)


@op("erf", floating(_erf), bound=unit)
def erf(g: Any, out: Any, x: Any) -> Grads:
    """d erf(x) = 2 / sqrt(pi) * e**(-x**2) dx."""
    return (g * (_TWO_OVER_SQRT_PI * np.exp(-(x * x))),)


# ---------------------------------------------------------------------------------------
# Squashing functions
# ---------------------------------------------------------------------------------------
@op("tanh", floating(np.tanh), numpy=np.tanh, bound=unit, analytic=True)
def tanh(g: Any, out: Any, x: Any) -> Grads:
    """d(tanh x) = (1 - tanh(x)**2) dx, from the output."""
    return (g * (1 - out * out),)


@op("sigmoid", floating(quiet(lambda x: 1 / (1 + np.exp(-x)))), bound=unit, analytic=True)
def sigmoid(g: Any, out: Any, x: Any) -> Grads:
    """d(s(x)) = s (1 - s) dx with s = 1 / (1 + e**-x), from the output.

    The forward is PyTorch's formula: for very negative ``x``, ``e**-x`` overflows to
    ``inf`` and the result is exactly 0, with no ``nan``.
    """
    return (g * (1 - out) * out,)


# ---------------------------------------------------------------------------------------
# Rectifiers: the derivative at the kink is PyTorch's choice
# ---------------------------------------------------------------------------------------
SLOPES = [Case({"negative_slope": s}) for s in (0.1, 0.01, -0.2)]


def _relu_into(outs: Any, g: Any, out: Any, x: Any) -> Grads:
    return (np.multiply(g, out != 0, out=outs[0]),)


@op("relu", lambda x: np.maximum(x, 0), edges=[Kink(0.0, "left")],
    into=Into(lambda o, x: np.maximum(x, 0, out=o), _relu_into))  # fmt: skip
def relu(g: Any, out: Any, x: Any) -> Grads:
    """d(relu x) = dx where the output is > 0 or nan, else 0 (so 0 at the kink x == 0).

    PyTorch's mask is ``not (out <= 0)``, which lets the gradient through at a nan; on
    relu's outputs (>= 0, or nan) that is ``out != 0``, one comparison. A multiplication
    by the mask, several times faster than ``np.where`` on large arrays; it differs from
    PyTorch only if ``g`` holds inf or nan at a dead unit.
    """
    return (g * indicator(out, data(out) != 0),)


@op("leaky_relu", lambda x, *, negative_slope: np.where(x > 0, x, x * negative_slope),
    params={"negative_slope": real(0.01)}, cases=SLOPES, torch="F.leaky_relu",
    edges=[Kink(0.0, "left")])  # fmt: skip
def leaky_relu(g: Any, out: Any, x: Any, *, negative_slope: float) -> Grads:
    """d(leaky_relu x) = dx where x > 0, else ``negative_slope`` dx (slope at 0)."""
    slope = np.where(data(x) > 0, 1.0, negative_slope).astype(data(x).dtype, copy=False)
    return (g * indicator(x, slope),)


def _gelu(x: np.ndarray, *, approximate: str) -> Any:
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + _GELU_KAPPA * x * x * x)))
    return x * 0.5 * (1 + _erf(x * math.sqrt(0.5)))


@op("gelu", _gelu, params={"approximate": choice("none", "none", "tanh")}, torch="F.gelu",
    cases=[Case({"approximate": "none"}), Case({"approximate": "tanh"})])  # fmt: skip
def gelu(g: Any, out: Any, x: Any, *, approximate: str) -> Grads:
    """d(x Phi(x)) = (Phi(x) + x phi(x)) dx, Phi and phi the normal cdf and pdf.

    With ``approximate="tanh"``, the derivative of ``0.5 x (1 + tanh(k (x + 0.044715 x**3)))``.
    """
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_KAPPA * x * x * x)
        t = np.tanh(inner)
        d_inner = _SQRT_2_OVER_PI * (1 + 3 * _GELU_KAPPA * x * x)
        return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner),)
    cdf = 0.5 * (1 + call("erf", x * math.sqrt(0.5)))
    pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
    return (g * (cdf + x * pdf),)


def _positive(value: Any, where: str) -> float:
    beta = number(value, where)
    if not beta > 0:
        raise ValueError(f"{where} must be positive, got {value!r}")
    return beta


def _threshold(params: Any) -> float:
    """Where softplus turns linear: ``beta x == threshold``."""
    return float(params["threshold"]) / float(params["beta"])


SOFTPLUS = [Case({"beta": b, "threshold": t}) for b, t in ((1.0, 20.0), (2.0, 3.0), (0.5, 1.0))]


def _softplus(x: np.ndarray, *, beta: float, threshold: float) -> Any:
    bx = x * beta
    return np.where(bx > threshold, x, np.log1p(np.exp(np.minimum(bx, threshold))) / beta)


@op("softplus", _softplus, params={"beta": Param(1.0, _positive), "threshold": real(20.0)},
    cases=SOFTPLUS, torch="F.softplus", edges=[Kink(_threshold, "left", second="right")],
    bound=lambda b: b.m() + math.log(2.0) / b.params["beta"])  # fmt: skip
def softplus(g: Any, out: Any, x: Any, *, beta: float, threshold: float) -> Grads:
    """d(log(1 + e**(b x)) / b) = sigmoid(b x) dx; exactly dx above the threshold (PyTorch)."""
    bx = x * beta
    # Capped at the threshold by a where, not a minimum: at bx == threshold exactly the
    # cap is the constant (PyTorch's mask), so a second derivative there is 0, not half.
    z = np.exp(np.where(data(bx) < threshold, bx, threshold))
    return (np.where(data(bx) > threshold, g, g * z / (z + 1)),)


# ---------------------------------------------------------------------------------------
# The softmax family: stable for large logits (the row maximum is subtracted first)
# ---------------------------------------------------------------------------------------
LARGE = Domain("large", -500.0, 500.0)  # logits that overflow e**x unless shifted
AXES = [Case({"axis": a}) for a in (-1, 0, 1)] + [Case({"axis": -1}, ((3, 4),), label="large",
                                                      domains=(LARGE,))]  # fmt: skip


def _log_softmax_bound(b: Bounds) -> float:
    """``|x - logsumexp(x)| <= 2 max|x| + log n``."""
    return 2 * b.m() + math.log(b.shapes[0][b.params["axis"]])


def _log_softmax(x: np.ndarray, *, axis: int) -> Any:
    shifted = x - peak(x, axis)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _softmax(x: np.ndarray, *, axis: int) -> Any:
    e = np.exp(x - peak(x, axis))
    return e / e.sum(axis=axis, keepdims=True)


@op("softmax", quiet(_softmax), "axis", torch=Torch("Tensor.softmax", dim="axis"),
    cases=AXES, bound=unit, analytic=True)  # fmt: skip
def softmax(g: Any, out: Any, x: Any, *, axis: int) -> Grads:
    """d softmax: s * (g - sum(g * s)) along ``axis``, with s the output."""
    return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)


@op("log_softmax", quiet(_log_softmax), "axis", cases=AXES, bound=_log_softmax_bound,
    torch=Torch("Tensor.log_softmax", dim="axis"), analytic=True)  # fmt: skip
def log_softmax(g: Any, out: Any, x: Any, *, axis: int) -> Grads:
    """d log_softmax: g - softmax(x) * sum(g) along ``axis``; softmax = exp(output)."""
    return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)
