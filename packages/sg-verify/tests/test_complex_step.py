"""The complex-step oracle: exact derivatives of analytic forwards, with no PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sg_tensor
from sg_verify.complex_step import (
    applies,
    complex_forward,
    complex_step_check,
    complex_step_gradients,
)
from sg_verify.probes import all_probes
from sg_verify.registry import OpSpec, all_specs, declarations


def spec(name: str) -> OpSpec:
    return next(s for s in all_specs() if s.engine == "tensor" and s.name == name)


@pytest.mark.parametrize("seed", [0, 1])
def test_no_false_alarm_on_any_spec_or_probe(seed: int) -> None:
    failed = []
    for one in all_specs() + all_probes("tensor"):
        result = complex_step_check(one, one.sample(np.random.default_rng(seed)), seed)
        assert result.oracle == "cs"
        if not result.passed:
            failed.append(f"{one.name}: {result.where} ({result.worst:.3g})")
    assert not failed, "\n".join(failed)


def test_it_applies_to_every_analytic_operator_and_to_nothing_else() -> None:
    analytic = {d.name for d in declarations("tensor") if d.analytic}
    assert {"exp", "tanh", "matmul", "softmax", "logsumexp", "prod", "getitem"} <= analytic
    applied = set()
    for one in all_specs():
        result = complex_step_check(one, one.sample(np.random.default_rng(0)))
        if applies(result):
            applied.add(one.op)
            assert result.worst <= 1e-13, one.name
    assert applied == analytic
    for name in ("abs[x.abs();3x4]", "relu[x.relu();3x4]"):  # not analytic: not applied
        assert complex_forward(spec(name), spec(name).sample(np.random.default_rng(0))) is None


def test_the_derivatives_are_exact_where_differences_lose_digits() -> None:
    x = np.array([0.5, 1.0, 30.0])
    (grad,) = complex_step_gradients(np.exp, [x], np.ones(3))
    np.testing.assert_array_max_ulp(grad, np.exp(x), maxulp=1)
    (grad,) = complex_step_gradients(lambda z: z**3 - 3 * z, [x], np.ones(3))
    np.testing.assert_allclose(grad, 3 * x**2 - 3, rtol=1e-15)


def test_a_relative_error_of_1e_10_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = sg_tensor.OPS["tanh"].vjp

    def slightly_off(g: Any, out: Any, x: Any) -> tuple[Any]:
        (grad,) = original(g, out, x)
        return (grad * (1 + 1e-10),)

    one = spec("tanh[x.tanh();3x4]")
    arrays = one.sample(np.random.default_rng(0))
    assert complex_step_check(one, arrays).passed
    monkeypatch.setattr(sg_tensor.OPS["tanh"], "vjp", slightly_off)
    result = complex_step_check(one, arrays)
    assert not result.passed
    assert 1e-11 < result.worst < 1e-9
