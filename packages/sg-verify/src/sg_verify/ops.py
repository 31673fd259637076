"""Per-operator evidence: every registry spec and probe through every check.

The finite-difference oracle, the complex step (where the forward is analytic) and
PyTorch's, first and second order, and sg's own
gradcheck properties (:mod:`sg_verify.properties`), graph lifecycle
(:mod:`sg_verify.lifecycle`) and float32 against float64 (:mod:`sg_verify.float32`),
which need no reference at all.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sg_verify.complex_step import complex_step_check
from sg_verify.float32 import float32_check
from sg_verify.lifecycle import lifecycle_check
from sg_verify.oracles import OracleResult, fd_check, torch_check
from sg_verify.output import progress
from sg_verify.probes import all_probes, spread_probes
from sg_verify.properties import props_check
from sg_verify.registry import OpSpec, all_specs
from sg_verify.second_order import fd_check2, torch_check2
from sg_verify.workers import Share, job_count, named, run_shared

POINTS = 2
"""Random inputs per spec and check: different points see different sides of branches."""
SCALAR_POINTS = 4
"""Scalar specs get this many times :data:`POINTS`: a 0-d input is one point of one
branch (``maximum(a, b)`` with ``a > b``), where a tensor sample holds a dozen."""


@dataclass
class OperatorRow:
    """The worst result of each oracle over all specs of one operator of one engine."""

    engine: str
    op: str
    specs: int = 0
    fd_worst: float = 0.0
    torch_worst: float = float("nan")
    cs_worst: float = float("nan")  # the complex step (analytic forwards only)
    fd2_worst: float = float("nan")  # second order (the gradient of the gradient)
    torch2_worst: float = float("nan")
    props_worst: float = float("nan")  # the measures closest to their tolerance
    lifecycle_worst: float = float("nan")
    float32_worst: float = float("nan")  # float32 against float64 (tensor engine only)
    failures: list[str] = field(default_factory=list)

    def record(self, result: OracleResult) -> None:
        """Fold one oracle result into the row's worst values."""
        worst = result.worst
        if result.oracle == "torch":
            worst = max(worst, result.forward)
        attribute = f"{result.oracle}_worst"
        previous = getattr(self, attribute)
        setattr(self, attribute, worst if np.isnan(previous) else max(previous, worst))

    @property
    def passed(self) -> bool:
        return not self.failures

    def verdict(self, oracle: str) -> str:
        """``ok``/``NO`` for a check that compares sg with itself, ``-`` if it did not run."""
        if np.isnan(getattr(self, f"{oracle}_worst")):
            return "-"
        return "NO" if any(f.startswith(f"{oracle}:") for f in self.failures) else "ok"


@dataclass
class OpsReport:
    """Both oracles over the whole registry, grouped by operator."""

    rows: list[OperatorRow]
    results: list[OracleResult]
    with_torch: bool

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """The rows as JSON-ready data (``None`` for an oracle that did not run)."""
        rows = [{k: _optional(v) for k, v in asdict(r).items()} for r in self.rows]
        return {"with_torch": self.with_torch, "passed": self.passed, "operators": rows}

    def format_table(self) -> str:
        """One line per operator: the worst scale-aware difference of each oracle."""
        header = (
            f"{'engine':<8}{'operator':<14}{'specs':>6}{'FD worst':>12}{'CS worst':>12}"
            f"{'PyTorch worst':>15}"
            f"{'FD 2nd':>12}{'PyTorch 2nd':>14}{'props':>7}{'life':>6}{'f32':>5}  ok"
        )
        lines = [header, "-" * len(header)]
        for r in self.rows:
            lines.append(
                f"{r.engine:<8}{r.op:<14}{r.specs:>6}{r.fd_worst:>12.2e}"
                f"{_text(r.cs_worst):>12}"
                f"{_text(r.torch_worst):>15}{_text(r.fd2_worst):>12}{_text(r.torch2_worst):>14}"
                f"{r.verdict('props'):>7}{r.verdict('lifecycle'):>6}{r.verdict('float32'):>5}"
                f"  {'yes' if r.passed else 'NO'}"
            )
        return "\n".join(lines)


def _optional(x: Any) -> Any:
    return None if isinstance(x, float) and np.isnan(x) else x


def _text(x: float) -> str:
    return "-" if np.isnan(x) else f"{x:.2e}"


def run_ops(
    with_torch: bool = True,
    seed: int = 0,
    specs: list[OpSpec] | None = None,
    second_order: bool = True,
    points: int = POINTS,
    jobs: int = 1,
    operators: Collection[str] | None = None,
) -> OpsReport:
    """Run every check on every registry spec and probe (the zero-spread probes of
    :func:`~sg_verify.probes.spread_probes` first order only).

    Each spec is checked at ``points`` inputs (scalar specs at :data:`SCALAR_POINTS`
    times as many: a 0-d input sees one side of a branch per point): random samples,
    each followed by its mirror image through the spec's kinks and ties (the other side
    of every branch). The exact self-checks (properties, lifecycle) run once per sample.
    With ``second_order`` each is also differentiated twice and checked by the
    second-order oracles (:mod:`sg_verify.second_order`).

    ``operators``: only the specs of these operators (of either engine).

    ``jobs`` > 1 (or 0: one per CPU) shares the registry's specs out to that many worker
    processes: the same report, sooner. Given ``specs`` always run here, in this process.
    """
    chosen = None if operators is None else _known_operators(operators)
    plan = _Plan(with_torch, seed, second_order, points, chosen)
    given = specs is not None
    specs = plan.specs() if specs is None else specs
    jobs = job_count(jobs, len(specs))
    found: dict[int, list[OracleResult]] = {}
    if not given and jobs > 1:
        run_shared(_run_share, plan, [_label(s) for s in specs], jobs, found.__setitem__)
    else:
        first_only = _first_order_only()
        for index, spec in enumerate(progress(specs, len(specs), "operators")):
            found[index] = plan.check(spec, first_only)
    rows: dict[tuple[str, str], OperatorRow] = {}
    results: list[OracleResult] = []
    for index, spec in enumerate(specs):  # folded in order, wherever they ran
        row = rows.setdefault((spec.engine, spec.op), OperatorRow(spec.engine, spec.op))
        row.specs += 1
        for result in found[index]:
            results.append(result)
            row.record(result)
            if not result.passed:
                row.failures.append(
                    f"{result.oracle}: {spec.name} ({result.worst:.3g} at {result.where})"
                )
    ordered = sorted(rows.values(), key=lambda r: (r.engine != "tensor", r.op))
    return OpsReport(ordered, results, with_torch)


@dataclass(frozen=True)
class _Plan:
    """How :func:`run_ops` checks each spec: all a worker process needs besides the
    registry."""

    with_torch: bool
    seed: int
    second_order: bool
    points: int
    operators: tuple[str, ...] | None

    def specs(self) -> list[OpSpec]:
        specs = all_specs() + all_probes() + spread_probes()
        if self.operators is None:
            return specs
        return [s for s in specs if s.op in self.operators]

    def check(self, spec: OpSpec, first_only: set[tuple[str, str]]) -> list[OracleResult]:
        """Every check of ``spec``, at each of its points (first order only if its engine
        and name are in ``first_only``)."""
        seed, with_torch = self.seed, self.with_torch
        second_order = self.second_order and (spec.engine, spec.name) not in first_only
        checks: list[OracleResult] = []
        for point in range(self.points * (SCALAR_POINTS if spec.engine == "scalar" else 1)):
            check_seed = seed + 7919 * (point // 2)
            arrays = spec.sample(np.random.default_rng(check_seed))
            if point % 2:  # the same sample on the other side of every branch
                arrays = spec.other_side(arrays)
            checks.append(fd_check(spec, arrays, check_seed))
            if spec.engine == "tensor":  # analytic forwards: the complex step
                checks.append(complex_step_check(spec, arrays, check_seed))
            if with_torch:
                checks.append(torch_check(spec, arrays, check_seed))
            if spec.engine == "tensor":  # a Value has no float32
                checks.append(float32_check(spec, arrays, check_seed))
            if point % 2 == 0:  # exact checks of sg against itself: once per sample
                checks += [props_check(spec, arrays, check_seed)]
                checks += [lifecycle_check(spec, arrays, check_seed)]
            if second_order:
                checks.append(fd_check2(spec, arrays, check_seed))
                if with_torch:
                    checks.append(torch_check2(spec, arrays, check_seed))
        return checks


def _known_operators(operators: Collection[str]) -> tuple[str, ...]:
    """``operators`` (one name, or several) once each has specs in the registry."""
    names = (operators,) if isinstance(operators, str) else tuple(sorted(set(operators)))
    known = {s.op for s in all_specs()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"run_ops: no registered operator is called {unknown}")
    return names


def _first_order_only() -> set[tuple[str, str]]:
    """The zero-spread probes: a convention of the gradient, not of its derivative."""
    return {(p.engine, p.name) for p in spread_probes()}


def _label(spec: OpSpec) -> str:
    return f"{spec.engine}:{spec.name}"


_worker: dict[_Plan, tuple[list[OpSpec], set[tuple[str, str]]]] = {}  # in a worker: kept


def _run_share(plan: _Plan, share: Share) -> list[tuple[int, Any]]:
    """In a worker: the checks of the specs of ``share`` (see :mod:`sg_verify.workers`)."""
    if plan not in _worker:
        _worker[plan] = (plan.specs(), _first_order_only())
    specs, first_only = _worker[plan]
    return [
        (i, plan.check(named(specs, i, name, "run_ops", _label), first_only)) for i, name in share
    ]
