"""Arguments of the public calls, normalised once, with errors that name the operator.

Every operator's public call passes its axes, shapes and indices through these, so the
rules always receive them in one form: ``axis`` as a sorted tuple of non-negative ints, a
shape as a tuple of ints, an index as a tuple numpy understands.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sg_tensor.capturing import computed, refuse

Axes = tuple[int, ...]


class AxisError(ValueError, IndexError):
    """An axis out of range: a ValueError (as numpy's ``AxisError``) and an IndexError
    (PyTorch's "Dimension out of range"), so code written for either catches it."""


def normalize_axis(axis: Any, ndim: int, opname: str, shape: tuple[int, ...]) -> Axes:
    """``axis`` as a sorted tuple of non-negative ints, or a clear error naming ``opname``.

    ``None`` means every axis.
    """
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    result = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{opname}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise AxisError(
                f"{opname}: axis {a} is out of range for a tensor of shape {shape} "
                f"({ndim} dimensions: valid axes are {-ndim} to {ndim - 1})"
            )
        result.append(int(a) % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"{opname}: repeated axis in {axis!r}")
    return tuple(sorted(result))


def flag(value: Any, opname: str, name: str = "keepdims") -> bool:
    """A bool argument such as ``keepdims``: ``True``/``False`` only (a string such as
    ``"no"`` would otherwise count as true)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{opname}: {name} must be True or False, got {value!r}")
    return bool(value)


def only_dim_of_0d(ndim: int, *dims: Any) -> bool:
    """Whether a 0-d tensor is given its one dimension, 0 (or -1), as PyTorch allows."""
    return (
        ndim == 0
        and bool(dims)
        and all(
            not isinstance(d, bool) and isinstance(d, (int, np.integer)) and d in (0, -1)
            for d in dims
        )
    )


def one_axis(axis: Any, ndim: int, opname: str, shape: tuple[int, ...]) -> int:
    """A single axis as a non-negative int (see :func:`normalize_axis`)."""
    if isinstance(axis, (tuple, list)) or axis is None:
        raise TypeError(f"{opname}: axis must be one int, got {axis!r}")
    return normalize_axis(axis, ndim, opname, shape)[0]


def ints_arg(values: tuple[Any, ...], where: str, what: str = "shape") -> tuple[int, ...]:
    """``f(2, 3)`` as well as ``f((2, 3))`` as a tuple of ints; anything but integers
    (a float, a string, a bool) is a TypeError naming ``where``."""
    if len(values) == 1 and isinstance(values[0], (tuple, list)):
        values = tuple(values[0])
    for n in values:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{where}: {what} must be ints, got {values!r}")
    return tuple(int(n) for n in values)


def shape_arg(shape: tuple[Any, ...], where: str, infer: bool = False) -> tuple[int, ...]:
    """A shape (see :func:`ints_arg`) of sizes >= 0; with ``infer``, one size may be -1
    (the one that makes the element count match, as in ``reshape``)."""
    sizes = ints_arg(shape, where)
    unknown = sizes.count(-1) if infer else 0
    if unknown > 1 or any(n < 0 for n in sizes if not (infer and n == -1)):
        allowed = "sizes >= 0 and at most one -1" if infer else "sizes >= 0"
        raise ValueError(f"{where}: invalid shape {sizes}: a shape holds {allowed}")
    return sizes


def normalize_index(index: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """An index as a tuple numpy understands, with boolean masks turned into positions.

    Tensors and lists become arrays; a boolean mask becomes the integer positions of its
    true elements (numpy's own definition), so one gradient rule covers both. A mask must
    have the shape of the dimensions it indexes, as in PyTorch and numpy.
    """
    given = index if isinstance(index, tuple) else (index,)
    for item in given:
        if hasattr(item, "_op") and item.data.dtype == np.uint8:
            # PyTorch takes a uint8 tensor as a mask (deprecated), numpy as positions
            raise IndexError(
                f"getitem: a uint8 tensor index (shape {item.data.shape}) is ambiguous: a mask "
                f"in PyTorch, positions in numpy (tensor shape {shape}); use .bool() for a "
                "mask or .long() for positions"
            )
    items = [_as_index(item) for item in given]
    # the dimensions each item indexes: an Ellipsis stands for those the others leave
    spans = [0 if item is None or item is Ellipsis else _span(item) for item in items]
    dim = 0
    result: list[Any] = []
    for item, span in zip(items, spans):
        if item is Ellipsis:
            dim += len(shape) - sum(spans)
        if isinstance(item, np.ndarray):
            if item.dtype == bool:
                _check_mask(item, shape, dim)
                refuse("indexing with a boolean mask (the result's shape depends on its values)")
                result.extend(np.nonzero(item))
                dim += span
                continue
            if item.dtype.kind not in "iu":
                raise IndexError(
                    f"getitem: arrays used as indices must be integer or boolean, got "
                    f"{item.dtype} (tensor shape {shape})"
                )
        elif isinstance(item, bool) or not (
            item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice))
        ):
            raise IndexError(
                f"getitem: unsupported index {item!r} of type {type(item).__name__} "
                f"(tensor shape {shape}); use ints, slices, None, ..., or int/bool arrays"
            )
        dim += span
        result.append(item)
    return tuple(result)


def _as_index(item: Any) -> Any:
    """A tensor's array, a list as an array; anything else as it is."""
    if hasattr(item, "_op"):  # a Tensor used as an index
        return item.data
    if isinstance(item, list):
        return np.asarray(item) if item else np.asarray(item, dtype=np.intp)
    return item


def _span(item: Any) -> int:
    """How many dimensions of the tensor an index item (not None, not ...) indexes."""
    return item.ndim if isinstance(item, np.ndarray) and item.dtype == bool else 1


def _check_mask(mask: np.ndarray, shape: tuple[int, ...], dim: int) -> None:
    """A boolean mask indexes ``mask.ndim`` dimensions from ``dim``: it must match them."""
    if mask.ndim == 0:
        raise IndexError(
            f"getitem: a 0-d boolean index is not supported (tensor shape {shape}); use "
            "x[None] for True"
        )
    indexed = shape[dim : dim + mask.ndim]
    if mask.shape != indexed:
        raise IndexError(
            f"getitem: a boolean mask of shape {mask.shape} does not match the dimensions "
            f"it indexes, {indexed} (from dim {dim} of the tensor's shape {shape})"
        )


def check_positions(index: np.ndarray, size: int, opname: str, dim: int) -> None:
    """Refuse positions outside ``[0, size)`` along ``dim`` (PyTorch's gather and
    index_select take no negative ones); in a captured step, at every replay too."""
    computed(_in_range, index, size, opname, dim)


def _in_range(index: np.ndarray, size: int, opname: str, dim: int) -> tuple[()]:
    if index.size and (index.min() < 0 or index.max() >= size):
        raise IndexError(
            f"{opname}: index out of range for dim {dim} of size {size}: got values from "
            f"{index.min()} to {index.max()}"
        )
    return ()


def int_tuple(value: Any, n: int, name: str, where: str, least: int = 1) -> tuple[int, ...]:
    """A size argument of ``n`` dimensions (``stride``, ``kernel_size``...): an int (or
    one int in a sequence, as PyTorch expands it) for all of them, or ``n`` ints, each at
    least ``least``; else an error naming ``where``."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(values) == 1:
        values *= n
    if len(values) != n or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values
    ):
        raise TypeError(f"{where}: {name} must be an int or {n} ints, got {value!r}")
    if any(v < least for v in values):
        raise ValueError(f"{where}: {name} must be at least {least}, got {value!r}")
    return tuple(int(v) for v in values)
