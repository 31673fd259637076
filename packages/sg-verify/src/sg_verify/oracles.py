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
from sg_verify.pytorch import require_torch
from sg_verify.registry import OpSpec

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


@dataclass
class OracleResult:
    """The worst disagreement an oracle found for one check."""

    oracle: str
    spec: str
    worst: float  # the error measure of the worst element
    where: str  # which input and index
    passed: bool
    forward: float = 0.0  # forward difference (PyTorch oracle only)


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
            index = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
            where = f"{label} {_plain(index)}"
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


def fd_check(spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0) -> OracleResult:
    """Run the finite-difference oracle on one registry spec at ``arrays``.

    The measure is the scale-aware difference ``|g - fd| / max(1, |fd|)``, which the
    oracle requires to stay below ``spec.fd_rtol``.
    """
    rng = np.random.default_rng(seed)
    cotangent = draw_cotangent(spec.engine, spec.sg, arrays, rng)
    _, grads = sg_vjp(spec.engine, spec.sg, arrays, cotangent)
    phi = _objective(spec.engine, spec.sg, cotangent)
    pairs = []
    for i in range(len(arrays)):
        reference, us = central_differences(phi, arrays, i, spec.fd_eps, 8, rng)
        kind = "element" if us is None else "direction"
        pairs.append((f"input {i} {kind}", project(grads[i], us), reference))
    worst, where = worst_difference(pairs)
    return OracleResult("fd", spec.name, worst, where, worst < spec.fd_rtol)


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
