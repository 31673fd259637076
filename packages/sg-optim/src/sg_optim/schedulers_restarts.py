"""``CosineAnnealingWarmRestarts``: cosines that restart from the initial rate (SGDR)."""

from __future__ import annotations

import math

from sg_optim._checks import (
    Where,
    check_non_negative,
    check_positive_integer,
    check_real,
    is_real,
)
from sg_optim.optimizer import Optimizer
from sg_optim.schedulers_base import LRScheduler

__all__ = ["CosineAnnealingWarmRestarts"]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Half cosines from each group's initial rate down towards ``eta_min``, restarting
    from the initial rate: ``eta_min + (lr0 - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``.

    ``T_cur`` counts the epochs since the last restart and ``T_i`` is the length of the
    current cosine: ``T_0`` at first, then ``T_mult`` times longer after each restart.
    :meth:`step` advances one epoch; ``step(epoch)`` jumps to an epoch, which may be
    fractional (``epoch + batch / batches``, stepping once per batch), with PyTorch's
    arithmetic (a logarithm finds the cycle when ``T_mult > 1``). Not chainable: each
    step sets the rate from the initial one, as PyTorch's.
    """

    def __init__(
        self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0
    ) -> None:
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur: float = 0
        super().__init__(optimizer)

    def _check_arguments(self, where: Where) -> None:
        check_positive_integer(where, "T_0", self.T_0)
        check_positive_integer(where, "T_mult", self.T_mult)  # >= 1: the cycles never shrink
        check_non_negative(where, "eta_min", self.eta_min, "eta_min value")

    def _check_position(self, where: Where) -> None:
        super()._check_position(where)
        check_positive_integer(where, "T_i", self.T_i)
        check_real(where, "T_cur", self.T_cur)
        if not math.isfinite(self.T_cur):
            raise ValueError(f"{where('T_cur')}: expected a finite number, got {self.T_cur}")

    def _lrs_at(self, epoch: int) -> list[float]:
        """The rates at ``T_cur`` of ``T_i`` (PyTorch's ``get_lr()``; ``epoch`` is not used:
        a restart at a ``SequentialLR`` milestone keeps ``T_cur`` and ``T_i``, as PyTorch's)."""
        return self._rates(self.T_cur, self.T_i)

    def _rates(self, t_cur: float, t_i: int) -> list[float]:
        """``eta_min + (base_lr - eta_min) * (1 + cos(pi * t_cur / t_i)) / 2`` of each group."""
        eta_min = self.eta_min
        return [
            eta_min + (base - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
            for base in self.base_lrs
        ]

    def _position(self, epoch: float | None) -> tuple[float, int, int]:
        """``T_cur``, ``T_i`` and ``last_epoch`` after a step (to ``epoch``, if given)."""
        t_0, t_mult = self.T_0, self.T_mult
        if epoch is None:
            epoch = self.last_epoch + 1
            t_cur, t_i = self.T_cur + 1, self.T_i
            if t_cur >= t_i:
                t_cur, t_i = t_cur % t_i, t_i * t_mult
        else:
            if not is_real(epoch) or not (math.isfinite(epoch) and epoch >= 0):
                raise ValueError(
                    f"{Where(f'{type(self).__name__}.step')('epoch')}: Expected non-negative "
                    f"epoch, but got {epoch!r}"
                )
            if epoch < t_0:
                t_cur, t_i = epoch, t_0
            elif t_mult == 1:
                t_cur, t_i = epoch % t_0, self.T_i
            else:
                n = int(math.log((epoch / t_0 * (t_mult - 1) + 1), t_mult))
                t_cur = epoch - t_0 * (t_mult**n - 1) / (t_mult - 1)
                t_i = t_0 * t_mult**n
        return t_cur, t_i, math.floor(epoch)

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or go to ``epoch`` (a number ``>= 0``), and set the rates."""
        t_cur, t_i, last_epoch = self._position(epoch)  # first: an error changes nothing
        lrs = self._rates(t_cur, t_i)
        self.T_cur, self.T_i, self.last_epoch = t_cur, t_i, last_epoch
        self._set_lrs(lrs)

    def _initial_step(self) -> None:
        """PyTorch's constructor: ``step(0)``."""
        self.step(0)
