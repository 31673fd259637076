"""``grad``: gradients returned as Values instead of accumulated into ``.grad``.

With ``create_graph=True`` the returned gradients are differentiable Values, so a
derivative can be differentiated again; the higher derivatives come from the same rules
as the first one (each rule, run on Values, records its own graph).

>>> from sg_scalar import Value, grad
>>> x = Value(2.0)
>>> (dy,) = grad(x**3, x, create_graph=True)
>>> dy.data
12.0
>>> (d2y,) = grad(dy, x)
>>> d2y.data
12.0
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from sg_scalar import graph
from sg_scalar.graph import ShapeMismatchError
from sg_scalar.value import Value

__all__ = ["grad"]


def _as_tuple(what: str, value: Any) -> tuple[Value, ...]:
    if isinstance(value, Value):
        return (value,)
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            f"grad(): {what} must be a Value or a sequence of Values, got {type(value).__name__}"
        )
    items = tuple(value)
    if not items:
        raise ShapeMismatchError(f"grad(): {what} is empty")
    for i, item in enumerate(items):
        if not isinstance(item, Value):
            raise TypeError(f"grad(): {what}[{i}] must be a Value, got {type(item).__name__}")
    return items


def _seed(given: Any, index: int, create_graph: bool) -> Any:
    if given is None:
        given = 1.0
    if isinstance(given, Value):
        # With create_graph a seed that requires grad stays a node, so the gradients
        # are differentiable with respect to it as well.
        return given if create_graph else given.data
    if not isinstance(given, numbers.Real):
        raise TypeError(
            f"grad(): grad_outputs[{index}] must be a number or a Value, "
            f"got {type(given).__name__}"
        )
    return Value(float(given), requires_grad=False) if create_graph else float(given)


def grad(
    outputs: Value | Sequence[Value],
    inputs: Value | Sequence[Value],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Value | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned, not accumulated.

    Computes ``d(sum_i grad_outputs[i] * outputs[i]) / d inputs[j]`` (``grad_outputs``
    defaults to ones) as a tuple of Values, one per input, like ``torch.autograd.grad``;
    no ``.grad`` changes. With ``create_graph=True`` the results are differentiable;
    ``retain_graph`` defaults to ``create_graph``. An input the outputs do not depend on
    raises an error, or gives ``None`` with ``allow_unused=True``.
    """
    outs = _as_tuple("outputs", outputs)
    ins = _as_tuple("inputs", inputs)
    if grad_outputs is None:
        given: tuple[Any, ...] = (None,) * len(outs)
    elif isinstance(grad_outputs, (list, tuple)):
        given = tuple(grad_outputs)
    else:  # one number or Value, for a single output (_seed rejects anything else)
        given = (grad_outputs,)
    if len(given) != len(outs):
        raise ShapeMismatchError(
            f"grad(): got {len(given)} grad_outputs for {len(outs)} outputs; give one each"
        )
    for i, out in enumerate(outs):
        if not out.requires_grad:
            raise RuntimeError(
                f"grad(): outputs[{i}] does not require grad, so nothing can be "
                "differentiated: no input of it requires grad, or it was computed inside "
                "no_grad() (for a second derivative, pass create_graph=True to the first grad())"
            )
    for j, x in enumerate(ins):
        if not x.requires_grad:
            raise RuntimeError(
                f"grad(): inputs[{j}] does not require grad; create it with requires_grad=True"
            )
    seeds = [_seed(g, i, create_graph) for i, g in enumerate(given)]
    raw = graph.grad(
        list(outs), list(ins), seeds, retain_graph=retain_graph, create_graph=create_graph
    )
    results: list[Value | None] = []
    for j, g in enumerate(raw):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad(): inputs[{j}] is not used by the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            results.append(None)
        else:
            results.append(g if isinstance(g, Value) else Value(g, requires_grad=False))
    return tuple(results)
