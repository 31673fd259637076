"""Driver and helper mutants: a copy of the backward driver with replaceable parts.

:func:`make_driver` rebuilds :func:`sg_scalar.graph.backward` from three parts (the
node order, how a pending gradient accumulates, the root's seed), so each driver mutant
replaces one part without editing ``graph.py``. The helper mutant is an
``unbroadcast`` that forgets stretched size-1 axes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sg_scalar import graph
from sg_verify.mutants.mutant import Mutant, Patch
from sg_verify.mutants.probes import _reuse


def _sum_pending(previous: Any, grad: Any) -> Any:
    return grad if previous is None else previous + grad


def _reverse_topological(root: Any) -> list[Any]:
    return list(reversed(graph.topological_order(root)))


def make_driver(
    *,
    order: Callable[[Any], list[Any]] = _reverse_topological,
    accumulate: Callable[[Any, Any], Any] = _sum_pending,
    seed: Callable[[Any], Any] | None = None,
) -> Callable[..., None]:
    """A copy of :func:`sg_scalar.graph.backward` with replaceable parts.

    ``order(root)`` lists the nodes in the order their rules run (reverse topological
    order); ``accumulate(previous, grad)`` combines a parent's pending gradient with a
    new contribution (``previous`` is ``None`` for the first); ``seed(s)`` transforms
    the root's seed. With the defaults it computes what the real driver computes (a
    test checks this), without its hand-unrolled fast paths; the driver mutants replace
    one part each. This lets the driver be mutated without editing ``graph.py``.
    """

    def backward(
        root: Any, root_seed: Any, *, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        if retain_graph is None:
            retain_graph = create_graph
        nodes = order(root)
        root._pending = root_seed if seed is None else seed(root_seed)
        try:
            with graph.set_grad_enabled(create_graph):
                for node in nodes:
                    g = node._pending
                    node._pending = None
                    op = node._op
                    if op is None:
                        if g is not None:
                            node._accumulate_grad(g)
                        continue
                    if op is graph.RELEASED:
                        op.vjp(g, node)  # raises GraphReleasedError
                    parents, ctx = node._parents, node._ctx
                    if not retain_graph:
                        node._op = graph.RELEASED
                        node._parents = ()
                        node._ctx = None
                    if g is None:
                        continue
                    if root._retains_grad:
                        node.grad = node.grad + g
                    kwargs = dict(ctx or {})
                    if op.needs_input_grad:
                        kwargs["needs_input_grad"] = tuple(p.requires_grad for p in parents)
                    if create_graph:
                        grads = op.vjp(g, node, *parents, **kwargs)
                    else:
                        grads = op.vjp(g, node.data, *[p.data for p in parents], **kwargs)
                    for parent, grad in zip(parents, grads):
                        if grad is not None and parent.requires_grad:
                            parent._pending = accumulate(parent._pending, grad)
        finally:  # a node left pending by a broken order must not leak into a later pass
            for node in nodes:
                node._pending = None

    return backward


def _assign_pending(previous: Any, grad: Any) -> Any:
    """The "assignment instead of accumulation" slip: ``pending = grad``."""
    return grad


def _preorder(root: Any) -> list[Any]:
    """Depth-first pre-order: a node runs as soon as it is first reached, before all its
    consumers have contributed (right on trees, wrong on a diamond)."""
    nodes, seen, stack = [], {id(root)}, [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        for parent in reversed(node._parents):
            if parent.requires_grad and id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return nodes


def _ones_seed(seed: Any) -> Any:
    """The output gradient ignored: backward as if it were all ones."""
    return 1.0 if isinstance(seed, float) else np.ones_like(seed)


def _unbroadcast_leading_only(g: Any, shape: tuple[int, ...]) -> Any:
    """unbroadcast summing the added leading axes but not the stretched size-1 axes."""
    extra = g.ndim - len(shape)
    return g.sum(axis=tuple(range(extra))) if extra > 0 else g


def _driver_mutants(engine: str) -> list[Mutant]:
    reuse = _reuse(engine)

    def driver(label: str, description: str, note: str, **parts: Any) -> Mutant:
        """A driver mutant: :func:`make_driver` with ``parts`` replaced, on the reuse probes."""
        return Mutant(
            name=f"{engine}:<driver>:{label}",
            operator="<driver>",
            engine=engine,
            kind="driver",
            description=description,
            patches=(Patch(graph, "backward", lambda original: make_driver(**parts)),),
            spec_ops=None,
            probes=reuse,
            note=note,
        )

    return [
        driver(
            "assign_not_accumulate",
            "the backward driver assigns a parent's pending gradient instead of adding "
            "to it, so only the last consumer's contribution survives",
            "Visible only where a node is used twice (x*x, x*y + x, a diamond).",
            accumulate=_assign_pending,
        ),
        driver(
            "preorder",
            "the backward driver runs each node's rule as soon as a depth-first walk "
            "reaches it, before all its consumers have added their gradient",
            "Visible only on a diamond: an intermediate node with two consumers.",
            order=_preorder,
        ),
        driver(
            "seed_ignored",
            "backward ignores the output gradient it is given and seeds with ones",
            "Caught because both oracles draw a random output cotangent.",
            seed=_ones_seed,
        ),
    ]
