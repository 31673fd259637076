"""The float32 check: sg's float32 gradients against its own float64 ones (no PyTorch).

No false alarm on any registry spec or probe, and a rule that is right in float64 but
loses precision or overflows in float32 is caught, as is a gradient that is not float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sg_tensor
from sg_verify.float32 import float32_check
from sg_verify.probes import all_probes
from sg_verify.registry import OpSpec, all_specs


def spec(name: str) -> OpSpec:
    return next(s for s in all_specs() if s.engine == "tensor" and s.name == name)


def check(name: str, seed: int = 0) -> Any:
    one = spec(name)
    return float32_check(one, one.sample(np.random.default_rng(seed)), seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_false_alarm_on_any_spec_or_probe(seed: int) -> None:
    failed = []
    for one in all_specs() + all_probes("tensor"):
        result = float32_check(one, one.sample(np.random.default_rng(seed)), seed)
        assert result.oracle == "float32"
        assert result.spec == one.name
        if not result.passed:
            failed.append(f"{one.name}: {result.where} ({result.worst:.3g})")
    assert not failed, "\n".join(failed)


def test_a_scalar_spec_passes_trivially() -> None:
    one = next(s for s in all_specs() if s.engine == "scalar")
    result = float32_check(one, one.sample(np.random.default_rng(0)))
    assert result.passed
    assert result.worst == 0.0


def test_a_rule_computing_in_half_precision_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Right in float64 (float16 keeps 11 bits: the float64 checks see it too, but here
    the reference is sg's own float64 run, with no second implementation)."""
    original = sg_tensor.OPS["exp"].vjp

    def half(g: Any, out: Any, x: Any) -> tuple[Any]:
        (grad,) = original(g, out, x)
        return (grad.astype(np.float16) if grad.dtype == np.float32 else grad,)

    monkeypatch.setattr(sg_tensor.OPS["exp"], "vjp", half)
    result = check("exp[x.exp();3x4]")
    assert not result.passed
    assert result.worst > 1e-5
    assert result.where.startswith("input 0 element")


def test_a_rule_that_overflows_only_in_float32_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """sigmoid's gradient as exp(-x) / (1 + exp(-x))**2: fine in float64 at x = -100,
    nan in float32 (inf / inf)."""

    def naive(g: Any, out: Any, x: Any) -> tuple[Any]:
        e = np.exp(-x)
        return (g * e / (1 + e) ** 2,)

    monkeypatch.setattr(sg_tensor.OPS["sigmoid"], "vjp", naive)
    one = spec(next(s.name for s in all_specs() if s.engine == "tensor" and s.op == "sigmoid"))
    arrays = [np.full(np.shape(a), -100.0) for a in one.sample(np.random.default_rng(0))]
    assert not float32_check(one, arrays).passed
    monkeypatch.undo()
    assert float32_check(one, arrays).passed


def test_a_wrong_rule_is_not_hidden_by_its_own_float64_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check compares sg with itself: a rule wrong in both precisions passes it (the
    float64 oracles catch that); it sees what goes wrong in float32 only."""
    original = sg_tensor.OPS["exp"].vjp
    monkeypatch.setattr(
        sg_tensor.OPS["exp"], "vjp", lambda g, out, x: tuple(-a for a in original(g, out, x))
    )
    assert check("exp[x.exp();3x4]").passed
