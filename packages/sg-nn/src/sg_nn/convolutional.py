"""Convolution and pooling layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``,
``ConvTranspose2d``, ``MaxPool1d``, ``MaxPool2d``, ``AvgPool1d``, ``AvgPool2d``,
``AdaptiveAvgPool2d``.

Each holds PyTorch's settings and parameters and calls the sg-tensor operator of the
same name (:mod:`sg_tensor.convolution`, :mod:`sg_tensor.pooling`), where the gradient
rules are declared and verified.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import sg_tensor as st
from sg_nn import init
from sg_nn.module import Module, Parameter
from sg_tensor import Tensor
from sg_tensor.arguments import int_tuple

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "Conv1d", "Conv2d", "ConvTranspose1d",
    "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
]  # fmt: skip


PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
"""PyTorch's ``padding_mode`` of the convolution layers (the transposed ones: zeros only)."""


class _ConvNd(Module):
    """What the convolution layers share: the checks, the parameters and PyTorch's
    initialisation (``kaiming_uniform_(a=sqrt(5))`` for the weight, the bias from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in from the weight's layout)."""

    weight: Parameter
    bias: Parameter | None
    padding: Any  # ints, or "same" / "valid"
    transposed = False
    spatial = 2

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any, padding: Any,
        dilation: Any, groups: int, bias: bool, padding_mode: str, rng: Any, dtype: Any,
        output_padding: Any = 0,
    ) -> None:  # fmt: skip
        super().__init__()
        where, n = type(self).__name__, self.spatial
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("groups", groups)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{where}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                f"must be divisible by groups ({groups})"
            )
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{where}: padding_mode must be one of {PADDING_MODES}, got "
                             f"{padding_mode!r}")  # fmt: skip
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f'{where}: only "zeros" padding mode is supported, got '
                             f"{padding_mode!r}")  # fmt: skip
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = int_tuple(kernel_size, n, "kernel_size", where)
        self.stride = int_tuple(stride, n, "stride", where)
        if isinstance(padding, str):
            allowed = () if self.transposed else ("same", "valid")
            if padding not in allowed:
                forms = "ints" + "".join(f" or {a!r}" for a in allowed)
                raise ValueError(f"{where}: padding must be {forms}, got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{where}: padding='same' is not supported for strided "
                                 f"convolutions (stride {self.stride})")  # fmt: skip
        self.padding = (
            padding if isinstance(padding, str) else int_tuple(padding, n, "padding", where, 0)
        )
        self.dilation = int_tuple(dilation, n, "dilation", where)
        self.output_padding = int_tuple(output_padding, n, "output_padding", where, 0)
        self.padding_mode = padding_mode
        if self.transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        dtype = st.get_default_dtype() if dtype is None else dtype
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        self.bias = None
        if bias:
            fan_in = shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in)
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def _padded(self, x: Tensor) -> tuple[Tensor, Any]:
        """``x`` and the padding to convolve it with: as given for ``"zeros"``, else ``x``
        padded by :func:`sg_nn.functional.pad` in the layer's mode and no more padding,
        as PyTorch does (``"same"``: the extra element after, as its zeros)."""
        if self.padding_mode == "zeros" or self.padding == "valid":
            return x, self.padding
        from sg_nn.functional import pad

        if self.padding == "same":
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            pairs = [(total // 2, total - total // 2) for total in totals]
        else:
            pairs = [(p, p) for p in self.padding]
        widths = [w for before_after in reversed(pairs) for w in before_after]
        return pad(x, widths, mode=self.padding_mode), (0,) * self.spatial

    def _check(self, x: Tensor) -> None:
        if x.ndim not in (self.spatial + 1, self.spatial + 2) or x.shape[-self.spatial - 1] != (
            self.in_channels
        ):
            raise ValueError(
                f"{type(self).__name__}: expected an input (N, {self.in_channels}, ...) with "
                f"{self.spatial} spatial dimensions (or unbatched), got shape {x.shape}"
            )

    def extra_repr(self) -> str:
        """PyTorch's: ``1, 8, kernel_size=(3, 3), stride=(1, 1)`` and what differs from the
        defaults."""
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")  # fmt: skip
        zeros = (0,) * self.spatial
        if self.padding != zeros:
            text += f", padding={self.padding!r}"
        if self.dilation != (1,) * self.spatial:
            text += f", dilation={self.dilation}"
        if self.output_padding != zeros:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv2d(_ConvNd):
    """A 2-D convolution layer, PyTorch's ``nn.Conv2d``: ``weight`` (out_channels,
    in_channels / groups, kh, kw), ``bias`` (out_channels,); inputs (N, C, H, W) or
    (C, H, W). ``padding`` is an int, a pair, ``"valid"`` or ``"same"``."""

    convolve = staticmethod(st.conv2d)

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
        padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
        padding_mode: str = "zeros", rng: np.random.Generator | None = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, rng, dtype)  # fmt: skip

    def forward(self, x: Any) -> Tensor:
        """The convolution of ``x`` with the layer's kernels, plus its bias."""
        t = st.as_tensor(x)
        self._check(t)
        t, padding = self._padded(t)
        out: Tensor = self.convolve(t, self.weight, self.bias, self.stride, padding,
                                    self.dilation, self.groups)  # fmt: skip
        return out


class Conv1d(Conv2d):
    """A 1-D convolution layer, PyTorch's ``nn.Conv1d``: ``weight`` (out_channels,
    in_channels / groups, k); inputs (N, C, L) or (C, L)."""

    spatial = 1
    convolve = staticmethod(st.conv1d)


class ConvTranspose2d(_ConvNd):
    """A transposed 2-D convolution layer, PyTorch's ``nn.ConvTranspose2d``: ``weight``
    (in_channels, out_channels / groups, kh, kw). ``forward(x, output_size)`` may ask for
    one of the output sizes the stride allows (it sets the output padding)."""

    transposed = True
    transpose = staticmethod(st.conv_transpose2d)

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
        padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
        dilation: Any = 1, padding_mode: str = "zeros", rng: np.random.Generator | None = None,
        dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, rng, dtype, output_padding)  # fmt: skip

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        given = tuple(output_size)
        leading = x.ndim - self.spatial  # batch and channels, or channels (unbatched)
        if len(given) not in (self.spatial, self.spatial + leading):
            raise ValueError(f"{type(self).__name__}: output_size must have {self.spatial} or "
                             f"{self.spatial + leading} elements for an input of shape "
                             f"{x.shape}, got {given}")  # fmt: skip
        sizes = given[-self.spatial :]
        extra = []
        for i, wanted in enumerate(sizes):
            smallest = ((x.shape[-self.spatial + i] - 1) * self.stride[i] - 2 * self.padding[i]
                        + self.dilation[i] * (self.kernel_size[i] - 1) + 1)  # fmt: skip
            if not smallest <= wanted < smallest + self.stride[i]:
                raise ValueError(f"{type(self).__name__}: output_size {tuple(output_size)} is "
                                 f"not reachable: along dimension {i} the sizes are "
                                 f"{smallest} to {smallest + self.stride[i] - 1}")  # fmt: skip
            extra.append(wanted - smallest)
        return tuple(extra)

    def forward(self, x: Any, output_size: Any = None) -> Tensor:
        """The transposed convolution of ``x``, plus the bias."""
        t = st.as_tensor(x)
        self._check(t)
        extra = self._output_padding(t, output_size)
        out: Tensor = self.transpose(t, self.weight, self.bias, self.stride, self.padding,
                                     extra, self.groups, self.dilation)  # fmt: skip
        return out


class ConvTranspose1d(ConvTranspose2d):
    """A transposed 1-D convolution layer, PyTorch's ``nn.ConvTranspose1d``."""

    spatial = 1
    transpose = staticmethod(st.conv_transpose1d)


# ---------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------
class MaxPool2d(Module):
    """The maximum of each window, PyTorch's ``nn.MaxPool2d`` (``stride`` defaults to the
    kernel size); the gradient goes to each window's first maximum."""

    def __init__(
        self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
        return_indices: bool = False, ceil_mode: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.kernel_size, self.padding, self.dilation = kernel_size, padding, dilation
        self.stride = kernel_size if stride is None else stride
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Any) -> Any:
        """The pooled input (and the indices, with ``return_indices``)."""
        return st.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                             self.ceil_mode, self.return_indices)  # fmt: skip

    def extra_repr(self) -> str:
        """PyTorch's: ``kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False``."""
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
                f", dilation={self.dilation}, ceil_mode={self.ceil_mode}")  # fmt: skip


class MaxPool1d(MaxPool2d):
    """The maximum of each window along the last axis, PyTorch's ``nn.MaxPool1d``."""

    def forward(self, x: Any) -> Any:
        """The pooled input (and the indices, with ``return_indices``)."""
        return st.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                             self.ceil_mode, self.return_indices)  # fmt: skip


class AvgPool2d(Module):
    """The mean of each window, PyTorch's ``nn.AvgPool2d`` (``stride`` defaults to the
    kernel size)."""

    def __init__(
        self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
        count_include_pad: bool = True, divisor_override: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Any) -> Tensor:
        """The pooled input."""
        return st.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)  # fmt: skip

    def extra_repr(self) -> str:
        """PyTorch's: ``kernel_size=2, stride=2, padding=0``."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(AvgPool2d):
    """The mean of each window along the last axis, PyTorch's ``nn.AvgPool1d``."""

    def __init__(
        self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:  # fmt: skip
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)

    def forward(self, x: Any) -> Tensor:
        """The pooled input."""
        return st.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad)  # fmt: skip


class AdaptiveAvgPool2d(Module):
    """The mean over windows that tile the input into ``output_size``, PyTorch's
    ``nn.AdaptiveAvgPool2d`` (``AdaptiveAvgPool2d(1)`` is global average pooling)."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        """The pooled input."""
        return st.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        """PyTorch's: ``output_size=1``."""
        return f"output_size={self.output_size}"
