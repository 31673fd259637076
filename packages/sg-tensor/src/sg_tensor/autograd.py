"""Gradients as values: ``grad``, and the derivatives built on it (``hvp``, ``jacobian``,
``hessian``).

:meth:`Tensor.backward` accumulates gradients into ``.grad``; :func:`grad` returns them
instead, and with ``create_graph=True`` returns them as differentiable Tensors, so a
gradient can be differentiated again. Every higher derivative comes from the same
gradient rules as the first one: a rule run on Tensors records its own graph.

>>> import sg_tensor as st
>>> x = st.tensor([1.0, 2.0], requires_grad=True)
>>> (g,) = st.grad((x**3).sum(), x, create_graph=True)
>>> g.data
array([ 3., 12.])
>>> (h,) = st.grad(g.sum(), x)
>>> h.data
array([ 6., 12.])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sg_scalar import graph
from sg_tensor.tensor import Tensor

__all__ = ["grad", "hessian", "hvp", "jacobian"]

TensorOrTensors = Tensor | Sequence[Tensor]


def _as_tuple(name: str, what: str, value: Any) -> tuple[Tensor, ...]:
    if isinstance(value, Tensor):
        return (value,)
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            f"{name}(): {what} must be a Tensor or a sequence of Tensors, "
            f"got {type(value).__name__}"
        )
    items = tuple(value)
    if not items:
        raise ValueError(f"{name}(): {what} is empty")
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            raise TypeError(f"{name}(): {what}[{i}] must be a Tensor, got {type(item).__name__}")
    return items


def _seed(output: Tensor, given: Any, index: int, create_graph: bool) -> Any:
    """The gradient of the objective with respect to ``output``, as the driver wants it."""
    if given is None:
        if output.size != 1:
            raise RuntimeError(
                f"grad(): grad_outputs[{index}] can be omitted only for an output with one "
                f"element; outputs[{index}] has shape {output.shape}"
            )
        seed = np.ones(output.shape, dtype=output.dtype)
        return Tensor(seed) if create_graph else seed
    if isinstance(given, Tensor):
        if given.shape != output.shape:
            raise ValueError(
                f"grad(): grad_outputs[{index}] has shape {given.shape} but outputs[{index}] "
                f"has shape {output.shape}; they must match"
            )
        # With create_graph a seed that requires grad stays a node: the gradients are
        # then differentiable with respect to it too (a Jacobian-vector product trick).
        if not create_graph:
            return np.asarray(given.data, dtype=output.dtype)
        return given.astype(output.dtype) if given.dtype != output.dtype else given
    seed = np.array(given, dtype=output.dtype)
    if seed.shape != output.shape:
        raise ValueError(
            f"grad(): grad_outputs[{index}] has shape {seed.shape} but outputs[{index}] has "
            f"shape {output.shape}; they must match"
        )
    return Tensor(seed) if create_graph else seed


def _result(g: Any, x: Tensor) -> Tensor:
    """A gradient as a Tensor with the input's shape and dtype, owning its data."""
    if isinstance(g, Tensor):
        return g if g.dtype == x.dtype else g * np.ones((), dtype=x.dtype)
    array = np.array(g, dtype=x.dtype)  # a copy: never alias a seed or another gradient
    return Tensor(np.broadcast_to(array, x.shape).copy() if array.shape != x.shape else array)


def grad(
    outputs: TensorOrTensors,
    inputs: TensorOrTensors,
    grad_outputs: Any = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned, not accumulated.

    Computes ``d(sum_i <grad_outputs[i], outputs[i]>) / d inputs[j]`` for each input, as
    ``torch.autograd.grad`` does: one Tensor per input (a tuple, also for a single input),
    leaving every ``.grad`` untouched. ``grad_outputs`` may be omitted for outputs with
    one element. With ``create_graph=True`` the results are differentiable Tensors
    (differentiate them again for second derivatives); ``retain_graph`` defaults to
    ``create_graph``. An input the outputs do not depend on raises an error, or gives
    ``None`` with ``allow_unused=True``.
    """
    outs = _as_tuple("grad", "outputs", outputs)
    ins = _as_tuple("grad", "inputs", inputs)
    if grad_outputs is None:
        given: tuple[Any, ...] = (None,) * len(outs)
    elif isinstance(grad_outputs, (list, tuple)):
        given = tuple(grad_outputs)
    else:  # one Tensor, array or number: for a single output
        given = (grad_outputs,)
    if len(given) != len(outs):
        raise ValueError(
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
    seeds = [_seed(out, g, i, create_graph) for i, (out, g) in enumerate(zip(outs, given))]
    with np.errstate(all="ignore"):  # IEEE results (inf, nan) at domain edges
        raw = graph.grad(
            list(outs), list(ins), seeds, retain_graph=retain_graph, create_graph=create_graph
        )
    results: list[Tensor | None] = []
    for j, (g, x) in enumerate(zip(raw, ins)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad(): inputs[{j}] (shape {x.shape}) is not used by the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            results.append(None)
        else:
            results.append(_result(g, x))
    return tuple(results)


def _single(name: str, f: Callable[[Tensor], Tensor], x: Any) -> tuple[Tensor, Tensor]:
    """Evaluate ``f`` at a fresh leaf copy of ``x`` that requires grad."""
    array = np.array(x.data if isinstance(x, Tensor) else x)  # a copy: f may not write x
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    leaf = Tensor(array, requires_grad=True)
    out = f(leaf)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): f must return a Tensor, got {type(out).__name__}")
    return leaf, out


def _scalar_output(name: str, out: Tensor) -> None:
    if out.size != 1:
        raise ValueError(f"{name}(): f must return one element, got shape {out.shape}")


def _zeros_if_unused(g: Tensor | None, x: Tensor) -> np.ndarray:
    return np.zeros(x.shape, dtype=x.dtype) if g is None else g.data


def hvp(f: Callable[[Tensor], Tensor], x: Any, v: Any) -> tuple[Tensor, Tensor]:
    """``(f(x), H v)``: the Hessian of scalar ``f`` at ``x`` times the vector ``v``.

    Two reverse passes (the gradient with ``create_graph=True``, then the gradient of
    ``<grad f, v>``) instead of building the Hessian, as ``torch.autograd.functional.hvp``.
    ``x`` and ``v`` have the same shape; the results are plain (non-differentiable) Tensors.

    >>> import sg_tensor as st
    >>> value, hv = st.hvp(lambda x: (x**3).sum(), st.tensor([1.0, 2.0]), st.tensor([1.0, 1.0]))
    >>> hv.data
    array([ 6., 12.])
    """
    leaf, out = _single("hvp", f, x)
    _scalar_output("hvp", out)
    vector = np.asarray(v.data if isinstance(v, Tensor) else v, dtype=leaf.dtype)
    if vector.shape != leaf.shape:
        raise ValueError(f"hvp(): v has shape {vector.shape} but x has shape {leaf.shape}")
    if not out.requires_grad:  # f does not depend on x at all
        zeros = np.zeros(leaf.shape, dtype=leaf.dtype)
        return Tensor(out.data.copy()), Tensor(zeros)
    (g,) = grad(out, leaf, create_graph=True, allow_unused=True)
    if g is None or not g.requires_grad:  # f is at most linear in x: H = 0
        return Tensor(out.data.copy()), Tensor(np.zeros(leaf.shape, dtype=leaf.dtype))
    (hv,) = grad((g * vector).sum(), leaf, allow_unused=True)
    return Tensor(out.data.copy()), Tensor(_zeros_if_unused(hv, leaf))


def jacobian(f: Callable[[Tensor], Tensor], x: Any) -> Tensor:
    """The Jacobian of ``f`` at ``x``, shape ``f(x).shape + x.shape`` (for small inputs).

    One reverse pass per output element (each with a one-hot output gradient), as
    ``torch.autograd.functional.jacobian`` does by default.

    >>> import sg_tensor as st
    >>> st.jacobian(lambda x: x * x, st.tensor([1.0, 3.0])).data
    array([[2., 0.],
           [0., 6.]])
    """
    leaf, out = _single("jacobian", f, x)
    rows = np.zeros((out.size, leaf.size), dtype=np.result_type(out.dtype, leaf.dtype))
    if out.requires_grad:
        for k in range(out.size):
            seed = np.zeros(out.size, dtype=out.dtype)
            seed[k] = 1
            (g,) = grad(out, leaf, seed.reshape(out.shape), retain_graph=True, allow_unused=True)
            rows[k] = _zeros_if_unused(g, leaf).reshape(-1)
    return Tensor(rows.reshape(out.shape + leaf.shape))


def hessian(f: Callable[[Tensor], Tensor], x: Any) -> Tensor:
    """The Hessian of scalar ``f`` at ``x``, shape ``x.shape + x.shape`` (for small inputs).

    The Jacobian of the gradient: one differentiable gradient, then one reverse pass per
    element of ``x`` through it.

    >>> import sg_tensor as st
    >>> st.hessian(lambda x: (x[0] * x[1] ** 2), st.tensor([1.0, 3.0])).data
    array([[0., 6.],
           [6., 2.]])
    """
    leaf, out = _single("hessian", f, x)
    _scalar_output("hessian", out)
    rows = np.zeros((leaf.size, leaf.size), dtype=leaf.dtype)
    if out.requires_grad:
        (g,) = grad(out, leaf, create_graph=True, allow_unused=True)
        if g is not None and g.requires_grad:
            for k in range(leaf.size):
                seed = np.zeros(leaf.size, dtype=leaf.dtype)
                seed[k] = 1
                (row,) = grad(
                    g, leaf, seed.reshape(leaf.shape), retain_graph=True, allow_unused=True
                )
                rows[k] = _zeros_if_unused(row, leaf).reshape(-1)
    return Tensor(rows.reshape(leaf.shape + leaf.shape))
