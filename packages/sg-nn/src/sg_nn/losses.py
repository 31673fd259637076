"""Loss functions, as functions and as modules, with ``reduction='mean'|'sum'|'none'``.

Each loss is a composition of sg-tensor operators written in its numerically stable
form, so its gradient comes from verified rules and stays finite for large logits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import sg_tensor as st
from sg_nn.module import Module
from sg_tensor import Tensor

__all__ = [
    "BCEWithLogitsLoss", "CrossEntropyLoss", "HingeLoss", "MSELoss", "NLLLoss",
    "binary_cross_entropy_with_logits", "cross_entropy", "hinge_loss", "mse_loss", "nll_loss",
]  # fmt: skip

REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str, name: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_same_shape(name: str, input: Tensor, target: Tensor) -> None:
    if input.shape != target.shape:
        raise ValueError(
            f"{name}: input and target must have the same shape, got {input.shape} and "
            f"{target.shape}"
        )


def _class_targets(name: str, logits: Tensor, target: Any) -> np.ndarray:
    """Integer class indices of shape ``(N,)`` for logits of shape ``(N, C)``."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if logits.ndim != 2:
        raise ValueError(f"{name}: expected input of shape (N, C), got {logits.shape}")
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got dtype {t.dtype}")
    if t.shape != logits.shape[:1]:
        raise ValueError(
            f"{name}: target must have shape ({logits.shape[0]},) for input {logits.shape}, "
            f"got {t.shape}"
        )
    if t.size and (t.min() < 0 or t.max() >= logits.shape[1]):
        raise IndexError(
            f"{name}: class indices must be in [0, {logits.shape[1]}), "
            f"got values from {t.min()} to {t.max()}"
        )
    return t


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error ``(input - target)**2``."""
    x, y = st.as_tensor(input), st.as_tensor(target)
    _check_same_shape("mse_loss", x, y)
    diff = x - y
    return _reduce(diff * diff, reduction, "mse_loss")


def binary_cross_entropy_with_logits(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """``-[y log s(x) + (1 - y) log(1 - s(x))]`` from logits ``x``, ``s`` the sigmoid.

    Computed as ``log(1 + e**x) - x y``, with ``log(1 + e**x) = logsumexp([0, x])``, which
    never overflows and whose gradient is exactly ``sigmoid(x) - y``.
    """
    x, y = st.as_tensor(input), st.as_tensor(target)
    _check_same_shape("binary_cross_entropy_with_logits", x, y)
    softplus = st.stack([st.zeros_like(x), x], axis=0).logsumexp(axis=0)
    return _reduce(softplus - x * y, reduction, "binary_cross_entropy_with_logits")


def nll_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: ``-input[i, target[i]]`` from log-probabilities ``(N, C)``."""
    logp = st.as_tensor(input)
    t = _class_targets("nll_loss", logp, target)
    return _reduce(-logp[np.arange(len(t)), t], reduction, "nll_loss")


def cross_entropy(
    input: Any, target: Any, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:
    """Cross-entropy from logits ``(N, C)`` and integer targets ``(N,)``.

    ``log_softmax`` keeps it stable for large logits. With ``label_smoothing`` ``e`` the
    target distribution is ``(1 - e)`` on the true class plus ``e / C`` on every class.
    """
    logits = st.as_tensor(input)
    t = _class_targets("cross_entropy", logits, target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}"
        )
    logp = logits.log_softmax(axis=1)
    loss = -logp[np.arange(len(t)), t]
    if label_smoothing:
        smooth = -logp.mean(axis=1)
        loss = loss * (1.0 - label_smoothing) + smooth * label_smoothing
    return _reduce(loss, reduction, "cross_entropy")


def hinge_loss(input: Any, target: Any, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """Max-margin loss ``max(0, margin - y * score)`` with labels ``y`` in {-1, +1}.

    This is the SVM loss of micrograd's demo.
    """
    score, y = st.as_tensor(input), st.as_tensor(target)
    _check_same_shape("hinge_loss", score, y)
    if not np.all(np.abs(y.data) == 1):
        raise ValueError("hinge_loss: target labels must be -1 or +1")
    return _reduce((margin - y * score).relu(), reduction, "hinge_loss")


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}"
            )
        self.reduction = reduction

    def extra_repr(self) -> str:
        """The reduction, e.g. ``reduction='mean'``; other settings (``label_smoothing``,
        ``margin``) are not listed."""
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Module form of :func:`mse_loss`."""

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`mse_loss`: ``(input - target)**2`` (same shapes), reduced by ``reduction``."""
        return mse_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Module form of :func:`binary_cross_entropy_with_logits`."""

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`binary_cross_entropy_with_logits` of logits ``input`` and targets
        ``target`` (same shapes), reduced by ``reduction``."""
        return binary_cross_entropy_with_logits(input, target, self.reduction)


class NLLLoss(_Loss):
    """Module form of :func:`nll_loss`."""

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`nll_loss`: ``-input[i, target[i]]`` for log-probabilities ``(N, C)`` and integer
        targets ``(N,)``, reduced by ``reduction``."""
        return nll_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Module form of :func:`cross_entropy`."""

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`cross_entropy` of logits ``(N, C)`` and integer targets ``(N,)``, with this
        module's ``label_smoothing``, reduced by ``reduction``."""
        return cross_entropy(input, target, self.reduction, self.label_smoothing)


class HingeLoss(_Loss):
    """Module form of :func:`hinge_loss`."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`hinge_loss`: ``max(0, margin - target * input)`` for labels in {-1, +1} (same
        shapes), reduced by ``reduction``."""
        return hinge_loss(input, target, self.margin, self.reduction)
