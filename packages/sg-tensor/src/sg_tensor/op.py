"""How a tensor operator is declared: ``@op(name, forward)`` above its gradient rule.

The rules are plain functions of numpy arrays. They receive the output gradient ``g``,
the forward result ``out`` and the inputs under their forward names (plus keyword
arguments such as ``axis``), and return one gradient per input. They are written with
arithmetic, numpy functions and array methods only, so that the same rule also runs on
``Tensor`` nodes when a gradient must itself be differentiable.

Broadcasting is undone in exactly one place, :func:`unbroadcast`, which the declaration
applies to every input gradient of a broadcasting operator: no rule sums over
broadcast axes by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sg_scalar.graph import Op, Rule

__all__ = [
    "OPS",
    "TensorOp",
    "call",
    "data",
    "fit",
    "fitted",
    "indicator",
    "op",
    "quiet",
    "unbroadcast",
]

OPS: dict[str, TensorOp] = {}
"""Every tensor operator that has a gradient rule, by name."""


class TensorOp(Op):
    """An :class:`~sg_scalar.graph.Op` that also keeps the undecorated rule."""

    __slots__ = ("broadcasts", "rule")

    def __init__(
        self,
        name: str,
        forward: Callable[..., Any],
        rule: Rule,
        broadcasts: bool,
        needs_input_grad: bool,
        twice_differentiable: bool = True,
    ) -> None:
        vjp = fitted(rule) if broadcasts else rule
        super().__init__(
            name,
            forward,
            vjp,
            needs_input_grad=needs_input_grad,
            twice_differentiable=twice_differentiable,
        )
        self.rule = rule
        self.broadcasts = broadcasts


def op(
    name: str,
    forward: Callable[..., Any],
    *,
    broadcasts: bool = False,
    needs_input_grad: bool = False,
    twice_differentiable: bool = True,
) -> Callable[[Rule], TensorOp]:
    """Declare an operator: its forward here, its gradient rule below.

    ``broadcasts=True`` marks binary operators whose two inputs may have been broadcast
    against each other; their gradients are reduced back to each input's shape and dtype.
    ``needs_input_grad=True`` passes the rule a tuple saying which inputs need a
    gradient, for rules where skipping one saves real work.
    ``twice_differentiable=False`` marks a rule that cannot run on Tensors: a second
    derivative through it raises ``NotTwiceDifferentiableError`` (every rule here can).
    """

    def register(rule: Rule) -> TensorOp:
        if name in OPS:
            raise ValueError(f"operator {name!r} is declared twice")
        OPS[name] = TensorOp(
            name, forward, rule, broadcasts, needs_input_grad, twice_differentiable
        )
        return OPS[name]

    return register


def call(name: str, *inputs: Any, **ctx: Any) -> Any:
    """Run operator ``name`` inside a gradient rule: on arrays, or on nodes as a node.

    Rules mostly use arithmetic and numpy functions, which Tensors intercept. An operator
    numpy has no function for (``scatter``, ``erf``) is called through here, so that the
    rule still records a differentiable graph when it runs on Tensors (second order).
    """
    operator = OPS[name]
    if any(hasattr(x, "_op") for x in inputs):
        if _node_apply is None:  # pragma: no cover - sg_tensor's import registers it
            raise RuntimeError("import sg_tensor before calling operators on nodes")
        return _node_apply(operator, inputs, ctx)
    return operator.forward(*inputs, **ctx)


NodeApply = Callable[[Op, Any, dict[str, Any]], Any]
_node_apply: NodeApply | None = None


def register_node_apply(apply: NodeApply) -> None:
    """Called once by :mod:`sg_tensor.tensor` (which imports this module, not the reverse)."""
    global _node_apply
    _node_apply = apply


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes that broadcasting added or stretched, giving ``shape``.

    Broadcasting copies an input along new leading axes and along its size-1 axes, so
    the gradient of each copy flows back to the one original: a sum over those axes.
    """
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    # Sum the added leading axes away, then the stretched size-1 axes keeping them.
    # (np.add.reduce on raw arrays: the same sum without the method's Python wrapper.)
    total = np.add.reduce if type(g) is np.ndarray else _method_sum
    if extra:
        g = total(g, axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = total(g, axis=stretched, keepdims=True)
    return g


def _method_sum(g: Any, axis: tuple[int, ...], keepdims: bool = False) -> Any:
    return g.sum(axis=axis, keepdims=keepdims)


def fit(g: Any, x: Any) -> Any:
    """``g`` with the shape and dtype of the input ``x`` it is the gradient of."""
    if g is None:
        return None
    if g.shape != x.shape:
        g = unbroadcast(g, x.shape)
    if g.dtype != x.dtype and x.dtype.kind == "f":
        g = g.astype(x.dtype)
    return g


def fitted(rule: Rule) -> Rule:
    """Wrap a binary rule so each gradient is fitted to its input (see :func:`unbroadcast`)."""

    def vjp(g: Any, out: Any, a: Any, b: Any, **ctx: Any) -> tuple[Any, Any]:
        ga, gb = rule(g, out, a, b, **ctx)
        return fit(ga, a), fit(gb, b)

    vjp.__doc__ = rule.__doc__
    vjp.__wrapped__ = rule  # type: ignore[attr-defined]
    return vjp


def quiet(forward: Callable[..., Any]) -> Callable[..., Any]:
    """A forward that returns IEEE results (inf, nan) without numpy's RuntimeWarnings.

    Used for operators with domain edges (log 0, sqrt of a negative, x / 0), which
    follow IEEE arithmetic as PyTorch does rather than warning on every call.
    """

    def quiet_forward(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return forward(*args, **kwargs)

    quiet_forward.__name__ = getattr(forward, "__name__", "forward")
    return quiet_forward


def indicator(like: Any, values: Any) -> Any:
    """``values`` computed from ``like``'s data (a mask, a sign), for a rule to multiply by.

    On raw data this is ``values`` itself. On nodes (second order) it is a node that
    depends on ``like`` with derivative zero, the derivative of a piecewise-constant
    function: the rule's gradient then stays on the graph, as PyTorch's does, and
    differentiates to zero instead of refusing to be differentiated again.
    """
    if type(like) is np.ndarray or not hasattr(like, "_op"):
        return values
    return like._indicator(values)


def data(x: Any) -> Any:
    """The array behind a node, or the array itself: for masks, which carry no gradient."""
    if type(x) is np.ndarray:  # the common case first: hasattr on an array is slow
        return x
    return x.data if hasattr(x, "_op") else x
