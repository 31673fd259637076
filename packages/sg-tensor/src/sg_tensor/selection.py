"""Selecting by position: ``gather``, ``max``/``min`` along a dim with their indices,
``sort``, ``topk``, ``argmax``, ``argmin``, ``argsort``, ``masked_fill``.

Every differentiable one is a composite of ``getitem``: the positions are found on the
data (an index is not differentiable), then the values are picked with an index array,
so the gradient goes back to exactly the picked positions (``getitem``'s rule, repeats
added up). That is PyTorch's convention for ``max(dim)``, ``sort`` and ``topk``: among
tied values the gradient goes to the one whose index was returned, not split between
them (``amax`` splits; see :mod:`sg_tensor.reductions`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from sg_scalar.declare import Case, Tie, Torch
from sg_tensor.arguments import AxisError, check_positions, one_axis, only_dim_of_0d
from sg_tensor.capturing import computed
from sg_tensor.op import OPS, composite
from sg_tensor.shapes import _getitem
from sg_tensor.tensor import Tensor, as_tensor

__all__ = ["ValuesIndices"]


class ValuesIndices(NamedTuple):
    """``(values, indices)``, as PyTorch's ``max(dim)``, ``min(dim)``, ``sort`` and
    ``topk`` return them (``torch.return_types``)."""

    values: Tensor
    indices: Tensor


def _indices(index: Any, where: str) -> np.ndarray:
    idx = np.asarray(index.data if isinstance(index, Tensor) else index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{where}: index must be integers, got dtype {idx.dtype}")
    return idx


def _gather(x: Any, dim: int, index: Any) -> Tensor:
    """``out[i][j][k] = x[index[i][j][k]][j][k]`` for ``dim = 0`` (and so on): PyTorch's
    ``gather``, numpy's ``take_along_axis``."""
    t = as_tensor(x)
    idx = _indices(index, "gather")
    if only_dim_of_0d(t.ndim, dim) and idx.size == 1:  # a 0-d tensor along its one dim
        return _gather(t.reshape((1,)), 0, idx.reshape((1,))).reshape(idx.shape)
    a = one_axis(dim, t.ndim, "gather", t.shape)
    if idx.ndim != t.ndim or any(
        m > n for d, (m, n) in enumerate(zip(idx.shape, t.shape)) if d != a
    ):
        raise ValueError(
            f"gather: index of shape {idx.shape} does not fit a tensor of shape {t.shape} "
            f"along dim {a} (same number of dims, no larger elsewhere)"
        )
    check_positions(idx, t.shape[a], "gather", a)
    grids = np.ogrid[tuple(slice(n) for n in idx.shape)]
    return _getitem(t, tuple(idx if d == a else grids[d] for d in range(t.ndim)))


def _pick(x: Tensor, a: int, positions: np.ndarray, keepdim: bool) -> ValuesIndices:
    """The values at ``positions`` (kept along axis ``a``) and the positions as int64."""
    values = _gather(x, a, positions)
    if not keepdim:
        values = values.reshape(tuple(n for d, n in enumerate(values.shape) if d != a))
    return ValuesIndices(values, Tensor(computed(_int64_positions, positions, a, keepdim)))


def _int64_positions(positions: np.ndarray, a: int, keepdim: bool) -> np.ndarray:
    """The positions :func:`_pick` took, as PyTorch's int64 indices."""
    return (positions if keepdim else np.squeeze(positions, axis=a)).astype(np.int64)


def _extreme_along(name: str, arg: Any) -> Any:
    """PyTorch's ``max``/``min``: no dim, the value; a dim, ``(values, indices)``; a
    tensor, the elementwise ``maximum``/``minimum``."""

    def extreme(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
        t = as_tensor(x)
        if dim is None:
            return getattr(t, f"a{name}")()  # the whole tensor's extreme: amax/amin
        if isinstance(dim, (Tensor, np.ndarray)):
            return getattr(t, "maximum" if name == "max" else "minimum")(dim)
        if t.ndim == 0 and dim in (0, -1):  # PyTorch: a 0-d tensor has dims 0 and -1
            return ValuesIndices(t.reshape(()), Tensor(np.zeros((), dtype=np.int64)))
        a = one_axis(dim, t.ndim, name, t.shape)
        if t.shape[a] == 0:
            raise ValueError(f"{name}: dim {a} of the tensor (shape {t.shape}) is empty")
        positions = computed(lambda d: np.expand_dims(arg(d, axis=a), a), t.data)
        return _pick(t, a, positions, keepdim)

    extreme.__doc__ = (
        f"PyTorch's ``{name}``: no ``dim``, the {name}imum; a ``dim``, ``(values, indices)``"
        f" (the gradient goes to the returned index); a tensor, the elementwise {name}imum."
        f" For values along dims without indices use ``a{name}``."
    )
    return extreme


def _sort(x: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """``(values, indices)`` sorted along ``dim`` (ascending unless ``descending``); ties
    keep their order (a stable sort)."""
    t = as_tensor(x)
    a = one_axis(dim, t.ndim, "sort", t.shape) if t.ndim else 0
    if t.ndim == 0:
        return ValuesIndices(t.reshape(()), Tensor(np.zeros((), dtype=np.int64)))
    order = computed(_sorted_order, t.data, a, descending)
    return _pick(t, a, order, keepdim=True)


def _topk(x: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """The ``k`` largest (or smallest) values along ``dim`` and their indices."""
    t = as_tensor(x)
    if only_dim_of_0d(t.ndim, dim) and k == 1:  # a 0-d tensor: its one value, at 0
        values, indices = _topk(t.reshape((1,)), 1, 0, largest, sorted)
        return ValuesIndices(values.reshape(()), indices.reshape(()))
    a = one_axis(dim, t.ndim, "topk", t.shape)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= t.shape[a]:
        raise ValueError(f"topk: k must be an int from 0 to {t.shape[a]} (dim {a}), got {k!r}")
    positions = computed(_top_positions, t.data, a, largest, int(k))
    return _pick(t, a, positions, keepdim=True)


def _sorted_order(x: np.ndarray, a: int, descending: bool) -> np.ndarray:
    """The positions sorting ``x`` along axis ``a``, ties in their order (stable). A NaN
    counts as larger than everything, as in PyTorch: last going up, first going down."""
    if not descending:
        return np.argsort(x, axis=a, kind="stable")
    if x.dtype.kind == "f" and np.isnan(x).any():  # NaNs first, then the rest going down
        return np.lexsort((-x, ~np.isnan(x)), axis=a)
    return np.argsort(-x, axis=a, kind="stable")


def _top_positions(x: np.ndarray, a: int, largest: bool, k: int) -> np.ndarray:
    """The positions of the ``k`` largest (or smallest) along axis ``a``, in order."""
    return np.take(_sorted_order(x, a, largest), np.arange(k), axis=a)


def _masked_fill(x: Any, mask: Any, value: Any) -> Tensor:
    """``value`` where ``mask`` holds, else ``x`` (the filled positions get no gradient)."""
    t = as_tensor(x)
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be boolean, got dtype {m.dtype}")
    try:
        np.broadcast_shapes(m.shape, t.shape)
    except ValueError:
        raise ValueError(
            f"masked_fill: a mask of shape {m.shape} does not broadcast to {t.shape}"
        ) from None
    keep = computed(np.logical_not, m)
    if isinstance(value, Tensor):  # a tensor value gets its gradient (the filled places)
        fill = value if value.dtype == t.dtype else value.astype(t.dtype)
    else:
        fill = Tensor(computed(np.asarray, value, t.dtype))
    return t._apply2(OPS["where"], fill, {"condition": keep})


X34 = ((3, 4),)
INDEX = np.array([[0, 2, 2, 1], [1, 0, 0, 3], [3, 3, 1, 0]])
composite("gather", "gather", _gather, uses=("getitem",), torch=Torch(
    call=lambda torch, x, dim, index: torch.gather(x, dim, torch.as_tensor(index))),
    cases=[Case({"dim": 1, "index": INDEX}, X34),
           Case({"dim": 0, "index": INDEX[:2, :3] % 3}, X34)])  # fmt: skip
for _name, _arg in (("max", np.argmax), ("min", np.argmin)):
    composite(f"{_name}_dim", "dim", _extreme_along(_name, _arg), method=_name,
              function=_name, uses=(_name, "getitem"), output=0, edges=[Tie(True, "first")],
              torch=Torch(call=lambda torch, x, dim=None, keepdim=False, _n=_name: (
                  getattr(torch, _n)(x) if dim is None else getattr(torch, _n)(x, dim, keepdim))),
              cases=[Case({"dim": 1}, X34), Case({"dim": -1, "keepdim": True}, ((2, 3, 4),)),
                     Case({"dim": 0}, ((5,),))])  # fmt: skip
composite("sort", "dim", _sort, uses=("getitem",), output=0, edges=[Tie(True, "first")],
          torch=Torch(call=lambda torch, x, dim=-1, descending=False: torch.sort(
              x, dim=dim, descending=descending, stable=True)),
          cases=[Case({"dim": 1}, X34), Case({"dim": 0, "descending": True}, X34)])  # fmt: skip
composite("topk", "dim", _topk, uses=("getitem",), output=0, edges=[Tie(True, "first")],
          torch="torch.topk",
          cases=[Case({"k": 2}, X34),
                 Case({"k": 3, "dim": 0, "largest": False}, X34)])  # fmt: skip
composite("masked_fill", "masked_fill", _masked_fill, function=None, uses=("where",),
          torch=Torch(call=lambda torch, x, mask, value: x.masked_fill(
              torch.as_tensor(mask), value)),
          cases=[Case({"mask": INDEX == 0, "value": -1.5}, X34)])  # fmt: skip


# ---------------------------------------------------------------------------------------
# Positions alone: integer tensors, no gradient (not operators)
# ---------------------------------------------------------------------------------------
def argmax(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The index of the largest value along ``dim`` (of the flattened tensor for None; the
    first one where several tie), as int64."""
    return _position(np.argmax, "argmax", x, dim, keepdim)


def argmin(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The index of the smallest value along ``dim`` (see :func:`argmax`)."""
    return _position(np.argmin, "argmin", x, dim, keepdim)


def argsort(x: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim`` (ties keep their order)."""
    indices: Tensor = _sort(x, dim, descending, stable).indices
    return indices


def _position(find: Any, name: str, x: Any, dim: Any, keepdim: bool) -> Tensor:
    t = as_tensor(x)
    if dim is None:
        if t.size == 0:
            raise AxisError(f"{name}: the tensor is empty (shape {t.shape})")
        shape = (1,) * t.ndim if keepdim else ()
        return Tensor(computed(lambda x: np.asarray(find(x), np.int64).reshape(shape), t.data))
    if t.ndim == 0 and dim in (0, -1):
        return Tensor(np.zeros((), dtype=np.int64))
    a = one_axis(dim, t.ndim, name, t.shape)
    if t.shape[a] == 0:  # nothing to choose from along dim (other empty dims: an empty result)
        raise AxisError(f"{name}: dim {a} of the tensor (shape {t.shape}) is empty")
    return Tensor(computed(lambda x: find(x, axis=a, keepdims=keepdim).astype(np.int64), t.data))


def install() -> None:
    """The position functions as ``Tensor`` methods (``x.argmax(dim)``), with PyTorch's
    ``dim``/``keepdim`` and numpy's ``axis``/``keepdims`` both accepted."""
    for fn in (argmax, argmin, argsort):
        setattr(Tensor, fn.__name__, _numpy_names(fn))


def _numpy_names(fn: Any) -> Any:
    def call(x: Any, *args: Any, axis: Any = None, keepdims: Any = None, **kwargs: Any) -> Any:
        if axis is not None:
            kwargs["dim"] = axis
        if keepdims is not None:
            kwargs["keepdim"] = keepdims
        return fn(x, *args, **kwargs)

    call.__name__, call.__doc__ = fn.__name__, fn.__doc__
    return call
