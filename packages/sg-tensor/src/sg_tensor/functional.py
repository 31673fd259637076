"""The operators as functions: ``sg_tensor.exp(x)``, ``sg_tensor.where(c, a, b)``, ...

Every function here is made from an operator's declaration by :mod:`sg_tensor.api`
(which also fills ``__all__``): it accepts tensors, numpy arrays and numbers and runs
the same entry as the ``Tensor`` method of the same name, so there is one code path per
operator. ``sg_tensor.DECLARATIONS`` lists them all with their forms.
"""

from __future__ import annotations

from collections.abc import Callable

from sg_tensor.tensor import Tensor, as_tensor

__all__ = ["as_tensor"]  # and every operator function, added by sg_tensor.api.install()


def __getattr__(name: str) -> Callable[..., Tensor]:
    """No such function (type checkers read this signature for the installed functions)."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
