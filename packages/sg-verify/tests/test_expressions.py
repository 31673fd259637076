"""The random-expression IR, its generator and printer, the sg backend and the strategy.

None of these tests needs torch: the sg backend is checked against central finite
differences, and the PyTorch comparison lives in tests-integration/oracle/test_parity.py.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings

from sg_scalar import Value
from sg_verify import gradcheck
from sg_verify.expressions import (
    ADJOINT_OPS,
    LIMIT,
    MARGIN,
    OPS,
    REFERENCE_ONLY_OPS,
    Expression,
    Guard,
    IndexArray,
    Mask,
    Node,
    NumpyChooser,
    ParityResult,
    generate,
    sg_function,
    sg_values,
    sg_vjp,
)
from sg_verify.registry import REFERENCE_OPS, declarations
from sg_verify.strategies import expressions

ENGINES = ["tensor", "scalar"]


def quick(**options: Any) -> settings:
    """Hypothesis settings: reproducible, and no example database (no files written)."""
    return settings(database=None, deadline=None, derandomize=True, **options)


def population(
    engine: str, n: int, seed: int = 0, reference_only: bool = False
) -> list[Expression]:
    rng = np.random.default_rng(seed)
    return [generate(rng, engine, reference_only=reference_only) for _ in range(n)]


# ---------------------------------------------------------------------------------------
# Operators and coverage
# ---------------------------------------------------------------------------------------
def test_the_operators_are_every_declared_rule() -> None:
    for engine in ENGINES:
        rules = {d.name for d in declarations(engine) if d.op is not None}
        assert set(OPS[engine]) | set(ADJOINT_OPS[engine]) == rules
        assert not set(OPS[engine]) & set(ADJOINT_OPS[engine])
    for engine in ENGINES:
        assert set(REFERENCE_ONLY_OPS[engine]) <= REFERENCE_OPS
        assert set(REFERENCE_ONLY_OPS[engine]) <= set(OPS[engine])
    assert set(REFERENCE_ONLY_OPS["tensor"]) == REFERENCE_OPS


@pytest.mark.parametrize("engine", ENGINES)
def test_every_operator_appears_in_a_population(engine: str) -> None:
    counts = Counter(op for e in population(engine, 1500) for op in e.ops())
    missing = set(OPS[engine]) - set(counts)
    assert not missing, f"operators never generated: {sorted(missing)}"
    assert min(counts[op] for op in OPS[engine]) >= 20, counts


@pytest.mark.parametrize("engine", ENGINES)
def test_reference_only_uses_only_reference_operators(engine: str) -> None:
    counts = Counter(op for e in population(engine, 300, reference_only=True) for op in e.ops())
    assert set(counts) == set(REFERENCE_ONLY_OPS[engine])
    for e in population(engine, 300, seed=1, reference_only=True):
        for node in e.nodes:  # only exact power-of-two scalings as guards
            assert all(g.kind == "" for g in node.guards), e


def test_generation_is_deterministic() -> None:
    first = [repr(e) for e in population("tensor", 20, seed=7)]
    assert first == [repr(e) for e in population("tensor", 20, seed=7)]
    assert first != [repr(e) for e in population("tensor", 20, seed=8)]


def test_numpy_chooser_covers_its_range() -> None:
    chooser = NumpyChooser(np.random.default_rng(0))
    draws = Counter(chooser.integer(-2, 3) for _ in range(3000))
    assert set(draws) == {-2, -1, 0, 1, 2, 3}
    assert min(draws.values()) > 400


# ---------------------------------------------------------------------------------------
# Structure: reuse, diamonds, broadcasting, shapes, bounded values
# ---------------------------------------------------------------------------------------
def stretched(shape: tuple[int, ...], out: tuple[int, ...]) -> bool:
    """Whether broadcasting ``shape`` to ``out`` stretches an axis of size 1."""
    return any(x == 1 and y != 1 for x, y in zip(shape[::-1], out[::-1]))


def test_reuse_diamonds_and_broadcasting_are_generated() -> None:
    exprs = population("tensor", 500)
    arguments = [[a for node in e.nodes for a in node.args] for e in exprs]
    reuse = sum(len(set(args)) < len(args) for args in arguments)
    assert reuse > 150  # expressions using some node more than once
    ranks = Counter(len(n.shape) for e in exprs for n in e.nodes if n.op == "input")
    assert set(ranks) >= {0, 1, 2, 3}
    mismatched = size_one = 0
    for e in exprs:
        for node in e.nodes:
            if node.op in ("add", "sub", "mul", "div", "pow", "maximum", "minimum"):
                a, b = (e.nodes[i].shape for i in node.args)
                mismatched += len(a) != len(b)
                size_one += stretched(a, node.shape) or stretched(b, node.shape)
    assert mismatched > 50
    assert size_one > 20


@pytest.mark.parametrize("engine", ENGINES)
def test_values_are_finite_bounded_and_shapes_match(engine: str) -> None:
    for e in population(engine, 400, seed=3):
        arrays, cotangent = e.draw()
        values = sg_values(e, arrays)
        for node, value in zip(e.nodes, values):
            assert value.shape == node.shape, e
            assert np.all(np.isfinite(value)), e
            assert np.all(np.abs(value) <= LIMIT * (1 + 1e-12)), e
        assert cotangent.shape == e.output.shape


@pytest.mark.parametrize("engine", ENGINES)
def test_pruned_expressions_keep_only_what_the_output_needs(engine: str) -> None:
    for e in population(engine, 200, seed=4):
        assert e.pruned() is e
        needed = {len(e.nodes) - 1}
        for i in range(len(e.nodes) - 1, -1, -1):
            if i in needed:
                needed.update(e.nodes[i].args)
        assert needed == set(range(len(e.nodes)))
        assert all(a < i for i, n in enumerate(e.nodes) for a in n.args)


def test_prune_renumbers() -> None:
    nodes = (
        Node("input", shape=(2,)),
        Node("input", shape=(2,)),
        Node("exp", (0,), guards=(Guard(),), shape=(2,)),
        Node("sin", (1,), guards=(Guard(),), shape=(2,)),
    )
    pruned = Expression("tensor", nodes).pruned()
    assert [n.op for n in pruned.nodes] == ["input", "sin"]
    assert pruned.nodes[1].args == (0,)


# ---------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------
def test_printed_code_is_readable() -> None:
    g = Guard()
    nodes = (
        Node("input", shape=(2, 3)),
        Node("input", shape=(3,)),
        Node("log", (0,), guards=(Guard(0, "softplus"),), shape=(2, 3)),
        Node("mul", (2, 1), guards=(g, g), shape=(2, 3)),
        Node("div", (3, 0), guards=(Guard(2), Guard(0, "square")), shape=(2, 3)),
        Node("sum", (4,), {"axis": (0, 1), "keepdims": True}, (g,), (1, 1)),
        Node("getitem", (5,), {"index": (0, slice(None), None)}, (g,), (1, 1)),
        Node("where", (6, 1), {"condition": Mask((3,), (True, False, True))}, (g, g), (1, 3)),
        Node("getitem", (7,), {"index": (slice(None), IndexArray((0, 0, -1)))}, (g,), (1, 3)),
    )
    assert Expression("tensor", nodes, seed=5).code().splitlines() == [
        "t0 = input(2, 3)",
        "t1 = input(3)",
        "t2 = log(softplus(t0) + 0.5)              # (2, 3)",
        "t3 = t2 * t1                              # (2, 3)",
        "t4 = (t3 * 0.25) / (t0 * t0 + 0.5)        # (2, 3); reuse t0",
        "t5 = sum(t4, axis=(0, 1), keepdims=True)  # (1, 1)",
        "t6 = t5[0, :, None]                       # (1, 1)",
        "t7 = where([1, 0, 1], t6, t1)             # (1, 3); reuse t1",
        "t8 = t7[:, [0, 0, -1]]                    # (1, 3)",
    ]
    text = repr(Expression("tensor", nodes, seed=5))
    assert text.startswith("Expression(tensor, seed=5):\n    t0 = input(2, 3)\n")
    assert text.endswith("\n    -> t8")


@pytest.mark.parametrize("engine", ENGINES)
def test_every_generated_expression_prints(engine: str) -> None:
    for e in population(engine, 300, seed=5):
        lines = e.code().splitlines()
        assert len(lines) == len(e.nodes)
        assert all(line.startswith(f"t{i} = ") for i, line in enumerate(lines))
        assert str(e) == repr(e)


# ---------------------------------------------------------------------------------------
# The sg backend against central finite differences
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("reference_only", [False, True])
def test_sg_backend_matches_finite_differences(engine: str, reference_only: bool) -> None:
    # astype rounds to float32: a step of 1e-6 is below its resolution, so FD cannot see it
    ops = REFERENCE_ONLY_OPS[engine] if reference_only else OPS[engine]
    ops = tuple(op for op in ops if op != "astype")
    rng = np.random.default_rng(11)
    checked = 0
    while checked < 120:
        e = generate(rng, engine, ops=ops)
        arrays, cotangent = e.draw()
        if sg_vjp(e, arrays, cotangent).margin < 1e-3:  # a step could cross a kink
            continue
        leaves = [Value(float(a)) for a in arrays] if engine == "scalar" else arrays
        assert gradcheck(sg_function(e), *leaves, atol=1e-6, rtol=1e-5), e
        checked += 1


def test_vjp_accumulates_over_reuse() -> None:
    # t2 = t0 * t0; t3 = t2 + t0: d/dt0 = 2 t0 + 1
    g = Guard()
    nodes = (
        Node("input", shape=(3,)),
        Node("mul", (0, 0), guards=(g, g), shape=(3,)),
        Node("add", (1, 0), guards=(g, g), shape=(3,)),
    )
    x = np.array([0.5, -1.0, 2.0])
    v = np.array([1.0, 2.0, -1.0])
    result = sg_vjp(Expression("tensor", nodes), [x], v)
    np.testing.assert_allclose(result.output, x * x + x)
    np.testing.assert_allclose(result.grads[0], v * (2 * x + 1))
    assert result.margin == math.inf


def test_margin_reports_ties() -> None:
    g = Guard()
    nodes = (
        Node("input", shape=(2,)),
        Node("broadcast_to", (0,), {"shape": (3, 2)}, (g,), (3, 2)),
        Node("max", (1,), {"axis": 0, "keepdims": False}, (g,), (2,)),
    )
    result = sg_vjp(Expression("tensor", nodes), [np.array([0.3, -0.2])], np.ones(2))
    assert result.margin < MARGIN  # three copies of each maximum: a tie


# ---------------------------------------------------------------------------------------
# The hypothesis strategy
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_strategy_shrinks_to_a_minimal_expression(engine: str) -> None:
    minimal = find(
        expressions(engine, max_nodes=6),
        lambda e: "exp" in e.ops(),
        settings=quick(max_examples=500),
    )
    assert minimal.ops() == ["exp"]
    assert len(minimal.nodes) == 2
    comment = "  # ()" if engine == "tensor" else ""
    assert repr(minimal) == (
        f"Expression({engine}, seed=0):\n    t0 = input()\n    t1 = exp(t0){comment}\n    -> t1"
    )


def test_a_failing_property_prints_the_minimal_expression() -> None:
    @quick(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
    @given(expressions("tensor", max_nodes=6))
    def no_exp(expr: Expression) -> None:
        assert "exp" not in expr.ops()

    with pytest.raises(AssertionError) as info:
        no_exp()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "t1 = exp(t0)" in notes
    assert "t2" not in notes


@quick(max_examples=60)
@given(expressions("tensor", max_nodes=5))
def test_strategy_expressions_evaluate_in_sg(expr: Expression) -> None:
    arrays, cotangent = expr.draw()
    result = sg_vjp(expr, arrays, cotangent)
    assert result.output.shape == expr.output.shape
    assert [g.shape for g in result.grads] == [a.shape for a in arrays]


@quick(max_examples=40)
@given(expressions("scalar", max_nodes=5, reference_only=True))
def test_strategy_respects_the_operator_set(expr: Expression) -> None:
    assert set(expr.ops()) <= set(REFERENCE_ONLY_OPS["scalar"])


def test_strategy_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="min_nodes"):
        expressions("tensor", max_nodes=0)
    with pytest.raises(ValueError, match="not operators"):
        generate(np.random.default_rng(0), "scalar", ops=["matmul"])
    with pytest.raises(ValueError, match="engine"):
        generate(np.random.default_rng(0), "complex")


# ---------------------------------------------------------------------------------------
# The result object (no torch needed to build one)
# ---------------------------------------------------------------------------------------
def test_parity_result_summary_and_json() -> None:
    result = ParityResult(
        engine="scalar",
        reference_only=False,
        seed=0,
        differences=np.array([0.0, 1e-16, 3e-16]),
        forward=np.array([0.0, 0.0, 1e-16]),
        op_counts={"add": 3, "exp": 1},
        op_worst={"add": 3e-16, "exp": 1e-16},
        worst_expression="Expression(scalar, seed=1):\n    t0 = input()",
        redrawn=1,
        nonfinite=0,
        seconds=0.5,
        nodes=4,
    )
    assert result.n == 3
    assert result.worst == 3e-16
    assert result.median == 1e-16
    data = json.loads(json.dumps(result.to_dict()))
    assert data["count"] == 3
    assert data["per_operator"]["add"] == {"nodes": 3, "worst": 3e-16}
    assert len(data["per_expression"]) == 3
    summary = result.summary()
    assert "3 expressions" in summary
    assert "exp" in summary
    assert "t0 = input()" in summary
