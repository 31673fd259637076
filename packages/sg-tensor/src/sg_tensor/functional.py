"""The operators as functions: ``sg_tensor.exp(x)``, ``sg_tensor.where(c, a, b)``, ...

Each function accepts tensors, numpy arrays and numbers, and delegates to the
``Tensor`` method of the same name, so there is one code path per operator. The
multi-input operators (``where``, ``concatenate``, ``stack``, ``split``, ``pad``) live
here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sg_tensor.op import OPS
from sg_tensor.reductions import normalize_axis
from sg_tensor.tensor import Tensor, _operand

__all__ = [
    "abs", "add", "broadcast_to", "clip", "concatenate", "cos", "div", "erf", "exp", "expand",
    "flatten", "gelu", "leaky_relu", "linear", "log", "log_softmax", "logsumexp", "matmul", "max",
    "maximum", "mean", "min", "minimum", "mul", "neg", "pad", "permute", "pow", "relu",
    "reshape", "sigmoid", "sin", "softmax", "softplus", "split", "sqrt", "squeeze", "stack",
    "std", "sub", "sum", "swapaxes", "tanh", "transpose", "unsqueeze", "var", "where",
]  # fmt: skip


def as_tensor(x: Any) -> Tensor:
    """``x`` as a Tensor (no copy for a Tensor or an array)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _binary(name: str, a: Any, b: Any) -> Tensor:
    if isinstance(a, Tensor):
        return a._binary(OPS[name], b)
    if isinstance(b, Tensor):
        return b._binary(OPS[name], a, reflected=True)
    return as_tensor(a)._binary(OPS[name], b)


# -- binary, with broadcasting -----------------------------------------------------------
def add(a: Any, b: Any) -> Tensor:
    """``a + b``."""
    return _binary("add", a, b)


def sub(a: Any, b: Any) -> Tensor:
    """``a - b``."""
    return _binary("sub", a, b)


def mul(a: Any, b: Any) -> Tensor:
    """``a * b``."""
    return _binary("mul", a, b)


def div(a: Any, b: Any) -> Tensor:
    """``a / b``."""
    return _binary("div", a, b)


def pow(a: Any, b: Any) -> Tensor:
    """``a ** b`` (``b`` a number or a tensor)."""
    if isinstance(a, Tensor):
        return a.__pow__(b)
    return _binary("pow", a, b)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; a tie splits the gradient in half."""
    return _binary("maximum", a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; a tie splits the gradient in half."""
    return _binary("minimum", a, b)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with numpy's semantics (1-D operands, batch broadcasting)."""
    return _binary("matmul", a, b)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``x @ weight.T + bias`` as one operator, with PyTorch's layout.

    ``x`` is ``(..., in_features)``, ``weight`` is ``(out_features, in_features)`` and
    ``bias`` (optional) is ``(out_features,)``. Same numbers as the two operators, one
    graph node and one array fewer.
    """
    tx = x if type(x) is Tensor else as_tensor(x)
    tw = weight if type(weight) is Tensor else _operand(weight, tx, "linear")
    w_shape, x_shape = tw.data.shape, tx.data.shape
    if len(w_shape) != 2 or not x_shape or x_shape[-1] != w_shape[1]:
        raise ValueError(
            f"linear: weight must be (out_features, in_features) and x (..., in_features); "
            f"got x {tx.shape} and weight {tw.shape}"
        )
    if bias is None:
        return tx._apply2(_LINEAR, tw)
    tb = bias if type(bias) is Tensor else _operand(bias, tx, "linear")
    if tb.data.shape != w_shape[:1]:
        raise ValueError(
            f"linear: bias must have shape ({w_shape[0]},) to match weight {tw.shape}; "
            f"got {tb.shape}"
        )
    return Tensor._apply_n(_LINEAR, (tx, tw, tb), _NO_CTX)


_LINEAR = OPS["linear"]
_NO_CTX: dict[str, Any] = {}


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` holds, else ``b``, broadcast together.

    The condition is a boolean mask: it gets no gradient.
    """
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    if cond.dtype != bool:
        cond = cond.astype(bool)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else Tensor(a)
    ta, tb = _operand(a, like, "where"), _operand(b, like, "where")
    try:
        np.broadcast_shapes(cond.shape, ta.shape, tb.shape)
    except ValueError:
        raise ValueError(
            f"where: condition, a and b cannot be broadcast together: shapes {cond.shape}, "
            f"{ta.shape} and {tb.shape}"
        ) from None
    out_shape = np.broadcast_shapes(cond.shape, ta.shape, tb.shape)
    if cond.shape != out_shape:  # the rule needs the condition at the output's shape
        cond = np.broadcast_to(cond, out_shape)
    return ta._apply2(OPS["where"], tb, {"condition": cond})


# -- unary -----------------------------------------------------------------------------
def neg(x: Any) -> Tensor:
    """``-x``."""
    return -as_tensor(x)


def exp(x: Any) -> Tensor:
    """``e ** x``."""
    return as_tensor(x).exp()


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    return as_tensor(x).log()


def sqrt(x: Any) -> Tensor:
    """Square root."""
    return as_tensor(x).sqrt()


def abs(x: Any) -> Tensor:
    """Absolute value."""
    return as_tensor(x).abs()


def sin(x: Any) -> Tensor:
    """Sine."""
    return as_tensor(x).sin()


def cos(x: Any) -> Tensor:
    """Cosine."""
    return as_tensor(x).cos()


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent."""
    return as_tensor(x).tanh()


def sigmoid(x: Any) -> Tensor:
    """Logistic sigmoid."""
    return as_tensor(x).sigmoid()


def relu(x: Any) -> Tensor:
    """``max(x, 0)``."""
    return as_tensor(x).relu()


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    return as_tensor(x).leaky_relu(negative_slope)


def erf(x: Any) -> Tensor:
    """The error function, elementwise."""
    return as_tensor(x).erf()


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit."""
    return as_tensor(x).gelu(approximate)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + e**(beta x)) / beta``."""
    return as_tensor(x).softplus(beta, threshold)


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:
    """Limit the values to ``[min, max]``."""
    return as_tensor(x).clip(min, max)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax along ``axis``."""
    return as_tensor(x).softmax(axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """Log-softmax along ``axis``."""
    return as_tensor(x).log_softmax(axis)


# -- reductions ------------------------------------------------------------------------
def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis``."""
    return as_tensor(x).sum(axis, keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``."""
    return as_tensor(x).mean(axis, keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``."""
    return as_tensor(x).max(axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``."""
    return as_tensor(x).min(axis, keepdims)


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over ``axis``."""
    return as_tensor(x).var(axis, keepdims, ddof)


def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Standard deviation over ``axis``."""
    return as_tensor(x).std(axis, keepdims, ddof)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``log(sum(e**x))`` over ``axis``."""
    return as_tensor(x).logsumexp(axis, keepdims)


# -- shape -----------------------------------------------------------------------------
def reshape(x: Any, shape: Any) -> Tensor:
    """The same elements in a new shape."""
    return as_tensor(x).reshape(shape)


def transpose(x: Any, axes: Any = None) -> Tensor:
    """Permute the axes (reverse them by default)."""
    return as_tensor(x).transpose() if axes is None else as_tensor(x).transpose(*axes)


def permute(x: Any, axes: Sequence[int]) -> Tensor:
    """Permute the axes."""
    return as_tensor(x).permute(*axes)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes."""
    return as_tensor(x).swapaxes(axis1, axis2)


def broadcast_to(x: Any, shape: Any) -> Tensor:
    """Broadcast to ``shape``."""
    return as_tensor(x).broadcast_to(shape)


def expand(x: Any, shape: Any) -> Tensor:
    """Broadcast to ``shape`` (-1 keeps a dimension)."""
    return as_tensor(x).expand(shape)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """Remove size-1 axes."""
    return as_tensor(x).squeeze(axis)


def unsqueeze(x: Any, axis: int) -> Tensor:
    """Insert a size-1 axis."""
    return as_tensor(x).unsqueeze(axis)


def flatten(x: Any, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge axes ``start_axis..end_axis``."""
    return as_tensor(x).flatten(start_axis, end_axis)


def _as_tensors(opname: str, tensors: Sequence[Any]) -> list[Tensor]:
    if isinstance(tensors, (Tensor, np.ndarray)) or not len(tensors):
        raise ValueError(f"{opname}: expected a non-empty sequence of tensors")
    return [as_tensor(t) for t in tensors]


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    ts = _as_tensors("concatenate", tensors)
    first = ts[0]
    if first.ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
    (a,) = normalize_axis(axis, first.ndim, "concatenate", first.shape)
    for t in ts[1:]:
        if t.ndim != first.ndim or any(
            n != m for i, (n, m) in enumerate(zip(t.shape, first.shape)) if i != a
        ):
            shapes = ", ".join(str(u.shape) for u in ts)
            raise ValueError(
                f"concatenate: all shapes must match except along axis {a}; got {shapes}"
            )
    return Tensor._apply_n(OPS["concatenate"], ts, {"axis": a})


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new axis (all shapes must be equal)."""
    ts = _as_tensors("stack", tensors)
    if any(t.shape != ts[0].shape for t in ts):
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(f"stack: all tensors must have the same shape; got {shapes}")
    (a,) = normalize_axis(axis, ts[0].ndim + 1, "stack", ts[0].shape)
    return concatenate([t.unsqueeze(a) for t in ts], axis=a)


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Cut ``x`` along ``axis``: into equal sections (an int) or at the given indices."""
    t = as_tensor(x)
    (a,) = normalize_axis(axis, t.ndim, "split", t.shape)
    n = t.shape[a]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0 or n % sections:
            raise ValueError(
                f"split: axis {a} of size {n} cannot be split into {sections} equal sections"
            )
        step = n // sections
        bounds = [i * step for i in range(sections + 1)]
    else:
        bounds = [0, *(int(i) for i in indices_or_sections), n]
    lead = (slice(None),) * a
    return [t[lead + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:])]


def pad(x: Any, pad_width: Any, value: float = 0.0) -> Tensor:
    """Pad with a constant: ``pad_width`` as in ``np.pad`` (int, pair, or a pair per axis)."""
    t = as_tensor(x)
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (t.ndim, 2))
    except ValueError:
        raise ValueError(
            f"pad: pad_width {pad_width!r} does not fit a tensor of shape {t.shape} "
            "(give an int, a (before, after) pair, or one pair per axis)"
        ) from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width must not be negative, got {pad_width!r}")
    pairs = tuple((int(b), int(e)) for b, e in widths)
    return t._apply1(OPS["pad"], {"pad_width": pairs, "value": float(value)})
