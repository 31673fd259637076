"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and checkpoints.

An optimizer holds the parameters it updates in *groups*: each group is a dict with
its ``"params"`` and its own hyperparameters (``lr``, ...), so different parts of a
model can learn at different rates. The *state* of each parameter (a step count,
moment estimates) lives in ``self.state``. Subclasses implement :meth:`step`, updating
``p.data`` in place from ``p.grad``; updates never build a graph.

Bad input fails early and changes nothing: hyperparameters are checked when a group is
added, every gradient before a step updates anything, and a whole checkpoint before
:meth:`Optimizer.load_state_dict` applies it.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sg_optim._checks import (
    Where,
    check_non_negative,
    checked_buffer,
    checked_count,
    checked_grad,
    is_integer,
    is_real,
)
from sg_tensor import Tensor
from sg_tensor.capturing import replayed
from sg_tensor.versions import written

__all__ = ["Optimizer"]


class Optimizer(ABC):
    """Base class of optimizers."""

    #: every key the state of a parameter may hold (subclasses list theirs): ``"step"``
    #: is a count, the others are arrays of the parameter's shape
    state_keys: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A captured training step (sg_tensor.capture) runs step() and zero_grad() again
        # at every replay: they change state the tape does not record.
        super().__init_subclass__(**kwargs)
        replay_methods(cls, ("step", "zero_grad"))

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        # group index -> a copy of the group as last checked: a step checks a group again
        # only when it differs (a scheduler's new lr, a value edited by hand)
        self._checked_settings: dict[int, dict[str, Any]] = {}
        # a Tensor is iterable (over its rows) and a set has no stable order: refuse both
        if isinstance(params, (Tensor, set)) or not isinstance(params, Iterable):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts "
                f"(a list), got a {type(params).__name__}"
            )
        items = list(params)
        if not items:
            raise ValueError(f"{type(self).__name__}: got an empty list of parameters")
        groups = items if isinstance(items[0], dict) else [{"params": items}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (others from the defaults)."""
        where = Where(type(self).__name__, len(self.param_groups))
        if not isinstance(group, dict):
            raise TypeError(
                f"{where('params')}: a param group must be a dict, got a {type(group).__name__}"
            )
        if "params" not in group:
            raise ValueError(f"{where('params')}: a param group must have a 'params' entry")
        params = self._new_params(group["params"], where)
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        self._check_hyperparameters(full, where)
        full["params"] = params
        self.param_groups.append(full)

    def _new_params(self, params: Any, where: Where) -> list[Tensor]:
        """The parameters of a new group, as a list, once each is a trainable new Tensor."""
        if isinstance(params, set) or not isinstance(params, Iterable):
            raise TypeError(
                f"{where('params')}: expected a Tensor or a list of Tensors, got a "
                f"{type(params).__name__} (a set has no stable order)"
            )
        tensors = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(tensors):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{where(f'parameter {i}')}: parameters must be Tensors, got "
                    f"{type(p).__name__}"
                )
            # A frozen parameter (requires_grad False) is kept, as in PyTorch: it has no
            # gradient, so step() skips it (SGD(model.parameters()) after freezing a part).
            if not (p.is_leaf or p.retains_grad):
                raise ValueError(
                    f"{where(f'parameter {i}')}: can't optimize a non-leaf Tensor (the result "
                    f"of an operation, shape {p.shape}): optimize the leaves it is computed "
                    "from, or a detach()ed copy"
                )
            if id(p) in seen:
                raise ValueError(
                    f"{where(f'parameter {i}')}: a parameter appears in two groups (or twice)"
                )
            seen.add(id(p))
        return tensors

    def _check_hyperparameters(self, group: dict[str, Any], where: Where) -> None:
        """Raise naming any invalid hyperparameter of ``group`` (subclasses extend this)."""
        check_non_negative(where, "lr", group["lr"], "learning rate")

    @replayed
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients: to ``None`` (the default, as PyTorch), or to zeros (only
        those that exist: a parameter without a gradient keeps none, so step() skips it)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad = None if set_to_none else np.zeros_like(p.data)

    @abstractmethod
    def step(self) -> None:
        """Update every parameter that has a gradient, once."""

    def _checked_grads(self) -> list[list[tuple[Tensor, Any]]]:
        """For each group, its parameters that have a gradient, with the gradient's values.

        Every gradient is checked here, before :meth:`step` changes anything, so a bad
        one (wrong shape, not real numbers) fails the step leaving the parameters and the
        state as they were. After ``backward(create_graph=True)`` a gradient is a Tensor:
        its values are used, and its graph is not extended (updates are never
        differentiated).
        """
        owner = f"{type(self).__name__}.step"
        checked = []
        for g, group in enumerate(self.param_groups):
            self._recheck_settings(g, group, Where(owner, g))
            found = []
            for i, p in enumerate(group["params"]):
                grad = p.grad
                if grad is not None:
                    found.append((p, checked_grad(p, owner, g, i, grad)))
            checked.append(found)
        return checked

    def _recheck_settings(self, index: int, group: dict[str, Any], where: Where) -> None:
        """Check ``group``'s hyperparameters again if they changed since they were checked
        (``opt.param_groups[0]["lr"] = "x"``): each must still be of its kind (a real
        number, a flag, a pair of numbers), or the step would fail halfway through the
        parameters. Their ranges are checked when a group is added or loaded, as PyTorch
        checks them (a scheduler may take momentum to 0 with Nesterov on)."""
        last = self._checked_settings.get(index)
        try:
            unchanged = last is not None and last == group
        except (TypeError, ValueError):  # a value that does not compare (an array)
            unchanged = False
        if unchanged:
            return
        for key, default in self.defaults.items():
            if key not in group:
                raise KeyError(f"{where(key)}: the group has no {key}")
            _check_kind(where, key, group[key], default)
        # a copy whose values are copies too (a list of betas edited in place is seen)
        self._checked_settings[index] = {
            k: (v if k == "params" else copy.deepcopy(v)) for k, v in group.items()
        }

    @staticmethod
    def _record_writes(checked: list[list[tuple[Tensor, Any]]]) -> None:
        """The parameters of ``checked`` were just updated in place: a graph recorded
        before the step that reads one of them refuses its backward, as PyTorch's."""
        written(*[p for grads in checked for p, _ in grads])

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
        """Restore hyperparameters and state saved by :meth:`state_dict`.

        The whole checkpoint is checked first (its layout, each group's size and
        hyperparameters, each state entry's keys, types and shapes), so a bad one raises
        and leaves the optimizer as it was. Buffers are copied in their parameter's dtype;
        a step count keeps its type.
        """
        where = Where(f"{type(self).__name__}.load_state_dict")
        saved_groups, saved_state = self._checkpoint_parts(state_dict, where)
        params = self._match_groups(saved_groups, where)
        settings = [
            self._loaded_hyperparameters(saved, Where(where.owner, g))
            for g, saved in enumerate(saved_groups)
        ]
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, entry in saved_state.items():
            g, i, p = self._param_of(key, params, where)
            if p in new_state:
                raise ValueError(f"{where('state')}: two entries for parameter {key!r}")
            new_state[p] = self._loaded_state(entry, p, settings[g], Where(where.owner, g), i)
        # everything is valid: only now change the optimizer
        for group, values in zip(self.param_groups, settings):
            group.update(values)
        self.state = new_state

    @staticmethod
    def _checkpoint_parts(state_dict: Any, where: Where) -> tuple[list[Any], Mapping[Any, Any]]:
        """The checkpoint's groups and state, once they have the layout of :meth:`state_dict`."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"{where('state_dict')}: expected a dict from state_dict(), got a "
                f"{type(state_dict).__name__}"
            )
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise ValueError(f"{where('state_dict')}: the checkpoint has no {key!r} entry")
        groups, state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)) or not all(
            isinstance(g, Mapping) and "params" in g for g in groups
        ):
            raise TypeError(
                f"{where('param_groups')}: expected a list of dicts, each with a 'params' entry"
            )
        if not isinstance(state, Mapping):
            raise TypeError(f"{where('state')}: expected a dict, got a {type(state).__name__}")
        return list(groups), state

    def _match_groups(
        self, saved_groups: list[Any], where: Where
    ) -> dict[int, tuple[int, int, Tensor]]:
        """Checkpoint index -> (group, position in it, this optimizer's parameter)."""
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{where('param_groups')}: loaded state dict has a different number of "
                f"parameter groups: {len(saved_groups)} in the checkpoint, "
                f"{len(self.param_groups)} in this optimizer"
            )
        params: dict[int, tuple[int, int, Tensor]] = {}
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            indices = saved["params"]
            if not isinstance(indices, (list, tuple)) or not all(map(is_integer, indices)):
                raise TypeError(
                    f"{Where(where.owner, g)('params')}: expected a list of parameter indices"
                )
            if len(indices) != len(group["params"]):
                raise ValueError(
                    f"{Where(where.owner, g)('params')}: loaded state dict contains a parameter "
                    f"group that doesn't match the size of optimizer's group: "
                    f"{len(indices)} parameters in the checkpoint, {len(group['params'])} here"
                )
            for i, (index, p) in enumerate(zip(indices, group["params"])):
                if int(index) in params:
                    raise ValueError(
                        f"{Where(where.owner, g)(f'parameter {i}')}: index {index} is used twice"
                    )
                params[int(index)] = (g, i, p)
        return params

    def _loaded_hyperparameters(self, saved: Mapping[str, Any], where: Where) -> dict[str, Any]:
        """A copy of a checkpoint group's hyperparameters, once they are all present and valid."""
        missing = [k for k in self.defaults if k not in saved]
        if missing:
            raise ValueError(f"{where('hyperparameters')}: the checkpoint's group lacks {missing}")
        values = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
        for k, v in values.items():  # e.g. betas saved as a JSON list: back to a tuple
            if isinstance(self.defaults.get(k), tuple) and isinstance(v, list):
                values[k] = tuple(v)
        self._check_hyperparameters(values, where)
        return values

    @staticmethod
    def _param_of(
        key: Any, params: dict[int, tuple[int, int, Tensor]], where: Where
    ) -> tuple[int, int, Tensor]:
        """The parameter a state key refers to: its index, as an int or (state_dict()) a str."""
        index = int(key) if is_integer(key) or (isinstance(key, str) and key.isdecimal()) else -1
        if index not in params:
            raise ValueError(
                f"{where('state')}: key {key!r} is not the index of a parameter of the "
                "checkpoint's groups"
            )
        return params[index]

    def _loaded_state(
        self, entry: Any, p: Tensor, settings: dict[str, Any], where: Where, i: int
    ) -> dict[str, Any]:
        """A copy of one parameter's saved state, once it is what a step of it reads."""
        if not isinstance(entry, Mapping):
            raise TypeError(
                f"{where(f'parameter {i}')}: expected a dict of state, got a "
                f"{type(entry).__name__}"
            )
        if entry:  # empty: no step yet; the next step creates the state
            unknown = [k for k in entry if k not in self.state_keys]
            missing = sorted(self._required_state_keys(settings) - set(entry))
            if unknown or missing:
                raise ValueError(
                    f"{where(f'parameter {i}')}: state keys {sorted(map(str, entry))} do not "
                    f"fit {type(self).__name__} (unknown: {unknown}, missing: {missing})"
                )
        loaded = {}
        for name, value in entry.items():
            label = f"parameter {i}, state {name!r}"
            if name == "step":
                loaded[name] = checked_count(where, label, value)
            else:
                loaded[name] = checked_buffer(where, label, value, p)
        return loaded

    def _required_state_keys(self, group: dict[str, Any]) -> set[str]:
        """The keys a step of a parameter of ``group`` reads from its existing state."""
        return set(self.state_keys)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        return "\n".join([*lines, ")"])


def _check_kind(where: Where, key: str, value: Any, default: Any) -> None:
    """Raise unless ``value`` is of the kind of the default ``default``: a flag, a real
    number, or a tuple of as many real numbers."""
    if isinstance(default, bool):
        ok = isinstance(value, (bool, np.bool_))
        wanted = "True or False"
    elif isinstance(default, tuple):
        ok = isinstance(value, (tuple, list)) and len(value) == len(default)
        ok = ok and all(is_real(v) for v in value)
        wanted = f"a tuple of {len(default)} real numbers"
    elif is_real(default):
        ok, wanted = is_real(value), "a real number"
    else:
        return
    if not ok:
        raise TypeError(f"{where(key)}: expected {wanted}, got {value!r} "
                        f"({type(value).__name__})")  # fmt: skip


def replay_methods(cls: type, names: tuple[str, ...]) -> None:
    """Mark ``cls``'s own definitions of these methods as replayed by a captured step."""
    for name in names:
        method = cls.__dict__.get(name)
        if callable(method) and not getattr(method, "__sg_replayed__", False):
            setattr(cls, name, replayed(method))
