"""Ways to make tensors: from data, filled, ranges, identity, and random numbers.

Floating tensors get the default dtype (float64 unless :func:`~sg_tensor.dtypes.
set_default_dtype` says otherwise). Random factories draw from ``rng=`` (a numpy
``Generator`` or a seed), or else from the default generator :func:`~sg_tensor.seeding.
manual_seed` resets, so every run can be reproduced bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sg_tensor.arguments import shape_arg as _shape_arg
from sg_tensor.capturing import computed
from sg_tensor.dtypes import get_default_dtype
from sg_tensor.seeding import default_generator
from sg_tensor.tensor import Tensor

__all__ = [
    "arange", "eye", "from_numpy", "full", "ones", "ones_like", "rand", "randn", "tensor",
    "zeros", "zeros_like",
]  # fmt: skip


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new tensor holding a copy of ``data``."""
    source = data.data if isinstance(data, Tensor) else data
    array = computed(np.array, source, dtype=dtype)  # a captured step copies each replay's
    if dtype is None and not isinstance(source, np.ndarray) and array.dtype == np.float64:
        array = array.astype(get_default_dtype(), copy=False)  # Python floats
    return Tensor(array, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory and dtype (writes to one show in the other)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy array, got {type(array).__name__}")
    return Tensor(array)


def _floating(dtype: Any) -> Any:
    return get_default_dtype() if dtype is None else dtype


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    values = np.zeros(_shape_arg(shape, "zeros"), dtype=_floating(dtype))
    return Tensor(values, requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    values = np.ones(_shape_arg(shape, "ones"), dtype=_floating(dtype))
    return Tensor(values, requires_grad=requires_grad)


def full(shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``; without ``dtype``, of the fill value's kind, as
    PyTorch: a bool gives bool, an int int64, a float the default dtype."""
    if dtype is None:
        dtype = _kind_of(fill_value)
    values = np.full(_shape_arg((shape,), "full"), fill_value, dtype=dtype)
    return Tensor(values, requires_grad=requires_grad)


def _kind_of(value: Any) -> Any:
    """The dtype PyTorch infers for a Python (or numpy) number."""
    if isinstance(value, (bool, np.bool_)):
        return np.bool_
    if isinstance(value, (int, np.integer)):
        return np.int64
    return get_default_dtype()


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and, by default, the dtype) of ``t``."""
    like = t.data if isinstance(t, Tensor) else np.asarray(t)
    return Tensor(np.zeros_like(like, dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and, by default, the dtype) of ``t``."""
    like = t.data if isinstance(t, Tensor) else np.asarray(t)
    return Tensor(np.ones_like(like, dtype=dtype), requires_grad=requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values in ``[start, stop)``, as ``np.arange``; bounds on the wrong
    side of each other for the step's sign are an error, as in PyTorch."""
    begin, end = (0, start) if stop is None else (start, stop)
    if step == 0:
        raise ValueError(f"arange: step must be nonzero (start {begin}, end {end})")
    if (end - begin) * step < 0:
        raise ValueError(
            f"arange: the bounds are inconsistent with the step's sign: start {begin}, end "
            f"{end}, step {step} (no value lies between them)"
        )
    # A narrower float is computed in float64 and rounded once, as PyTorch does (numpy
    # steps in float32 and drifts: its 0.1 * 9 is 0.90000004 where PyTorch's is 0.9).
    narrow = dtype is not None and np.dtype(dtype).kind == "f" and np.dtype(dtype).itemsize < 8
    wide = np.float64 if narrow else dtype
    values = (
        np.arange(start, step=step, dtype=wide)
        if stop is None
        else np.arange(start, stop, step, dtype=wide)
    )
    if narrow:
        values = values.astype(dtype)
    elif dtype is None and values.dtype == np.float64:  # float bounds: the default dtype
        values = values.astype(get_default_dtype(), copy=False)
    return Tensor(values)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The ``n x m`` identity matrix."""
    return Tensor(np.eye(n, m, dtype=_floating(dtype)), requires_grad=requires_grad)


def _generator(rng: Any) -> np.random.Generator:
    if rng is None:
        return default_generator()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy Generator or an int seed, got {type(rng).__name__}")


def rand(*shape: Any, rng: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in ``[0, 1)`` drawn from ``rng`` (a numpy Generator or a seed; by
    default the generator :func:`~sg_tensor.manual_seed` resets)."""
    values = _generator(rng).random(
        _shape_arg(shape, "rand"), dtype=np.dtype(_floating(dtype)).type
    )
    return Tensor(values, requires_grad=requires_grad)


def randn(*shape: Any, rng: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples drawn from ``rng`` (a numpy Generator or a seed; by default
    the generator :func:`~sg_tensor.manual_seed` resets)."""
    values = _generator(rng).standard_normal(
        _shape_arg(shape, "randn"), dtype=np.dtype(_floating(dtype)).type
    )
    return Tensor(values, requires_grad=requires_grad)
