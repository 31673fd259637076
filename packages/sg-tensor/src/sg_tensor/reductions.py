"""Reductions over axes: ``sum mean max min var std logsumexp prod``, and ``cumsum``.

Their public call is ``x.name(axis=None, keepdims=False, ...)``: ``axis`` (None, an
int, a negative int or a tuple) is normalised to a sorted tuple of non-negative axes
before the forward runs, so every rule receives ``axis`` as that tuple and ``keepdims``
as given. A reduction's gradient is the output gradient put back along the reduced axes
(:func:`expand`), times the local derivative.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sg_scalar.bounds import Bounds
from sg_scalar.declare import Case, Domain, Kink, Tie, Torch, ZeroSpread
from sg_tensor.arguments import Axes, flag, normalize_axis, one_axis, only_dim_of_0d
from sg_tensor.kernels import Into
from sg_tensor.op import OPS, data, indicator, op, peak, quiet

Grads = tuple[Any, ...]
AXES = [Case({"axis": a, "keepdims": k}) for a, k in
        ((None, False), (0, False), (-1, True), ((0, 2), False), ((1,), True), ((-1, 0), True),
         ((0, 1, 2), False), (None, True))]  # fmt: skip
"""The axis cases every reduction is checked in (on shape (2, 3, 4))."""
VARIANCE_CASES = [
    Case({"dim": c.params["axis"], "unbiased": u, "keepdim": c.params["keepdims"]})
    for c in AXES
    for u in (True, False)
] + [Case({"dim": 1}, label="PyTorch's default: unbiased")]
"""``std``/``var`` in PyTorch's positional order ``(dim, unbiased, keepdim)``."""


def _variance_entry(name: str) -> Any:
    """``x.std(dim=None, unbiased=True, keepdim=False, *, correction=None)``, PyTorch's
    (``ddof=`` is numpy's name for ``correction``, and ``axis=``/``keepdims=`` stay
    accepted); unbiased by default. ``np.std``/``np.var`` keep numpy's ``ddof=0``."""

    def entry(
        x: Any,
        dim: Any = None,
        unbiased: Any = None,
        keepdim: Any = False,
        *,
        correction: Any = None,
        ddof: Any = None,
    ) -> Any:
        if isinstance(dim, (bool, np.bool_)) and unbiased is None:  # PyTorch's var(unbiased)
            dim, unbiased = None, dim
        if correction is not None and ddof is not None:
            raise TypeError(f"{name}(): give correction= or ddof=, not both")
        given = correction if correction is not None else ddof
        if given is not None:
            if unbiased is not None:
                raise TypeError(f"{name}(): give unbiased or correction=, not both")
            return _reduce_variance(name, x, dim, keepdim, _ddof(given, f"{name}: correction"))
        if unbiased is None:
            unbiased = True
        if not isinstance(unbiased, (bool, np.bool_)) and unbiased not in (0, 1):
            raise TypeError(
                f"{name}(): unbiased must be True or False, got {unbiased!r} (correction= "
                "takes another number of degrees of freedom)"
            )
        return _reduce_variance(name, x, dim, keepdim, int(bool(unbiased)))

    entry.__doc__ = _variance_entry.__doc__
    return entry


def _numpy_variance(name: str) -> Any:
    """``np.std``/``np.var`` on a Tensor: numpy's meaning (``ddof=0`` by default). It
    receives sg's parameter names: ``unbiased`` carries numpy's ``ddof``."""

    def entry(x: Any, dim: Any = None, unbiased: Any = 0, keepdim: Any = False) -> Any:
        ddof = int(unbiased) if isinstance(unbiased, (bool, np.bool_)) else unbiased  # numpy's
        return _reduce_variance(name, x, dim, keepdim, _ddof(ddof, f"{name}: ddof"))

    return entry


def _reduce_variance(name: str, x: Any, dim: Any, keepdim: Any, ddof: int) -> Any:
    from sg_tensor.tensor import as_tensor

    t = as_tensor(x)
    if t.ndim == 0 and dim in (0, -1):  # PyTorch: a 0-d tensor has dims 0 and -1
        dim = None
    ctx = {
        "axis": normalize_axis(dim, t.ndim, name, t.shape),
        "keepdims": flag(keepdim, name, "keepdim"),
        "ddof": ddof,
    }
    return t._apply1(OPS[name], ctx)


NUMPY_VARIANCE = {"dim": "axis", "unbiased": "ddof", "keepdim": "keepdims"}
"""numpy's keywords for std's and var's parameters (``ddof`` arrives as ``unbiased``)."""


def _torch_variance(name: str) -> Any:
    def call(torch: Any, x: Any, dim: Any = None, unbiased: bool = True, keepdim: bool = False,
             axis: Any = None, keepdims: Any = None) -> Any:  # fmt: skip
        dim = axis if axis is not None else dim
        keepdim = keepdims if keepdims is not None else keepdim
        if dim is None:
            dim = tuple(range(x.ndim))
        return getattr(torch, name)(x, dim, unbiased=unbiased, keepdim=keepdim)

    return call


def _ddof(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where} must be an int, got {value!r}")
    return int(value)


def _summed(b: Bounds) -> float:
    return b.m() * b.reduced()


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


def _integer_total(x: np.ndarray) -> Any:
    """The dtype a sum or product of ``x`` is computed in: int64 for bool and integer data
    (PyTorch's, where numpy gives uint64 for unsigned data), else ``x``'s own (None)."""
    return np.int64 if x.dtype.kind in "biu" else None


def _sum(x: np.ndarray, *, axis: Axes, keepdims: bool) -> Any:
    total = _integer_total(x)
    return np.add.reduce(x, axis=axis, keepdims=keepdims, dtype=total)  # type: ignore[call-overload]


@op("sum", _sum, "reduction", numpy=np.sum, cases=AXES, bound=_summed,
    torch=Torch("torch.sum", dim="axis", keepdim="keepdims"), analytic=True)  # fmt: skip
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


def _mean_into(o: np.ndarray, x: np.ndarray, *, axis: Axes, keepdims: bool) -> Any:
    n = _count(x.shape, axis)
    if n == 0 or x.dtype != o.dtype:  # an integer input sums in its own dtype, eagerly
        return _mean(x, axis=axis, keepdims=keepdims)
    np.add.reduce(x, axis=axis, keepdims=keepdims, out=o)
    return np.divide(o, n, out=o)


def _mean_rule_into(outs: Any, g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool) -> Grads:
    (o,) = outs
    if o is None:
        return mean.vjp(g, out, x, axis=axis, keepdims=keepdims)  # the rule itself
    share = g / _count(x.shape, axis)
    if not keepdims and share.ndim:  # as expand(): the reduced axes back as size 1, filled
        share = share.reshape(tuple(1 if i in axis else n for i, n in enumerate(x.shape)))
    np.copyto(o, share)
    return (o,)


@op("mean", _mean, "reduction", numpy=np.mean, cases=AXES,
    torch=Torch("torch.mean", dim="axis", keepdim="keepdims"), analytic=True,
    into=Into(_mean_into, _mean_rule_into))  # fmt: skip
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


def _extreme(reduce: Any) -> Any:
    """The forward of max or min: numpy's, with a clear error for an empty slice."""

    def forward(x: np.ndarray, *, axis: Axes, keepdims: bool) -> Any:
        if _count(x.shape, axis) == 0:
            raise ValueError(f"the tensor is empty (shape {x.shape}): no {reduce.__name__}imum")
        return reduce(x, axis=axis, keepdims=keepdims)

    return forward


@op("max", _extreme(np.max), "reduction", method="amax", function="amax",
    numpy=np.max, cases=AXES, edges=[Tie(within=True)],
    torch=Torch("torch.amax", dim="axis", keepdim="keepdims"))  # fmt: skip
def max_(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool) -> Grads:
    """d max(x): 1 at the maximum; ties share the gradient evenly (PyTorch ``amax``)."""
    return (_extremum_rule(g, out, x, axis, keepdims),)


@op("min", _extreme(np.min), "reduction", method="amin", function="amin",
    numpy=np.min, cases=AXES, edges=[Tie(within=True)],
    torch=Torch("torch.amin", dim="axis", keepdim="keepdims"))  # fmt: skip
def min_(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool) -> Grads:
    """d min(x): 1 at the minimum; ties share the gradient evenly (PyTorch ``amin``)."""
    return (_extremum_rule(g, out, x, axis, keepdims),)


def _var(x: np.ndarray, *, axis: Axes, keepdims: bool, ddof: int) -> Any:
    return np.var(x, axis=axis, keepdims=keepdims, ddof=ddof)


@op("var", quiet(_var), "reduction", _variance_entry("var"),
    numpy=(np.var, NUMPY_VARIANCE), numpy_entry=_numpy_variance("var"),
    cases=VARIANCE_CASES, bound=lambda b: 2 * b.m() ** 2,
    torch=Torch(call=_torch_variance("var")))  # fmt: skip
def var(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool, ddof: int) -> Grads:
    """d var(x) = 2 (x - mean(x)) / (n - ddof) for each element."""
    centered = x - x.mean(axis=axis, keepdims=True)
    return (expand(g, x.shape, axis, keepdims) * (2 * centered / (_count(x.shape, axis) - ddof)),)


def _std(x: np.ndarray, *, axis: Axes, keepdims: bool, ddof: int) -> Any:
    return np.std(x, axis=axis, keepdims=keepdims, ddof=ddof)


@op("std", quiet(_std), "reduction", _variance_entry("std"),
    numpy=(np.std, NUMPY_VARIANCE), numpy_entry=_numpy_variance("std"),
    cases=VARIANCE_CASES, edges=[ZeroSpread()], bound=lambda b: math.sqrt(2.0) * b.m(),
    torch=Torch(call=_torch_variance("std")))  # fmt: skip
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


LOGSUMEXP = AXES + [Case({"axis": 1, "keepdims": False}, ((3, 4),), label="large",
                         domains=(Domain("large", -300.0, 300.0),))]  # fmt: skip


def _logsumexp(x: np.ndarray, *, axis: Axes, keepdims: bool) -> Any:
    shift = peak(x, axis)
    shift = np.where(np.isfinite(shift), shift, 0)  # rows of -inf (or inf) stay exact
    out = np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True)) + shift
    return out if keepdims else np.squeeze(out, axis=axis)


@op("logsumexp", quiet(_logsumexp), "reduction", cases=LOGSUMEXP,
    bound=lambda b: b.m() + math.log(b.reduced()),
    torch=Torch("torch.logsumexp", dim="axis", keepdim="keepdims"), analytic=True)  # fmt: skip
def logsumexp(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool) -> Grads:
    """d log(sum(e**x)) = softmax(x) = e**(x - out) along the reduced axes.

    Entries equal to -inf get 0; a row that is entirely -inf (output -inf) gets 0
    everywhere rather than ``nan``, so masked rows stay finite.
    """
    out_full = expand(out, x.shape, axis, keepdims)
    weights = np.exp(x - out_full)
    weights = np.where(np.isneginf(data(out_full)), 0.0, weights)
    return (expand(g, x.shape, axis, keepdims) * weights,)


def _product_of_others(x: Any, axis: Axes) -> Any:
    """For each element, the product of the other elements of its reduced slice.

    The reduced axes are moved last and flattened (length n); each element's row of n
    copies has that element replaced by 1, and the row's product is taken. O(n) memory
    per element: used only where a slice holds a zero. Runs on nodes too (second order).
    """
    kept = [i for i in range(x.ndim) if i not in axis]
    order = (*kept, *axis)
    moved = x.transpose(order)
    n = math.prod(x.shape[a] for a in axis)
    flat = moved.reshape(moved.shape[: len(kept)] + (n,))
    rows = np.where(np.eye(n, dtype=bool), 1.0, flat[..., None, :])  # (..., n, n)
    return rows.prod(axis=-1).reshape(moved.shape).transpose(tuple(np.argsort(order).tolist()))


PRODUCTS = AXES + [
    Case({"axis": 1, "keepdims": False}, ((3, 4),), {0: {(0, 1): 0.0, (1, 0): 0.0, (1, 2): 0.0}},
         label="zeros: one, two, none per row"),
    Case({"axis": None, "keepdims": False}, ((2, 3),), {0: {(1, 1): 0.0}}, label="one zero"),
    Case({"axis": None, "keepdims": True}, ((2, 3),), {0: {(0, 0): 0.0, (1, 2): 0.0}},
         label="two zeros"),
]  # fmt: skip


def _torch_prod(torch: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``torch.prod`` takes one dim: reduce the axes one at a time, the last first."""
    axes = range(x.ndim) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    for a in sorted((a % x.ndim for a in axes), reverse=True):
        x = torch.prod(x, dim=a, keepdim=keepdims)
    return x


@op("prod", lambda x, *, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims,
                                                  dtype=_integer_total(x)), "reduction",
    numpy=np.prod, torch=Torch(call=_torch_prod), cases=PRODUCTS,
    bound=lambda b: b.m() ** b.reduced(), analytic=True)  # fmt: skip
def prod(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool) -> Grads:
    """d prod(x) = the product of the other elements, for each element: out / x where no
    element is 0 (PyTorch's formula); where one is, the product of the others, computed
    without dividing: a slice's one zero gets the product of the rest and its other
    elements 0; with two zeros, every element's gradient is 0 (as in PyTorch)."""
    if not (data(x) == 0).any():
        return (expand(g, x.shape, axis, keepdims) * (expand(out, x.shape, axis, keepdims) / x),)
    return (expand(g, x.shape, axis, keepdims) * _product_of_others(x, axis),)


# ---------------------------------------------------------------------------------------
# Running sums along one axis
# ---------------------------------------------------------------------------------------
def _cumsum_entry(x: Any, axis: Any = None) -> Any:
    """Running sums along ``axis``; with ``axis=None`` (numpy's default) over the flattened
    tensor. (PyTorch's ``cumsum`` requires ``dim``; give it and the two agree.)"""
    if axis is None or only_dim_of_0d(x.ndim, axis):  # a 0-d tensor: along its one dim
        flat = x.reshape(-1)._apply1(OPS["cumsum"], {"axis": 0})
        return flat if axis is None else flat.reshape(())
    return x._apply1(OPS["cumsum"], {"axis": one_axis(axis, x.ndim, "cumsum", x.shape)})


def _torch_cumsum(torch: Any, x: Any, axis: Any = None) -> Any:
    """``torch.cumsum``, flattening first for ``axis=None`` as numpy does."""
    return torch.cumsum(x.reshape(-1), dim=0) if axis is None else torch.cumsum(x, dim=axis)


def _cumsum_bound(b: Bounds) -> float:
    axis = b.params.get("axis")
    return b.m() * (math.prod(b.shapes[0]) if axis is None else b.shapes[0][axis])


@op("cumsum", lambda x, *, axis: np.cumsum(x, axis=axis, dtype=_integer_total(x)), "axis",
    _cumsum_entry,
    numpy=np.cumsum, torch=Torch(call=_torch_cumsum), bound=_cumsum_bound,
    cases=[Case({"axis": a}) for a in (0, -1, 1, None)], analytic=True)  # fmt: skip
def cumsum(g: Any, out: Any, x: Any, *, axis: int) -> Grads:
    """d out_i = sum of dx_j for j <= i along ``axis``: each input element reaches every
    later output, so its gradient is the running sum of ``g`` taken from the end."""
    backwards = (slice(None),) * axis + (slice(None, None, -1),)
    return (np.cumsum(g[backwards], axis=axis)[backwards],)


# ---------------------------------------------------------------------------------------
# norm: PyTorch's x.norm(p, dim, keepdim)
# ---------------------------------------------------------------------------------------
def _p_arg(p: Any) -> float:
    if p in ("fro", None):
        return 2.0
    if isinstance(p, (str, bool)) or not isinstance(p, (int, float, np.number)):
        raise ValueError(f"norm: p must be a number, inf, -inf or 'fro', got {p!r}")
    if p <= 0 and p != -math.inf:
        raise ValueError(f"norm: p must be positive (or +-inf), got {p!r}")
    return float(p)


def _norm_forward(x: np.ndarray, *, axis: Axes, keepdims: bool, p: float) -> Any:
    a = np.abs(x)
    if p == math.inf:
        return np.max(a, axis=axis, keepdims=keepdims)
    if p == -math.inf:
        return np.min(a, axis=axis, keepdims=keepdims)
    if p == 2.0:
        return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))
    if p == 1.0:
        return np.sum(a, axis=axis, keepdims=keepdims)
    return np.sum(a**p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def _norm(x: Any, p: Any = 2, dim: Any = None, keepdim: bool = False) -> Any:
    """The ``p``-norm over ``dim`` (every element for None): ``(sum |x|**p) ** (1/p)``;
    ``inf`` is the largest ``|x|``, ``-inf`` the smallest (PyTorch's ``x.norm``)."""
    from sg_tensor.tensor import as_tensor

    t = as_tensor(x)
    if only_dim_of_0d(t.ndim, *(dim if isinstance(dim, (tuple, list)) else (dim,))):
        return _norm(t.reshape((1,)), p, 0, keepdim).reshape(())  # a 0-d tensor's one dim
    ctx = {"axis": normalize_axis(dim, t.ndim, "norm", t.shape), "keepdims": bool(keepdim),
           "p": _p_arg(p)}  # fmt: skip
    if t.size == 0 and ctx["p"] == -math.inf:
        raise ValueError(f"norm: the tensor is empty (shape {t.shape}): no minimum")
    return t._apply1(OPS["norm"], ctx)


def _norm_kink(params: Any) -> float | None:
    return 0.0 if _p_arg(params.get("p", 2)) == 1.0 else None


NORMS = [Case({"p": p, "dim": d, "keepdim": k}, ((2, 3, 4),)) for p, d, k in
         ((2, None, False), (1, 1, False), (math.inf, -1, True), (3, 0, False),
          (-math.inf, (0, 2), False), (2.5, (1, 2), True))]  # fmt: skip


@op("norm", quiet(_norm_forward), "norm", _norm, numpy=None, cases=NORMS, bound=_summed,
    inputs=(Domain("away from 0", 0.2, 2.0, symmetric=True, guard=True),),
    edges=[Kink(_norm_kink, "mean"), Tie(within=True)],
    torch=Torch(call=lambda torch, x, p=2, dim=None, keepdim=False: torch.linalg.vector_norm(
        x, ord=p, dim=dim, keepdim=keepdim)))  # fmt: skip
def norm(g: Any, out: Any, x: Any, *, axis: Axes, keepdims: bool, p: float) -> Grads:
    """d ||x||_p = sign(x) |x|**(p-1) / ||x||_p**(p-1) per element (x / ||x|| for p = 2,
    sign(x) for p = 1); for +-inf the gradient goes to the extreme |x|, split between
    ties (PyTorch's). Where the norm is 0 the gradient is 0, as PyTorch's, not 0 / 0."""
    x_data, out_data = data(x), data(out)
    sign = indicator(x, np.sign(x_data))
    if math.isinf(p):
        return (sign * _extremum_rule(g, out, np.abs(x_data), axis, keepdims),)
    if p == 1.0:
        return (expand(g, x.shape, axis, keepdims) * sign,)
    zero = out_data == 0
    safe = np.where(zero, 1.0, out) if zero.any() else out
    scale = np.where(zero, 0.0, g / safe ** (p - 1)) if zero.any() else g / out ** (p - 1)
    local = x if p == 2.0 else sign * np.abs(x) ** (p - 1)
    return (expand(scale, x.shape, axis, keepdims) * local,)
