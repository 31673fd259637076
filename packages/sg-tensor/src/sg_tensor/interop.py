"""numpy's protocols: ``np.exp(tensor)`` and ``array + tensor`` run sg's operators.

numpy hands any call that involves a Tensor to ``Tensor.__array_ufunc__`` (ufuncs such
as ``np.add``) or ``Tensor.__array_function__`` (functions such as ``np.sum``). Those
that an operator declares as its numpy counterpart (``numpy=np.sum`` in its entry) run
that operator, so the result is a differentiable Tensor; this is also what lets a
gradient rule written with numpy functions run on tensors. Any other numpy function
runs on the plain arrays, which is only allowed when no gradient could be lost silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sg_scalar.declare import Form
from sg_scalar.graph import is_grad_enabled
from sg_tensor.capturing import computed, recording, refuse
from sg_tensor.tensor import Tensor

UFUNCS: dict[Any, Callable[..., Any]] = {}
"""numpy ufunc -> the sg call it runs (filled from the declarations)."""
FUNCTIONS: dict[Any, Callable[..., Any]] = {}
"""numpy function -> the sg call it runs (filled from the declarations)."""


def register(form: Form, call: Callable[..., Any]) -> None:
    """Make numpy's ``form.target`` run ``call`` on tensors (numpy keywords renamed)."""
    target, to_sg = form.target, {numpy: sg for sg, numpy in form.rename.items()}
    if to_sg:
        renamed = call

        def call(*args: Any, **kwargs: Any) -> Any:
            return renamed(*args, **{to_sg.get(k, k): v for k, v in kwargs.items()})

    (UFUNCS if isinstance(target, np.ufunc) else FUNCTIONS)[target] = call
    for alias in ("amax", "amin"):  # names some numpy versions keep as separate functions
        if getattr(np, alias, None) is not None and target is getattr(np, alias[1:], None):
            FUNCTIONS[getattr(np, alias)] = call


_REFLECTED = {
    "greater": "less", "greater_equal": "less_equal", "less": "greater",
    "less_equal": "greater_equal", "equal": "equal", "not_equal": "not_equal",
}  # fmt: skip
"""Each comparison with its operands swapped (``a < b`` is ``b > a``)."""


def _compare(name: str) -> Callable[[Any, Any], Any]:
    """A comparison as the tensor's own: Python routes ``np.float64(0.1) < t`` through
    numpy's ufunc, and it must promote as ``t > np.float64(0.1)`` does (PyTorch's)."""

    def compare(a: Any, b: Any) -> Any:
        if isinstance(a, Tensor):
            return a._compare(b, getattr(np, name))
        return b._compare(a, getattr(np, _REFLECTED[name]))

    return compare


for _name in _REFLECTED:
    UFUNCS[getattr(np, _name)] = _compare(_name)  # not differentiable: boolean results
FUNCTIONS[np.ndim] = lambda a: a.ndim if isinstance(a, Tensor) else np.ndim(a)
FUNCTIONS[np.shape] = lambda a: a.shape if isinstance(a, Tensor) else np.shape(a)


def _tensors_in(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors_in(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors_in(item)]
    return []


def _unwrap(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _on_plain_arrays(name: str, call: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    """Run a numpy function sg does not differentiate on the plain arrays, if that is safe."""
    if is_grad_enabled() and any(t.requires_grad for t in _tensors_in((args, kwargs))):
        raise TypeError(
            f"numpy's {name} is not differentiable in sg and its input requires grad; "
            "use sg's operators, or pass .detach() (or .data) to leave the graph on purpose"
        )
    plain_args, plain_kwargs = _unwrap(args), _unwrap(kwargs)
    if recording() is None:
        return call(*plain_args, **plain_kwargs)
    # In a captured step: remade at every replay from that replay's arrays, unless it
    # gives a Python value (a bool an `if` reads), which no replay could change.
    result = call(*plain_args, **plain_kwargs)
    if not isinstance(result, (np.ndarray, np.generic, tuple)):
        refuse(f"numpy's {name}, which gives a {type(result).__name__} read from the values")
    return computed(call, *plain_args, **plain_kwargs)


def array_ufunc(ufunc: Any, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Dispatch a numpy ufunc call that involves a Tensor."""
    fn = UFUNCS.get(ufunc)
    if method == "__call__" and fn is not None and not kwargs:
        return fn(*inputs)
    return _on_plain_arrays(
        f"{ufunc.__name__}.{method}" if method != "__call__" else ufunc.__name__,
        getattr(ufunc, method),
        inputs,
        kwargs,
    )


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Dispatch a numpy function call that involves a Tensor."""
    fn = FUNCTIONS.get(func)
    if fn is not None:
        try:
            return fn(*args, **kwargs)
        except TypeError as error:  # an argument sg does not support (out=, dtype=, ...)
            if "argument" not in str(error):
                raise
    return _on_plain_arrays(func.__name__, func, args, kwargs)


def _array_ufunc(self: Tensor, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """``np.exp(t)``, ``array + t``: numpy ufuncs on tensors run sg's operators."""
    return array_ufunc(ufunc, method, inputs, kwargs)


def _array_function(self: Tensor, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    """``np.sum(t)``, ``np.where(c, t, 0)``: numpy functions on tensors run sg's operators."""
    return array_function(func, args, kwargs)


def install(tensor: type[Tensor]) -> None:
    """Give ``Tensor`` numpy's two protocols."""
    tensor.__array_ufunc__ = _array_ufunc  # type: ignore[attr-defined]
    tensor.__array_function__ = _array_function  # type: ignore[attr-defined]
