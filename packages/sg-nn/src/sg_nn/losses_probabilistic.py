"""Likelihood and divergence losses: ``kl_div``, ``poisson_nll_loss`` and
``gaussian_nll_loss``, as functions and as modules (PyTorch's names and defaults)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

import sg_tensor as st
from sg_nn._checks import check_values
from sg_nn._loss import REDUCTIONS, _Loss, check_reduction, check_same_shape, reduce
from sg_tensor import Tensor

__all__ = [
    "GaussianNLLLoss", "KLDivLoss", "PoissonNLLLoss", "gaussian_nll_loss", "kl_div",
    "poisson_nll_loss",
]  # fmt: skip

KL_REDUCTIONS = REDUCTIONS + ("batchmean",)


def _xlogx(t: Tensor) -> Tensor:
    """``t log t``, and 0 where ``t == 0`` (the limit; PyTorch's ``xlogy(t, t)``)."""
    nonzero = t != 0
    safe = st.where(nonzero, t, 1.0)  # log(0) is never taken, even where not chosen
    return st.where(nonzero, safe * safe.log(), 0.0)


def kl_div(input: Any, target: Any, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence ``target (log target - input)`` of log-probabilities
    ``input`` (with ``log_target``, ``target`` holds log-probabilities too).

    ``reduction="batchmean"`` divides the sum by the batch size (``input.shape[0]``), the
    mathematical KL divergence; ``"mean"`` divides by the number of elements and warns,
    as PyTorch does. Where ``target`` is 0, ``target log target`` is 0 and adds nothing
    to the gradient with respect to ``target``, which is ``-input`` there (PyTorch's is
    ``nan``).
    """
    if reduction not in KL_REDUCTIONS:
        raise ValueError(f"kl_div: reduction must be one of {KL_REDUCTIONS}, got {reduction!r}")
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            UserWarning,
            stacklevel=2,
        )
    x, t = st.as_tensor(input), st.as_tensor(target)
    check_same_shape("kl_div", x, t)
    loss = t.exp() * (t - x) if log_target else _xlogx(t) - t * x
    if reduction == "batchmean":
        total = loss.sum()
        return total / x.shape[0] if x.ndim else total
    return reduce(loss, reduction, "kl_div")


def poisson_nll_loss(
    input: Any,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of ``target`` counts under a Poisson of rate ``input``:
    ``e**input - target * input`` if ``log_input`` (``input`` is the log-rate), else
    ``input - target * log(input + eps)``.

    ``full`` adds Stirling's approximation of ``log(target!)``,
    ``target log target - target + log(2 pi target) / 2``, where ``target > 1``.
    """
    check_reduction("poisson_nll_loss", reduction)
    x, t = st.as_tensor(input), st.as_tensor(target)
    check_same_shape("poisson_nll_loss", x, t)
    loss = x.exp() - t * x if log_input else x - t * (x + eps).log()
    if full:
        large = t > 1
        safe = st.where(large, t, 2.0)  # logs of targets <= 1 are never taken
        stirling = safe * safe.log() - safe + 0.5 * (safe * (2 * math.pi)).log()
        loss = loss + st.where(large, stirling, 0.0)
    return reduce(loss, reduction, "poisson_nll_loss")


def _variance_like(var: Any, x: Tensor) -> Tensor:
    """PyTorch's shapes for ``var``: a number, the input's shape, the input's shape
    without its last dimension, or a shape that differs from the input's in one
    dimension of size 1 (one variance shared along it)."""
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("gaussian_nll_loss: var has negative entry/entries")
        return Tensor(np.full(x.shape, var, dtype=x.dtype))
    v = st.as_tensor(var)
    check_values(_nonnegative, v.data)
    if v.shape == x.shape:
        return v
    if v.shape == x.shape[:-1]:
        return v.reshape(v.shape + (1,))
    if v.ndim == x.ndim and sum(m for n, m in zip(x.shape, v.shape) if n != m) == 1:
        return v
    raise ValueError(
        f"gaussian_nll_loss: var of shape {v.shape} does not fit the input's {x.shape}"
    )


def _nonnegative(var: np.ndarray) -> None:
    """Refuse a negative variance."""
    if np.any(var < 0):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")


def gaussian_nll_loss(
    input: Any,
    target: Any,
    var: Any,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of ``target`` under a normal of mean ``input`` and variance
    ``var``: ``(log var + (input - target)**2 / var) / 2`` (plus ``log(2 pi) / 2`` if
    ``full``).

    As PyTorch, a variance below ``eps`` is raised to ``eps`` for the value, while its
    gradient passes through as if it were not (PyTorch clamps it under ``no_grad``).
    """
    check_reduction("gaussian_nll_loss", reduction)
    x, t = st.as_tensor(input), st.as_tensor(target)
    check_same_shape("gaussian_nll_loss", x, t)
    v = _variance_like(var, x)
    # eps as the value, with v's gradient of 1: eps + (v - v) keeps the graph. (Always
    # the where, not only if some v < eps: a captured step finds each replay's.)
    v = st.where(v < eps, (v - v.detach()) + eps, v)
    d = x - t
    loss = 0.5 * (v.log() + d * d / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce(loss, reduction, "gaussian_nll_loss")


class KLDivLoss(_Loss):
    """Module form of :func:`kl_div` (``reduction`` may also be ``"batchmean"``)."""

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__("mean")
        if reduction not in KL_REDUCTIONS:
            raise ValueError(
                f"KLDivLoss: reduction must be one of {KL_REDUCTIONS}, got {reduction!r}"
            )
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`kl_div` of log-probabilities ``input`` and the ``target`` distribution."""
        return kl_div(input, target, self.reduction, self.log_target)


class PoissonNLLLoss(_Loss):
    """Module form of :func:`poisson_nll_loss`."""

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        eps: float = 1e-8,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Any, target: Any) -> Tensor:
        """:func:`poisson_nll_loss` with this module's settings."""
        return poisson_nll_loss(
            log_input, target, self.log_input, self.full, self.eps, self.reduction
        )


class GaussianNLLLoss(_Loss):
    """Module form of :func:`gaussian_nll_loss`."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Any, target: Any, var: Any) -> Tensor:
        """:func:`gaussian_nll_loss` of means ``input`` and variances ``var``."""
        return gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)
