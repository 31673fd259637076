"""The base class of the learning-rate schedulers, and the checks they share.

A scheduler holds its optimizer, each group's initial rate (``base_lrs``), an epoch
counter (``last_epoch``) and the rates it set last (``_last_lr``), and sets
``group["lr"]`` of the optimizer's groups. The schedulers themselves are in
:mod:`sg_optim.lr_scheduler`.

As in PyTorch, a *chainable* scheduler computes the next rate from each group's
current rate (``StepLR`` multiplies it by ``gamma``), so several schedulers can drive
one optimizer and a rate set by hand carries on; the others compute it from the
initial rates. Three methods define the rates, after PyTorch's:

* ``_get_lr(epoch, initial)``: the rates at ``epoch`` (``last_epoch + 1`` in a step);
  ``initial`` in the constructor's step to epoch 0 (PyTorch's ``get_lr()``);
* ``_lrs_at(epoch)``: the closed form, from ``base_lrs`` (PyTorch's
  ``_get_closed_form_lr()``, or ``get_lr()`` where it has none): ``SequentialLR``
  restarts a scheduler with it at its milestone;
* ``lr_at(base_lr, epoch)``: one group's closed form, for the schedulers whose
  ``_lrs_at`` is just that.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sg_optim._checks import Where, check_non_negative, is_integer
from sg_optim.optimizer import Optimizer, replay_methods
from sg_tensor.capturing import replayed

__all__ = ["LRScheduler"]


class LRScheduler:
    """Base class of the schedulers.

    A subclass defines its rates with ``_get_lr``, ``_lrs_at`` or ``lr_at`` (see the
    module). :meth:`step` computes the next epoch's rates before it changes anything, so
    an error leaves the scheduler and the optimizer as they were.
    """

    #: state_dict() entries saved in another form than the attribute (LambdaLR's
    #: functions, SequentialLR's schedulers): their subclass checks and loads them
    _saved_separately: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)  # step() changes rates: a captured step replays it
        replay_methods(cls, ("step",))

    def __init__(self, optimizer: Optimizer) -> None:
        """Subclasses set their arguments as attributes, then call this."""
        check_optimizer(type(self).__name__, optimizer)
        self.optimizer = optimizer
        self._check_arguments(Where(type(self).__name__))  # before the groups change
        saved = [dict(group) for group in optimizer.param_groups]
        try:
            self._set_up_groups()
            self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
            self.last_epoch = 0
            self._last_lr: list[float] = self._current_lrs()
            self._initial_step()
        except BaseException:  # a rate that cannot be computed (a function's): put them back
            for group, values in zip(optimizer.param_groups, saved):
                group.clear()
                group.update(values)
            raise

    def _check_arguments(self, where: Where) -> None:
        """Raise naming any invalid argument (each subclass checks its own)."""

    def _set_up_groups(self) -> None:
        """Record each group's initial rate, unless an earlier scheduler did."""
        for group in self.optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])

    def _current_lrs(self) -> list[float]:
        """Each group's rate now (what a chainable scheduler changes)."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """The closed-form rate of a group whose initial rate is ``base_lr``, at ``epoch``."""
        raise NotImplementedError(f"{type(self).__name__} defines neither lr_at nor _lrs_at")

    def _lrs_at(self, epoch: int) -> list[float]:
        """Each group's rate at ``epoch`` in closed form, from ``base_lrs``."""
        return [self.lr_at(base, epoch) for base in self.base_lrs]

    def _get_lr(self, epoch: int, initial: bool) -> list[float]:
        """Each group's rate at ``epoch``, one step after ``last_epoch`` (``initial``: the
        constructor's step to epoch 0). By default the closed form; a chainable
        scheduler computes it from the groups' current rates instead."""
        return self._lrs_at(epoch)

    def _set_lrs(self, lrs: list[float]) -> None:
        """Set the groups' rates; ``last_epoch`` is already the epoch they belong to."""
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def _apply(self) -> None:
        """Set the rates of the loaded state (after :meth:`load_state_dict`): the ones
        this scheduler set last."""
        self._set_lrs(self._last_lr)

    def _initial_step(self) -> None:
        """The constructor's step to epoch 0 (``SequentialLR`` takes it again for its
        first scheduler)."""
        lrs = self._get_lr(0, initial=True)
        self.last_epoch = 0
        self._set_lrs(lrs)

    def _restart(self) -> None:
        """Start again at epoch 0, in closed form (``SequentialLR`` restarts a scheduler
        so at its milestone, as PyTorch's ``step(0)``)."""
        lrs = self._lrs_at(0)
        self.last_epoch = 0
        self._set_lrs(lrs)

    @replayed
    def step(self) -> None:
        """Advance one epoch and set the new rates."""
        lrs = self._get_lr(self.last_epoch + 1, initial=False)  # first: an error changes nothing
        self.last_epoch += 1
        self._set_lrs(lrs)

    def get_last_lr(self) -> list[float]:
        """The rate of each group this scheduler set last, as PyTorch's (a rate changed
        by hand or by another scheduler since is not seen)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's settings and position (not the optimizer)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, and the rates it gives; a bad state
        raises and changes nothing."""
        load = self._checked_load(state, Where(f"{type(self).__name__}.load_state_dict"))
        load()

    def _checked_load(self, state: Any, where: Where) -> Callable[[], None]:
        """Check all of ``state``, then return the function that loads it."""
        values = self._checked_values(state, where)

        def load() -> None:
            self.__dict__.update(values)
            self._apply()

        return load

    def _checked_values(self, state: Any, where: Where) -> dict[str, Any]:
        """The attributes ``state`` gives (a copy), once they are all valid."""
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
        saved = {k: v for k, v in state.items() if k not in self._saved_separately}
        trial.__dict__.update(copy.deepcopy(saved))
        trial._check_arguments(where)
        trial._check_position(where)
        return trial.__dict__

    def _check_position(self, where: Where) -> None:
        """Raise unless ``last_epoch``, ``base_lrs`` and ``_last_lr`` fit the optimizer."""
        check_epoch(where, "last_epoch", self.last_epoch)
        check_group_rates(where, "base_lrs", self.base_lrs, self.optimizer)
        check_group_rates(where, "_last_lr", self._last_lr, self.optimizer)


def check_epoch(where: Where, name: str, value: Any) -> None:
    """Raise unless ``value`` is an integer ``>= 0`` (an epoch, a count)."""
    if not is_integer(value):
        raise TypeError(f"{where(name)}: expected an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{where(name)}: expected an integer >= 0, got {value}")


def check_group_rates(where: Where, name: str, rates: Any, optimizer: Optimizer) -> None:
    """Raise unless ``rates`` is a list of one rate ``>= 0`` per param group."""
    groups = len(optimizer.param_groups)
    if not isinstance(rates, list) or len(rates) != groups:
        raise ValueError(
            f"{where(name)}: expected a list of {groups} rates (one per param group), "
            f"got {rates!r}"
        )
    for i, lr in enumerate(rates):
        check_non_negative(where, f"{name}[{i}]", lr, "learning rate")


def per_group(where: Where, name: str, value: Any, optimizer: Optimizer) -> list[Any]:
    """``value`` for each param group: a list or tuple of one per group, or one for all
    (then repeated)."""
    groups = len(optimizer.param_groups)
    if not isinstance(value, (list, tuple)):
        return [value] * groups
    if len(value) != groups:
        raise ValueError(
            f"{where(name)}: {name} must have the same length as optimizer.param_groups. "
            f"{name} has {len(value)} values, param_groups has {groups}."
        )
    return list(value)


def check_optimizer(owner: str, optimizer: Any) -> None:
    """Raise ``TypeError`` unless ``optimizer`` is an :class:`Optimizer`."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: expected an Optimizer, got {type(optimizer).__name__}")


def epochs(where: Where, name: str, value: Any) -> list[int]:
    """``value`` as a list, once it is a collection (a list, ...) of integers ``>= 0``."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{where(name)}: expected a list of epochs, got {value!r}")
    values = list(value)
    for epoch in values:
        check_epoch(where, name, epoch)
    return values
