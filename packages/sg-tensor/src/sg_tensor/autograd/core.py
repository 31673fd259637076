"""The gradients as values, and the derivatives built on them: what
:mod:`sg_tensor.autograd` exports (see there), apart from the modules it gathers."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from sg_scalar import graph
from sg_scalar.graph import ShapeMismatchError
from sg_tensor import tensor as tensor_module
from sg_tensor.capturing import refuse
from sg_tensor.tensor import LEAF_HOOKS, Tensor, _run_hooks

__all__ = ["backward", "grad", "hessian", "hvp", "jacobian"]

TensorOrTensors = Tensor | Sequence[Tensor]


def _as_tuple(name: str, what: str, value: Any) -> tuple[Tensor, ...]:
    if isinstance(value, Tensor):
        return (value,)
    if isinstance(value, Iterator):  # model.parameters(), as PyTorch takes it
        value = tuple(value)
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            f"{name}(): {what} must be a Tensor or a sequence of Tensors, "
            f"got {type(value).__name__}"
        )
    items = tuple(value)
    if not items:
        raise ShapeMismatchError(f"{name}(): {what} is empty")
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
            raise ShapeMismatchError(
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
        raise ShapeMismatchError(
            f"grad(): grad_outputs[{index}] has shape {seed.shape} but outputs[{index}] has "
            f"shape {output.shape}; they must match"
        )
    return Tensor(seed) if create_graph else seed


def _result(g: Any, x: Tensor) -> Tensor:
    """A gradient as a Tensor with the input's shape and dtype, owning its data."""
    if isinstance(g, Tensor):
        return g if g.dtype == x.dtype else g.astype(x.dtype)
    array = np.array(g, dtype=x.dtype)  # a copy: never alias a seed or another gradient
    return Tensor(np.broadcast_to(array, x.shape).copy() if array.shape != x.shape else array)


def grad(
    outputs: TensorOrTensors,
    inputs: TensorOrTensors,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned, not accumulated.

    Computes ``d(sum_i <grad_outputs[i], outputs[i]>) / d inputs[j]`` for each input, as
    ``torch.autograd.grad`` does: one Tensor per input (a tuple, also for a single input),
    leaving every ``.grad`` untouched. ``grad_outputs`` may be omitted for outputs with
    one element. With ``create_graph=True`` the results are differentiable Tensors
    (differentiate them again for second derivatives); ``retain_graph`` defaults to
    ``create_graph``. An input the outputs do not depend on raises an error, or gives
    ``None`` with ``allow_unused=True`` (zeros with ``materialize_grads=True``). The
    arguments are PyTorch's, in its order; ``only_inputs`` is accepted and ignored, as
    PyTorch ignores it. Hooks registered on the inputs see their gradients.
    """
    refuse("autograd.grad()")
    if materialize_grads:
        allow_unused = True
    outs = _as_tuple("grad", "outputs", outputs)
    ins = _as_tuple("grad", "inputs", inputs)
    if grad_outputs is None:
        given: tuple[Any, ...] = (None,) * len(outs)
    elif isinstance(grad_outputs, (list, tuple)):
        given = tuple(grad_outputs)
    else:  # one Tensor, array or number: for a single output
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
    seeds = [_seed(out, g, i, create_graph) for i, (out, g) in enumerate(zip(outs, given))]
    with np.errstate(all="ignore"):  # IEEE results (inf, nan) at domain edges
        raw = graph.grad(
            list(outs), list(ins), seeds, retain_graph=retain_graph, create_graph=create_graph
        )
    results: list[Tensor | None] = []
    for j, (g, x) in enumerate(zip(raw, ins)):
        hooks = _hooks_of(x, ins)
        if g is not None and hooks:
            g = _run_hooks(hooks, g)
        if g is None and materialize_grads:
            results.append(Tensor(np.zeros(x.shape, dtype=x.dtype)))
            continue
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad(): inputs[{j}] (shape {x.shape}) is not used by the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            results.append(None)
        else:
            result = _result(g, x)
            if any(result is r for r in results):  # one node for two inputs: no aliases
                result = result * 1.0
            results.append(result)
    return tuple(results)


def _hooks_of(x: Tensor, inputs: tuple[Tensor, ...]) -> list[Any] | None:
    """The hooks registered on ``x`` (``x.register_hook``) that ``grad()`` runs on its
    gradient: a leaf's; a non-leaf's unless the pass went on through it to another input
    (then they ran in the pass, and PyTorch returns the gradient before them)."""
    if x._op is None:
        return LEAF_HOOKS.get(id(x)) if LEAF_HOOKS else None
    hooks: list[Any] | None = getattr(x._op, "hooks", None)
    if not hooks or _passed_through(x, inputs):
        return None
    return hooks


def _passed_through(x: Tensor, inputs: tuple[Tensor, ...]) -> bool:
    """Whether a pass to ``inputs`` runs the rule of the non-leaf ``x``: another input is
    among the tensors it was computed from."""
    others = {id(t) for t in inputs if t is not x}
    return bool(others) and any(id(node) in others for node in graph.topological_order(x))


def backward_into(
    root: Tensor, inputs: Any, given: Any, retain_graph: bool | None, create_graph: bool
) -> None:
    """``root.backward(given, inputs=inputs)``: the gradients of ``inputs`` only, added
    into their ``.grad``, after their hooks (each run once), as PyTorch's."""
    targets = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    # A hooked (or retained) intermediate the pass goes through runs its hooks there and
    # hands the result to its op's `keep` (retain_grad's store): during this pass `keep`
    # takes it as that target's gradient instead, once. grad() gives every other
    # target's gradient after its hooks already.
    after_hooks: dict[int, Any] = {}
    swapped = []
    for i, t in enumerate(targets):
        op = t._op
        if op is not None and hasattr(op, "keep"):
            swapped.append((op, op.keep))
            op.keep = functools.partial(after_hooks.__setitem__, i)
    try:
        found = grad(root, targets, given, retain_graph=retain_graph,
                     create_graph=create_graph, allow_unused=True)  # fmt: skip
    finally:
        for op, keep in swapped:
            op.keep = keep
    stored: set[int] = set()
    for i, (x, found_g) in enumerate(zip(targets, found)):
        if found_g is None:
            continue
        g: Any = after_hooks.get(i, found_g)
        if not create_graph:
            g = g.data if isinstance(g, Tensor) else np.asarray(g)
        x._accumulate_grad(g, stored, hooks=False)


Inputs = Any  # one array-like, or a tuple of them (then f takes several arguments)


def _leaves(name: str, inputs: Inputs) -> tuple[tuple[Tensor, ...], bool]:
    """Fresh float leaves (copies) of ``inputs``, and whether they came as a tuple."""
    is_tuple = isinstance(inputs, tuple)
    leaves = []
    for x in inputs if is_tuple else (inputs,):
        array = np.array(x.data if isinstance(x, Tensor) else x)  # a copy: f may not write x
        if array.dtype.kind != "f":
            array = array.astype(np.float64)
        leaves.append(Tensor(array, requires_grad=True))
    if not leaves:
        raise ShapeMismatchError(f"{name}(): inputs is an empty tuple")
    return tuple(leaves), is_tuple


def _call(name: str, f: Callable[..., Any], leaves: tuple[Tensor, ...]) -> Any:
    out = f(*leaves)
    for o in out if isinstance(out, tuple) else (out,):
        if not isinstance(o, Tensor):
            raise TypeError(f"{name}(): f must return a Tensor, got {type(o).__name__}")
    return out


def _scalar_output(name: str, out: Any) -> Tensor:
    if not isinstance(out, Tensor) or out.size != 1:
        shape = out.shape if isinstance(out, Tensor) else f"a tuple of {len(out)} Tensors"
        raise ShapeMismatchError(
            f"{name}(): f must return one Tensor with one element, got {shape}"
        )
    return out


def _grads(out: Tensor, leaves: tuple[Tensor, ...], **kwargs: Any) -> list[Tensor | None]:
    """grad() of ``out`` for every leaf, ``None`` for the leaves it does not depend on."""
    if not out.requires_grad:
        return [None] * len(leaves)
    return list(grad(out, leaves, allow_unused=True, **kwargs))


def _value(g: Tensor | None, x: Tensor) -> np.ndarray:
    return np.zeros(x.shape, dtype=x.dtype) if g is None else g.data


def _options(
    name: str, create_graph: bool, strict: bool = False, strategy: str = "reverse-mode"
) -> None:
    """PyTorch's keywords these helpers take: results without a graph, by reverse mode,
    and no ``strict`` independence check (asked for, it is a clear error)."""
    if strict:
        raise NotImplementedError(
            f"{name}(strict=True): sg does not check that the outputs depend on every input"
        )
    if create_graph:
        raise NotImplementedError(
            f"{name}(create_graph=True): sg's functional helpers return plain Tensors; for "
            "differentiable derivatives use sg_tensor.autograd.grad(..., create_graph=True)"
        )
    if strategy != "reverse-mode":
        raise ValueError(f"{name}: only strategy='reverse-mode' is available, got {strategy!r}")


def hvp(
    f: Callable[..., Tensor],
    inputs: Inputs,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Tensor, Any]:
    """``(f(x), H v)``: the Hessian of scalar ``f`` at ``inputs`` times the vector ``v``.

    Two reverse passes (the gradient with ``create_graph=True``, then the gradient of
    ``<grad f, v>``) instead of building the Hessian, as ``torch.autograd.functional.hvp``.
    ``v`` has the inputs' shape (a tuple of them for a tuple of inputs; it may be omitted
    for one input with one element). The results are plain (non-differentiable) Tensors.

    >>> import sg_tensor as st
    >>> value, hv = st.hvp(lambda x: (x**3).sum(), st.tensor([1.0, 2.0]), st.tensor([1.0, 1.0]))
    >>> hv.data
    array([ 6., 12.])
    """
    _options("hvp", create_graph, strict)
    with graph.enable_grad():  # as torch.autograd.functional: works inside no_grad()
        leaves, is_tuple = _leaves("hvp", inputs)
        if v is None:
            if len(leaves) != 1 or leaves[0].size != 1:
                raise ShapeMismatchError(
                    "hvp(): v can be omitted only for one input with one element"
                )
            v = (np.ones(leaves[0].shape),) if is_tuple else np.ones(leaves[0].shape)
        vs = tuple(v) if is_tuple else (v,)
        if len(vs) != len(leaves):
            raise ShapeMismatchError(f"hvp(): got {len(vs)} vectors v for {len(leaves)} inputs")
        vectors = []
        for i, (vi, x) in enumerate(zip(vs, leaves)):
            vector = np.asarray(vi.data if isinstance(vi, Tensor) else vi, dtype=x.dtype)
            if vector.shape != x.shape:
                raise ShapeMismatchError(
                    f"hvp(): v{f'[{i}]' if is_tuple else ''} has shape {vector.shape} but the "
                    f"input has shape {x.shape}"
                )
            vectors.append(vector)
        out = _scalar_output("hvp", _call("hvp", f, leaves))
        firsts = _grads(out, leaves, create_graph=True)
        # <grad f, v>, from the gradients that still depend on x (the others are constant)
        terms = [
            (g * vec).sum() for g, vec in zip(firsts, vectors) if g is not None and g.requires_grad
        ]
        seconds: list[Tensor | None] = [None] * len(leaves)
        if terms:
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            seconds = _grads(total, leaves)
        results = tuple(Tensor(_value(h, x)) for h, x in zip(seconds, leaves))
        return Tensor(out.data.copy()), results if is_tuple else results[0]


def jacobian(
    f: Callable[..., Any],
    inputs: Inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """The Jacobian of ``f`` at ``inputs``, shape ``f(x).shape + x.shape`` (small inputs).

    One reverse pass per output element (each with a one-hot output gradient), as
    ``torch.autograd.functional.jacobian`` does by default. As there, a tuple of inputs
    (or of outputs) gives a tuple of Jacobians, one per input (per output, then input).

    >>> import sg_tensor as st
    >>> st.jacobian(lambda x: x * x, st.tensor([1.0, 3.0])).data
    array([[2., 0.],
           [0., 6.]])
    """
    _options("jacobian", create_graph, strict, strategy)  # vectorize changes nothing here
    with graph.enable_grad():  # as torch.autograd.functional: works inside no_grad()
        leaves, inputs_tuple = _leaves("jacobian", inputs)
        out = _call("jacobian", f, leaves)
        outputs_tuple = isinstance(out, tuple)
        blocks = []
        for o in out if outputs_tuple else (out,):
            rows = [
                np.zeros((o.size, x.size), dtype=np.result_type(o.dtype, x.dtype)) for x in leaves
            ]
            for k in range(o.size if o.requires_grad else 0):
                seed = np.zeros(o.size, dtype=o.dtype)
                seed[k] = 1
                grads = _grads(o, leaves, grad_outputs=seed.reshape(o.shape), retain_graph=True)
                for row, g, x in zip(rows, grads, leaves):
                    row[k] = _value(g, x).reshape(-1)
            per_input = tuple(Tensor(r.reshape(o.shape + x.shape)) for r, x in zip(rows, leaves))
            blocks.append(per_input if inputs_tuple else per_input[0])
        return tuple(blocks) if outputs_tuple else blocks[0]


def hessian(
    f: Callable[..., Tensor],
    inputs: Inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
) -> Any:
    """The Hessian of scalar ``f`` at ``inputs``, shape ``x.shape + x.shape`` (small inputs).

    The Jacobian of the gradient: one differentiable gradient, then one reverse pass per
    element of ``x`` through it. For a tuple of inputs, a tuple of tuples: entry ``[i][j]``
    is ``d2 f / dx_i dx_j``, shape ``x_i.shape + x_j.shape``, as in
    ``torch.autograd.functional.hessian``.

    >>> import sg_tensor as st
    >>> st.hessian(lambda x: (x[0] * x[1] ** 2), st.tensor([1.0, 3.0])).data
    array([[0., 6.],
           [6., 2.]])
    """
    _options("hessian", create_graph, strict, outer_jacobian_strategy)
    with graph.enable_grad():  # as torch.autograd.functional: works inside no_grad()
        leaves, is_tuple = _leaves("hessian", inputs)
        out = _scalar_output("hessian", _call("hessian", f, leaves))
        firsts = _grads(out, leaves, create_graph=True)
        blocks = []
        for g_i, x_i in zip(firsts, leaves):
            rows = [np.zeros((x_i.size, x_j.size), dtype=x_i.dtype) for x_j in leaves]
            if g_i is not None and g_i.requires_grad:
                for k in range(x_i.size):
                    seed = np.zeros(x_i.size, dtype=x_i.dtype)
                    seed[k] = 1
                    seed_k = seed.reshape(x_i.shape)
                    seconds = _grads(g_i, leaves, grad_outputs=seed_k, retain_graph=True)
                    for row, h, x_j in zip(rows, seconds, leaves):
                        row[k] = _value(h, x_j).reshape(-1)
            blocks.append(
                tuple(Tensor(r.reshape(x_i.shape + x_j.shape)) for r, x_j in zip(rows, leaves))
            )
        return tuple(blocks) if is_tuple else blocks[0][0]


def backward(
    tensors: TensorOrTensors,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: TensorOrTensors | None = None,
) -> None:
    """``torch.autograd.backward``: ``t.backward(g)`` for each tensor (and its gradient),
    accumulating into the leaves' ``.grad`` (only into ``inputs`` when given)."""
    outs = _as_tuple("backward", "tensors", tensors)
    if grad_tensors is None:
        grads: tuple[Any, ...] = (None,) * len(outs)
    else:
        grads = tuple(grad_tensors) if isinstance(grad_tensors, (list, tuple)) else (grad_tensors,)
    if len(grads) != len(outs):
        raise ShapeMismatchError(
            f"backward(): got {len(grads)} grad_tensors for {len(outs)} tensors; give one each"
        )
    keep = create_graph if retain_graph is None else retain_graph
    # Every pass checked before the first: a refused later one would leave it summed
    if inputs is None:
        graph.refuse_modified(*outs)
    else:
        wanted = _as_tuple("backward", "inputs", inputs)
        for out in outs:
            graph.refuse_modified_toward([out], wanted)
    for k, (out, g) in enumerate(zip(outs, grads)):
        last = k == len(outs) - 1  # the graph may be shared: keep it until the last pass
        out.backward(g, retain_graph=keep or not last, create_graph=create_graph, inputs=inputs)


tensor_module.register_backward_into(backward_into)  # Tensor.backward(inputs=...)
