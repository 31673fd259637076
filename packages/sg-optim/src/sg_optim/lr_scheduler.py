"""Learning-rate schedules, with PyTorch's names, arguments and rates.

A scheduler sets ``group["lr"]`` of its optimizer's parameter groups; call its
``step()`` once per epoch (``OneCycleLR``: once per batch), after ``optimizer.step()``.

* ``StepLR``, ``MultiStepLR``, ``ExponentialLR``: multiply the rate by ``gamma`` every
  ``step_size`` epochs, at given milestones, or every epoch;
* ``CosineAnnealingLR``, ``LinearLR``, ``LambdaLR``: a cosine, a line, or any function
  of the epoch, times each group's initial rate;
* ``OneCycleLR``: up to a peak and far down again, cycling the momentum the other way;
* ``SequentialLR``: one scheduler after another, switching at milestones;
* ``ReduceLROnPlateau``: reduce the rates when a metric (``step(metric)``) stalls.

Most rates are closed-form expressions of the epoch and each group's initial rate;
``ExponentialLR`` and ``MultiStepLR`` multiply the current rate at each step, as PyTorch
does, so the floats are PyTorch's to the last bit. Arguments are checked before a
scheduler touches its optimizer, the next rates are computed before a step changes
anything, and a checkpoint is checked before ``load_state_dict()`` applies it.

>>> import sg_tensor as st
>>> from sg_optim import SGD
>>> opt = SGD([st.tensor([1.0], requires_grad=True)], lr=1.0)
>>> scheduler = MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
>>> rates = []
>>> for epoch in range(6):
...     rates.append(scheduler.get_last_lr()[0])
...     opt.step()
...     scheduler.step()
>>> rates
[1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
"""

from __future__ import annotations

import copy
import math
import numbers
import types
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sg_optim._checks import Where, check_non_negative, check_positive_integer, check_real
from sg_optim.optimizer import Optimizer
from sg_optim.schedulers_base import LRScheduler, check_epoch, check_optimizer, epochs
from sg_optim.schedulers_cycle import OneCycleLR
from sg_optim.schedulers_plateau import ReduceLROnPlateau
from sg_optim.schedulers_sequential import SequentialLR

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]


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


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: ``lr = lr0 * gamma ** t``.

    As in PyTorch, each step multiplies the group's current rate by ``gamma``; this
    repeated product can differ from ``lr0 * gamma ** t`` in the last bit, and it is
    PyTorch's.
    """

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self.gamma = gamma
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        check_non_negative(where, "gamma", self.gamma, "gamma value")

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """``base_lr`` multiplied ``epoch`` times by ``gamma``, one product at a time, as the
        steps compute it."""
        lr = base_lr
        for _ in range(epoch):
            lr = lr * self.gamma
        return lr

    def _next_lrs(self) -> list[float]:
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone: ``lr = lr0 * gamma ** k``, with
    ``k`` the number of milestones ``<= t`` (an epoch listed twice counts twice).

    As in PyTorch, ``milestones`` is kept as a :class:`collections.Counter`, and a step
    onto a milestone multiplies the group's current rate by ``gamma ** count``.
    """

    def __init__(
        self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1
    ) -> None:
        self.milestones = Counter(epochs(Where(type(self).__name__), "milestones", milestones))
        self.gamma = gamma
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        if not isinstance(self.milestones, Counter):
            raise TypeError(
                f"{where('milestones')}: expected a Counter of epochs, got {self.milestones!r}"
            )
        for epoch, count in self.milestones.items():
            check_epoch(where, "milestones", epoch)
            check_positive_integer(where, f"milestones[{epoch}]", count)
        check_non_negative(where, "gamma", self.gamma, "gamma value")

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """``base_lr`` times ``gamma ** count`` for each milestone up to ``epoch``, one
        milestone at a time, as the steps compute it."""
        lr = base_lr
        for milestone in sorted(self.milestones):
            if milestone > epoch:
                break
            lr = lr * self.gamma ** self.milestones[milestone]
        return lr

    def _next_lrs(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        count = self.milestones[self.last_epoch + 1]  # 0 if it is not a milestone
        return [lr * self.gamma**count for lr in lrs] if count else lrs


class LambdaLR(LRScheduler):
    """Scale each group's initial rate by a function of the epoch: ``lr = lr0 * f(t)``.

    ``lr_lambda`` is one function for every group, or a list of one per group. As in
    PyTorch, :meth:`state_dict` saves a plain function as ``None`` and a callable
    object as a copy of its attributes (``__dict__``), which :meth:`load_state_dict`
    restores into this scheduler's object.
    """

    _saved_separately = ("lr_lambdas",)

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
    ) -> None:
        check_optimizer(type(self).__name__, optimizer)
        self.lr_lambdas: list[Any] = (
            list(lr_lambda)
            if isinstance(lr_lambda, (list, tuple))
            else [lr_lambda] * len(optimizer.param_groups)
        )
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        groups = len(self.optimizer.param_groups)
        if len(self.lr_lambdas) != groups:
            raise ValueError(
                f"{where('lr_lambda')}: Expected {groups} lr_lambdas, but got "
                f"{len(self.lr_lambdas)}"
            )
        for i, function in enumerate(self.lr_lambdas):
            if not callable(function):
                raise TypeError(
                    f"{where('lr_lambda')}: expected a function of the epoch, got "
                    f"{function!r} for param group {i}"
                )

    def _lrs_at(self, epoch: int) -> list[float]:
        lrs = []
        for i, (function, base) in enumerate(zip(self.lr_lambdas, self.base_lrs)):
            factor = function(epoch)
            lr = base * factor if isinstance(factor, numbers.Real) else math.nan
            if not lr >= 0:  # also a nan, or a factor that is not a number
                raise ValueError(
                    f"{Where(type(self).__name__, i)('lr_lambda')}: the factor {factor!r} at "
                    f"epoch {epoch} gives the learning rate {lr}; it must be a number >= 0"
                )
            lrs.append(lr)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """The position and initial rates; of each function, ``None`` or its attributes."""
        state = super().state_dict()
        state["lr_lambdas"] = [
            None
            if isinstance(function, types.FunctionType) or not hasattr(function, "__dict__")
            else function.__dict__.copy()
            for function in self.lr_lambdas
        ]
        return state

    def _checked_load(self, state: Any, where: Where) -> Callable[[], None]:
        values = self._checked_values(state, where)
        saved = state["lr_lambdas"]
        if (
            not isinstance(saved, (list, tuple))
            or len(saved) != len(self.lr_lambdas)
            or not all(entry is None or isinstance(entry, Mapping) for entry in saved)
        ):
            raise ValueError(
                f"{where('lr_lambdas')}: expected a list of {len(self.lr_lambdas)} entries, "
                f"each None (a function) or a dict (a callable object's attributes)"
            )
        attributes = [None if entry is None else copy.deepcopy(dict(entry)) for entry in saved]

        def load() -> None:
            self.__dict__.update(values)
            for function, saved_attributes in zip(self.lr_lambdas, attributes):
                if saved_attributes is not None:
                    function.__dict__.update(saved_attributes)
            self._apply()

        return load
