"""Regression and margin losses: ``mse_loss``, ``l1_loss``, ``smooth_l1_loss``,
``huber_loss``, ``hinge_loss``, ``soft_margin_loss`` and ``margin_ranking_loss``, as
functions and as modules.

Each is written with the difference ``d = input - target``. The piecewise ones pick a
branch with :func:`sg_tensor.where`, whose gradient goes only to the branch it picked,
and they pick on the same side of each kink as PyTorch's backward does. Their masks are
comparisons of tensors (``d.abs() < beta``), which a captured step makes again at every
replay (a mask of ``d.data`` would be the capture's).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import sg_tensor as st
from sg_nn._checks import check_values
from sg_nn._loss import _Loss, check_reduction, check_same_shape, constant, reduce
from sg_tensor import Tensor

__all__ = [
    "HingeLoss", "HuberLoss", "L1Loss", "MSELoss", "MarginRankingLoss", "SmoothL1Loss",
    "SoftMarginLoss", "hinge_loss", "huber_loss", "l1_loss", "margin_ranking_loss", "mse_loss",
    "smooth_l1_loss", "soft_margin_loss",
]  # fmt: skip


def _difference(name: str, input: Any, target: Any) -> Tensor:
    x, y = st.as_tensor(input), st.as_tensor(target)
    check_same_shape(name, x, y)
    return x - y


def _weighted(
    name: str, loss: Tensor, weight: Any, reduction: str, mean_over_weight: bool
) -> Tensor:
    """``loss * weight`` reduced; ``"mean"`` divides by ``sum(weight)`` when
    ``mean_over_weight`` (PyTorch's ``l1_loss`` and ``mse_loss``), else by the count
    (its ``huber_loss``)."""
    if weight is None:
        return reduce(loss, reduction, name)
    check_reduction(name, reduction)
    # A Tensor weight gets a gradient, as in PyTorch; anything else is a constant.
    w = weight if isinstance(weight, Tensor) else Tensor(constant(name, "weight", weight, loss))
    if w.shape != loss.shape:
        raise ValueError(f"{name}: weight must have the input's shape {loss.shape}, got {w.shape}")
    weighted = loss * w
    if reduction == "mean" and mean_over_weight:
        return weighted.sum() / w.sum()
    return reduce(weighted, reduction, name)


def mse_loss(input: Any, target: Any, reduction: str = "mean", weight: Any = None) -> Tensor:
    """Mean squared error ``(input - target)**2``.

    With ``weight`` (of the input's shape), ``weight * (input - target)**2``, and
    ``"mean"`` divides by ``sum(weight)``, as PyTorch.
    """
    d = _difference("mse_loss", input, target)
    return _weighted("mse_loss", d * d, weight, reduction, mean_over_weight=True)


def l1_loss(input: Any, target: Any, reduction: str = "mean", weight: Any = None) -> Tensor:
    """Mean absolute error ``|input - target|`` (gradient 0 where they are equal).

    With ``weight`` (of the input's shape), ``weight * |input - target|``, and ``"mean"``
    divides by ``sum(weight)``, as PyTorch.
    """
    d = _difference("l1_loss", input, target)
    return _weighted("l1_loss", d.abs(), weight, reduction, mean_over_weight=True)


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``, ``d = input - target``.

    Quadratic near 0, linear beyond ``beta`` (slope ``sign(d)`` at ``|d| == beta``, from
    either side); ``beta=0`` is :func:`l1_loss`.
    """
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must not be negative, got {beta}")
    d = _difference("smooth_l1_loss", input, target)
    if beta == 0:
        return reduce(d.abs(), reduction, "smooth_l1_loss")
    a = d.abs()
    loss = st.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)
    return reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(
    input: Any, target: Any, reduction: str = "mean", delta: float = 1.0, weight: Any = None
) -> Tensor:
    """``d**2 / 2`` where ``|d| < delta``, else ``delta (|d| - delta / 2)``; ``d = input - target``
    (the same as for :func:`smooth_l1_loss` with ``beta = delta``, times ``delta``).

    With ``weight`` (of the input's shape) each term is multiplied by it and ``"mean"``
    divides by the number of terms, as PyTorch.
    """
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    d = _difference("huber_loss", input, target)
    a = d.abs()
    loss = st.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return _weighted("huber_loss", loss, weight, reduction, mean_over_weight=False)


def hinge_loss(input: Any, target: Any, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """Max-margin loss ``max(0, margin - y * score)`` with labels ``y`` in {-1, +1}.

    This is the SVM loss of micrograd's demo (PyTorch has no loss of this name).
    """
    score, y = st.as_tensor(input), st.as_tensor(target)
    check_same_shape("hinge_loss", score, y)
    check_values(_signs, y.data)
    return reduce((margin - y * score).relu(), reduction, "hinge_loss")


def _signs(labels: np.ndarray) -> None:
    """Refuse labels other than -1 and +1."""
    if not np.all(np.abs(labels) == 1):
        raise ValueError("hinge_loss: target labels must be -1 or +1")


def soft_margin_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Logistic loss ``log(1 + e**(-y x))`` for labels ``y`` in {-1, +1}.

    Computed as ``logsumexp([0, -y x])``, finite where PyTorch's ``log1p(exp(-y x))``
    overflows to ``inf`` (``-y x`` above about 709).
    """
    x, y = st.as_tensor(input), st.as_tensor(target)
    check_same_shape("soft_margin_loss", x, y)
    if y.requires_grad and st.is_grad_enabled():  # labels: PyTorch has no gradient for them
        raise RuntimeError(
            f"soft_margin_loss: the target (shape {y.shape}) requires grad, but the loss is "
            "not differentiable with respect to its labels (as in PyTorch); detach() it"
        )
    z = -(y * x)
    loss = st.stack([st.zeros_like(z), z], axis=0).logsumexp(axis=0)
    return reduce(loss, reduction, "soft_margin_loss")


def margin_ranking_loss(
    input1: Any, input2: Any, target: Any, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """``max(0, -y (x1 - x2) + margin)``: ``y = 1`` asks for ``x1`` to rank above ``x2``
    by ``margin``, ``y = -1`` for the opposite.

    As PyTorch (a ``clamp_min``), the slope at exactly 0 is that of the linear piece.
    """
    x1, x2, y = st.as_tensor(input1), st.as_tensor(input2), st.as_tensor(target)
    if not x1.ndim == x2.ndim == y.ndim:
        raise ValueError(
            f"margin_ranking_loss: input1, input2 and target must have the same number of "
            f"dimensions, got shapes {x1.shape}, {x2.shape} and {y.shape}"
        )
    unclamped = -y * (x1 - x2) + margin
    loss = st.where(unclamped >= 0, unclamped, 0.0)
    return reduce(loss, reduction, "margin_ranking_loss")


class MSELoss(_Loss):
    """Module form of :func:`mse_loss`."""

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`mse_loss`: ``(input - target)**2`` (same shapes), reduced by ``reduction``."""
        return mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Module form of :func:`l1_loss`."""

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`l1_loss`: ``|input - target|`` (same shapes), reduced by ``reduction``."""
        return l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """Module form of :func:`smooth_l1_loss`."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`smooth_l1_loss` with this module's ``beta``, reduced by ``reduction``."""
        return smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """Module form of :func:`huber_loss`."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`huber_loss` with this module's ``delta``, reduced by ``reduction``."""
        return huber_loss(input, target, self.reduction, self.delta)


class HingeLoss(_Loss):
    """Module form of :func:`hinge_loss`."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`hinge_loss`: ``max(0, margin - target * input)`` for labels in {-1, +1} (same
        shapes), reduced by ``reduction``."""
        return hinge_loss(input, target, self.margin, self.reduction)


class SoftMarginLoss(_Loss):
    """Module form of :func:`soft_margin_loss`."""

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`soft_margin_loss` of scores and labels in {-1, +1}, reduced by ``reduction``."""
        return soft_margin_loss(input, target, self.reduction)


class MarginRankingLoss(_Loss):
    """Module form of :func:`margin_ranking_loss`."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1: Any, input2: Any, target: Any) -> Tensor:
        """:func:`margin_ranking_loss` with this module's ``margin``, reduced by ``reduction``."""
        return margin_ranking_loss(input1, input2, target, self.margin, self.reduction)
