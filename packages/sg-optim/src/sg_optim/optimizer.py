"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and checkpoints.

An optimizer holds the parameters it updates in *groups*: each group is a dict with
its ``"params"`` and its own hyperparameters (``lr``, ...), so different parts of a
model can learn at different rates. The *state* of each parameter (a step count,
moment estimates) lives in ``self.state``. Subclasses implement :meth:`step`, updating
``p.data`` in place from ``p.grad``; updates never build a graph.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np

from sg_tensor import Tensor

__all__ = ["Optimizer"]


def check_non_negative(name: str, value: float, optimizer: str) -> None:
    """Raise ``ValueError`` naming the optimizer unless ``value >= 0`` (``nan`` fails)."""
    if not value >= 0.0:  # also rejects nan
        raise ValueError(f"{optimizer}: invalid {name} {value!r}: must be >= 0")


def check_beta(name: str, value: float, optimizer: str) -> None:
    """Raise ``ValueError`` naming the optimizer unless ``0 <= value < 1``."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{optimizer}: invalid {name} {value!r}: must be in [0, 1)")


class Optimizer(ABC):
    """Base class of optimizers."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        items = list(params)
        if not items:
            raise ValueError(f"{type(self).__name__}: got an empty list of parameters")
        groups = items if isinstance(items[0], dict) else [{"params": items}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (others from the defaults)."""
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: parameters must be Tensors, got {type(p).__name__}"
                )
            if not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: a parameter does not require grad")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: a parameter appears in two groups")
            seen.add(id(p))
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        self._check_hyperparameters(full)
        full["params"] = params
        self.param_groups.append(full)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        """Raise ``ValueError`` naming any invalid hyperparameter (subclasses extend this)."""
        check_non_negative("lr", group["lr"], type(self).__name__)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients: to ``None`` (the default, as PyTorch), or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None if set_to_none else np.zeros_like(p.data)

    @abstractmethod
    def step(self) -> None:
        """Update every parameter that has a gradient, once."""

    def _params_with_grad(self, group: dict[str, Any]) -> list[Tensor]:
        return [p for p in group["params"] if p.grad is not None]

    @staticmethod
    def _grad(p: Tensor) -> np.ndarray:
        """``p.grad`` as an array; after ``backward(create_graph=True)`` it is a Tensor,
        whose graph a step does not extend (updates are never differentiated)."""
        g = p.grad
        return g.data if isinstance(g, Tensor) else g

    # -- checkpoints: parameters are referred to by their position across groups -------
    def state_dict(self) -> dict[str, Any]:
        """The hyperparameters and the per-parameter state, with parameters numbered."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            numbered = []
            for p in group["params"]:
                index[id(p)] = len(index)
                numbered.append(index[id(p)])
            groups.append(
                {**{k: v for k, v in group.items() if k != "params"}, "params": numbered}
            )
        state = {
            str(index[id(p)]): {
                k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()
            }
            for p, s in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict`."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the checkpoint has {len(groups)} "
                f"parameter groups, this optimizer has {len(self.param_groups)}"
            )
        params: list[tuple[int, Tensor]] = []
        for saved, group in zip(groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: a group has "
                    f"{len(saved['params'])} parameters in the checkpoint and "
                    f"{len(group['params'])} here"
                )
            params.extend(zip(saved["params"], group["params"]))
        by_index = dict(params)
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, value in state_dict["state"].items():
            p = by_index[int(key)]
            entry = {}
            for name, item in value.items():
                if isinstance(item, np.ndarray) and item.shape == p.shape:
                    entry[name] = item.astype(p.dtype, copy=True)  # a moment, a buffer
                elif isinstance(item, np.ndarray) and item.ndim == 0:
                    entry[name] = item.item()  # a count stored as an array
                elif isinstance(item, np.ndarray):
                    raise ValueError(
                        f"{type(self).__name__}.load_state_dict: state {name!r} of parameter "
                        f"{key} has shape {item.shape}, the parameter has {p.shape}"
                    )
                else:
                    entry[name] = copy.deepcopy(item)
            new_state[p] = entry
        for saved, group in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = tuple(v) if isinstance(group.get(k), tuple) else v
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        return "\n".join([*lines, ")"])
