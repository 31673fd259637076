"""The gradcheck properties of every operator: sg checked against itself, exactly.

The finite-difference and PyTorch oracles compare sg's gradients with a second
implementation. The properties here need none: they hold for every correct
vector-Jacobian product, whatever the operator, so they are checked by running sg twice
(or more) and comparing the runs. No PyTorch and no finite differences: every property
is exact, or exact up to the rounding of the operations the gradient itself performs.

:func:`props_check` checks, for one registry spec at given inputs, through the public API
(the spec's call on leaves, ``backward()`` and ``grad()``):

- **linearity** in the output gradient: the input gradients for ``a*v1 + b*v2`` are
  ``a*G(v1) + b*G(v2)`` to within :data:`LINEARITY_TOL` (see there; scaled to float32's
  unit where the output, and so its gradient, is float32: :func:`linearity_tol`);
- **zero**: a zero output gradient gives zero input gradients (or none: ``None``);
- **determinism**: two runs give bitwise-identical gradients;
- **no mutation**: the inputs' data and the output gradient given to ``backward()`` or
  ``grad()`` (as an array or a Tensor) are unchanged by the pass;
- **no aliasing**: no leaf's ``.grad`` and no array ``grad()`` returns shares memory with
  an input's data, the output gradient or another gradient, also when one leaf is
  passed for two inputs (``f(x, x)``) or asked for twice (``grad(out, [x, x])``);
- **shape and dtype**: each gradient has its input's shape and dtype, for float64 and
  float32 inputs;
- **grad() = backward()**: ``grad()`` returns exactly what ``backward()`` stores, and
  leaves ``.grad`` alone;
- **inputs that do not require grad**: for every non-empty subset of the inputs requiring
  grad (:data:`MAX_SUBSET_INPUTS`), the others get no gradient and those in the subset
  get exactly the gradient they get when every input requires grad;

"Exactly" is equal values (:func:`difference`): a ``Value``'s ``.grad`` starts at
``0.0`` and adds, which turns a ``-0.0`` gradient into ``0.0``, so signed zeros count as
equal; determinism alone is bit for bit.
- **one leaf for two inputs**: ``f(x, x)`` gives ``x`` the sum of the two inputs'
  gradients at ``f(x, y)`` with ``y = x`` (to within :data:`LINEARITY_TOL`).

and, on the raw rule of every node of the spec's graph (``op.vjp(g, out, *inputs)``,
called directly as the driver calls it, on float64 data and again on float32 data),
linearity, zero, determinism, that the rule writes into none of ``g``, ``out`` and the
inputs, and that each gradient it returns is floating point and not less precise than
its input (float32 for float64 inputs loses precision; a wider result is harmless, the
driver fits it back to the input's dtype: ``maximum`` and ``minimum`` return float64
for float32 inputs). Calling the rule directly is what sees a rule writing into ``g``:
``backward()`` hands the rules its own copy of the output gradient.

A rule may hand ``g`` itself to an input (``add`` gives the same array to both): that is
not aliasing, the leaves copy what they store; the aliasing properties are checked where
the user sees gradients, on ``.grad`` and on what ``grad()`` returns.

The scalar engine (``Value``) has Python floats for ``data`` and ``.grad``: floats are
immutable and hold no buffer, so the mutation and aliasing properties do not apply to it
(nothing can write into a float or share its memory), and there is no float32 run. A
``Value`` that does not require grad keeps its ``.grad`` at its initial ``0.0`` (not
``None``): that is the scalar engine's convention for "no gradient", and what is checked.

:class:`Findings` collects the measures of one check (:func:`props_findings` returns
them all) into an :class:`~sg_verify.oracles.OracleResult`; :mod:`sg_verify.lifecycle`
uses it too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import sg_scalar
import sg_tensor as st
from sg_scalar import Value, graph, no_grad
from sg_verify.oracles import OracleResult, scale_aware
from sg_verify.registry import OpSpec

__all__ = [
    "LINEARITY_TOL",
    "MAX_SUBSET_INPUTS",
    "Findings",
    "bits_equal",
    "coarsest",
    "difference",
    "linear_gap",
    "linearity_tol",
    "props_check",
    "props_findings",
]

LINEARITY_TOL = 1e-12
"""How far from linear a right gradient may be, as ``max |G(a v1 + b v2) - (a G(v1) +
b G(v2))| / max(1, max|a G(v1)| + max|b G(v2)|)`` over each input's gradient.

A rule is linear in ``g``; only rounding separates the two sides. Each element of a
gradient is a sum of at most ``K`` products (``K`` is the longest reduction a rule
performs: at most 24 elements in the registry, a 2x3x4 sum), computed with a relative
error of at most ``K u`` (``u = 2**-53 ~ 1.1e-16``) of the sum of the terms' magnitudes;
the combination ``a G(v1) + b G(v2)`` adds two roundings. So the difference is at most
``(2K + 4) u ~ 6e-15`` times the terms' size, which the largest element of each side
measures (the ``max(1, .)`` floor makes tiny gradients absolute). 1e-12 leaves a margin of
~150 for cancellation inside the sums and still fails any nonlinear rule (``g**2`` is off
by O(1)) and any rule computing in float32 (off by ~1e-7).
"""


def linearity_tol(dtype: Any) -> float:
    """:data:`LINEARITY_TOL` for gradients computed in ``dtype``: the same number of
    roundings, each of that dtype's unit (float32: ~5e-4)."""
    return LINEARITY_TOL * float(np.finfo(dtype).eps / np.finfo(np.float64).eps)


def coarsest(*dtypes: Any) -> np.dtype[Any]:
    """The least precise of floating ``dtypes``: a gradient is only as linear as the
    coarsest rounding on its way (``astype(float32)`` rounds the output gradient)."""
    floats = [np.dtype(d) for d in dtypes if np.dtype(d).kind == "f"] or [np.dtype(np.float64)]
    return max(floats, key=lambda d: float(np.finfo(d).eps))


MAX_SUBSET_INPUTS = 4
"""Every one of the ``2**n - 1`` subsets of inputs requiring grad is tried up to this many
inputs; beyond it, only each input alone and all of them."""


# ---------------------------------------------------------------------------------------
# Findings: each property's measure against its tolerance, as one OracleResult
# ---------------------------------------------------------------------------------------
@dataclass
class Findings:
    """The measures of one check: each property measured against its tolerance.

    ``worst`` of the result is the largest measure among the properties that failed (a
    property that fails outright measures ``inf``), or when none failed the measure
    closest to its tolerance (0.0 when every property held exactly); ``where`` names the
    property and the input.
    """

    oracle: str
    spec: str
    failures: list[tuple[float, str]] = field(default_factory=list)
    largest: tuple[float, str] = (0.0, "-")
    _ratio: float = 0.0
    checked: int = 0

    def measure(self, where: str, value: float, tol: float = 0.0) -> bool:
        """Record ``value`` for the property ``where``; it fails above ``tol`` (or NaN)."""
        self.checked += 1
        value = float(value)
        if np.isnan(value):
            value = np.inf
        if value > tol:
            self.failures.append((value, where))
            return False
        ratio = value / tol if tol > 0 else (np.inf if value > 0 else 0.0)
        if ratio > self._ratio:  # the closest to its tolerance
            self.largest, self._ratio = (value, where), ratio
        return True

    def require(self, where: str, condition: bool, why: str = "") -> bool:
        """A property that holds or fails outright (``inf``)."""
        return self.measure(
            f"{where}: {why}" if why and not condition else where, 0.0 if condition else np.inf
        )

    def fail(self, where: str, why: str) -> None:
        """A property that failed outright."""
        self.require(where, False, why)

    @contextmanager
    def guard(self, where: str) -> Iterator[None]:
        """Run a group of properties; an exception in it fails ``where`` outright."""
        try:
            yield
        except Exception as error:
            reason = " ".join(str(error).split())[:160]
            self.fail(where, f"raised {type(error).__name__}: {reason}")

    def result(self) -> OracleResult:
        """The check's verdict: passed if no property failed."""
        if self.failures:
            worst, where = max(self.failures, key=lambda f: f[0])
            more = len(self.failures) - 1
            if more:
                where += f" (and {more} more failure{'s' * (more > 1)})"
            return OracleResult(self.oracle, self.spec, worst, where, False)
        worst, where = self.largest
        return OracleResult(self.oracle, self.spec, worst, where, True)


# ---------------------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------------------
def bits_equal(a: Any, b: Any) -> bool:
    """Whether two gradients are the same bits (both ``None`` counts as equal)."""
    if a is None or b is None:
        return a is None and b is None
    x, y = np.asarray(a), np.asarray(b)
    return bool(x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes())


def difference(got: Any, ref: Any, bits: bool = False) -> float:
    """How far ``got`` is from ``ref`` for a property that must hold exactly: 0.0 for
    equal values (NaN equal to NaN; with ``bits``, only for the same bits: ``-0.0`` is
    then not ``0.0``), else the largest scale-aware difference, or ``inf`` for a different
    shape, dtype or presence, or bits that differ where the values compare equal.
    """
    if bits_equal(got, ref):
        return 0.0
    if got is None or ref is None:
        return np.inf
    got, ref = np.asarray(got), np.asarray(ref)
    if got.shape != ref.shape or got.dtype != ref.dtype:
        return np.inf
    if not bits and np.array_equal(got, ref, equal_nan=True):
        return 0.0
    err = scale_aware(got, ref)
    worst = float(err.max()) if err.size else 0.0
    return worst if worst > 0 else np.inf


def linear_gap(mix: Any, g1: Any, g2: Any, a: float, b: float) -> float:
    """The linearity measure of :data:`LINEARITY_TOL` for one input's gradients.

    ``None`` stands for a zero gradient. Elements where any of the three is not finite
    are left out (a gradient of ``inf`` at a domain edge is not a linear quantity), unless
    only ``mix`` is not finite there.
    """
    if mix is None and g1 is None and g2 is None:
        return 0.0
    shape = np.shape(next(x for x in (mix, g1, g2) if x is not None))
    mix, g1, g2 = (
        np.zeros(shape) if x is None else np.asarray(x, np.float64) for x in (mix, g1, g2)
    )
    if not (mix.shape == g1.shape == g2.shape):
        return np.inf
    combined = a * g1 + b * g2
    finite = np.isfinite(g1) & np.isfinite(g2)
    if np.any(finite & ~np.isfinite(mix)):
        return np.inf
    if not np.any(finite):
        return 0.0
    terms = np.abs(a * g1[finite]).max() + np.abs(b * g2[finite]).max()
    gap = np.abs(mix[finite] - combined[finite]).max()
    return float(gap / max(1.0, terms))


def _shares(a: Any, b: Any) -> bool:
    return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.shares_memory(a, b)


# ---------------------------------------------------------------------------------------
# Running the spec through the public API
# ---------------------------------------------------------------------------------------
def leaves(
    engine: str, arrays: Sequence[np.ndarray], requires: Sequence[bool], dtype: Any = np.float64
) -> list[Any]:
    """Fresh leaves owning copies of ``arrays``, requiring grad where ``requires`` says."""
    if engine == "scalar":
        return [Value(float(a), requires_grad=r) for a, r in zip(arrays, requires)]
    return [st.Tensor(np.array(a, dtype=dtype), requires_grad=r) for a, r in zip(arrays, requires)]


def seed_of(engine: str, v: np.ndarray) -> Any:
    """An output gradient as the engine's ``backward()`` takes it (a float for Value)."""
    return float(v) if engine == "scalar" else v


def snapshot(grad: Any) -> np.ndarray | None:
    """A copy of a gradient (``.grad``, a ``grad()`` result), ``None`` for none."""
    if grad is None:
        return None
    data = grad.data if isinstance(grad, (st.Tensor, Value)) else grad
    return np.array(data, copy=True)


def public_grads(
    spec: OpSpec,
    arrays: Sequence[np.ndarray],
    v: np.ndarray,
    requires: Sequence[bool] | None = None,
) -> list[np.ndarray | None]:
    """Each input's ``.grad`` (copies) after ``spec(leaves).backward(v)`` on fresh leaves."""
    xs = leaves(spec.engine, arrays, requires or [True] * len(arrays))
    spec.sg(*xs).backward(seed_of(spec.engine, v))
    return [snapshot(x.grad) for x in xs]


def engine_grad(engine: str) -> Callable[..., tuple[Any, ...]]:
    """The engine's ``grad()``."""
    return sg_scalar.grad if engine == "scalar" else st.grad


def props_check(
    spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0, *, create_graph: bool = True
) -> OracleResult:
    """Check every property of the module docstring for ``spec`` at ``arrays``.

    Exact, needs no PyTorch. The cotangents ``v1``, ``v2`` and the factors ``a``, ``b``
    are drawn from ``seed``. Returns one result named ``"props"``: ``worst`` is the largest
    violation (``inf`` for a property that fails outright), ``where`` names it (every
    failure: :func:`props_findings`). ``create_graph``: see :func:`props_findings`.
    """
    return props_findings(spec, arrays, seed, create_graph=create_graph).result()


def props_findings(
    spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0, *, create_graph: bool = True
) -> Findings:
    """Every measure of :func:`props_check`, each failure with its property and input.

    ``create_graph=True`` adds a pass ``backward(V, create_graph=True)`` with an output
    gradient ``V`` that requires grad (tensor engine): the leaves' ``.grad`` must have
    ``G``'s values and share no memory with ``V``, the inputs or each other (PyTorch
    clones there). Off by default: sg stores ``V`` itself, or a view of it, in a leaf's
    ``.grad`` for every operator that passes its gradient on unchanged or reshaped (61 of
    the 381 tensor specs), so it would fail those specs until that is fixed.
    """
    found = Findings("props", spec.name)
    rng = np.random.default_rng(seed)
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    given = [a.copy() for a in arrays]
    with np.errstate(all="ignore"):
        with found.guard("forward"), no_grad():
            out = np.asarray(spec.sg(*leaves(spec.engine, arrays, [False] * len(arrays))).data)
        if found.failures:
            return found
        shape, tol = out.shape, linearity_tol(coarsest(out.dtype, np.float64))
        v1 = rng.standard_normal(shape)
        v2 = rng.standard_normal(shape)
        a, b = rng.uniform(0.5, 2.0, 2) * rng.choice([-1.0, 1.0], 2)
        with found.guard("public API"):
            _public(spec, arrays, v1, v2, float(a), float(b), tol, found)
        if create_graph and spec.engine == "tensor":
            with found.guard("backward(create_graph=True)"):
                _create_graph_leaves(spec, arrays, v1, tol, found)
        with found.guard("inputs not requiring grad"):
            _subsets(spec, arrays, v1, found)
        with found.guard("one leaf for two inputs"):
            _same_leaf(spec, arrays, v1, tol, found)
        with found.guard("rules"):
            _rules(spec, arrays, np.float64, float(a), float(b), rng, found)
        if spec.engine == "tensor":
            with found.guard("float32"):
                _float32(spec, arrays, v1, found)
            with found.guard("rules float32"):
                _rules(spec, arrays, np.float32, float(a), float(b), rng, found)
    for i, (before, after) in enumerate(zip(given, arrays)):
        found.require(f"no mutation: sampled array {i}", bits_equal(before, after))
    return found


def _public(
    spec: OpSpec,
    arrays: list[np.ndarray],
    v1: np.ndarray,
    v2: np.ndarray,
    a: float,
    b: float,
    tol: float,
    found: Findings,
) -> None:
    """Linearity, zero, determinism, mutation, aliasing, shape and dtype, grad()."""
    engine, n = spec.engine, len(arrays)
    v = v1.copy()
    xs = leaves(engine, arrays, [True] * n)
    spec.sg(*xs).backward(seed_of(engine, v))
    first = [snapshot(x.grad) for x in xs]
    found.require("no mutation: output gradient given to backward()", bits_equal(v, v1))
    _check_leaves("backward()", xs, arrays, v, found)
    again = public_grads(spec, arrays, v1)
    for i in range(n):
        found.measure(f"determinism: input {i}", difference(again[i], first[i], bits=True))
    second = public_grads(spec, arrays, v2)
    mixed = public_grads(spec, arrays, a * v1 + b * v2)
    for i in range(n):
        gap = linear_gap(mixed[i], first[i], second[i], a, b)
        found.measure(f"linearity: input {i}", gap, tol)
    zero = public_grads(spec, arrays, np.zeros_like(v1))
    for i, g in enumerate(zero):
        found.require(f"zero: input {i}", g is None or not np.any(g), "nonzero gradient for g = 0")
    # grad(): the same numbers as backward(), returned; no .grad touched; the output
    # gradient (a Tensor: grad() hands its array to the rules) left as it was.
    ys = leaves(engine, arrays, [True] * n)
    out = spec.sg(*ys)
    seed: Any = float(v1) if engine == "scalar" else st.Tensor(v1.copy())
    results = engine_grad(engine)(out, ys, grad_outputs=seed, allow_unused=True)
    for i, (r, y) in enumerate(zip(results, ys)):
        found.measure(f"grad() = backward(): input {i}", difference(snapshot(r), first[i]))
        untouched = y.grad is None if engine == "tensor" else y.grad == 0.0
        found.require(f"grad() leaves .grad alone: input {i}", untouched)
    if engine == "tensor":
        found.require("no mutation: grad_outputs given to grad()", bits_equal(seed.data, v1))
        grads = [None if r is None else r.data for r in results]
        _check_aliasing("grad()", grads, ys, seed.data, found)
        # the same leaf asked for twice: two results, not one array
        ys = leaves(engine, arrays, [True] * n)
        twice = st.grad(spec.sg(*ys), [*ys, ys[0]], grad_outputs=v1, allow_unused=True)
        if twice[0] is not None and twice[-1] is not None:
            found.measure(
                "grad() of one leaf twice: same values", difference(twice[-1].data, twice[0].data)
            )
            found.require(
                "no aliasing: grad() of one leaf twice", not _shares(twice[-1].data, twice[0].data)
            )


def _create_graph_leaves(
    spec: OpSpec, arrays: list[np.ndarray], v: np.ndarray, tol: float, found: Findings
) -> None:
    """``backward(V, create_graph=True)``, ``V`` requiring grad: values, no aliasing."""
    first = public_grads(spec, arrays, v)
    xs = leaves("tensor", arrays, [True] * len(arrays))
    V = st.Tensor(v.copy(), requires_grad=True)
    spec.sg(*xs).backward(V, create_graph=True)
    label = "backward(create_graph=True)"
    for i, x in enumerate(xs):
        gap = linear_gap(snapshot(x.grad), first[i], None, 1.0, 0.0)
        found.measure(f"{label}: values, input {i}", gap, tol)
    found.require(f"no mutation: output gradient given to {label}", bits_equal(V.data, v))
    grads = [None if x.grad is None else x.grad.data for x in xs]
    _check_aliasing(label, grads, xs, V.data, found)


def _check_leaves(
    label: str, xs: list[Any], arrays: list[np.ndarray], v: Any, found: Findings
) -> None:
    """After a pass on leaves ``xs``: data unchanged, shapes and dtypes, no aliasing."""
    for i, (x, a) in enumerate(zip(xs, arrays)):
        if isinstance(x, Value):  # floats: immutable, no buffer to share (module docstring)
            found.require(f"no mutation: input {i} data ({label})", x.data == float(a))
            found.require(
                f"dtype: input {i} ({label})",
                isinstance(x.grad, float),
                f"gradient is {type(x.grad).__name__}, not float",
            )
            continue
        found.require(
            f"no mutation: input {i} data ({label})",
            bits_equal(x.data, np.asarray(a, dtype=x.data.dtype)),
        )
        if x.grad is None:
            continue
        found.require(
            f"shape and dtype: input {i} ({label})",
            isinstance(x.grad, np.ndarray)
            and x.grad.shape == x.data.shape
            and x.grad.dtype == x.data.dtype,
            f"gradient {getattr(x.grad, 'shape', '?')} {getattr(x.grad, 'dtype', '?')}"
            f" for input {x.data.shape} {x.data.dtype}",
        )
    if xs and isinstance(xs[0], st.Tensor):
        _check_aliasing(label, [x.grad for x in xs], xs, v, found)


def _check_aliasing(label: str, grads: list[Any], xs: list[Any], v: Any, found: Findings) -> None:
    """No gradient shares memory with an input's data, ``v`` or another gradient."""
    seen: set[int] = set()
    for i, g in enumerate(grads):
        if g is None or id(g) in seen:  # one leaf passed twice holds one gradient
            continue
        seen.add(id(g))
        others = [(f"input {j} data", x.data) for j, x in enumerate(xs)]
        others.append(("the output gradient", v))
        others += [
            (f"input {j} gradient", h)
            for j, h in enumerate(grads)
            if h is not None and xs[j] is not xs[i] and j != i
        ]
        for what, other in others:
            if _shares(g, other):
                found.fail(
                    f"no aliasing: input {i} ({label})", f"gradient shares memory with {what}"
                )
                break
        else:
            found.require(f"no aliasing: input {i} ({label})", True)


def _subsets(spec: OpSpec, arrays: list[np.ndarray], v: np.ndarray, found: Findings) -> None:
    """Every non-empty subset of inputs requiring grad: the others get none, the subset
    what it gets when all require grad."""
    n = len(arrays)
    full = public_grads(spec, arrays, v)
    if n <= MAX_SUBSET_INPUTS:
        subsets = [s for k in range(1, n) for s in itertools.combinations(range(n), k)]
    else:
        subsets = [(i,) for i in range(n)]
    for subset in subsets:
        requires = [i in subset for i in range(n)]
        xs = leaves(spec.engine, arrays, requires)
        out = spec.sg(*xs)
        if out.requires_grad:  # else no input of the subset reaches it (a user's function)
            out.backward(seed_of(spec.engine, v))
        label = f"requires grad {list(subset)}"
        for i, x in enumerate(xs):
            if requires[i]:
                found.measure(
                    f"{label}: input {i} gradient", difference(snapshot(x.grad), full[i])
                )
            elif spec.engine == "scalar":
                found.require(
                    f"{label}: input {i} gets none", x.grad == 0.0, f".grad is {x.grad!r}, not 0.0"
                )
            else:
                found.require(f"{label}: input {i} gets none", x.grad is None, ".grad is not None")


def _same_leaf(
    spec: OpSpec, arrays: list[np.ndarray], v: np.ndarray, tol: float, found: Findings
) -> None:
    """``f(x, x)``: the sum of the gradients two leaves with equal data get."""
    n = len(arrays)
    for i, j in itertools.combinations(range(n), 2):
        if arrays[i].shape != arrays[j].shape:
            continue
        same = list(arrays)
        same[j] = arrays[i]
        apart = public_grads(spec, same, v)
        xs = leaves(spec.engine, same, [True] * n)
        shared = [x if k != j else xs[i] for k, x in enumerate(xs)]
        spec.sg(*shared).backward(seed_of(spec.engine, v))
        # apart[i] + apart[j] as linear_gap(got, G_i, G_j, 1, 1): the sum, None for zero
        gap = linear_gap(snapshot(xs[i].grad), apart[i], apart[j], 1.0, 1.0)
        found.measure(f"one leaf for inputs {i} and {j}: the sum", gap, tol)
        if spec.engine == "tensor":
            _check_aliasing(
                f"one leaf for inputs {i} and {j}", [x.grad for x in shared], shared, v, found
            )


def _float32(spec: OpSpec, arrays: list[np.ndarray], v: np.ndarray, found: Findings) -> None:
    """float32 inputs get float32 gradients of their shape (and no aliasing)."""
    in_float64 = public_grads(spec, arrays, v)
    xs = leaves("tensor", arrays, [True] * len(arrays), np.float32)
    out = spec.sg(*xs)
    seed = v.astype(out.data.dtype)
    out.backward(seed)
    for i, (x, g) in enumerate(zip(xs, in_float64)):
        if g is not None:  # (a user's function may not depend on every input)
            found.require(f"float32: input {i} gets a gradient", x.grad is not None)
    _check_leaves("float32", xs, [a.astype(np.float32) for a in arrays], seed, found)


# ---------------------------------------------------------------------------------------
# The raw rules, called as the driver calls them
# ---------------------------------------------------------------------------------------
def graph_nodes(out: Any) -> list[Any]:
    """The nodes of ``out``'s graph that have a rule (not leaves), parents first."""
    return [
        n
        for n in graph.topological_order(out)
        if n._op is not None and n._op is not graph.RELEASED
    ]


def _rules(
    spec: OpSpec,
    arrays: list[np.ndarray],
    dtype: Any,
    a: float,
    b: float,
    rng: np.random.Generator,
    found: Findings,
) -> None:
    """Each rule of the spec's graph, called directly on the data the driver would pass."""
    xs = leaves(spec.engine, arrays, [True] * len(arrays), dtype)
    for node in graph_nodes(spec.sg(*xs)):
        _check_rule(node, a, b, rng, found, "" if dtype == np.float64 else " float32")


def _random_like(data: Any, rng: np.random.Generator) -> Any:
    if isinstance(data, float):
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(data)).astype(np.asarray(data).dtype)


def _check_rule(
    node: Any, a: float, b: float, rng: np.random.Generator, found: Findings, suffix: str
) -> None:
    op, parents = node._op, node._parents
    label = f"rule {op.name}{suffix}"
    ctx = dict(node._ctx or {})
    if op.needs_input_grad:
        ctx["needs_input_grad"] = tuple(p.requires_grad for p in parents)
    out, inputs = node.data, [p.data for p in parents]
    kept = [snapshot(x) for x in (out, *inputs)]

    def call(g: Any) -> list[np.ndarray | None]:
        given = snapshot(g)
        grads = op.vjp(g, out, *inputs, **ctx)
        found.require(f"{label}: does not write into g", bits_equal(g, given))
        for k, (x, before) in enumerate(zip((out, *inputs), kept)):
            what = "out" if k == 0 else f"input {k - 1}"
            found.require(f"{label}: does not write into {what}", bits_equal(x, before))
        if len(grads) != len(parents):
            found.fail(label, f"{len(grads)} gradients for {len(parents)} inputs")
            return [None] * len(parents)
        return [snapshot(r) if p.requires_grad else None for r, p in zip(grads, parents)]

    g1, g2 = _random_like(out, rng), _random_like(out, rng)
    first, again = call(g1), call(g1)
    second, mixed = call(g2), call(a * g1 + b * g2)
    zero = call(g1 * 0.0)
    for i, p in enumerate(parents):
        if not p.requires_grad:
            continue
        where = f"{label}: input {i}"
        found.measure(f"{where} determinism", difference(again[i], first[i], bits=True))
        tol = linearity_tol(coarsest(np.asarray(out).dtype, np.asarray(p.data).dtype))
        found.measure(f"{where} linearity", linear_gap(mixed[i], first[i], second[i], a, b), tol)
        found.require(
            f"{where} zero", zero[i] is None or not np.any(zero[i]), "nonzero gradient for g = 0"
        )
        g = first[i]
        if g is not None:
            wanted = np.asarray(p.data).dtype
            ok = g.dtype.kind == "f" and np.finfo(g.dtype).eps <= np.finfo(wanted).eps
            found.require(f"{where} precision", ok, f"gradient is {g.dtype} for {wanted} input")
