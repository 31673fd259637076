"""RMSprop against hand-computed steps and an independent reference of PyTorch's algorithm."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from optim_helpers import (
    assert_trajectories_close,
    random_problem,
    ref_rmsprop,
    regression_reference,
    regression_run,
    run_with_grads,
)

import sg_tensor as st
from sg_optim import RMSprop

CONFIGS: list[dict[str, Any]] = [
    {"lr": 0.01},
    {"lr": 0.01, "alpha": 0.9, "eps": 1e-6},
    {"lr": 0.01, "weight_decay": 0.2},
    {"lr": 0.01, "centered": True},
    {"lr": 0.005, "momentum": 0.9},
    {"lr": 0.005, "alpha": 0.8, "momentum": 0.5, "centered": True},
    {"lr": 0.002, "alpha": 0.95, "eps": 1e-4, "weight_decay": 0.1, "momentum": 0.7},
    {"lr": 0.002, "alpha": 0.9, "weight_decay": 0.3, "momentum": 0.3, "centered": True},
]


def _ids(config: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in config.items())


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference_over_five_steps(config: dict[str, Any], seed: int) -> None:
    params0, grads = random_problem(seed)
    got = run_with_grads(lambda ps: RMSprop(ps, **config), params0, grads)
    assert_trajectories_close(got, ref_rmsprop(params0, grads, **config))


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_matches_reference_on_a_regression_trajectory(config: dict[str, Any]) -> None:
    got = regression_run(lambda ps: RMSprop(ps, **config), 6)
    assert_trajectories_close(got, regression_reference(ref_rmsprop, 6, **config), rtol=1e-11)


@given(
    lr=hs.floats(1e-4, 0.05),
    alpha=hs.floats(0.5, 0.999),
    eps=hs.floats(1e-10, 1e-2),
    weight_decay=hs.floats(0.0, 0.5),
    momentum=hs.one_of(hs.just(0.0), hs.floats(0.0, 0.95)),
    centered=hs.booleans(),
    seed=hs.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_matches_reference_for_random_hyperparameters(
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    seed: int,
) -> None:
    config = {
        "lr": lr,
        "alpha": alpha,
        "eps": eps,
        "weight_decay": weight_decay,
        "momentum": momentum,
        "centered": centered,
    }
    params0, grads = random_problem(seed)
    got = run_with_grads(lambda ps: RMSprop(ps, **config), params0, grads)
    assert_trajectories_close(got, ref_rmsprop(params0, grads, **config), rtol=1e-11)


# -- exact numbers worked out by hand ---------------------------------------------------
def test_first_step_by_hand() -> None:
    """g = 1, alpha = 0.99: square_avg = 0.01, sqrt = 0.1, step = lr * 1 / 0.1 = 10 lr."""
    w = st.tensor([1.0, -1.0], requires_grad=True)
    opt = RMSprop([w], lr=0.01, eps=0.0)
    w.grad = np.array([1.0, -3.0])  # the step does not depend on the gradient's scale
    opt.step()
    np.testing.assert_allclose(w.data, [0.9, -0.9], rtol=1e-14)
    np.testing.assert_allclose(opt.state[w]["square_avg"], [0.01, 0.09], rtol=1e-14)
    assert opt.state[w]["step"] == 1


def test_eps_is_added_after_the_square_root() -> None:
    """g = 1e-3, alpha = 0.99: sqrt(square_avg) = 1e-4; with eps = 1e-4 the step halves."""
    w = st.tensor([0.0], requires_grad=True)
    opt = RMSprop([w], lr=0.01, eps=1e-4)
    w.grad = np.array([1e-3])
    opt.step()
    np.testing.assert_allclose(w.data, [-0.01 * 1e-3 / (1e-4 + 1e-4)], rtol=1e-12)


def test_centered_first_step_by_hand() -> None:
    """square_avg = 0.01, grad_avg = 0.01, variance 0.01 - 1e-4 = 0.0099."""
    w = st.tensor([1.0], requires_grad=True)
    opt = RMSprop([w], lr=0.01, eps=0.0, centered=True)
    w.grad = np.array([1.0])
    opt.step()
    np.testing.assert_allclose(w.data, [1.0 - 0.01 / math.sqrt(0.0099)], rtol=1e-13)
    np.testing.assert_allclose(opt.state[w]["grad_avg"], [0.01], rtol=1e-14)


def test_momentum_accumulates_normalised_steps() -> None:
    """Constant g = 1, alpha = 0.5, eps = 0: square_avg 0.5, 0.75; buffer
    1 / sqrt(0.5), then 0.5 / sqrt(0.5) + 1 / sqrt(0.75)."""
    w = st.tensor([0.0], requires_grad=True)
    opt = RMSprop([w], lr=0.1, alpha=0.5, eps=0.0, momentum=0.5)
    w.grad = np.array([1.0])
    opt.step()
    b1 = 1 / math.sqrt(0.5)
    np.testing.assert_allclose(w.data, [-0.1 * b1], rtol=1e-14)
    opt.step()
    b2 = 0.5 * b1 + 1 / math.sqrt(0.75)
    np.testing.assert_allclose(w.data, [-0.1 * b1 - 0.1 * b2], rtol=1e-14)
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"], [b2], rtol=1e-14)


def test_weight_decay_adds_l2_gradient() -> None:
    """Zero loss gradient, w = 2, wd = 0.5: g = 1, and the first step is 10 lr."""
    w = st.tensor([2.0], requires_grad=True)
    opt = RMSprop([w], lr=0.01, eps=0.0, weight_decay=0.5)
    w.grad = np.array([0.0])
    opt.step()
    np.testing.assert_allclose(w.data, [1.9], rtol=1e-14)


def test_state_only_holds_what_the_options_need() -> None:
    w = st.tensor([1.0], requires_grad=True)
    plain = RMSprop([w], lr=0.01)
    w.grad = np.array([1.0])
    plain.step()
    assert set(plain.state[w]) == {"step", "square_avg"}
    full = RMSprop([w], lr=0.01, momentum=0.9, centered=True)
    full.step()
    assert set(full.state[w]) == {"step", "square_avg", "momentum_buffer", "grad_avg"}
