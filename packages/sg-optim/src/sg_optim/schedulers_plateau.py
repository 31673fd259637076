"""``ReduceLROnPlateau``: reduce the rates when a watched metric stops improving."""

from __future__ import annotations

import math
from typing import Any

from sg_optim._checks import Where, check_non_negative, check_real
from sg_optim.optimizer import Optimizer
from sg_optim.schedulers_base import (
    LRScheduler,
    check_epoch,
    check_group_rates,
    check_optimizer,
    per_group,
)

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(LRScheduler):
    """Reduce the rates when a metric stops improving: call ``step(metric)`` once per epoch.

    A metric *improves* on the best so far when it beats it by more than ``threshold``:
    with ``mode="min"``, when it is below ``best * (1 - threshold)`` (``threshold_mode=
    "rel"``) or ``best - threshold`` (``"abs"``); with ``mode="max"``, above ``best * (1 +
    threshold)`` or ``best + threshold``. After more than ``patience`` epochs in a row
    without improvement each group's rate becomes ``max(lr * factor, min_lr)`` (unless
    that changes it by ``eps`` or less), and the ``cooldown`` epochs after a reduction
    are not counted. ``min_lr`` is a number or a list of one per group. As in PyTorch,
    the scheduler starts from the groups' current rates and changes them only when it
    reduces them.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        where = Where(type(self).__name__)
        check_optimizer(where.owner, optimizer)
        self.optimizer = optimizer
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.factor, self.patience, self.cooldown, self.eps = factor, patience, cooldown, eps
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.min_lrs = per_group(where, "min_lr", min_lr, optimizer)
        self._check_arguments(where)
        self.last_epoch = 0
        self.best = self.mode_worse
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = self._current_lrs()

    def _check_arguments(self, where: Where) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"{where('mode')}: mode {self.mode!r} is unknown! ('min' or 'max')")
        if self.threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"{where('threshold_mode')}: threshold mode {self.threshold_mode!r} is "
                "unknown! ('rel' or 'abs')"
            )
        check_real(where, "factor", self.factor)
        if not 0 <= self.factor < 1:
            raise ValueError(
                f"{where('factor')}: Factor should be < 1.0 (and >= 0), got {self.factor}"
            )
        for name in ("patience", "cooldown"):
            check_epoch(where, name, getattr(self, name))
        check_non_negative(where, "threshold", self.threshold, "threshold value")
        check_non_negative(where, "eps", self.eps, "epsilon value")
        if self.default_min_lr is not None:
            check_non_negative(where, "min_lr", self.default_min_lr, "min_lr value")
        if not isinstance(self.min_lrs, list):
            raise TypeError(f"{where('min_lr')}: expected a list of rates, got {self.min_lrs!r}")
        for i, lr in enumerate(self.min_lrs):
            check_non_negative(where, f"min_lr[{i}]", lr, "min_lr value")

    def _check_position(self, where: Where) -> None:
        for name in ("last_epoch", "num_bad_epochs", "cooldown_counter"):
            check_epoch(where, name, getattr(self, name))
        check_real(where, "best", self.best)
        check_group_rates(where, "_last_lr", self._last_lr, self.optimizer)

    @property
    def mode_worse(self) -> float:
        """The worst value of the metric: where ``best`` starts."""
        return math.inf if self.mode == "min" else -math.inf

    @property
    def in_cooldown(self) -> bool:
        """Whether the epochs are not being counted, after a reduction."""
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        """Whether the metric ``a`` improves on ``best`` by more than the threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: Any) -> None:  # type: ignore[override]
        """Count one epoch whose metric is ``metrics`` (a number, or a one-element Tensor)
        and reduce the rates once it has been too long without improvement."""
        where = Where(f"{type(self).__name__}.step")
        try:
            current = float(metrics)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{where('metrics')}: expected a number, got {metrics!r}") from error
        best, bad, cooldown_counter = self.best, self.num_bad_epochs + 1, self.cooldown_counter
        if self._is_better(current, best):
            best, bad = current, 0
        if cooldown_counter > 0:
            cooldown_counter -= 1
            bad = 0  # epochs in cooldown do not count
        reduced: dict[int, float] = {}
        if bad > self.patience:
            reduced = self._reduced_lrs(where)
            cooldown_counter, bad = self.cooldown, 0
        # everything is computed: only now change the scheduler and the optimizer
        for i, lr in reduced.items():
            self.optimizer.param_groups[i]["lr"] = lr
        self.last_epoch += 1
        self.best, self.num_bad_epochs, self.cooldown_counter = best, bad, cooldown_counter
        self._last_lr = self._current_lrs()

    def _reduced_lrs(self, where: Where) -> dict[int, float]:
        """Group index -> its reduced rate, for the groups the reduction changes."""
        groups = self.optimizer.param_groups
        if len(self.min_lrs) != len(groups):  # a group was added since
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"{where('min_lr')}: The number of param groups in the `optimizer` "
                    f"({len(groups)}) differs from when `ReduceLROnPlateau` was initialized "
                    f"({len(self.min_lrs)}); set `min_lrs` to one rate per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        reduced = {}
        for i, (group, min_lr) in enumerate(zip(groups, self.min_lrs)):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                reduced[i] = new
        return reduced

    def _apply(self) -> None:
        self._set_lrs(self._last_lr)
