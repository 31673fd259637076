"""Forward hooks and forward pre-hooks (:meth:`Module.register_forward_hook`,
:meth:`Module.register_forward_pre_hook`) and the handle that removes one.

>>> import numpy as np
>>> import sg_nn as nn
>>> layer = nn.Linear(2, 3, rng=np.random.default_rng(0))
>>> shapes = []
>>> handle = layer.register_forward_hook(lambda module, inputs, out: shapes.append(out.shape))
>>> _ = layer(np.ones((4, 2)))
>>> handle.remove()
>>> _ = layer(np.ones((5, 2)))
>>> shapes
[(4, 3)]
>>> doubled = layer(np.full((1, 2), 2.0))
>>> handle = layer.register_forward_pre_hook(lambda module, args: args[0] * 2)
>>> bool(np.all(layer(np.ones((1, 2))).data == doubled.data))  # the hook doubled the input
True
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

__all__ = ["ForwardHook", "ForwardPreHook", "RemovableHandle"]

ForwardHook = Callable[[Any, tuple[Any, ...], Any], Any]
"""``hook(module, inputs, output)``, returning ``None`` or an output to use instead."""

ForwardPreHook = Callable[..., Any]
"""``hook(module, args)``, returning ``None`` or the arguments to use instead (a tuple, or
one argument); with ``with_kwargs=True``, ``hook(module, args, kwargs)`` returning ``None``
or ``(args, kwargs)``."""


class RemovableHandle:
    """What :meth:`Module.register_forward_hook` and :meth:`Module.register_forward_pre_hook`
    return: ``handle.remove()`` unregisters the hook (also usable as
    ``with module.register_forward_hook(hook): ...``)."""

    _ids = count()

    def __init__(self, hooks: dict[int, Any]) -> None:
        self.hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        """Unregister the hook; removing it again does nothing."""
        self.hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
