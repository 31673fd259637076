"""Operator-specific mutants of the tensor engine: each wrong rule, then the table.

Every rule below is a deliberate slip, with the slip it models in its docstring (which
becomes the mutant's description). :func:`_tensor_mutants` lists the generic mutants of
every operator, the unbroadcast-less rule of each broadcasting operator, these rules,
and the driver and helper mutants.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import sg_tensor
from sg_tensor import op as tensor_op_module
from sg_tensor import shapes as tensor_shapes
from sg_tensor.op import data as tensor_data
from sg_tensor.reductions import expand
from sg_verify.mutants.driver import _driver_mutants, _unbroadcast_leading_only
from sg_verify.mutants.kinds import (
    _ABS_KINK_NOTE,
    _KINK_NOTE,
    _doc,
    _generic_mutants,
    _raw_rule,
    _rule_patch,
    _specific,
    _wrapping_patch,
)
from sg_verify.mutants.mutant import Mutant, Patch, Rule


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


def _with_grad(
    rule: Rule,
    index: int,
    grad: Callable[[Any, Any, Any, Any], Any],
    when: Callable[[Any, Any], bool] | None = None,
) -> Rule:
    """The binary ``rule`` with input ``index``'s gradient replaced by ``grad(g, out, a, b)``
    where the rule gives one (not None) and ``when(a, b)`` holds (always if ``when`` is None)."""

    def mutated(g: Any, out: Any, a: Any, b: Any, **ctx: Any) -> tuple[Any, Any]:
        ga, gb = rule(g, out, a, b, **ctx)
        grads = [ga, gb]
        if grads[index] is not None and (when is None or when(a, b)):
            grads[index] = grad(g, out, a, b)
        return grads[0], grads[1]

    return mutated


def _matrices(a: Any, b: Any) -> bool:
    """Whether both matmul operands are (stacks of) matrices, not vectors."""
    return bool(a.ndim >= 2 and b.ndim >= 2)


def _matmul_a_untransposed(rule: Rule) -> Rule:
    """grad_A = G @ B instead of G @ B^T (same shape only for square B)."""
    return _with_grad(rule, 0, lambda g, out, a, b: g @ b, when=_matrices)


def _matmul_b_untransposed(rule: Rule) -> Rule:
    """grad_B = A @ G instead of A^T @ G (same shape only for square A)."""
    return _with_grad(rule, 1, lambda g, out, a, b: a @ g, when=_matrices)


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
    return _with_grad(rule, 1, lambda g, out, a, b: -g * a / b)


def _pow_exponent_no_log(rule: Rule) -> Rule:
    """pow's exponent gradient ``x**y`` instead of ``x**y log x``."""
    return _with_grad(rule, 1, lambda g, out, x, y: g * out)


def _pow_scalar_not_decremented(g: Any, out: Any, x: Any, *, p: float) -> tuple[Any]:
    """d(x**p) as ``p x**p`` (the exponent not decremented); p == 0 still gives 0."""
    return (g * (p * x**p),)


def _logsumexp_unnormalised(g: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    """logsumexp gradient ``e**x`` instead of ``e**(x - lse)`` (softmax not normalised)."""
    return (expand(g, x.shape, axis, keepdims) * np.exp(x),)


def _sqrt_missing_two(g: Any, out: Any, x: Any) -> tuple[Any]:
    """sqrt gradient ``1 / sqrt x`` instead of ``1 / (2 sqrt x)``."""
    return (g / out,)


_ASTYPE_NOTE = (
    "The float32 rounding of the gradient is a relative ~3e-8, below FD's tolerance for "
    "the astype specs (1e-5, with a wide 1e-2 step because the forward itself rounds to "
    "float32); PyTorch rounds the gradient to float32 and catches it."
)


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
