"""Mutants of the shared machinery: the backward driver's seams and the broadcasting fit.

The driver (:func:`sg_scalar.graph.backward`) looks up its steps on every pass: the node
order, the seed and how a node's gradients combine. Each driver mutant replaces one of
them in the real driver. The helper mutants break ``unbroadcast`` or skip the fit that
brings every gradient to its input's shape (``Tensor._fit_gradient``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sg_scalar import graph
from sg_tensor import op as tensor_op_module
from sg_tensor import shapes as tensor_shapes
from sg_tensor.tensor import Tensor
from sg_verify.mutants.mutant import Mutant, Patch
from sg_verify.registry import OpSpec, declarations


def _keep_last(previous: Any, gradient: Any) -> Any:
    """The "assignment instead of accumulation" slip: ``pending = grad``."""
    return gradient


def _preorder(*roots: Any) -> list[Any]:
    """Depth-first pre-order, reversed so that the driver runs it forwards: a node runs as
    soon as it is first reached, before all its consumers have contributed (right on
    trees, wrong on a diamond)."""
    nodes, seen, stack = [], {id(r) for r in roots}, list(reversed(roots))
    while stack:
        node = stack.pop()
        nodes.append(node)
        for parent in reversed(node._parents):
            if parent.requires_grad and id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return nodes[::-1]


def _ones(root: Any, gradient: Any) -> Any:
    """The output gradient ignored: backward as if it were all ones."""
    return 1.0 if isinstance(gradient, float) else np.ones_like(gradient)


def _unbroadcast_leading_only(g: Any, shape: tuple[int, ...]) -> Any:
    """unbroadcast summing the added leading axes but not the stretched size-1 axes."""
    extra = g.ndim - len(shape)
    return g.sum(axis=tuple(range(extra))) if extra > 0 else g


def _no_fit(g: Any, x: Any, op: Any, index: int) -> Any:
    """The driver keeps each gradient as the rule returned it: broadcast axes not summed."""
    return g


def _diamond(x: Any) -> Any:
    h = x.sin()  # one intermediate node with two consumers
    return h.exp() * h.cos()


def reuse_probes(engine: str) -> tuple[OpSpec, ...]:
    """Expressions that use a node twice, the driver mutants' witnesses: the only place
    where summing a node's gradients matters."""
    shape: tuple[int, ...] = (3, 4) if engine == "tensor" else ()

    def sample(n: int) -> Any:
        return lambda rng: [np.asarray(rng.standard_normal(shape)) for _ in range(n)]

    cases: list[tuple[str, str, Callable[..., Any], int]] = [
        ("reuse[x*x]", "mul", lambda x: x * x, 1),
        ("reuse[x*y+x]", "add", lambda x, y: x * y + x, 2),
        ("reuse[diamond]", "mul", _diamond, 1),
    ]
    return tuple(
        OpSpec(name=f"probe:{name}", engine=engine, op=op, sg=fn, torch=fn, sample=sample(n),
               covers=(op,))
        for name, op, fn, n in cases
    )  # fmt: skip


def machinery_mutants(engine: str) -> list[Mutant]:
    """The driver mutants of ``engine`` (checked on every spec and the reuse probes) and,
    for the tensor engine, the helper mutants."""
    reuse = reuse_probes(engine)

    def mutant(label: str, kind: str, patches: tuple[Patch, ...], note: str, doc: str) -> Mutant:
        reuse_only = label in ("assign_not_accumulate", "preorder")
        return Mutant(
            name=f"{engine}:<{'driver' if kind == 'driver' else 'unbroadcast'}>:{label}",
            operator="<driver>" if kind == "driver" else "<unbroadcast>",
            engine=engine,
            kind=kind,
            description=" ".join(doc.split()),
            patches=patches,
            spec_ops=None if kind == "driver" else _BROADCASTING,
            probes=reuse if kind == "driver" else (),
            note=note,
            samples=1,
            # the complex step checks one operator on distinct inputs: never a reuse
            blind=frozenset({"cs"}) if reuse_only else frozenset(),
        )

    def seam(name: str, replacement: Any) -> tuple[Patch, ...]:
        return (Patch(graph, name, lambda original: replacement),)

    mutants = [
        mutant("assign_not_accumulate", "driver", seam("accumulate", _keep_last),
               "Visible only where a node is used twice (x*x, x*y + x, a diamond).",
               _keep_last.__doc__ or ""),
        mutant("preorder", "driver", seam("topological_order", _preorder),
               "Visible only on a diamond: an intermediate node with two consumers.",
               _preorder.__doc__ or ""),
        mutant("seed_ignored", "driver", seam("seed", _ones),
               "Caught because both oracles draw a random output cotangent.",
               _ones.__doc__ or ""),
    ]  # fmt: skip
    if engine == "tensor":
        leading = (
            Patch(tensor_op_module, "unbroadcast", lambda o: _unbroadcast_leading_only),
            Patch(tensor_shapes, "unbroadcast", lambda o: _unbroadcast_leading_only),
        )
        mutants += [
            mutant("leading_axes_only", "helper", leading,
                   "Visible only where an input had a size-1 axis stretched.",
                   _unbroadcast_leading_only.__doc__ or ""),
            mutant("fit_skipped", "helper",
                   (Patch(Tensor, "_fit_gradient", lambda o: staticmethod(_no_fit)),),
                   "Invisible on specs where every input has the output's shape.",
                   _no_fit.__doc__ or ""),
        ]  # fmt: skip
    return mutants


_BROADCASTING = frozenset(
    d.name
    for d in declarations("tensor")
    if d.signature in ("binary", "matmul", "where") or "broadcast_to" in (d.name, *d.uses)
)
"""The operators whose gradients broadcasting shapes: where a broken fit shows."""
