"""Probes: the gradient at a point the user names, where the function may have a kink.

At a kink no two-sided difference means anything, and a rule is free to choose its
convention (PyTorch's ``relu'(0) = 0``, ``abs'(0) = 0``). What every sensible convention
shares: each partial derivative lies between the two one-sided derivatives (for
``abs`` at 0, between -1 and 1; for ``relu``, between 0 and 1). So the probe check holds
every element of the gradient to that interval, with the one-sided differences' own
error estimates as the margin, and requires it to be finite where they are. A rule that
is wrong at the kink (a sign, a factor, a NaN from ``0 / 0``) falls outside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sg_verify.numerical import one_sided
from sg_verify.oracles import (
    OracleResult,
    _objective,
    argmax_index,
    draw_cotangent,
    of_input,
    sg_vjp,
)
from sg_verify.registry import OpSpec
from sg_verify.tolerances import FD_ERROR_FACTOR, FD_FLOOR

__all__ = ["probe_check"]


def probe_check(spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0) -> OracleResult:
    """Each gradient element at ``arrays`` between the one-sided derivatives there."""
    rng = np.random.default_rng(seed)
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    cotangent = draw_cotangent(spec.engine, spec.sg, arrays, rng)
    out, grads = sg_vjp(spec.engine, spec.sg, arrays, cotangent)
    phi = _objective(spec.engine, spec.sg, cotangent)
    scale = float(np.sum(np.abs(out * cotangent)))
    worst, where, excess = 0.0, "-", 0.0
    for i, (x, grad) in enumerate(zip(arrays, grads)):
        along = of_input(phi, arrays, i)
        ratio = np.zeros(x.shape)
        for index in np.ndindex(x.shape):
            left, left_error = one_sided(along, x, index, -1.0, scale)
            right, right_error = one_sided(along, x, index, 1.0, scale)
            low, high = min(left, right), max(left, right)
            got = float(grad[index])
            allowed = FD_ERROR_FACTOR * max(left_error, right_error) + FD_FLOOR * max(
                abs(low), abs(high)
            )
            outside = max(low - got, got - high, 0.0)
            if not np.isfinite(got):
                wrong = bool(np.isfinite(low) and np.isfinite(high))
                ratio[index] = np.inf if wrong else 0.0
                worst = np.inf if wrong else worst
                continue
            if outside:
                ratio[index] = np.inf if allowed == 0 else outside / allowed
            worst = max(worst, outside / max(1.0, abs(high), abs(low)))
        if ratio.size and float(ratio.max()) > excess:
            excess = float(ratio.max())
            where = f"input {i} element {argmax_index(ratio)}"
    return OracleResult("probes", spec.name, worst, where, excess <= 1.0)
