"""Mutation testing of the oracles: deliberately wrong gradients, patched in at run time.

An oracle that never fails proves nothing. This package checks the checkers: it breaks
sg's gradients on purpose, one way at a time (a *mutant*), runs both oracles on the
registry specs of the broken operator and on probes of its own, and records which
oracle noticed (the *kill matrix*). Every mutant must be caught by at least one oracle;
where one oracle misses, the report says so and why. Those misses are the point: they
show that finite differences and PyTorch fail in *different* ways.

A mutant swaps one attribute while it is active (an operator's ``vjp``, one of the
backward driver's seams in ``sg_scalar.graph``, or the ``unbroadcast`` helper) and
restores it on exit, also when the check raises (:meth:`Mutant.applied`): nothing in
sg-scalar or sg-tensor is edited. The kinds (:data:`KINDS`) come from three places:

- :mod:`~sg_verify.mutants.derived`: from the declarations, the generic mutants of every
  input of every operator (``sign_flip``, ``scale_1e-3``, ``scale_1e-7``, ``zero``) and
  the other convention at each declared kink and tie, with probes placed on them;
- :mod:`~sg_verify.mutants.slips`: operator-specific slips (``operator``);
- :mod:`~sg_verify.mutants.machinery`: the driver's steps and the broadcasting fit
  (``driver``, ``helper``).

A check counts for an oracle only where that oracle passes the *unmutated* code at the
same input and cotangent; checks it already fails (FD at a kink) are skipped and listed
in the report, so a "kill" is always a difference the mutation made.

>>> report = run_mutants(engine="scalar", oracles=("fd",), kinds=("sign_flip",))
>>> report.kill_rate("fd")
1.0
"""

from sg_verify.mutants.mutant import (
    CONTRACT_KINDS,
    GENERIC_KINDS,
    KINDS,
    SEAMS,
    Mutant,
    Patch,
    patchable_state,
)
from sg_verify.mutants.mutant import Rule as Rule
from sg_verify.mutants.report import MutantReport, MutantResult, Verdict
from sg_verify.mutants.runner import ORACLES as ORACLES
from sg_verify.mutants.runner import SCALAR_SAMPLE_FACTOR as SCALAR_SAMPLE_FACTOR
from sg_verify.mutants.runner import Check as Check
from sg_verify.mutants.runner import all_mutants, run_mutants

__all__ = [
    "CONTRACT_KINDS",
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
