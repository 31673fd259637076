"""Activation modules: ``ReLU``, ``LeakyReLU``, ``ELU``, ``SiLU``, ``GELU``, ``Tanh``,
``Sigmoid``, ``Softmax`` and ``LogSoftmax``.

Each is its function of :mod:`sg_nn.functional` with the settings stored on the module,
so it has no parameters and no gradient rule of its own.

>>> import numpy as np
>>> from sg_nn import LeakyReLU
>>> LeakyReLU(0.1)(np.array([-1.0, 2.0]))
Tensor([-0.1,  2. ])
"""

from __future__ import annotations

from typing import Any

from sg_nn import activation_functions as F
from sg_nn.module import Module
from sg_tensor import Tensor

__all__ = [
    "ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "SiLU", "Sigmoid", "Softmax", "Tanh",
]  # fmt: skip


class ReLU(Module):
    """``max(x, 0)``."""

    def forward(self, x: Any) -> Tensor:
        """``max(x, 0)`` elementwise (derivative 0 at 0)."""
        return F.relu(x)


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x: Any) -> Tensor:
        """``tanh(x)`` elementwise."""
        return F.tanh(x)


class Sigmoid(Module):
    """Logistic sigmoid."""

    def forward(self, x: Any) -> Tensor:
        """``1 / (1 + e**-x)`` elementwise."""
        return F.sigmoid(x)


class GELU(Module):
    """Gaussian error linear unit (``approximate="tanh"`` for the tanh form)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        """``x * Phi(x)`` elementwise, ``Phi`` the standard normal cdf; with ``approximate="tanh"``
        ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``."""
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        """The form used: ``approximate='none'`` or ``approximate='tanh'``."""
        return f"approximate={self.approximate!r}"


class LeakyReLU(Module):
    """``x`` where positive, else ``negative_slope * x``."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.leaky_relu` with this module's ``negative_slope``."""
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        """The slope for negative inputs: ``negative_slope=0.01``."""
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """Exponential linear unit: ``x`` where positive, else ``alpha (e**x - 1)``."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.elu` with this module's ``alpha``."""
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        """The scale of the negative part: ``alpha=1.0``."""
        return f"alpha={self.alpha}"


class SiLU(Module):
    """``x * sigmoid(x)`` (swish)."""

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.silu` elementwise."""
        return F.silu(x)


class Softmax(Module):
    """Softmax along ``dim``: non-negative values that sum to 1 along it.

    As in PyTorch, ``dim=None`` takes the deprecated implicit choice (axis 0 for inputs of
    0, 1 or 3 dimensions, else axis 1) and warns on every call: give ``dim``.
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.softmax` along this module's ``dim``."""
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        """The axis: ``dim=1``."""
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``log(softmax(x))`` along ``dim``, computed stably; ``dim=None`` as :class:`Softmax`."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.log_softmax` along this module's ``dim``."""
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        """The axis: ``dim=1``."""
        return f"dim={self.dim}"
