"""Operator-specific slips: wrong rules as people write them, one per function below.

Each function is a deliberate mistake, described by its docstring (which becomes the
mutant's description); :func:`slip_mutants` lists them with the operator they replace.
The generic mutants and the conventions at kinks and ties come from the declarations
(:mod:`sg_verify.mutants.derived`); these are the mistakes only an operator's own
formula allows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import sg_scalar
import sg_tensor
from sg_scalar.ieee import log as scalar_log
from sg_scalar.ieee import power as scalar_power
from sg_tensor import op as tensor_op_module
from sg_tensor.convolution import add_back, windows
from sg_tensor.op import data as tensor_data
from sg_tensor.reductions import expand
from sg_verify.mutants.derived import _MEAN_NOTE
from sg_verify.mutants.mutant import Mutant, Patch, Rule
from sg_verify.probes import probes

_TIE_NOTE = _MEAN_NOTE  # only the tie probes show it; FD is a valid witness there


# ---------------------------------------------------------------------------------------
# Tensor engine (the elementwise ones serve the scalar engine as well: they are arithmetic)
# ---------------------------------------------------------------------------------------
def _extremum_unsplit(g: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    """max/min giving the *full* gradient to every tied extreme (no division by the count)."""
    x_data = tensor_data(x)
    hits = x_data == expand(tensor_data(out), x_data.shape, axis, keepdims)
    return (expand(g, x.shape, axis, keepdims) * hits,)


_NORM_RULE = sg_tensor.OPS["norm"].vjp  # the right rule, taken before any patch


def _norm_ties_unsplit(
    g: Any, out: Any, x: Any, *, axis: Any, keepdims: bool, p: float
) -> tuple[Any]:
    """norm with p = +-inf giving the *full* gradient to every tied extreme |x|."""
    if not np.isinf(p):
        right: tuple[Any] = _NORM_RULE(g, out, x, axis=axis, keepdims=keepdims, p=p)
        return right
    magnitudes = np.abs(tensor_data(x))
    (unsplit,) = _extremum_unsplit(g, out, magnitudes, axis=axis, keepdims=keepdims)
    return (np.sign(tensor_data(x)) * unsplit,)


def _softmax_no_sum(g: Any, out: Any, x: Any, *, axis: int) -> tuple[Any]:
    """softmax gradient ``s * g``, missing the ``- s * sum(g * s)`` term (the diagonal only)."""
    return (out * g,)


def _log_softmax_no_sum(g: Any, out: Any, x: Any, *, axis: int) -> tuple[Any]:
    """log_softmax gradient ``g``, missing the ``- softmax * sum(g)`` term."""
    return (g,)


def _with_grad(
    index: int, grad: Callable[..., Any], when: Callable[[Any, Any], bool] | None = None
) -> Callable[[Rule], Rule]:
    """The binary rule with input ``index``'s gradient replaced by ``grad(g, out, a, b)``
    where the rule gives one and ``when(a, b)`` holds (always if ``when`` is None)."""

    def wrap(rule: Rule) -> Rule:
        def mutated(g: Any, out: Any, a: Any, b: Any, **ctx: Any) -> tuple[Any, Any]:
            grads = list(rule(g, out, a, b, **ctx))
            if grads[index] is not None and (when is None or when(a, b)):
                grads[index] = grad(g, out, a, b)
            return grads[0], grads[1]

        return mutated

    return wrap


def _matrices(a: Any, b: Any) -> bool:
    return bool(a.ndim >= 2 and b.ndim >= 2)


_matmul_a = _with_grad(0, lambda g, out, a, b: g @ b, when=_matrices)
_matmul_a.__doc__ = "grad_A = G @ B instead of G @ B^T (same shape only for square B)."
_matmul_b = _with_grad(1, lambda g, out, a, b: a @ g, when=_matrices)
_matmul_b.__doc__ = "grad_B = A @ G instead of A^T @ G (same shape only for square A)."
_div_unsquared = _with_grad(1, lambda g, out, a, b: -g * a / b)
_div_unsquared.__doc__ = "div's divisor gradient ``-a / b`` instead of ``-a / b**2``."
_pow_no_log = _with_grad(1, lambda g, out, x, y: g * out)
_pow_no_log.__doc__ = "pow's exponent gradient ``x**y`` instead of ``x**y log x``."


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
    return (tensor_op_module.unbroadcast(g, x.shape) * (x.size / g.size),)


def _pad_wrong_side(g: Any, out: Any, x: Any, *, pad_width: Any, value: float) -> tuple[Any]:
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
    """sum gradient broadcast back without re-inserting the reduced axes (keepdims ignored):
    right by accident when the reduced axes are leading or all."""
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


def _sqrt_missing_two(g: Any, out: Any, x: Any) -> tuple[Any]:
    """sqrt gradient ``1 / sqrt x`` instead of ``1 / (2 sqrt x)``."""
    return (g / out,)


def _pow_scalar_not_decremented(g: Any, out: Any, x: Any, *, p: float) -> tuple[Any]:
    """d(x**p) as ``p x**p`` (the exponent not decremented); p == 0 still gives 0."""
    return (g * (p * x**p),)


def _logsumexp_unnormalised(g: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    """logsumexp gradient ``e**x`` instead of ``e**(x - lse)`` (softmax not normalised)."""
    return (expand(g, x.shape, axis, keepdims) * np.exp(x),)


# ---------------------------------------------------------------------------------------
# Scalar engine
# ---------------------------------------------------------------------------------------
def _s_pow_const_not_decremented(g: Any, out: Any, x: Any, *, p: float) -> tuple[Any]:
    """d(x**p) as ``p x**p`` (the exponent not decremented)."""
    return (g * (p * scalar_power(x, p)),)


def _s_pow_exponent_no_log(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """pow's exponent gradient ``x**y`` instead of ``x**y log x`` (base gradient right)."""
    return g * (y * scalar_power(x, y - 1.0)), g * out


def _s_pow_exponent_log_only(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """pow's exponent gradient ``log x`` instead of ``x**y log x``."""
    return g * (y * scalar_power(x, y - 1.0)), g * scalar_log(x)


# Convolution, pooling, batch normalisation: the rules taken before any patch
_CONV2D_RULE = sg_tensor.OPS["conv2d"].vjp
_CONV_TRANSPOSE2D_RULE = sg_tensor.OPS["conv_transpose2d"].vjp
_AVG_POOL2D_RULE = sg_tensor.OPS["avg_pool2d"].vjp
_BATCH_NORM_RULE = sg_tensor.OPS["batch_norm"].vjp


def _conv2d_kernel_flipped(g: Any, out: Any, x: Any, w: Any, *rest: Any, **ctx: Any) -> Any:
    """conv2d's input gradient with the kernel rotated by 180 degrees: the textbook
    "convolve with the flipped kernel", applied to a rule already written as a transposed
    correlation (flipped twice)."""
    grads = _CONV2D_RULE(g, out, x, w, *rest, **ctx)
    flipped = _CONV2D_RULE(g, out, x, w[:, :, ::-1, ::-1], *rest, **ctx)
    return (flipped[0],) + tuple(grads[1:])


def _conv_transpose2d_kernel_flipped(
    g: Any, out: Any, y: Any, w: Any, *rest: Any, **ctx: Any
) -> Any:
    """conv_transpose2d's input gradient with the kernel rotated by 180 degrees."""
    grads = _CONV_TRANSPOSE2D_RULE(g, out, y, w, *rest, **ctx)
    flipped = _CONV_TRANSPOSE2D_RULE(g, out, y, w[:, :, ::-1, ::-1], *rest, **ctx)
    return (flipped[0],) + tuple(grads[1:])


def _conv2d_bias_per_pixel_mean(g: Any, out: Any, x: Any, w: Any, *rest: Any, **ctx: Any) -> Any:
    """conv2d's bias gradient averaged over the pixels instead of summed."""
    grads = _CONV2D_RULE(g, out, x, w, *rest, **ctx)
    if not rest or grads[2] is None:
        return grads
    return tuple(grads[:2]) + (grads[2] / (g.shape[2] * g.shape[3]),)


def _max_pool2d_ties_split(
    g: Any, out: Any, x: Any, *, kernel: Any, stride: Any, padding: Any, dilation: Any
) -> tuple[Any]:
    """max_pool2d splitting a window's gradient evenly between its tied maxima instead of
    giving it all to the first (PyTorch's rule)."""
    size = out.shape[2:]
    view = windows(x, kernel, stride, padding, dilation, size, fill=-np.inf)
    hits = view == out[:, :, None, None]
    share = g[:, :, None, None] / hits.sum(axis=(2, 3))[:, :, None, None]
    return (add_back(hits * share, x.shape[2:], stride, padding, dilation),)


def _avg_pool2d_padding_counted(g: Any, out: Any, x: Any, **ctx: Any) -> Any:
    """avg_pool2d's gradient divided by the whole window's size, padding included, even
    where ``count_include_pad=False`` says to count only the input's pixels."""
    return _AVG_POOL2D_RULE(g, out, x, **{**ctx, "count_include_pad": True})


def _batch_norm_missing(term: str) -> Callable[..., Any]:
    """batch_norm's rule with one term of its input gradient left out."""

    def rule(g: Any, out: Any, x: Any, *wb: Any, axes: Any, eps: float, **ctx: Any) -> Any:
        grads = _BATCH_NORM_RULE(g, out, x, *wb, axes=axes, eps=eps, **ctx)
        centred = x - x.mean(axis=axes, keepdims=True)
        std = np.sqrt((centred * centred).mean(axis=axes, keepdims=True) + eps)
        x_hat = centred / std
        h = g * wb[0].reshape((1, -1) + (1,) * (x.ndim - 2)) if wb else g
        kept = h - (h.mean(axis=axes, keepdims=True) if term != "mean" else 0.0)
        if term != "variance":
            kept = kept - x_hat * (h * x_hat).mean(axis=axes, keepdims=True)
        return (kept / std,) + tuple(grads[1:])

    return rule


_batch_norm_no_variance_term = _batch_norm_missing("variance")
_batch_norm_no_variance_term.__doc__ = """batch_norm's input gradient missing the term through
the variance, ``(h - mean(h)) / std`` (the mean is seen to depend on x, the variance not)."""
_batch_norm_no_mean_term = _batch_norm_missing("mean")
_batch_norm_no_mean_term.__doc__ = """batch_norm's input gradient missing the term through
the mean, ``(h - x_hat mean(h x_hat)) / std``."""


# (engine, operator, label, kind, the wrong rule or a wrapper of the right one, note)
SLIPS: list[tuple[str, str, str, str, Callable[..., Any], str]] = [
    ("tensor", "max", "ties_unsplit", "tie", _extremum_unsplit, _TIE_NOTE),
    ("tensor", "min", "ties_unsplit", "tie", _extremum_unsplit, _TIE_NOTE),
    ("tensor", "norm", "ties_unsplit", "tie", _norm_ties_unsplit, _TIE_NOTE),
    ("tensor", "matmul", "grad_a_untransposed", "operator", _matmul_a, ""),
    ("tensor", "matmul", "grad_b_untransposed", "operator", _matmul_b, ""),
    ("tensor", "softmax", "no_sum_term", "operator", _softmax_no_sum, ""),
    ("tensor", "log_softmax", "no_sum_term", "operator", _log_softmax_no_sum, ""),
    ("tensor", "getitem", "assign_not_accumulate", "operator", _getitem_assign,
     "Visible only where an integer index repeats an element."),
    ("tensor", "transpose", "same_permutation", "operator", _transpose_same_permutation,
     "Visible only for permutations that are not their own inverse."),
    ("tensor", "reshape", "fortran_order", "operator", _reshape_fortran, ""),
    ("tensor", "broadcast_to", "mean_not_sum", "operator", _broadcast_to_mean, ""),
    ("tensor", "pad", "wrong_side", "operator", _pad_wrong_side,
     "Visible only for asymmetric padding."),
    ("tensor", "concatenate", "no_offset", "operator", _concatenate_no_offset, ""),
    ("tensor", "var", "ddof_ignored", "operator", _var_ddof_ignored,
     "Visible only on ddof=1 specs."),
    ("tensor", "mean", "whole_size", "operator", _mean_whole_size,
     "Visible only where not every axis is reduced."),
    ("tensor", "sum", "axes_not_restored", "operator", _sum_axes_not_restored, ""),
    ("tensor", "gelu", "tanh_derivative", "operator", _gelu_tanh_derivative, ""),
    ("tensor", "softplus", "no_threshold", "operator", _softplus_no_threshold,
     "Visible only above the threshold (the beta=2, threshold=3 case)."),
    ("tensor", "where", "condition_ignored", "operator", _where_condition_ignored, ""),
    ("tensor", "tanh", "unsquared", "operator", _tanh_unsquared, ""),
    ("tensor", "sigmoid", "missing_factor", "operator", _sigmoid_missing_factor, ""),
    ("tensor", "sqrt", "missing_two", "operator", _sqrt_missing_two, ""),
    ("tensor", "pow_scalar", "not_decremented", "operator", _pow_scalar_not_decremented, ""),
    ("tensor", "logsumexp", "unnormalised", "operator", _logsumexp_unnormalised, ""),
    ("tensor", "div", "divisor_unsquared", "operator", _div_unsquared, ""),
    ("tensor", "pow", "exponent_no_log", "operator", _pow_no_log, ""),
    ("tensor", "conv2d", "kernel_flipped", "operator", _conv2d_kernel_flipped, ""),
    ("tensor", "conv2d", "bias_mean_not_sum", "operator", _conv2d_bias_per_pixel_mean,
     "Visible only on specs with a bias."),
    ("tensor", "conv_transpose2d", "kernel_flipped", "operator",
     _conv_transpose2d_kernel_flipped, ""),
    ("tensor", "max_pool2d", "ties_split", "tie", _max_pool2d_ties_split, _TIE_NOTE),
    ("tensor", "avg_pool2d", "padding_counted", "operator", _avg_pool2d_padding_counted,
     "Visible only where count_include_pad=False and a window overlaps the padding."),
    ("tensor", "batch_norm", "no_variance_term", "operator", _batch_norm_no_variance_term, ""),
    ("tensor", "batch_norm", "no_mean_term", "operator", _batch_norm_no_mean_term, ""),
    ("scalar", "pow_const", "not_decremented", "operator", _s_pow_const_not_decremented, ""),
    ("scalar", "pow", "exponent_no_log", "operator", _s_pow_exponent_no_log, ""),
    ("scalar", "pow", "exponent_log_only", "operator", _s_pow_exponent_log_only, ""),
    ("scalar", "tanh", "unsquared", "operator", _tanh_unsquared, ""),
    ("scalar", "sigmoid", "missing_factor", "operator", _sigmoid_missing_factor, ""),
    ("scalar", "sqrt", "missing_two", "operator", _sqrt_missing_two, ""),
]  # fmt: skip
_WRAPPERS = (_matmul_a, _matmul_b, _div_unsquared, _pow_no_log, _gelu_tanh_derivative)


def slip_mutants(engine: str) -> list[Mutant]:
    """Every slip of ``engine``, patched into its operator's rule."""
    table = sg_tensor.DECLARATIONS if engine == "tensor" else sg_scalar.DECLARATIONS
    mutants = []
    for slip_engine, name, label, kind, fn, note in SLIPS:
        if slip_engine != engine:
            continue
        decl = table[name]
        assert decl.op is not None
        wrap = fn if fn in _WRAPPERS else (lambda original, fn=fn: fn)
        mutants.append(
            Mutant(
                name=f"{engine}:{name}:{label}",
                operator=name,
                engine=engine,
                kind=kind,
                description=" ".join((fn.__doc__ or "").split()),
                patches=(Patch(decl.op, "vjp", wrap),),
                spec_ops=frozenset({name}),
                probes=probes(decl),
                note=note,
            )
        )
    return mutants
