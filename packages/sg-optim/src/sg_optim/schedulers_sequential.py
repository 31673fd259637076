"""``SequentialLR``: schedulers one after another, switching at milestone epochs."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from sg_optim._checks import Where, check_positive_integer
from sg_optim.optimizer import Optimizer
from sg_optim.schedulers_base import LRScheduler
from sg_optim.schedulers_plateau import ReduceLROnPlateau

__all__ = ["SequentialLR"]


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at the ``milestones`` epochs.

    ``schedulers[0]`` sets the rates until epoch ``milestones[0]``, where
    ``schedulers[1]`` starts afresh (its epoch 0, from the initial rates), and so on:
    there is one milestone fewer than schedulers. All belong to ``optimizer``; a
    ``ReduceLROnPlateau`` cannot be one (its step needs a metric).
    """

    _saved_separately = ("_schedulers",)

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
    ) -> None:
        self._schedulers: list[LRScheduler] = _as_list(schedulers)
        self._milestones: list[int] = _as_list(milestones)
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        schedulers, milestones = self._schedulers, self._milestones
        if not isinstance(schedulers, list) or not schedulers:
            raise ValueError(
                f"{where('schedulers')}: SequentialLR expects a list of at least one "
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
                    f"{where(name)}: SequentialLR does not support ReduceLROnPlateau, whose "
                    "step needs a metric"
                )
            if scheduler.optimizer is not self.optimizer:
                raise ValueError(
                    f"{where(name)}: SequentialLR expects all schedulers to belong to the "
                    f"same optimizer, but {type(scheduler).__name__} has another one"
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

    def _active(self) -> LRScheduler:
        """The scheduler that sets the rates at ``last_epoch``."""
        return self._schedulers[bisect_right(self._milestones, self.last_epoch)]

    def _restart(self) -> None:
        self._schedulers[0]._restart()
        self.last_epoch = 0

    def _apply(self) -> None:
        self._active()._apply()

    def step(self) -> None:
        """Advance one epoch: start the next scheduler at its milestone, else step the
        current one."""
        epoch = self.last_epoch + 1
        index = bisect_right(self._milestones, epoch)
        if index > 0 and self._milestones[index - 1] == epoch:
            self._schedulers[index]._restart()
        else:
            self._schedulers[index].step()
        self.last_epoch = epoch

    def state_dict(self) -> dict[str, Any]:
        """The position and milestones, and the state of each scheduler."""
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


def _as_list(value: Any) -> Any:
    """A tuple as a list (PyTorch keeps lists); anything else as it is, for the checks."""
    return list(value) if isinstance(value, tuple) else value
