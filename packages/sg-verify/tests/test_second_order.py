"""Second-order oracles and ``gradgradcheck``: they pass on the real rules and catch a
rule that is right to first order but loses its graph on nodes (no torch needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_scalar import OPS as SCALAR_OPS
from sg_scalar import Value
from sg_tensor import OPS
from sg_tensor.op import data
from sg_verify import GradcheckError, gradcheck, gradgradcheck
from sg_verify.registry import all_specs
from sg_verify.second_order import (
    SecondOrderProblem,
    fd_check2,
    fd_second_order,
    sg_second_order,
)


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: f"{s.engine}:{s.name}")
def test_every_spec_passes_the_second_order_finite_difference_oracle(spec) -> None:
    result = fd_check2(spec, spec.sample(np.random.default_rng(0)))
    assert result.passed, f"{result.worst:.3g} at {result.where}"


def test_the_second_order_problem_differentiates_x_and_v() -> None:
    # f(x) = x**3 elementwise: g(x, v) = 3 x**2 v, phi = sum(3 x**2 v w)
    # d phi / dx = 6 x v w and d phi / dv = 3 x**2 w
    x = np.array([0.5, -1.0, 2.0])
    problem = SecondOrderProblem("tensor", lambda t: t**3, [x])
    v, (w,) = problem.cotangent, problem.weights
    d_x, d_v = sg_second_order(problem)
    np.testing.assert_allclose(d_x, 6 * x * v * w, rtol=1e-14)
    np.testing.assert_allclose(d_v, 3 * x**2 * w, rtol=1e-14)
    (fd_x, _), (fd_v, _) = fd_second_order(problem, eps=1e-6)
    np.testing.assert_allclose(fd_x, d_x, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fd_v, d_v, rtol=1e-7, atol=1e-9)


def test_linear_operators_have_zero_hessian_but_a_cotangent_derivative() -> None:
    problem = SecondOrderProblem("tensor", lambda a, b: a + b, [np.ones(3), np.ones(3)])
    d_a, d_b, d_v = sg_second_order(problem)
    assert not d_a.any()
    assert not d_b.any()
    np.testing.assert_array_equal(d_v, problem.weights[0] + problem.weights[1])


def test_gradgradcheck_passes_on_composites() -> None:
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    assert gradgradcheck(lambda x, w: (x @ w).tanh().logsumexp(axis=1), x, w)
    assert gradgradcheck(lambda x: x[np.array([0, 0, 2])].sigmoid() * x.sum(), x)
    assert gradgradcheck(lambda x: (x.gelu() * x.softplus()).var(axis=0), x)
    big = rng.standard_normal((12, 10))  # more than 64 elements: random directions
    assert gradgradcheck(lambda x: (x * x).sin().sum(axis=0), big)


def test_gradgradcheck_on_the_scalar_engine() -> None:
    assert gradgradcheck(lambda a, b: (a * b).tanh() + a.exp() / b, Value(0.3), Value(-1.2))


def _tanh_rule_on_raw_data(g: Any, out: Any, x: Any) -> tuple[Any]:
    """tanh's rule, right to first order, but reading the output's raw data."""
    return (g * (1 - data(out) * data(out)),)


def test_gradgradcheck_catches_a_rule_that_leaves_the_graph(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(OPS["tanh"], "vjp", _tanh_rule_on_raw_data)
    x = np.linspace(-1, 1, 5)
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(lambda x: x.tanh(), x)
    message = str(info.value)
    assert "second derivative with respect to input 0" in message
    assert "difference" in message
    assert gradgradcheck(lambda x: x.tanh(), x, raise_exception=False) is False
    # the first-order oracle cannot see it: the rule is right to first order
    spec = next(s for s in all_specs() if s.engine == "tensor" and s.op == "tanh")
    assert not fd_check2(spec, spec.sample(np.random.default_rng(0))).passed


def test_gradgradcheck_catches_a_wrong_scalar_second_derivative(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def sin_rule(g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * np.cos(float(data(x))),)  # a constant cos: d/dx of the rule is lost

    monkeypatch.setattr(SCALAR_OPS["sin"], "vjp", sin_rule)
    with pytest.raises(GradcheckError):
        gradgradcheck(lambda a: a.sin(), Value(0.7))


def test_gradgradcheck_accepts_tensors() -> None:
    assert gradgradcheck(lambda x: st.softmax(x, axis=0), st.tensor([0.1, 0.5, -0.3]))


def test_checks_take_torch_style_tuples_of_inputs() -> None:
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(3), rng.standard_normal((2, 3))
    assert gradgradcheck(lambda x, w: (w @ x).tanh(), (x, w))
    assert gradcheck(lambda x, w: (w @ x).tanh(), (st.tensor(x), st.tensor(w)))
    assert gradcheck(lambda a, b: a * b, [Value(0.5), Value(2.0)])
    assert gradcheck(lambda t: t.sin(), (0.5, 1.0))  # plain numbers: one input, an array
