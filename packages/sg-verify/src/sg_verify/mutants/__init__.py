"""Mutation testing of the oracles: deliberately wrong gradients, patched in at run time.

An oracle that never fails proves nothing. This module checks the checkers: it breaks
sg's gradients on purpose, one way at a time (a *mutant*), runs both oracles on the
registry specs of the broken operator, and records which oracle noticed (the *kill
matrix*). Every mutant must be caught by at least one oracle; where one oracle misses,
the report says so and says why. Those misses are the point: they show that finite
differences and PyTorch fail in *different* ways, so that passing both is worth more
than passing either.

A mutant swaps one attribute while it is active (an operator's ``vjp``, one of the
backward driver's seams in ``sg_scalar.graph``, or the ``unbroadcast`` helper) and
restores it on exit, also when the check raises (:meth:`Mutant.applied`). Nothing in
sg-scalar or sg-tensor is edited; the rule tables are untouched after a run.

The mutant kinds (:data:`KINDS`):

``sign_flip`` ``scale_1e-3`` ``scale_1e-7`` ``zero``
    Generic mutants, one per input of *every* operator with a rule, made from the
    declarations (:mod:`~sg_verify.mutants.derived`). The 1e-7 factor is below the
    finite-difference tolerance (``fd_rtol = 1e-6``) on purpose: FD is expected to miss
    it and PyTorch (1e-12) to catch it.
``kink`` and ``tie``
    The other convention at each declared kink and tie (relu's gradient 1 at 0, clip's
    bounds excluded, a tie given wholly to one input), also made from the declarations,
    and checked on *probe* inputs placed exactly on the kink: the registry samplers
    avoid kinks. A central difference across a kink averages the two one-sided slopes,
    so it is not a valid witness at a one-sided convention (the unmutated rule fails it
    too) and FD misses those by design; where the convention *is* the average (|x| at
    0, a two-way tie split in half) FD catches them.
``operator``
    Operator-specific slips (:mod:`~sg_verify.mutants.slips`): transposed matmul
    operand, softmax missing its sum term, repeated indices assigned instead of
    accumulated, wrong ``ddof``, wrong reshape order, ...
``driver`` and ``helper``
    The shared machinery, patched into the real driver through its seams
    (:mod:`~sg_verify.mutants.machinery`): a driver that *assigns* a node's gradient
    instead of summing it (visible only when a node is used twice), one that runs a
    node's rule before all its consumers have contributed (visible only on a diamond),
    one that ignores the output gradient; an ``unbroadcast`` that forgets stretched
    size-1 axes, and a driver that skips the fit to each input's shape.

A check counts for an oracle only where that oracle passes the *unmutated* code at the
same input and cotangent; checks it already fails (FD at a kink) are skipped and listed
in the report, so a "kill" is always a difference the mutation made.

>>> report = run_mutants(engine="scalar", oracles=("fd",), kinds=("sign_flip",))
>>> report.kill_rate("fd")
1.0
"""

from sg_verify.mutants.mutant import GENERIC_KINDS, KINDS, SEAMS, Mutant, Patch, patchable_state
from sg_verify.mutants.mutant import Rule as Rule
from sg_verify.mutants.report import MutantReport, MutantResult, Verdict
from sg_verify.mutants.runner import ORACLES as ORACLES
from sg_verify.mutants.runner import SCALAR_SAMPLE_FACTOR as SCALAR_SAMPLE_FACTOR
from sg_verify.mutants.runner import Check as Check
from sg_verify.mutants.runner import all_mutants, run_mutants

__all__ = [
    "GENERIC_KINDS",
    "KINDS",
    "SEAMS",
    "Mutant",
    "MutantReport",
    "MutantResult",
    "Patch",
    "Verdict",
    "all_mutants",
    "patchable_state",
    "run_mutants",
]
