"""Per-operator evidence: every registry spec through both oracles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sg_verify.oracles import OracleResult, fd_check, torch_check
from sg_verify.progress import progress
from sg_verify.registry import OpSpec, all_specs


@dataclass
class OperatorRow:
    """The worst result of each oracle over all specs of one operator of one engine."""

    engine: str
    op: str
    specs: int = 0
    fd_worst: float = 0.0
    torch_worst: float = float("nan")
    failures: list[str] = field(default_factory=list)

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
        return {
            "with_torch": self.with_torch,
            "passed": self.passed,
            "operators": [
                {
                    "engine": r.engine,
                    "op": r.op,
                    "specs": r.specs,
                    "fd_worst": r.fd_worst,
                    "torch_worst": None if np.isnan(r.torch_worst) else r.torch_worst,
                    "failures": r.failures,
                }
                for r in self.rows
            ],
        }

    def format_table(self) -> str:
        header = (
            f"{'engine':<8}{'operator':<14}{'specs':>6}{'FD worst':>12}{'PyTorch worst':>15}  ok"
        )
        lines = [header, "-" * len(header)]
        for r in self.rows:
            torch_text = "-" if np.isnan(r.torch_worst) else f"{r.torch_worst:.2e}"
            lines.append(
                f"{r.engine:<8}{r.op:<14}{r.specs:>6}{r.fd_worst:>12.2e}{torch_text:>15}  "
                f"{'yes' if r.passed else 'NO'}"
            )
        return "\n".join(lines)


def run_ops(
    with_torch: bool = True, seed: int = 0, specs: list[OpSpec] | None = None
) -> OpsReport:
    """Run the finite-difference oracle (and PyTorch's) on every registry spec."""
    specs = all_specs() if specs is None else specs
    rows: dict[tuple[str, str], OperatorRow] = {}
    results: list[OracleResult] = []
    for spec in progress(specs, len(specs), "operators"):
        arrays = spec.sample(np.random.default_rng(seed))
        row = rows.setdefault((spec.engine, spec.op), OperatorRow(spec.engine, spec.op))
        row.specs += 1
        checks = [fd_check(spec, arrays, seed)]
        if with_torch:
            checks.append(torch_check(spec, arrays, seed))
        for result in checks:
            results.append(result)
            if result.oracle == "fd":
                row.fd_worst = max(row.fd_worst, result.worst)
            else:
                previous = 0.0 if np.isnan(row.torch_worst) else row.torch_worst
                row.torch_worst = max(previous, result.worst, result.forward)
            if not result.passed:
                row.failures.append(
                    f"{result.oracle}: {spec.name} ({result.worst:.3g} at {result.where})"
                )
    ordered = sorted(rows.values(), key=lambda r: (r.engine != "tensor", r.op))
    return OpsReport(ordered, results, with_torch)
