"""``OneCycleLR`` and ``CyclicLR``: the 1cycle policy, a rate that rises to a peak and falls
far below, and the cyclical one, a rate that goes up and down between two bounds."""

from __future__ import annotations

import copy
import math
import types
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from sg_optim._checks import (
    Where,
    check_flag,
    check_non_negative,
    check_positive_integer,
    check_real,
    is_real,
)
from sg_optim.optimizer import Optimizer
from sg_optim.schedulers_base import (
    LRScheduler,
    check_epoch,
    check_group_rates,
    check_optimizer,
    per_group,
)

__all__ = ["CyclicLR", "OneCycleLR"]


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
        check_momenta(where, self.optimizer, self.base_momentum, self.max_momentum)

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
            set_momentum(group, momentum, use_betas)

    def _apply(self) -> None:
        self._set_up_groups()  # a loaded state may have other rates than the groups record
        super()._apply()


class CyclicLR(LRScheduler):
    """The cyclical learning-rate policy (Smith): the rate goes from ``base_lr`` up to
    ``max_lr`` over ``step_size_up`` steps and back down over ``step_size_down`` (default:
    as many), again and again. Step once per batch.

    ``mode`` scales the height of each cycle: ``"triangular"`` keeps it, ``"triangular2"``
    halves it at each cycle, ``"exp_range"`` multiplies it by ``gamma`` at each step;
    or ``scale_fn`` (a function with values in ``[0, 1]``) of the cycle number or the
    step, as ``scale_mode`` says (``"cycle"`` or ``"iterations"``), scales it instead.
    With ``cycle_momentum`` the momentum (``momentum``, or ``betas[0]`` of an optimizer
    with ``betas``) moves the other way, from ``max_momentum`` down to
    ``base_momentum``. ``base_lr``, ``max_lr`` and the momenta are numbers or lists of one
    per group. As PyTorch's: the constructor sets each group's rate to ``base_lr`` (its
    ``initial_lr`` too, unless an earlier scheduler recorded one) and the groups record
    ``max_momentum`` and ``base_momentum``; every step sets the rate from ``base_lr``
    (not chainable); :meth:`state_dict` saves a function ``scale_fn`` as ``None`` and a
    callable object as its attributes.
    """

    _saved_separately = ("_scale_fn_custom",)

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.8,
        max_momentum: float | list[float] = 0.9,
    ) -> None:
        where = Where(type(self).__name__)
        check_optimizer(where.owner, optimizer)
        base_lrs = per_group(where, "base_lr", base_lr, optimizer)
        self.base_lrs = base_lrs
        self.max_lrs = per_group(where, "max_lr", max_lr, optimizer)
        self.step_size_up = step_size_up
        self.step_size_down = step_size_up if step_size_down is None else step_size_down
        self.mode, self.gamma = mode, gamma
        self._scale_fn_custom = scale_fn
        if scale_fn is None:  # as PyTorch's: each mode has its own scale_mode
            modes = {"triangular": "cycle", "triangular2": "cycle", "exp_range": "iterations"}
            scale_mode = modes.get(mode, scale_mode)
        self.scale_mode = scale_mode
        self.cycle_momentum = cycle_momentum
        self.base_momentum, self.max_momentum = base_momentum, max_momentum
        super().__init__(optimizer)  # its initial step: from the groups' initial_lr
        self.base_lrs = base_lrs

    def _check_arguments(self, where: Where) -> None:
        check_group_rates(where, "base_lr", self.base_lrs, self.optimizer)
        check_group_rates(where, "max_lr", self.max_lrs, self.optimizer)
        check_positive_integer(where, "step_size_up", self.step_size_up)
        check_epoch(where, "step_size_down", self.step_size_down)
        if self._scale_fn_custom is None:
            if self.mode not in ("triangular", "triangular2", "exp_range"):
                raise ValueError(
                    f"{where('mode')}: mode is invalid and scale_fn is None: got "
                    f"{self.mode!r}, expected 'triangular', 'triangular2' or 'exp_range'"
                )
        elif not callable(self._scale_fn_custom):
            raise TypeError(
                f"{where('scale_fn')}: expected a function or None, got {self._scale_fn_custom!r}"
            )
        if self.scale_mode not in ("cycle", "iterations"):
            raise ValueError(
                f"{where('scale_mode')}: expected 'cycle' or 'iterations', got {self.scale_mode!r}"
            )
        check_non_negative(where, "gamma", self.gamma, "gamma value")
        check_flag(where, "cycle_momentum", self.cycle_momentum)
        if self.cycle_momentum:
            check_momenta(where, self.optimizer, self.base_momentum, self.max_momentum)

    @property
    def total_size(self) -> float:
        """The steps of a cycle, as a float (PyTorch's)."""
        return float(self.step_size_up) + float(self.step_size_down)

    @property
    def step_ratio(self) -> float:
        """The fraction of a cycle spent going up."""
        return float(self.step_size_up) / self.total_size

    def scale_fn(self, x: float) -> float:
        """The scale of the cycle's height at ``x`` (a cycle number or a step)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        scale: float = (
            1 / (2.0 ** (x - 1)) if self.mode == "triangular2" else self.gamma**x  # exp_range
        )
        return scale

    def _momenta(self) -> tuple[list[Any], list[Any]]:
        """Each group's ``base_momentum`` and ``max_momentum``."""
        where = Where(type(self).__name__)
        return (
            per_group(where, "base_momentum", self.base_momentum, self.optimizer),
            per_group(where, "max_momentum", self.max_momentum, self.optimizer),
        )

    def _set_up_groups(self) -> None:
        """As PyTorch's: each rate to ``base_lr``, each momentum to ``max_momentum``, and
        the momenta recorded in the groups."""
        groups = self.optimizer.param_groups
        for group, lr in zip(groups, self.base_lrs):
            group["lr"] = lr
        super()._set_up_groups()
        if self.cycle_momentum:
            use_betas = "betas" in self.optimizer.defaults
            for group, base, maximum in zip(groups, *self._momenta()):
                set_momentum(group, maximum, use_betas)
                group["max_momentum"], group["base_momentum"] = maximum, base

    def _place(self, epoch: int) -> tuple[int, float]:
        """The cycle ``epoch`` is in (from 1), and how high in it (0 to 1)."""
        cycle = math.floor(1 + epoch / self.total_size)
        x = 1.0 + epoch / self.total_size - cycle
        if x <= self.step_ratio:
            return cycle, x / self.step_ratio
        return cycle, (x - 1) / (self.step_ratio - 1)

    def _scale_at(self, epoch: int, cycle: int, group: int) -> float:
        """``scale_fn`` of the cycle or the step, once it is a number."""
        x = cycle if self.scale_mode == "cycle" else epoch
        scale = self.scale_fn(x)
        if not is_real(scale) or math.isnan(scale):
            raise ValueError(
                f"{Where(type(self).__name__, group)('scale_fn')}: expected a number "
                f"(in [0, 1]) from scale_fn({x!r}), got {scale!r}"
            )
        return scale

    def _lrs_at(self, epoch: int) -> list[float]:
        cycle, factor = self._place(epoch)
        lrs = []
        for i, (base_lr, max_lr) in enumerate(zip(self.base_lrs, self.max_lrs)):
            base_height = (max_lr - base_lr) * factor
            lr = base_lr + base_height * self._scale_at(epoch, cycle, i)
            if not lr >= 0:
                raise ValueError(
                    f"{Where(type(self).__name__, i)('scale_fn')}: the learning rate at step "
                    f"{epoch} is {lr}; it must be >= 0"
                )
            lrs.append(lr)
        return lrs

    def _set_lrs(self, lrs: list[float]) -> None:
        """Set the rates and, with ``cycle_momentum``, the momenta of ``last_epoch``."""
        super()._set_lrs(lrs)
        if not self.cycle_momentum:
            return
        epoch = self.last_epoch
        cycle, factor = self._place(epoch)
        use_betas = "betas" in self.optimizer.defaults
        groups = self.optimizer.param_groups
        for i, (group, base, maximum) in enumerate(zip(groups, *self._momenta())):
            base_height = (maximum - base) * factor
            set_momentum(group, maximum - base_height * self._scale_at(epoch, cycle, i), use_betas)

    def state_dict(self) -> dict[str, Any]:
        """The settings and position; ``scale_fn`` as ``None`` (none, or a function) or
        its attributes (a callable object), as PyTorch's."""
        state = super().state_dict()
        function = self._scale_fn_custom
        state["_scale_fn_custom"] = (
            None
            if function is None
            or isinstance(function, types.FunctionType)
            or not hasattr(function, "__dict__")
            else function.__dict__.copy()
        )
        return state

    def _checked_load(self, state: Any, where: Where) -> Callable[[], None]:
        values = self._checked_values(state, where)
        saved = state["_scale_fn_custom"]
        if saved is not None and (
            not isinstance(saved, Mapping) or not hasattr(self._scale_fn_custom, "__dict__")
        ):
            raise ValueError(
                f"{where('_scale_fn_custom')}: expected None, or a dict of the attributes "
                f"of this scheduler's callable scale_fn, got {saved!r}"
            )
        attributes = None if saved is None else copy.deepcopy(dict(saved))

        def load() -> None:
            self.__dict__.update(values)
            if attributes is not None:
                self._scale_fn_custom.__dict__.update(attributes)
            self._apply()

        return load


def check_momenta(where: Where, optimizer: Optimizer, base: Any, maximum: Any) -> None:
    """Raise unless ``optimizer`` has a momentum (or ``betas``) to cycle and ``base``
    and ``maximum`` are momenta (one, or one per group) it accepts."""
    defaults = optimizer.defaults
    if "momentum" not in defaults and "betas" not in defaults:
        raise ValueError(
            f"{where('cycle_momentum')}: optimizer must support momentum or beta1 with "
            "`cycle_momentum` option enabled"
        )
    for name, value in (("base_momentum", base), ("max_momentum", maximum)):
        for momentum in per_group(where, name, value, optimizer):
            check_non_negative(where, name, momentum, "momentum value")
            if "betas" in defaults and not momentum < 1:
                raise ValueError(
                    f"{where(name)}: Invalid beta parameter: {momentum}, must be in [0, 1)"
                )


def set_momentum(group: dict[str, Any], momentum: float, use_betas: bool) -> None:
    """Set a group's momentum: ``betas[0]`` (Adam's), or ``momentum``."""
    if use_betas:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


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
