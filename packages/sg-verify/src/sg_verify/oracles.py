"""The two oracles: central finite differences and PyTorch float64 autograd.

Both check the same thing, a vector-Jacobian product: for an output cotangent ``v``
(drawn at random), the gradient of ``sum(f(x) * v)`` with respect to each input. They
fail in different ways. Finite differences need no second implementation but suffer
truncation and round-off error and break at kinks; PyTorch is exact to the last bits
but could share a wrong convention with us. Agreement with both is strong evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import sg_tensor as st
from sg_scalar import Value, no_grad
from sg_verify.numerical import (
    Differences,
    differences,
    exact_grid,
    forward_noise,
    limit,
    one_sided,
)
from sg_verify.pytorch import require_torch
from sg_verify.registry import OpSpec
from sg_verify.tolerances import FD_ERROR_FACTOR, FD_FLOOR

_EPS = float(np.finfo(np.float64).eps)

__all__ = [
    "GradcheckError",
    "OracleResult",
    "fd_check",
    "gradcheck",
    "mismatch",
    "require_torch",
    "scale_aware",
    "torch_check",
    "user_inputs",
    "worst_difference",
]

FULL_JACOBIAN_LIMIT = 64  # inputs up to this size get every element checked


class GradcheckError(AssertionError):
    """A gradient disagrees with its reference beyond the tolerance."""


NOT_APPLICABLE = "n/a"
"""An oracle result's ``where`` when the oracle does not apply to the spec."""


@dataclass
class OracleResult:
    """The worst disagreement an oracle found for one check (``where`` is
    :data:`NOT_APPLICABLE` when the oracle had nothing to check there)."""

    oracle: str
    spec: str
    worst: float  # the error measure of the worst element
    where: str  # which input and index
    passed: bool
    forward: float = 0.0  # forward difference (PyTorch oracle only)
    # the largest scale-aware error the differences could not tell from none, and where
    # (the finite-difference oracles only): how fine the check was where it was coarsest
    resolution: float = 0.0
    resolution_where: str = "-"


def scale_aware(a: Any, ref: Any) -> np.ndarray:
    """``|a - ref| / max(1, |ref|)``: relative for large values, absolute for small."""
    a, ref = np.asarray(a, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - ref) / np.maximum(1.0, np.abs(ref))
    both_nan = np.isnan(a) & np.isnan(ref)
    same_inf = np.isinf(a) & (a == ref)
    return np.where(both_nan | same_inf, 0.0, np.where(np.isnan(diff), np.inf, diff))


def worst_difference(pairs: Iterable[tuple[str, Any, Any]]) -> tuple[float, str]:
    """The largest scale-aware difference over ``(label, got, reference)`` pairs, and where
    (the label and the index), or ``(0.0, "-")`` when they all agree exactly.

    A pair of different shapes is an infinite difference.
    """
    worst, where = 0.0, "-"
    for label, got, reference in pairs:
        if np.shape(got) != np.shape(reference):
            return np.inf, f"{label}: shape {np.shape(got)} instead of {np.shape(reference)}"
        err = scale_aware(got, reference)
        if err.size and float(err.max()) > worst:
            worst = float(err.max())
            where = f"{label} {argmax_index(err)}"
    return worst, where


def project(grad: np.ndarray, directions: np.ndarray | None) -> np.ndarray:
    """A gradient as a central difference measured it: whole, or along each direction."""
    if directions is None:
        return grad
    return np.array([np.sum(u * grad) for u in directions])


def mismatch(
    check: str,
    what: str,
    got: np.ndarray,
    reference: np.ndarray,
    directions: np.ndarray | None,
    atol: float,
    rtol: float,
) -> str | None:
    """The message of a failed ``gradcheck``-style comparison, or None if it passes.

    Every element must satisfy ``|got - reference| <= atol + rtol * |reference|``.
    """
    bad = ~(np.abs(got - reference) <= atol + rtol * np.abs(reference))
    if not np.any(bad):
        return None
    index = np.unravel_index(int(np.argmax(bad)), bad.shape) if bad.ndim else ()
    kind = "element" if directions is None else "random direction"
    source = "central differences" + (" of the first-order gradient" * (check != "gradcheck"))
    return (
        f"{check}: {what}, {kind} {_plain(index)}: sg gives {float(got[index])!r}, {source} "
        f"give {float(reference[index])!r} (difference {abs(got[index] - reference[index]):.3g}; "
        f"tolerance {atol} + {rtol} * |reference|)"
    )


# ---------------------------------------------------------------------------------------
# Running sg on raw arrays
# ---------------------------------------------------------------------------------------
def _to_sg(engine: str, arrays: Sequence[np.ndarray], requires_grad: bool) -> list[Any]:
    if engine == "scalar":
        return [Value(float(a), requires_grad=requires_grad) for a in arrays]
    return [st.Tensor(np.array(a, dtype=np.float64), requires_grad=requires_grad) for a in arrays]


def _data(out: Any) -> np.ndarray:
    return np.asarray(out.data, dtype=np.float64)


def sg_vjp(
    engine: str, fn: Callable[..., Any], arrays: Sequence[np.ndarray], cotangent: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """sg's output and the gradient of ``sum(fn(x) * cotangent)`` for each input."""
    xs = _to_sg(engine, arrays, requires_grad=True)
    out = fn(*xs)
    if engine == "scalar":
        out.backward(float(cotangent))
        grads = [np.asarray(x.grad, dtype=np.float64) for x in xs]
    else:
        out.backward(cotangent)
        grads = [
            np.zeros(np.shape(a)) if x.grad is None else np.asarray(x.grad, dtype=np.float64)
            for a, x in zip(arrays, xs)
        ]
    return _data(out), grads


def draw_cotangent(
    engine: str, fn: Callable[..., Any], arrays: Sequence[np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """A random output gradient ``v`` with the shape of ``fn``'s output at ``arrays``."""
    with no_grad():
        out = fn(*_to_sg(engine, arrays, requires_grad=False))
    cotangent: np.ndarray = rng.standard_normal(np.shape(out.data))
    return cotangent


def _objective(engine: str, fn: Callable[..., Any], cotangent: np.ndarray) -> Callable[..., float]:
    def phi(*arrays: np.ndarray) -> float:
        with no_grad():
            out = fn(*_to_sg(engine, arrays, requires_grad=False))
        return float(np.sum(_data(out) * cotangent))

    return phi


# ---------------------------------------------------------------------------------------
# The finite-difference oracle
# ---------------------------------------------------------------------------------------
def central_differences(
    phi: Callable[..., float],
    arrays: Sequence[np.ndarray],
    which: int,
    eps: float,
    directions: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Central differences of scalar ``phi`` with respect to input ``which``.

    Small inputs get the full gradient (one difference per element). Large inputs get
    ``directions`` random projections ``u . grad`` instead (a difference along each
    random direction ``u``), which checks every element at once for a fraction of the cost.
    Returns the differences and the directions used (None for the full gradient).
    """
    x = np.array(arrays[which], dtype=np.float64)

    def shifted(delta: np.ndarray) -> float:
        args = list(arrays)
        args[which] = x + delta
        return phi(*args)

    if x.size <= FULL_JACOBIAN_LIMIT:
        grad = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            step = np.zeros_like(x)
            step[index] = eps
            grad[index] = (shifted(step) - shifted(-step)) / (2 * eps)
        return grad, None
    us = rng.standard_normal((directions, *x.shape))
    us /= np.sqrt(np.sum(us * us, axis=tuple(range(1, us.ndim)), keepdims=True))
    values = np.array([(shifted(eps * u) - shifted(-eps * u)) / (2 * eps) for u in us])
    return values, us


def gradcheck(
    fn: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    directions: int = 8,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check sg's gradients of ``fn`` at ``inputs`` against central differences (float64).

    ``inputs`` are numpy arrays, Tensors or numbers (Values for the scalar engine are
    recognised by being ``sg_scalar.Value``). A random output cotangent ``v`` turns the
    Jacobian into a vector-Jacobian product; each input's gradient of ``sum(fn(x) * v)``
    must match its central difference within ``atol + rtol * |reference|``. Inputs with
    at most 64 elements are checked element by element, larger ones along ``directions``
    random directions. On failure, raises :class:`GradcheckError` naming the input, the
    index and the size of the disagreement (or returns False with
    ``raise_exception=False``), in the spirit of ``torch.autograd.gradcheck``.

    >>> import numpy as np, sg_tensor as st
    >>> gradcheck(lambda x, y: (x * y).sum(axis=0), np.ones((2, 3)), np.arange(3.0))
    True
    """
    engine, arrays = user_inputs(inputs)
    rng = np.random.default_rng(seed)
    cotangent = draw_cotangent(engine, fn, arrays, rng)
    _, grads = sg_vjp(engine, fn, arrays, cotangent)
    phi = _objective(engine, fn, cotangent)
    for i in range(len(arrays)):
        reference, used = central_differences(phi, arrays, i, eps, directions, rng)
        what = f"input {i} (shape {arrays[i].shape})"
        message = mismatch("gradcheck", what, project(grads[i], used), reference, used, atol, rtol)
        if message is not None:
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def user_inputs(inputs: tuple[Any, ...]) -> tuple[str, list[np.ndarray]]:
    """The engine and float64 arrays of ``f(x, y)``'s inputs, given either as
    ``check(f, x, y)`` or torch-style ``check(f, (x, y))``.

    One tuple or list whose items are all arrays, Tensors or Values is taken as the
    inputs themselves (a tuple of plain numbers stays one input: an array). Values
    select the scalar engine.
    """
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)) and inputs[0]:
        items = inputs[0]
        if all(isinstance(x, (np.ndarray, Value)) or hasattr(x, "_op") for x in items):
            inputs = tuple(items)
    engine = "scalar" if any(isinstance(x, Value) for x in inputs) else "tensor"
    return engine, [np.array(getattr(x, "data", x), dtype=np.float64) for x in inputs]


def _plain(index: tuple[Any, ...]) -> tuple[int, ...]:
    """A numpy index tuple as plain ints, for messages (numpy 2 prints np.int64(3))."""
    return tuple(int(i) for i in index)


def argmax_index(values: np.ndarray) -> tuple[int, ...]:
    """Where ``values`` is largest, as plain ints (``()`` for a 0-d array)."""
    return _plain(np.unravel_index(int(np.argmax(values)), values.shape)) if values.ndim else ()


def fd_check(
    spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0, *, measured: bool = False
) -> OracleResult:
    """Run the finite-difference oracle on one registry spec at ``arrays``.

    The references are Richardson-extrapolated central differences
    (:func:`sg_verify.numerical.differences`); every element must lie within
    :data:`~sg_verify.tolerances.FD_ERROR_FACTOR` times their estimated error (plus
    :data:`~sg_verify.tolerances.FD_FLOOR` of the reference). ``worst`` reports the
    largest scale-aware difference. An operator whose forward rounds is checked at
    inputs where it rounds nothing (:func:`~sg_verify.numerical.exact_grid`).

    The round-off of the objective ``sum(f(x) * v)`` is estimated as ``eps`` times
    ``sum |f(x) * v|``. That is too small when the output is a small difference of large
    intermediates: a confident cross-entropy is ``logsumexp(x) - x_target``, about 1e-5
    computed from terms of about 12. ``measured=True`` (a user's rule, whose forward
    sg knows nothing of) also measures the round-off (:func:`~sg_verify.numerical.
    forward_noise`) and takes the larger: ``sigma`` enters the same model as a scale of
    ``sigma / eps``, an allowance about 10 times the worst round-off seen over 40 random
    confident batches. Where the output does not cancel, nothing changes.
    """
    rng = np.random.default_rng(seed)
    arrays, cotangent = rounding_free(
        spec, arrays, draw_cotangent(spec.engine, spec.sg, arrays, rng)
    )
    out, grads = sg_vjp(spec.engine, spec.sg, arrays, cotangent)
    phi = _objective(spec.engine, spec.sg, cotangent)
    scale = float(np.sum(np.abs(out) * np.abs(cotangent)))
    noise_rng = np.random.default_rng([seed, 1])  # its own: the differences' draws stay
    comparisons = []
    for i in range(len(arrays)):
        along = of_input(phi, arrays, i)
        noise = forward_noise(along, arrays[i], noise_rng) if measured else 0.0
        wider = max(scale, noise / _EPS)
        found = input_differences(spec, along, arrays, i, rng, wider)
        kind = "element" if found.directions is None else "direction"
        comparisons.append((f"input {i} {kind}", found.project(grads[i]), found))
    return judge("fd", spec.name, comparisons)


def input_differences(
    spec: OpSpec,
    phi: Callable[[np.ndarray], float],
    arrays: Sequence[np.ndarray],
    i: int,
    rng: np.random.Generator,
    scale: float,
    second_order: bool = False,
) -> Differences:
    """The differences of ``phi`` (a function of input ``i``) that the spec's gradient of
    input ``i`` is held to: central ones, except on the declared edges, where the
    convention decides: the declared side of a kink (the mean of both for ``"mean"``).

    For the ``second_order`` view, ``phi`` (made of first-order gradients) jumps at a
    kink or a tie: there the derivative is the limit of the smooth pieces' derivatives
    (:func:`~sg_verify.numerical.limit`), and a tie's convention is their mean.
    """
    x = arrays[i]
    edges = {
        index: side
        for j, point, side in spec.kinks(second_order)
        if j == i
        for index in np.ndindex(x.shape)
        if x[index] == point
    }
    ties = spec.declaration.ties if spec.declaration is not None else None
    if second_order and ties is not None:
        edges.update((index, "mean") for index in _tied(arrays, i))
    elif ties is not None and ties.routing == "first":
        edges.update(_first_gets_it(arrays, i))
    if not edges:
        return differences(phi, x, 8, rng, scale=scale)
    found = differences(phi, x, 8, rng, full_limit=max(64, x.size), scale=scale)
    value, error = found.value.copy(), found.error.copy()
    slope = limit if second_order else one_sided
    sides = {"left": (-1.0,), "right": (1.0,), "mean": (-1.0, 1.0)}
    for index, side in edges.items():
        slopes = [slope(phi, x, index, s, scale) for s in sides[side]]
        value[index] = sum(v for v, _ in slopes) / len(slopes)
        error[index] = max(e for _, e in slopes)
    return Differences(value, error, None)


def _first_gets_it(arrays: Sequence[np.ndarray], i: int) -> dict[tuple[int, ...], str]:
    """The derivative a rule that gives a tie's gradient to its first element must match
    (``max_pool2d``, ``sort``): of a value that occurs twice, the first occurrence (in
    reading order) takes the derivative from the right (raising it raises the maximum),
    the second from the left (lowering it changes nothing the first does not hold). Exact
    for values that occur at most twice, as the probes place them."""
    x = arrays[i]
    sides: dict[tuple[int, ...], str] = {}
    seen: set[float] = set()
    for index in _tied(arrays, i):  # in reading order
        value = float(x[index])
        sides[index] = "left" if value in seen else "right"
        seen.add(value)
    return sides


def _tied(arrays: Sequence[np.ndarray], i: int) -> list[tuple[int, ...]]:
    """Elements of input ``i`` whose value occurs elsewhere among the inputs: ties, since
    the samplers of operators with ties draw every value distinct except on purpose."""
    values, counts = np.unique(np.concatenate([np.ravel(a) for a in arrays]), return_counts=True)
    repeated = set(values[counts > 1].tolist())
    x = arrays[i]
    return [index for index in np.ndindex(x.shape) if float(x[index]) in repeated]


def rounding_free(
    spec: OpSpec, arrays: Sequence[np.ndarray], cotangent: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """For an operator whose forward rounds (to float32), inputs and cotangent moved to
    where it rounds nothing; other operators' unchanged."""
    decl = spec.declaration
    if decl is None or not decl.rounding:
        return list(arrays), cotangent
    exact = exact_grid(list(arrays), np.dtype(np.float32))
    return exact, cotangent.astype(np.float32).astype(np.float64)


def of_input(
    phi: Callable[..., float], arrays: Sequence[np.ndarray], i: int
) -> Callable[..., float]:
    """``phi`` as a function of input ``i`` alone, the others held at ``arrays``."""

    def of_input(x: np.ndarray) -> float:
        args = list(arrays)
        args[i] = x
        return phi(*args)

    return of_input


def judge(
    oracle: str,
    name: str,
    comparisons: Sequence[tuple[str, np.ndarray, Differences]],
    floor: float = 0.0,
) -> OracleResult:
    """The verdict on ``(label, got, differences)`` triples: each element of ``got`` within
    the differences' own error estimate (and ``floor``, scale-aware); ``worst`` is the
    largest scale-aware difference, ``where`` the worst element relative to its
    allowance (the one that fails first)."""
    worst, where, excess = 0.0, "-", 0.0
    resolution, coarsest = 0.0, "-"
    for label, got, found in comparisons:
        if np.shape(got) != np.shape(found.value):
            shape = f"shape {np.shape(got)} instead of {np.shape(found.value)}"
            return OracleResult(oracle, name, np.inf, f"{label}: {shape}", False)
        diff = np.abs(got - found.value)
        magnitude = np.abs(found.value)
        allowed = (
            FD_ERROR_FACTOR * found.error
            + FD_FLOOR * magnitude
            + floor * np.maximum(1.0, magnitude)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(diff == 0, 0.0, diff / allowed)
        ratio = np.where(np.isnan(ratio), np.inf, ratio)
        if ratio.size and float(ratio.max()) > excess:
            excess = float(ratio.max())
            where = f"{label} {argmax_index(ratio)}"
        if diff.size:
            worst = max(worst, float(scale_aware(got, found.value).max()))
            slack = allowed / np.maximum(1.0, magnitude)
            slack = np.where(np.isnan(slack), np.inf, slack)
            if float(slack.max()) > resolution:
                resolution, coarsest = float(slack.max()), f"{label} {argmax_index(slack)}"
    return OracleResult(oracle, name, worst, where, excess <= 1.0, 0.0, resolution, coarsest)


# ---------------------------------------------------------------------------------------
# The PyTorch oracle
# ---------------------------------------------------------------------------------------
def torch_vjp(
    fn: Callable[..., Any], arrays: Sequence[np.ndarray], cotangent: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """PyTorch's float64 output and the gradient of ``sum(fn(x) * cotangent)``."""
    torch = require_torch()
    xs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*xs)
    out.backward(torch.tensor(cotangent, dtype=out.dtype))
    grads = [
        np.zeros(np.shape(a)) if x.grad is None else x.grad.detach().numpy()
        for a, x in zip(arrays, xs)
    ]
    return out.detach().numpy(), grads


def torch_check(spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0) -> OracleResult:
    """Run the PyTorch oracle on one registry spec: forward and every input gradient."""
    cotangent = draw_cotangent(spec.engine, spec.sg, arrays, np.random.default_rng(seed))
    sg_out, sg_grads = sg_vjp(spec.engine, spec.sg, arrays, cotangent)
    t_out, t_grads = torch_vjp(spec.torch, arrays, cotangent)
    forward, _ = worst_difference([("output", sg_out, t_out)])
    pairs = [(f"input {i} element", g, t) for i, (g, t) in enumerate(zip(sg_grads, t_grads))]
    worst, where = worst_difference(pairs)
    ok = worst <= spec.torch_tol and forward <= spec.torch_tol
    return OracleResult("torch", spec.name, worst, where, ok, forward)
