"""The results report: ``results.json``, ``REPORT.md`` and PNG figures in one folder.

Each section comes from one piece of evidence (operators through both oracles, random
expression parity, mutants, training trajectories, two moons, edge cases); a section
whose run needs PyTorch is marked as skipped when torch is not installed.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sg_verify import figures


def torch_available() -> bool:
    """Whether torch can be imported (the ``torch`` extra is installed)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Report:
    """Everything measured, ready to be written as JSON and Markdown."""

    sections: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(
            section.get("passed", True)
            for section in self.sections.values()
            if isinstance(section, dict)
        )


def _environment() -> dict[str, str]:
    import sg_nn
    import sg_optim
    import sg_scalar
    import sg_tensor
    import sg_verify

    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sg-scalar": sg_scalar.__version__,
        "sg-tensor": sg_tensor.__version__,
        "sg-nn": sg_nn.__version__,
        "sg-optim": sg_optim.__version__,
        "sg-verify": sg_verify.__version__,
    }
    if torch_available():
        import torch

        env["torch"] = torch.__version__
    return env


def build_report(out: Path, parity_count: int = 10_000, quick: bool = False) -> Report:
    """Run every piece of evidence and write the report folder ``out``."""
    from sg_verify.edge_cases import run_edge_cases
    from sg_verify.moons import moons_dict, run_moons
    from sg_verify.ops import run_ops

    out.mkdir(parents=True, exist_ok=True)
    report = Report()
    have_torch = torch_available()
    report.sections["environment"] = _environment()

    start = time.perf_counter()
    ops = run_ops(with_torch=have_torch)
    report.sections["operators"] = ops.to_dict()
    report.tables["operators"] = ops.format_table()
    report.seconds["operators"] = time.perf_counter() - start

    report.tables["second_order"] = _second_order_table(report.sections["operators"])
    if have_torch:
        _functional_section(report)
        _parity_section(report, parity_count if not quick else 500)
        _mutants_section(report)
        _trajectory_section(report, steps=200 if not quick else 50)
    else:
        for name in ("functional", "parity", "mutants", "trajectory"):
            report.sections[name] = {"skipped": "needs torch: pip install 'sg-verify[torch]'"}

    start = time.perf_counter()
    runs = run_moons((0,) if quick else (0, 1, 2, 3, 4))
    report.sections["moons"] = moons_dict(runs)
    report.seconds["moons"] = time.perf_counter() - start

    edges = run_edge_cases()
    report.sections["edge_cases"] = {
        "passed": all(e.passed for e in edges),
        "cases": [{"name": e.name, "passed": e.passed, "detail": e.detail} for e in edges],
    }

    if figures.available():
        figures.operator_errors(report.sections["operators"]["operators"], out / "operators.png")
        report.figures.append("operators.png")
        parity = report.sections.get("parity", {})
        if "histogram" in parity:
            figures.parity_histogram(
                {k: np.asarray(v) for k, v in parity["histogram"].items()}, out / "parity.png"
            )
            report.figures.append("parity.png")
        figures.decision_boundary(runs[0].model, runs[0].X_test, runs[0].y_test, out / "moons.png")
        report.figures.append("moons.png")

    (out / "results.json").write_text(json.dumps(_jsonable(report.sections), indent=1))
    (out / "REPORT.md").write_text(render_markdown(report))
    return report


def _second_order_table(operators: dict[str, Any]) -> str:
    """Per operator: the worst second-order difference against each oracle."""
    header = f"{'engine':<8}{'operator':<14}{'specs':>6}{'vs FD':>12}{'vs PyTorch':>13}"
    lines = [header, "-" * len(header)]
    for r in operators["operators"]:
        fd2, torch2 = r.get("fd2_worst"), r.get("torch2_worst")
        lines.append(
            f"{r['engine']:<8}{r['op']:<14}{r['specs']:>6}"
            f"{'-' if fd2 is None else f'{fd2:.2e}':>12}"
            f"{'-' if torch2 is None else f'{torch2:.2e}':>13}"
        )
    return "\n".join(lines)


def _functional_section(report: Report) -> None:
    from sg_verify.functional import FUNCTIONAL_TOL, run_functional

    start = time.perf_counter()
    results = run_functional()
    report.sections["functional"] = {
        "passed": all(r.passed for r in results),
        "limit": FUNCTIONAL_TOL,
        "worst": max(r.worst for r in results),
        "checks": [{"case": r.case, "helper": r.helper, "worst": r.worst} for r in results],
    }
    header = f"{'function':<32}{'helper':<10}{'worst':>10}"
    lines = [header, "-" * len(header)]
    lines += [f"{r.case:<32}{r.helper:<10}{r.worst:>10.2e}" for r in results]
    report.tables["functional"] = "\n".join(lines)
    report.seconds["functional"] = time.perf_counter() - start


def _parity_section(report: Report, count: int) -> None:
    from sg_verify.expressions import run_parity

    start = time.perf_counter()
    section: dict[str, Any] = {"runs": {}, "histogram": {}}
    passed = True
    for engine in ("tensor", "scalar"):
        for reference_only in (False, True):
            label = f"{engine}{' (reference ops)' if reference_only else ''}"
            n = count if not reference_only else max(count // 5, 100)
            result = run_parity(engine, n, seed=0, reference_only=reference_only)
            data = result.to_dict()
            limit = 1e-14 if reference_only else 1e-12
            data["limit"] = limit
            data["passed"] = bool(data["worst"] <= limit)
            passed &= data["passed"]
            worst_per_expression = data.pop("per_expression", None)
            if worst_per_expression is not None:
                section["histogram"][label] = worst_per_expression
            section["runs"][label] = data
    section["passed"] = passed
    report.sections["parity"] = section
    report.seconds["parity"] = time.perf_counter() - start


def _mutants_section(report: Report) -> None:
    from sg_verify.mutants import run_mutants

    start = time.perf_counter()
    result = run_mutants(engine="all")
    data = result.to_dict()
    data.pop("results", None)  # per-mutant detail stays in the table, not the summary
    data["passed"] = not data["uncaught"]
    report.sections["mutants"] = data
    report.tables["mutants"] = result.format_table()
    report.seconds["mutants"] = time.perf_counter() - start


def _trajectory_section(report: Report, steps: int) -> None:
    from sg_verify.trajectory import format_table, run_all

    start = time.perf_counter()
    results = run_all(steps=steps)
    report.sections["trajectory"] = {
        "steps": steps,
        "passed": all(r.passed for r in results.values()),
        "optimizers": {
            name: {
                "max_loss_diff": r.max_loss_diff,
                "max_param_diff": r.max_param_diff,
                "final_loss": r.final_full_loss_sg,
            }
            for name, r in results.items()
        },
    }
    report.tables["trajectory"] = format_table(results)
    report.seconds["trajectory"] = time.perf_counter() - start


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def _fmt(x: Any) -> str:
    return f"{x:.2e}" if isinstance(x, float) else str(x)


def render_markdown(report: Report) -> str:
    """The human-readable results table and sections."""
    s = report.sections
    lines = ["# sg verification report", ""]
    env = s["environment"]
    lines.append("Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    lines += ["", "## Results", "", "| measurement | result | target | ok |", "|---|---|---|---|"]
    ops = s["operators"]
    usual = [r for r in ops["operators"] if r["op"] != "astype"]  # float32 rounding: 1e-5
    fd_worst = max(r["fd_worst"] for r in usual)
    torch_vals = [r["torch_worst"] for r in ops["operators"] if r["torch_worst"] is not None]
    lines.append(
        f"| operators checked by finite differences | {len(ops['operators'])} operators, "
        f"worst {fd_worst:.2e} (astype, which rounds to float32, is held to 1e-5) | < 1e-6 | "
        f"{'yes' if ops['passed'] and fd_worst < 1e-6 else 'NO'} |"
    )
    if torch_vals:
        lines.append(
            f"| operators checked against PyTorch float64 | worst {max(torch_vals):.2e} | "
            f"<= 1e-12 | {'yes' if max(torch_vals) <= 1e-12 else 'NO'} |"
        )
    fd2 = [r["fd2_worst"] for r in ops["operators"] if r.get("fd2_worst") is not None]
    torch2 = [r["torch2_worst"] for r in ops["operators"] if r.get("torch2_worst") is not None]
    if fd2:
        lines.append(
            f"| second order (gradient of the gradient) against finite differences of the "
            f"first-order gradient | worst {max(fd2):.2e} | < 1e-5 | "
            f"{'yes' if max(fd2) < 1e-5 else 'NO'} |"
        )
    if torch2:
        lines.append(
            f"| second order against PyTorch float64 create_graph=True | worst "
            f"{max(torch2):.2e} | <= 1e-12 | {'yes' if max(torch2) <= 1e-12 else 'NO'} |"
        )
    functional = s.get("functional", {})
    if "checks" in functional:
        lines.append(
            f"| hvp, jacobian, hessian against torch.autograd.functional | "
            f"{len(functional['checks'])} checks, worst {functional['worst']:.2e} | "
            f"<= {functional['limit']:.0e} | {'yes' if functional['passed'] else 'NO'} |"
        )
    parity = s.get("parity", {})
    for label, run in parity.get("runs", {}).items():
        lines.append(
            f"| parity, {label} | {run.get('count')} expressions, worst {_fmt(run.get('worst'))}, "
            f"median {_fmt(run.get('median'))} | <= {run['limit']:.0e} | "
            f"{'yes' if run['passed'] else 'NO'} |"
        )
    mutants = s.get("mutants", {})
    if "kill_rates" in mutants:
        rates = ", ".join(f"{k} {v:.1%}" for k, v in mutants["kill_rates"].items())
        lines.append(
            f"| mutants (wrong rules patched in) | {mutants['mutants']} mutants; caught by "
            f"{rates} | every mutant caught by an oracle | "
            f"{'yes' if mutants['passed'] else 'NO'} |"
        )
    traj = s.get("trajectory", {})
    for name, t in traj.get("optimizers", {}).items():
        ok = "yes" if t["max_loss_diff"] <= 1e-10 else "NO"
        lines.append(
            f"| trajectory parity, {name}, {traj['steps']} steps | max loss difference "
            f"{t['max_loss_diff']:.2e} | <= 1e-10 | {ok} |"
        )
    moons = s["moons"]
    accs = ", ".join(f"{a:.3f}" for a in moons["accuracy_by_seed"].values())
    lines.append(
        f"| two moons test accuracy | {accs} (mean {moons['mean_accuracy']:.4f}) | "
        f"> 0.95 each, mean >= 0.98 | {'yes' if moons['passed'] else 'NO'} |"
    )
    edges = s["edge_cases"]
    lines.append(
        f"| edge cases | {sum(c['passed'] for c in edges['cases'])}/{len(edges['cases'])} pass | "
        f"all | {'yes' if edges['passed'] else 'NO'} |"
    )
    for name in ("functional", "parity", "mutants", "trajectory"):
        if "skipped" in s.get(name, {}):
            lines.append(f"| {name} | skipped: {s[name]['skipped']} | | |")
    lines += ["", "## Per-operator worst errors", "", "```", report.tables["operators"], "```"]
    lines += [
        "",
        "## Second-order gradients",
        "",
        "The gradient of each operator's gradient, from the same rules run on graph nodes "
        "(create_graph=True): the worst scale-aware difference per operator.",
        "",
        "```",
        report.tables["second_order"],
        "```",
    ]
    if "functional" in report.tables:
        lines += ["", "hvp, jacobian and hessian against torch.autograd.functional:", ""]
        lines += ["```", report.tables["functional"], "```"]
    if "mutants" in report.tables:
        lines += [
            "",
            "## Mutants: which oracle caught which",
            "",
            "```",
            report.tables["mutants"],
            "```",
        ]
    if "trajectory" in report.tables:
        lines += [
            "",
            "## Training trajectories, sg vs PyTorch",
            "",
            "```",
            report.tables["trajectory"],
            "```",
        ]
    lines += ["", "## Edge cases", ""]
    lines += [
        f"- {'pass' if c['passed'] else 'FAIL'}: **{c['name']}**: {c['detail']}"
        for c in edges["cases"]
    ]
    if report.figures:
        lines += ["", "## Figures", ""] + [f"![{f}]({f})" for f in report.figures]
    lines += ["", "Timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items()), ""]
    return "\n".join(lines)
