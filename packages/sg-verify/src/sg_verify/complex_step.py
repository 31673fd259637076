"""The complex-step oracle: derivatives with no subtraction, for analytic forwards.

For a function that is complex-analytic (built from ``+``, ``*``, ``exp``, ``log``,
``sin``, ... but not ``abs``, ``max`` or a comparison), a step ``i*h`` along the
imaginary axis gives the derivative from the imaginary part alone:

    f(x + i*h*e_j) = f(x) + i*h*df/dx_j - h**2/2 * ... ,   so   df/dx_j = Im f(x + i*h*e_j) / h

with an error of order ``h**2`` and no difference of two nearly equal numbers: ``h`` can
be ``1e-20`` and the result is exact to the rounding of the forward itself, where a
central difference loses half the digits. (MyGrad checks its gradients this way.)

It needs a forward that accepts complex numbers. sg's forwards are numpy functions, and
an operator declares ``analytic=True`` when numpy's evaluation of its forward on complex
inputs is the analytic continuation (``abs``, ``maximum`` or ``var``, whose numpy forward
takes ``|z|``, are not declared). The oracle calls the declared forward
(``declaration.op.forward``) with the parameters the spec's public call passed to it,
where the spec's graph is that one operator applied to its inputs and the call
reproduces the spec's output exactly (a composite, or a reflected form ``2.5 - x`` with
a constant among the operator's inputs, is left to the other oracles). The scalar
engine's forwards are IEEE math on Python floats, with no complex form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import sg_tensor as st
from sg_verify.oracles import (
    NOT_APPLICABLE,
    OracleResult,
    draw_cotangent,
    sg_vjp,
    worst_difference,
)
from sg_verify.registry import OpSpec
from sg_verify.tolerances import COMPLEX_STEP_TOL

__all__ = ["STEP", "complex_forward", "complex_step_check", "complex_step_gradients"]

STEP = 1e-20
"""The imaginary step: far below any real part's rounding, so ``h**2`` terms vanish."""


def complex_forward(spec: OpSpec, arrays: Sequence[np.ndarray]) -> Callable[..., Any] | None:
    """The declared forward of ``spec``'s operator as a function of its inputs, with the
    parameters the public call gave it, or ``None`` where the complex step does not
    apply (see the module docstring)."""
    decl = spec.declaration
    if spec.engine != "tensor" or decl is None or decl.op is None or not decl.analytic:
        return None
    xs = [st.Tensor(np.asarray(a), requires_grad=True) for a in arrays]
    with np.errstate(all="ignore"):
        out = spec.sg(*xs)
    parents = getattr(out, "_parents", ())
    if out._op is not decl.op or len(parents) != len(xs):
        return None  # a composite's graph, or a constant among the inputs
    if any(p is not x for p, x in zip(parents, xs)):
        return None
    params = {k: v for k, v in (out._ctx or {}).items() if k != "needs_input_grad"}
    forward = decl.op.forward

    def call(*inputs: Any) -> Any:
        return forward(*inputs, **params)

    try:
        with np.errstate(all="ignore"):
            theirs = np.asarray(call(*arrays))
    except Exception:  # a call the forward does not take: not this oracle's spec
        return None
    ours = np.asarray(out.data)
    if ours.shape != theirs.shape or not np.array_equal(ours, theirs, equal_nan=True):
        return None
    return call


def complex_step_gradients(
    forward: Callable[..., Any], arrays: Sequence[np.ndarray], cotangent: np.ndarray
) -> list[np.ndarray]:
    """The gradient of ``sum(forward(x) * cotangent)`` for each input, element by
    element: ``Im(sum(forward(x + i*h*e_j) * cotangent)) / h``."""
    base = [np.asarray(a, dtype=np.complex128) for a in arrays]
    grads = []
    for i, a in enumerate(base):
        grad = np.zeros(a.shape)
        for j in np.ndindex(a.shape):
            stepped = a.copy()
            stepped[j] += 1j * STEP
            inputs = [*base[:i], stepped, *base[i + 1 :]]
            with np.errstate(all="ignore"):
                grad[j] = np.sum(np.imag(forward(*inputs)) * cotangent) / STEP
        grads.append(grad)
    return grads


def complex_step_check(spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0) -> OracleResult:
    """Check ``spec``'s gradients against complex-step derivatives of its forward.

    Every element must be within :data:`~sg_verify.tolerances.COMPLEX_STEP_TOL`
    (scale-aware). A spec the complex step does not apply to passes, with ``where``
    :data:`~sg_verify.oracles.NOT_APPLICABLE` and a ``worst`` of ``nan`` (:func:`applies`).
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    forward = complex_forward(spec, arrays)
    if forward is None:
        return OracleResult("cs", spec.name, float("nan"), NOT_APPLICABLE, True)
    rng = np.random.default_rng(seed)
    cotangent = draw_cotangent(spec.engine, spec.sg, arrays, rng)
    _, grads = sg_vjp(spec.engine, spec.sg, arrays, cotangent)
    references = complex_step_gradients(forward, arrays, cotangent)
    pairs = zip((f"input {i} element" for i in range(len(grads))), grads, references)
    worst, where = worst_difference(pairs)
    return OracleResult("cs", spec.name, worst, where, worst <= COMPLEX_STEP_TOL)


def applies(result: OracleResult) -> bool:
    """Whether a :func:`complex_step_check` result checked anything."""
    return result.where != NOT_APPLICABLE
