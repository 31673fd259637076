"""Checks shared by the optimizers and schedulers: arguments, gradients, checkpoint state.

Every error starts with *where* the bad value was found, e.g. ``Adam (param group 1,
lr)`` or ``SGD.step (param group 0, parameter 2)``, and then, where torch.optim has
one, repeats its wording: ``Invalid learning rate: -5``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from sg_tensor import ShapeMismatchError, Tensor

#: numpy dtype kinds of real numbers: floating, signed and unsigned integers
REAL_KINDS = "fiu"
_ndarray = np.ndarray


@dataclass(frozen=True)
class Where:
    """The prefix of a message: ``Where("Adam", 1)("lr")`` is ``"Adam (param group 1, lr)"``."""

    owner: str
    group: int | None = None

    def __call__(self, name: str) -> str:
        place = name if self.group is None else f"param group {self.group}, {name}"
        return f"{self.owner} ({place})"


# -- numbers ----------------------------------------------------------------------------
def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (Python or numpy int or float), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_integer(value: Any) -> bool:
    """Whether ``value`` is a Python or numpy integer, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_real(where: Where, name: str, value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is a real number."""
    if not is_real(value):
        raise TypeError(
            f"{where(name)}: expected a real number, got {value!r} ({type(value).__name__})"
        )


def check_non_negative(where: Where, name: str, value: Any, what: str) -> None:
    """Raise unless ``value`` is a real number ``>= 0`` (``nan`` fails); ``what`` is
    torch.optim's word for it ("learning rate", "momentum value", ...)."""
    check_real(where, name, value)
    if not value >= 0:  # also rejects nan
        raise ValueError(f"{where(name)}: Invalid {what}: {value}, must be >= 0")


def check_positive_integer(where: Where, name: str, value: Any) -> None:
    """Raise unless ``value`` is an integer ``> 0`` (a count of epochs)."""
    if not is_integer(value):
        raise TypeError(
            f"{where(name)}: expected a positive integer, got {value!r} ({type(value).__name__})"
        )
    if value <= 0:
        raise ValueError(f"{where(name)}: Expected a positive integer {name}, but got {value}")


def check_flag(where: Where, name: str, value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is a bool (``amsgrad="no"`` would be true)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where(name)}: expected True or False, got {value!r}")


def check_betas(where: Where, betas: Any) -> None:
    """Raise unless ``betas`` is a pair of numbers in ``[0, 1)``."""
    if not isinstance(betas, (tuple, list)):
        raise TypeError(f"{where('betas')}: expected a pair (beta1, beta2), got {betas!r}")
    if len(betas) != 2:
        raise ValueError(f"{where('betas')}: expected a pair (beta1, beta2), got {betas!r}")
    for index, beta in enumerate(betas):
        name = f"betas[{index}]"
        check_real(where, name, beta)
        if not 0.0 <= beta < 1.0:
            raise ValueError(
                f"{where(name)}: Invalid beta parameter at index {index}: {beta}, "
                "must be in [0, 1)"
            )


# -- gradients --------------------------------------------------------------------------
def checked_grad(p: Tensor, owner: str, group: int, index: int, g: Any = None) -> Any:
    """The values of ``p.grad`` (``g``, when the caller read it already: an array, or a
    numpy scalar for a 0-d ``p``), once they are real numbers of ``p``'s shape. This runs
    for every parameter at every step: the usual array is let through by one test; the
    message is built only on failure."""
    if g is None:
        g = p.grad
    data = p.data  # (a 0-d parameter's may be a numpy scalar, which `-=` rebinds)
    if data.dtype.kind != "f" or (type(data) is _ndarray and not data.flags.writeable):
        # the update would fail halfway
        what = "read-only" if data.dtype.kind == "f" else f"of dtype {data.dtype}"
        raise TypeError(f"{Where(owner, group)(f'parameter {index}')}: the parameter is "
                        f"{what}; an optimizer updates writable floating-point arrays in "
                        f"place")  # fmt: skip
    if type(g) is _ndarray and g.shape == data.shape and g.dtype.kind in REAL_KINDS:
        return g
    values = g.data if isinstance(g, Tensor) else g
    if not isinstance(values, (np.ndarray, np.generic)) or values.dtype.kind not in REAL_KINDS:
        raise TypeError(
            f"{Where(owner, group)(f'parameter {index}')}: the gradient is {_describe(g)}; "
            f"expected a numpy array or Tensor of real numbers of the parameter's shape "
            f"{p.shape}"
        )
    if values.shape != p.shape:
        raise ShapeMismatchError(
            f"{Where(owner, group)(f'parameter {index}')}: the gradient has shape "
            f"{values.shape} but the parameter has shape {p.shape}"
        )
    return values


def _describe(value: Any) -> str:
    """``"a list"``, ``"a ndarray of dtype complex128 and shape (2,)"``, ..."""
    values = value.data if isinstance(value, Tensor) else value
    if isinstance(values, (np.ndarray, np.generic)):
        return f"a {type(value).__name__} of dtype {values.dtype} and shape {values.shape}"
    return f"a {type(value).__name__}"


# -- checkpoint state -------------------------------------------------------------------
def checked_count(where: Where, name: str, value: Any) -> Any:
    """A copy of a saved step count, of the same type: an integer ``>= 0`` (Python or
    numpy), or a 0-d integer array (a count never becomes a float, nor an array a number)."""
    is_array = isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu"
    if not (is_integer(value) or is_array):
        raise TypeError(f"{where(name)}: expected an integer count, got {_describe(value)}")
    if value < 0:
        raise ValueError(f"{where(name)}: expected a count >= 0, got {value}")
    return value.copy() if is_array else value


def checked_buffer(where: Where, name: str, value: Any, p: Tensor) -> np.ndarray:
    """A copy of a saved buffer (a moment estimate) in ``p``'s dtype, once it is a floating
    array of ``p``'s shape. A numpy scalar is refused: buffers are updated in place."""
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        raise TypeError(
            f"{where(name)}: expected a floating-point numpy array of the parameter's shape "
            f"{p.shape}, got {_describe(value)}"
        )
    if value.shape != p.shape:
        raise ShapeMismatchError(
            f"{where(name)}: the state has shape {value.shape} but the parameter has shape "
            f"{p.shape}"
        )
    return value.astype(p.dtype, copy=True)  # as PyTorch, floating state takes p's dtype
