"""What every loss shares: the ``reduction`` argument, argument checks, and the base
classes of the loss modules (PyTorch's ``_Loss`` and ``_WeightedLoss``).

The public losses live in :mod:`sg_nn.losses` (and :mod:`sg_nn.functional`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sg_nn.module import Module
from sg_tensor import Tensor, is_grad_enabled
from sg_tensor.capturing import computed

REDUCTIONS = ("mean", "sum", "none")


def reduce(loss: Tensor, reduction: str, name: str) -> Tensor:
    """``loss`` averaged (``"mean"``), summed (``"sum"``) or as it is (``"none"``)."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_reduction(name: str, reduction: Any) -> str:
    """``reduction`` itself, if it is one of :data:`REDUCTIONS`; else a ``ValueError``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return str(reduction)


def check_same_shape(name: str, input: Tensor, target: Tensor) -> None:
    """PyTorch broadcasts (with a warning) when the shapes differ; sg refuses."""
    if input.shape != target.shape:
        raise ValueError(
            f"{name}: input and target must have the same shape, got {input.shape} and "
            f"{target.shape}"
        )


def weight_and_reduction(name: str, weight: Any, reduction: str) -> tuple[Any, str]:
    """``(weight, reduction)`` from a call whose third argument may be either.

    PyTorch's third argument of ``cross_entropy``, ``nll_loss`` and the binary cross
    entropies is ``weight``; sg's losses took ``reduction`` there before they had a
    ``weight``. A string can only be a reduction, so both spellings keep their meaning:
    ``cross_entropy(x, t, w)`` and ``cross_entropy(x, t, "sum")``.
    """
    if isinstance(weight, str):
        if reduction != "mean":
            raise TypeError(
                f"{name}: got the reduction twice ({weight!r} in the place of weight, and "
                f"reduction={reduction!r})"
            )
        return None, weight
    return weight, reduction


def constant(name: str, what: str, value: Any, like: Tensor) -> np.ndarray:
    """A weight as a constant array of ``like``'s floating dtype (it gets no gradient: one
    that requires grad is refused, as PyTorch refuses it, rather than silently left
    without one)."""
    if isinstance(value, Tensor) and value.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"{name}: {what} requires grad, but the loss is not differentiable with respect "
            f"to it (as in PyTorch); pass {what}.detach()"
        )
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name}: {what} must hold numbers, got dtype {array.dtype}")
    dtype = like.dtype if like.dtype.kind == "f" else np.float64
    # computed: a weight the step computes (a mask of the batch) is each replay's own
    converted: np.ndarray = computed(_astype, array, dtype)
    return converted


def _astype(array: np.ndarray, dtype: Any) -> np.ndarray:
    return array.astype(dtype, copy=False)


def class_weight(name: str, weight: Any, n_classes: int, like: Tensor) -> np.ndarray | None:
    """The per-class ``weight`` of shape ``(C,)`` as a constant array, or ``None``."""
    if weight is None:
        return None
    w = constant(name, "weight", weight, like)
    if w.shape != (n_classes,):
        raise ValueError(
            f"{name}: weight must have one entry per class, shape ({n_classes},), got {w.shape}"
        )
    return w


class _Loss(Module):
    """Base of the loss modules: a validated ``reduction``."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(type(self).__name__, reduction)

    def extra_repr(self) -> str:
        """The reduction, e.g. ``reduction='mean'``; other settings (``label_smoothing``,
        ``margin``) are not listed."""
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """Base of the loss modules with a ``weight`` (a buffer, as in PyTorch, so it is in
    the ``state_dict`` and follows :meth:`Module.to`)."""

    weight: Any

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        weight, reduction = weight_and_reduction(type(self).__name__, weight, reduction)
        super().__init__(reduction)
        self._register_optional("weight", weight)

    def _register_optional(self, name: str, value: Any) -> None:
        """A buffer if ``value`` is given; else a plain ``None`` attribute (PyTorch
        registers a ``None`` buffer, which is not saved either)."""
        if value is None:
            object.__setattr__(self, name, None)
        else:
            array = np.array(value.data if isinstance(value, Tensor) else value)
            if array.dtype.kind not in "biuf":
                raise TypeError(
                    f"{type(self).__name__}: {name} must hold numbers, got dtype {array.dtype}"
                )
            self.register_buffer(
                name, array.astype(np.float64) if array.dtype.kind != "f" else array
            )
