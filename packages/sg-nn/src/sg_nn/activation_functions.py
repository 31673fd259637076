"""Activation functions and the softmax family, under ``torch.nn.functional``'s names.

Part of :mod:`sg_nn.functional` (import them from there). Each one reuses an sg-tensor
operator where one exists (``relu``, ``leaky_relu``, ``gelu``, ``softplus``, ``softmax``)
and is otherwise a composition of them. The piecewise ones choose their branch with
:func:`sg_tensor.where`, whose gradient flows only into the branch chosen, on the same
side of each kink as PyTorch's backward; a branch that would overflow where it is not
chosen is fed a harmless value there, so that no ``inf * 0`` turns into a ``nan``.
Their masks are comparisons of tensors (``x > 0``), not of ``x.data``, and the few
values taken from the input's data go through :func:`sg_tensor.capturing.computed`: a
captured step (:func:`sg_tensor.capture`) records both and computes each replay's own.

PyTorch's ``inplace=`` argument is accepted (``relu(x, inplace=True)``) and changes
nothing: sg computes out of place, so the values and gradients are PyTorch's and the
input is left as it was (sg never overwrites a tensor that a graph may need).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

import sg_tensor as st
from sg_tensor import Tensor
from sg_tensor.capturing import computed

__all__ = [
    "celu", "elu", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh",
    "leaky_relu", "log_softmax", "logsigmoid", "mish", "prelu", "relu", "relu6", "selu",
    "sigmoid", "silu", "softmax", "softmin", "softplus", "softshrink", "softsign", "tanh",
    "tanhshrink", "threshold",
]  # fmt: skip

# SELU's constants (Klambauer et al., 2017), as PyTorch spells them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------------------------------
# Operators of sg-tensor, under PyTorch's argument names
# ---------------------------------------------------------------------------------------
def relu(input: Any, inplace: bool = False) -> Tensor:
    """``max(input, 0)`` (derivative 0 at 0, as PyTorch); ``inplace`` changes nothing."""
    return st.as_tensor(input).relu()


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` where positive, else ``negative_slope * x`` (slope ``negative_slope`` at 0);
    ``inplace`` changes nothing."""
    return st.as_tensor(input).leaky_relu(negative_slope)


def gelu(input: Any, approximate: str = "none") -> Tensor:
    """``x Phi(x)``, ``Phi`` the standard normal cdf; ``approximate="tanh"`` for the tanh form."""
    return st.as_tensor(input).gelu(approximate)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + e**(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``."""
    return st.as_tensor(input).softplus(beta, threshold)


def sigmoid(input: Any) -> Tensor:
    """``1 / (1 + e**-x)``."""
    return st.as_tensor(input).sigmoid()


def tanh(input: Any) -> Tensor:
    """Hyperbolic tangent."""
    return st.as_tensor(input).tanh()


# ---------------------------------------------------------------------------------------
# The exponential linear units
# ---------------------------------------------------------------------------------------
def _elu(x: Tensor, alpha: float, scale: float = 1.0, input_scale: float = 1.0) -> Tensor:
    """PyTorch's ``elu`` kernel: ``scale x`` for ``x > 0``, else
    ``alpha scale (e**(input_scale x) - 1)``; at 0 the second branch (and its slope)."""
    positive = x > 0
    negative_part = st.where(positive, 0.0, x)  # e**x of a large x would overflow
    return st.where(positive, x * scale, (negative_part * input_scale).expm1() * (alpha * scale))


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where ``x > 0``, else ``alpha (e**x - 1)`` (slope ``alpha`` at 0); ``inplace``
    changes nothing."""
    return _elu(st.as_tensor(input), alpha)


def selu(input: Any, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with SELU's fixed ``alpha`` and ``scale``; ``inplace``
    changes nothing."""
    return _elu(st.as_tensor(input), SELU_ALPHA, SELU_SCALE)


def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where ``x > 0``, else ``alpha (e**(x / alpha) - 1)`` (slope 1 at 0); ``inplace``
    changes nothing."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return _elu(st.as_tensor(input), alpha, input_scale=1.0 / alpha)


# ---------------------------------------------------------------------------------------
# Smooth gates
# ---------------------------------------------------------------------------------------
def silu(input: Any, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (also called swish); ``inplace`` changes nothing."""
    x = st.as_tensor(input)
    return x * x.sigmoid()


def mish(input: Any, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``; ``inplace`` changes nothing."""
    x = st.as_tensor(input)
    return x * x.softplus().tanh()


def logsigmoid(input: Any) -> Tensor:
    """``log(sigmoid(x))``, as PyTorch computes it: ``min(x, 0) - log(1 + e**-|x|)``.

    Never overflows; at 0 the slope is 1/2 (``minimum`` splits a tie, as PyTorch's rule).
    """
    x = st.as_tensor(input)
    return st.minimum(x, 0.0) - (-x.abs()).exp().log1p()


def softsign(input: Any) -> Tensor:
    """``x / (1 + |x|)``."""
    x = st.as_tensor(input)
    return x / (x.abs() + 1)


def tanhshrink(input: Any) -> Tensor:
    """``x - tanh(x)``."""
    x = st.as_tensor(input)
    return x - x.tanh()


def glu(input: Any, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)``, ``a`` and ``b`` the two halves along ``dim``."""
    x = st.as_tensor(input)
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(f"glu: dim {dim} is out of range for an input of shape {x.shape}")
    if x.shape[dim] % 2:
        raise ValueError(
            f"glu: dimension {dim} must have an even size to be halved, got shape {x.shape}"
        )
    axis, half = dim % x.ndim, x.shape[dim] // 2
    before = (slice(None),) * axis
    return x[before + (slice(0, half),)] * x[before + (slice(half, None),)].sigmoid()


# ---------------------------------------------------------------------------------------
# Piecewise linear functions: PyTorch's derivative is 0 on the kinks
# ---------------------------------------------------------------------------------------
def hardtanh(
    input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """``input`` clamped to ``[min_val, max_val]``; slope 1 strictly inside, else 0;
    ``inplace`` changes nothing."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    x = st.as_tensor(input)
    inside = st.logical_and(x > min_val, x < max_val)
    # Outside, numpy's clip (not the clamp operator: -0.0 clipped to [0, 6] stays -0.0).
    return st.where(inside, x, computed(np.clip, x.data, min_val, max_val))


def relu6(input: Any, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``: :func:`hardtanh` on ``[0, 6]``; ``inplace`` changes nothing."""
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input: Any, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``: 0 up to -3, 1 from 3, slope 1/6 strictly between (``inplace``
    changes nothing).

    PyTorch's backward uses ``1/6`` rounded to float32 even in float64 (a gradient
    3e-8 too large, relatively); sg's is the float64 ``1/6``, the forward's derivative.
    """
    x = st.as_tensor(input)
    upper = st.where(x < 3, (x + 3) / 6, 1.0)
    return st.where(x <= -3, 0.0, upper)


def hardswish(input: Any, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``: 0 up to -3, ``x`` from 3 (slopes 0 and 1 at the kinks,
    as PyTorch's backward), ``x (x + 3) / 6`` strictly between; ``inplace`` changes
    nothing."""
    x = st.as_tensor(input)
    upper = st.where(x < 3, x * (x + 3) / 6, x)
    return st.where(x <= -3, 0.0, upper)


def hardshrink(input: Any, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > lambd``, else 0."""
    x = st.as_tensor(input)
    return st.where(st.logical_or(x < -lambd, x > lambd), x, 0.0)


def softshrink(input: Any, lambd: float = 0.5) -> Tensor:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must not be negative, got {lambd}")
    x = st.as_tensor(input)
    outside = st.logical_or(x < -lambd, x > lambd)
    return st.where(outside, x - computed(_signed, lambd, x.data), 0.0)


def _signed(size: float, x: np.ndarray) -> np.ndarray:
    """``size`` with the sign of each element of ``x`` (0 where it is 0)."""
    signed: np.ndarray = np.sign(x) * size
    return signed


def threshold(input: Any, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``; ``inplace`` changes nothing."""
    x = st.as_tensor(input)
    return st.where(x > threshold, x, value)


def prelu(input: Any, weight: Any) -> Tensor:
    """``x`` where ``x > 0``, else ``weight * x``, with a learnable slope ``weight``.

    A ``weight`` of one element is used everywhere; one of ``C`` elements gives each
    channel (dimension 1 of the input, which needs at least 2 dimensions) its own slope,
    as PyTorch's. At 0 the slope is ``weight`` (PyTorch's backward). A composition of
    sg-tensor operators: the gradient of ``weight`` is ``x`` summed where ``x <= 0``.
    """
    x, a = st.as_tensor(input), st.as_tensor(weight)
    if a.size == 1:
        slope = a.reshape(())
    else:
        channels = x.shape[1] if x.ndim >= 2 else 1
        if a.ndim != 1 or channels != a.size:
            raise ValueError(
                f"prelu: mismatch of parameter numbers and input channel size: found "
                f"{a.size} parameters and {channels} channels (dimension 1 of {x.shape})"
            )
        slope = a.reshape((a.size,) + (1,) * (x.ndim - 2))
    return st.where(x > 0, x, slope * x)


# ---------------------------------------------------------------------------------------
# The softmax family
# ---------------------------------------------------------------------------------------
def _softmax_axis(name: str, ndim: int, dim: int | None) -> int:
    """``dim``, or PyTorch's legacy choice when it is ``None`` (with PyTorch's warning):
    axis 0 for 0-, 1- and 3-dimensional inputs, else axis 1."""
    if dim is not None:
        return dim
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to "
        "include dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _input(input: Any, dtype: Any) -> Tensor:
    x = st.as_tensor(input)
    return x if dtype is None or x.dtype == np.dtype(dtype) else x.astype(dtype)


def softmax(input: Any, dim: int | None = None, *, dtype: Any = None) -> Tensor:
    """``e**x / sum(e**x)`` along ``dim`` (shifted by the maximum, so it never overflows).

    ``dim=None`` takes PyTorch's deprecated implicit choice and warns as PyTorch does;
    ``dtype`` converts the input first.
    """
    x = _input(input, dtype)
    return x.softmax(axis=_softmax_axis("softmax", x.ndim, dim))


def log_softmax(input: Any, dim: int | None = None, *, dtype: Any = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``; ``dim=None`` as in :func:`softmax`."""
    x = _input(input, dtype)
    return x.log_softmax(axis=_softmax_axis("log_softmax", x.ndim, dim))


def softmin(input: Any, dim: int | None = None, *, dtype: Any = None) -> Tensor:
    """``softmax(-x)`` along ``dim``; ``dim=None`` as in :func:`softmax`."""
    x = _input(input, dtype)
    return (-x).softmax(axis=_softmax_axis("softmin", x.ndim, dim))
