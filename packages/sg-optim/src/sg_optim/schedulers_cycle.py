"""``OneCycleLR``: the 1cycle policy, a rate that rises to a peak and falls far below."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from sg_optim._checks import (
    Where,
    check_flag,
    check_non_negative,
    check_positive_integer,
    check_real,
)
from sg_optim.optimizer import Optimizer
from sg_optim.schedulers_base import LRScheduler, per_group

__all__ = ["OneCycleLR"]


class _Phase(NamedTuple):
    """A phase of the 1cycle policy, as PyTorch's: the step it ends at, and the group
    values the rate and the momentum go from and to."""

    end_step: float
    start_lr: str
    end_lr: str
    start_momentum: str
    end_momentum: str


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith): raise the rate to ``max_lr``, then anneal it far below
    where it started. Step once per batch, ``total_steps`` times in all.

    Each group starts at ``initial_lr = max_lr / div_factor``, rises to ``max_lr`` over
    the first ``pct_start`` of the steps, then falls to ``min_lr = initial_lr /
    final_div_factor`` (with ``three_phase``: back to ``initial_lr`` over as many steps,
    then to ``min_lr``). ``anneal_strategy`` is ``"cos"`` (half a cosine) or
    ``"linear"``. With ``cycle_momentum`` the momentum (``momentum``, or ``betas[0]`` of
    an optimizer with ``betas``) moves the other way, between ``max_momentum`` and
    ``base_momentum``. ``max_lr`` and the momenta are numbers or lists of one per group;
    ``total_steps`` may be given as ``epochs`` and ``steps_per_epoch``. As in PyTorch,
    the groups record ``initial_lr``, ``max_lr``, ``min_lr`` (and ``max_momentum``,
    ``base_momentum``), the phases and interpolations are PyTorch's, and a step past
    ``total_steps`` raises.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> None:
        where = Where(type(self).__name__)
        self.total_steps = _total_steps(where, total_steps, epochs, steps_per_epoch)
        self.max_lr, self.pct_start, self.anneal_strategy = max_lr, pct_start, anneal_strategy
        self.cycle_momentum, self.three_phase = cycle_momentum, three_phase
        self.base_momentum, self.max_momentum = base_momentum, max_momentum
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        check_positive_integer(where, "total_steps", self.total_steps)
        check_real(where, "pct_start", self.pct_start)
        if not 0 <= self.pct_start <= 1:
            raise ValueError(
                f"{where('pct_start')}: Expected float between 0 and 1 pct_start, but got "
                f"{self.pct_start}"
            )
        if self.anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"{where('anneal_strategy')}: anneal_strategy must be one of 'cos' or "
                f"'linear', instead got {self.anneal_strategy!r}"
            )
        check_flag(where, "cycle_momentum", self.cycle_momentum)
        check_flag(where, "three_phase", self.three_phase)
        for name in ("div_factor", "final_div_factor"):
            value = getattr(self, name)
            check_real(where, name, value)
            if not value > 0:
                raise ValueError(f"{where(name)}: expected a number > 0, got {value}")
        for lr in per_group(where, "max_lr", self.max_lr, self.optimizer):
            check_non_negative(where, "max_lr", lr, "learning rate")
        if self.cycle_momentum:
            self._check_momenta(where)
        # a phase of no length would divide by zero; only the first phase (at step 0) and
        # the last (at step total_steps) can be reached so: checking both steps finds them
        self._phase_of(0, where)
        self._phase_of(self.total_steps, where)

    def _check_momenta(self, where: Where) -> None:
        defaults = self.optimizer.defaults
        if "momentum" not in defaults and "betas" not in defaults:
            raise ValueError(
                f"{where('cycle_momentum')}: optimizer must support momentum or beta1 with "
                "`cycle_momentum` option enabled"
            )
        for name in ("base_momentum", "max_momentum"):
            for momentum in per_group(where, name, getattr(self, name), self.optimizer):
                check_non_negative(where, name, momentum, "momentum value")
                if "betas" in defaults and not momentum < 1:
                    raise ValueError(
                        f"{where(name)}: Invalid beta parameter: {momentum}, must be in [0, 1)"
                    )

    def _check_position(self, where: Where) -> None:
        super()._check_position(where)
        if self.last_epoch > self.total_steps:
            raise ValueError(
                f"{where('last_epoch')}: step {self.last_epoch} is past total_steps "
                f"{self.total_steps}"
            )

    def _cycle_values(self) -> list[dict[str, float]]:
        """Each group's rates (and momenta) that the phases go from and to."""
        where = Where(type(self).__name__)
        names = ("max_momentum", "base_momentum") if self.cycle_momentum else ()
        momenta = {
            name: per_group(where, name, getattr(self, name), self.optimizer) for name in names
        }
        values = []
        for i, max_lr in enumerate(per_group(where, "max_lr", self.max_lr, self.optimizer)):
            initial_lr = max_lr / self.div_factor
            group = {
                "initial_lr": initial_lr,
                "max_lr": max_lr,
                "min_lr": initial_lr / self.final_div_factor,
            }
            group.update({name: momenta[name][i] for name in names})
            values.append(group)
        return values

    def _set_up_groups(self) -> None:
        """Record the rates (and momenta) of the cycle in the groups, as PyTorch does."""
        for group, values in zip(self.optimizer.param_groups, self._cycle_values()):
            group.update(values)

    def _phases(self) -> list[_Phase]:
        """PyTorch's phases (two, or three with ``three_phase``)."""
        warm_end = float(self.pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        if not self.three_phase:
            return [
                _Phase(warm_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _Phase(last, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        return [
            _Phase(warm_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            _Phase(
                float(2 * self.pct_start * self.total_steps) - 2,
                "max_lr",
                "initial_lr",
                "base_momentum",
                "max_momentum",
            ),
            _Phase(last, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
        ]

    def _phase_of(self, step: int, where: Where | None = None) -> tuple[_Phase, float]:
        """The phase ``step`` is in, and how far through it (0 at its start, 1 at its end)."""
        phases = self._phases()
        start = 0.0
        for i, phase in enumerate(phases):
            if step <= phase.end_step or i == len(phases) - 1:
                if phase.end_step == start:
                    raise ValueError(
                        f"{(where or Where(type(self).__name__))('pct_start')}: phase {i} of "
                        f"the cycle has no steps (pct_start={self.pct_start}, total_steps="
                        f"{self.total_steps}), and step {step} falls in it"
                    )
                return phase, (step - start) / (phase.end_step - start)
            start = phase.end_step
        raise AssertionError("unreachable: the last phase takes every later step")

    def _anneal(self, start: float, end: float, pct: float) -> float:
        """From ``start`` (at ``pct = 0``) to ``end`` (at ``pct = 1``)."""
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _lrs_at(self, epoch: int) -> list[float]:
        if epoch > self.total_steps:
            raise ValueError(
                f"{type(self).__name__}.step (total_steps): Tried to step {epoch} times. The "
                f"specified number of total steps is {self.total_steps}"
            )
        phase, pct = self._phase_of(epoch)
        return [
            self._anneal(values[phase.start_lr], values[phase.end_lr], pct)
            for values in self._cycle_values()
        ]

    def _set_lrs(self, lrs: list[float]) -> None:
        """Set the rates and, with ``cycle_momentum``, the momenta of ``last_epoch``."""
        super()._set_lrs(lrs)
        if not self.cycle_momentum:
            return
        phase, pct = self._phase_of(self.last_epoch)
        use_betas = "betas" in self.optimizer.defaults
        for group, values in zip(self.optimizer.param_groups, self._cycle_values()):
            momentum = self._anneal(values[phase.start_momentum], values[phase.end_momentum], pct)
            if use_betas:
                group["betas"] = (momentum, *group["betas"][1:])
            else:
                group["momentum"] = momentum

    def _apply(self) -> None:
        self._set_up_groups()  # a loaded state may have other rates than the groups record
        super()._apply()


def _total_steps(where: Where, total_steps: Any, epochs: Any, steps_per_epoch: Any) -> Any:
    """``total_steps``, or ``epochs * steps_per_epoch``, once they are positive integers."""
    if total_steps is not None:
        check_positive_integer(where, "total_steps", total_steps)
        return total_steps
    if epochs is None or steps_per_epoch is None:
        raise ValueError(
            f"{where('total_steps')}: You must define either total_steps OR (epochs AND "
            "steps_per_epoch)"
        )
    check_positive_integer(where, "epochs", epochs)
    check_positive_integer(where, "steps_per_epoch", steps_per_epoch)
    return epochs * steps_per_epoch
