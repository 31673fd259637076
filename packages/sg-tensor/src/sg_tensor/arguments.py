"""Arguments of the public calls, normalised once, with errors that name the operator.

Every operator's public call passes its axes, shapes and indices through these, so the
rules always receive them in one form: ``axis`` as a sorted tuple of non-negative ints, a
shape as a tuple of ints, an index as a tuple numpy understands.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sg_tensor.capturing import refuse

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
    true elements (numpy's own definition), so one gradient rule covers both.
    """
    items = index if isinstance(index, tuple) else (index,)
    result: list[Any] = []
    for item in items:
        if hasattr(item, "_op"):  # a Tensor used as an index
            item = item.data
        elif isinstance(item, list):
            item = np.asarray(item) if item else np.asarray(item, dtype=np.intp)
        if isinstance(item, np.ndarray):
            if item.dtype == bool:
                refuse("indexing with a boolean mask (the result's shape depends on its values)")
                result.extend(np.nonzero(item))
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
        result.append(item)
    return tuple(result)


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
