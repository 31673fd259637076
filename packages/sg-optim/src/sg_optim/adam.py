"""Adam and AdamW: per-parameter step sizes from running moments of the gradient."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from sg_optim._checks import Where, check_betas, check_flag, check_non_negative
from sg_optim.optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start <- start + weight * (end - start)`` in place, rounded as PyTorch's ``lerp_``.

    PyTorch computes from whichever end is nearer (``weight < 0.5`` or not), which
    changes the last bit; matching it keeps step-by-step trajectories identical.
    """
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


class Adam(Optimizer):
    r"""Adam: gradient descent with a per-parameter step size.

    Adam keeps exponential moving averages of the gradient ``g`` (the first moment
    ``m``, a smoothed direction) and of its square (the second moment ``v``, a
    per-coordinate scale)::

        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2

    Both start at zero, so early averages are biased toward zero; dividing by
    ``1 - beta**t`` after ``t`` steps removes that bias. The step is then::

        p <- p - lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - beta1**t),
                                                    v_hat = v / (1 - beta2**t)

    so each coordinate moves by about ``lr`` whatever the gradient's scale. With
    ``amsgrad`` the running maximum of ``v`` is used instead of ``v``, so the step size
    never grows. ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2
    regularisation; see :class:`AdamW` for the decoupled form). The arithmetic follows
    PyTorch's implementation step for step.
    """

    decoupled_weight_decay = False
    state_keys = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas) if isinstance(betas, list) else betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any], where: Where) -> None:
        super()._check_hyperparameters(group, where)
        check_betas(where, group["betas"])
        check_non_negative(where, "eps", group["eps"], "epsilon value")
        check_non_negative(where, "weight_decay", group["weight_decay"], "weight_decay value")
        check_flag(where, "amsgrad", group["amsgrad"])

    def _required_state_keys(self, group: dict[str, Any]) -> set[str]:
        keys = {"step", "exp_avg", "exp_avg_sq"}
        if group["amsgrad"]:
            keys.add("max_exp_avg_sq")
        return keys

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        checked = self._checked_grads()
        for group, grads in zip(self.param_groups, checked):
            lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for p, g in grads:
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                t = int(state["step"])  # a count loaded as a numpy integer: Python's powers
                if weight_decay:
                    if self.decoupled_weight_decay:
                        p.data *= 1 - lr * weight_decay
                    else:
                        g = g + weight_decay * p.data
                m, v = state["exp_avg"], state["exp_avg_sq"]
                lerp_(m, g, 1 - beta1)
                v *= beta2
                v += (1 - beta2) * (g * g)
                bias_correction1 = 1 - beta1**t
                bias_correction2_sqrt = math.sqrt(1 - beta2**t)
                if group["amsgrad"]:
                    np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                    v = state["max_exp_avg_sq"]
                denom = np.sqrt(v) / bias_correction2_sqrt + eps
                p.data += (-lr / bias_correction1) * (m / denom)
        self._record_writes(checked)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov and Hutter).

    In Adam the L2 term is added to the gradient and then divided by ``sqrt(v)``, so
    parameters with large gradients are barely regularised. AdamW instead shrinks every
    parameter directly before the Adam step: ``p <- p * (1 - lr * weight_decay)``, then
    the Adam update with the plain gradient. The default ``weight_decay`` is ``1e-2``.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
