"""Learning-rate schedules, with PyTorch's names, arguments and rates.

A scheduler sets ``group["lr"]`` of its optimizer's parameter groups; call its
``step()`` once per epoch (``OneCycleLR``, ``CyclicLR``: once per batch), after
``optimizer.step()``.

* ``StepLR``, ``MultiStepLR``, ``ExponentialLR``: multiply the rate by ``gamma`` every
  ``step_size`` epochs, at given milestones, or every epoch;
* ``ConstantLR``, ``LinearLR``: scale the rate by a constant factor, or by one that goes
  linearly to ``end_factor``, for ``total_iters`` epochs;
* ``CosineAnnealingLR``, ``PolynomialLR``: half a cosine down to ``eta_min``, or a
  polynomial down to 0;
* ``LambdaLR``, ``MultiplicativeLR``: the initial rate times a function of the epoch,
  or the current rate times one at each step;
* ``CosineAnnealingWarmRestarts``: cosines that restart from the initial rate;
* ``OneCycleLR``, ``CyclicLR``: up to a peak and down again (once, or cycling),
  cycling the momentum the other way;
* ``SequentialLR``, ``ChainedScheduler``: one scheduler after another, switching at
  milestones, or several stepped together;
* ``ReduceLROnPlateau``: reduce the rates when a metric (``step(metric)``) stalls.

The rates are PyTorch's to the last bit: as in PyTorch, the *chainable* schedulers
(``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``ConstantLR``, ``LinearLR``,
``CosineAnnealingLR``, ``PolynomialLR``, ``MultiplicativeLR``) compute each step's
rate from the group's current rate, with PyTorch's formulas in PyTorch's order, so
two of them on one optimizer combine (``StepLR`` and ``ExponentialLR`` multiply their
factors) and a rate set by hand carries on; the others set a rate computed from the
initial rates. Arguments are checked before a scheduler touches its optimizer, the
next rates are computed before a step changes anything, and a checkpoint is checked
before ``load_state_dict()`` applies it (and sets the rates the scheduler set last).

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

Chained, as in PyTorch: ``ExponentialLR`` multiplies what ``StepLR`` set.

>>> opt = SGD([st.tensor([1.0], requires_grad=True)], lr=1.0)
>>> steps, decay = StepLR(opt, step_size=2, gamma=0.5), ExponentialLR(opt, gamma=0.9)
>>> for epoch in range(2):
...     opt.step()
...     steps.step()
...     decay.step()
>>> opt.param_groups[0]["lr"] == 1.0 * 0.9 * 0.9 * 0.5
True
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable

from sg_optim._checks import Where, check_non_negative, check_positive_integer, check_real
from sg_optim.optimizer import Optimizer
from sg_optim.schedulers_base import LRScheduler, check_epoch, epochs
from sg_optim.schedulers_cycle import CyclicLR, OneCycleLR
from sg_optim.schedulers_lambda import LambdaLR, MultiplicativeLR
from sg_optim.schedulers_plateau import ReduceLROnPlateau
from sg_optim.schedulers_restarts import CosineAnnealingWarmRestarts
from sg_optim.schedulers_sequential import ChainedScheduler, SequentialLR

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs: ``lr = lr0 * gamma **
    (t // step_size)`` alone.

    Chainable, as PyTorch's: a step onto a multiple of ``step_size`` multiplies the
    group's current rate by ``gamma``, and the others leave it as it is.
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

    def _get_lr(self, epoch: int, initial: bool) -> list[float]:
        lrs = self._current_lrs()
        if epoch == 0 or epoch % self.step_size != 0:
            return lrs
        return [lr * self.gamma for lr in lrs]


class CosineAnnealingLR(LRScheduler):
    """Follow half a cosine from the initial rate down to ``eta_min`` over ``T_max`` epochs:
    ``eta_min + (lr0 - eta_min) * (1 + cos(pi * t / T_max)) / 2`` alone; past ``T_max``
    it rises again.

    Chainable, as PyTorch's, with its recursive form: each step scales the current
    rate's distance to ``eta_min`` by ``(1 + cos(pi * t / T_max)) / (1 + cos(pi * (t - 1)
    / T_max))``, and just after the bottom of a cosine (where that divides by 0) adds
    ``(lr0 - eta_min) * (1 - cos(pi / T_max)) / 2``. The rates alone differ from the
    closed form by rounding.
    """

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

    def _get_lr(self, epoch: int, initial: bool) -> list[float]:
        lrs = self._current_lrs()
        if initial:
            return lrs
        t_max, eta_min = self.T_max, self.eta_min
        if (epoch - 1 - t_max) % (2 * t_max) == 0:  # the step after a cosine's bottom
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                for base, lr in zip(self.base_lrs, lrs)
            ]
        return [
            (1 + math.cos(math.pi * epoch / t_max))
            / (1 + math.cos(math.pi * (epoch - 1) / t_max))
            * (lr - eta_min)
            + eta_min
            for lr in lrs
        ]


class ConstantLR(LRScheduler):
    """Scale the rate by ``factor`` until epoch ``total_iters``: ``lr = lr0 * factor``,
    then ``lr0``.

    Chainable, as PyTorch's: the constructor multiplies the current rate by ``factor``,
    and the step onto ``total_iters`` multiplies it by ``1 / factor``.
    """

    def __init__(
        self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5
    ) -> None:
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        check_real(where, "factor", self.factor)
        if not 0 <= self.factor <= 1:
            raise ValueError(
                f"{where('factor')}: Constant multiplicative factor expected to be between "
                f"0 and 1, got {self.factor}"
            )
        if self.factor == 0:
            raise ValueError(
                f"{where('factor')}: a factor of 0 cannot be undone at total_iters "
                "(PyTorch's ConstantLR divides by it there); expected a factor in (0, 1]"
            )
        check_positive_integer(where, "total_iters", self.total_iters)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """``base_lr * factor`` before ``total_iters``, ``base_lr`` from it on."""
        return base_lr * (self.factor + (epoch >= self.total_iters) * (1 - self.factor))

    def _get_lr(self, epoch: int, initial: bool) -> list[float]:
        lrs = self._current_lrs()
        if epoch == 0:
            return [lr * self.factor for lr in lrs]
        if epoch != self.total_iters:
            return lrs
        return [lr * (1.0 / self.factor) for lr in lrs]


class LinearLR(LRScheduler):
    """Scale the rate linearly from ``start_factor`` to ``end_factor`` over ``total_iters``
    epochs, then hold it: ``lr0 * (start + (end - start) * min(t, total_iters) / total_iters)``
    alone.

    Chainable, as PyTorch's: the constructor multiplies the current rate by
    ``start_factor``, and each step up to ``total_iters`` by the ratio of this epoch's
    factor to the last one's, ``1 + (end - start) / (total_iters * start + (t - 1) *
    (end - start))``. The rates alone differ from the closed form by rounding.
    """

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
        """``base_lr * (start_factor + (end_factor - start_factor) * min(total_iters, epoch)
        / total_iters)``."""
        return base_lr * (
            self.start_factor
            + (self.end_factor - self.start_factor)
            * min(self.total_iters, epoch)
            / self.total_iters
        )

    def _get_lr(self, epoch: int, initial: bool) -> list[float]:
        lrs = self._current_lrs()
        if epoch == 0:
            return [lr * self.start_factor for lr in lrs]
        if initial or epoch > self.total_iters:
            return lrs
        start, end = self.start_factor, self.end_factor
        ratio = 1.0 + (end - start) / (self.total_iters * start + (epoch - 1) * (end - start))
        return [lr * ratio for lr in lrs]


class PolynomialLR(LRScheduler):
    """Decay the rate to 0 along a polynomial over ``total_iters`` epochs, then hold it:
    ``lr = lr0 * (1 - min(t, total_iters) / total_iters) ** power`` alone.

    Chainable, as PyTorch's: each step up to ``total_iters`` multiplies the current rate
    by ``((1 - t / total_iters) / (1 - (t - 1) / total_iters)) ** power``.
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0) -> None:
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        check_positive_integer(where, "total_iters", self.total_iters)
        # a negative power would make the rate grow, and divide by 0 at total_iters
        check_non_negative(where, "power", self.power, "power value")

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """``base_lr * (1 - min(total_iters, epoch) / total_iters) ** power``."""
        lr: float = base_lr * (1.0 - min(self.total_iters, epoch) / self.total_iters) ** self.power
        return lr

    def _get_lr(self, epoch: int, initial: bool) -> list[float]:
        lrs = self._current_lrs()
        if initial or epoch > self.total_iters:
            return lrs
        total = self.total_iters
        decay = ((1.0 - epoch / total) / (1.0 - (epoch - 1) / total)) ** self.power
        return [lr * decay for lr in lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: ``lr = lr0 * gamma ** t``.

    As in PyTorch, each step multiplies the group's current rate by ``gamma``
    (chainable); this repeated product can differ from ``lr0 * gamma ** t`` in the last
    bit, and it is PyTorch's.
    """

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self.gamma = gamma
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        check_non_negative(where, "gamma", self.gamma, "gamma value")

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """``base_lr * gamma ** epoch`` (PyTorch's closed form)."""
        return base_lr * self.gamma**epoch

    def _get_lr(self, epoch: int, initial: bool) -> list[float]:
        lrs = self._current_lrs()
        if initial:
            return lrs
        return [lr * self.gamma for lr in lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone: ``lr = lr0 * gamma ** k``, with
    ``k`` the number of milestones ``<= t`` (an epoch listed twice counts twice).

    As in PyTorch, ``milestones`` is kept as a :class:`collections.Counter`, and a step
    onto a milestone (the constructor: onto epoch 0) multiplies the group's current rate
    by ``gamma ** count``: chainable.
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

    def _lrs_at(self, epoch: int) -> list[float]:
        """``base_lr * gamma ** k``, ``k`` the number of milestones ``<= epoch`` (PyTorch's
        closed form)."""
        count = bisect_right(sorted(self.milestones.elements()), epoch)
        return [base_lr * self.gamma**count for base_lr in self.base_lrs]

    def _get_lr(self, epoch: int, initial: bool) -> list[float]:
        lrs = self._current_lrs()
        count = self.milestones[epoch]  # 0 if it is not a milestone
        return [lr * self.gamma**count for lr in lrs] if count else lrs
