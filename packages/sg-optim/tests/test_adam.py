"""Adam (with amsgrad) and AdamW against hand-computed steps and an independent reference."""

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
    ref_adam,
    regression_reference,
    regression_run,
    run_with_grads,
)

import sg_tensor as st
from sg_optim import Adam, AdamW

ADAM_CONFIGS: list[dict[str, Any]] = [
    {"lr": 0.1},
    {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6},
    {"lr": 0.05, "weight_decay": 0.2},
    {"lr": 0.05, "amsgrad": True},
    {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3, "weight_decay": 0.1, "amsgrad": True},
    {"lr": 0.1, "betas": (0.0, 0.5)},
]
ADAMW_CONFIGS: list[dict[str, Any]] = [
    {"lr": 0.1},  # the default weight_decay 1e-2
    {"lr": 0.05, "weight_decay": 0.3},
    {"lr": 0.02, "betas": (0.7, 0.95), "eps": 1e-4, "weight_decay": 0.5, "amsgrad": True},
    {"lr": 0.1, "weight_decay": 0.0},
]


def _ids(config: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in config.items())


def _adamw_ref(config: dict[str, Any]) -> dict[str, Any]:
    return {"weight_decay": 1e-2, **config, "decoupled": True}


@pytest.mark.parametrize("config", ADAM_CONFIGS, ids=_ids)
@pytest.mark.parametrize("seed", [0, 1])
def test_adam_matches_reference_over_five_steps(config: dict[str, Any], seed: int) -> None:
    params0, grads = random_problem(seed)
    got = run_with_grads(lambda ps: Adam(ps, **config), params0, grads)
    assert_trajectories_close(got, ref_adam(params0, grads, **config))


@pytest.mark.parametrize("config", ADAMW_CONFIGS, ids=_ids)
@pytest.mark.parametrize("seed", [0, 1])
def test_adamw_matches_reference_over_five_steps(config: dict[str, Any], seed: int) -> None:
    params0, grads = random_problem(seed)
    got = run_with_grads(lambda ps: AdamW(ps, **config), params0, grads)
    assert_trajectories_close(got, ref_adam(params0, grads, **_adamw_ref(config)))


@pytest.mark.parametrize("config", ADAM_CONFIGS[:5], ids=_ids)
def test_adam_matches_reference_on_a_regression_trajectory(config: dict[str, Any]) -> None:
    got = regression_run(lambda ps: Adam(ps, **config), 6)
    assert_trajectories_close(got, regression_reference(ref_adam, 6, **config), rtol=1e-11)


@pytest.mark.parametrize("config", ADAMW_CONFIGS[1:3], ids=_ids)
def test_adamw_matches_reference_on_a_regression_trajectory(config: dict[str, Any]) -> None:
    got = regression_run(lambda ps: AdamW(ps, **config), 6)
    want = regression_reference(ref_adam, 6, **_adamw_ref(config))
    assert_trajectories_close(got, want, rtol=1e-11)


@given(
    lr=hs.floats(1e-4, 0.3),
    beta1=hs.floats(0.0, 0.99),
    beta2=hs.floats(0.0, 0.9999),
    eps=hs.floats(1e-10, 1e-2),
    weight_decay=hs.floats(0.0, 0.5),
    amsgrad=hs.booleans(),
    decoupled=hs.booleans(),
    seed=hs.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_matches_reference_for_random_hyperparameters(
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    decoupled: bool,
    seed: int,
) -> None:
    config = {
        "lr": lr,
        "betas": (beta1, beta2),
        "eps": eps,
        "weight_decay": weight_decay,
        "amsgrad": amsgrad,
    }
    params0, grads = random_problem(seed)
    cls = AdamW if decoupled else Adam
    got = run_with_grads(lambda ps: cls(ps, **config), params0, grads)
    assert_trajectories_close(got, ref_adam(params0, grads, **config, decoupled=decoupled))


# -- exact numbers worked out by hand ---------------------------------------------------
def test_first_step_moves_each_coordinate_by_about_lr() -> None:
    """At t = 1, m_hat = g and v_hat = g**2, so the step is lr * g / (|g| + eps)."""
    w = st.tensor([1.0, -2.0, 300.0], requires_grad=True)
    opt = Adam([w], lr=0.1)
    (w * w).sum().backward()  # g = [2, -4, 600]
    opt.step()
    g = np.array([2.0, -4.0, 600.0])
    np.testing.assert_allclose(w.data, [1.0, -2.0, 300.0] - 0.1 * g / (np.abs(g) + 1e-8), 1e-14)
    np.testing.assert_allclose(w.data, [0.9, -1.9, 299.9], rtol=1e-8)


def test_first_step_with_zero_eps_is_exactly_lr_times_sign() -> None:
    w = st.tensor([1.0, -2.0], requires_grad=True)
    opt = Adam([w], lr=0.1, eps=0.0)
    w.grad = np.array([0.5, -1e6])
    opt.step()
    np.testing.assert_allclose(w.data, [0.9, -1.9], rtol=1e-15)


def test_eps_is_added_outside_the_square_root() -> None:
    """With g = 1e-4 and eps = 1e-4 at t = 1: step = lr * g / (g + eps) = lr / 2.

    Inside the root (sqrt(g**2 + eps)) the step would be about lr * 1e-2.
    """
    w = st.tensor([0.0], requires_grad=True)
    opt = Adam([w], lr=0.1, eps=1e-4)
    w.grad = np.array([1e-4])
    opt.step()
    np.testing.assert_allclose(w.data, [-0.05], rtol=1e-12)


def test_second_step_bias_correction_by_hand() -> None:
    """g1 = 1, g2 = -1, betas (0.9, 0.999), eps 0, lr 1.

    m2 = 0.9 * 0.1 - 0.1 = -0.01, m_hat = -0.01 / 0.19; v2 = 0.001 * 0.999 + 0.001
    = 0.001999, v_hat = 0.001999 / (1 - 0.999**2) = 1, so the second update is
    + 0.01 / 0.19.
    """
    w = st.tensor([0.0], requires_grad=True)
    opt = Adam([w], lr=1.0, eps=0.0)
    w.grad = np.array([1.0])
    opt.step()
    np.testing.assert_allclose(w.data, [-1.0], rtol=1e-14)
    w.grad = np.array([-1.0])
    opt.step()
    np.testing.assert_allclose(w.data, [-1.0 + 0.01 / 0.19], rtol=1e-12)


def test_amsgrad_uses_the_running_maximum_of_v() -> None:
    """A large then a tiny gradient: amsgrad keeps dividing by the large v."""
    lr, beta1, beta2 = 1.0, 0.0, 0.5  # beta1 = 0: m = g, making the arithmetic plain
    w_plain = st.tensor([0.0], requires_grad=True)
    w_ams = st.tensor([0.0], requires_grad=True)
    plain = Adam([w_plain], lr=lr, betas=(beta1, beta2), eps=0.0)
    ams = Adam([w_ams], lr=lr, betas=(beta1, beta2), eps=0.0, amsgrad=True)
    for g in (4.0, 0.0, 1.0):
        w_plain.grad = np.array([g])
        w_ams.grad = np.array([g])
        plain.step()
        ams.step()
    # v: 8, 4, 2.5 -> max 8, 8, 8; bias corrections 0.5, 0.75, 0.875
    # step 3: plain 1 / sqrt(2.5 / 0.875), amsgrad 1 / sqrt(8 / 0.875)
    first = -4.0 / math.sqrt(8 / 0.5)
    np.testing.assert_allclose(w_plain.data, [first - 1 / math.sqrt(2.5 / 0.875)], rtol=1e-13)
    np.testing.assert_allclose(w_ams.data, [first - 1 / math.sqrt(8 / 0.875)], rtol=1e-13)
    np.testing.assert_allclose(ams.state[w_ams]["max_exp_avg_sq"], [8.0], rtol=1e-15)
    np.testing.assert_allclose(ams.state[w_ams]["exp_avg_sq"], [2.5], rtol=1e-15)
    assert ams.state[w_ams]["step"] == 3


def test_adam_weight_decay_is_l2_on_the_gradient() -> None:
    """Zero loss gradient: Adam's g = wd * w, and the first step still moves by about lr."""
    w = st.tensor([1.0], requires_grad=True)
    opt = Adam([w], lr=0.1, weight_decay=0.5)
    w.grad = np.array([0.0])
    opt.step()
    np.testing.assert_allclose(w.data, [1.0 - 0.1 * 0.5 / (0.5 + 1e-8)], rtol=1e-14)


def test_adamw_decays_the_weights_directly() -> None:
    """Zero loss gradient: AdamW only shrinks, w <- w * (1 - lr * wd)."""
    w = st.tensor([1.0, -2.0], requires_grad=True)
    opt = AdamW([w], lr=0.1, weight_decay=0.5)
    w.grad = np.zeros(2)
    opt.step()
    np.testing.assert_allclose(w.data, [0.95, -1.9], rtol=1e-15)


def test_adamw_decays_before_the_adam_step() -> None:
    w = st.tensor([2.0], requires_grad=True)
    opt = AdamW([w], lr=0.1, weight_decay=0.5, eps=0.0)
    w.grad = np.array([3.0])
    opt.step()  # 2 * 0.95 - 0.1 * sign(3)
    np.testing.assert_allclose(w.data, [1.8], rtol=1e-14)


def test_adamw_default_weight_decay_is_one_hundredth() -> None:
    w = st.tensor([1.0], requires_grad=True)
    assert AdamW([w]).param_groups[0]["weight_decay"] == 1e-2
    assert Adam([w]).param_groups[0]["weight_decay"] == 0.0
    assert AdamW([w]).param_groups[0]["lr"] == 1e-3
    assert Adam([w]).param_groups[0]["betas"] == (0.9, 0.999)


def test_state_holds_step_and_moments() -> None:
    w = st.tensor([1.0, 2.0], requires_grad=True)
    opt = Adam([w], lr=0.1, betas=(0.5, 0.75))
    w.grad = np.array([2.0, -2.0])
    opt.step()
    state = opt.state[w]
    assert state["step"] == 1
    np.testing.assert_allclose(state["exp_avg"], [1.0, -1.0], rtol=1e-15)
    np.testing.assert_allclose(state["exp_avg_sq"], [1.0, 1.0], rtol=1e-15)
    assert "max_exp_avg_sq" not in state
