"""The gradcheck properties (sg_verify.properties): no false alarm on the registry, and
each property catches the broken rule or driver it is there for. No PyTorch needed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sg_scalar
import sg_tensor
from sg_scalar import graph
from sg_tensor import Tensor
from sg_verify import complex_step, float32, lifecycle, properties
from sg_verify.oracles import OracleResult
from sg_verify.properties import (
    LINEARITY_TOL,
    Findings,
    bits_equal,
    coarsest,
    difference,
    linear_gap,
    linearity_tol,
    props_check,
    props_findings,
)
from sg_verify.registry import OpSpec, all_specs

SPECS = {(s.engine, s.name): s for s in all_specs()}


def spec(engine: str, name: str) -> OpSpec:
    return SPECS[(engine, name)]


def check(engine: str, name: str, seed: int = 0, **options: Any) -> OracleResult:
    one = spec(engine, name)
    return props_check(one, one.sample(np.random.default_rng(seed + 11)), seed, **options)


# ---------------------------------------------------------------------------------------
# The right engine passes everywhere
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_no_false_alarm_on_any_registry_spec(seed: int) -> None:
    failed = []
    for one in all_specs():
        result = props_check(one, one.sample(np.random.default_rng(seed + 11)), seed)
        assert result.oracle == "props"
        assert result.spec == one.name
        if not result.passed:
            failed.append(f"{one.engine}:{one.name}: {result.where} ({result.worst:.3g})")
    assert not failed, "\n".join(failed)


def test_a_passing_result_shows_the_measure_closest_to_its_tolerance() -> None:
    result = check("tensor", "matmul[a @ b;3x4|4x5]")
    assert result.passed
    assert 0.0 <= result.worst < LINEARITY_TOL * 1e-2
    assert "linearity" in result.where


def test_a_rule_handing_g_itself_to_both_inputs_is_not_a_bug() -> None:
    """add's rule gives the same array to both inputs; the leaves copy (no alias)."""
    g = np.ones((3, 4))
    ga, gb = sg_tensor.OPS["add"].vjp(g, g, g, g)
    assert ga is g
    assert gb is g
    assert check("tensor", "add[a + b;3x4|3x4]").passed


# ---------------------------------------------------------------------------------------
# Broken rules and drivers: each caught, by the property meant to catch it
# ---------------------------------------------------------------------------------------
def _exp(engine: str) -> sg_scalar.Op:
    return (sg_tensor.OPS if engine == "tensor" else sg_scalar.OPS)["exp"]


EXP = {"tensor": "exp[x.exp();3x4]", "scalar": "exp[x.exp();0d]"}


def test_leaves_sharing_one_gradient_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The leaf copy skipped: add's two leaves then hold one array."""

    def no_copy(self: Tensor, g: Any, stored: set[int]) -> None:
        self.grad = g if self.grad is None else self.grad + g

    monkeypatch.setattr(Tensor, "_accumulate_grad", no_copy)
    result = check("tensor", "add[a + b;3x4|3x4]")
    assert not result.passed
    assert result.worst == np.inf
    assert "no aliasing" in result.where
    assert "shares memory" in result.where


def test_a_rule_writing_into_g_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Right numbers, computed in place in the output gradient."""

    def in_place(g: Any, out: Any, x: Any) -> tuple[Any]:
        g *= out
        return (g,)

    monkeypatch.setattr(_exp("tensor"), "vjp", in_place)
    found = _findings("tensor", EXP["tensor"])
    assert any("does not write into g" in w for _, w in found.failures)
    # through the public API: grad() hands a Tensor grad_outputs' array to the rules
    assert any("grad_outputs given to grad()" in w for _, w in found.failures)


def test_a_rule_writing_into_its_inputs_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = sg_tensor.OPS["mul"].vjp

    def clobber(g: Any, out: Any, a: Any, b: Any, **ctx: Any) -> tuple[Any, ...]:
        grads = original(g, out, a, b, **ctx)
        b[...] = 0.0
        return tuple(grads)

    monkeypatch.setattr(sg_tensor.OPS["mul"], "vjp", clobber)
    result = check("tensor", "mul[a * b;3x4|3x4]")
    assert not result.passed
    found = _findings("tensor", "mul[a * b;3x4|3x4]")
    assert any("does not write into input 1" in w for _, w in found.failures)
    assert any("no mutation: input 1 data" in w for _, w in found.failures)


@pytest.mark.parametrize("engine", ["tensor", "scalar"])
def test_a_rule_computing_in_float32_is_caught(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def float32(g: Any, out: Any, x: Any) -> tuple[Any]:
        return (np.float32(g * out) if engine == "scalar" else (g * out).astype(np.float32),)

    monkeypatch.setattr(_exp(engine), "vjp", float32)
    found = _findings(engine, EXP[engine])
    assert any("precision" in w and "float32" in w for _, w in found.failures)
    if engine == "tensor":  # the fit casts it back: the lost bits show as nonlinearity
        assert any(w.startswith("linearity") and v > LINEARITY_TOL for v, w in found.failures)
    else:  # a float32 number reaches the Value's .grad
        assert any("dtype" in w for _, w in found.failures)


@pytest.mark.parametrize("engine", ["tensor", "scalar"])
def test_a_rule_not_linear_in_g_is_caught(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_exp(engine), "vjp", lambda g, out, x: (g * g * out,))
    found = _findings(engine, EXP[engine])
    assert any("linearity" in w and v > 1e-3 for v, w in found.failures)


@pytest.mark.parametrize("engine", ["tensor", "scalar"])
def test_a_nondeterministic_rule_is_caught(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Noise at the last bits: only bit-for-bit comparisons see it."""
    noise = np.random.default_rng(0)
    monkeypatch.setattr(
        _exp(engine), "vjp", lambda g, out, x: (g * out * (1 + 1e-15 * noise.standard_normal()),)
    )
    found = _findings(engine, EXP[engine])
    assert any("determinism" in w for _, w in found.failures)


def test_a_wrong_shortcut_for_inputs_not_requiring_grad_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """matmul's rule skips unneeded gradients: a slip there shows only in the subsets."""
    original = sg_tensor.OPS["matmul"].vjp

    def shortcut(g: Any, out: Any, a: Any, b: Any, needs_input_grad: Any) -> tuple[Any, ...]:
        grads = original(g, out, a, b, needs_input_grad=needs_input_grad)
        scale = 1.0 if all(needs_input_grad) else 2.0
        return tuple(None if x is None else scale * x for x in grads)

    monkeypatch.setattr(sg_tensor.OPS["matmul"], "vjp", shortcut)
    found = _findings("tensor", "matmul[a @ b;3x4|4x5]")
    assert found.failures
    assert all(w.startswith("requires grad") for _, w in found.failures)


@pytest.mark.parametrize(
    ("engine", "name"), [("tensor", "mul[a * b;3x4|3x4]"), ("scalar", "mul[a * b;0d|0d]")]
)
def test_one_leaf_for_two_inputs_catches_assignment_for_accumulation(
    engine: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """f(x, x): the driver must add the two inputs' gradients."""
    monkeypatch.setattr(graph, "accumulate", lambda previous, gradient: gradient)
    found = _findings(engine, name)
    assert any(w.startswith("one leaf for inputs 0 and 1") for _, w in found.failures)


def test_create_graph_aliasing_is_checked() -> None:
    """backward(V, create_graph=True) with V requiring grad: a leaf's .grad is a new node,
    never V itself or a view of it (PyTorch clones there), and a leaf keeping V is caught."""
    assert check("tensor", "exp[x.exp();3x4]").passed
    assert check("tensor", "add[a + b;3x4|3x4]").passed
    assert check("tensor", "reshape[x.reshape();shape=(4, 6);2x3x4]").passed


def test_a_leaf_keeping_the_callers_gradient_node_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = Tensor._accumulate_grad

    def keep(self: Tensor, g: Any, stored: set[int]) -> None:
        if isinstance(g, Tensor) and self.grad is None:
            self.grad = g  # the aliasing PyTorch avoids by cloning
            return
        original(self, g, stored)

    monkeypatch.setattr(Tensor, "_accumulate_grad", keep)
    result = check("tensor", "add[a + b;3x4|3x4]")
    assert not result.passed
    assert "backward(create_graph=True)" in result.where


def test_the_create_graph_aliasing_fix() -> None:
    x = sg_tensor.tensor(np.ones(3), requires_grad=True)
    v = sg_tensor.tensor(np.arange(3.0), requires_grad=True)
    (x + 0.0).backward(v, create_graph=True)
    assert x.grad is not v
    assert not np.shares_memory(x.grad.data, v.data)
    y = sg_tensor.tensor(np.ones((2, 3)), requires_grad=True)
    w = sg_tensor.tensor(np.arange(6.0), requires_grad=True)
    y.reshape(6).backward(w, create_graph=True)
    assert not np.shares_memory(y.grad.data, w.data)
    # still the same values, and still differentiable with respect to the seed
    np.testing.assert_array_equal(y.grad.data, np.arange(6.0).reshape(2, 3))
    assert y.grad.requires_grad


def _findings(engine: str, name: str, seed: int = 0) -> Findings:
    """Every failure of props_check, not just the worst."""
    one = spec(engine, name)
    return props_findings(one, one.sample(np.random.default_rng(seed + 11)), seed)


# ---------------------------------------------------------------------------------------
# The measures
# ---------------------------------------------------------------------------------------
def test_bits_and_difference() -> None:
    assert bits_equal(None, None)
    assert not bits_equal(None, np.zeros(1))
    assert bits_equal(np.array([1.0, np.nan]), np.array([1.0, np.nan]))
    assert not bits_equal(np.array(0.0), np.array(-0.0))
    assert difference(np.array(-0.0), np.array(0.0)) == 0.0
    assert difference(np.array(-0.0), np.array(0.0), bits=True) == np.inf
    assert difference(np.ones(2), np.ones(3)) == np.inf
    assert difference(np.ones(2, np.float32), np.ones(2)) == np.inf
    assert difference(np.array([4.0]), np.array([2.0])) == pytest.approx(1.0)


def test_linear_gap() -> None:
    g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    assert linear_gap(2 * g1 - 3 * g2, g1, g2, 2.0, -3.0) == 0.0
    assert linear_gap((2 * g1 - 3 * g2) ** 2, g1, g2, 2.0, -3.0) > 1.0
    assert linear_gap(None, None, None, 1.0, 1.0) == 0.0
    assert linear_gap(np.ones(3), np.ones(2), np.ones(2), 1.0, 1.0) == np.inf
    # not finite where the parts are finite: a failure; not finite in the parts: left out
    assert linear_gap(np.array([np.inf, 1.0]), np.ones(2), np.zeros(2), 1.0, 1.0) == np.inf
    assert linear_gap(np.array([np.nan, 1.0]), np.array([np.inf, 1.0]), np.zeros(2), 1, 1) == 0


def test_tolerances_follow_the_coarsest_dtype() -> None:
    assert linearity_tol(np.float64) == LINEARITY_TOL
    assert 1e-4 < linearity_tol(np.float32) < 1e-3
    assert coarsest(np.float64, np.float32) == np.float32
    assert coarsest(np.int64, np.float64) == np.float64
    assert lifecycle.second_order_tol(np.float64) == lifecycle.SECOND_ORDER_TOL


def test_findings_report_the_worst_failure_and_count_the_rest() -> None:
    found = Findings("props", "demo")
    found.measure("small", 1e-15, 1e-12)
    assert found.result().passed
    assert found.result().where == "small"
    found.measure("over", 1e-9, 1e-12)
    found.require("outright", False, "why")
    found.measure("nan", float("nan"), 1.0)
    result = found.result()
    assert not result.passed
    assert result.worst == np.inf
    assert result.where.startswith("outright: why")
    assert "(and 2 more failures)" in result.where
    with found.guard("group"):
        int("boom")  # a ValueError: guard records it as the group's failure
    assert any(w.startswith("group: raised ValueError: invalid") for _, w in found.failures)


# ---------------------------------------------------------------------------------------
# No PyTorch
# ---------------------------------------------------------------------------------------
SOURCES = [
    Path(properties.__file__),
    Path(lifecycle.__file__),
    Path(float32.__file__),
    Path(complex_step.__file__),
]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_the_modules_import_no_torch(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert not {m for m in imported if m.split(".")[0] == "torch" or m == "sg_verify.pytorch"}


def test_the_self_checks_run_with_torch_missing() -> None:
    """In a fresh interpreter where ``import torch`` fails."""
    code = """
import sys
sys.modules["torch"] = None  # import torch raises ImportError
import numpy as np
from sg_verify.complex_step import complex_step_check
from sg_verify.float32 import float32_check
from sg_verify.lifecycle import lifecycle_check
from sg_verify.properties import props_check
from sg_verify.registry import all_specs
for spec in all_specs()[::40]:
    arrays = spec.sample(np.random.default_rng(0))
    for check in (props_check, lifecycle_check, float32_check, complex_step_check):
        assert check(spec, arrays, 0).passed, spec.name
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
