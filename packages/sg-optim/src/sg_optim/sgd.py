"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from sg_optim._checks import Where, check_flag, check_non_negative
from sg_optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Gradient descent: step against the gradient, optionally with momentum.

    Plain SGD moves each parameter a little downhill: ``p <- p - lr * g``, where
    ``g = dL/dp + weight_decay * p`` (weight decay is the gradient of the L2 penalty
    ``weight_decay / 2 * |p|**2``).

    Momentum keeps a running velocity ``b`` so that consistent directions build up speed
    and oscillating ones cancel out::

        b <- g                                  (first step)
        b <- momentum * b + (1 - dampening) * g (later steps)
        p <- p - lr * b

    Nesterov momentum evaluates the step "ahead", using ``g + momentum * b`` in place of
    ``b``. These are exactly PyTorch's formulas, so trajectories can be compared.
    """

    state_keys = ("momentum_buffer",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any], where: Where) -> None:
        super()._check_hyperparameters(group, where)
        for name in ("momentum", "dampening", "weight_decay"):
            check_non_negative(where, name, group[name], f"{name} value")
        check_flag(where, "nesterov", group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"{where('nesterov')}: Nesterov momentum requires a momentum and zero dampening"
            )

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        checked = self._checked_grads()
        for group, grads in zip(self.param_groups, checked):
            lr, momentum = group["lr"], group["momentum"]
            dampening, weight_decay = group["dampening"], group["weight_decay"]
            for p, g in grads:
                if weight_decay:
                    g = g + weight_decay * p.data
                if momentum:
                    state = self.state.setdefault(p, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype)
                    else:
                        buf *= momentum
                        buf += (1 - dampening) * g
                    g = g + momentum * buf if group["nesterov"] else buf
                p.data -= lr * g
        self._record_writes(checked)
