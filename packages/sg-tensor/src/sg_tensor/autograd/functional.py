"""``torch.autograd.functional`` in sg: ``vjp``, ``jvp``, ``hvp``, ``jacobian``, ``hessian``.

Each takes a function and its inputs (one array-like, or a tuple of them for a function
of several arguments) and returns plain Tensors, as PyTorch's do:

- ``vjp(f, x, v)``: ``(f(x), v^T J)``, one reverse pass;
- ``jvp(f, x, v)``: ``(f(x), J v)``, two reverse passes (the "double vjp" trick: the
  vector-Jacobian product is linear in its output gradient ``u``, so differentiating
  ``<vjp(u), v>`` with respect to ``u`` gives ``J v``);
- ``vhp``: ``v^T H``, which is ``H v`` (a Hessian is symmetric);
- ``hvp``, ``jacobian``, ``hessian``: see :mod:`sg_tensor.autograd`.

PyTorch's keywords are taken: ``vectorize`` changes nothing; ``create_graph=True`` and
``strict=True`` are clear errors (use :func:`sg_tensor.autograd.grad` for differentiable
derivatives).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sg_scalar import graph
from sg_scalar.graph import ShapeMismatchError
from sg_tensor.autograd.core import (
    Inputs,
    _call,
    _leaves,
    _options,
    _value,
    grad,
    hessian,
    hvp,
    jacobian,
)
from sg_tensor.tensor import Tensor

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def _vectors(name: str, v: Any, like: tuple[Tensor, ...], is_tuple: bool, of: str) -> list[Any]:
    """``v`` as one array per tensor of ``like`` (their shapes), or a clear error."""
    if v is None:
        if len(like) != 1 or like[0].size != 1:
            raise ShapeMismatchError(
                f"{name}(): v can be omitted only for one {of} of one element"
            )
        return [np.ones(like[0].shape, dtype=like[0].dtype)]
    vs = tuple(v) if is_tuple else (v,)
    if len(vs) != len(like):
        raise ShapeMismatchError(f"{name}(): got {len(vs)} vectors v for {len(like)} {of}s")
    vectors = []
    for i, (vi, t) in enumerate(zip(vs, like)):
        vector = np.asarray(vi.data if isinstance(vi, Tensor) else vi, dtype=t.dtype)
        if vector.shape != t.shape:
            raise ShapeMismatchError(
                f"{name}(): v{f'[{i}]' if is_tuple else ''} has shape {vector.shape} but the "
                f"{of} has shape {t.shape}"
            )
        vectors.append(vector)
    return vectors


def _outputs(out: Any) -> tuple[tuple[Tensor, ...], bool]:
    return (tuple(out), True) if isinstance(out, tuple) else ((out,), False)


def _detached(outs: tuple[Tensor, ...], is_tuple: bool) -> Any:
    copies = tuple(Tensor(o.data.copy()) for o in outs)
    return copies if is_tuple else copies[0]


def vjp(
    func: Callable[..., Any],
    inputs: Inputs,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """``(func(inputs), v^T J)``: the vector-Jacobian product, as
    ``torch.autograd.functional.vjp``. ``v`` has the output's shape (a tuple for a
    tuple of outputs; it may be omitted for one output with one element).

    >>> import sg_tensor as st
    >>> out, g = st.autograd.functional.vjp(lambda x: x * x, st.tensor([1.0, 2.0]), [1.0, 1.0])
    >>> g.data
    array([2., 4.])
    """
    _options("vjp", create_graph, strict)
    with graph.enable_grad():
        leaves, inputs_tuple = _leaves("vjp", inputs)
        outs, outputs_tuple = _outputs(_call("vjp", func, leaves))
        vectors = _vectors("vjp", v, outs, outputs_tuple, "output")
        pairs = [(o, u) for o, u in zip(outs, vectors) if o.requires_grad]
        found: list[Any] = [None] * len(leaves)
        if pairs:
            found = list(grad([o for o, _ in pairs], leaves, [u for _, u in pairs],
                              allow_unused=True))  # fmt: skip
        results = tuple(Tensor(_value(g, x)) for g, x in zip(found, leaves))
        return _detached(outs, outputs_tuple), results if inputs_tuple else results[0]


def jvp(
    func: Callable[..., Any],
    inputs: Inputs,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """``(func(inputs), J v)``: the Jacobian-vector product, as
    ``torch.autograd.functional.jvp``. ``v`` has the inputs' shape (a tuple for a tuple
    of inputs; it may be omitted for one input of one element).

    >>> import sg_tensor as st
    >>> out, jv = st.autograd.functional.jvp(lambda x: x * x, st.tensor([1.0, 2.0]), [1.0, 0.0])
    >>> jv.data
    array([2., 0.])
    """
    _options("jvp", create_graph, strict)
    with graph.enable_grad():
        leaves, inputs_tuple = _leaves("jvp", inputs)
        vectors = _vectors("jvp", v, leaves, inputs_tuple, "input")
        outs, outputs_tuple = _outputs(_call("jvp", func, leaves))
        # u: a stand-in output gradient; the vjp is linear in it, so d<vjp(u), v>/du = J v
        us = [Tensor(np.zeros(o.shape, dtype=o.dtype), requires_grad=True) for o in outs]
        pairs = [(o, u) for o, u in zip(outs, us) if o.requires_grad]
        jvs: list[Any] = [None] * len(outs)
        if pairs:
            firsts = grad([o for o, _ in pairs], leaves, [u for _, u in pairs],
                          create_graph=True, allow_unused=True)  # fmt: skip
            terms = [(g * vec).sum() for g, vec in zip(firsts, vectors)
                     if g is not None and g.requires_grad]  # fmt: skip
            if terms:
                total = terms[0]
                for term in terms[1:]:
                    total = total + term
                jvs = list(grad(total, us, allow_unused=True))
        results = tuple(Tensor(_value(j, o)) for j, o in zip(jvs, outs))
        return _detached(outs, outputs_tuple), results if outputs_tuple else results[0]


def vhp(func: Callable[..., Any], inputs: Inputs, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:  # fmt: skip
    """``torch.autograd.functional.vhp``: ``(func(inputs), v^T H)``, which is ``H v`` (a
    Hessian of a twice continuously differentiable function is symmetric)."""
    return hvp(func, inputs, v, create_graph, strict)
