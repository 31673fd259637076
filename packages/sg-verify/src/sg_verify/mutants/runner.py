"""Running the mutants: every check under each mutant, against the unmutated baseline.

A check counts for an oracle only where that oracle passes the unmutated code at the
same input and cotangent; :class:`_Runner` caches the sample inputs and those baseline
verdicts, so each is computed once per run.
"""

from __future__ import annotations

import time
import warnings
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sg_verify.complex_step import complex_step_check
from sg_verify.float32 import float32_check
from sg_verify.lifecycle import lifecycle_check
from sg_verify.mutants.derived import derived_mutants
from sg_verify.mutants.machinery import machinery_mutants
from sg_verify.mutants.mutant import KINDS, Mutant
from sg_verify.mutants.report import MutantReport, MutantResult, Verdict
from sg_verify.mutants.slips import slip_mutants
from sg_verify.oracles import NOT_APPLICABLE, OracleResult, fd_check, torch_check
from sg_verify.properties import props_check
from sg_verify.pytorch import require_torch, torch_available
from sg_verify.registry import OpSpec
from sg_verify.workers import Share, job_count, named, run_shared

Check = Callable[[OpSpec, Sequence[np.ndarray], int], OracleResult]

ORACLES: dict[str, Check] = {
    "fd": fd_check,
    "cs": complex_step_check,
    "torch": torch_check,
    "props": props_check,
    "lifecycle": lifecycle_check,
    "float32": float32_check,
}
"""The oracles a mutant run can use, by name: the finite differences, the complex step
(analytic forwards) and PyTorch, and
sg's gradcheck properties, graph lifecycle and float32 run, which compare sg with itself."""

SELF_CHECKS = frozenset({"props", "lifecycle"})
"""The checks of sg against itself: exact, so one input per spec says what they can say
(they run on the first sample only), and blind to a wrong value that is consistent with
itself (a mutant they miss is no surprise)."""

SCALAR_SAMPLE_FACTOR = 4
"""Scalar specs get this many times the tensor samples: a 0-d sample checks one point,
where a tensor sample checks a dozen (a mutant of ``maximum``'s second input is
invisible at every sample where the first input is larger)."""


def all_mutants(engine: str = "all") -> list[Mutant]:
    """Every mutant of ``engine`` (``"tensor"``, ``"scalar"`` or ``"all"``)."""
    if engine not in ("tensor", "scalar", "all"):
        raise ValueError(f"engine must be 'tensor', 'scalar' or 'all', got {engine!r}")
    mutants: list[Mutant] = []
    for one in ("tensor", "scalar"):
        if engine in (one, "all"):
            mutants += derived_mutants(one) + slip_mutants(one) + machinery_mutants(one)
    return mutants


def _check_seed(seed: int, spec: OpSpec, k: int) -> int:
    return (seed * 1_000_003 + zlib.crc32(f"{spec.engine}:{spec.name}:{k}".encode())) % 2**32


class _Runner:
    """Runs checks, caching sample inputs and the verdicts on unmutated code."""

    def __init__(self, oracles: tuple[str, ...], seed: int, samples: int) -> None:
        self.oracles = oracles
        self.seed = seed
        self.samples = samples
        self._arrays: dict[tuple[str, str, int], list[np.ndarray]] = {}
        self._baseline: dict[tuple[str, str, str, int], bool] = {}
        self.invalid: dict[str, set[str]] = {o: set() for o in oracles}

    def samples_for(self, spec: OpSpec, mutant: Mutant | None = None) -> int:
        samples = self.samples if mutant is None or mutant.samples is None else mutant.samples
        return samples * (SCALAR_SAMPLE_FACTOR if spec.engine == "scalar" else 1)

    def arrays(self, spec: OpSpec, k: int) -> list[np.ndarray]:
        key = (spec.engine, spec.name, k)
        if key not in self._arrays:
            rng = np.random.default_rng(_check_seed(self.seed, spec, k))
            arrays = [np.asarray(a, dtype=np.float64) for a in spec.sample(rng)]
            self._arrays[key] = spec.other_side(arrays) if k % 2 else arrays
        return [a.copy() for a in self._arrays[key]]

    def check(self, oracle: str, spec: OpSpec, k: int) -> tuple[bool, str]:
        """Run one oracle check: (passed, what it found). An exception is a failure."""
        arrays = self.arrays(spec, k)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                result = ORACLES[oracle](spec, arrays, _check_seed(self.seed, spec, k))
        except Exception as error:  # a wrong shape may make the comparison itself raise
            reason = " ".join(str(error).split())[:160]
            return False, f"{spec.name}: raised {type(error).__name__}: {reason}"
        if result.where == NOT_APPLICABLE:
            return True, NOT_APPLICABLE
        return result.passed, f"{spec.name}: {result.where}, error {result.worst:.3g}"

    def baseline(self, oracle: str, spec: OpSpec, k: int) -> bool:
        """Whether the oracle checks something here and passes the unmutated code (call
        with no mutant active): where it does not apply (the complex step on a
        non-analytic operator) it is no witness either."""
        key = (oracle, spec.engine, spec.name, k)
        if key not in self._baseline:
            passed, found = self.check(oracle, spec, k)
            self._baseline[key] = passed and found != NOT_APPLICABLE
            if not passed:
                self.invalid[oracle].add(spec.name)
        return self._baseline[key]

    def run(self, mutant: Mutant) -> MutantResult:
        start = time.perf_counter()
        specs = mutant.specs()
        cases = [(spec, k) for spec in specs for k in range(self.samples_for(spec, mutant))]
        valid = {
            o: [(k > 0 and o in SELF_CHECKS) or self.baseline(o, spec, k) for spec, k in cases]
            for o in self.oracles
        }
        verdicts = {o: Verdict(o) for o in self.oracles}
        with mutant.applied():
            for i, (spec, k) in enumerate(cases):
                for oracle in self.oracles:
                    verdict = verdicts[oracle]
                    if k > 0 and oracle in SELF_CHECKS:
                        continue
                    if not valid[oracle][i]:
                        verdict.skipped += 1
                        continue
                    if verdict.killed_on and verdict.killed_on[-1] == spec.name:
                        continue  # this spec already killed it: its other samples add nothing
                    passed, found = self.check(oracle, spec, k)
                    verdict.checks += 1
                    if not passed:
                        verdict.kills += 1
                        verdict.witness = verdict.witness or found
                        if spec.name not in verdict.killed_on:
                            verdict.killed_on.append(spec.name)
        return MutantResult(mutant, verdicts, len(specs), time.perf_counter() - start)


def run_mutants(
    engine: str = "all",
    oracles: Sequence[str] | None = None,
    seed: int = 0,
    progress: Callable[[int, int, MutantResult], None] | None = None,
    *,
    samples: int = 3,
    kinds: Collection[str] | None = None,
    operators: Collection[str] | None = None,
    mutants: Sequence[Mutant] | None = None,
    jobs: int = 1,
) -> MutantReport:
    """Run every mutant (of ``engine``, optionally only some ``kinds`` or ``operators``,
    or the given ``mutants``) against the ``oracles`` and return the kill matrix.

    ``oracles`` defaults to every oracle that can run here: PyTorch's only where it is
    installed.

    Each mutant runs on the registry specs of its operator (``samples`` random inputs
    each; scalar specs get :data:`SCALAR_SAMPLE_FACTOR` times more) plus its probes.
    ``progress(done, total, result)`` is called after each mutant. The rule tables are
    restored after each mutant, also when a check or ``progress`` raises.

    ``jobs`` > 1 (or 0: one per CPU) shares the mutants out to that many worker
    processes (each patches only its own copy of the rules): the same matrix, in the
    same order, sooner. Given ``mutants`` always run here, in this process.
    """
    if oracles is None:
        oracles = tuple(o for o in ORACLES if o != "torch" or torch_available())
    oracles = checked_oracles(oracles)
    plan = _Plan(engine, oracles, seed, samples,
                 None if kinds is None else tuple(kinds),
                 None if operators is None else tuple(operators))  # fmt: skip
    chosen = plan.chosen() if mutants is None else plan.narrowed(list(mutants))
    start = time.perf_counter()
    results, invalid = run_chosen(plan, chosen, jobs, progress, shareable=mutants is None)
    return MutantReport(
        engine=engine,
        oracles=oracles,
        seed=seed,
        samples=samples,
        results=results,
        seconds=time.perf_counter() - start,
        invalid_witnesses={o: sorted(s) for o, s in invalid.items()},
    )


def checked_oracles(oracles: Sequence[str]) -> tuple[str, ...]:
    """``oracles`` as a tuple, once each is one of :data:`ORACLES` (and PyTorch, if
    among them, is installed)."""
    oracles = tuple(oracles)
    unknown = [o for o in oracles if o not in ORACLES]
    if unknown or not oracles:
        raise ValueError(f"oracles must be among {sorted(ORACLES)}, got {list(oracles)}")
    if "torch" in oracles:
        require_torch()
    return oracles


class Plan(Protocol):
    """What a worker process needs to run its share of a run (see
    :func:`run_chosen`): hashable, and made of plain values that travel between
    processes."""

    @property
    def oracles(self) -> tuple[str, ...]: ...

    @property
    def seed(self) -> int: ...

    @property
    def samples(self) -> int: ...

    def __hash__(self) -> int: ...

    def chosen(self) -> list[Mutant]:
        """The run's mutants, built afresh (in a worker: the caller's, in its order)."""
        ...


def run_chosen(
    plan: Plan, chosen: list[Mutant], jobs: int,
    progress: Callable[[int, int, MutantResult], None] | None = None, *, shareable: bool = True,
) -> tuple[list[MutantResult], dict[str, set[str]]]:  # fmt: skip
    """The results of ``chosen`` in order, and the specs on which each oracle failed the
    unmutated code. With ``shareable`` (``chosen`` is ``plan.chosen()``) and ``jobs`` > 1
    (0: one per CPU), shared out to worker processes."""
    jobs = job_count(jobs, len(chosen))
    if shareable and jobs > 1:
        return _in_workers(plan, chosen, jobs, progress)
    runner = _Runner(plan.oracles, plan.seed, plan.samples)
    results: list[MutantResult] = []
    for mutant in chosen:
        results.append(runner.run(mutant))
        if progress is not None:
            progress(len(results), len(chosen), results[-1])
    return results, runner.invalid


@dataclass(frozen=True)
class _Plan:
    """What a run chooses and how it checks: enough for a worker process to choose the
    same mutants (a mutant holds functions, which do not travel between processes)."""

    engine: str
    oracles: tuple[str, ...]
    seed: int
    samples: int
    kinds: tuple[str, ...] | None
    operators: tuple[str, ...] | None

    def chosen(self) -> list[Mutant]:
        return self.narrowed(all_mutants(self.engine))

    def narrowed(self, mutants: list[Mutant]) -> list[Mutant]:
        if self.kinds is not None:
            unknown = sorted(set(self.kinds) - set(KINDS))
            if unknown:
                raise ValueError(f"unknown mutant kinds {unknown}; known: {list(KINDS)}")
            mutants = [m for m in mutants if m.kind in self.kinds]
        if self.operators is not None:
            mutants = [m for m in mutants if m.operator in self.operators]
        return mutants


def _in_workers(
    plan: Plan, chosen: list[Mutant], jobs: int,
    progress: Callable[[int, int, MutantResult], None] | None,
) -> tuple[list[MutantResult], dict[str, set[str]]]:  # fmt: skip
    """Run ``chosen`` (``plan.chosen()``) in ``jobs`` processes: the results in order."""
    found: dict[int, MutantResult] = {}
    invalid: dict[str, set[str]] = {o: set() for o in plan.oracles}

    def take(index: int, row: tuple[dict[str, Verdict], int, float, dict[str, set[str]]]) -> None:
        verdicts, specs, seconds, worker_invalid = row
        for o, names in worker_invalid.items():
            invalid[o] |= names
        found[index] = MutantResult(chosen[index], verdicts, specs, seconds)
        if progress is not None:
            progress(len(found), len(chosen), found[index])

    run_shared(_run_share, plan, [m.name for m in chosen], jobs, take)
    return [found[i] for i in range(len(chosen))], invalid


_worker: dict[Plan, tuple[list[Mutant], _Runner]] = {}  # in a worker: its run, kept


def _run_share(plan: Plan, share: Share) -> list[tuple[int, Any]]:
    """In a worker: run the mutants of ``share`` (see :mod:`sg_verify.workers`). The
    worker keeps its runner between shares, so each baseline is computed once per worker."""
    if plan not in _worker:
        _worker[plan] = (plan.chosen(), _Runner(plan.oracles, plan.seed, plan.samples))
    chosen, runner = _worker[plan]
    rows = []
    for index, name in share:
        result = runner.run(named(chosen, index, name, "run_mutants", _name))
        rows.append((index, (result.verdicts, result.specs, result.seconds, runner.invalid)))
    return rows


def _name(mutant: Mutant) -> str:
    return mutant.name
