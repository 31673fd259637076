"""Mutation testing of the oracles: deliberately wrong gradients, patched in at run time.

An oracle that never fails proves nothing. This module checks the checkers: it breaks
sg's gradients on purpose, one way at a time (a *mutant*), runs both oracles on the
registry specs of the broken operator, and records which oracle noticed (the *kill
matrix*). Every mutant must be caught by at least one oracle; where one oracle misses,
the report says so and says why. Those misses are the point: they show that finite
differences and PyTorch fail in *different* ways, so that passing both is worth more
than passing either.

A mutant swaps one attribute while it is active (an operator's ``vjp``, the backward
driver ``sg_scalar.graph.backward``, or the ``unbroadcast`` helper) and restores it on
exit, also when the check raises (:meth:`Mutant.applied`). Nothing in sg-scalar or
sg-tensor is edited; the rule tables are untouched after a run.

The mutant kinds (:data:`KINDS`):

``sign_flip`` ``scale_1e-3`` ``scale_1e-7`` ``zero``
    Generic mutants, one per input of *every* operator of both rule tables. The 1e-7
    factor is below the finite-difference tolerance (``fd_rtol = 1e-6``) on purpose:
    FD is expected to miss it and PyTorch (1e-12) to catch it.
``no_unbroadcast``
    For each broadcasting operator, the raw rule without the fit that sums gradients
    back to each input's shape: wrong shapes, which must be *reported* (a failed or a
    raising check), never crash the run.
``kink`` and ``tie``
    Conventions at non-differentiable points (relu/abs/leaky_relu gradient at 0, clip
    bounds, how max/min share a tie). The registry samplers avoid kinks, so these are
    checked on *probe* inputs placed exactly on the kink. A central difference across a
    kink averages the two one-sided slopes, so it is not a valid witness there (the
    unmutated rule fails it too) and FD misses kink mutants by design; at a two-way tie
    the average *is* the split convention, so FD does catch the tie mutants.
``operator``
    Operator-specific slips: transposed matmul operand, softmax missing its sum term,
    repeated indices assigned instead of accumulated, wrong ``ddof``, wrong reshape
    order, the tanh-approximate GELU derivative for the exact GELU, ...
``driver`` and ``helper``
    The shared machinery: a backward driver that *assigns* a parent's pending gradient
    instead of summing it (visible only when a node is used twice), one that runs a
    node's rule before all its consumers have contributed (visible only on a diamond),
    one that ignores the output gradient, and an ``unbroadcast`` that forgets stretched
    size-1 axes.

A check counts for an oracle only where that oracle passes the *unmutated* code at the
same input and cotangent; checks it already fails (FD at a kink) are skipped and listed
in the report, so a "kill" is always a difference the mutation made.

>>> report = run_mutants(engine="scalar", oracles=("fd",), kinds=("sign_flip",))
>>> report.kill_rate("fd")
1.0
"""

from __future__ import annotations

import inspect
import math
import re
import time
import warnings
import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import sg_scalar
import sg_tensor
from sg_scalar import graph
from sg_scalar.ieee import data as scalar_data
from sg_scalar.ieee import div as scalar_div
from sg_scalar.ieee import log as scalar_log
from sg_scalar.ieee import power as scalar_power
from sg_tensor import op as tensor_op_module
from sg_tensor import shapes as tensor_shapes
from sg_tensor.op import data as tensor_data
from sg_tensor.reductions import expand
from sg_verify.oracles import OracleResult, fd_check, require_torch, torch_check
from sg_verify.registry import SCALAR_SPECS, TENSOR_SPECS, OpSpec, away_from_zero, distinct

__all__ = [
    "GENERIC_KINDS",
    "KINDS",
    "Mutant",
    "MutantReport",
    "MutantResult",
    "Patch",
    "Verdict",
    "all_mutants",
    "make_driver",
    "patchable_state",
    "run_mutants",
]

Rule = Callable[..., tuple[Any, ...]]
Sampler = Callable[[np.random.Generator], list[np.ndarray]]
Check = Callable[[OpSpec, Sequence[np.ndarray], int], OracleResult]

ORACLES: dict[str, Check] = {"fd": fd_check, "torch": torch_check}
"""The oracles a mutant run can use, by name."""

GENERIC_KINDS = ("sign_flip", "scale_1e-3", "scale_1e-7", "zero")
"""The mutant kinds applied to every input of every operator of both rule tables."""

KINDS: dict[str, str] = {
    "sign_flip": "one input's gradient with its sign flipped (the d(a - b) slip)",
    "scale_1e-3": "one input's gradient 0.1% too large (a wrong constant)",
    "scale_1e-7": (
        "one input's gradient off by a relative 1e-7: below FD's 1e-6 tolerance, so FD "
        "should miss it and PyTorch (1e-12) catch it"
    ),
    "zero": "one input gets a zero gradient (a forgotten term, a stray detach)",
    "no_unbroadcast": "broadcasting not undone: gradients keep the output's shape",
    "kink": "another convention at a kink (gradient 1 at 0, clip bounds excluded)",
    "tie": "max/min ties not split evenly between the tied inputs",
    "operator": "an operator-specific slip (transposed operand, missing sum term, ...)",
    "driver": "a broken backward driver (assignment instead of accumulation, ...)",
    "helper": "a broken shared helper (unbroadcast)",
}
"""Every mutant kind with what it breaks."""

SCALAR_SAMPLE_FACTOR = 4
"""Scalar specs get this many times the tensor samples: a 0-d sample checks one point,
where a tensor sample checks a dozen (a mutant of ``maximum``'s second input is
invisible at every sample where the first input is larger)."""


# ---------------------------------------------------------------------------------------
# Mutants and how they are patched in
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Patch:
    """Replace ``target.attribute`` while a mutant is active.

    ``wrap(original)`` builds the replacement from the value found when the mutant is
    applied, so a wrapper always wraps the real current rule.
    """

    target: Any
    attribute: str
    wrap: Callable[[Any], Any]


@dataclass(frozen=True, eq=False)
class Mutant:
    """One deliberately wrong gradient, and where to check it.

    ``operator`` is the rule-table entry it breaks (``"<driver>"`` or ``"<unbroadcast>"``
    for the shared machinery). It is checked on the registry specs of ``engine`` whose
    ``op`` is in ``spec_ops`` (every spec of the engine when ``None``), plus its own
    ``probes`` (kinks, ties, square matrices, reused inputs). ``expected_misses`` names
    the oracles that are *expected* not to catch it, and ``note`` says why.
    """

    name: str
    operator: str
    engine: str
    kind: str
    description: str
    patches: tuple[Patch, ...]
    spec_ops: frozenset[str] | None
    probes: tuple[OpSpec, ...] = ()
    expected_misses: frozenset[str] = frozenset()
    note: str = ""

    @contextmanager
    def applied(self) -> Iterator[Mutant]:
        """Patch the mutant in for the ``with`` block; restore everything on exit.

        Restoring happens in a ``finally``, so an exception (or a KeyboardInterrupt)
        inside the block leaves the rule tables, the driver and the helpers as they were.
        """
        saved: list[tuple[Any, str, Any]] = []
        try:
            for patch in self.patches:
                original = getattr(patch.target, patch.attribute)
                replacement = patch.wrap(original)
                saved.append((patch.target, patch.attribute, original))
                setattr(patch.target, patch.attribute, replacement)
            yield self
        finally:
            for target, attribute, original in reversed(saved):
                setattr(target, attribute, original)

    def specs(self) -> list[OpSpec]:
        """The registry specs this mutant runs on, then its own probes."""
        registry = TENSOR_SPECS if self.engine == "tensor" else SCALAR_SPECS
        chosen = [s for s in registry if self.spec_ops is None or s.op in self.spec_ops]
        return chosen + list(self.probes)

    def to_dict(self) -> dict[str, Any]:
        """The mutant's description as plain data (no patches)."""
        return {
            "name": self.name,
            "operator": self.operator,
            "engine": self.engine,
            "kind": self.kind,
            "kind_meaning": KINDS.get(self.kind, ""),
            "description": self.description,
            "expected_misses": sorted(self.expected_misses),
            "note": self.note,
            "probes": [p.name for p in self.probes],
        }

    def __repr__(self) -> str:
        return f"Mutant({self.name})"


def patchable_state() -> dict[str, Any]:
    """Everything a mutant may patch, by identity: compare two snapshots to prove that
    a run restored the rule tables, the backward driver and the helpers."""
    state: dict[str, Any] = {
        "graph.backward": graph.backward,
        "sg_tensor.op.unbroadcast": tensor_op_module.unbroadcast,
        "sg_tensor.shapes.unbroadcast": vars(tensor_shapes)["unbroadcast"],
    }
    for name, tensor_op in sg_tensor.OPS.items():
        state[f"tensor:{name}"] = (tensor_op.vjp, tensor_op.forward, tensor_op.rule)
    for name, scalar_op in sg_scalar.OPS.items():
        state[f"scalar:{name}"] = (scalar_op.vjp, scalar_op.forward)
    return state


# ---------------------------------------------------------------------------------------
# Generic mutants: one input's gradient changed after the (correct) rule ran
# ---------------------------------------------------------------------------------------
def _change_input(index: int, change: Callable[[Any], Any]) -> Callable[[Rule], Rule]:
    def wrap(vjp: Rule) -> Rule:
        def mutated(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
            grads = list(vjp(*args, **kwargs))
            if index < len(grads) and grads[index] is not None:
                grads[index] = change(grads[index])
            return tuple(grads)

        return mutated

    return wrap


def _flip(grad: Any) -> Any:
    return -grad


def _scaled(factor: float) -> Callable[[Any], Any]:
    def change(grad: Any) -> Any:
        return grad * factor

    return change


def _zeroed(grad: Any) -> Any:
    return grad * 0.0


_GENERIC: dict[str, tuple[Callable[[Any], Any], str]] = {
    "sign_flip": (_flip, "the gradient of input {i} has its sign flipped"),
    "scale_1e-3": (_scaled(1 + 1e-3), "the gradient of input {i} is scaled by 1 + 1e-3"),
    "scale_1e-7": (_scaled(1 + 1e-7), "the gradient of input {i} is scaled by 1 + 1e-7"),
    "zero": (_zeroed, "input {i} gets a zero gradient"),
}

_SUBTLE_NOTE = (
    "A relative 1e-7 is below the central-difference tolerance (1e-6, itself set by the "
    "truncation and round-off error of a difference with step 1e-6): FD is expected to "
    "miss it. PyTorch agrees with sg to 1e-12 and catches it."
)
_KINK_NOTE = (
    "Only a probe exactly on the kink shows the convention. The registry samplers avoid "
    "kinks, and at the probe the central difference averages the two one-sided slopes "
    "(0.5 for relu at 0), so the unmutated rule fails FD there too: FD is not a valid "
    "witness at a kink and misses this mutant by design. PyTorch has the same convention "
    "as sg and catches it."
)

_ABS_KINK_NOTE = (
    "Only a probe exactly on the kink shows the convention. The kink of |x| is "
    "symmetric: the central difference there is (|h| - |-h|) / 2h = 0, which is exactly "
    "the sign(0) = 0 convention, so unlike relu's, this kink is a valid FD witness and "
    "both oracles catch the mutant."
)


def _arity(rule: Rule) -> int:
    """How many inputs a rule has (a variadic rule counts as one: its first input)."""
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = list(inspect.signature(rule).parameters.values())[2:]  # after g, out
    return max(1, sum(p.kind in positional for p in params))


def _generic_mutants(engine: str, name: str, target: Any, rule: Rule) -> list[Mutant]:
    mutants = []
    probes = _operator_probes(engine, name)
    for i in range(_arity(rule)):
        for kind in GENERIC_KINDS:
            change, text = _GENERIC[kind]
            mutants.append(
                Mutant(
                    name=f"{engine}:{name}:{kind}[in{i}]",
                    operator=name,
                    engine=engine,
                    kind=kind,
                    description=text.format(i=i),
                    patches=(Patch(target, "vjp", _change_input(i, change)),),
                    spec_ops=frozenset({name}),
                    probes=probes,
                    expected_misses=frozenset({"fd"}) if kind == "scale_1e-7" else frozenset(),
                    note=_SUBTLE_NOTE if kind == "scale_1e-7" else "",
                )
            )
    return mutants


# ---------------------------------------------------------------------------------------
# Operator-specific rules (tensor engine). Each is a wrong rule, with the slip it models.
# ---------------------------------------------------------------------------------------
def _fit(g: Any, x: Any) -> Any:
    """``g`` reduced to ``x``'s shape and dtype, as the broadcasting declaration does."""
    if g is None:
        return None
    if g.shape != x.shape:
        g = tensor_op_module.unbroadcast(g, x.shape)
    if g.dtype != x.dtype and x.dtype.kind == "f":
        g = g.astype(x.dtype)
    return g


def _refit(rule: Rule) -> Rule:
    """A binary rule wrapped with the unbroadcast fit (the mutation is in the rule only)."""

    def vjp(g: Any, out: Any, a: Any, b: Any, **ctx: Any) -> tuple[Any, Any]:
        ga, gb = rule(g, out, a, b, **ctx)
        return _fit(ga, a), _fit(gb, b)

    return vjp


def _relu_one_at_zero(g: Any, out: Any, x: Any) -> tuple[Any]:
    """relu with gradient 1 at x == 0 (mask ``x >= 0``): PyTorch and sg use 0."""
    return (g * (tensor_data(x) >= 0),)


def _abs_one_at_zero(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d|x| with sign(0) taken as +1 (``x >= 0``): PyTorch and sg use 0."""
    return (g * np.where(tensor_data(x) >= 0, 1.0, -1.0),)


def _leaky_relu_one_at_zero(g: Any, out: Any, x: Any, *, negative_slope: float) -> tuple[Any]:
    """leaky_relu with slope 1 at x == 0 (``x >= 0``): PyTorch and sg use the small slope."""
    return (np.where(tensor_data(x) >= 0, g, g * negative_slope),)


def _clip_bounds_excluded(
    g: Any, out: Any, x: Any, *, min: float | None, max: float | None
) -> tuple[Any]:
    """clip passing the gradient only strictly inside the bounds; PyTorch includes them."""
    x_data = tensor_data(x)
    inside = np.ones(x_data.shape, dtype=bool)
    if min is not None:
        inside &= x_data > min
    if max is not None:
        inside &= x_data < max
    return (np.where(inside, g, 0.0),)


def _maximum_tie_to_first(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """maximum giving a tie wholly to the first input (mask ``a >= b``) instead of halves."""
    first = tensor_data(a) >= tensor_data(b)
    return g * first, g * ~first


def _minimum_tie_to_first(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """minimum giving a tie wholly to the first input (mask ``a <= b``) instead of halves."""
    first = tensor_data(a) <= tensor_data(b)
    return g * first, g * ~first


def _extremum_unsplit(g: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    """max/min giving the *full* gradient to every tied extreme (no division by the count)."""
    x_data = tensor_data(x)
    hits = x_data == expand(tensor_data(out), x_data.shape, axis, keepdims)
    return (expand(g, x.shape, axis, keepdims) * hits,)


def _softmax_no_sum(g: Any, out: Any, x: Any, *, axis: int) -> tuple[Any]:
    """softmax gradient ``s * g``, missing the ``- s * sum(g * s)`` term (the diagonal only)."""
    return (out * g,)


def _log_softmax_no_sum(g: Any, out: Any, x: Any, *, axis: int) -> tuple[Any]:
    """log_softmax gradient ``g``, missing the ``- softmax * sum(g)`` term."""
    return (g,)


def _matmul_a_untransposed(rule: Rule) -> Rule:
    """grad_A = G @ B instead of G @ B^T (same shape only for square B)."""

    def mutated(g: Any, out: Any, a: Any, b: Any, **ctx: Any) -> tuple[Any, Any]:
        ga, gb = rule(g, out, a, b, **ctx)
        if ga is not None and a.ndim >= 2 and b.ndim >= 2:
            ga = g @ b
        return ga, gb

    return mutated


def _matmul_b_untransposed(rule: Rule) -> Rule:
    """grad_B = A @ G instead of A^T @ G (same shape only for square A)."""

    def mutated(g: Any, out: Any, a: Any, b: Any, **ctx: Any) -> tuple[Any, Any]:
        ga, gb = rule(g, out, a, b, **ctx)
        if gb is not None and a.ndim >= 2 and b.ndim >= 2:
            gb = a @ g
        return ga, gb

    return mutated


def _getitem_assign(g: Any, out: Any, x: Any, *, index: Any) -> tuple[Any]:
    """getitem writing ``grad[index] = g`` for every index: a repeated index keeps only
    its last gradient instead of their sum (``np.add.at``)."""
    grad = np.zeros(x.shape, dtype=g.dtype)
    grad[index] = g
    return (grad,)


def _transpose_same_permutation(g: Any, out: Any, x: Any, *, axes: tuple[int, ...]) -> tuple[Any]:
    """transpose gradient permuted by ``axes`` again instead of by its inverse (right only
    for involutions such as a swap of two axes)."""
    return (g.transpose(axes),)


def _reshape_fortran(g: Any, out: Any, x: Any, *, shape: tuple[int, ...]) -> tuple[Any]:
    """reshape gradient read back in Fortran order: right shape, elements misplaced."""
    return (np.reshape(g, x.shape, order="F"),)


def _broadcast_to_mean(g: Any, out: Any, x: Any, *, shape: tuple[int, ...]) -> tuple[Any]:
    """broadcast_to gradient averaged over the copies instead of summed."""
    summed = tensor_op_module.unbroadcast(g, x.shape)
    return (summed * (x.size / g.size),)


def _pad_wrong_side(
    g: Any, out: Any, x: Any, *, pad_width: tuple[tuple[int, int], ...], value: float
) -> tuple[Any]:
    """pad gradient cut at the *after* offsets instead of the *before* ones."""
    return (g[tuple(slice(after, after + n) for (_, after), n in zip(pad_width, x.shape))],)


def _concatenate_no_offset(g: Any, out: Any, *xs: Any, axis: int) -> tuple[Any, ...]:
    """concatenate giving every piece the *first* slice of the gradient (offset not advanced)."""
    lead = (slice(None),) * axis
    return tuple(g[lead + (slice(0, x.shape[axis]),)] for x in xs)


def _var_ddof_ignored(
    g: Any, out: Any, x: Any, *, axis: Any, keepdims: bool, ddof: int
) -> tuple[Any]:
    """var gradient divided by n instead of n - ddof (right only for ddof=0)."""
    centered = x - x.mean(axis=axis, keepdims=True)
    n = math.prod(x.shape[a] for a in axis)
    return (expand(g, x.shape, axis, keepdims) * (2 * centered / n),)


def _mean_whole_size(g: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    """mean gradient divided by the whole input's size instead of the reduced count."""
    return (expand(g / x.size, x.shape, axis, keepdims),)


def _sum_axes_not_restored(g: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    """sum gradient broadcast back without re-inserting the reduced axes (keepdims ignored).

    Right by accident when the reduced axes are leading or all; otherwise numpy aligns
    the gradient with the wrong axes or cannot broadcast at all.
    """
    return (expand(g, x.shape, axis, True),)


def _gelu_tanh_derivative(rule: Rule) -> Rule:
    """The exact GELU differentiated with the tanh approximation's formula (~1e-3 off)."""

    def mutated(g: Any, out: Any, x: Any, *, approximate: str) -> tuple[Any, ...]:
        return rule(g, out, x, approximate="tanh")

    return mutated


def _softplus_no_threshold(
    g: Any, out: Any, x: Any, *, beta: float, threshold: float
) -> tuple[Any]:
    """softplus gradient ``sigmoid(min(b x, threshold))`` everywhere: above the threshold
    (where the forward is linear) it gives sigmoid(threshold) instead of exactly 1."""
    z = np.exp(np.minimum(tensor_data(x * beta), threshold))
    return (g * z / (z + 1),)


def _astype_no_cast(g: Any, out: Any, x: Any, *, dtype: Any) -> tuple[Any]:
    """astype passing the gradient through in the output's precision: a float32 node gets
    a float64 gradient, skipping the rounding PyTorch applies (a relative ~3e-8)."""
    return (g,)


def _where_condition_ignored(
    g: Any, out: Any, a: Any, b: Any, *, condition: Any
) -> tuple[Any, Any]:
    """where sending the whole gradient to both branches, as if the condition were all true."""
    return g, g


def _tanh_unsquared(g: Any, out: Any, x: Any) -> tuple[Any]:
    """tanh gradient ``1 - t`` instead of ``1 - t**2``."""
    return (g * (1 - out),)


def _sigmoid_missing_factor(g: Any, out: Any, x: Any) -> tuple[Any]:
    """sigmoid gradient ``s`` instead of ``s (1 - s)``."""
    return (g * out,)


def _div_b_unsquared(rule: Rule) -> Rule:
    """div's divisor gradient ``-a / b`` instead of ``-a / b**2``."""

    def mutated(g: Any, out: Any, a: Any, b: Any, **ctx: Any) -> tuple[Any, Any]:
        ga, gb = rule(g, out, a, b, **ctx)
        return ga, (None if gb is None else -g * a / b)

    return mutated


def _pow_exponent_no_log(rule: Rule) -> Rule:
    """pow's exponent gradient ``x**y`` instead of ``x**y log x``."""

    def mutated(g: Any, out: Any, x: Any, y: Any, **ctx: Any) -> tuple[Any, Any]:
        gx, gy = rule(g, out, x, y, **ctx)
        return gx, (None if gy is None else g * out)

    return mutated


def _pow_scalar_not_decremented(g: Any, out: Any, x: Any, *, p: float) -> tuple[Any]:
    """d(x**p) as ``p x**p`` (the exponent not decremented); p == 0 still gives 0."""
    return (g * (p * x**p),)


def _logsumexp_unnormalised(g: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    """logsumexp gradient ``e**x`` instead of ``e**(x - lse)`` (softmax not normalised)."""
    return (expand(g, x.shape, axis, keepdims) * np.exp(x),)


def _sqrt_missing_two(g: Any, out: Any, x: Any) -> tuple[Any]:
    """sqrt gradient ``1 / sqrt x`` instead of ``1 / (2 sqrt x)``."""
    return (g / out,)


# ---------------------------------------------------------------------------------------
# Operator-specific rules (scalar engine)
# ---------------------------------------------------------------------------------------
def _s_relu_one_at_zero(g: Any, out: Any, x: Any) -> tuple[Any]:
    """relu with gradient 1 at x == 0: PyTorch and sg use 0."""
    return (g * (1.0 if scalar_data(x) >= 0 else 0.0),)


def _s_abs_one_at_zero(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d|x| with sign(0) taken as +1: PyTorch and sg use 0."""
    return (g * (1.0 if scalar_data(x) >= 0 else -1.0),)


def _s_maximum_tie_to_first(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """maximum giving a tie wholly to the first input instead of half to each."""
    first = scalar_data(a) >= scalar_data(b)
    return g * (1.0 if first else 0.0), g * (0.0 if first else 1.0)


def _s_minimum_tie_to_first(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """minimum giving a tie wholly to the first input instead of half to each."""
    first = scalar_data(a) <= scalar_data(b)
    return g * (1.0 if first else 0.0), g * (0.0 if first else 1.0)


def _s_pow_const_not_decremented(g: Any, out: Any, x: Any, *, p: float) -> tuple[Any]:
    """d(x**p) as ``p x**p`` (the exponent not decremented)."""
    return (g * (p * scalar_power(x, p)),)


def _s_pow_exponent_no_log(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """pow's exponent gradient ``x**y`` instead of ``x**y log x`` (base gradient right)."""
    return g * (y * scalar_power(x, y - 1.0)), g * out


def _s_pow_exponent_log_only(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """pow's exponent gradient ``log x`` instead of ``x**y log x``."""
    return g * (y * scalar_power(x, y - 1.0)), g * scalar_log(x)


def _s_tanh_unsquared(g: Any, out: Any, x: Any) -> tuple[Any]:
    """tanh gradient ``1 - t`` instead of ``1 - t**2``."""
    return (g * (1.0 - out),)


def _s_sigmoid_missing_factor(g: Any, out: Any, x: Any) -> tuple[Any]:
    """sigmoid gradient ``s`` instead of ``s (1 - s)``."""
    return (g * out,)


def _s_sqrt_missing_two(g: Any, out: Any, x: Any) -> tuple[Any]:
    """sqrt gradient ``1 / sqrt x`` instead of ``1 / (2 sqrt x)``."""
    return (scalar_div(g, out),)


# ---------------------------------------------------------------------------------------
# Probes: inputs of our own, on kinks and ties, square matrices, reused inputs
# ---------------------------------------------------------------------------------------
def _probe(
    engine: str,
    name: str,
    op: str,
    sg: Callable[..., Any],
    torch: Callable[..., Any],
    sample: Sampler,
) -> OpSpec:
    return OpSpec(
        name=f"probe:{name}", engine=engine, op=op, sg=sg, torch=torch, sample=sample,
        covers=(op,),
    )  # fmt: skip


def _T() -> Any:
    import torch

    return torch


def _zeros_at_kink(*shape: int, at: float = 0.0, every: int = 3) -> Sampler:
    """Values away from ``at`` with every ``every``-th element exactly on it."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        x = np.asarray(away_from_zero(*shape, gap=0.1)(rng), dtype=np.float64) + at
        x.reshape(-1)[::every] = at
        return [x]

    return draw


def _on_clip_bounds(rng: np.random.Generator) -> list[np.ndarray]:
    x = rng.standard_normal((3, 4))
    x = np.where(np.abs(np.abs(x) - 0.5) < 0.05, x * 1.3, x)
    x.reshape(-1)[::5] = 0.5
    x.reshape(-1)[2::5] = -0.5
    return [x]


def _on_min_bound(rng: np.random.Generator) -> list[np.ndarray]:
    x = rng.standard_normal((3, 4))
    x = np.where(np.abs(x - 0.2) < 0.05, x + 0.3, x)
    x.reshape(-1)[::4] = 0.2
    return [x]


def _tied_pairs(*shape: int) -> Sampler:
    """Two inputs equal at every third element and at least 0.1 apart elsewhere."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        a = rng.standard_normal(shape)
        gap = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 1.0, shape)
        b = np.asarray(a + gap, dtype=np.float64)
        b.reshape(-1)[::3] = np.asarray(a).reshape(-1)[::3]
        return [np.asarray(a, dtype=np.float64), b]

    return draw


def _tied_extremes(rng: np.random.Generator) -> list[np.ndarray]:
    """Rows of five whose maximum and minimum each occur exactly twice."""
    base = np.asarray(distinct(3, 3)(rng), dtype=np.float64)
    return [np.concatenate([base, base.max(1, keepdims=True), base.min(1, keepdims=True)], 1)]


def _diamond(x: Any) -> Any:
    h = x.sin()  # one intermediate node with two consumers
    return h.exp() * h.cos()


def _reuse_probes(engine: str) -> tuple[OpSpec, ...]:
    """Expressions that use a node twice: the only place where summing matters."""
    shape: tuple[int, ...] = (3, 4) if engine == "tensor" else ()

    def real(rng: np.random.Generator) -> np.ndarray:
        return np.asarray(rng.standard_normal(shape), dtype=np.float64)

    return (
        _probe(engine, "reuse[x*x]", "mul", lambda x: x * x, lambda x: x * x,
               lambda rng: [real(rng)]),
        _probe(engine, "reuse[x*y+x]", "add", lambda x, y: x * y + x, lambda x, y: x * y + x,
               lambda rng: [real(rng), real(rng)]),
        _probe(engine, "reuse[diamond]", "mul", _diamond, _diamond, lambda rng: [real(rng)]),
    )  # fmt: skip


def _tensor_probes() -> dict[str, tuple[OpSpec, ...]]:
    import sg_tensor as st

    def F() -> Any:
        import torch.nn.functional

        return torch.nn.functional

    def square(*shapes: tuple[int, ...]) -> Sampler:
        return lambda rng: [rng.standard_normal(s) for s in shapes]

    e = "tensor"
    # The registry's astype spec converts twice (float64 -> float32 -> float64), so a
    # mutant applied to both conversions can cancel (a sign flipped twice): this probe
    # converts once, the float64 zeros only bringing the result back to float64.
    astype_once = OpSpec(
        name="probe:astype[once]", engine=e, op="astype",
        sg=lambda x: x.astype(np.float32) + np.zeros(x.shape),
        torch=lambda x: x.float() + _T().zeros(x.shape, dtype=_T().float64),
        sample=lambda rng: [rng.standard_normal((3, 4))], covers=("astype",),
        fd_eps=1e-2, fd_rtol=1e-5,
    )  # fmt: skip
    return {
        "relu": (_probe(e, "relu[kink]", "relu", lambda x: x.relu(), lambda x: x.relu(),
                        _zeros_at_kink(3, 4)),),
        "abs": (_probe(e, "abs[kink]", "abs", lambda x: x.abs(), lambda x: x.abs(),
                       _zeros_at_kink(3, 4)),),
        "leaky_relu": (_probe(e, "leaky_relu[kink]", "leaky_relu",
                              lambda x: x.leaky_relu(0.1), lambda x: F().leaky_relu(x, 0.1),
                              _zeros_at_kink(3, 4)),),
        "clip": (
            _probe(e, "clip[bounds]", "clip", lambda x: x.clip(-0.5, 0.5),
                   lambda x: x.clamp(-0.5, 0.5), _on_clip_bounds),
            _probe(e, "clip[min-bound]", "clip", lambda x: st.clip(x, min=0.2),
                   lambda x: x.clamp(min=0.2), _on_min_bound),
        ),
        "maximum": (_probe(e, "maximum[ties]", "maximum", st.maximum,
                           lambda x, y: _T().maximum(x, y), _tied_pairs(3, 4)),),
        "minimum": (_probe(e, "minimum[ties]", "minimum", st.minimum,
                           lambda x, y: _T().minimum(x, y), _tied_pairs(3, 4)),),
        "max": (
            _probe(e, "max[ties,axis=1]", "max", lambda x: x.max(1),
                   lambda x: _T().amax(x, 1), _tied_extremes),
            _probe(e, "max[ties,axis=None]", "max", lambda x: x.max(),
                   lambda x: _T().amax(x), _tied_extremes),
        ),
        "min": (
            _probe(e, "min[ties,axis=1]", "min", lambda x: x.min(1),
                   lambda x: _T().amin(x, 1), _tied_extremes),
            _probe(e, "min[ties,axis=None]", "min", lambda x: x.min(),
                   lambda x: _T().amin(x), _tied_extremes),
        ),
        "astype": (astype_once,),
        "matmul": (
            _probe(e, "matmul[square]", "matmul", lambda x, y: x @ y, lambda x, y: x @ y,
                   square((3, 3), (3, 3))),
            _probe(e, "matmul[square,batched]", "matmul", lambda x, y: x @ y,
                   lambda x, y: x @ y, square((2, 3, 3), (3, 3))),
        ),
    }  # fmt: skip


def _scalar_probes() -> dict[str, tuple[OpSpec, ...]]:
    e = "scalar"

    def zero(rng: np.random.Generator) -> list[np.ndarray]:
        return [np.asarray(0.0)]

    def tie(rng: np.random.Generator) -> list[np.ndarray]:
        a = np.asarray(rng.standard_normal(), dtype=np.float64)
        return [a, a.copy()]

    return {
        "relu": (_probe(e, "relu[kink]", "relu", lambda x: x.relu(), lambda x: x.relu(), zero),),
        "abs": (_probe(e, "abs[kink]", "abs", lambda x: x.abs(), lambda x: x.abs(), zero),),
        "maximum": (_probe(e, "maximum[tie]", "maximum", lambda x, y: x.maximum(y),
                           lambda x, y: _T().maximum(x, y), tie),),
        "minimum": (_probe(e, "minimum[tie]", "minimum", lambda x, y: x.minimum(y),
                           lambda x, y: _T().minimum(x, y), tie),),
    }  # fmt: skip


_PROBES: dict[str, dict[str, tuple[OpSpec, ...]]] = {}
_REUSE: dict[str, tuple[OpSpec, ...]] = {}


def _operator_probes(engine: str, name: str) -> tuple[OpSpec, ...]:
    """The probes every mutant of this operator also runs on (built once)."""
    if not _PROBES:
        _PROBES["tensor"] = _tensor_probes()
        _PROBES["scalar"] = _scalar_probes()
    return _PROBES[engine].get(name, ())


def _reuse(engine: str) -> tuple[OpSpec, ...]:
    if engine not in _REUSE:
        _REUSE[engine] = _reuse_probes(engine)
    return _REUSE[engine]


# ---------------------------------------------------------------------------------------
# Driver and helper mutants
# ---------------------------------------------------------------------------------------
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
    def driver(**parts: Any) -> tuple[Patch, ...]:
        return (Patch(graph, "backward", lambda original: make_driver(**parts)),)

    reuse = _reuse(engine)
    return [
        Mutant(
            name=f"{engine}:<driver>:assign_not_accumulate",
            operator="<driver>",
            engine=engine,
            kind="driver",
            description=(
                "the backward driver assigns a parent's pending gradient instead of adding "
                "to it, so only the last consumer's contribution survives"
            ),
            patches=driver(accumulate=_assign_pending),
            spec_ops=None,
            probes=reuse,
            note="Visible only where a node is used twice (x*x, x*y + x, a diamond).",
        ),
        Mutant(
            name=f"{engine}:<driver>:preorder",
            operator="<driver>",
            engine=engine,
            kind="driver",
            description=(
                "the backward driver runs each node's rule as soon as a depth-first walk "
                "reaches it, before all its consumers have added their gradient"
            ),
            patches=driver(order=_preorder),
            spec_ops=None,
            probes=reuse,
            note="Visible only on a diamond: an intermediate node with two consumers.",
        ),
        Mutant(
            name=f"{engine}:<driver>:seed_ignored",
            operator="<driver>",
            engine=engine,
            kind="driver",
            description="backward ignores the output gradient it is given and seeds with ones",
            patches=driver(seed=_ones_seed),
            spec_ops=None,
            probes=reuse,
            note="Caught because both oracles draw a random output cotangent.",
        ),
    ]


# ---------------------------------------------------------------------------------------
# The mutant table
# ---------------------------------------------------------------------------------------
def _raw_rule(target: Any) -> Callable[[Any], Any]:
    """A patch builder that replaces the fitted ``vjp`` with the raw, unfitted rule."""

    def wrap(original: Any) -> Any:
        return target.rule

    return wrap


def _rule_patch(target: Any, rule: Rule, fitted: bool = False) -> tuple[Patch, ...]:
    new = _refit(rule) if fitted else rule
    return (Patch(target, "vjp", lambda original: new),)


def _wrapping_patch(target: Any, make: Callable[[Rule], Rule], fitted: bool) -> tuple[Patch, ...]:
    """Mutate the raw rule (``target.rule``, read when applied), then refit if needed."""

    def wrap(original: Any) -> Any:
        mutated = make(target.rule)
        return _refit(mutated) if fitted else mutated

    return (Patch(target, "vjp", wrap),)


def _specific(
    engine: str,
    operator: str,
    label: str,
    kind: str,
    patches: tuple[Patch, ...],
    description: str,
    expected_misses: Collection[str] = (),
    note: str = "",
) -> Mutant:
    return Mutant(
        name=f"{engine}:{operator}:{label}",
        operator=operator,
        engine=engine,
        kind=kind,
        description=description,
        patches=patches,
        spec_ops=frozenset({operator}),
        probes=_operator_probes(engine, operator),
        expected_misses=frozenset(expected_misses),
        note=note,
    )


_ASTYPE_NOTE = (
    "The float32 rounding of the gradient is a relative ~3e-8, below FD's tolerance for "
    "the astype specs (1e-5, with a wide 1e-2 step because the forward itself rounds to "
    "float32); PyTorch rounds the gradient to float32 and catches it."
)


def _doc(fn: Callable[..., Any]) -> str:
    return " ".join((fn.__doc__ or "").split())


def _tensor_mutants() -> list[Mutant]:
    ops = sg_tensor.OPS
    mutants: list[Mutant] = []
    for name, tensor_op in ops.items():
        mutants += _generic_mutants("tensor", name, tensor_op, tensor_op.rule)
    for name, tensor_op in ops.items():
        if tensor_op.broadcasts:
            mutants.append(
                _specific(
                    "tensor", name, "no_unbroadcast", "no_unbroadcast",
                    (Patch(tensor_op, "vjp", _raw_rule(tensor_op)),),
                    "the raw rule without the unbroadcast fit: the gradient of a broadcast "
                    "input keeps the output's shape",
                    note="Invisible on specs where both inputs have the output's shape.",
                )
            )  # fmt: skip

    def rule(operator: str, label: str, kind: str, fn: Rule, **options: Any) -> None:
        fitted = ops[operator].broadcasts
        mutants.append(
            _specific("tensor", operator, label, kind, _rule_patch(ops[operator], fn, fitted),
                      _doc(fn), **options)
        )  # fmt: skip

    def wrapped(operator: str, label: str, kind: str, make: Callable[[Rule], Rule]) -> None:
        target = ops[operator]
        mutants.append(
            _specific("tensor", operator, label, kind,
                      _wrapping_patch(target, make, target.broadcasts), _doc(make))
        )  # fmt: skip

    kink = {"expected_misses": ("fd",), "note": _KINK_NOTE}
    rule("relu", "one_at_zero", "kink", _relu_one_at_zero, **kink)
    rule("abs", "one_at_zero", "kink", _abs_one_at_zero, note=_ABS_KINK_NOTE)
    rule("leaky_relu", "one_at_zero", "kink", _leaky_relu_one_at_zero, **kink)
    rule("clip", "bounds_excluded", "kink", _clip_bounds_excluded, **kink)
    tie_note = (
        "Only the tie probes show it. At a two-way tie the central difference is the "
        "average of the one-sided slopes, 1/2, which is exactly the split convention, so "
        "FD is a valid witness here and catches it too."
    )
    rule("maximum", "tie_to_first", "tie", _maximum_tie_to_first, note=tie_note)
    rule("minimum", "tie_to_first", "tie", _minimum_tie_to_first, note=tie_note)
    rule("max", "ties_unsplit", "tie", _extremum_unsplit, note=tie_note)
    rule("min", "ties_unsplit", "tie", _extremum_unsplit, note=tie_note)
    wrapped("matmul", "grad_a_untransposed", "operator", _matmul_a_untransposed)
    wrapped("matmul", "grad_b_untransposed", "operator", _matmul_b_untransposed)
    rule("softmax", "no_sum_term", "operator", _softmax_no_sum)
    rule("log_softmax", "no_sum_term", "operator", _log_softmax_no_sum)
    rule("getitem", "assign_not_accumulate", "operator", _getitem_assign,
         note="Visible only where an integer index repeats an element.")  # fmt: skip
    rule("transpose", "same_permutation", "operator", _transpose_same_permutation,
         note="Visible only for permutations that are not their own inverse.")  # fmt: skip
    rule("reshape", "fortran_order", "operator", _reshape_fortran)
    rule("broadcast_to", "mean_not_sum", "operator", _broadcast_to_mean)
    rule("pad", "wrong_side", "operator", _pad_wrong_side,
         note="Visible only for asymmetric padding.")  # fmt: skip
    rule("concatenate", "no_offset", "operator", _concatenate_no_offset)
    rule("var", "ddof_ignored", "operator", _var_ddof_ignored,
         note="Visible only on ddof=1 specs.")  # fmt: skip
    rule("mean", "whole_size", "operator", _mean_whole_size,
         note="Visible only where not every axis is reduced.")  # fmt: skip
    rule("sum", "axes_not_restored", "operator", _sum_axes_not_restored)
    wrapped("gelu", "tanh_derivative", "operator", _gelu_tanh_derivative)
    rule("softplus", "no_threshold", "operator", _softplus_no_threshold,
         note="Visible only above the threshold (the beta=2, threshold=3 spec).")  # fmt: skip
    rule("astype", "no_cast_back", "operator", _astype_no_cast, expected_misses=("fd",),
         note=_ASTYPE_NOTE)  # fmt: skip
    rule("where", "condition_ignored", "operator", _where_condition_ignored)
    rule("tanh", "unsquared", "operator", _tanh_unsquared)
    rule("sigmoid", "missing_factor", "operator", _sigmoid_missing_factor)
    rule("sqrt", "missing_two", "operator", _sqrt_missing_two)
    rule("pow_scalar", "not_decremented", "operator", _pow_scalar_not_decremented)
    rule("logsumexp", "unnormalised", "operator", _logsumexp_unnormalised)
    wrapped("div", "divisor_unsquared", "operator", _div_b_unsquared)
    wrapped("pow", "exponent_no_log", "operator", _pow_exponent_no_log)
    mutants += _driver_mutants("tensor")
    helper_ops = frozenset(n for n, o in ops.items() if o.broadcasts) | {"broadcast_to"}
    mutants.append(
        Mutant(
            name="tensor:<unbroadcast>:leading_axes_only",
            operator="<unbroadcast>",
            engine="tensor",
            kind="helper",
            description=_doc(_unbroadcast_leading_only),
            patches=(
                Patch(tensor_op_module, "unbroadcast", lambda o: _unbroadcast_leading_only),
                Patch(tensor_shapes, "unbroadcast", lambda o: _unbroadcast_leading_only),
            ),
            spec_ops=helper_ops,
            note="Visible only where an input had a size-1 axis stretched.",
        )
    )
    return mutants


def _scalar_mutants() -> list[Mutant]:
    ops = sg_scalar.OPS
    mutants: list[Mutant] = []
    for name, scalar_op in ops.items():
        mutants += _generic_mutants("scalar", name, scalar_op, scalar_op.vjp)

    def rule(operator: str, label: str, kind: str, fn: Rule, **options: Any) -> None:
        mutants.append(
            _specific("scalar", operator, label, kind, _rule_patch(ops[operator], fn),
                      _doc(fn), **options)
        )  # fmt: skip

    kink = {"expected_misses": ("fd",), "note": _KINK_NOTE}
    rule("relu", "one_at_zero", "kink", _s_relu_one_at_zero, **kink)
    rule("abs", "one_at_zero", "kink", _s_abs_one_at_zero, note=_ABS_KINK_NOTE)
    tie_note = "Only the tie probe shows it; at a tie FD gives 1/2, the split convention."
    rule("maximum", "tie_to_first", "tie", _s_maximum_tie_to_first, note=tie_note)
    rule("minimum", "tie_to_first", "tie", _s_minimum_tie_to_first, note=tie_note)
    rule("pow_const", "not_decremented", "operator", _s_pow_const_not_decremented)
    rule("pow", "exponent_no_log", "operator", _s_pow_exponent_no_log)
    rule("pow", "exponent_log_only", "operator", _s_pow_exponent_log_only)
    rule("tanh", "unsquared", "operator", _s_tanh_unsquared)
    rule("sigmoid", "missing_factor", "operator", _s_sigmoid_missing_factor)
    rule("sqrt", "missing_two", "operator", _s_sqrt_missing_two)
    mutants += _driver_mutants("scalar")
    return mutants


def all_mutants(engine: str = "all") -> list[Mutant]:
    """Every mutant of ``engine`` (``"tensor"``, ``"scalar"`` or ``"all"``)."""
    if engine not in ("tensor", "scalar", "all"):
        raise ValueError(f"engine must be 'tensor', 'scalar' or 'all', got {engine!r}")
    mutants: list[Mutant] = []
    if engine in ("tensor", "all"):
        mutants += _tensor_mutants()
    if engine in ("scalar", "all"):
        mutants += _scalar_mutants()
    return mutants


# ---------------------------------------------------------------------------------------
# Running them
# ---------------------------------------------------------------------------------------
@dataclass
class Verdict:
    """What one oracle did with one mutant.

    ``checks`` counts the checks run under the mutant at inputs where the oracle passes
    the unmutated code, ``kills`` those that failed or raised, ``skipped`` the inputs
    where the unmutated code already fails (not valid witnesses). Once a spec has killed
    the mutant, its remaining samples are not run, so ``kills`` is also the number of
    specs in ``killed_on``. ``witness`` describes the first kill: the spec, where, and
    the size of the error or the reason of the exception.
    """

    oracle: str
    checks: int = 0
    kills: int = 0
    skipped: int = 0
    witness: str = ""
    killed_on: list[str] = field(default_factory=list)
    """The specs (and probes) on which at least one check failed, in run order."""

    @property
    def caught(self) -> bool:
        return self.kills > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "caught": self.caught,
            "checks": self.checks,
            "kills": self.kills,
            "skipped": self.skipped,
            "witness": self.witness,
            "killed_on": list(self.killed_on),
        }


@dataclass
class MutantResult:
    """One row of the kill matrix: a mutant and each oracle's verdict."""

    mutant: Mutant
    verdicts: dict[str, Verdict]
    specs: int
    seconds: float

    @property
    def caught_by(self) -> tuple[str, ...]:
        return tuple(o for o, v in self.verdicts.items() if v.caught)

    @property
    def caught(self) -> bool:
        """Whether at least one oracle caught it."""
        return bool(self.caught_by)

    def surprises(self) -> list[str]:
        """Verdicts that differ from the mutant's expectation, in words."""
        out = []
        for oracle, verdict in self.verdicts.items():
            expected_miss = oracle in self.mutant.expected_misses
            if expected_miss and verdict.caught:
                out.append(f"{self.mutant.name}: {oracle} caught it ({verdict.witness})")
            elif not expected_miss and not verdict.caught:
                out.append(
                    f"{self.mutant.name}: {oracle} missed it ({verdict.checks} valid checks, "
                    f"{verdict.skipped} skipped)"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.mutant.to_dict(),
            "caught_by": list(self.caught_by),
            "specs": self.specs,
            "seconds": self.seconds,
            "verdicts": {o: v.to_dict() for o, v in self.verdicts.items()},
        }


@dataclass
class MutantReport:
    """The kill matrix of a run, with kill rates and the misses of each oracle."""

    engine: str
    oracles: tuple[str, ...]
    seed: int
    samples: int
    results: list[MutantResult]
    seconds: float
    invalid_witnesses: dict[str, list[str]] = field(default_factory=dict)
    """Per oracle, the specs it already fails on unmutated code (skipped as witnesses)."""

    def kill_rate(self, oracle: str) -> float:
        """The fraction of mutants ``oracle`` caught (``"either"``: any oracle)."""
        if not self.results:
            return 1.0
        if oracle == "either":
            return sum(r.caught for r in self.results) / len(self.results)
        return sum(r.verdicts[oracle].caught for r in self.results) / len(self.results)

    def kill_rates(self) -> dict[str, float]:
        return {o: self.kill_rate(o) for o in (*self.oracles, "either")}

    def missed_by(self, oracle: str) -> list[MutantResult]:
        """The mutants ``oracle`` did not catch."""
        return [r for r in self.results if not r.verdicts[oracle].caught]

    def uncaught(self) -> list[MutantResult]:
        """The mutants no oracle caught: each is a gap in the registry or the oracles."""
        return [r for r in self.results if not r.caught]

    def surprises(self) -> list[str]:
        """Every verdict that differs from its mutant's stated expectation."""
        return [s for r in self.results for s in r.surprises()]

    def by_kind(self) -> dict[str, dict[str, int]]:
        """Per kind: the number of mutants and how many each oracle (and either) caught."""
        table: dict[str, dict[str, int]] = {}
        for r in self.results:
            row = table.setdefault(
                r.mutant.kind, {"mutants": 0, **dict.fromkeys(self.oracles, 0), "either": 0}
            )
            row["mutants"] += 1
            row["either"] += r.caught
            for o in self.oracles:
                row[o] += r.verdicts[o].caught
        return table

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready data."""
        return {
            "engine": self.engine,
            "oracles": list(self.oracles),
            "seed": self.seed,
            "samples": self.samples,
            "seconds": self.seconds,
            "mutants": len(self.results),
            "kill_rates": self.kill_rates(),
            "by_kind": self.by_kind(),
            "missed_by": {o: [r.mutant.name for r in self.missed_by(o)] for o in self.oracles},
            "uncaught": [r.mutant.name for r in self.uncaught()],
            "surprises": self.surprises(),
            "invalid_witnesses": self.invalid_witnesses,
            "results": [r.to_dict() for r in self.results],
        }

    def format_table(self, verbose: bool = False) -> str:
        """A readable kill-matrix summary; ``verbose`` adds one row per mutant."""
        oracles = self.oracles
        lines = [
            f"Mutation testing: {len(self.results)} mutants ({self.engine}), oracles "
            f"{', '.join(oracles)}, {self.samples} sample(s) per spec, seed {self.seed}, "
            f"{self.seconds:.1f} s",
            "",
            f"{'kind':<16}{'mutants':>8}" + "".join(f"{o:>14}" for o in (*oracles, "either")),
        ]
        kinds = self.by_kind()
        for kind in [k for k in KINDS if k in kinds]:
            row = kinds[kind]
            cells = "".join(
                f"{row[o]:>7}/{row['mutants']:<6}" for o in (*oracles, "either")
            )  # fmt: skip
            lines.append(f"{kind:<16}{row['mutants']:>8}{cells}")
        rates = "".join(f"{100 * r:>13.1f}%" for r in self.kill_rates().values())
        lines.append(f"{'kill rate':<16}{len(self.results):>8}{rates}")
        for oracle in oracles:
            missed = self.missed_by(oracle)
            lines += ["", f"Missed by {oracle} ({len(missed)}):" if missed else
                      f"Missed by {oracle}: none"]  # fmt: skip
            groups: dict[str, list[MutantResult]] = {}
            for r in missed:
                groups.setdefault(r.mutant.kind, []).append(r)
            for kind, rs in groups.items():
                if len(rs) == kinds[kind]["mutants"] and len(rs) > 12:
                    names = "every mutant of this kind in the run"
                else:
                    names = ", ".join(r.mutant.name for r in rs)
                lines.append(f"  {kind} ({len(rs)}): {names}")
                notes = sorted({r.mutant.note for r in rs if r.mutant.note})
                lines += [f"    why: {n}" for n in notes]
        uncaught = self.uncaught()
        lines += ["", f"Caught by no oracle: {len(uncaught)}"]
        lines += [f"  {r.mutant.name}: {r.mutant.description}" for r in uncaught]
        surprises = self.surprises()
        lines.append(f"Verdicts differing from expectation: {len(surprises)}")
        lines += [f"  {s}" for s in surprises]
        for oracle, specs in self.invalid_witnesses.items():
            if specs:
                lines.append(
                    f"Inputs skipped for {oracle} (the unmutated code fails there): "
                    + ", ".join(specs)
                )
        if verbose:
            lines += ["", f"{'mutant':<52}" + "".join(f"{o:>8}" for o in oracles) + "  witness"]
            for r in self.results:
                marks = "".join(
                    f"{'caught' if r.verdicts[o].caught else 'MISSED':>8}" for o in oracles
                )  # fmt: skip
                first = next((r.verdicts[o].witness for o in r.caught_by), "")
                lines.append(f"{r.mutant.name:<52}{marks}  {first[:90]}")
        return "\n".join(lines)


_NUMPY_INT = re.compile(r"np\.int64\((-?\d+)\)")


def _check_seed(seed: int, spec: OpSpec, k: int) -> int:
    return (seed * 1_000_003 + zlib.crc32(f"{spec.engine}:{spec.name}:{k}".encode())) % 2**32


class _Runner:
    """Runs checks, caching sample inputs and the verdicts on unmutated code."""

    def __init__(self, oracles: tuple[str, ...], seed: int, samples: int) -> None:
        self.oracles = oracles
        self.seed = seed
        self.samples = samples
        self._arrays: dict[tuple[str, str, int], list[np.ndarray]] = {}
        self._baseline: dict[tuple[str, str, str, int], bool] = {}
        self.invalid: dict[str, set[str]] = {o: set() for o in oracles}

    def samples_for(self, spec: OpSpec) -> int:
        return self.samples * (SCALAR_SAMPLE_FACTOR if spec.engine == "scalar" else 1)

    def arrays(self, spec: OpSpec, k: int) -> list[np.ndarray]:
        key = (spec.engine, spec.name, k)
        if key not in self._arrays:
            rng = np.random.default_rng(_check_seed(self.seed, spec, k))
            self._arrays[key] = [np.asarray(a, dtype=np.float64) for a in spec.sample(rng)]
        return [a.copy() for a in self._arrays[key]]

    def check(self, oracle: str, spec: OpSpec, k: int) -> tuple[bool, str]:
        """Run one oracle check: (passed, what it found). An exception is a failure."""
        arrays = self.arrays(spec, k)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                result = ORACLES[oracle](spec, arrays, _check_seed(self.seed, spec, k))
        except Exception as error:  # a wrong shape may make the comparison itself raise
            reason = " ".join(str(error).split())[:160]
            return False, f"{spec.name}: raised {type(error).__name__}: {reason}"
        where = _NUMPY_INT.sub(r"\1", result.where)  # "(np.int64(1), ...)" -> "(1, ...)"
        return result.passed, f"{spec.name}: {where}, error {result.worst:.3g}"

    def baseline(self, oracle: str, spec: OpSpec, k: int) -> bool:
        """Whether the oracle passes the unmutated code here (call with no mutant active)."""
        key = (oracle, spec.engine, spec.name, k)
        if key not in self._baseline:
            passed, _ = self.check(oracle, spec, k)
            self._baseline[key] = passed
            if not passed:
                self.invalid[oracle].add(spec.name)
        return self._baseline[key]

    def run(self, mutant: Mutant) -> MutantResult:
        start = time.perf_counter()
        specs = mutant.specs()
        cases = [(spec, k) for spec in specs for k in range(self.samples_for(spec))]
        valid = {o: [self.baseline(o, spec, k) for spec, k in cases] for o in self.oracles}
        verdicts = {o: Verdict(o) for o in self.oracles}
        with mutant.applied():
            for i, (spec, k) in enumerate(cases):
                for oracle in self.oracles:
                    verdict = verdicts[oracle]
                    if not valid[oracle][i]:
                        verdict.skipped += 1
                        continue
                    if verdict.killed_on and verdict.killed_on[-1] == spec.name:
                        continue  # this spec already killed it: its other samples add nothing
                    passed, found = self.check(oracle, spec, k)
                    verdict.checks += 1
                    if not passed:
                        verdict.kills += 1
                        verdict.witness = verdict.witness or found
                        if spec.name not in verdict.killed_on:
                            verdict.killed_on.append(spec.name)
        return MutantResult(mutant, verdicts, len(specs), time.perf_counter() - start)


def run_mutants(
    engine: str = "all",
    oracles: Sequence[str] = ("fd", "torch"),
    seed: int = 0,
    progress: Callable[[int, int, MutantResult], None] | None = None,
    *,
    samples: int = 3,
    kinds: Collection[str] | None = None,
    operators: Collection[str] | None = None,
    mutants: Sequence[Mutant] | None = None,
) -> MutantReport:
    """Run every mutant (of ``engine``, optionally only some ``kinds`` or ``operators``,
    or the given ``mutants``) against the ``oracles`` and return the kill matrix.

    Each mutant runs on the registry specs of its operator (``samples`` random inputs
    each; scalar specs get :data:`SCALAR_SAMPLE_FACTOR` times more) plus its probes.
    ``progress(done, total, result)`` is called after each mutant. The rule tables are
    restored after each mutant, also when a check or ``progress`` raises.
    """
    oracles = tuple(oracles)
    unknown = [o for o in oracles if o not in ORACLES]
    if unknown or not oracles:
        raise ValueError(f"oracles must be among {sorted(ORACLES)}, got {list(oracles)}")
    if "torch" in oracles:
        require_torch()
    chosen = list(mutants) if mutants is not None else all_mutants(engine)
    if kinds is not None:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown mutant kinds {unknown}; known: {list(KINDS)}")
        chosen = [m for m in chosen if m.kind in kinds]
    if operators is not None:
        chosen = [m for m in chosen if m.operator in operators]
    start = time.perf_counter()
    runner = _Runner(oracles, seed, samples)
    results: list[MutantResult] = []
    for mutant in chosen:
        results.append(runner.run(mutant))
        if progress is not None:
            progress(len(results), len(chosen), results[-1])
    return MutantReport(
        engine=engine,
        oracles=oracles,
        seed=seed,
        samples=samples,
        results=results,
        seconds=time.perf_counter() - start,
        invalid_witnesses={o: sorted(s) for o, s in runner.invalid.items()},
    )
