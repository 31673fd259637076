"""Per-operator evidence: every registry spec through both oracles, first and second order."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sg_verify.oracles import OracleResult, fd_check, torch_check
from sg_verify.output import progress
from sg_verify.registry import OpSpec, all_specs
from sg_verify.second_order import fd_check2, torch_check2


@dataclass
class OperatorRow:
    """The worst result of each oracle over all specs of one operator of one engine."""

    engine: str
    op: str
    specs: int = 0
    fd_worst: float = 0.0
    torch_worst: float = float("nan")
    fd2_worst: float = float("nan")  # second order (the gradient of the gradient)
    torch2_worst: float = float("nan")
    fd_limit: float = 0.0  # the finite-difference tolerance of its specs
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
            f"{'engine':<8}{'operator':<14}{'specs':>6}{'FD worst':>12}{'PyTorch worst':>15}"
            f"{'FD 2nd':>12}{'PyTorch 2nd':>14}  ok"
        )
        lines = [header, "-" * len(header)]
        for r in self.rows:
            lines.append(
                f"{r.engine:<8}{r.op:<14}{r.specs:>6}{r.fd_worst:>12.2e}"
                f"{_text(r.torch_worst):>15}{_text(r.fd2_worst):>12}{_text(r.torch2_worst):>14}"
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
) -> OpsReport:
    """Run the finite-difference oracle (and PyTorch's) on every registry spec.

    With ``second_order`` each spec is also differentiated twice and checked by the
    second-order oracles (:mod:`sg_verify.second_order`).
    """
    specs = all_specs() if specs is None else specs
    rows: dict[tuple[str, str], OperatorRow] = {}
    results: list[OracleResult] = []
    for spec in progress(specs, len(specs), "operators"):
        arrays = spec.sample(np.random.default_rng(seed))
        row = rows.setdefault((spec.engine, spec.op), OperatorRow(spec.engine, spec.op))
        row.specs += 1
        row.fd_limit = max(row.fd_limit, spec.fd_rtol)
        checks = [fd_check(spec, arrays, seed)]
        if with_torch:
            checks.append(torch_check(spec, arrays, seed))
        if second_order:
            checks.append(fd_check2(spec, arrays, seed))
            if with_torch:
                checks.append(torch_check2(spec, arrays, seed))
        for result in checks:
            results.append(result)
            row.record(result)
            if not result.passed:
                row.failures.append(
                    f"{result.oracle}: {spec.name} ({result.worst:.3g} at {result.where})"
                )
    ordered = sorted(rows.values(), key=lambda r: (r.engine != "tensor", r.op))
    return OpsReport(ordered, results, with_torch)
