"""Classification losses: ``nll_loss`` and ``cross_entropy`` over classes, and the binary
cross entropies ``binary_cross_entropy`` (of probabilities) and
``binary_cross_entropy_with_logits``, as functions and as modules.

The class losses take PyTorch's shapes: input ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``
with the classes along axis 1 (axis 0 for ``(C,)``), and integer targets of the input's
shape without that axis. ``weight`` gives each class a weight, ``ignore_index`` marks
targets that count for nothing; with ``reduction="mean"`` the sum is divided by the total
weight of the targets counted, as PyTorch (so ``nan`` if every target is ignored).
Weights are constants: no gradient reaches them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import sg_tensor as st
from sg_nn._checks import check_values
from sg_nn._loss import (
    _WeightedLoss,
    check_reduction,
    check_same_shape,
    class_weight,
    constant,
    reduce,
    weight_and_reduction,
)
from sg_tensor import Tensor
from sg_tensor.capturing import computed

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss",
]  # fmt: skip

# PyTorch's binary_cross_entropy backward divides by max(x (1 - x), EPSILON), with the
# C++ float constant 1e-12f: this is its value as a double.
_BCE_EPSILON = float(np.float32(1e-12))


# ---------------------------------------------------------------------------------------
# Class targets
# ---------------------------------------------------------------------------------------
def _class_targets(
    name: str, input: Tensor, target: Any, ignore_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Integer class indices for ``input`` (classes along axis 1, or 0 for ``(C,)``), and
    the mask of those that count (``!= ignore_index``)."""
    if input.ndim == 0:
        raise ValueError(
            f"{name}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got ()"
        )
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got dtype {t.dtype}")
    expected = () if input.ndim == 1 else input.shape[:1] + input.shape[2:]
    if t.shape != expected:
        raise ValueError(
            f"{name}: target must have shape {expected} for input {input.shape}, got {t.shape}"
        )
    n_classes = input.shape[0 if input.ndim == 1 else 1]
    keep: np.ndarray = computed(_counted, name, t, n_classes, ignore_index)
    return t, keep


def _counted(name: str, t: np.ndarray, n_classes: int, ignore_index: int) -> np.ndarray:
    """The mask of the targets that count, once each is a valid class (a captured step
    checks every replay's targets too)."""
    keep: np.ndarray = t != ignore_index
    counted = t[keep]
    if counted.size and (counted.min() < 0 or counted.max() >= n_classes):
        raise IndexError(
            f"{name}: class indices must be in [0, {n_classes}), "
            f"got values from {counted.min()} to {counted.max()}"
        )
    return keep


def _pick(values: Tensor, classes: np.ndarray) -> Tensor:
    """``values[i, classes[i, ...], ...]``: the entry of each target's class."""
    if values.ndim == 1:
        return values[classes]
    grid: list[np.ndarray] = list(np.indices(classes.shape, sparse=True))
    return values[(grid[0], classes) + tuple(grid[1:])]


def _target_nll(
    name: str, logp: Tensor, target: Any, weight: Any, ignore_index: int
) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """``-weight[t] * logp[..., t, ...]`` per target (0 where ignored), the weight of each
    target (0 where ignored) and the mask of those counted."""
    t, keep = _class_targets(name, logp, target, ignore_index)
    n_classes = logp.shape[0 if logp.ndim == 1 else 1]
    w = class_weight(name, weight, n_classes, logp)
    classes, target_weight = computed(_classes_and_weights, t, keep, w, logp.dtype)
    # where, not a product with the 0/1 mask: an ignored target gets exactly no gradient,
    # even when the mean divides by a total weight of 0.
    loss = st.where(keep, -_pick(logp, classes) * target_weight, 0.0)
    return loss, target_weight, keep


def _classes_and_weights(
    t: np.ndarray, keep: np.ndarray, w: np.ndarray | None, dtype: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Each target's class (any valid one where ignored: masked out) and weight (0 where
    ignored)."""
    classes = np.where(keep, t, 0)
    return classes, (np.ones(t.shape, dtype) if w is None else w[classes]) * keep


def _mean_or_reduce(loss: Tensor, total_weight: np.ndarray, reduction: str, name: str) -> Tensor:
    if reduction == "mean":  # the total as a tensor: a captured step sums each replay's
        return loss.sum() / Tensor(computed(_total, total_weight, loss.dtype))
    return reduce(loss, reduction, name)


def _total(weights: np.ndarray, dtype: Any) -> np.ndarray:
    """The summed weight, as ``loss.sum() / float(total)`` would divide by it."""
    return np.asarray(float(weights.sum()), dtype=dtype)


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood ``-weight[t] * input[i, t]`` from log-probabilities.

    ``input`` is ``(N, C)`` (or ``(C,)``, ``(N, C, d1, ...)``), ``target`` the integer
    class of each row. ``"mean"`` divides by the summed weight of the counted targets.
    """
    weight, reduction = weight_and_reduction("nll_loss", weight, reduction)
    check_reduction("nll_loss", reduction)
    logp = st.as_tensor(input)
    loss, target_weight, _ = _target_nll("nll_loss", logp, target, weight, ignore_index)
    return _mean_or_reduce(loss, target_weight, reduction, "nll_loss")


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy from logits, with integer class targets or class probabilities.

    ``log_softmax`` over the class axis keeps it stable for large logits. Integer targets
    work as :func:`nll_loss` of the log-softmax, with ``weight`` and ``ignore_index``. A
    float ``target`` of the input's shape holds probabilities (soft targets): the loss is
    ``-sum_c weight[c] target[c] log_softmax(input)[c]`` and ``"mean"`` divides by the
    number of samples. With ``label_smoothing`` ``e`` the target distribution becomes
    ``(1 - e)`` times the target plus ``e / C`` on every class.
    """
    weight, reduction = weight_and_reduction("cross_entropy", weight, reduction)
    check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}"
        )
    logits = st.as_tensor(input)
    if logits.ndim == 0:
        raise ValueError(
            "cross_entropy: expected input of shape (C,), (N, C) or (N, C, d1, ...), got ()"
        )
    axis = 0 if logits.ndim == 1 else 1
    n_classes = logits.shape[axis]
    logp = logits.log_softmax(axis=axis)
    along = (n_classes,) + (1,) * (logits.ndim - axis - 1)  # to broadcast along the classes
    if _are_probabilities(target, logits):
        # The loss is a product with the weight: a weight that requires grad gets one.
        soft = _differentiable_weight(weight, n_classes, logits, along)
        return _soft_cross_entropy(logp, target, soft, ignore_index, reduction, label_smoothing)
    # (computed: a weight the step computes is each replay's)
    w = class_weight("cross_entropy", weight, n_classes, logits)
    w_along = None if w is None else computed(np.reshape, w, along)
    loss, target_weight, keep = _target_nll("cross_entropy", logp, target, weight, ignore_index)
    if label_smoothing:
        # PyTorch: (1 - e) * nll + e / C * (the cross entropy against the uniform
        # distribution, weighted by the class weights), per target.
        spread = -(logp if w_along is None else logp * w_along).sum(axis=axis)
        spread = st.where(keep, spread, 0.0)
        loss = loss * (1.0 - label_smoothing) + spread * (label_smoothing / n_classes)
    return _mean_or_reduce(loss, target_weight, reduction, "cross_entropy")


def _differentiable_weight(
    weight: Any, n_classes: int, logits: Tensor, along: tuple[int, ...]
) -> Any:
    """The class weight of soft targets, shaped ``along`` the class axis: a Tensor that
    requires grad stays in the graph (as in PyTorch); anything else is a constant."""
    if isinstance(weight, Tensor) and weight.requires_grad:
        if weight.shape != (n_classes,):
            raise ValueError(
                f"cross_entropy: weight must have one entry per class, shape ({n_classes},), "
                f"got {weight.shape}"
            )
        return weight.reshape(along)
    w = class_weight("cross_entropy", weight, n_classes, logits)
    return None if w is None else computed(np.reshape, w, along)


def _are_probabilities(target: Any, logits: Tensor) -> bool:
    """PyTorch's rule: a target of the input's own shape holds probabilities."""
    shape = target.shape if isinstance(target, (Tensor, np.ndarray)) else np.shape(target)
    if tuple(shape) != logits.shape:
        return False
    dtype = target.dtype if isinstance(target, (Tensor, np.ndarray)) else np.asarray(target).dtype
    if dtype.kind != "f":
        raise TypeError(
            f"cross_entropy: a target of the input's shape {logits.shape} holds class "
            f"probabilities and must be floating point, got dtype {dtype}"
        )
    return True


def _soft_cross_entropy(
    logp: Tensor,
    target: Any,
    w_along: Any,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    if ignore_index >= 0:
        raise ValueError(
            f"cross_entropy: ignore_index ({ignore_index}) is not supported for class "
            "probability targets"
        )
    axis = 0 if logp.ndim == 1 else 1
    q = st.as_tensor(target)
    if label_smoothing:
        q = q * (1.0 - label_smoothing) + label_smoothing / logp.shape[axis]
    terms = logp * q if w_along is None else logp * q * w_along
    return reduce(-terms.sum(axis=axis), reduction, "cross_entropy")


# ---------------------------------------------------------------------------------------
# Binary cross entropies
# ---------------------------------------------------------------------------------------
def _elementwise_weight(name: str, what: str, weight: Any, x: Tensor) -> np.ndarray | None:
    """A constant weight that broadcasts to the input's shape, or ``None``."""
    if weight is None:
        return None
    w = constant(name, what, weight, x)
    try:
        fits = np.broadcast_shapes(w.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{name}: {what} of shape {w.shape} does not broadcast to the input's shape {x.shape}"
        )
    return w


def binary_cross_entropy(
    input: Any, target: Any, weight: Any = None, *, reduction: str = "mean"
) -> Tensor:
    """``-weight [y log x + (1 - y) log(1 - x)]`` for probabilities ``x`` in [0, 1].

    As PyTorch, each log is clamped at -100, so ``x`` of exactly 0 or 1 gives a finite
    loss; and the gradient is PyTorch's ``(x - y) / max(x (1 - x), 1e-12)``: where
    ``x (1 - x) < 1e-12`` (within about 1e-12 of 0 or 1) the loss keeps its clamped value
    and gets the slope ``(x - y) / 1e-12``. :func:`binary_cross_entropy_with_logits` of
    the logits is the stable way to the same loss.
    """
    weight, reduction = weight_and_reduction("binary_cross_entropy", weight, reduction)
    check_reduction("binary_cross_entropy", reduction)
    x, y = st.as_tensor(input), st.as_tensor(target)
    check_same_shape("binary_cross_entropy", x, y)
    check_values(_probabilities, x.data, "input")
    check_values(_probabilities, y.data, "target")
    w = _elementwise_weight("binary_cross_entropy", "weight", weight, x)
    edge = computed(_at_the_edges, x.data)
    # Inside: the formula itself, on inputs moved away from the edges (there the other
    # branch is taken, and log(0) would make a nan gradient).
    inside = st.where(edge, 0.5, x)
    loss = -(y * inside.log() + (1 - y) * (-inside).log1p())
    # Both branches always (a captured step finds the edges of each replay's input).
    loss = st.where(edge, _bce_at_the_edges(x, y, edge), loss)
    if w is not None:
        loss = loss * w
    return reduce(loss, reduction, "binary_cross_entropy")


def _probabilities(x: np.ndarray, name: str) -> None:
    """Refuse an input (logits given by mistake) or a target outside ``[0, 1]``, as
    PyTorch (a nan is outside)."""
    if x.size and not (np.all(x >= 0) and np.all(x <= 1)):
        numbers = x[x == x]  # without nan
        found = f"values from {numbers.min()} to {numbers.max()}" if numbers.size else "nan"
        if 0 < numbers.size < x.size:
            found += " and nan"
        hint = " (binary_cross_entropy_with_logits takes logits)" if name == "input" else ""
        raise ValueError(
            f"binary_cross_entropy: {name} must hold probabilities in [0, 1], got {found}{hint}"
        )


def _at_the_edges(x: np.ndarray) -> np.ndarray:
    """Where ``x (1 - x) < 1e-12``: PyTorch's backward divides by 1e-12 there."""
    edge: np.ndarray = (1 - x) * x < _BCE_EPSILON
    return edge


def _bce_at_the_edges(x: Tensor, y: Tensor, edge: np.ndarray) -> Tensor:
    """PyTorch's clamped value ``-(y max(log x, -100) + (1 - y) max(log(1 - x), -100))``,
    with the slope ``(x - y) / 1e-12`` of its backward there.

    The logs are constants here (nothing is differentiated through a log of 0); the slope
    comes from ``x * c - (x * c).detach()``, which is 0 with gradient ``c``.
    """
    log_x, log_1mx, slope = computed(_logs_and_slope, x.data, y.data, edge)
    value: Tensor = (y - 1) * log_1mx - y * log_x
    zero_with_slope: Tensor = x * slope - (x * slope).detach()
    return value + zero_with_slope


def _logs_and_slope(
    x: np.ndarray, y: np.ndarray, edge: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The clamped logs of ``x`` and ``1 - x``, and the slope at the edges.

    Off the edges the slope is -0.0: the gradient ``x`` gets from there (this branch is
    not taken: ``+0.0 * -0.0``) is -0.0, which adds nothing to its gradient from the
    other branch, not even to the sign of a zero.
    """
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), -100.0)
        log_1mx = np.maximum(np.log1p(-x), -100.0)
    return log_x, log_1mx, np.where(edge, (x - y) / _BCE_EPSILON, -0.0)


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """``-weight [p y log s(x) + (1 - y) log(1 - s(x))]`` from logits ``x``, ``s`` the sigmoid.

    Computed as ``log(1 + e**x) - x y``, with ``log(1 + e**x) = logsumexp([0, x])``, which
    never overflows and whose gradient is exactly ``sigmoid(x) - y``. ``pos_weight`` ``p``
    (broadcast along the last axis, e.g. one per class) weighs the positive term:
    ``(1 - y) x + (1 + (p - 1) y) log(1 + e**-x)``, as PyTorch.
    """
    name = "binary_cross_entropy_with_logits"
    weight, reduction = weight_and_reduction(name, weight, reduction)
    check_reduction(name, reduction)
    x, y = st.as_tensor(input), st.as_tensor(target)
    check_same_shape(name, x, y)
    w = _elementwise_weight(name, "weight", weight, x)
    p = _elementwise_weight(name, "pos_weight", pos_weight, x)
    if p is None:
        softplus = st.stack([st.zeros_like(x), x], axis=0).logsumexp(axis=0)
        loss = softplus - x * y
    else:
        softplus_neg = st.stack([st.zeros_like(x), -x], axis=0).logsumexp(axis=0)
        # Tensor(p) - 1, not p - 1: a captured step computes it from each replay's p.
        loss = (1 - y) * x + (1 + (Tensor(p) - 1) * y) * softplus_neg
    if w is not None:
        loss = loss * w
    return reduce(loss, reduction, name)


# ---------------------------------------------------------------------------------------
# Module forms
# ---------------------------------------------------------------------------------------
class NLLLoss(_WeightedLoss):
    """Module form of :func:`nll_loss`."""

    def __init__(
        self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`nll_loss` of log-probabilities ``(N, C)`` and integer targets ``(N,)``, with
        this module's ``weight`` and ``ignore_index``, reduced by ``reduction``."""
        return nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class CrossEntropyLoss(_WeightedLoss):
    """Module form of :func:`cross_entropy`."""

    def __init__(
        self,
        weight: Any = None,
        *,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`cross_entropy` of logits ``(N, C)`` and integer targets ``(N,)`` (or class
        probabilities ``(N, C)``), with this module's settings, reduced by ``reduction``."""
        return cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class BCELoss(_WeightedLoss):
    """Module form of :func:`binary_cross_entropy`."""

    def __init__(self, weight: Any = None, *, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`binary_cross_entropy` of probabilities ``input`` and targets ``target``
        (same shapes), with this module's ``weight``, reduced by ``reduction``."""
        return binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Module form of :func:`binary_cross_entropy_with_logits`."""

    pos_weight: Any

    def __init__(
        self, weight: Any = None, *, reduction: str = "mean", pos_weight: Any = None
    ) -> None:
        super().__init__(weight, reduction)
        self._register_optional("pos_weight", pos_weight)

    def forward(self, input: Any, target: Any) -> Tensor:
        """:func:`binary_cross_entropy_with_logits` of logits ``input`` and targets
        ``target`` (same shapes), with this module's weights, reduced by ``reduction``."""
        return binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )
