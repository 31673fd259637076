"""The float32 check: sg's gradients in float32 against sg's own float64 gradients.

Finite differences cannot check float32 (a difference of float32 values has a relative
error of ``~1e-7 / h``), and PyTorch's ``gradcheck`` "will likely fail" there. But the
float64 gradient is already checked, so it is the reference: run the same operator at
the same inputs (rounded to float32 first, so both see the same numbers) and cotangent
in float32 and in float64, and compare.

How far apart they may be is measured, not fixed. Three things move a float32 gradient:

- the operator's conditioning at that point: the float64 gradient is recomputed
  :data:`NUDGES` times at inputs and cotangent nudged by a relative ``eps32`` (float32's
  rounding, in random directions), and the largest change says how much a float32
  rounding inside the forward or the rule can move each element;
- the float32 evaluation's own noise: the float32 gradient at the same nudged inputs
  moves by what the roundings inside the rule amplify (``std``'s ``(x - mean) / std``
  over two close values is 0.5 exactly, but its float32 value carries
  ``eps32 * |x| / |x - mean|``), which the float64 runs, exact there, cannot show;
- the roundings of the rule's own arithmetic, which a correct (backward-stable) rule keeps
  to a few ``eps32`` of the gradient's largest element, and below 1 to a few ``eps32``
  (scale-aware, as everywhere in sg-verify): a sum that cancels to almost nothing
  carries the rounding of its largest term (softmax's rule at a saturated row gives 0
  in float32 where float64 gives 1e-13), so the bound is normwise, not elementwise.

Each element must lie within :data:`~sg_verify.tolerances.FLOAT32_FACTOR` times the sum
of the three. A wrong rule is off by far more than a rounding: a sign, a factor, a
dropped term, an overflow float64 does not have, or a gradient that is not float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import sg_tensor as st
from sg_verify.oracles import OracleResult, argmax_index, draw_cotangent, scale_aware
from sg_verify.registry import OpSpec
from sg_verify.tolerances import FLOAT32_FACTOR

__all__ = ["EPS32", "float32_check"]

EPS32 = float(np.finfo(np.float32).eps)
NUDGES = 3
"""Nudged float64 gradients per check: the largest change is the conditioning (random
directions: one nudge can move two inputs together and hide a difference)."""


def _vjp(
    spec: OpSpec, arrays: Sequence[np.ndarray], cotangent: np.ndarray, dtype: Any
) -> list[np.ndarray]:
    xs = [st.Tensor(np.asarray(a, dtype=dtype), requires_grad=True) for a in arrays]
    out = spec.sg(*xs)
    out.backward(np.asarray(cotangent, dtype=out.dtype))
    return [
        np.zeros(np.shape(a), dtype) if x.grad is None else np.asarray(x.grad)
        for a, x in zip(arrays, xs)
    ]


def float32_check(spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0) -> OracleResult:
    """Check ``spec``'s float32 gradients against its float64 ones at the same inputs.

    Only the tensor engine has float32 (a ``Value`` is a Python float): a scalar spec
    passes trivially. ``worst`` is the largest scale-aware difference.
    """
    if spec.engine != "tensor":
        return OracleResult("float32", spec.name, 0.0, "-", True)
    rng = np.random.default_rng(seed)
    rounded = [np.asarray(a, dtype=np.float32).astype(np.float64) for a in arrays]
    cotangent = draw_cotangent(spec.engine, spec.sg, rounded, rng)
    cotangent = cotangent.astype(np.float32).astype(np.float64)
    with np.errstate(all="ignore"):
        single = _vjp(spec, rounded, cotangent, np.float32)
        double = _vjp(spec, rounded, cotangent, np.float64)
        moved = [np.zeros(np.shape(a)) for a in rounded]
        for _ in range(NUDGES):
            inputs = [a * (1 + EPS32 * rng.choice([-1.0, 1.0], np.shape(a))) for a in rounded]
            v = cotangent * (1 + EPS32 * rng.choice([-1.0, 1.0], np.shape(cotangent)))
            nudged = _vjp(spec, inputs, v, np.float64)  # the operator's conditioning
            noisy = _vjp(spec, inputs, v, np.float32)  # the float32 evaluation's own noise
            moved = [
                np.fmax(m, np.fmax(np.abs(n - d), np.abs(n32.astype(np.float64) - s32)))
                for m, n, d, n32, s32 in zip(moved, nudged, double, noisy, single)
            ]
    worst, where, excess = 0.0, "-", 0.0
    for i, (g32, g64, change) in enumerate(zip(single, double, moved)):
        if g32.dtype != np.float32:
            return OracleResult(
                "float32", spec.name, np.inf, f"input {i}: dtype {g32.dtype}", False
            )
        g32 = g32.astype(np.float64)
        largest = float(np.max(np.abs(g64[np.isfinite(g64)]), initial=1.0))
        allowed = FLOAT32_FACTOR * (change + EPS32 * largest)
        diff = np.abs(g32 - g64)
        both_nan = np.isnan(g32) & np.isnan(g64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(both_nan | (g32 == g64), 0.0, diff / allowed)
        ratio = np.where(np.isnan(ratio), np.inf, ratio)
        if ratio.size and float(ratio.max()) > excess:
            excess = float(ratio.max())
            where = f"input {i} element {argmax_index(ratio)}"
        if diff.size:
            worst = max(worst, float(np.max(np.where(both_nan, 0.0, scale_aware(g32, g64)))))
    return OracleResult("float32", spec.name, worst, where, excess <= 1.0)
