"""Forward hooks: :meth:`Module.register_forward_hook` and the handle that removes one.

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
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

__all__ = ["ForwardHook", "RemovableHandle"]

ForwardHook = Callable[[Any, tuple[Any, ...], Any], Any]
"""``hook(module, inputs, output)``, returning ``None`` or an output to use instead."""


class RemovableHandle:
    """What :meth:`Module.register_forward_hook` returns: ``handle.remove()`` unregisters
    the hook (also usable as ``with module.register_forward_hook(hook): ...``)."""

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
