"""The checks a source mutant meets when every oracle of the runner missed it.

The runner's oracles check each operator's first-order gradients on the registry's
specs and probes, all drawn the same way: floating-point inputs of one dtype, of the
declared shapes, at random values. A source mutant can change what none of them draws:

- ``contract``: the engine contract of the backward driver, the fit and the broadcasting
  helpers, on the graphs and rules the registry's operators never make (for the driver's
  and the helpers' mutants). Each scenario states one promise of the documented protocol
  (:mod:`sg_scalar.graph`, ``Tensor._fit_gradient``) or of the public API:

  * a rule may return its gradients in the output's shape, as numpy scalars or plain
    numbers, in another floating dtype: every gradient is fitted to its input's shape and
    dtype, for one, two, three and five inputs (each path of the driver), also on nodes
    (``create_graph=True``) and when an input is broadcast along an empty axis; the
    rule of an input then receives an array of that input's shape and dtype;
  * ``needs_input_grad`` says which inputs require grad, for any number of inputs; a
    gradient returned for an input that does not require grad (or stopped requiring it)
    is dropped; a ``None`` gradient sends nothing (a node that gets none does not run
    its rule); a pass leaves no pending gradient on any node;
  * an invalid gradient (shape, dtype, count, not a tuple) raises the documented error
    naming the operator and the input, and changes no ``.grad``;
  * a pass lets go of each intermediate once its rule has run (no list of the pass
    keeps it alive to the end), and before it starts ``Tensor`` lets go of the large
    intermediates no rule reads, and sums a second contribution to one gradient into
    the first when only the pass holds it; a second pass through a freed graph raises and
    changes no ``.grad``; ``backward(create_graph=True)`` keeps the graph; ``grad`` of
    an unused input with ``allow_unused`` is ``None``; ``Value`` keeps every node's
    gradient (two passes: twice as much); the driver's seams (``accumulate``, ``seed``,
    ``topological_order``) are looked up and called on every pass; full reductions of
    0-d tensors; PyTorch's conventions at nan (``sign``, ``abs``'s and relu's gradients).

- ``second``: the second-order oracles (:func:`~sg_verify.second_order.fd_check2`,
  :func:`~sg_verify.second_order.torch_check2`) on the mutant's specs and probes (one
  spec per operator for code every operator runs): a rule that runs on nodes differently
  (a constant where a node belongs, a mask that is not one at a kink). Where one has no
  valid baseline, a fallback stands in (:data:`FALLBACKS`): PyTorch on the inputs' part
  only, the differences on the cotangent's part only (``std`` at a constant slice, where
  PyTorch's is ``inf`` and the inputs' differences diverge), or sg differentiating twice
  without an error.

- ``special`` (for code only some operators run: rules and their helpers): the same,
  with the first-order oracles, at exact values the samplers never draw, 0 and 1, placed
  in every third element of one input, of every input, or in every element of every
  input: where rules branch on ``== 0`` (``pow``'s zeros, ``prod``'s) and ``x == 1``
  turns a branch on.

Each counts only where the unmutated code passes (a valid witness), like the runner's
oracles; the baseline verdicts are cached for the run (:class:`SurvivorChecks`).
"""

from __future__ import annotations

import functools
import warnings
import weakref
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

import sg_tensor as st
from sg_scalar import Value, graph
from sg_scalar.graph import GraphReleasedError, Op, ShapeMismatchError
from sg_scalar.value import _apply1 as _value_apply1
from sg_tensor.tensor import Tensor
from sg_verify.mutants.mutant import Mutant
from sg_verify.mutants.report import Verdict
from sg_verify.numerical import differences
from sg_verify.oracles import (
    OracleResult,
    fd_check,
    judge,
    of_input,
    sg_vjp,
    torch_check,
    worst_difference,
)
from sg_verify.pytorch import torch_available
from sg_verify.registry import OpSpec
from sg_verify.second_order import (
    SecondOrderProblem,
    fd_check2,
    sg_second_order,
    torch_check2,
    torch_second_order,
)
from sg_verify.tolerances import FD2_FLOOR, TORCH2_TOL

__all__ = [
    "CHECKS",
    "ContractError",
    "Scenario",
    "SurvivorChecks",
    "scenarios",
    "special_variants",
]

CHECKS = ("contract", "second", "special")
"""The survivor checks, in the order they run (each on the mutants still alive)."""
SPECIAL_VALUES = (0.0, 1.0)


class ContractError(AssertionError):
    """A scenario of the engine contract does not hold."""


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise ContractError(what)


@dataclass(frozen=True)
class Scenario:
    """One promise of the engine contract: ``run()`` raises if it does not hold."""

    name: str
    run: Callable[[], None]

    def __repr__(self) -> str:
        return f"Scenario({self.name})"


# ---------------------------------------------------------------------------------------
# Building blocks: leaves, a spy, synthetic operators
# ---------------------------------------------------------------------------------------
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


def _leaf(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: Any, grad: bool = True
) -> Tensor:
    data = np.asarray(rng.standard_normal(shape) + 0.5, dtype=dtype)
    return Tensor(data, requires_grad=grad)


class _Spy:
    """An identity operator that records every gradient its rule receives."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, Tensor]] = []
        self.op = Op("contract_spy", lambda x: x.copy(), self._rule)

    def _rule(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        self.seen.append((g, out))
        return (g,)

    def __call__(self, x: Tensor) -> Tensor:
        return x._apply1(self.op)

    def verify(self, nodes: bool) -> None:
        """Each gradient received has its node's shape and dtype: an array (or, for a 0-d
        node, a numpy scalar, as numpy's reductions give), a Tensor on nodes."""
        _require(bool(self.seen), "the spy's rule never ran")
        for g, out in self.seen:
            shape, dtype = out.shape, out.dtype  # the node's forward result (a Tensor on nodes)
            kinds: tuple[type, ...] = (Tensor,) if nodes else (np.ndarray, np.generic)
            fits = isinstance(g, kinds) and getattr(g, "shape", None) == shape
            _require(
                fits and getattr(g, "dtype", None) == dtype,
                f"a rule received a gradient {type(g).__name__} {np.shape(g)} "
                f"{getattr(g, 'dtype', '?')} for a node {shape} {dtype}",
            )


def _reduced(v: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``v`` summed over the axes broadcasting added or stretched to reach ``shape``."""
    extra = v.ndim - len(shape)
    out = v.sum(axis=tuple(range(extra))) if extra else v
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and out.shape[i] != 1)
    return out.sum(axis=stretched, keepdims=True) if stretched else out


def _close(got: Any, want: np.ndarray, dtype: Any, what: str) -> None:
    raw = got.data if isinstance(got, Tensor) else got
    array = np.asarray(raw)
    _require(
        type(raw) is np.ndarray and array.shape == want.shape and array.dtype == dtype,
        f"{what}: {type(got).__name__} {array.shape} {array.dtype}, "
        f"expected an array {want.shape} {np.dtype(dtype)}",
    )
    tol = 1e-5 if dtype == F32 else 1e-12
    _require(
        bool(np.allclose(array, want, rtol=tol, atol=tol)),
        f"{what}: values differ by {float(np.max(np.abs(array - want), initial=0.0)):.3g}",
    )


def _no_pending(nodes: Sequence[Any], where: str) -> None:
    for node in nodes:
        _require(node._pending is None, f"{where}: a node holds a pending gradient after the pass")


def _sum_forward(*xs: np.ndarray) -> np.ndarray:
    if len(xs) == 1:  # one input: spread over a new axis, in float64
        return np.asarray(np.broadcast_to(xs[0], (2, *xs[0].shape)), dtype=F64)
    return np.asarray(functools.reduce(np.add, xs))


def _output_shaped(g: Any, out: Any, *xs: Any, **ctx: Any) -> tuple[Any, ...]:
    """A rule that leaves every reduction to the driver: the output's gradient for each."""
    return tuple(g for _ in xs)


FIT_INPUTS: dict[int, tuple[tuple[tuple[int, ...], Any], ...]] = {
    1: (((3,), F32),),
    2: (((2, 3), F32), ((3,), F64)),
    3: (((2, 1, 3), F32), ((4, 1), F64), ((3,), F32)),
    5: (((2, 3), F64), ((3,), F32), ((1, 3), F64), ((2, 1), F32), ((), F64)),
}
"""Per number of inputs (one path of the driver each): shapes and dtypes that broadcast,
mixed (the output is float64), so that gradients need summing, casting or both."""


def _fit(n: int, nodes: bool) -> None:
    rng = np.random.default_rng(100 + n)
    spec = FIT_INPUTS[n]
    leaves = [_leaf(rng, shape, dtype) for shape, dtype in spec]
    spy = _Spy()
    spied = [spy(x) for x in leaves]
    op = Op(f"contract_fit{n}", _sum_forward, _output_shaped)
    out = Tensor._apply_n(op, spied, {})
    v = rng.standard_normal(out.shape)
    if nodes:
        grads = st.grad(out, leaves, grad_outputs=Tensor(v), create_graph=True)
        for (shape, dtype), got in zip(spec, grads):
            _require(isinstance(got, Tensor), "grad(create_graph=True) gave no Tensor")
            _close(got, _reduced(v, shape).astype(dtype), dtype, f"fit[{n}] on nodes")
    else:
        out.backward(v)
        for (shape, dtype), x in zip(spec, leaves):
            _close(x.grad, _reduced(v, shape).astype(dtype), dtype, f"fit[{n}]")
        _no_pending([out, *spied, *leaves], f"fit[{n}]")
    spy.verify(nodes)


def _empty_axis() -> None:
    """An input broadcast along an axis of length 0 gets a gradient of zeros."""
    a = Tensor(np.ones((1, 3)), requires_grad=True)
    b = Tensor(np.ones((0, 3)), requires_grad=True)
    out = Tensor._apply_n(Op("contract_empty", _sum_forward, _output_shaped), [a, b], {})
    out.backward(np.ones(out.shape))
    _close(a.grad, np.zeros((1, 3)), F64, "broadcast along an empty axis")
    _close(b.grad, np.zeros((0, 3)), F64, "an empty input")


def _sum0(*xs: np.ndarray) -> np.ndarray:
    return np.asarray(functools.reduce(np.add, xs), dtype=F64)


def _scalars(n: int, numbers: bool) -> None:
    """Rules on 0-d arrays give numpy scalars, and may give plain numbers: each is fitted
    to an array of its input's dtype before another rule or a leaf sees it."""
    rng = np.random.default_rng(200 + n)
    dtypes = [F32 if i % 2 == 0 else F64 for i in range(n)]
    leaves = [_leaf(rng, (), dtype) for dtype in dtypes]
    spy = _Spy()
    spied = [spy(x) for x in leaves]

    def rule(g: Any, out: Any, *xs: Any) -> tuple[Any, ...]:
        if numbers:
            return tuple(float(g) for _ in xs)
        return tuple(g * 1.0 for _ in xs)  # a 0-d array times a number: a numpy scalar

    out = Tensor._apply_n(Op(f"contract_scalars{n}", _sum0, rule), spied, {})
    v = np.asarray(rng.standard_normal())
    out.backward(v)
    for dtype, x in zip(dtypes, leaves):
        _close(x.grad, v.astype(dtype), dtype, f"scalars[{n}]")
    spy.verify(False)


NEEDS: tuple[tuple[bool, ...], ...] = (
    (True,),
    (True, False),
    (False, True),
    (False, True, True),
    (True, False, True, False),
    (True, True, False, True, False),
)
"""Which inputs require grad, for ``needs_input_grad`` operators of one to five inputs."""


def _needs(pattern: tuple[bool, ...]) -> None:
    n = len(pattern)
    rng = np.random.default_rng(300 + n)
    leaves = [_leaf(rng, (2, 3), F64, grad) for grad in pattern]
    received: list[tuple[bool, ...]] = []

    def rule(g: Any, out: Any, *xs: Any, needs_input_grad: tuple[bool, ...]) -> tuple[Any, ...]:
        received.append(tuple(needs_input_grad))
        return tuple(g for _ in xs)  # a gradient even for the inputs that need none

    op = Op(f"contract_needs{n}", _sum_forward, rule, needs_input_grad=True)
    out = Tensor._apply_n(op, leaves, {})
    v = rng.standard_normal(out.shape)
    out.backward(v)
    _require(received == [pattern], f"needs[{n}]: the rule got {received}, not {pattern}")
    for grad, x in zip(pattern, leaves):
        if grad:
            _close(x.grad, _reduced(v, x.shape), F64, f"needs[{n}]")
        else:
            _require(x.grad is None, f"needs[{n}]: an input that needs no gradient got one")
    _no_pending([out, *leaves], f"needs[{n}]")


def _no_gradient(n: int) -> None:
    """A rule may return None for an input (not differentiable): nothing flows to it, not
    to a leaf, not through a node (whose rule then never runs)."""
    rng = np.random.default_rng(500 + n)
    leaves = [_leaf(rng, (2, 3), F64) for _ in range(n)]
    spy = _Spy()
    inputs = [spy(leaves[0]), *leaves[1:]]
    if n > 1:
        inputs[1] = leaves[1]  # a leaf that gets None too

    def rule(g: Any, out: Any, *xs: Any) -> tuple[Any, ...]:
        return tuple(None if i < 2 else g for i in range(len(xs)))

    out = Tensor._apply_n(Op(f"contract_none{n}", _sum_forward, rule), inputs, {})
    v = rng.standard_normal(out.shape)
    out.backward(v)
    _require(not spy.seen, f"none[{n}]: the rule of a node that got None ran")
    for i, x in enumerate(leaves):
        if i < 2:
            _require(x.grad is None, f"none[{n}]: input {i} got a gradient from None")
        else:
            _close(x.grad, _reduced(v, x.shape), F64, f"none[{n}]")
    _no_pending([out, *inputs, *leaves], f"none[{n}]")


def _stopped() -> None:
    """A leaf that stopped requiring grad after the graph was recorded gets nothing."""
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = x._apply1(Op("contract_neg", np.negative, lambda g, out, x: (-g,)))
    x.requires_grad_(False)
    y.backward(np.ones(3))
    _require(x.grad is None, "stopped: the leaf got a gradient")
    _no_pending([x, y], "stopped")


INVALID = ("shape", "fewer axes", "dtype", "count", "not a tuple")


def _invalid(n: int, kind: str, index: int) -> None:
    """An invalid gradient raises the documented error, naming the operator and the input,
    and no ``.grad`` changes."""
    rng = np.random.default_rng(400 + n)
    leaves = [_leaf(rng, (2, 3), F64) for _ in range(n)]
    name = f"contract_bad{n}"

    def rule(g: Any, out: Any, *xs: Any) -> Any:
        grads: list[Any] = [g for _ in xs]
        if kind == "shape":
            grads[index] = np.ones((4, 5))
        elif kind == "fewer axes":
            grads[index] = np.ones(3)
        elif kind == "dtype":
            grads[index] = np.ones((2, 3), dtype=np.int64)
        elif kind == "count":
            grads.append(g)
        else:
            return None
        return tuple(grads)

    out = Tensor._apply_n(Op(name, _sum_forward, rule), leaves, {})
    expected: dict[str, tuple[type[Exception], str]] = {
        "shape": (ShapeMismatchError, f"for input {index} of shape"),
        "fewer axes": (ShapeMismatchError, f"for input {index} of shape"),
        "dtype": (TypeError, f"dtype int64 for input {index}"),
        "count": (TypeError, f"returned {n + 1} gradients for {n} input"),
        "not a tuple": (TypeError, "returned a NoneType"),
    }
    error, message = expected[kind]
    try:
        out.backward(np.ones(out.shape))
    except error as raised:
        text = str(raised)
        _require(name in text and message in text, f"invalid[{kind}]: the message {text!r}")
    else:
        raise ContractError(f"invalid[{kind}, {n} inputs, input {index}]: nothing raised")
    _require(all(x.grad is None for x in leaves), f"invalid[{kind}]: a .grad changed")
    _no_pending([out, *leaves], f"invalid[{kind}]")


def _create_graph() -> None:
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    (gx,) = st.grad((x * x).sum(), [x], create_graph=True)
    assert gx is not None
    _require(gx.requires_grad, "grad(create_graph=True): the gradient is not differentiable")
    _close(gx, 2 * x.data, F64, "grad(create_graph=True)")
    (hx,) = st.grad(gx.sum(), [x])
    _close(hx, np.full(3, 2.0), F64, "a second derivative")
    y = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    z = (y * y).sum()
    z.backward(create_graph=True)
    z.backward()  # backward(create_graph=True) keeps the graph (retain_graph defaults to it)
    _close(y.grad, 4 * y.data, F64, "two passes after backward(create_graph=True)")


def _unused() -> None:
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    z = Tensor(np.array([1.0]), requires_grad=True)
    found = st.grad(x.sin().sum(), [z], allow_unused=True)
    _require(found == (None,), f"grad of an unused input: {found!r}, not (None,)")


def _freed() -> None:
    """A second pass through a freed graph raises and changes no gradient."""
    a = Value(2.0)
    b = a * 3.0
    c = b * 4.0
    c.backward()
    before = (a.grad, b.grad, c.grad)
    try:
        c.backward()
    except GraphReleasedError:
        pass
    else:
        raise ContractError("freed: a second pass through a freed graph did not raise")
    _require((a.grad, b.grad, c.grad) == before, "freed: a failed pass changed a .grad")
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    y = (x * 3.0).sum()
    y.backward()
    try:
        y.backward()
    except GraphReleasedError:
        pass
    else:
        raise ContractError("freed: a second pass through a freed graph did not raise")
    _close(x.grad, np.full(2, 3.0), F64, "freed: a failed pass changed .grad")


def _lets_go() -> None:
    """A pass lets go of each intermediate once its rule has run: a rule further down a
    chain finds the nodes above it gone (nothing else holds them), for both engines."""
    for engine in ("scalar", "tensor"):
        alive = _alive_below(engine)
        _require(alive == [[False, False]], f"lets go[{engine}]: alive during the pass {alive}")


def _nan_conventions() -> None:
    """PyTorch's conventions at nan: ``sign(nan)`` is 0, so ``abs``'s gradient there is
    0; relu's mask is ``not (out <= 0)``, so its gradient passes a nan."""
    x = Tensor(np.array([np.nan, -2.0, 3.0]), requires_grad=True)
    _close(st.sign(x), np.array([0.0, -1.0, 1.0]), F64, "nan: sign")
    x.abs().backward(np.ones(3))
    _close(x.grad, np.array([0.0, -1.0, 1.0]), F64, "nan: abs's gradient")
    y = Tensor(np.array([np.nan, -2.0, 3.0]), requires_grad=True)
    y.relu().backward(np.ones(3))
    _close(y.grad, np.array([1.0, 0.0, 1.0]), F64, "nan: relu's gradient")


def _releases() -> None:
    """Before a pass, the node type lets go of a large intermediate no rule reads and
    nobody holds (``Tensor``): the first rule to run finds its array gone."""
    seen: list[bool] = []
    arrays: list[Any] = []

    def look(g: Any, out: Any, h: Any) -> tuple[Any]:
        seen.append(arrays[0]() is not None)
        return (g,)

    x = Tensor(np.ones((100, 100)), requires_grad=True)
    z = x + 1.0  # add's rule reads nothing, relu's only its output
    h = z.relu()
    arrays.append(weakref.ref(z.data))
    out = h._apply1(Op("contract_releases", lambda h: h * 1.0, look)).sum()
    del z, h
    out.backward()
    _require(seen == [False], f"releases: the unread array was alive during the pass {seen}")
    _close(x.grad, np.ones((100, 100)), F64, "releases")


def _sums_in_place() -> None:
    """``Tensor`` sums a second contribution to one gradient into the first when nothing
    but the pass holds it (no third array), and never into one someone holds."""
    for held in (False, True):
        summed_into, kept = _summed_twice(held)
        expected = 0 if held else 1
        _require(summed_into == expected, f"sums in place[held={held}]: .grad is {summed_into}")
        values = sorted(k.tolist() for k in kept)
        _require(values in ([], [[2.0] * 3, [6.0] * 3]), f"sums in place: a held one is {values}")


def _summed_twice(held: bool) -> tuple[int, list[Any]]:
    """x through an identity, used by two rules that make fresh arrays (``held``: kept
    here too): how many of them x's gradient is, and the kept ones."""
    made: list[Any] = []
    kept: list[Any] = []

    def twice(g: Any, out: Any, h: Any) -> tuple[Any]:
        r = g * 2.0
        made.append(weakref.ref(r))
        if held:
            kept.append(r)
        return (r,)

    identity = Op("contract_identity", lambda x: x.copy(), lambda g, out, x: (g,))
    double = Op("contract_double", lambda h: h * 2.0, twice)
    x = Tensor(np.arange(3.0), requires_grad=True)
    h = x._apply1(identity)
    (h._apply1(double) + h._apply1(double) * 3.0).sum().backward()
    _close(x.grad, np.full(3, 8.0), F64, "sums in place")
    return [ref() is x.grad for ref in made].count(True), kept


def _alive_below(engine: str) -> list[list[bool]]:
    """What the rule at the bottom of a four-node chain sees of the two nodes above it."""
    alive: list[list[bool]] = []
    refs: list[Any] = []

    def look(g: Any, out: Any, x: Any) -> tuple[Any]:
        alive.append([ref() is not None for ref in refs])
        return (g,)

    probe = Op("contract_lets_go", lambda x: x * 1.0, look)
    if engine == "scalar":
        x: Any = Value(0.5)
        bottom: Any = _value_apply1(probe, x)
    else:
        x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
        bottom = x._apply1(probe)
    above = bottom.exp()
    further = above * 2.0
    out = further.sin().sum() if engine == "tensor" else further.sin()
    refs[:] = [weakref.ref(above), weakref.ref(further)]
    del bottom, above, further
    out.backward()
    return alive


def _retained() -> None:
    """``Value`` keeps every node's gradient; a second pass adds as much again."""
    x, w = Value(0.5), Value(-1.5)
    h = x * w
    z = h * x + h  # w x**2 + w x
    for passes in (1, 2):
        z.backward(retain_graph=True)
        got = (z.grad, h.grad, x.grad, w.grad)
        want = tuple(passes * d for d in (1.0, x.data + 1.0, 2 * w.data * x.data + w.data, 0.75))
        _require(
            all(abs(g - e) <= 1e-12 for g, e in zip(got, want)),
            f"retained: after {passes} pass(es) {got}, expected {want}",
        )


@contextmanager
def _counting(name: str, calls: dict[str, int]) -> Iterator[None]:
    current = getattr(graph, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] = calls.get(name, 0) + 1
        return current(*args, **kwargs)

    setattr(graph, name, counted)
    try:
        yield
    finally:
        setattr(graph, name, current)


def _seams() -> None:
    """The driver looks its seams up on every pass and calls them."""
    for engine in ("scalar", "tensor"):
        calls: dict[str, int] = {}
        with (
            _counting("accumulate", calls),
            _counting("seed", calls),
            _counting("topological_order", calls),
        ):
            if engine == "scalar":
                v = Value(1.5)
                (v * v).backward()
                _require(v.grad == 3.0, f"seams[scalar]: the gradient {v.grad}, not 3.0")
            else:
                t = Tensor(np.array([1.5, -0.5]), requires_grad=True)
                (t * t).sum().backward()
                _close(t.grad, 2 * t.data, F64, "seams[tensor]")
        for seam in ("accumulate", "seed", "topological_order"):
            _require(calls.get(seam, 0) > 0, f"seams[{engine}]: {seam} was never called")


def _reductions_0d() -> None:
    """Full reductions of a 0-d tensor: the gradient is 1, of shape ()."""
    for method in ("sum", "mean", "max", "min", "prod", "logsumexp"):
        x = Tensor(np.array(1.5), requires_grad=True)
        getattr(x, method)().backward()
        _close(x.grad, np.array(1.0), F64, f"{method} of a 0-d tensor")
        (on_nodes,) = st.grad(getattr(x, method)(), [x], create_graph=True)
        _close(on_nodes, np.array(1.0), F64, f"{method} of a 0-d tensor, on nodes")


def scenarios() -> tuple[Scenario, ...]:
    """Every scenario of the engine contract, in a fixed order."""
    found = [Scenario(f"fit[{n}]", functools.partial(_fit, n, False)) for n in FIT_INPUTS]
    found += [Scenario(f"fit[{n}] on nodes", functools.partial(_fit, n, True)) for n in FIT_INPUTS]
    found += [Scenario("empty axis", _empty_axis)]
    for numbers in (False, True):
        kind = "numbers" if numbers else "numpy scalars"
        found += [
            Scenario(f"{kind}[{n}]", functools.partial(_scalars, n, numbers)) for n in (1, 2, 3, 5)
        ]
    found += [
        Scenario(f"needs[{''.join('ny'[r] for r in p)}]", functools.partial(_needs, p))
        for p in NEEDS
    ]
    found += [Scenario(f"none[{n}]", functools.partial(_no_gradient, n)) for n in (1, 2, 3, 5)]
    found += [Scenario("stopped requiring grad", _stopped)]
    for n in (1, 2, 3, 5):
        for kind in INVALID:
            if kind == "not a tuple" and n > 2:
                continue  # three inputs and more: len() of it raises a bare TypeError
            for index in sorted({0, n - 1}) if kind in ("shape", "dtype") else (0,):
                found.append(
                    Scenario(f"invalid[{kind};{n} inputs;input {index}]",
                             functools.partial(_invalid, n, kind, index))
                )  # fmt: skip
    found += [
        Scenario("create_graph", _create_graph),
        Scenario("unused input", _unused),
        Scenario("freed graph", _freed),
        Scenario("retained gradients", _retained),
        Scenario("lets go", _lets_go),
        Scenario("releases unread arrays", _releases),
        Scenario("sums in place", _sums_in_place),
        Scenario("nan conventions", _nan_conventions),
        Scenario("seams", _seams),
        Scenario("0-d reductions", _reductions_0d),
    ]
    return tuple(found)


# ---------------------------------------------------------------------------------------
# Special values
# ---------------------------------------------------------------------------------------
def special_variants(n_inputs: int) -> list[tuple[str, float, int | None, bool]]:
    """``(label, value, input or None for all, every element)`` for a spec of
    ``n_inputs`` inputs: each value in every third element of one input, of all inputs,
    and in every element of every input."""
    found: list[tuple[str, float, int | None, bool]] = []
    for value in SPECIAL_VALUES:
        for i in range(n_inputs):
            found.append((f"input {i}={value:g}", value, i, False))
        if n_inputs > 1:
            found.append((f"all inputs={value:g}", value, None, False))
        found.append((f"every element={value:g}", value, None, True))
    return found


def _placed(
    arrays: Sequence[np.ndarray], value: float, index: int | None, every: bool
) -> list[np.ndarray]:
    placed = [np.array(a, dtype=np.float64) for a in arrays]
    for i, a in enumerate(placed):
        if index is None or i == index:
            a.reshape(-1)[:: 1 if every else 3] = value
    return placed


# ---------------------------------------------------------------------------------------
# Second-order fallbacks
# ---------------------------------------------------------------------------------------
def torch_inputs_check2(spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0) -> OracleResult:
    """``torch2`` without the cotangent's part: the second derivatives with respect to the
    inputs. Where the two engines differ along the cotangent only (``std`` at a constant
    slice: PyTorch's is ``inf``, sg's the declared 0) the inputs' part is still a witness."""
    problem = SecondOrderProblem(spec.engine, spec.sg, arrays, seed)
    got = sg_second_order(problem)
    expected = torch_second_order(spec.torch, problem)
    n = len(arrays)
    labels = [f"input {i} element" for i in range(n)]
    worst, where = worst_difference(zip(labels, got[:n], expected[:n]))
    return OracleResult("torch2x", spec.name, worst, where, worst <= TORCH2_TOL)


def fd_cotangent_check2(spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0) -> OracleResult:
    """``fd2`` of the cotangent's part alone: ``phi`` is linear in ``v``, so its
    differences there are exact even where those of the inputs' part are meaningless
    (the first-order gradient jumps at a constant slice of ``std``)."""
    problem = SecondOrderProblem(spec.engine, spec.sg, arrays, seed)
    got = sg_second_order(problem)
    points = [*problem.arrays, problem.cotangent]
    _, firsts = sg_vjp(spec.engine, spec.sg, problem.arrays, problem.cotangent)
    scale = float(sum(np.sum(np.abs(g * w)) for g, w in zip(firsts, problem.weights)))
    n = len(problem.arrays)
    phi = of_input(problem.objective, points, n)
    found = differences(phi, problem.cotangent, 8, problem.rng, scale=scale)
    kind = "element" if found.directions is None else "direction"
    return judge("fd2v", spec.name, [(f"cotangent v {kind}", found.project(got[n]), found)],
                 floor=FD2_FLOOR)  # fmt: skip


def nodes_check(spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0) -> OracleResult:
    """sg differentiates its own gradient (``create_graph=True``, then again) without an
    error; the values are not compared (where no reference has them: ``pow`` at 0)."""
    sg_second_order(SecondOrderProblem(spec.engine, spec.sg, arrays, seed))
    return OracleResult("nodes", spec.name, 0.0, "-", True)


FALLBACKS: dict[str, tuple[str, ...]] = {
    "fd2v": ("fd2",),
    "torch2x": ("torch2",),
    "nodes": ("fd2", "torch2"),
}
"""A check run only where the checks it stands in for have no valid baseline."""


# ---------------------------------------------------------------------------------------
# Running them
# ---------------------------------------------------------------------------------------
Check = Callable[[OpSpec, Sequence[np.ndarray], int], OracleResult]


def _seed(seed: int, *parts: object) -> int:
    text = ":".join(str(p) for p in parts)
    return (seed * 1_000_003 + zlib.crc32(text.encode())) % 2**32


def _passes(
    check: Check, spec: OpSpec, arrays: Sequence[np.ndarray], seed: int
) -> tuple[bool, str]:
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            result = check(spec, [a.copy() for a in arrays], seed)
    except Exception as error:
        reason = " ".join(str(error).split())[:160]
        return False, f"{spec.name}: raised {type(error).__name__}: {reason}"
    return result.passed, f"{spec.name}: {result.where}, error {result.worst:.3g}"


class SurvivorChecks:
    """Runs :data:`CHECKS` on mutants, caching the baseline (unmutated) verdicts.

    ``torch``: whether PyTorch may be used (``second`` and ``special`` then run its
    checks beside the finite differences'). ``samples``: inputs per spec for ``second``
    (each followed by its mirror through the kinks, as the runner does).
    """

    def __init__(self, seed: int = 0, torch: bool | None = None, samples: int = 1) -> None:
        self.seed = seed
        self.torch = torch_available() if torch is None else torch
        self.samples = samples
        self._baseline: dict[tuple[str, ...], bool] = {}
        self._arrays: dict[tuple[str, str, int], list[np.ndarray]] = {}
        self._scenarios = scenarios()

    # -- inputs ------------------------------------------------------------------------
    def arrays(self, spec: OpSpec, k: int) -> list[np.ndarray]:
        key = (spec.engine, spec.name, k)
        if key not in self._arrays:
            rng = np.random.default_rng(_seed(self.seed, spec.engine, spec.name, k // 2))
            arrays = [np.asarray(a, dtype=np.float64) for a in spec.sample(rng)]
            self._arrays[key] = spec.other_side(arrays) if k % 2 else arrays
        return [a.copy() for a in self._arrays[key]]

    def _valid(self, key: tuple[str, ...], run: Callable[[], tuple[bool, str]]) -> bool:
        """Whether ``run`` passes on the unmutated code (run once, with no mutant active)."""
        if key not in self._baseline:
            self._baseline[key] = run()[0]
        return self._baseline[key]

    # -- the checks ----------------------------------------------------------------------
    def run(self, name: str, mutant: Mutant) -> Verdict:
        """Run the check ``name`` of :data:`CHECKS` on ``mutant``."""
        if name == "contract":
            return self.contract(mutant)
        if name == "second":
            return self.second(mutant)
        if name == "special":
            return self.special(mutant)
        raise ValueError(f"unknown check {name!r}; known: {list(CHECKS)}")

    def contract(self, mutant: Mutant) -> Verdict:
        """Every scenario of the engine contract that holds on the unmutated code."""
        verdict = Verdict("contract")
        for scenario in self._scenarios:
            if not self._valid(("contract", scenario.name), functools.partial(_holds, scenario)):
                verdict.skipped += 1
                continue
            verdict.checks += 1
            with mutant.applied():
                holds, found = _holds(scenario)
            if not holds:
                verdict.kills += 1
                verdict.witness = verdict.witness or found
                verdict.killed_on.append(scenario.name)
        return verdict

    def _checks(self, first: bool) -> list[tuple[str, Check]]:
        found: list[tuple[str, Check]] = []
        if first:
            found.append(("fd", fd_check))
            if self.torch:
                found.append(("torch", torch_check))
        found += [("fd2", fd_check2), ("fd2v", fd_cotangent_check2)]
        if self.torch:
            found += [("torch2", torch_check2), ("torch2x", torch_inputs_check2)]
        found.append(("nodes", nodes_check))
        return found

    def _witnesses(
        self,
        verdict: Verdict,
        mutant: Mutant,
        cases: Sequence[tuple[str, OpSpec, list[np.ndarray], int]],
        checks: Sequence[tuple[str, Check]],
    ) -> Verdict:
        for label, spec, arrays, seed in cases:
            valid: dict[str, bool] = {}
            for oracle, check in checks:
                if any(valid.get(o, False) for o in FALLBACKS.get(oracle, ())):
                    continue  # the check it stands in for is a witness here
                key = (verdict.oracle, oracle, spec.engine, spec.name, label)
                run = functools.partial(_passes, check, spec, arrays, seed)
                valid[oracle] = self._valid(key, run)
                if not valid[oracle]:
                    verdict.skipped += 1
                    continue
                verdict.checks += 1
                with mutant.applied():
                    passed, found = _passes(check, spec, arrays, seed)
                if not passed:
                    verdict.kills += 1
                    verdict.witness = verdict.witness or f"{oracle} [{label}] {found}"
                    verdict.killed_on.append(spec.name)
                    return verdict  # one witness says it
        return verdict

    def _specs(self, mutant: Mutant) -> list[OpSpec]:
        specs = mutant.specs()
        if mutant.spec_ops is None:  # code every operator runs: one spec per operator
            firsts: dict[tuple[str, str], OpSpec] = {}
            for spec in specs:
                firsts.setdefault((spec.engine, spec.op), spec)
            specs = list(firsts.values())
        return specs

    def second(self, mutant: Mutant) -> Verdict:
        """The second-order oracles on the mutant's specs and probes."""
        cases = [
            (f"sample {k}", spec, self.arrays(spec, k), _seed(self.seed, spec.name, k))
            for spec in self._specs(mutant)
            for k in range(2 * self.samples if mutant.spec_ops is not None else 1)
        ]
        return self._witnesses(Verdict("second"), mutant, cases, self._checks(first=False))

    def special(self, mutant: Mutant) -> Verdict:
        """The oracles at exact 0s and 1s (only for rules: code some operators run)."""
        verdict = Verdict("special")
        if mutant.spec_ops is None:
            return verdict
        cases = []
        for spec in self._specs(mutant):
            base = self.arrays(spec, 0)
            for label, value, index, every in special_variants(len(base)):
                arrays = _placed(base, value, index, every)
                cases.append((label, spec, arrays, _seed(self.seed, spec.name, label)))
        return self._witnesses(verdict, mutant, cases, self._checks(first=True))


def _holds(scenario: Scenario) -> tuple[bool, str]:
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            scenario.run()
    except Exception as error:
        reason = " ".join(str(error).split())[:160]
        return False, f"{scenario.name}: {type(error).__name__}: {reason}"
    return True, ""
