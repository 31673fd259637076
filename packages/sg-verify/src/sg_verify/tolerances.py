"""Every tolerance sg-verify holds sg to, in one place, with why it is that number.

All differences are *scale-aware*: ``|got - reference| / max(1, |reference|)``
(:func:`sg_verify.oracles.scale_aware`), relative for large values, absolute for small.
"""

from __future__ import annotations

FD_ERROR_FACTOR = 10.0
"""The finite-difference oracle (:mod:`sg_verify.numerical`) holds each gradient element to
this many times the error that the extrapolated differences estimate for themselves:
a margin for the estimate, which bounds the error of the previous level of the table."""
FD_FLOOR = 1e-9
"""Plus this much of the reference, relative: the gradient's own round-off, where the
differences are exact (a linear operator's error estimate is the round-off alone).
Over every registry spec at ten seeds every right rule passes, and a gradient off by a
relative 1e-7 fails wherever it is not vanishingly small."""
FD2_FLOOR = 1e-12
"""Second order also allows this (scale-aware): a gradient of a gradient can be a
difference of terms of order one that cancel (softmax of saturated logits), whose
round-off no difference of the objective sees."""
COMPLEX_STEP_TOL = 1e-12
"""The complex step's derivatives are exact to the forward's own rounding (no
difference is taken): sg's gradient must match them as closely as PyTorch's."""
FLOAT32_FACTOR = 16.0
"""The float32 check (:mod:`sg_verify.float32`) allows each element this many times the
change a float32 rounding of the inputs makes to the float64 gradient, plus float32's
rounding of the gradient itself: the operator's conditioning at that point times a
margin for the float32 roundings inside the forward and the rule."""
TORCH_TOL = 1e-12
"""PyTorch float64 runs the same formulas: only the last bits may differ."""
TORCH2_TOL = 1e-12
"""Second order against PyTorch ``create_graph=True``."""
FUNCTIONAL_TOL = 1e-12
"""``hvp``, ``jacobian``, ``hessian`` against ``torch.autograd.functional``."""
PARITY = 1e-12
"""Random expressions against PyTorch: the worst difference over every expression."""
PARITY_REFERENCE = 1e-14
"""The same, on expressions built from the reference system's operators alone."""
TRAJECTORY = 1e-10
"""Training trajectories: the largest loss difference over the run."""
