"""Shape and indexing operators: ``reshape transpose broadcast_to getitem concatenate pad``.

These move elements without changing them, so each gradient moves the output gradient
back: reshape it, transpose it the other way, sum it over broadcast copies, scatter it
into the indexed places (adding where an index repeats), or cut it into pieces.
``view``, ``permute``, ``swapaxes``, ``.T``, ``expand``, ``squeeze``, ``unsqueeze``,
``flatten``, ``stack`` and ``split`` are compositions of these, declared at the end with
no rule of their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sg_scalar.declare import Case, Torch
from sg_tensor.arguments import (
    check_positions,
    ints_arg,
    normalize_axis,
    normalize_index,
    one_axis,
    only_dim_of_0d,
    shape_arg,
)
from sg_tensor.op import OPS, call, composite, op, unbroadcast
from sg_tensor.tensor import Tensor, as_tensor

Grads = tuple[Any, ...]
Index = tuple[Any, ...]
X234 = ((2, 3, 4),)  # the input shape of most cases below


# ---------------------------------------------------------------------------------------
# Reshaping and permuting
# ---------------------------------------------------------------------------------------
def _reshape(x: Tensor, *sizes: Any, shape: Any = None) -> Tensor:
    """The same elements in a new shape (one dimension may be -1): ``x.reshape(2, 3)``,
    ``x.reshape((2, 3))`` or ``reshape(x, shape=(2, 3))``."""
    new_shape = shape_arg(sizes if shape is None else (shape,), "reshape", infer=True)
    try:
        target = np.empty(x.shape, dtype=bool).reshape(new_shape).shape
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} "
            f"({x.size} elements) into shape {new_shape}"
        ) from None
    return x._apply1(OPS["reshape"], {"shape": target})


RESHAPES = [Case({"shape": s}, X234) for s in ((4, 6), (-1,), (6, 1, 4))]


def _view(x: Tensor, *sizes: Any, shape: Any = None) -> Tensor:
    """:func:`reshape` under PyTorch's name. Where PyTorch's ``view`` needs the elements in
    row-major order, sg's copies them, as ``reshape`` (numpy's layouts are not PyTorch's:
    a flip or an indexing may give another order here, never another result)."""
    if len(sizes) == 1 and isinstance(sizes[0], (type, np.dtype, str)):
        raise TypeError(
            f"view: reinterpreting the elements as another dtype ({sizes[0]!r}) is not "
            "supported; .to(dtype) converts them (a copy)"
        )
    return _reshape(x, *sizes, shape=shape)


@op("reshape", lambda x, *, shape: np.reshape(x, shape), "reshape", _reshape,
    method="reshape", numpy=np.reshape, cases=RESHAPES,
    torch=Torch(call=lambda torch, x, shape: x.reshape(shape)), analytic=True)  # fmt: skip
def reshape(g: Any, out: Any, x: Any, *, shape: tuple[int, ...]) -> Grads:
    """Reshaping moves no element: the gradient takes the input's shape back."""
    return (g.reshape(x.shape),)


def _transpose(
    x: Tensor, *order: Any, axes: Any = None, dim0: Any = None, dim1: Any = None
) -> Tensor:
    """``x.transpose(dim0, dim1)``: exchange two axes, PyTorch's meaning (``x.transpose(0,
    1)`` of a matrix is its transpose). With no axes, or a permutation of every axis
    (``x.transpose((2, 0, 1))``, ``transpose(x, axes=...)``), numpy's: reverse or permute
    the axes; ``np.transpose(x, axes)`` keeps numpy's meaning.
    """
    if dim0 is not None or dim1 is not None:
        if order or axes is not None or dim0 is None or dim1 is None:
            raise TypeError("transpose: give dim0 and dim1 (two axes to exchange), or axes")
        order = (dim0, dim1)
    elif axes is None and len(order) == 2 and all(_is_int(a) for a in order):
        order = tuple(order)
    else:
        return _permuted(x, order if axes is None else (axes,))
    if only_dim_of_0d(x.ndim, *order):
        return _reshape(x, ())  # a 0-d tensor's one dim with itself: unchanged
    a, b = (one_axis(d, x.ndim, "transpose", x.shape) for d in order)
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return x._apply1(OPS["transpose"], {"axes": tuple(perm)})


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _permuted(x: Tensor, axes: tuple[Any, ...]) -> Tensor:
    """Permute the axes (reverse them for none, or None): numpy's ``transpose``."""
    if not axes or axes == (None,):
        perm = tuple(reversed(range(x.ndim)))
    else:
        perm = ints_arg(axes, "transpose", "axes")
        if sorted(a % x.ndim if -x.ndim <= a < x.ndim else a for a in perm) != list(range(x.ndim)):
            raise ValueError(
                f"transpose: axes {perm} are not a permutation of the {x.ndim} axes "
                f"of a tensor of shape {x.shape}"
            )
        perm = tuple(a % x.ndim for a in perm)
    return x._apply1(OPS["transpose"], {"axes": perm})


def _torch_transpose(
    torch: Any, x: Any, axes: Any = None, dim0: Any = None, dim1: Any = None
) -> Any:
    """``x.transpose(dim0, dim1)``, or ``x.permute(axes)`` (all axes reversed for None)."""
    if dim0 is not None:
        return x.transpose(dim0, dim1)
    return x.permute(*(reversed(range(x.ndim)) if axes is None else axes))


SWAPS = [Case({"dim0": 0, "dim1": 1}, ((3, 4),)), Case({"dim0": 2, "dim1": -3}, X234)]


@op("transpose", lambda x, *, axes: np.transpose(x, axes), "transpose", _transpose,
    numpy=np.transpose, torch=Torch(call=_torch_transpose), analytic=True,
    cases=[Case({"axes": (2, 0, 1)}, X234), Case({"axes": None}, X234), *SWAPS])  # fmt: skip
def transpose(g: Any, out: Any, x: Any, *, axes: tuple[int, ...]) -> Grads:
    """Permuting axes: the gradient is permuted by the inverse permutation."""
    return (g.transpose(tuple(np.argsort(axes).tolist())),)


def _broadcast_to(x: Tensor, *sizes: Any, shape: Any = None) -> Tensor:
    """A view repeated along new or size-1 axes, with numpy's broadcasting rules; -1
    keeps a dimension, as PyTorch's ``broadcast_to`` (its ``expand``) does."""
    return _broadcast(x, sizes if shape is None else (shape,), "broadcast_to")


def _broadcast(x: Tensor, sizes: tuple[Any, ...], where: str) -> Tensor:
    """``x`` broadcast to ``sizes`` (-1 keeps a dimension), errors naming ``where``."""
    target = _kept_sizes(x, sizes, where)
    return x._apply1(OPS["broadcast_to"], {"shape": _broadcast_target(x, target, where)})


def _kept_sizes(x: Tensor, sizes: tuple[Any, ...], where: str) -> tuple[int, ...]:
    """The target shape ``sizes``, with each -1 replaced by the size of ``x`` it is aligned
    with (from the right); a new leading dimension needs a size >= 0."""
    target = list(ints_arg(sizes, where))
    offset = len(target) - x.ndim
    for i in range(max(0, -offset), x.ndim):
        if target[offset + i] == -1:
            target[offset + i] = x.shape[i]
    if any(n < 0 for n in target):
        raise ValueError(
            f"{where}: invalid sizes {tuple(target)} for a tensor of shape {x.shape}: -1 "
            f"keeps an existing dimension, a new leading one needs a size >= 0"
        )
    return tuple(target)


def _broadcast_target(x: Tensor, target: tuple[int, ...], where: str) -> tuple[int, ...]:
    """``target`` if numpy's broadcasting can stretch ``x`` to it, else a ValueError."""
    try:
        compatible = np.broadcast_shapes(x.shape, target) == target
    except ValueError:
        compatible = False
    if not compatible:
        raise ValueError(f"{where}: cannot broadcast a tensor of shape {x.shape} to {target}")
    return target


BROADCASTS = [
    Case({"shape": (5, 2, 3, 4)}, ((2, 1, 4),)),
    Case({"shape": (3, 3, 4)}, ((1, 3, 4),)),
]


@op("broadcast_to", lambda x, *, shape: np.broadcast_to(x, shape), "broadcast_to",
    _broadcast_to, numpy=np.broadcast_to, cases=BROADCASTS,
    torch=Torch(call=lambda torch, x, shape: x.broadcast_to(shape)), analytic=True)  # fmt: skip
def broadcast_to(g: Any, out: Any, x: Any, *, shape: tuple[int, ...]) -> Grads:
    """Each input element was copied: the copies' gradients are summed (unbroadcast)."""
    return (unbroadcast(g, x.shape),)


# ---------------------------------------------------------------------------------------
# Indexing, and its adjoint
# ---------------------------------------------------------------------------------------
def is_basic_index(index: Index) -> bool:
    """Whether an index holds only ints, slices, None and Ellipsis (no arrays).

    Basic indexing selects each element at most once, so the gradient can be written
    with a plain assignment; integer arrays may repeat an element and need adding.
    """
    return not any(isinstance(i, np.ndarray) for i in index)


def _getitem(x: Tensor, index: Any) -> Tensor:
    return x._apply1(OPS["getitem"], {"index": normalize_index(index, x.shape)})


def _torch_getitem(torch: Any, x: Any, index: Any) -> Any:
    """``x[index]`` with numpy's meaning (torch has no negative steps): the positions numpy
    selects, gathered from the flattened tensor."""
    positions = np.arange(x.numel()).reshape(tuple(x.shape))[normalize_index(index, x.shape)]
    return x.reshape(-1)[torch.as_tensor(np.array(positions))]


INDICES = [  # every kind of index, on a (3, 4) tensor: ints, slices, None, ..., arrays
    1, -1, (2, -3), slice(1, 3), slice(None, None, -1), (slice(None, None, -2), slice(3, 0, -1)),
    (None, 0), (Ellipsis, 1), (Ellipsis, None, slice(None, None, -1)), np.array([0, 2, 0, 0]),
    np.array([[0, 1], [1, 1]]), [2, 2, 1], (np.array([0, 1, 0]), np.array([3, 3, 3])),
    (slice(1, None), np.array([0, 0, 2])),
    np.array([[True, False, True, True], [False, False, False, True], [True] * 4]),
    np.array([True, False, True]), (slice(None), np.array([False, True, True, False])),
    Tensor(np.array([1, 1, 0])), (1, slice(None, None, 2), None, Ellipsis),
]  # fmt: skip


@op("getitem", lambda x, *, index: x[index], "getitem", _getitem, method=None, function=None,
    operator="[]", cases=[Case({"index": i}, ((3, 4),)) for i in INDICES],
    torch=Torch(call=_torch_getitem), analytic=True)  # fmt: skip
def getitem(g: Any, out: Any, x: Any, *, index: Index) -> Grads:
    """The gradient goes back to the selected places; repeated indices add up."""
    return (call("scatter", g, shape=x.shape, index=index),)


def _scatter(g: np.ndarray, *, shape: tuple[int, ...], index: Index) -> np.ndarray:
    if g.dtype == np.float64 and _every_axis_an_array(index, len(shape)):
        # Positions as flat numbers, added up by bincount: the order np.add.at adds in
        # (so the same float64 sums), many times faster (max pooling's gradient).
        flat = np.ravel_multi_index(np.broadcast_arrays(*index), shape, mode="wrap")
        weights = np.broadcast_to(g, flat.shape).ravel()
        total = np.bincount(flat.ravel(), weights=weights, minlength=math.prod(shape))
        return total.astype(np.float64, copy=False).reshape(shape)  # (empty: int64)
    grad = np.zeros(shape, dtype=g.dtype)
    if is_basic_index(index):
        grad[index] = g
    else:
        np.add.at(grad, index, g)
    return grad


def _every_axis_an_array(index: Index, ndim: int) -> bool:
    """An index of one integer array per axis (checked by the forward's getitem)."""
    return len(index) == ndim > 0 and all(
        isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in index
    )


def _torch_scatter(torch: Any, y: Any, *, shape: tuple[int, ...], index: Index) -> Any:
    """``zeros(shape)`` with ``y`` added at ``index`` (repeats add up)."""
    positions = tuple(torch.as_tensor(i) for i in index)
    return torch.zeros(shape, dtype=y.dtype).index_put(positions, y, accumulate=True)


@op("scatter", _scatter, "scatter", public=False, torch=Torch(call=_torch_scatter),
    call=lambda y, *, shape, index: call("scatter", y, shape=shape, index=index),
    cases=[Case({"shape": (3, 4), "index": (1,)}, ((4,),)),
           Case({"shape": (3, 4), "index": (np.array([0, 2, 0]),)}, ((3, 4),))])  # fmt: skip
def scatter(g: Any, out: Any, y: Any, *, shape: tuple[int, ...], index: Index) -> Grads:
    """The adjoint of ``getitem``: zeros of ``shape`` with ``y`` added at ``index``.

    Not a public operator: it is what ``getitem``'s rule computes, made an operator so
    that the rule can run on nodes (second derivatives). Its own gradient reads the
    output gradient back at ``index``, which is ``getitem`` again.
    """
    return (g[index],)


# ---------------------------------------------------------------------------------------
# Joining and padding
# ---------------------------------------------------------------------------------------
def _as_tensors(opname: str, tensors: Sequence[Any]) -> list[Tensor]:
    if isinstance(tensors, (Tensor, np.ndarray)) or not len(tensors):
        raise ValueError(f"{opname}: expected a non-empty sequence of tensors")
    return [as_tensor(t) for t in tensors]


def _concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    ts = _as_tensors("concatenate", tensors)
    first = ts[0]
    if first.ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
    a = one_axis(axis, first.ndim, "concatenate", first.shape)
    for t in ts[1:]:
        if t.ndim != first.ndim or any(
            n != m for i, (n, m) in enumerate(zip(t.shape, first.shape)) if i != a
        ):
            shapes = ", ".join(str(u.shape) for u in ts)
            raise ValueError(
                f"concatenate: all shapes must match except along axis {a}; got {shapes}"
            )
    return Tensor._apply_n(OPS["concatenate"], ts, {"axis": a})


def _join(*xs: np.ndarray, axis: int) -> np.ndarray:
    return np.concatenate(xs, axis=axis)


@op("concatenate", _join, "concatenate", _concatenate, method=None, numpy=np.concatenate,
    function=("concatenate", "cat"),
    variadic=True, torch=Torch("torch.cat", dim="axis"),
    cases=[Case({"axis": 1}, ((2, 3, 4), (2, 1, 4))),
           Case({"axis": -1}, ((2, 3), (2, 2), (2, 1))),
           Case({"axis": 0}, ((1, 3), (2, 3), (1, 3), (3, 3)))], analytic=True)  # fmt: skip
def concatenate(g: Any, out: Any, *xs: Any, axis: int) -> Grads:
    """Each input gets its own slice of the gradient along ``axis``."""
    grads, start = [], 0
    for x in xs:
        stop = start + x.shape[axis]
        grads.append(g[(slice(None),) * axis + (slice(start, stop),)])
        start = stop
    return tuple(grads)


def _pad(x: Tensor, pad_width: Any, value: float = 0.0) -> Tensor:
    """Pad with a constant: ``pad_width`` as in ``np.pad`` (int, pair, or a pair per axis)."""
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    except ValueError:
        raise ValueError(
            f"pad: pad_width {pad_width!r} does not fit a tensor of shape {x.shape} "
            "(give an int, a (before, after) pair, or one pair per axis)"
        ) from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width must not be negative, got {pad_width!r}")
    pairs = tuple((int(b), int(e)) for b, e in widths)
    return x._apply1(OPS["pad"], {"pad_width": pairs, "value": float(value)})


def _torch_pad(torch: Any, x: Any, pad_width: Any, value: float = 0.0) -> Any:
    """``F.pad`` takes the widths flat, last axis first."""
    widths = np.broadcast_to(np.asarray(pad_width), (x.ndim, 2))
    flat = tuple(int(w) for pair in reversed(widths) for w in pair)
    return torch.nn.functional.pad(x, flat, value=value)


def _constant_pad(x: np.ndarray, *, pad_width: Any, value: float) -> np.ndarray:
    return np.pad(x, pad_width, mode="constant", constant_values=value)


@op("pad", _constant_pad, "pad", _pad, method=None, torch=Torch(call=_torch_pad),
    bound=lambda b: max(b.m(), abs(b.params["value"])),
    cases=[Case({"pad_width": ((1, 0), (0, 2), (1, 1)), "value": 0.0}, X234),
           Case({"pad_width": 1, "value": 0.5}, X234)], analytic=True)  # fmt: skip
def pad(
    g: Any, out: Any, x: Any, *, pad_width: tuple[tuple[int, int], ...], value: float
) -> Grads:
    """The padding is constant: the gradient is the middle part, where the input sits."""
    return (g[tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))],)


# ---------------------------------------------------------------------------------------
# Composites: no rule of their own
# ---------------------------------------------------------------------------------------
def _permute(x: Tensor, *order: Any, dims: Any = None, axes: Any = None) -> Tensor:
    """Permute the axes: ``x.permute(2, 0, 1)``, ``x.permute((2, 0, 1))`` or
    ``x.permute(dims=(2, 0, 1))`` (PyTorch's; ``axes=`` is numpy's name)."""
    given = [o for o in (order or None, dims, axes) if o is not None]
    if len(given) != 1:  # numpy's transpose() reverses them; PyTorch's needs them
        raise TypeError(
            f"permute: give the order of the dims once (the tensor has {x.ndim})"
            if given
            else f"permute: give the order of the dims (the tensor has {x.ndim})"
        )
    order = given[0] if given[0] is order else (given[0],)
    return _permuted(x, ints_arg(order, "permute", "dims"))


def _swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes."""
    a, b = (one_axis(a, x.ndim, "swapaxes", x.shape) for a in (axis1, axis2))
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return _permuted(x, tuple(perm))


def _matrix_transpose(x: Tensor) -> Tensor:
    """``x.mT``: the last two axes exchanged (a batch of matrices, each transposed)."""
    if x.ndim < 2:
        raise ValueError(f"mT: needs at least 2 dimensions, got a tensor of shape {x.shape}")
    return _transpose(x, -2, -1)


def _expand(x: Tensor, *sizes: Any, shape: Any = None) -> Tensor:
    """PyTorch's name for ``broadcast_to`` (-1 keeps a dimension)."""
    return _broadcast(x, sizes if shape is None else (shape,), "expand")


def _squeeze(x: Tensor, axis: Any = None) -> Tensor:
    """Remove size-1 axes: all of them, or those of ``axis`` (``dim``) that have size 1.

    An axis of another size is left as it is, as PyTorch does (``np.squeeze`` on a
    Tensor keeps numpy's meaning: an error there).
    """
    if axis is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    elif only_dim_of_0d(x.ndim, *(axis if isinstance(axis, (tuple, list)) else (axis,))):
        return _reshape(x, ())  # a 0-d tensor's one dim: nothing to squeeze
    else:
        given = normalize_axis(axis, x.ndim, "squeeze", x.shape)
        axes = tuple(a for a in given if x.shape[a] == 1)
    return _reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def _numpy_squeeze(x: Tensor, axis: Any = None) -> Tensor:
    """``np.squeeze`` on a Tensor: numpy's meaning, an axis whose size is not 1 an error."""
    t = as_tensor(x)
    if axis is not None:
        for a in normalize_axis(axis, t.ndim, "squeeze", t.shape):
            if t.shape[a] != 1:
                raise ValueError(
                    f"squeeze: axis {a} has size {t.shape[a]}, not 1 (shape {t.shape}); "
                    "np.squeeze keeps numpy's meaning, x.squeeze(dim) PyTorch's (a no-op)"
                )
    return _squeeze(t, axis)


def _unsqueeze(x: Tensor, axis: int) -> Tensor:
    """Insert a size-1 axis at position ``axis`` of the result."""
    a = one_axis(axis, x.ndim + 1, "unsqueeze", x.shape)
    return _reshape(x, x.shape[:a] + (1,) + x.shape[a:])


def _flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge the axes ``start_dim..end_dim`` into one (by default: all, giving 1-D)."""
    # a 0-d tensor flattens to 1-D; its dims are PyTorch's, 0 and -1
    start, end = (one_axis(a, max(x.ndim, 1), "flatten", x.shape) for a in (start_dim, end_dim))
    if x.ndim == 0:
        return _reshape(x, 1)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return _reshape(x, x.shape[:start] + (-1,) + x.shape[end + 1 :])


def _unflatten(x: Tensor, dim: int, sizes: Any) -> Tensor:
    """Split axis ``dim`` into ``sizes`` (one of them may be -1), PyTorch's ``unflatten``."""
    a = one_axis(dim, x.ndim, "unflatten", x.shape)
    return _reshape(x, x.shape[:a] + tuple(ints_arg((sizes,), "unflatten")) + x.shape[a + 1 :])


def _stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new axis (all shapes must be equal)."""
    ts = _as_tensors("stack", tensors)
    if any(t.shape != ts[0].shape for t in ts):
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(f"stack: all tensors must have the same shape; got {shapes}")
    a = one_axis(axis, ts[0].ndim + 1, "stack", ts[0].shape)
    return _concatenate([_unsqueeze(t, a) for t in ts], axis=a)


def _split(
    x: Any, split_size_or_sections: Any = None, dim: int = 0, *, split_size: Any = None
) -> list[Tensor]:
    """Cut ``x`` along ``dim`` (PyTorch's ``split``): into pieces of ``split_size`` (an
    int; the last may be smaller), or of the sizes listed (which must add up to the axis).
    ``np.split`` keeps numpy's meaning: equal sections, or cuts at indices. (``split_size=``
    is the keyword of PyTorch's ``Tensor.split``, ``split_size_or_sections=`` that of
    ``torch.split``.)"""
    if (split_size is None) == (split_size_or_sections is None):
        raise TypeError("split(): give the size once: split_size_or_sections, or split_size=")
    if split_size is not None:
        split_size_or_sections = split_size
    t = as_tensor(x)
    a = one_axis(dim, t.ndim, "split", t.shape)
    n = t.shape[a]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        bounds = [*range(0, n, size), n] if n else [0, 0]
    else:
        sizes = [int(k) for k in split_size_or_sections]
        if sum(sizes) != n or any(k < 0 for k in sizes):
            raise ValueError(
                f"split: sizes {sizes} do not add up to the size {n} of axis {a} "
                f"(tensor shape {t.shape})"
            )
        bounds = [0, *np.cumsum(sizes).tolist()]
    return _pieces(t, a, bounds)


def _pieces(t: Tensor, a: int, bounds: list[int]) -> list[Tensor]:
    lead = (slice(None),) * a
    return [_getitem(t, lead + (slice(lo, hi),)) for lo, hi in zip(bounds[:-1], bounds[1:])]


def _numpy_split(x: Any, split_size_or_sections: Any, dim: int = 0) -> list[Tensor]:
    """``np.split`` on a Tensor: into equal sections (an int) or at the given indices."""
    t = as_tensor(x)
    a = one_axis(dim, t.ndim, "split", t.shape)
    n = t.shape[a]
    if isinstance(split_size_or_sections, (int, np.integer)):
        sections = int(split_size_or_sections)
        if sections <= 0 or n % sections:
            raise ValueError(
                f"split: axis {a} of size {n} cannot be split into {sections} equal sections"
            )
        step = n // sections
        bounds = [i * step for i in range(sections + 1)]
    else:
        bounds = [0, *(int(i) for i in split_size_or_sections), n]
    return _pieces(t, a, bounds)


def _chunk(x: Any, chunks: int, dim: int = 0) -> list[Tensor]:
    """PyTorch's ``chunk``: at most ``chunks`` pieces along ``dim``, each of
    ``ceil(size / chunks)`` elements but the last."""
    t = as_tensor(x)
    if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    a = one_axis(dim, t.ndim, "chunk", t.shape)
    n = t.shape[a]
    return _split(t, max(1, -(-n // int(chunks))), a)


composite("view", "reshape", _view, function=None, uses=("reshape",),
          torch=Torch(call=lambda torch, x, shape: x.view(shape)),
          cases=[Case({"shape": (4, 6)}, X234), Case({"shape": (-1,)}, X234)])  # fmt: skip
composite("permute", "permute", _permute, uses=("transpose",), torch=Torch(call=_torch_transpose),
          cases=[Case({"axes": (1, 2, 0)}, X234)])  # fmt: skip
composite("swapaxes", "swapaxes", _swapaxes, numpy=np.swapaxes, uses=("transpose",),
          method=("swapaxes", "swapdims"), function=("swapaxes", "swapdims"),
          torch=Torch(call=lambda torch, x, axis1, axis2: x.swapaxes(axis1, axis2)),
          cases=[Case({"axis1": 0, "axis2": -1}, X234)])  # fmt: skip
composite("T", "T", lambda x: _transpose(x), method=None, function=None, prop="T",
          uses=("transpose",),
          torch=Torch(call=_torch_transpose), cases=[Case({}, X234)])  # fmt: skip
composite("mT", "mT", _matrix_transpose, method=None, function=None, prop="mT",
          uses=("transpose",), torch=Torch(call=lambda torch, x: x.mT),
          cases=[Case({}, X234)])  # fmt: skip
composite("expand", "expand", _expand, uses=("broadcast_to",),
          cases=[Case({"shape": (2, 3, -1)}, ((2, 1, 4),))],
          torch=Torch(call=lambda torch, x, shape: x.expand(*shape)))  # fmt: skip
composite("squeeze", "squeeze", _squeeze, numpy=np.squeeze, uses=("reshape",),
          numpy_entry=_numpy_squeeze,
          torch=Torch(call=lambda torch, x, axis=None: x.squeeze() if axis is None else
                      x.squeeze(axis)),
          cases=[Case({"axis": None}, ((2, 1, 4),)), Case({"axis": 1}, ((2, 1, 4),)),
                 Case({"axis": 2}, ((2, 1, 4),))])  # fmt: skip
composite("unsqueeze", "unsqueeze", _unsqueeze, numpy=np.expand_dims, uses=("reshape",),
          torch=Torch("Tensor.unsqueeze", dim="axis"),
          cases=[Case({"axis": 1}, X234), Case({"axis": -1}, X234)])  # fmt: skip
composite("flatten", "flatten", _flatten, uses=("reshape",), torch="Tensor.flatten",
          cases=[Case({"start_dim": 0, "end_dim": -1}, X234),
                 Case({"start_dim": 1, "end_dim": -1}, X234)])  # fmt: skip
composite("unflatten", "unflatten", _unflatten, uses=("reshape",), torch="Tensor.unflatten",
          cases=[Case({"dim": 1, "sizes": (2, 2)}, ((3, 4),))])  # fmt: skip
composite("stack", "stack", _stack, method=None, numpy=np.stack, variadic=True,
          uses=("concatenate", "reshape"),
          torch=Torch("torch.stack", dim="axis"),
          cases=[Case({"axis": 1}, ((2, 3), (2, 3))),
                 Case({"axis": 0}, ((3,), (3,), (3,))),
                 Case({"axis": -1}, ((2,), (2,), (2,), (2,), (2,)))])  # fmt: skip
composite("split", "split", _split, output=1, uses=("getitem",),
          numpy=(np.split, {"split_size_or_sections": "indices_or_sections", "dim": "axis"}),
          numpy_entry=_numpy_split, torch="torch.split",
          cases=[Case({"split_size_or_sections": 2, "dim": 2}, X234),  # np.split agrees
                 Case({"split_size_or_sections": [1, 3], "dim": 2}, X234),
                 Case({"split_size_or_sections": 3, "dim": -1}, X234)])  # fmt: skip
composite("chunk", "chunk", _chunk, output=-1, uses=("getitem",), torch="torch.chunk",
          cases=[Case({"chunks": 3, "dim": 1}, ((2, 5, 3),))])  # fmt: skip


def _t(x: Tensor) -> Tensor:
    """PyTorch's ``t()``: the transpose of a matrix (a vector or a 0-d tensor as it is)."""
    if x.ndim > 2:
        raise ValueError(f"t: expects at most 2 dimensions, got a tensor of shape {x.shape}")
    return x if x.ndim < 2 else _transpose(x, 0, 1)


def _view_as(x: Tensor, other: Any) -> Tensor:
    """``x.reshape(other.shape)`` (PyTorch's ``view_as``)."""
    return _reshape(x, tuple(np.shape(getattr(other, "data", other))))


def _expand_as(x: Tensor, other: Any) -> Tensor:
    """``x.expand(other.shape)`` (PyTorch's ``expand_as``)."""
    return _expand(x, tuple(np.shape(getattr(other, "data", other))))


composite("t", "t", _t, uses=("transpose",), torch="Tensor.t", cases=[Case({}, ((3, 4),))])
composite("view_as", "view_as", _view_as, function=None, uses=("reshape",),
          torch=Torch(call=lambda torch, x, other: x.view_as(torch.as_tensor(other))),
          cases=[Case({"other": np.zeros((4, 3))}, ((3, 4),))])  # fmt: skip
composite("expand_as", "expand_as", _expand_as, function=None, uses=("broadcast_to",),
          torch=Torch(call=lambda torch, x, other: x.expand_as(torch.as_tensor(other))),
          cases=[Case({"other": np.zeros((2, 3, 4))}, ((3, 1),))])  # fmt: skip


def _flip(x: Tensor, *dims: Any) -> Tensor:
    """Reverse the order of the elements along ``dims`` (PyTorch's ``flip``)."""
    given = ints_arg(dims, "flip", "dims")
    if only_dim_of_0d(x.ndim, *given):
        return _reshape(x, ())  # one value: nothing to reverse
    axes = normalize_axis(given, x.ndim, "flip", x.shape)
    return _getitem(x, tuple(slice(None, None, -1) if a in axes else slice(None)
                             for a in range(x.ndim)))  # fmt: skip


def _repeat(x: Tensor, *sizes: Any) -> Tensor:
    """Tile ``x``: ``sizes[i]`` copies along axis ``i`` (PyTorch's ``repeat``, numpy's
    ``tile``); more sizes than axes add leading axes."""
    counts = ints_arg(sizes, "repeat", "sizes")
    if len(counts) < x.ndim or any(n < 0 for n in counts):
        raise ValueError(
            f"repeat: give one non-negative count per axis of the tensor (shape {x.shape}), "
            f"or more; got {counts}"
        )
    shape = (1,) * (len(counts) - x.ndim) + x.shape
    # each axis of size n becomes (1, n), broadcast to (count, n), then merged
    spread = _reshape(x, tuple(d for n in shape for d in (1, n)))
    tiled = _broadcast_to(spread, tuple(d for c, n in zip(counts, shape) for d in (c, n)))
    return _reshape(tiled, tuple(c * n for c, n in zip(counts, shape)))


def _index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """The slices of ``x`` at the positions ``index`` (1-D integers) along ``dim``."""
    idx = np.asarray(index.data if isinstance(index, Tensor) else index)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise TypeError(f"index_select: index must be 1-D integers, got {idx.dtype} {idx.shape}")
    a = one_axis(dim, x.ndim, "index_select", x.shape)
    check_positions(idx, x.shape[a], "index_select", a)
    return _getitem(x, (slice(None),) * a + (idx,))


composite("flip", "flip", _flip, uses=("getitem",), torch="torch.flip",
          cases=[Case({"dims": (0, 2)}, X234), Case({"dims": (-1,)}, X234)])  # fmt: skip
composite("repeat", "repeat", _repeat, function=None, uses=("reshape", "broadcast_to"),
          torch=Torch(call=lambda torch, x, sizes: x.repeat(*sizes)),
          cases=[Case({"sizes": (2, 1, 3)}, X234), Case({"sizes": (2, 2)}, ((3,),))])  # fmt: skip
composite("index_select", "index_select", _index_select, uses=("getitem",),
          torch=Torch(call=lambda torch, x, dim, index: torch.index_select(
              x, dim, torch.as_tensor(index))),
          cases=[Case({"dim": 1, "index": np.array([2, 0, 2])}, X234)])  # fmt: skip
