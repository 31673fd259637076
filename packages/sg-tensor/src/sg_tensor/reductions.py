"""Reductions over axes: ``sum mean max min var std logsumexp``.

The public functions normalise ``axis`` (None, an int, a negative int or a tuple) to a
sorted tuple of non-negative axes before the forward runs, so every rule receives
``axis`` as that tuple and ``keepdims`` as given. A reduction's gradient is the output
gradient put back along the reduced axes (:func:`expand`), times the local derivative.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sg_tensor.op import data, op, quiet

Grads = tuple[Any, ...]
Axes = tuple[int, ...]


def normalize_axis(axis: Any, ndim: int, opname: str, shape: tuple[int, ...]) -> Axes:
    """``axis`` as a sorted tuple of non-negative ints, or a clear error naming ``opname``."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    result = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{opname}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{opname}: axis {a} is out of range for a tensor of shape {shape} "
                f"({ndim} dimensions: valid axes are {-ndim} to {ndim - 1})"
            )
        result.append(int(a) % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"{opname}: repeated axis in {axis!r}")
    return tuple(sorted(result))


def expand(g: Any, shape: tuple[int, ...], axis: Axes, keepdims: bool) -> Any:
    """Put a reduced gradient back along the reduced axes: broadcast ``g`` to ``shape``."""
    if not keepdims:
        if len(axis) == len(shape):  # a full reduction: g has one element
            g = g.reshape((1,) * len(shape))
        else:
            g = g.reshape(tuple(1 if i in axis else n for i, n in enumerate(shape)))
    if hasattr(g, "_op"):  # a node (second order): a differentiable broadcast
        return np.broadcast_to(g, shape)
    # Raw data (an array, or a numpy scalar from a 0-d gradient): a filled array is far
    # cheaper to make than np.broadcast_to's view, on small tensors.
    out = np.empty(shape, dtype=g.dtype)
    np.copyto(out, g)
    return out


def _count(shape: tuple[int, ...], axis: Axes) -> int:
    if len(axis) == len(shape):  # every axis (axis tuples are normalised: no repeats)
        return math.prod(shape)
    return math.prod(shape[a] for a in axis)


@op("sum", lambda x, *, axis, keepdims: np.add.reduce(x, axis=axis, keepdims=keepdims))
def sum_(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool) -> Grads:
    """d sum(x) = 1 for every element summed: the gradient is copied back."""
    return (expand(g, x.shape, axis, keepdims),)


def _mean(x: np.ndarray, *, axis: Axes, keepdims: bool) -> Any:
    # sum / n is what np.mean computes, without its warning for an empty slice
    n = _count(x.shape, axis)
    if n == 0:
        with np.errstate(all="ignore"):
            return np.add.reduce(x, axis=axis, keepdims=keepdims) / n  # type: ignore[call-overload]
    return np.add.reduce(x, axis=axis, keepdims=keepdims) / n  # type: ignore[call-overload]


@op("mean", _mean)
def mean(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool) -> Grads:
    """d mean(x) = 1/n for each of the n elements averaged."""
    return (expand(g / _count(x.shape, axis), x.shape, axis, keepdims),)


def _extremum_rule(g: Any, out: Any, x: Any, axis: Axes, keepdims: bool) -> Any:
    """The gradient of max/min goes to the extreme elements, split evenly between ties.

    This is PyTorch's ``amax``/``amin`` convention: with k tied maxima each gets g / k.
    """
    x_data = data(x)
    hits = x_data == expand(data(out), x_data.shape, axis, keepdims)
    count = hits.sum(axis=axis, keepdims=True)
    share = hits / count  # float64 from the counts: back to x's dtype (float32 stays so)
    return expand(g, x.shape, axis, keepdims) * share.astype(x_data.dtype, copy=False)


@op("max", lambda x, *, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims))
def max_(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool) -> Grads:
    """d max(x): 1 at the maximum; ties share the gradient evenly (PyTorch ``amax``)."""
    return (_extremum_rule(g, out, x, axis, keepdims),)


@op("min", lambda x, *, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims))
def min_(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool) -> Grads:
    """d min(x): 1 at the minimum; ties share the gradient evenly (PyTorch ``amin``)."""
    return (_extremum_rule(g, out, x, axis, keepdims),)


def _var(x: np.ndarray, *, axis: Axes, keepdims: bool, ddof: int) -> Any:
    return np.var(x, axis=axis, keepdims=keepdims, ddof=ddof)


@op("var", quiet(_var))
def var(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool, ddof: int) -> Grads:
    """d var(x) = 2 (x - mean(x)) / (n - ddof) for each element."""
    centered = x - x.mean(axis=axis, keepdims=True)
    return (expand(g, x.shape, axis, keepdims) * (2 * centered / (_count(x.shape, axis) - ddof)),)


def _std(x: np.ndarray, *, axis: Axes, keepdims: bool, ddof: int) -> Any:
    return np.std(x, axis=axis, keepdims=keepdims, ddof=ddof)


@op("std", quiet(_std))
def std(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool, ddof: int) -> Grads:
    """d sqrt(var(x)) = d var / (2 std) = (x - mean(x)) / ((n - ddof) std) per element.

    Where the standard deviation is 0 (a constant slice) the gradient is 0, as in
    PyTorch, rather than 0 / 0. (Its own rule for that reason: as sqrt(var) it would be
    inf * 0 = nan there.)
    """
    zero = data(out) == 0
    # The double where keeps 1 / 0 out of every branch, so second derivatives stay finite.
    safe = np.where(zero, 1.0, out) if zero.any() else out
    scale = np.where(zero, 0.0, g / safe) if zero.any() else g / safe
    centered = x - x.mean(axis=axis, keepdims=True)
    return (expand(scale, x.shape, axis, keepdims) * centered / (_count(x.shape, axis) - ddof),)


def _logsumexp(x: np.ndarray, *, axis: Axes, keepdims: bool) -> Any:
    peak = np.max(x, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0)  # rows of -inf (or inf) stay exact
    out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return out if keepdims else np.squeeze(out, axis=axis)


@op("logsumexp", quiet(_logsumexp))
def logsumexp(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool) -> Grads:
    """d log(sum(e**x)) = softmax(x) = e**(x - out) along the reduced axes.

    Entries equal to -inf get 0; a row that is entirely -inf (output -inf) gets 0
    everywhere rather than ``nan``, so masked rows stay finite.
    """
    out_full = expand(out, x.shape, axis, keepdims)
    weights = np.exp(x - out_full)
    weights = np.where(np.isneginf(data(out_full)), 0.0, weights)
    return (expand(g, x.shape, axis, keepdims) * weights,)
