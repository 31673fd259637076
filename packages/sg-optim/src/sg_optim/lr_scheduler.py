"""Learning-rate schedules: ``StepLR``, ``CosineAnnealingLR``, ``LinearLR``.

A scheduler sets ``group["lr"]`` of its optimizer's parameter groups from each group's
initial rate and an epoch counter; call :meth:`LRScheduler.step` once per epoch, after
``optimizer.step()``. The rates come from closed-form expressions of the epoch.
Arguments are checked before a scheduler touches its optimizer, and a checkpoint before
:meth:`LRScheduler.load_state_dict` applies it.
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from sg_optim._checks import (
    Where,
    check_non_negative,
    check_positive_integer,
    check_real,
    is_integer,
)
from sg_optim.optimizer import Optimizer

__all__ = ["CosineAnnealingLR", "LRScheduler", "LinearLR", "StepLR"]


class LRScheduler(ABC):
    """Base class: subclasses define :meth:`lr_at`, the rate of a group at an epoch."""

    def __init__(self, optimizer: Optimizer) -> None:
        """Subclasses set their arguments as attributes, then call this."""
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}"
            )
        self._check_arguments(Where(type(self).__name__))  # before the groups change
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def _check_arguments(self, where: Where) -> None:  # noqa: B027 (optional, not abstract)
        """Raise naming any invalid argument (each subclass checks its own)."""

    @abstractmethod
    def lr_at(self, base_lr: float, epoch: int) -> float:
        """The learning rate of a group whose initial rate is ``base_lr``, at ``epoch``."""

    def _apply(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base, self.last_epoch)

    def step(self) -> None:
        """Advance one epoch and set the new rates."""
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The current rate of each group."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's settings and position (not the optimizer)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; a bad one raises and changes nothing."""
        where = Where(f"{type(self).__name__}.load_state_dict")
        if not isinstance(state, Mapping):
            raise TypeError(
                f"{where('state')}: expected a dict from state_dict(), got a "
                f"{type(state).__name__}"
            )
        expected = set(self.state_dict())
        if set(state) != expected:
            raise ValueError(
                f"{where('state')}: keys {sorted(map(str, state))} do not match {sorted(expected)}"
            )
        trial = copy.copy(self)  # the checks read attributes: try the values on a copy
        trial.__dict__.update(copy.deepcopy(dict(state)))
        trial._check_arguments(where)
        trial._check_position(where)
        self.__dict__.update(trial.__dict__)
        self._apply()

    def _check_position(self, where: Where) -> None:
        """Raise unless ``last_epoch`` and ``base_lrs`` fit the optimizer."""
        if not is_integer(self.last_epoch):
            raise TypeError(f"{where('last_epoch')}: expected an integer, got {self.last_epoch!r}")
        if self.last_epoch < 0:
            raise ValueError(
                f"{where('last_epoch')}: expected an epoch >= 0, got {self.last_epoch}"
            )
        groups = len(self.optimizer.param_groups)
        if not isinstance(self.base_lrs, list) or len(self.base_lrs) != groups:
            raise ValueError(
                f"{where('base_lrs')}: expected a list of {groups} rates (one per param "
                f"group), got {self.base_lrs!r}"
            )
        for i, lr in enumerate(self.base_lrs):
            check_non_negative(where, f"base_lrs[{i}]", lr, "learning rate")


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs.

    ``lr = lr0 * gamma ** (t // step_size)``.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        check_positive_integer(where, "step_size", self.step_size)
        check_non_negative(where, "gamma", self.gamma, "gamma value")

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """``base_lr * gamma ** (epoch // step_size)``."""
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Follow half a cosine from the initial rate down to ``eta_min`` over ``T_max`` epochs:
    ``eta_min + (lr0 - eta_min) * (1 + cos(pi * t / T_max)) / 2``."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        check_positive_integer(where, "T_max", self.T_max)
        # the rate reaches eta_min: a negative one would make the optimizers climb
        check_non_negative(where, "eta_min", self.eta_min, "eta_min value")

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """``eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``; past ``T_max`` it
        rises again (the epoch is not clamped)."""
        return (
            self.eta_min
            + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        )


class LinearLR(LRScheduler):
    """Scale the rate linearly from ``start_factor`` to ``end_factor`` over ``total_iters``
    epochs, then hold it: ``lr0 * (start + (end - start) * min(t, total_iters) / total_iters)``."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
    ) -> None:
        self.start_factor, self.end_factor, self.total_iters = (
            start_factor,
            end_factor,
            total_iters,
        )
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        check_real(where, "start_factor", self.start_factor)
        if not 0 < self.start_factor <= 1:
            raise ValueError(
                f"{where('start_factor')}: Starting multiplicative factor expected to be "
                f"greater than 0 and less or equal to 1, got {self.start_factor}"
            )
        check_real(where, "end_factor", self.end_factor)
        if not 0 <= self.end_factor <= 1:
            raise ValueError(
                f"{where('end_factor')}: Ending multiplicative factor expected to be between "
                f"0 and 1, got {self.end_factor}"
            )
        check_positive_integer(where, "total_iters", self.total_iters)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """``base_lr * (start_factor + (end_factor - start_factor) * progress)``, with
        ``progress = min(epoch, total_iters) / total_iters``."""
        progress = min(epoch, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)
