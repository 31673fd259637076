"""``LambdaLR`` and ``MultiplicativeLR``: rates given by functions of the epoch."""

from __future__ import annotations

import copy
import math
import numbers
import types
from collections.abc import Callable, Mapping
from typing import Any

from sg_optim._checks import Where
from sg_optim.optimizer import Optimizer
from sg_optim.schedulers_base import LRScheduler, check_optimizer

__all__ = ["LambdaLR", "MultiplicativeLR"]


class _FunctionScheduler(LRScheduler):
    """A scheduler of one function of the epoch per group (``lr_lambdas``).

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

    def _scaled(self, rates: list[float], epoch: int) -> list[float]:
        """Each rate times its group's function at ``epoch``, once every product is a
        rate ``>= 0``."""
        lrs = []
        for i, (function, rate) in enumerate(zip(self.lr_lambdas, rates)):
            factor = function(epoch)
            lr: Any = rate * factor if isinstance(factor, numbers.Real) else math.nan
            if not lr >= 0:  # also a nan, or a factor that is not a number
                raise ValueError(
                    f"{Where(type(self).__name__, i)('lr_lambda')}: the factor {factor!r} at "
                    f"epoch {epoch} gives the learning rate {lr}; it must be a number >= 0"
                )
            lrs.append(lr)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """The position and rates; of each function, ``None`` or its attributes."""
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


class LambdaLR(_FunctionScheduler):
    """Scale each group's initial rate by a function of the epoch: ``lr = lr0 * f(t)``.

    ``lr_lambda`` is one function for every group, or a list of one per group. As in
    PyTorch, :meth:`state_dict` saves a plain function as ``None`` and a callable
    object as a copy of its attributes (``__dict__``), which :meth:`load_state_dict`
    restores into this scheduler's object. Not chainable: each step sets
    ``lr0 * f(t)``, whatever the rate was.
    """

    def _lrs_at(self, epoch: int) -> list[float]:
        return self._scaled(self.base_lrs, epoch)


class MultiplicativeLR(_FunctionScheduler):
    """Multiply each group's current rate by a function of the epoch at each step:
    ``lr_t = lr_{t-1} * f(t)`` (the constructor leaves the rate as it is).

    ``lr_lambda`` is one function for every group, or a list of one per group, saved by
    :meth:`state_dict` as :class:`LambdaLR`'s. Chainable, as PyTorch's.
    """

    def _get_lr(self, epoch: int, initial: bool) -> list[float]:
        if initial:
            return self._current_lrs()
        return self._scaled(self._current_lrs(), epoch)

    def _lrs_at(self, epoch: int) -> list[float]:
        """PyTorch has no closed form: a restart at a milestone multiplies the current
        rates by ``f(epoch)``, as a step does."""
        return self._get_lr(epoch, initial=False)
