"""Ways to make tensors: from data, filled, ranges, identity, and random numbers.

Random factories take an explicit numpy ``Generator`` so that every run can be
reproduced bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sg_tensor.arguments import shape_arg as _shape_arg
from sg_tensor.tensor import Tensor

__all__ = [
    "arange", "eye", "full", "ones", "ones_like", "rand", "randn", "tensor", "zeros",
    "zeros_like",
]  # fmt: skip

DEFAULT_DTYPE = np.float64


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new tensor holding a copy of ``data``."""
    source = data.data if isinstance(data, Tensor) else data
    return Tensor(np.array(source, dtype=dtype), requires_grad=requires_grad)


def zeros(*shape: Any, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    return Tensor(np.zeros(_shape_arg(shape, "zeros"), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_shape_arg(shape, "ones"), dtype=dtype), requires_grad=requires_grad)


def full(
    shape: Any, fill_value: float, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False
) -> Tensor:
    """A tensor filled with ``fill_value``."""
    return Tensor(
        np.full(_shape_arg((shape,), "full"), fill_value, dtype=dtype), requires_grad=requires_grad
    )


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and, by default, the dtype) of ``t``."""
    like = t.data if isinstance(t, Tensor) else np.asarray(t)
    return Tensor(np.zeros_like(like, dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and, by default, the dtype) of ``t``."""
    like = t.data if isinstance(t, Tensor) else np.asarray(t)
    return Tensor(np.ones_like(like, dtype=dtype), requires_grad=requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values in ``[start, stop)``, as ``np.arange``."""
    values = (
        np.arange(start, step=step, dtype=dtype)
        if stop is None
        else np.arange(start, stop, step, dtype=dtype)
    )
    return Tensor(values)


def eye(
    n: int, m: int | None = None, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False
) -> Tensor:
    """The ``n x m`` identity matrix."""
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def _generator(rng: Any) -> np.random.Generator:
    if rng is None:
        raise TypeError(
            "pass a numpy Generator, e.g. rng=np.random.default_rng(0), so runs are reproducible"
        )
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy Generator or an int seed, got {type(rng).__name__}")


def rand(*shape: Any, rng: Any, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """Uniform samples in ``[0, 1)`` drawn from ``rng`` (a numpy Generator or a seed)."""
    values = _generator(rng).random(_shape_arg(shape, "rand"), dtype=np.dtype(dtype).type)
    return Tensor(values, requires_grad=requires_grad)


def randn(
    *shape: Any, rng: Any, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False
) -> Tensor:
    """Standard normal samples drawn from ``rng`` (a numpy Generator or a seed)."""
    values = _generator(rng).standard_normal(
        _shape_arg(shape, "randn"), dtype=np.dtype(dtype).type
    )
    return Tensor(values, requires_grad=requires_grad)
