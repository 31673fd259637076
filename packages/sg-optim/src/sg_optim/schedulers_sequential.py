"""``SequentialLR`` and ``ChainedScheduler``: schedulers one after another, switching at
milestone epochs, or several stepped together."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from sg_optim._checks import Where, check_positive_integer
from sg_optim.optimizer import Optimizer
from sg_optim.schedulers_base import LRScheduler, check_group_rates, check_optimizer
from sg_optim.schedulers_plateau import ReduceLROnPlateau

__all__ = ["ChainedScheduler", "SequentialLR"]


class _SchedulerList(LRScheduler):
    """A scheduler of schedulers (``_schedulers``): the checks of the list, and a
    :meth:`state_dict` that holds the state of each."""

    _saved_separately = ("_schedulers",)
    _schedulers: list[LRScheduler]

    def _check_schedulers(self, where: Where) -> None:
        """Raise unless ``_schedulers`` is a list of schedulers of ``optimizer``."""
        owner, schedulers = type(self).__name__, self._schedulers
        if not isinstance(schedulers, list) or not schedulers:
            raise ValueError(
                f"{where('schedulers')}: {owner} expects a list of at least one "
                f"scheduler, got {schedulers!r}"
            )
        for i, scheduler in enumerate(schedulers):
            name = f"schedulers[{i}]"
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(
                    f"{where(name)}: expected a scheduler, got {type(scheduler).__name__}"
                )
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"{where(name)}: {owner} does not support ReduceLROnPlateau, whose "
                    "step needs a metric"
                )
            if scheduler.optimizer is not self.optimizer:
                raise ValueError(
                    f"{where(name)}: {owner} expects all schedulers to belong to the "
                    f"same optimizer, but {type(scheduler).__name__} has another one"
                )

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's own state, and the state of each of its schedulers."""
        state = super().state_dict()
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def _checked_load(self, state: Any, where: Where) -> Callable[[], None]:
        values = self._checked_values(state, where)
        saved = state["_schedulers"]
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self._schedulers):
            raise ValueError(
                f"{where('_schedulers')}: expected a list of {len(self._schedulers)} "
                "scheduler states"
            )
        loads = [
            scheduler._checked_load(
                entry, Where(f"{where.owner}: schedulers[{i}], {type(scheduler).__name__}")
            )
            for i, (scheduler, entry) in enumerate(zip(self._schedulers, saved))
        ]

        def load() -> None:
            self.__dict__.update(values)
            for load_one in loads:
                load_one()
            self._apply()

        return load


class SequentialLR(_SchedulerList):
    """Run ``schedulers`` one after another, switching at the ``milestones`` epochs.

    ``schedulers[0]`` sets the rates until epoch ``milestones[0]``, where
    ``schedulers[1]`` starts afresh (its epoch 0, in closed form from the initial rates),
    and so on: there is one milestone fewer than schedulers. All belong to
    ``optimizer``; a ``ReduceLROnPlateau`` cannot be one (its step needs a metric), nor a
    ``ChainedScheduler`` (PyTorch's restarts one with the ``get_lr()`` it does not have).
    As PyTorch's, the constructor sets the rates back to the initial ones and takes the
    first scheduler's initial step again.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
    ) -> None:
        self._schedulers = _as_list(schedulers)
        self._milestones: list[int] = _as_list(milestones)
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        self._check_schedulers(where)
        schedulers, milestones = self._schedulers, self._milestones
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ChainedScheduler):
                raise ValueError(
                    f"{where(f'schedulers[{i}]')}: SequentialLR does not support "
                    "ChainedScheduler (PyTorch's cannot restart one at a milestone)"
                )
        if not isinstance(milestones, list) or len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"{where('milestones')}: Sequential Schedulers expects number of schedulers "
                "provided to be one more than the number of milestone points, but got "
                f"number of schedulers {len(schedulers)} and milestones {milestones!r}"
            )
        for i, milestone in enumerate(milestones):
            check_positive_integer(where, f"milestones[{i}]", milestone)
            if i and milestone <= milestones[i - 1]:
                raise ValueError(
                    f"{where('milestones')}: expected increasing epochs, got {milestones}"
                )

    def _initial_step(self) -> None:
        """PyTorch's: back to the initial rates, then the first scheduler's initial step."""
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._schedulers[0]._initial_step()
        self.last_epoch = 0
        self._last_lr = self._schedulers[0].get_last_lr()

    def _restart(self) -> None:
        self._schedulers[0]._restart()
        self.last_epoch = 0
        self._last_lr = self._schedulers[0].get_last_lr()

    def step(self) -> None:
        """Advance one epoch: start the next scheduler at its milestone, else step the
        current one."""
        epoch = self.last_epoch + 1
        index = bisect_right(self._milestones, epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == epoch:
            scheduler._restart()
        else:
            scheduler.step()
        self.last_epoch = epoch
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_SchedulerList):
    """Step several schedulers together: one :meth:`step` steps each, in order.

    Chainable schedulers combine (``StepLR`` and ``ExponentialLR`` multiply their
    factors); a scheduler that is not chainable sets its rate over what the ones before
    it set. ``optimizer`` defaults to the first scheduler's, and all must belong to it;
    a ``ReduceLROnPlateau`` cannot be one (its step needs a metric). The constructor
    changes nothing (the schedulers took their initial steps when they were made). If a
    scheduler's step raises, the ones stepped before it and the rates are put back.
    """

    def __init__(
        self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None
    ) -> None:
        where = Where(type(self).__name__)
        self._schedulers = _as_list(schedulers)
        if not isinstance(self._schedulers, list) or not self._schedulers:
            raise ValueError(
                f"{where('schedulers')}: ChainedScheduler expects a list of at least one "
                f"scheduler, got {self._schedulers!r}"
            )
        if optimizer is None:
            first = self._schedulers[0]
            if not isinstance(first, LRScheduler):
                raise TypeError(
                    f"{where('schedulers[0]')}: expected a scheduler, got {type(first).__name__}"
                )
            optimizer = first.optimizer
        check_optimizer(where.owner, optimizer)
        self.optimizer = optimizer
        self._check_arguments(where)
        self._last_lr = self._current_lrs()

    def _check_arguments(self, where: Where) -> None:
        self._check_schedulers(where)

    def _check_position(self, where: Where) -> None:
        check_group_rates(where, "_last_lr", self._last_lr, self.optimizer)

    def step(self) -> None:
        """Step each scheduler, in order."""
        saved = _snapshot(self._schedulers)
        groups = [
            {k: v for k, v in group.items() if k != "params"}
            for group in self.optimizer.param_groups
        ]
        try:
            for scheduler in self._schedulers:
                scheduler.step()
        except BaseException:
            for scheduler, attributes in saved:
                scheduler.__dict__.clear()
                scheduler.__dict__.update(attributes)
            for group, values in zip(self.optimizer.param_groups, groups):
                group.update(values)
            raise
        self._last_lr = self._current_lrs()


def _snapshot(schedulers: list[LRScheduler]) -> list[tuple[LRScheduler, dict[str, Any]]]:
    """Each scheduler's attributes, and those of the schedulers it holds: a step
    rebinds them (it does not change them in place), so a shallow copy restores it."""
    saved = []
    for scheduler in schedulers:
        saved.append((scheduler, dict(scheduler.__dict__)))
        inner = getattr(scheduler, "_schedulers", None)
        if isinstance(inner, list):
            saved.extend(_snapshot(inner))
    return saved


def _as_list(value: Any) -> Any:
    """A tuple as a list (PyTorch keeps lists); anything else as it is, for the checks."""
    return list(value) if isinstance(value, tuple) else value
