"""Graph lifecycle through the real driver (sg_verify.lifecycle): no false alarm on the
registry, and each property catches the broken driver or rule it is there for."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sg_scalar
import sg_tensor
from sg_scalar import Value, graph
from sg_tensor import Tensor
from sg_verify.lifecycle import (
    RuleFailedError,
    failing_inputs,
    lifecycle_check,
    lifecycle_findings,
)
from sg_verify.properties import Findings
from sg_verify.registry import OpSpec, all_specs

SPECS = {(s.engine, s.name): s for s in all_specs()}
EXP = {"tensor": "exp[x.exp();3x4]", "scalar": "exp[x.exp();0d]"}
MUL = {"tensor": "mul[a * b;3x4|3x4]", "scalar": "mul[a * b;0d|0d]"}
ENGINES = ["tensor", "scalar"]


def spec(engine: str, name: str) -> OpSpec:
    return SPECS[(engine, name)]


def findings(engine: str, name: str, seed: int = 0) -> Findings:
    one = spec(engine, name)
    return lifecycle_findings(one, one.sample(np.random.default_rng(seed + 5)), seed)


def failed(found: Findings, text: str) -> bool:
    return any(text in where for _, where in found.failures)


@pytest.mark.parametrize("seed", [0, 1])
def test_no_false_alarm_on_any_registry_spec(seed: int) -> None:
    bad = []
    for one in all_specs():
        result = lifecycle_check(one, one.sample(np.random.default_rng(seed + 5)), seed)
        assert result.oracle == "lifecycle"
        if not result.passed:
            bad.append(f"{one.engine}:{one.name}: {result.where} ({result.worst:.3g})")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("engine", ENGINES)
def test_every_property_is_measured(engine: str) -> None:
    """A passing check did run every group: none is skipped silently."""
    found = findings(engine, MUL[engine])
    assert not found.failures
    assert found.checked > 40


# ---------------------------------------------------------------------------------------
# Broken drivers and rules
# ---------------------------------------------------------------------------------------
def _assign_tensor(self: Tensor, g: Any, stored: set[int]) -> None:
    self.grad = np.array(g, dtype=self.data.dtype)


def _assign_value(self: Value, g: Any, stored: set[int]) -> None:
    self.grad = g


@pytest.mark.parametrize("engine", ENGINES)
def test_leaves_not_accumulating_across_passes_are_caught(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    node_type, assign = (Tensor, _assign_tensor) if engine == "tensor" else (Value, _assign_value)
    monkeypatch.setattr(node_type, "_accumulate_grad", assign)
    found = findings(engine, EXP[engine])
    assert failed(found, "repeated passes: retain_graph twice accumulates")
    assert failed(found, "repeated passes: third pass accumulates")


def _walk_without_cleanup(
    order: Any,
    retains: Any,
    fit: Any,
    retain_graph: bool,
    create_graph: bool,
    captured: Any,
    ends: Any = frozenset(),
) -> None:
    """_propagate without its clean-up: a failure leaves the half-summed gradients."""
    with graph.set_grad_enabled(True if create_graph else graph.is_grad_enabled()):
        graph._walk(order, retains, fit, retain_graph, create_graph, captured, ends)


@pytest.mark.parametrize("engine", ENGINES)
def test_pending_gradients_left_after_a_failure_are_caught(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph, "_propagate", _walk_without_cleanup)
    found = findings(engine, MUL[engine])
    assert failed(found, "rule raising mid-pass (backward()): every _pending slot cleared")
    # and the next pass over the same leaves picks the leftovers up
    assert failed(found, "rule raising mid-pass (backward()): a clean pass after it")
    # grad() clears the slots itself (its own finally): only backward() is broken
    assert not failed(found, "(grad()): every _pending slot cleared")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_driver_that_never_frees_the_graph_is_caught(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = graph._propagate

    def retaining(order: Any, retains: Any, fit: Any, retain_graph: bool, *rest: Any) -> None:
        original(order, retains, fit, True, *rest)

    monkeypatch.setattr(graph, "_propagate", retaining)
    found = findings(engine, EXP[engine])
    assert failed(found, "released graph: fourth pass: no GraphReleasedError")
    assert failed(found, "freed graph: node 1 (exp) released")
    assert failed(found, "freed graph: node 1 (exp) refers to no node")
    assert failed(found, "freed graph: the intermediate nodes are gone")


@pytest.mark.parametrize("engine", ENGINES)
def test_one_output_twice_needs_the_seeds_added(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """grad([y, y], x, [v1, v2]): the two seeds of one output combine through accumulate."""
    monkeypatch.setattr(graph, "accumulate", lambda previous, gradient: gradient)
    found = findings(engine, EXP[engine])
    assert failed(found, "grad() of one output twice: input 0")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_second_derivative_lost_in_one_input_is_caught(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mul's rule with ``b`` detached on nodes: the first order is right, the Hessian of
    ``<a * b, v>`` loses one of its two symmetric blocks."""
    table = sg_tensor.OPS if engine == "tensor" else sg_scalar.OPS
    original = table["mul"].vjp
    node_type = Tensor if engine == "tensor" else Value

    def detached(g: Any, out: Any, a: Any, b: Any, **ctx: Any) -> tuple[Any, ...]:
        ga, gb = original(g, out, a, b, **ctx)
        if isinstance(b, node_type):
            ga = g * b.detach()
        return ga, gb

    monkeypatch.setattr(table["mul"], "vjp", detached)
    found = findings(engine, MUL[engine])
    assert failed(found, "second order: Hessian symmetry")


def test_a_rule_not_linear_in_g_breaks_the_euler_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """exp's rule computing ``g * g * out``: <dS/dV, V> = 2 S, not S."""
    monkeypatch.setattr(sg_tensor.OPS["exp"], "vjp", lambda g, out, x: (g * g * out,))
    found = findings("tensor", EXP["tensor"])
    assert failed(found, "second order: Euler")


def test_an_operator_refusing_create_graph_is_accepted_only_where_declared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sg_tensor.OPS["exp"], "twice_differentiable", False)
    assert not findings("tensor", EXP["tensor"]).failures
    # a rule stepping off the graph (raw data) where it is declared twice differentiable:
    # the driver refuses it, and that is a failure
    monkeypatch.setattr(sg_tensor.OPS["exp"], "twice_differentiable", True)
    monkeypatch.setattr(
        sg_tensor.OPS["exp"],
        "vjp",
        lambda g, out, x: (
            np.asarray(getattr(g, "data", g)) * np.asarray(getattr(out, "data", out)),
        ),
    )
    found = findings("tensor", EXP["tensor"])
    assert failed(found, "second order: raised NotTwiceDifferentiableError")


def test_a_lost_diagonal_second_derivative_is_a_blind_spot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """exp's rule with ``out`` as a constant on nodes: the Hessian (diagonal) is wrong but
    symmetric, so self-consistency passes; the FD and PyTorch second-order oracles see it."""
    monkeypatch.setattr(
        sg_tensor.OPS["exp"],
        "vjp",
        lambda g, out, x: (g * np.asarray(getattr(out, "data", out)),),
    )
    assert not findings("tensor", EXP["tensor"]).failures


# ---------------------------------------------------------------------------------------
# The failing node
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_the_failing_nodes_raise_after_the_spec_rules_with_a_gradient_pending(
    engine: str,
) -> None:
    xs: list[Any]
    if engine == "tensor":
        xs = [sg_tensor.tensor(np.full(3, 2.0), requires_grad=True) for _ in range(2)]
    else:
        xs = [Value(2.0), Value(3.0)]
    inputs = failing_inputs(engine, xs)
    assert [float(np.sum(m.data)) for m in inputs] == [float(np.sum(x.data)) for x in xs]
    out = inputs[0] * inputs[1]
    with pytest.raises(RuleFailedError, match="after the others: True"):
        out.backward(np.ones(3) if engine == "tensor" else 1.0)
    assert all(n._pending is None for n in graph.topological_order(out))
    assert all(x.grad is None if engine == "tensor" else x.grad == 0.0 for x in xs)
