"""Shape and indexing operators: ``reshape transpose broadcast_to getitem concatenate pad``.

These move elements without changing them, so each gradient moves the output gradient
back: reshape it, transpose it the other way, sum it over broadcast copies, scatter it
into the indexed places (adding where an index repeats), or cut it into pieces.
``squeeze``, ``unsqueeze``, ``flatten``, ``permute``, ``swapaxes``, ``.T``, ``expand``,
``stack`` and ``split`` are compositions of these and have no rule of their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sg_tensor.op import call, op, unbroadcast

Grads = tuple[Any, ...]
Index = tuple[Any, ...]


@op("reshape", lambda x, *, shape: np.reshape(x, shape))
def reshape(g: Any, out: Any, x: Any, *, shape: tuple[int, ...]) -> Grads:
    """Reshaping moves no element: the gradient takes the input's shape back."""
    return (g.reshape(x.shape),)


@op("transpose", lambda x, *, axes: np.transpose(x, axes))
def transpose(g: Any, out: Any, x: Any, *, axes: tuple[int, ...]) -> Grads:
    """Permuting axes: the gradient is permuted by the inverse permutation."""
    return (g.transpose(tuple(np.argsort(axes).tolist())),)


@op("broadcast_to", lambda x, *, shape: np.broadcast_to(x, shape))
def broadcast_to(g: Any, out: Any, x: Any, *, shape: tuple[int, ...]) -> Grads:
    """Each input element was copied: the copies' gradients are summed (unbroadcast)."""
    return (unbroadcast(g, x.shape),)


def is_basic_index(index: Index) -> bool:
    """Whether an index holds only ints, slices, None and Ellipsis (no arrays).

    Basic indexing selects each element at most once, so the gradient can be written
    with a plain assignment; integer arrays may repeat an element and need adding.
    """
    return not any(isinstance(i, np.ndarray) for i in index)


@op("getitem", lambda x, *, index: x[index])
def getitem(g: Any, out: Any, x: Any, *, index: Index) -> Grads:
    """The gradient goes back to the selected places; repeated indices add up."""
    return (call("scatter", g, shape=x.shape, index=index),)


def _scatter(g: np.ndarray, *, shape: tuple[int, ...], index: Index) -> np.ndarray:
    grad = np.zeros(shape, dtype=g.dtype)
    if is_basic_index(index):
        grad[index] = g
    else:
        np.add.at(grad, index, g)
    return grad


@op("scatter", _scatter)
def scatter(g: Any, out: Any, y: Any, *, shape: tuple[int, ...], index: Index) -> Grads:
    """The adjoint of ``getitem``: zeros of ``shape`` with ``y`` added at ``index``.

    Not a public operator: it is what ``getitem``'s rule computes, made an operator so
    that the rule can run on nodes (second derivatives). Its own gradient reads the
    output gradient back at ``index``, which is ``getitem`` again.
    """
    return (g[index],)


def _concatenate(*xs: np.ndarray, axis: int) -> np.ndarray:
    return np.concatenate(xs, axis=axis)


@op("concatenate", _concatenate)
def concatenate(g: Any, out: Any, *xs: Any, axis: int) -> Grads:
    """Each input gets its own slice of the gradient along ``axis``."""
    grads, start = [], 0
    for x in xs:
        stop = start + x.shape[axis]
        grads.append(g[(slice(None),) * axis + (slice(start, stop),)])
        start = stop
    return tuple(grads)


def _pad(x: np.ndarray, *, pad_width: tuple[tuple[int, int], ...], value: float) -> np.ndarray:
    return np.pad(x, pad_width, mode="constant", constant_values=value)


@op("pad", _pad)
def pad(
    g: Any, out: Any, x: Any, *, pad_width: tuple[tuple[int, int], ...], value: float
) -> Grads:
    """The padding is constant: the gradient is the middle part, where the input sits."""
    return (g[tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))],)
