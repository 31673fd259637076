"""Per-operator evidence: every registry spec and probe through every check.

The finite-difference oracle, the complex step (where the forward is analytic) and
PyTorch's, first and second order, and sg's own
gradcheck properties (:mod:`sg_verify.properties`), graph lifecycle
(:mod:`sg_verify.lifecycle`) and float32 against float64 (:mod:`sg_verify.float32`),
which need no reference at all.
"""

from __future__ import annotations

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
) -> OpsReport:
    """Run every check on every registry spec and probe (the zero-spread probes of
    :func:`~sg_verify.probes.spread_probes` first order only).

    Each spec is checked at ``points`` inputs (scalar specs at :data:`SCALAR_POINTS`
    times as many: a 0-d input sees one side of a branch per point): random samples,
    each followed by its mirror image through the spec's kinks and ties (the other side
    of every branch). The exact self-checks (properties, lifecycle) run once per sample.
    With ``second_order`` each is also differentiated twice and checked by the
    second-order oracles (:mod:`sg_verify.second_order`).
    """
    spreads = spread_probes()  # a convention of the gradient, not of its derivative
    first_only = {(p.engine, p.name) for p in spreads}
    specs = all_specs() + all_probes() + spreads if specs is None else specs
    rows: dict[tuple[str, str], OperatorRow] = {}
    results: list[OracleResult] = []
    for spec in progress(specs, len(specs), "operators"):
        row = rows.setdefault((spec.engine, spec.op), OperatorRow(spec.engine, spec.op))
        row.specs += 1
        for point in range(points * (SCALAR_POINTS if spec.engine == "scalar" else 1)):
            check_seed = seed + 7919 * (point // 2)
            arrays = spec.sample(np.random.default_rng(check_seed))
            if point % 2:  # the same sample on the other side of every branch
                arrays = spec.other_side(arrays)
            checks = [fd_check(spec, arrays, check_seed)]
            if spec.engine == "tensor":  # analytic forwards: the complex step
                checks.append(complex_step_check(spec, arrays, check_seed))
            if with_torch:
                checks.append(torch_check(spec, arrays, check_seed))
            if spec.engine == "tensor":  # a Value has no float32
                checks.append(float32_check(spec, arrays, check_seed))
            if point % 2 == 0:  # exact checks of sg against itself: once per sample
                checks += [props_check(spec, arrays, check_seed)]
                checks += [lifecycle_check(spec, arrays, check_seed)]
            if second_order and (spec.engine, spec.name) not in first_only:
                checks.append(fd_check2(spec, arrays, check_seed))
                if with_torch:
                    checks.append(torch_check2(spec, arrays, check_seed))
            for result in checks:
                results.append(result)
                row.record(result)
                if not result.passed:
                    row.failures.append(
                        f"{result.oracle}: {spec.name} ({result.worst:.3g} at {result.where})"
                    )
    ordered = sorted(rows.values(), key=lambda r: (r.engine != "tensor", r.op))
    return OpsReport(ordered, results, with_torch)
