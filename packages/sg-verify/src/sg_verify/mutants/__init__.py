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

from sg_verify.mutants.driver import make_driver
from sg_verify.mutants.mutant import GENERIC_KINDS, KINDS, Mutant, Patch, patchable_state
from sg_verify.mutants.mutant import Rule as Rule
from sg_verify.mutants.probes import Sampler as Sampler
from sg_verify.mutants.report import MutantReport, MutantResult, Verdict
from sg_verify.mutants.runner import ORACLES as ORACLES
from sg_verify.mutants.runner import SCALAR_SAMPLE_FACTOR as SCALAR_SAMPLE_FACTOR
from sg_verify.mutants.runner import Check as Check
from sg_verify.mutants.runner import all_mutants, run_mutants

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
