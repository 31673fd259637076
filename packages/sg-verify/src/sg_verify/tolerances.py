"""Every tolerance sg-verify holds sg to, in one place, with why it is that number.

All differences are *scale-aware*: ``|got - reference| / max(1, |reference|)``
(:func:`sg_verify.oracles.scale_aware`), relative for large values, absolute for small.
"""

from __future__ import annotations

from sg_scalar.declare import Declaration

FD_EPS = 1e-6
"""The central-difference step: truncation error ~eps**2, round-off ~1e-16 / eps."""
FD_RTOL = 1e-6
"""Central differences with that step agree with a right gradient to ~1e-8..1e-7 on the
registry's inputs; 1e-6 leaves a margin and still catches a 1e-3 mistake."""
ROUNDING_FD_EPS, ROUNDING_FD_RTOL = 1e-2, 1e-5
"""For an operator whose forward itself rounds (``astype`` to float32): a step far above
the rounding, so the difference sees the linear map and not the rounding's steps."""
TORCH_TOL = 1e-12
"""PyTorch float64 runs the same formulas: only the last bits may differ."""
FD2_RTOL = 1e-5
"""Second order: central differences of sg's first-order gradient (one difference less
accurate than a gradient, so ten times the first-order tolerance)."""
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


def fd_step(declaration: Declaration | None) -> tuple[float, float]:
    """The central-difference step and tolerance for an operator's checks."""
    if declaration is not None and declaration.rounding > 0:
        return ROUNDING_FD_EPS, ROUNDING_FD_RTOL
    return FD_EPS, FD_RTOL
