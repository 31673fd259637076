"""Random-expression parity with PyTorch float64: the acceptance criterion.

For each engine, 10,000 random expressions (reuse, diamonds, broadcasting, every
operator of the registry) are evaluated in sg and in PyTorch on the same float64 inputs
and output cotangent; the output and every input gradient must agree to a scale-aware
difference ``|g_sg - g_torch| / max(1, |g_torch|)`` of at most 1e-12, and to 1e-14 on
expressions built from the reference system's operators only (add, mul, matmul, relu,
sum). The four runs together must take under three minutes. A hypothesis test then
compares the engines on the strategy's expressions, so that a failure shrinks to a
minimal expression, printed as code. Run with ``pytest tests-integration/oracle -s`` to
see the numbers.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the oracle suite needs PyTorch (torch==2.13.0)")

from hypothesis import HealthCheck, assume, given, settings

from sg_verify.expressions import (
    MARGIN,
    OPS,
    REFERENCE_ONLY_OPS,
    Expression,
    ParityResult,
    compare,
    run_parity,
)
from sg_verify.strategies import expressions

COUNT = 10_000
LIMIT = {False: 1e-12, True: 1e-14}  # by reference_only
SEED = {"tensor": 0, "scalar": 1}
RUNS = [(engine, ref) for engine in ("tensor", "scalar") for ref in (False, True)]
TIME_BUDGET = 180.0  # seconds for the four runs
_cache: dict[tuple[str, bool], ParityResult] = {}


def parity(engine: str, reference_only: bool) -> ParityResult:
    """One run per (engine, mode), shared by the tests below."""
    key = (engine, reference_only)
    if key not in _cache:
        _cache[key] = run_parity(engine, COUNT, seed=SEED[engine], reference_only=reference_only)
    return _cache[key]


def label(engine: str, reference_only: bool) -> str:
    return f"{engine}-{'reference' if reference_only else 'all'}"


@pytest.mark.parametrize(("engine", "reference_only"), RUNS, ids=[label(*r) for r in RUNS])
def test_parity_with_pytorch(engine: str, reference_only: bool) -> None:
    result = parity(engine, reference_only)
    print("\n" + result.summary())
    assert result.n >= COUNT
    assert result.nonfinite == 0, "a domain guard failed: PyTorch gave inf or nan"
    assert result.worst <= LIMIT[reference_only], result.summary()
    operators = (REFERENCE_ONLY_OPS if reference_only else OPS)[engine]
    missing = [op for op in operators if result.op_counts.get(op, 0) == 0]
    assert not missing, f"operators never generated: {missing}"
    assert set(result.op_counts) == set(operators)


def test_the_whole_run_fits_the_time_budget() -> None:
    results = [parity(*run) for run in RUNS]
    total = sum(r.seconds for r in results)
    print(
        "\n"
        + "\n".join(
            f"{label(r.engine, r.reference_only):>16}: {r.n} expressions, worst "
            f"{r.worst:.3e}, median {r.median:.3e}, {r.seconds:.1f} s"
            for r in results
        )
        + f"\n{'total':>16}: {total:.1f} s (budget {TIME_BUDGET:.0f} s)"
    )
    assert total < TIME_BUDGET


def check(expr: Expression) -> None:
    result = compare(expr)
    assume(result.margin >= MARGIN)  # a last-bit difference could pick another branch
    assert result.finite
    assert result.worst <= LIMIT[False], f"scale-aware difference {result.worst:.3e}"


HYPOTHESIS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@HYPOTHESIS
@given(expressions("tensor", max_nodes=6))
def test_hypothesis_tensor_expressions(expr: Expression) -> None:
    check(expr)


@HYPOTHESIS
@given(expressions("scalar", max_nodes=6))
def test_hypothesis_scalar_expressions(expr: Expression) -> None:
    check(expr)
