"""Adagrad: per-coordinate step sizes that shrink as the squared gradients add up."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from sg_optim._checks import Where, check_non_negative
from sg_optim.optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan and Singer): each coordinate's step shrinks with its history.

    Every parameter keeps the *sum* of its squared gradients, started at
    ``initial_accumulator_value``. At its ``t``-th step (``t = 1, 2, ...``)::

        g    <- dL/dp + weight_decay * p
        clr   = lr / (1 + (t - 1) * lr_decay)
        sum  <- sum + g**2
        p    <- p - clr * g / (sqrt(sum) + eps)

    A coordinate whose gradients are large or frequent gets small steps; a rarely
    updated one keeps large steps. The sum only grows, so every step size only
    shrinks. These are PyTorch's formulas (its single-tensor path), in its order of
    operations.

    >>> import sg_tensor as st
    >>> w = st.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()  # the first step moves each coordinate by lr: g / sqrt(g**2) = sign(g)
    >>> w.data
    array([ 0.5, -1.5])
    """

    state_keys = ("step", "sum")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
        }
        super().__init__(params, defaults)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group (see :meth:`Optimizer.add_param_group`); as PyTorch, each of its
        parameters gets its state now: step 0 and the sum at ``initial_accumulator_value``
        (so the checkpoint holds it, and a later change of that value does not apply)."""
        super().add_param_group(group)
        added = self.param_groups[-1]
        for p in added["params"]:
            self.state[p] = _fresh_state(p, added)

    def _check_hyperparameters(self, group: dict[str, Any], where: Where) -> None:
        super()._check_hyperparameters(group, where)
        check_non_negative(where, "lr_decay", group["lr_decay"], "lr_decay value")
        check_non_negative(where, "weight_decay", group["weight_decay"], "weight_decay value")
        check_non_negative(
            where,
            "initial_accumulator_value",
            group["initial_accumulator_value"],
            "initial_accumulator_value value",
        )
        check_non_negative(where, "eps", group["eps"], "epsilon value")

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        checked = self._checked_grads()
        for group, grads in zip(self.param_groups, checked):
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            weight_decay = group["weight_decay"]
            for p, g in grads:
                state = self.state.get(p)
                if not state:  # none (a checkpoint without it): the sum starts at the value
                    state = self.state[p] = _fresh_state(p, group)
                state["step"] += 1
                t = int(state["step"])  # a count loaded as a numpy integer: Python arithmetic
                if weight_decay:
                    g = g + weight_decay * p.data
                clr = lr / (1 + (t - 1) * lr_decay)
                total = state["sum"]
                total += g * g
                std = np.sqrt(total)
                std += eps
                p.data += (-clr * g) / std  # PyTorch's addcdiv_: (value * g) / std
        self._record_writes(checked)


def _fresh_state(p: Any, group: dict[str, Any]) -> dict[str, Any]:
    """A parameter's state before its first step: no step, the sum at the group's value."""
    return {"step": 0, "sum": np.full_like(p.data, group["initial_accumulator_value"])}
