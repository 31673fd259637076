"""The parity run: sg against PyTorch (float64) on many random expressions."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sg_verify.expressions.backends import VJPResult, sg_vjp, torch_vjp
from sg_verify.expressions.generate import NumpyChooser, build_expression
from sg_verify.expressions.ir import MARGIN, OPS, REFERENCE_ONLY_OPS, Expression
from sg_verify.oracles import scale_aware
from sg_verify.pytorch import torch_threads


@dataclass
class Comparison:
    """sg against PyTorch on one expression: scale-aware differences."""

    worst: float  # the largest difference over the output and every input gradient
    forward: float  # the output's largest difference
    margin: float  # distance to the nearest kink or tie
    finite: bool  # whether PyTorch's output and gradients are all finite


def compare(expr: Expression) -> Comparison:
    """Evaluate ``expr`` in sg and PyTorch on the same inputs and cotangent, and compare."""
    arrays, cotangent = expr.draw()
    mine = _sg_vjp_or_raise(expr, arrays, cotangent)
    theirs = torch_vjp(expr, arrays, cotangent)
    return _compare(mine, theirs)


def _sg_vjp_or_raise(
    expr: Expression, arrays: Sequence[np.ndarray], cotangent: np.ndarray
) -> VJPResult:
    """:func:`sg_vjp`, an exception in sg re-raised with the expression printed."""
    try:
        return sg_vjp(expr, arrays, cotangent)
    except Exception as error:
        raise RuntimeError(f"sg failed on\n{expr}\n{type(error).__name__}: {error}") from error


def _compare(mine: VJPResult, theirs: VJPResult) -> Comparison:
    """The scale-aware differences, computed once over all the arrays laid end to end."""
    finite = bool(np.all(np.isfinite(theirs.output))) and all(
        bool(np.all(np.isfinite(t))) for t in theirs.grads
    )
    shapes = [a.shape for a in (mine.output, *mine.grads)]
    if shapes != [a.shape for a in (theirs.output, *theirs.grads)]:
        return Comparison(math.inf, math.inf, mine.margin, finite)
    diff = scale_aware(
        np.concatenate([np.ravel(a) for a in (mine.output, *mine.grads)]),
        np.concatenate([np.ravel(a) for a in (theirs.output, *theirs.grads)]),
    )
    size = mine.output.size
    forward = float(np.max(diff[:size], initial=0.0))
    return Comparison(float(np.max(diff, initial=0.0)), forward, mine.margin, finite)


# ---------------------------------------------------------------------------------------
# The parity run
# ---------------------------------------------------------------------------------------
@dataclass
class ParityResult:
    """The outcome of :func:`run_parity`: differences per expression and per operator."""

    engine: str
    reference_only: bool
    seed: int
    differences: np.ndarray  # the worst difference of each expression (for a histogram)
    forward: np.ndarray  # the output's difference of each expression
    op_counts: dict[str, int]  # nodes per operator over the whole population
    op_worst: dict[str, float]  # worst difference of the expressions using each operator
    worst_expression: str
    redrawn: int  # expressions redrawn for being within MARGIN of a kink or a tie
    nonfinite: int  # expressions where PyTorch gave inf or nan somewhere
    seconds: float
    nodes: int  # operator nodes in the population

    @property
    def n(self) -> int:
        """The number of expressions compared."""
        return int(self.differences.size)

    @property
    def worst(self) -> float:
        """The largest difference over every expression."""
        return float(np.max(self.differences, initial=0.0))

    @property
    def median(self) -> float:
        """The median of the per-expression worst differences."""
        return float(np.median(self.differences)) if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary, with the per-expression differences as a list."""
        return {
            "engine": self.engine,
            "reference_only": self.reference_only,
            "seed": self.seed,
            "count": self.n,
            "operator_nodes": self.nodes,
            "worst": self.worst,
            "median": self.median,
            "p99": float(np.quantile(self.differences, 0.99)) if self.n else 0.0,
            "forward_worst": float(np.max(self.forward, initial=0.0)),
            "exact_fraction": float(np.mean(self.differences == 0)) if self.n else 0.0,
            "per_operator": {
                op: {"nodes": self.op_counts[op], "worst": self.op_worst[op]}
                for op in self.op_counts
            },
            "worst_expression": self.worst_expression,
            "redrawn": self.redrawn,
            "nonfinite": self.nonfinite,
            "seconds": self.seconds,
            "per_expression": self.differences.tolist(),
        }

    def summary(self) -> str:
        """A table a person can read: totals, then one line per operator."""
        mode = "reference-only" if self.reference_only else "all operators"
        lines = [
            f"{self.engine} engine, {mode}: {self.n} expressions ({self.nodes} operator "
            f"nodes) in {self.seconds:.1f} s; worst {self.worst:.3e}, median "
            f"{self.median:.3e}; {self.redrawn} redrawn near a kink, {self.nonfinite} "
            "non-finite",
            f"  {'operator':<13} {'nodes':>6}  worst",
        ]
        for op in sorted(self.op_counts):
            lines.append(f"  {op:<13} {self.op_counts[op]:>6}  {self.op_worst[op]:.3e}")
        lines.append("  worst expression:")
        lines.extend("    " + line for line in self.worst_expression.splitlines())
        return "\n".join(lines)


def run_parity(
    engine: str,
    n: int,
    seed: int,
    reference_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
    *,
    min_ops: int = 2,
    max_ops: int = 7,
) -> ParityResult:
    """Compare sg with PyTorch (float64) on ``n`` random expressions of ``engine``.

    Each expression gets inputs and an output cotangent drawn from its seed, identical
    float64 arrays for both engines; the output and every input gradient are compared
    with the scale-aware difference. An expression whose values come within
    :data:`MARGIN` of a kink or tie is redrawn (and counted). ``progress(done, n)`` is
    called about a hundred times along the way.

    PyTorch runs single-threaded meanwhile (its previous setting is restored): on
    tensors this small, threads only add synchronisation, several times the work.
    """
    with torch_threads(1):
        return _run_parity(engine, n, seed, reference_only, progress, min_ops, max_ops)


def _run_parity(
    engine: str,
    n: int,
    seed: int,
    reference_only: bool,
    progress: Callable[[int, int], None] | None,
    min_ops: int,
    max_ops: int,
) -> ParityResult:
    rng = np.random.default_rng(seed)
    chooser = NumpyChooser(rng)
    ops = REFERENCE_ONLY_OPS[engine] if reference_only else OPS[engine]
    differences = np.zeros(n)
    forward = np.zeros(n)
    op_counts: Counter[str] = Counter(dict.fromkeys(ops, 0))
    op_worst = dict.fromkeys(ops, 0.0)
    worst, worst_expression = -1.0, ""
    redrawn = nonfinite = nodes = 0
    step = max(1, n // 100)
    start = time.perf_counter()
    for k in range(n):
        while True:
            expr = build_expression(chooser, engine, min_ops=min_ops, max_ops=max_ops, ops=ops)
            arrays, cotangent = expr.draw()
            mine = _sg_vjp_or_raise(expr, arrays, cotangent)
            if mine.margin >= MARGIN:
                break
            redrawn += 1
        result = _compare(mine, torch_vjp(expr, arrays, cotangent))
        differences[k], forward[k] = result.worst, result.forward
        nonfinite += not result.finite
        used = expr.ops()
        nodes += len(used)
        op_counts.update(used)
        for op in set(used):
            op_worst[op] = max(op_worst[op], result.worst)
        if result.worst > worst:
            worst, worst_expression = result.worst, repr(expr)
        if progress is not None and ((k + 1) % step == 0 or k + 1 == n):
            progress(k + 1, n)
    return ParityResult(
        engine=engine, reference_only=reference_only, seed=seed, differences=differences,
        forward=forward, op_counts=dict(op_counts), op_worst=op_worst,
        worst_expression=worst_expression, redrawn=redrawn, nonfinite=nonfinite,
        seconds=time.perf_counter() - start, nodes=nodes,
    )  # fmt: skip
