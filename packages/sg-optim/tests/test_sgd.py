"""SGD against hand-computed steps and an independent reference of PyTorch's algorithm."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from optim_helpers import (
    assert_trajectories_close,
    random_problem,
    ref_sgd,
    regression_reference,
    regression_run,
    run_with_grads,
)

import sg_tensor as st
from sg_optim import SGD

CONFIGS: list[dict[str, Any]] = [
    {"lr": 0.1},
    {"lr": 0.05, "weight_decay": 0.3},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.8, "dampening": 0.25},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.02, "momentum": 0.7, "dampening": 0.1, "weight_decay": 0.05},
    {"lr": 0.03, "momentum": 0.95, "weight_decay": 0.1, "nesterov": True},
]


def _ids(config: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in config.items())


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference_over_five_steps(config: dict[str, Any], seed: int) -> None:
    params0, grads = random_problem(seed)
    got = run_with_grads(lambda ps: SGD(ps, **config), params0, grads)
    assert_trajectories_close(got, ref_sgd(params0, grads, **config))


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_matches_reference_on_a_regression_trajectory(config: dict[str, Any]) -> None:
    """Gradients from backward() at the current point; the reference uses the analytic one."""
    got = regression_run(lambda ps: SGD(ps, **config), 6)
    assert_trajectories_close(got, regression_reference(ref_sgd, 6, **config), rtol=1e-11)


@given(
    lr=hs.floats(1e-4, 0.5),
    momentum=hs.floats(0.0, 0.99),
    dampening=hs.floats(0.0, 1.0),
    weight_decay=hs.floats(0.0, 0.5),
    nesterov=hs.booleans(),
    seed=hs.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_matches_reference_for_random_hyperparameters(
    lr: float, momentum: float, dampening: float, weight_decay: float, nesterov: bool, seed: int
) -> None:
    if nesterov:
        dampening = 0.0
        momentum = max(momentum, 0.1)
    config = {
        "lr": lr,
        "momentum": momentum,
        "dampening": dampening,
        "weight_decay": weight_decay,
        "nesterov": nesterov,
    }
    params0, grads = random_problem(seed)
    got = run_with_grads(lambda ps: SGD(ps, **config), params0, grads)
    assert_trajectories_close(got, ref_sgd(params0, grads, **config))


# -- exact numbers worked out by hand ---------------------------------------------------
def test_plain_step_on_a_quadratic() -> None:
    w = st.tensor([1.0, -2.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    (w * w).sum().backward()  # grad 2w = [2, -4]
    np.testing.assert_array_equal(w.grad, [2.0, -4.0])
    opt.step()
    np.testing.assert_allclose(w.data, [0.8, -1.6], rtol=1e-15)


def _constant_grad_steps(opt: SGD, w: st.Tensor, n: int, g: float = 1.0) -> list[float]:
    out = []
    for _ in range(n):
        w.grad = np.array([g])
        opt.step()
        out.append(float(w.data[0]))
    return out


def test_momentum_first_step_uses_the_gradient_then_accumulates() -> None:
    w = st.tensor([1.0], requires_grad=True)
    # buf1 = 1 -> w = 0.9; buf2 = 0.9 * 1 + 1 = 1.9 -> w = 0.71; buf3 = 2.71 -> w = 0.439
    got = _constant_grad_steps(SGD([w], lr=0.1, momentum=0.9), w, 3)
    np.testing.assert_allclose(got, [0.9, 0.71, 0.439], rtol=1e-14)


def test_dampening_scales_only_later_gradients() -> None:
    w = st.tensor([1.0], requires_grad=True)
    # buf1 = g = 1 (no dampening at the first step) -> 0.9; buf2 = 0.9 + 0.5 = 1.4 -> 0.76
    got = _constant_grad_steps(SGD([w], lr=0.1, momentum=0.9, dampening=0.5), w, 2)
    np.testing.assert_allclose(got, [0.9, 0.76], rtol=1e-14)


def test_nesterov_steps_with_g_plus_momentum_times_buffer() -> None:
    w = st.tensor([1.0], requires_grad=True)
    # step 1: buf = 1, update 1 + 0.9 * 1 = 1.9 -> 0.81
    # step 2: buf = 0.9 + 1 = 1.9, update 1 + 0.9 * 1.9 = 2.71 -> 0.539
    got = _constant_grad_steps(SGD([w], lr=0.1, momentum=0.9, nesterov=True), w, 2)
    np.testing.assert_allclose(got, [0.81, 0.539], rtol=1e-14)


def test_weight_decay_adds_l2_gradient() -> None:
    w = st.tensor([1.0, -4.0], requires_grad=True)
    opt = SGD([w], lr=0.1, weight_decay=0.5)
    w.grad = np.zeros(2)
    opt.step()  # g = 0 + 0.5 * w
    np.testing.assert_allclose(w.data, [0.95, -3.8], rtol=1e-15)
    w.grad = np.array([1.0, 1.0])
    opt.step()  # g = 1 + 0.5 * w = [1.475, -0.9]
    np.testing.assert_allclose(w.data, [0.95 - 0.1475, -3.8 + 0.09], rtol=1e-14)


def test_zero_lr_leaves_parameters_unchanged_but_builds_momentum() -> None:
    w = st.tensor([3.0], requires_grad=True)
    opt = SGD([w], lr=0.0, momentum=0.5)
    w.grad = np.array([2.0])
    opt.step()
    np.testing.assert_array_equal(w.data, [3.0])
    np.testing.assert_array_equal(opt.state[w]["momentum_buffer"], [2.0])


def test_momentum_buffer_does_not_alias_the_gradient() -> None:
    w = st.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.9)
    g = np.array([1.0, 1.0])
    w.grad = g
    opt.step()
    opt.step()  # buf = 0.9 + 1 = 1.9, in place on the buffer: g must be untouched
    np.testing.assert_array_equal(g, [1.0, 1.0])
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"], [1.9, 1.9], rtol=1e-15)
