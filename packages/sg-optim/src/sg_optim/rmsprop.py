"""RMSprop: divide the step by a running root-mean-square of recent gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from sg_optim._checks import Where, check_flag, check_non_negative
from sg_optim.adam import lerp_
from sg_optim.optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton): normalise each coordinate's step by its recent gradient size.

    A running average of the squared gradient, ``s <- alpha * s + (1 - alpha) * g**2``,
    estimates each coordinate's gradient scale; the step is ``lr * g / (sqrt(s) + eps)``.
    With ``centered`` the running mean ``a`` of ``g`` is also kept and the variance
    ``s - a**2`` is used instead, which normalises by the gradient's spread. With
    ``momentum`` the normalised steps are accumulated in a buffer
    ``b <- momentum * b + g / (sqrt(s) + eps)`` and ``p <- p - lr * b``.
    ``weight_decay`` adds ``weight_decay * p`` to the gradient. PyTorch's formulas.
    """

    state_keys = ("step", "square_avg", "momentum_buffer", "grad_avg")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any], where: Where) -> None:
        super()._check_hyperparameters(group, where)
        check_non_negative(where, "alpha", group["alpha"], "alpha value")
        check_non_negative(where, "eps", group["eps"], "epsilon value")
        check_non_negative(where, "weight_decay", group["weight_decay"], "weight_decay value")
        check_non_negative(where, "momentum", group["momentum"], "momentum value")
        check_flag(where, "centered", group["centered"])

    def _required_state_keys(self, group: dict[str, Any]) -> set[str]:
        keys = {"step", "square_avg"}
        if group["momentum"] > 0:
            keys.add("momentum_buffer")
        if group["centered"]:
            keys.add("grad_avg")
        return keys

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        checked = self._checked_grads()
        for group, grads in zip(self.param_groups, checked):
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum = group["weight_decay"], group["momentum"]
            for p, g in grads:
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p.data)
                    if momentum > 0:
                        state["momentum_buffer"] = np.zeros_like(p.data)
                    if group["centered"]:
                        state["grad_avg"] = np.zeros_like(p.data)
                state["step"] += 1
                if weight_decay:
                    g = g + weight_decay * p.data
                square_avg = state["square_avg"]
                square_avg *= alpha
                square_avg += (1 - alpha) * (g * g)
                if group["centered"]:
                    grad_avg = state["grad_avg"]
                    lerp_(grad_avg, g, 1 - alpha)
                    avg = np.sqrt(square_avg - grad_avg * grad_avg)
                else:
                    avg = np.sqrt(square_avg)
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf *= momentum
                    buf += g / avg
                    p.data -= lr * buf
                else:
                    p.data += -lr * (g / avg)
        self._record_writes(checked)
