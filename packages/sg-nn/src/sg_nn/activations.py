"""Activation modules, as ``torch.nn``'s: ``ReLU``, ``ReLU6``, ``LeakyReLU``, ``PReLU``,
``ELU``, ``SELU``, ``CELU``, ``SiLU``, ``Mish``, ``GELU``, ``Tanh``, ``Sigmoid``,
``LogSigmoid``, ``Softplus``, ``Softsign``, ``Tanhshrink``, ``Hardtanh``, ``Hardsigmoid``,
``Hardswish``, ``Hardshrink``, ``Softshrink``, ``Threshold``, ``GLU``, ``Softmax``,
``Softmin`` and ``LogSoftmax``.

Each is its function of :mod:`sg_nn.functional` with the settings stored on the module,
so it has no gradient rule of its own; only ``PReLU`` has a parameter (its slopes).
PyTorch's ``inplace=`` argument is accepted (``ReLU(inplace=True)``) and stored, but sg
computes out of place: the values and gradients are the same and the input is not
modified.

>>> import numpy as np
>>> from sg_nn import LeakyReLU
>>> LeakyReLU(0.1)(np.array([-1.0, 2.0]))
Tensor([-0.1,  2. ])
"""

from __future__ import annotations

from typing import Any

import numpy as np

import sg_tensor as st
from sg_nn import activation_functions as F
from sg_nn.module import Module, Parameter
from sg_tensor import Tensor

__all__ = [
    "CELU", "ELU", "GELU", "GLU", "SELU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh",
    "LeakyReLU", "LogSigmoid", "LogSoftmax", "Mish", "PReLU", "ReLU", "ReLU6", "SiLU",
    "Sigmoid", "Softmax", "Softmin", "Softplus", "Softshrink", "Softsign", "Tanh",
    "Tanhshrink", "Threshold",
]  # fmt: skip


def _inplace(inplace: bool, first: bool = False) -> str:
    """PyTorch's ``extra_repr`` note of ``inplace=True`` (nothing when false)."""
    if not inplace:
        return ""
    return "inplace=True" if first else ", inplace=True"


class ReLU(Module):
    """``max(x, 0)``; ``inplace`` is accepted and changes nothing (sg computes out of place)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        """``max(x, 0)`` elementwise (derivative 0 at 0)."""
        return F.relu(x)

    def extra_repr(self) -> str:
        """``inplace=True`` if it was asked for, else nothing."""
        return _inplace(self.inplace, first=True)


class ReLU6(Module):
    """``min(max(x, 0), 6)`` (slope 0 at both kinks); ``inplace`` changes nothing."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.relu6` elementwise."""
        return F.relu6(x)

    def extra_repr(self) -> str:
        """``inplace=True`` if it was asked for, else nothing."""
        return _inplace(self.inplace, first=True)


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
    """``x`` where positive, else ``negative_slope * x``; ``inplace`` changes nothing."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.leaky_relu` with this module's ``negative_slope``."""
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        """The slope for negative inputs: ``negative_slope=0.01``."""
        return f"negative_slope={self.negative_slope}" + _inplace(self.inplace)


class PReLU(Module):
    """``x`` where positive, else ``weight * x``, with learnable slopes ``weight``.

    ``num_parameters=1`` learns one slope for all inputs; ``num_parameters=C`` one per
    channel (dimension 1 of the input). The slopes start at ``init``, as PyTorch's. The
    gradients come from sg-tensor's ``where`` and ``*``: no rule of its own. As in
    PyTorch, ``num_parameters`` is the number of slopes (an int attribute, which on a
    PReLU hides sg's ``Module.num_parameters()`` method).

    >>> import numpy as np
    >>> PReLU()(np.array([-2.0, 3.0])).data
    array([-0.5,  3. ])
    """

    weight: Parameter

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None) -> None:
        super().__init__()
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be positive, got {num_parameters}")
        # PyTorch's attribute: on a PReLU it hides Module.num_parameters() (count its
        # scalars with weight.size, or num_parameters() of the model holding it).
        self.num_parameters = num_parameters  # type: ignore[method-assign,assignment]
        dtype = st.get_default_dtype() if dtype is None else dtype
        self.weight = Parameter(np.full(num_parameters, init, dtype=dtype))

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.prelu` with this module's ``weight``."""
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        """The number of slopes: ``num_parameters=1``."""
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """Exponential linear unit: ``x`` where positive, else ``alpha (e**x - 1)``;
    ``inplace`` changes nothing."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.elu` with this module's ``alpha``."""
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        """The scale of the negative part: ``alpha=1.0``."""
        return f"alpha={self.alpha}" + _inplace(self.inplace)


class SELU(Module):
    """Scaled ELU with its fixed constants; ``inplace`` changes nothing."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.selu` elementwise."""
        return F.selu(x)

    def extra_repr(self) -> str:
        """``inplace=True`` if it was asked for, else nothing."""
        return _inplace(self.inplace, first=True)


class CELU(Module):
    """``x`` where positive, else ``alpha (e**(x / alpha) - 1)``; ``inplace`` changes
    nothing."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.celu` with this module's ``alpha``."""
        return F.celu(x, self.alpha)

    def extra_repr(self) -> str:
        """The scale of the negative part: ``alpha=1.0``."""
        return f"alpha={self.alpha}" + _inplace(self.inplace)


class SiLU(Module):
    """``x * sigmoid(x)`` (swish); ``inplace`` changes nothing."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.silu` elementwise."""
        return F.silu(x)

    def extra_repr(self) -> str:
        """``inplace=True`` if it was asked for, else nothing."""
        return _inplace(self.inplace, first=True)


class Mish(Module):
    """``x * tanh(softplus(x))``; ``inplace`` changes nothing."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.mish` elementwise."""
        return F.mish(x)

    def extra_repr(self) -> str:
        """``inplace=True`` if it was asked for, else nothing."""
        return _inplace(self.inplace, first=True)


class Softplus(Module):
    """``log(1 + e**(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.softplus` with this module's ``beta`` and ``threshold``."""
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        """The settings: ``beta=1.0, threshold=20.0``."""
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """``x`` clamped to ``[min_val, max_val]`` (slope 0 on the kinks); ``inplace`` changes
    nothing. As PyTorch, ``max_val`` must exceed ``min_val``."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if not max_val > min_val:
            raise ValueError(
                f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})"
            )
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.hardtanh` with this module's bounds."""
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        """The bounds: ``min_val=-1.0, max_val=1.0``."""
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace(self.inplace)


class Hardsigmoid(Module):
    """``relu6(x + 3) / 6``; ``inplace`` changes nothing."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.hardsigmoid` elementwise."""
        return F.hardsigmoid(x)


class Hardswish(Module):
    """``x * relu6(x + 3) / 6``; ``inplace`` changes nothing."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.hardswish` elementwise."""
        return F.hardswish(x)


class Hardshrink(Module):
    """``x`` where ``|x| > lambd``, else 0."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.hardshrink` with this module's ``lambd``."""
        return F.hardshrink(x, self.lambd)

    def extra_repr(self) -> str:
        """The threshold: ``0.5``."""
        return f"{self.lambd}"


class Softshrink(Module):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.softshrink` with this module's ``lambd``."""
        return F.softshrink(x, self.lambd)

    def extra_repr(self) -> str:
        """The threshold: ``0.5``."""
        return f"{self.lambd}"


class Threshold(Module):
    """``x`` where ``x > threshold``, else ``value``; ``inplace`` changes nothing."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.threshold` with this module's settings."""
        return F.threshold(x, self.threshold, self.value)

    def extra_repr(self) -> str:
        """The settings: ``threshold=0.1, value=20.0``."""
        return f"threshold={self.threshold}, value={self.value}" + _inplace(self.inplace)


class LogSigmoid(Module):
    """``log(sigmoid(x))``, computed stably."""

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.logsigmoid` elementwise."""
        return F.logsigmoid(x)


class Softsign(Module):
    """``x / (1 + |x|)``."""

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.softsign` elementwise."""
        return F.softsign(x)


class Tanhshrink(Module):
    """``x - tanh(x)``."""

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.tanhshrink` elementwise."""
        return F.tanhshrink(x)


class GLU(Module):
    """Gated linear unit along ``dim``: ``a * sigmoid(b)`` of the two halves."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.glu` along this module's ``dim``."""
        return F.glu(x, self.dim)

    def extra_repr(self) -> str:
        """The axis: ``dim=-1``."""
        return f"dim={self.dim}"


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


class Softmin(Module):
    """``softmax(-x)`` along ``dim``; ``dim=None`` as :class:`Softmax`."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        """:func:`sg_nn.functional.softmin` along this module's ``dim``."""
        return F.softmin(x, self.dim)

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
