"""numpy's protocols: ``np.exp(tensor)`` and ``array + tensor`` run sg's operators.

numpy hands any call that involves a Tensor to ``Tensor.__array_ufunc__`` (ufuncs such
as ``np.add``) or ``Tensor.__array_function__`` (functions such as ``np.sum``). Those
with an sg operator run it, so the result is a differentiable Tensor; this is also
what lets a gradient rule written with numpy functions run on tensors. Any other
numpy function runs on the plain arrays, which is only allowed when no gradient could
be lost silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sg_scalar.graph import is_grad_enabled
from sg_tensor import functional as F
from sg_tensor.tensor import Tensor


def _compare(name: str) -> Callable[[Any, Any], Tensor]:
    def compare(a: Any, b: Any) -> Tensor:
        result = getattr(np, name)(*(x.data if isinstance(x, Tensor) else x for x in (a, b)))
        return Tensor(np.asarray(result))

    return compare


UFUNCS: dict[Any, Callable[..., Tensor]] = {
    np.add: F.add,
    np.subtract: F.sub,
    np.multiply: F.mul,
    np.true_divide: F.div,
    np.power: F.pow,
    np.maximum: F.maximum,
    np.minimum: F.minimum,
    np.matmul: F.matmul,
    np.negative: F.neg,
    np.exp: F.exp,
    np.log: F.log,
    np.sqrt: F.sqrt,
    np.absolute: F.abs,
    np.sin: F.sin,
    np.cos: F.cos,
    np.tanh: F.tanh,
    np.greater: _compare("greater"),
    np.greater_equal: _compare("greater_equal"),
    np.less: _compare("less"),
    np.less_equal: _compare("less_equal"),
    np.equal: _compare("equal"),
    np.not_equal: _compare("not_equal"),
}


def _reduction(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def reduce(a: Any, axis: Any = None, *, keepdims: bool = False, **kwargs: Any) -> Tensor:
        return fn(a, axis=axis, keepdims=keepdims, **kwargs)

    return reduce


FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.sum: _reduction(F.sum),
    np.mean: _reduction(F.mean),
    np.max: _reduction(F.max),
    np.min: _reduction(F.min),
    np.var: _reduction(F.var),
    np.std: _reduction(F.std),
    np.reshape: lambda a, shape: F.reshape(a, shape),
    np.transpose: lambda a, axes=None: F.transpose(a, axes),
    np.swapaxes: F.swapaxes,
    np.broadcast_to: lambda array, shape: F.broadcast_to(array, shape),
    np.squeeze: lambda a, axis=None: F.squeeze(a, axis),
    np.expand_dims: lambda a, axis: F.unsqueeze(a, axis),
    np.where: F.where,
    np.concatenate: lambda arrays, axis=0: F.concatenate(arrays, axis),
    np.stack: lambda arrays, axis=0: F.stack(arrays, axis),
    np.split: lambda ary, indices_or_sections, axis=0: F.split(ary, indices_or_sections, axis),
    np.clip: lambda a, a_min=None, a_max=None: F.clip(a, a_min, a_max),
    np.ndim: lambda a: a.ndim if isinstance(a, Tensor) else np.ndim(a),
    np.shape: lambda a: a.shape if isinstance(a, Tensor) else np.shape(a),
}
for _name in ("amax", "amin"):  # aliases that some numpy versions keep as separate functions
    if hasattr(np, _name) and getattr(np, _name) not in FUNCTIONS:
        FUNCTIONS[getattr(np, _name)] = FUNCTIONS[np.max if _name == "amax" else np.min]


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
    return call(*_unwrap(args), **_unwrap(kwargs))


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
