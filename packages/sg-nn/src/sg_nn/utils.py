"""Gradient clipping and flat parameter vectors (``torch.nn.utils`` is ``sg_nn.utils``).

A parameter is an sg ``Tensor`` (usually an :class:`sg_nn.Parameter`); its ``.grad`` is
a numpy array, or ``None`` before a backward pass reaches it. The clipping functions
skip parameters without a gradient and change the gradients in place (the same array
objects), as PyTorch's do.

>>> import numpy as np
>>> from sg_nn import Parameter
>>> w = Parameter([3.0, 4.0])
>>> w.grad = np.array([3.0, 4.0])
>>> float(clip_grad_norm_([w], max_norm=1.0))  # the norm before clipping
5.0
>>> np.round(w.grad, 6)
array([0.6, 0.8])
"""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

import sg_tensor as st
from sg_tensor import Tensor
from sg_tensor.capturing import replayed

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "parameters_to_vector",
    "vector_to_parameters",
]


def _parameter_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    """One tensor or an iterable of them, as a list (a generator is read once)."""
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _gradients(parameters: list[Tensor], function: str) -> list[np.ndarray]:
    """The gradient arrays of the parameters that have one, to be changed in place."""
    grads = []
    for p in parameters:
        g = p.grad
        if g is None:
            continue
        if isinstance(g, Tensor):  # a gradient kept as a graph node (create_graph=True)
            g = g.data
        if not isinstance(g, np.ndarray):
            raise TypeError(
                f"{function}: a gradient must be a numpy array to be changed in place, "
                f"got {type(g).__name__}"
            )
        grads.append(g)
    return grads


def _vector_norm(x: np.ndarray, p: float) -> np.ndarray:
    """The p-norm of all the entries of ``x``, as a 0-d array of ``x``'s dtype (as
    ``torch.linalg.vector_norm``)."""
    a = np.abs(x).ravel()
    value: Any
    if a.size == 0:
        value = 0
    elif p == math.inf:
        value = a.max()
    elif p == -math.inf:
        value = a.min()
    elif p == 0:  # the number of non-zero entries
        value = np.count_nonzero(a)
    elif p == 1:
        value = a.sum()
    elif p == 2:
        value = np.sqrt(np.sum(a * a))
    else:
        value = np.sum(a**p) ** (1 / p)
    return np.asarray(value, dtype=a.dtype)


@replayed
def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale the gradients so that their total norm is at most ``max_norm``.

    The total norm is the ``norm_type``-norm of all the gradients joined into one
    vector (``float("inf")`` for the largest absolute entry). Each gradient is
    multiplied in place by ``min(max_norm / (total_norm + 1e-6), 1)``. Returns the total
    norm before clipping, as a 0-d Tensor. With ``error_if_nonfinite=True`` a NaN or
    infinite total norm raises ``RuntimeError`` and no gradient is changed.
    """
    if isinstance(parameters, types.GeneratorType):
        params = list(parameters)
        if not params:
            warnings.warn(
                "clip_grad_norm_: `parameters` is an empty generator, no gradient clipping "
                "will occur",
                stacklevel=2,
            )
    else:
        params = _parameter_list(parameters)
    grads = _gradients(params, "clip_grad_norm_")
    norm_type = float(norm_type)
    if not grads:
        return Tensor(0.0)
    # The norm of the gradients' norms: the norm of all entries, as if concatenated.
    total_norm = _vector_norm(np.stack([_vector_norm(g, norm_type) for g in grads]), norm_type)
    if error_if_nonfinite and not np.isfinite(total_norm):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{total_norm}, so they cannot be clipped; pass error_if_nonfinite=False to scale "
            "them by it anyway"
        )
    dtype = total_norm.dtype.type  # computed in the gradients' dtype, as PyTorch
    clip_coef = dtype(max_norm) / (total_norm + dtype(1e-6))
    clip_coef_clamped = np.minimum(clip_coef, dtype(1.0))
    with np.errstate(invalid="ignore"):  # an infinite norm: inf * 0 is NaN, as in PyTorch
        for g in grads:
            g *= clip_coef_clamped
    return Tensor(np.asarray(total_norm))


@replayed
def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient entry, in place, into ``[-clip_value, clip_value]``."""
    clip_value = float(clip_value)
    for g in _gradients(_parameter_list(parameters), "clip_grad_value_"):
        np.maximum(g, -clip_value, out=g)
        np.minimum(g, clip_value, out=g)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All the parameters flattened and joined into one 1-D Tensor (a copy; it is part
    of the graph, so gradients flow back to the parameters)."""
    params = list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"parameters_to_vector: parameter {i} is a {type(p).__name__}, not a Tensor"
            )
    return st.concatenate([p.reshape(-1) for p in params])


@replayed  # a captured step writes each replay's vec
def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters' data, in place.

    ``vec`` must have exactly as many elements as the parameters together; if it does
    not, a ``ValueError`` names both sizes and no parameter is changed.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected an sg Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {vec.shape}")
    params = list(parameters)
    total = sum(p.size for p in params)
    if vec.shape[0] != total:
        raise ValueError(
            f"vector_to_parameters: vec has {vec.shape[0]} elements but the parameters "
            f"have {total}"
        )
    for i, p in enumerate(params):
        if not p.data.flags.writeable:
            raise ValueError(f"vector_to_parameters: parameter {i}'s data is read-only")
    pointer = 0
    for p in params:
        p.data[...] = vec.data[pointer : pointer + p.size].reshape(p.shape)
        pointer += p.size
