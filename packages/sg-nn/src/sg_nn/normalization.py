"""Batch normalisation layers: ``BatchNorm1d`` and ``BatchNorm2d``, PyTorch's.

In training mode a layer normalises each channel with the batch's statistics and moves
its running statistics (buffers, saved in checkpoints) towards them; in evaluation mode
it normalises with the running statistics. The gradient rule is
:func:`sg_tensor.batch_norm`'s, declared and verified in sg-tensor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import sg_tensor as st
from sg_nn.module import Module, Parameter
from sg_tensor import Tensor
from sg_tensor.capturing import replayed
from sg_tensor.normalization import update_running_stats

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    """What the batch-norm layers share (``ranks``: the input ranks each accepts)."""

    weight: Parameter | None
    bias: Parameter | None
    running_mean: Any
    running_var: Any
    num_batches_tracked: Any
    ranks: tuple[int, ...] = ()
    _optional_state = ("num_batches_tracked",)

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
        affine: bool = True, track_running_stats: bool = True, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        where = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"{where}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and (
            isinstance(momentum, bool) or not isinstance(momentum, (int, float))
        ):
            raise TypeError(f"{where}: momentum must be a number or None, got {momentum!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = st.get_default_dtype() if dtype is None else dtype
        self.weight = self.bias = None
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batch tracked."""
        if self.track_running_stats:
            self.running_mean[...] = 0.0
            self.running_var[...] = 1.0
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        """The running statistics reset, the weight ones and the bias zeros."""
        self.reset_running_stats()
        if self.affine:
            assert self.weight is not None
            assert self.bias is not None
            self.weight.data[...] = 1.0
            self.bias.data[...] = 0.0

    def forward(self, x: Any) -> Tensor:
        """Normalise with the batch's statistics (training, updating the running ones) or
        the running ones (evaluation), then scale and shift."""
        t = st.as_tensor(x)
        if t.ndim not in self.ranks:
            wanted = " or ".join(f"{r}D" for r in self.ranks)
            raise ValueError(f"{type(self).__name__}: expected {wanted} input (got {t.ndim}D "
                             f"input of shape {t.shape})")  # fmt: skip
        if t.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels "
                             f"(dimension 1), got input of shape {t.shape}")  # fmt: skip
        update = self.training and self.track_running_stats
        use_batch = self.training or self.running_mean is None
        out = st.batch_norm(t, self.weight, self.bias,
                            None if self.training else self.running_mean,
                            None if self.training else self.running_var,
                            use_batch, 0.0, self.eps)  # fmt: skip
        if update:  # once the batch went through: a failed call changes nothing
            self._track(t)
        return out

    @replayed  # a captured training step counts and moves the statistics at every replay
    def _track(self, batch: Tensor) -> None:
        """Count the batch and move the running statistics towards its own."""
        tracked = self.num_batches_tracked + 1
        factor = self.momentum if self.momentum is not None else 1.0 / float(tracked)
        update_running_stats(self.running_mean, self.running_var, batch, factor)
        self.num_batches_tracked = np.asarray(tracked, dtype=np.int64)

    def extra_repr(self) -> str:
        """PyTorch's: ``16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True``."""
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, over the batch (and length)."""

    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel over the batch and pixels."""

    ranks = (4,)
