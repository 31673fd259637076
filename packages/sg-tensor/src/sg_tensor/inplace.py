"""In-place operations: ``x.add_(y)``, ``x -= y``, ``x[i] = v``, ``x.zero_()``...

They write into the tensor's own array: the same Tensor object, the same array, still a
leaf that requires grad if it was one. That is what an optimizer's update does, so it is
allowed where no gradient can go wrong:

- inside ``no_grad()`` (``with no_grad(): w -= lr * w.grad``), or on a tensor that does
  not require grad;
- not on a tensor that requires grad while the graph is being recorded, nor writing an
  operand that requires grad into a tensor (``b += a``, ``b[0] = a``): PyTorch would
  record the operation; sg refuses it with an error naming the operation, never a
  silently wrong gradient;
- and a tensor modified after a graph used it makes that graph's ``backward()`` raise
  (:func:`sg_scalar.graph.refuse_modified`): the rules would read the new values.

The result keeps the tensor's shape and dtype (what cannot be written there is an
error), as in PyTorch.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from sg_scalar.graph import is_grad_enabled, no_grad, record_modification
from sg_tensor.arguments import normalize_index
from sg_tensor.capturing import refuse
from sg_tensor.tensor import Tensor

__all__ = ["METHODS", "InPlaceCastError", "install"]


def _writable(x: Tensor, name: str, *operands: Any) -> None:
    """Refuse an in-place operation that would make a gradient wrong: on a tensor that
    requires grad, or writing an operand that requires grad (the tensor would not depend
    on it: its share of the gradient would be lost)."""
    if not is_grad_enabled():
        return
    if x.requires_grad:
        what = "a leaf" if x._op is None else "the result of an operation"
        raise RuntimeError(
            f"{name}: in-place operation on a tensor that requires grad ({what}, shape "
            f"{x.shape}): its gradient would be wrong. Inside `with no_grad():` it is "
            "allowed (an optimizer's update); otherwise use the out-of-place form"
        )
    for operand in _flattened(operands):
        if isinstance(operand, Tensor) and operand.requires_grad:
            raise RuntimeError(
                f"{name}: the operand (shape {operand.shape}) requires grad, and an in-place "
                f"operation records no graph: the tensor written (shape {x.shape}) would not "
                "depend on it, and its gradient would be lost. Use the out-of-place form "
                "(b = b + a, torch.where, cat...), or detach() the operand"
            )


def _flattened(values: Any) -> list[Any]:
    """The values, with those inside lists and tuples (``b += [a[0], a[1]]``) taken out."""
    found = []
    for v in values:
        found.extend(_flattened(v) if isinstance(v, (list, tuple)) else [v])
    return found


def _value(other: Any) -> Any:
    return other.data if isinstance(other, Tensor) else other


class InPlaceCastError(TypeError, RuntimeError):
    """An in-place result of a higher kind than the tensor (a float into an integer
    tensor, an integer into a bool one). PyTorch raises a RuntimeError ("result type
    Float can't be cast to the desired output type Long"); this is both."""


# bool < integers < floating point: a result may be written into a tensor of its
# category or a higher one (PyTorch's can_cast for in-place results)
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _write(x: Tensor, name: str, result: Any) -> Tensor:
    """Store ``result`` in ``x``'s own array (same shape and dtype) and note the change."""
    refuse(f"an in-place operation ({name})")
    if not x.data.flags.writeable:
        raise ValueError(f"{name}: the tensor's array (shape {x.shape}) is read-only")
    result = np.asarray(result)
    if _CATEGORY.get(result.dtype.kind, 3) > _CATEGORY[x.dtype.kind]:
        what = "floating point" if result.dtype.kind == "f" else "an integer"
        raise InPlaceCastError(
            f"{name}: the result is {what} ({result.dtype}) but the tensor is {x.dtype}; "
            "an in-place operation keeps the tensor's dtype (PyTorch: result type "
            f"{result.dtype} can't be cast to the desired output type {x.dtype})"
        )
    try:
        np.copyto(x.data, np.broadcast_to(result, x.shape), casting="unsafe")
    except ValueError as error:
        raise ValueError(
            f"{name}: an operand of shape {result.shape} cannot be broadcast to the "
            f"tensor's shape {x.shape} ({error})"
        ) from None
    record_modification(x)
    return x


def _combine(x: Tensor, name: str, ufunc: np.ufunc, value: Any) -> Any:
    """``ufunc(x, value)``, or an error naming the operation and both shapes."""
    try:
        return ufunc(x.data, value)
    except ValueError:
        raise ValueError(
            f"{name}: an operand of shape {np.shape(value)} cannot be broadcast to the "
            f"tensor's shape {x.shape}"
        ) from None


def _scaled(name: str, ufunc: np.ufunc) -> Callable[..., Tensor]:
    """``add_``/``sub_``: ``x = x op alpha * other``, PyTorch's ``alpha``."""

    def method(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
        _writable(self, name, other, alpha)
        value = _value(other)
        if alpha != 1:
            value = np.multiply(value, alpha)
        return _write(self, name, _combine(self, name, ufunc, value))

    method.__name__ = name
    method.__doc__ = f"In place: ``x = x {ufunc.__name__} alpha * other``."
    return method


def _plain(name: str, ufunc: np.ufunc) -> Callable[[Tensor, Any], Tensor]:
    def method(self: Tensor, other: Any) -> Tensor:
        _writable(self, name, other)
        return _write(self, name, _combine(self, name, ufunc, _value(other)))

    method.__name__ = name
    method.__doc__ = f"In place: ``x = x {ufunc.__name__} other``."
    return method


def _inplace_via_operator(
    name: str, symbol: str, compute: Callable[[Any, Any], Any]
) -> Callable[[Tensor, Any], Tensor]:
    """``x op= other`` for an operator with no in-place kernel: the out-of-place
    ``x op other`` computed on a detached view, without a graph (so its values, dtype
    rules and errors are the operator's own), written into ``x``."""

    def method(self: Tensor, other: Any) -> Tensor:
        refuse(f"an in-place operation ({name})")
        _writable(self, name, other)
        with no_grad():
            result = compute(self.detach(), other.detach() if isinstance(other, Tensor) else other)
        return _write(self, name, result.data)

    method.__name__ = name
    method.__doc__ = f"In place: ``x {symbol}= other``, the values of ``x {symbol} other``."
    return method


def zero_(self: Tensor) -> Tensor:
    """In place: every element 0."""
    _writable(self, "zero_")
    return _write(self, "zero_", np.zeros((), dtype=self.dtype))


def fill_(self: Tensor, value: Any) -> Tensor:
    """In place: every element ``value``, converted to the tensor's dtype as PyTorch does:
    a float into an integer tensor is truncated toward zero (``fill_(2.7)`` gives 2), any
    number into a bool tensor is whether it is nonzero. A value an integer dtype cannot
    hold (nan, inf, 300 in uint8) is an error; a float tensor rounds as numpy does (1e300
    in float32 is inf, where PyTorch raises)."""
    _writable(self, "fill_", value)
    filler = np.asarray(_value(value))
    if self.dtype.kind in "iu" and filler.dtype.kind == "f":
        if not np.isfinite(filler).all():
            raise ValueError(f"fill_: cannot fill a tensor of dtype {self.dtype} with {filler}")
        filler = np.trunc(filler)
    if self.dtype.kind in "iu" and filler.dtype.kind in "iuf" and filler.size:
        info = np.iinfo(self.dtype)
        if filler.min() < info.min or filler.max() > info.max:
            raise ValueError(
                f"fill_: {filler} does not fit in the tensor's dtype {self.dtype} "
                f"({info.min} to {info.max})"
            )
    if self.dtype.kind in "biu":
        filler = filler.astype(self.dtype)
    return _write(self, "fill_", filler)


def copy_(self: Tensor, src: Any) -> Tensor:
    """In place: the values of ``src`` (broadcast to this tensor's shape)."""
    _writable(self, "copy_", src)
    return _write(self, "copy_", np.asarray(_value(src)).astype(self.dtype, copy=False))


def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """In place: ``clamp(min, max)`` (with ``min > max`` every element becomes ``max``)."""
    _writable(self, "clamp_", min, max)
    if min is None and max is None:
        raise ValueError("clamp_: give at least one of min and max")
    result = self.data
    if min is not None:
        result = np.maximum(result, _value(min))
    if max is not None:
        result = np.minimum(result, _value(max))
    return _write(self, "clamp_", result)


def setitem(self: Tensor, index: Any, value: Any) -> None:
    """``x[index] = value``: in place, as the other in-place operations."""
    refuse("an in-place operation (__setitem__)")
    _writable(self, "__setitem__", value)
    try:
        self.data[normalize_index(index, self.shape)] = _value(value)
    except (ValueError, TypeError) as error:
        raise type(error)(f"__setitem__: {error} (tensor shape {self.shape})") from None
    record_modification(self)


METHODS: dict[str, Callable[..., Any]] = {
    "add_": _scaled("add_", np.add),
    "sub_": _scaled("sub_", np.subtract),
    "mul_": _plain("mul_", np.multiply),
    "div_": _plain("div_", np.divide),
    "__iadd__": _plain("__iadd__", np.add),
    "__isub__": _plain("__isub__", np.subtract),
    "__imul__": _plain("__imul__", np.multiply),
    "__itruediv__": _plain("__itruediv__", np.divide),
    "__ipow__": _inplace_via_operator("__ipow__", "**", operator.pow),
    "__imod__": _inplace_via_operator("__imod__", "%", operator.mod),
    "__ifloordiv__": _inplace_via_operator("__ifloordiv__", "//", operator.floordiv),
    "__iand__": _inplace_via_operator("__iand__", "&", operator.and_),
    "__ior__": _inplace_via_operator("__ior__", "|", operator.or_),
    "__ixor__": _inplace_via_operator("__ixor__", "^", operator.xor),
    "zero_": zero_,
    "fill_": fill_,
    "copy_": copy_,
    "clamp_": clamp_,
    "__setitem__": setitem,
}
"""Every in-place method, by its name on ``Tensor``."""


def install() -> None:
    """Install the in-place methods on ``Tensor`` (called once by ``sg_tensor``)."""
    for name, method in METHODS.items():
        setattr(Tensor, name, method)
