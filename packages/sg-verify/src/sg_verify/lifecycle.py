"""Graph lifecycle through the real backward driver: sg checked against itself, exactly.

The oracles check the numbers of one backward pass on a fresh graph. What happens around
that pass is the driver's (:mod:`sg_scalar.graph`) and the node types': passes repeated
on one graph, a pass that fails halfway, ``grad()`` of an output given twice, a spec
applied to intermediate nodes, a second-order pass, and the freeing of the graph.
:func:`lifecycle_check` checks each for one registry spec, with no PyTorch and no finite
differences: every comparison is against sg's own first-order gradient ``G(v)`` on a fresh
graph (:func:`sg_verify.properties.public_grads`), exactly (equal values, see
:func:`sg_verify.properties.difference`) where the same operations run in the same
order, else within the rounding tolerance said at each property:

- **repeated passes**: ``backward(v, retain_graph=True)`` twice leaves ``.grad = G + G``
  exactly (leaves accumulate); a third pass without ``retain_graph`` gives
  ``(G + G) + G``; a fourth, and a pass from a new node built on the freed output, raise
  :class:`~sg_scalar.graph.GraphReleasedError` and change no ``.grad``;
- **a rule that raises mid-pass**: the spec is applied to intermediate nodes whose rules
  raise (:func:`failing_inputs`), so that in any valid order the spec's rules have run,
  and a gradient is waiting in a leaf's ``_pending`` slot, when the failure comes. What the
  driver guarantees, and what is checked, for ``backward()`` and ``grad()``: the error
  reaches the caller, every ``_pending`` slot of the graph is cleared, no leaf's
  ``.grad`` changed (no leaf is reached before the failure), and a clean pass on a
  fresh graph over the same leaves gives exactly ``G`` (leaves that *were* reached
  before a failure keep what they received, as in PyTorch: the driver does not roll
  back);
- **grad() of one output given twice**, ``grad([y, y], x, [v1, v2])``: ``G(v1) + G(v2)``
  to within :data:`~sg_verify.properties.LINEARITY_TOL` (the gradients add up, as in
  PyTorch), and twice ``G(1)`` without ``grad_outputs`` for a one-element output;
- **non-leaf inputs**: the spec applied to ``x * 1.0`` and ``x + 0.0`` gives the leaves
  exactly ``G`` (multiplying by one and adding zero are exact), and ``grad()`` with
  respect to those intermediate nodes returns ``G`` without running or freeing the graph
  below them;
- **second order** (where the operators support ``create_graph=True``; an operator
  declared not twice differentiable must raise ``NotTwiceDifferentiableError``): the
  differentiable first-order gradient has ``G``'s values; the Hessian of
  ``<f(x), v>`` computed by two ``grad()`` calls is symmetric (``<H w1, w2> = <w1,
  H w2>``); ``backward()`` through the first-order gradient stores exactly what
  ``grad()`` returns; and the gradient of ``s = <G(V), w>`` with respect to the output
  gradient ``V`` itself (a Jacobian-vector product) satisfies ``<dS/dV, v> = s``, which
  holds because a gradient is linear in ``V`` (Euler's identity). These compare sg with
  itself, to within :data:`SECOND_ORDER_TOL`. Self-consistency has a blind spot: a wrong
  second derivative that stays symmetric (the diagonal of a one-input operator's
  Hessian, say ``exp``'s rule differentiated as if ``out`` were a constant) passes;
  the finite-difference and PyTorch second-order oracles are there for that;
- **a freed graph**: the spec applied to intermediate nodes (``x * 1.0``, ``x + 0.0``),
  then a pass without ``retain_graph``: every node of the graph has the released marker,
  no parents and no context, refers (``gc.get_referents``, through the containers it
  holds) to no node, and every one but the output is gone once the caller holds only the
  output and the leaves.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

import sg_tensor as st
from sg_scalar import Value, graph, no_grad
from sg_scalar.graph import GraphReleasedError, NotTwiceDifferentiableError, Op
from sg_verify.oracles import OracleResult
from sg_verify.properties import (
    Findings,
    coarsest,
    difference,
    engine_grad,
    graph_nodes,
    leaves,
    linear_gap,
    linearity_tol,
    public_grads,
    seed_of,
    snapshot,
)
from sg_verify.registry import OpSpec

__all__ = [
    "SECOND_ORDER_TOL",
    "RuleFailedError",
    "failing_inputs",
    "lifecycle_check",
    "lifecycle_findings",
    "second_order_tol",
]

SECOND_ORDER_TOL = 1e-10
"""How far apart two second-order quantities that are equal in exact arithmetic may be,
as ``|p - q| / max(1, sum of the magnitudes of the products summed into p and q)``.

``<H w1, w2>`` and ``<w1, H w2>`` (and ``<dS/dV, v>`` and ``s``) are sums over every
input element of products of second-order gradients, which are themselves sums of up to
a few dozen products of first-order factors (a product rule doubles the terms at each
level). Each term carries a relative rounding error of at most ~100 ``u`` (``u ~
1.1e-16``), so the two sides differ by at most ~1e-14 of the summed magnitudes; over
the registry at several seeds the largest measured is 4.4e-14 (``std`` with ``ddof=1``).
1e-10 leaves a wide margin and still fails a rule whose second derivative is missing or
wrong (off by O(1) of the terms).
"""


def second_order_tol(dtype: Any) -> float:
    """:data:`SECOND_ORDER_TOL` for quantities computed in ``dtype`` (an output gradient
    of a float32 output is rounded to float32)."""
    return SECOND_ORDER_TOL * float(np.finfo(dtype).eps / np.finfo(np.float64).eps)


class RuleFailedError(RuntimeError):
    """Raised on purpose by the failing rule of the mid-pass failure property."""


def lifecycle_check(spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0) -> OracleResult:
    """Check every lifecycle property of the module docstring for ``spec`` at ``arrays``.

    Exact, needs no PyTorch; the output gradients and weights are drawn from ``seed``.
    Returns one result named ``"lifecycle"``: ``worst`` is the largest violation
    (``inf`` for a property that fails outright), ``where`` names it (every failure:
    :func:`lifecycle_findings`).
    """
    return lifecycle_findings(spec, arrays, seed).result()


def lifecycle_findings(spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0) -> Findings:
    """Every measure of :func:`lifecycle_check`, each failure with its property."""
    found = Findings("lifecycle", spec.name)
    rng = np.random.default_rng(seed)
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    with np.errstate(all="ignore"):
        with found.guard("forward"), no_grad():
            out = np.asarray(spec.sg(*leaves(spec.engine, arrays, [False] * len(arrays))).data)
        if found.failures:
            return found
        v1, v2 = rng.standard_normal(out.shape), rng.standard_normal(out.shape)
        tol = linearity_tol(coarsest(out.dtype, np.float64))
        reference: list[np.ndarray | None] = []
        with found.guard("reference pass"):
            reference = public_grads(spec, arrays, v1)
        if found.failures:
            return found
        with found.guard("repeated passes"):
            _repeated(spec, arrays, v1, reference, found)
        with found.guard("rule raising mid-pass"):
            _failing_rule(spec, arrays, v1, reference, found)
        with found.guard("grad() of one output twice"):
            _output_twice(spec, arrays, v1, v2, reference, tol, found)
        with found.guard("non-leaf inputs"):
            _non_leaf(spec, arrays, v1, reference, found)
        with found.guard("second order"):
            _second_order(spec, arrays, v1, reference, rng, found)
        with found.guard("freed graph"):
            _freed(spec, arrays, v1, found)
    return found


# ---------------------------------------------------------------------------------------
# Repeated passes and the released graph
# ---------------------------------------------------------------------------------------
def _grads(xs: list[Any]) -> list[np.ndarray | None]:
    return [snapshot(x.grad) for x in xs]


def _plus(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a + b


def _repeated(
    spec: OpSpec, arrays: list[np.ndarray], v: np.ndarray, reference: list[Any], found: Findings
) -> None:
    engine = spec.engine
    xs = leaves(engine, arrays, [True] * len(arrays))
    out = spec.sg(*xs)
    out.backward(seed_of(engine, v), retain_graph=True)
    once = _grads(xs)
    out.backward(seed_of(engine, v), retain_graph=True)
    twice = _grads(xs)
    out.backward(seed_of(engine, v))
    thrice = _grads(xs)
    for i in range(len(xs)):
        found.measure(f"repeated passes: first pass, input {i}", difference(once[i], reference[i]))
        found.measure(
            f"repeated passes: retain_graph twice accumulates, input {i}",
            difference(twice[i], _plus(once[i], once[i])),
        )
        found.measure(
            f"repeated passes: third pass accumulates, input {i}",
            difference(thrice[i], _plus(twice[i], once[i])),
        )
    if out._op is None:  # the spec returned a leaf: no graph to free
        return
    found.require("released graph: output marked released", out._op is graph.RELEASED)
    new_root = out * 2.0  # a new node on the freed output reaches the freed graph too
    for label, root in (("fourth pass", out), ("pass from a new node", new_root)):
        try:
            root.backward(seed_of(engine, np.ones(np.shape(root.data))))
        except GraphReleasedError:
            found.require(f"released graph: {label} raises GraphReleasedError", True)
        else:
            found.fail(f"released graph: {label}", "no GraphReleasedError")
        found.require(
            f"released graph: {label} leaves _pending clear",
            root._pending is None and out._pending is None,
        )
        for i, g in enumerate(_grads(xs)):
            found.measure(
                f"released graph: {label} changes no .grad, input {i}", difference(g, thrice[i])
            )


# ---------------------------------------------------------------------------------------
# A rule that raises partway through the pass
# ---------------------------------------------------------------------------------------
def node(engine: str, op: Op, parents: Sequence[Any]) -> Any:
    """A node computed by ``op`` from ``parents``, built through the node protocol of
    :mod:`sg_scalar.graph` (``_op``, ``_parents``): how a custom operator joins a graph."""
    data = op.forward(*[p.data for p in parents])
    made: Any = Value(data) if engine == "scalar" else st.Tensor(data, requires_grad=True)
    made._op, made._parents, made._ctx = op, tuple(parents), None
    return made


def _copy(data: Any) -> Any:
    return data if isinstance(data, float) else np.array(data, copy=True)


TAP = Op("tap", lambda a, x: _copy(a), lambda g, out, a, x: (g, g))
"""``tap(a, x) = a``, whose rule sends the gradient to ``x`` as well: a leaf ``x`` then
holds a pending gradient before the rule of ``a`` (its consumer) runs. Not a correct
rule, and never needed to be: the pass through it fails (:func:`failing_inputs`)."""


def failing_inputs(engine: str, xs: Sequence[Any]) -> list[Any]:
    """Intermediate nodes with the values of the leaves ``xs``, whose rules raise.

    Each input ``x`` becomes ``tap(F(x), x)``, ``F`` the identity with a rule raising
    :class:`RuleFailedError`. In every valid topological order the spec's rules, then
    ``tap``'s, run before ``F``'s, and ``x`` (a parent of ``F``) comes after it: when
    ``F`` raises, ``x`` holds the gradient ``tap`` sent it in its ``_pending`` slot, and
    no leaf has been reached. The error says whether both held.
    """
    made = []
    for x in xs:

        def fail(g: Any, out: Any, data: Any, x: Any = x) -> tuple[Any]:
            ready = g is not None and x._pending is not None
            raise RuleFailedError(f"a rule failing on purpose (after the others: {ready})")

        failing = node(engine, Op("failing", _copy, fail), [x])
        made.append(node(engine, TAP, [failing, x]))
    return made


def _failing_rule(
    spec: OpSpec, arrays: list[np.ndarray], v: np.ndarray, reference: list[Any], found: Findings
) -> None:
    for api in ("backward()", "grad()"):
        _fail_once(spec, arrays, v, reference, api, found)


def _fail_once(
    spec: OpSpec,
    arrays: list[np.ndarray],
    v: np.ndarray,
    reference: list[Any],
    api: str,
    found: Findings,
) -> None:
    engine = spec.engine
    xs = leaves(engine, arrays, [True] * len(arrays))
    out = spec.sg(*failing_inputs(engine, xs))
    nodes = graph.topological_order(out)
    label = f"rule raising mid-pass ({api})"
    try:
        if api == "grad()":
            engine_grad(engine)(out, xs, grad_outputs=seed_of(engine, v), allow_unused=True)
        else:
            out.backward(seed_of(engine, v))
    except RuleFailedError as error:
        found.require(f"{label}: the error reaches the caller", True)
        found.require(
            f"{label}: the failure came after the spec's rules, with a gradient pending",
            "after the others: True" in str(error),
        )
    else:
        found.fail(label, "the pass did not raise")
    left = sum(n._pending is not None for n in nodes)
    found.require(
        f"{label}: every _pending slot cleared", left == 0, f"{left} node(s) keep a _pending"
    )
    unchanged = all(x.grad is None if engine == "tensor" else x.grad == 0.0 for x in xs)
    found.require(f"{label}: no leaf's .grad changed", unchanged)
    for x in xs:  # the clean pass below starts from no gradient, whatever happened
        x.grad = None if engine == "tensor" else 0.0
    spec.sg(*xs).backward(seed_of(engine, v))
    for i, g in enumerate(_grads(xs)):
        found.measure(f"{label}: a clean pass after it, input {i}", difference(g, reference[i]))


# ---------------------------------------------------------------------------------------
# grad() of one output given twice
# ---------------------------------------------------------------------------------------
def _output_twice(
    spec: OpSpec,
    arrays: list[np.ndarray],
    v1: np.ndarray,
    v2: np.ndarray,
    reference: list[Any],
    tol: float,
    found: Findings,
) -> None:
    engine, grad = spec.engine, engine_grad(spec.engine)
    second = public_grads(spec, arrays, v2)
    xs = leaves(engine, arrays, [True] * len(arrays))
    out = spec.sg(*xs)
    seeds: list[Any] = [float(v1), float(v2)] if engine == "scalar" else [v1, st.Tensor(v2)]
    got = grad([out, out], xs, grad_outputs=seeds, allow_unused=True)
    for i, g in enumerate(got):
        gap = linear_gap(snapshot(g), reference[i], second[i], 1.0, 1.0)
        found.measure(f"grad() of one output twice: input {i}", gap, tol)
    if np.size(out.data) != 1:
        return
    ones = public_grads(spec, arrays, np.ones(np.shape(out.data)))
    xs = leaves(engine, arrays, [True] * len(arrays))
    out = spec.sg(*xs)
    got = grad([out, out], xs, allow_unused=True)
    for i, g in enumerate(got):
        gap = linear_gap(snapshot(g), ones[i], ones[i], 1.0, 1.0)
        found.measure(f"grad() of one output twice, no grad_outputs: input {i}", gap, tol)


# ---------------------------------------------------------------------------------------
# Non-leaf inputs
# ---------------------------------------------------------------------------------------
def _through(xs: list[Any]) -> list[Any]:
    """Intermediate nodes with the leaves' values: ``x * 1.0`` and ``x + 0.0``, alternately."""
    return [x * 1.0 if i % 2 == 0 else x + 0.0 for i, x in enumerate(xs)]


def _non_leaf(
    spec: OpSpec, arrays: list[np.ndarray], v: np.ndarray, reference: list[Any], found: Findings
) -> None:
    engine = spec.engine
    xs = leaves(engine, arrays, [True] * len(arrays))
    spec.sg(*_through(xs)).backward(seed_of(engine, v))
    for i, g in enumerate(_grads(xs)):
        found.measure(f"non-leaf inputs: backward(), leaf {i}", difference(g, reference[i]))
    xs = leaves(engine, arrays, [True] * len(arrays))
    middle = _through(xs)
    got = engine_grad(engine)(
        spec.sg(*middle), middle, grad_outputs=seed_of(engine, v), allow_unused=True
    )
    for i, (g, m) in enumerate(zip(got, middle)):
        found.measure(
            f"non-leaf inputs: grad() for the node, input {i}",
            difference(snapshot(g), reference[i]),
        )
        found.require(
            f"non-leaf inputs: grad() keeps the graph below node {i}",
            m._op is not graph.RELEASED and len(m._parents) > 0,
        )
    untouched = all(x.grad is None if engine == "tensor" else x.grad == 0.0 for x in xs)
    found.require(
        "non-leaf inputs: grad() for the nodes leaves the leaves' .grad alone", untouched
    )


# ---------------------------------------------------------------------------------------
# Second order
# ---------------------------------------------------------------------------------------
def _inner(engine: str, gs: Sequence[Any], ws: Sequence[np.ndarray]) -> Any:
    """``sum_i <gs_i, ws_i>`` as a node, over the gradients that are nodes; None if none."""
    total = None
    for g, w in zip(gs, ws):
        if g is None or not g.requires_grad:
            continue
        term = g * float(w) if engine == "scalar" else (g * st.Tensor(w)).sum()
        total = term if total is None else total + term
    return total


def _dot(a: Any, b: Any) -> tuple[float, float]:
    """``<a, b>`` and the sum of the products' magnitudes (0 for a missing gradient)."""
    if a is None or b is None:
        return 0.0, 0.0
    products = np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)
    return float(np.sum(products)), float(np.sum(np.abs(products)))


def _agree(
    found: Findings, where: str, p: tuple[float, float], q: tuple[float, float], tol: float
) -> None:
    scale = max(1.0, p[1], q[1])
    found.measure(where, abs(p[0] - q[0]) / scale, tol)


def _second_order(
    spec: OpSpec,
    arrays: list[np.ndarray],
    v: np.ndarray,
    reference: list[Any],
    rng: np.random.Generator,
    found: Findings,
) -> None:
    engine, grad, n = spec.engine, engine_grad(spec.engine), len(arrays)
    xs = leaves(engine, arrays, [True] * n)
    out = spec.sg(*xs)
    dtype = coarsest(np.asarray(out.data).dtype, np.float64)
    supported = all(node._op.twice_differentiable for node in graph_nodes(out))
    seed: Any = float(v) if engine == "scalar" else v
    try:
        firsts = grad(out, xs, grad_outputs=seed, create_graph=True, allow_unused=True)
    except NotTwiceDifferentiableError:
        found.require(
            "second order: NotTwiceDifferentiableError only where declared", not supported
        )
        return
    found.require("second order: an operator declared not twice differentiable refuses", supported)
    for i, g in enumerate(firsts):
        found.measure(
            f"second order: create_graph first-order values, input {i}",
            linear_gap(snapshot(g), reference[i], None, 1.0, 0.0),
            linearity_tol(dtype),
        )
    shapes = [np.shape(a) for a in arrays]
    w1 = [rng.standard_normal(s) for s in shapes]
    w2 = [rng.standard_normal(s) for s in shapes]
    s1, s2 = _inner(engine, firsts, w1), _inner(engine, firsts, w2)
    if s1 is not None and s2 is not None:  # else the gradient is constant: H = 0
        h1 = [snapshot(h) for h in grad(s1, xs, retain_graph=True, allow_unused=True)]
        h2 = [snapshot(h) for h in grad(s2, xs, retain_graph=True, allow_unused=True)]
        left = [_dot(h, w) for h, w in zip(h1, w2)]
        right = [_dot(h, w) for h, w in zip(h2, w1)]
        _agree(
            found,
            "second order: Hessian symmetry <H w1, w2> = <w1, H w2>",
            (sum(p for p, _ in left), sum(m for _, m in left)),
            (sum(p for p, _ in right), sum(m for _, m in right)),
            second_order_tol(dtype),
        )
        s1.backward()
        for i, (x, h) in enumerate(zip(xs, h1)):
            if (
                h is None and engine == "scalar"
            ):  # a Value's .grad stays 0.0 where grad() says None
                h = snapshot(0.0)
            found.measure(
                f"second order: backward() through the gradient = grad(), input {i}",
                difference(snapshot(x.grad), h),
            )
    # The gradient as a function of the output gradient V: linear, so <dS/dV, V> = S.
    ys = leaves(engine, arrays, [True] * n)
    V: Any = Value(float(v)) if engine == "scalar" else st.Tensor(v.copy(), requires_grad=True)
    gs = grad(spec.sg(*ys), ys, grad_outputs=V, create_graph=True, allow_unused=True)
    s = _inner(engine, gs, w1)
    if s is None:
        found.fail(
            "second order: gradient of the output gradient",
            "no gradient depends on the output gradient V",
        )
        return
    (dv,) = grad(s, [V], allow_unused=True)
    value = float(np.sum(s.data))
    _agree(
        found,
        "second order: Euler <dS/dV, V> = S for S linear in V",
        _dot(snapshot(dv), v),
        (value, sum(_dot(snapshot(g), w)[1] for g, w in zip(gs, w1))),
        second_order_tol(dtype),
    )


# ---------------------------------------------------------------------------------------
# The freed graph
# ---------------------------------------------------------------------------------------
def _freed(spec: OpSpec, arrays: list[np.ndarray], v: np.ndarray, found: Findings) -> None:
    xs = leaves(spec.engine, arrays, [True] * len(arrays))
    # On intermediate nodes, so that the spec's own node has inputs to let go of.
    out = spec.sg(*_through(xs))
    refs = _released(out, xs, v, spec.engine, found)  # no strong reference survives it
    if any(r() is not None for r in refs):
        gc.collect()  # a reference cycle would keep them until a collection
    alive = sum(r() is not None for r in refs)
    found.require(
        "freed graph: the intermediate nodes are gone",
        alive == 0,
        f"{alive} of {len(refs)} still alive",
    )


def _released(
    out: Any, xs: list[Any], v: np.ndarray, engine: str, found: Findings
) -> list[weakref.ref[Any]]:
    """Run a pass without retain_graph and check each intermediate node let go of its
    inputs; weak references to the intermediate nodes (the output excluded)."""
    inner = graph_nodes(out)
    names = [n._op.name for n in inner]
    ids = {id(n) for n in graph.topological_order(out)} | {id(x) for x in xs}
    out.backward(seed_of(engine, v))
    for k, (n, name) in enumerate(zip(inner, names)):
        label = f"freed graph: node {k} ({name})"
        released = n._op is graph.RELEASED and n._parents == () and n._ctx is None
        found.require(f"{label} released", released, f"_op {n._op!r}, {len(n._parents)} parent(s)")
        held = len(_nodes_held(n, ids))
        found.require(f"{label} refers to no node", not held, f"still refers to {held} node(s)")
    return [weakref.ref(n) for n in inner if n is not out]


def _nodes_held(obj: Any, ids: set[int]) -> set[int]:
    """The ids in ``ids`` (graph nodes) that ``obj`` refers to, directly or through the
    tuples, lists, dicts and sets it holds (``_parents`` is a tuple, ``_ctx`` a dict)."""
    held: set[int] = set()
    todo, seen = list(gc.get_referents(obj)), set()
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if id(item) in ids:
            held.add(id(item))
        elif isinstance(item, (tuple, list, dict, set, frozenset)):
            todo.extend(gc.get_referents(item))
    return held
