"""Weight initialisers and the random generator they draw from.

Every random number in sg-nn comes from a numpy ``Generator``: the one passed as
``rng=``, or else the module-level default that :func:`manual_seed` resets. So a run
is reproducible bit for bit from its seed.

Each initialiser fills a tensor in place and returns it, as PyTorch's ``nn.init`` does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import sg_tensor
from sg_tensor import Tensor
from sg_tensor.versions import written

__all__ = [
    "calculate_gain", "constant_", "default_generator", "kaiming_normal_", "kaiming_uniform_",
    "manual_seed", "normal_", "ones_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]  # fmt: skip


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the default generator to ``seed`` (and return it): sg-tensor's, which
    ``randn``/``rand`` and every random draw of sg-nn use without ``rng=``."""
    return sg_tensor.manual_seed(seed)


def default_generator() -> np.random.Generator:
    """The generator used when no ``rng`` is given (sg-tensor's default generator)."""
    return sg_tensor.default_generator()


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return _fans(tensor)[0 if mode == "fan_in" else 1]


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return sg_tensor.default_generator() if rng is None else rng


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """``tensor``'s values replaced in place (a graph that read them refuses its backward)."""
    tensor.data[...] = values  # cast to the tensor's dtype, as astype() casts
    if isinstance(tensor, Tensor):
        written(tensor)
    return tensor


def _fans(tensor: Tensor) -> tuple[int, int]:
    """fan_in and fan_out of a weight laid out as PyTorch's: ``(out, in, *kernel)``."""
    if tensor.ndim < 2:
        raise ValueError(
            "fan in and fan out need a tensor with at least 2 dimensions, "
            f"got shape {tensor.shape}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended scale for a nonlinearity (PyTorch's table)."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, rng: Any = None) -> Tensor:
    """Fill with samples from U(a, b)."""
    return _fill(tensor, _rng(rng).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, rng: Any = None) -> Tensor:
    """Fill with samples from N(mean, std**2)."""
    return _fill(tensor, _rng(rng).normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with ``value``."""
    return _fill(tensor, value)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return constant_(tensor, 1.0)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: Any = None,
) -> Tensor:
    """He initialisation: U(-bound, bound) with bound = gain * sqrt(3 / fan).

    The variance ``gain**2 / fan`` keeps activations at a steady scale through layers
    of the given nonlinearity. ``Linear`` uses ``a = sqrt(5)``, PyTorch's default.
    """
    fan = _fan(tensor, mode)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: Any = None,
) -> Tensor:
    """He initialisation: N(0, std**2) with std = gain / sqrt(fan)."""
    fan = _fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), rng)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    """Glorot initialisation: U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    """Glorot initialisation: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)
