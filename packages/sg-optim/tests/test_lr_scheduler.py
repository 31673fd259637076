"""StepLR, CosineAnnealingLR and LinearLR against their closed forms."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from optim_helpers import cosine_closed_form

import sg_tensor as st
from sg_optim import SGD, Adam, CosineAnnealingLR, LinearLR, LRScheduler, Optimizer, StepLR


def _opt(*lrs: float) -> Optimizer:
    groups = [{"params": [st.tensor([1.0], requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, lr=lrs[0])


def _schedule(sched: LRScheduler, n: int) -> list[list[float]]:
    """The rates at epochs 0..n."""
    out = [sched.get_last_lr()]
    for _ in range(n):
        sched.step()
        out.append(sched.get_last_lr())
    return out


# -- StepLR -----------------------------------------------------------------------------
def test_step_lr_exact_values() -> None:
    opt = _opt(1.0)
    got = [lrs[0] for lrs in _schedule(StepLR(opt, step_size=3, gamma=0.5), 9)]
    assert got == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]


def test_step_lr_default_gamma_is_a_tenth() -> None:
    opt = _opt(0.1)
    got = [lrs[0] for lrs in _schedule(StepLR(opt, step_size=2), 4)]
    assert got == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001], rel=1e-15)


@given(
    lr0=hs.floats(1e-6, 10.0),
    gamma=hs.floats(0.0, 1.0),
    step_size=hs.integers(1, 7),
    n=hs.integers(0, 30),
)
@settings(max_examples=50, deadline=None)
def test_step_lr_closed_form(lr0: float, gamma: float, step_size: int, n: int) -> None:
    opt = _opt(lr0)
    for t, lrs in enumerate(_schedule(StepLR(opt, step_size=step_size, gamma=gamma), n)):
        assert lrs[0] == pytest.approx(lr0 * gamma ** (t // step_size), rel=1e-14, abs=0)


# -- CosineAnnealingLR ------------------------------------------------------------------
def test_cosine_known_values() -> None:
    opt = _opt(0.1)
    got = [lrs[0] for lrs in _schedule(CosineAnnealingLR(opt, T_max=10, eta_min=0.01), 10)]
    assert got[0] == 0.1
    assert got[5] == pytest.approx(0.055, rel=1e-14)  # the midpoint of 0.1 and 0.01
    assert got[10] == 0.01  # cos(pi) = -1 exactly: eta_min exactly
    assert all(a > b for a, b in zip(got, got[1:]))  # strictly decreasing
    # symmetric around the midpoint
    for t in range(11):
        assert got[t] - 0.055 == pytest.approx(0.055 - got[10 - t], abs=1e-15)


def test_cosine_default_eta_min_is_zero() -> None:
    opt = _opt(2.0)
    got = [lrs[0] for lrs in _schedule(CosineAnnealingLR(opt, T_max=4), 4)]
    assert got[2] == pytest.approx(1.0, rel=1e-15)
    assert got[1] == pytest.approx(1 + math.sqrt(0.5), rel=1e-15)
    assert got[4] == 0.0


@given(
    lr0=hs.floats(1e-6, 10.0),
    eta_min=hs.floats(0.0, 1e-3),
    t_max=hs.integers(1, 50),
    n=hs.integers(0, 60),
)
@settings(max_examples=50, deadline=None)
def test_cosine_closed_form(lr0: float, eta_min: float, t_max: int, n: int) -> None:
    opt = _opt(lr0)
    sched = CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
    for t, lrs in enumerate(_schedule(sched, n)):
        want = cosine_closed_form(lr0, eta_min, t, t_max)
        assert lrs[0] == pytest.approx(want, rel=1e-13, abs=1e-14 * lr0)


# -- LinearLR ---------------------------------------------------------------------------
def test_linear_default_warms_up_from_a_third_to_one_over_five_epochs() -> None:
    opt = _opt(0.3)
    got = [lrs[0] for lrs in _schedule(LinearLR(opt), 8)]
    want = [0.3 * (1 / 3 + (2 / 3) * min(t, 5) / 5) for t in range(9)]
    assert got == pytest.approx(want, rel=1e-15)
    assert got[0] == pytest.approx(0.1, rel=1e-15)
    assert got[5:] == pytest.approx([0.3] * 4, rel=1e-15)


def test_linear_decay_to_zero() -> None:
    opt = _opt(1.0)
    got = [lrs[0] for lrs in _schedule(LinearLR(opt, 1.0, 0.0, total_iters=4), 6)]
    assert got == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0], abs=1e-16)


@given(
    lr0=hs.floats(1e-6, 10.0),
    start=hs.floats(1e-3, 1.0),
    end=hs.floats(0.0, 1.0),
    total=hs.integers(1, 20),
    n=hs.integers(0, 30),
)
@settings(max_examples=50, deadline=None)
def test_linear_closed_form(lr0: float, start: float, end: float, total: int, n: int) -> None:
    opt = _opt(lr0)
    sched = LinearLR(opt, start_factor=start, end_factor=end, total_iters=total)
    for t, lrs in enumerate(_schedule(sched, n)):
        want = lr0 * (start + (end - start) * min(t, total) / total)
        assert lrs[0] == pytest.approx(want, rel=1e-13, abs=1e-14 * lr0)


# -- common behaviour -------------------------------------------------------------------
def test_groups_with_different_base_lrs_follow_their_own_schedule() -> None:
    opt = _opt(1.0, 0.1, 0.02)
    sched = CosineAnnealingLR(opt, T_max=6, eta_min=0.001)
    assert sched.base_lrs == [1.0, 0.1, 0.02]
    history = _schedule(sched, 8)
    for t, lrs in enumerate(history):
        assert lrs == pytest.approx(
            [cosine_closed_form(b, 0.001, t, 6) for b in (1.0, 0.1, 0.02)], rel=1e-14
        )
    assert history[-1] == [g["lr"] for g in opt.param_groups]
    assert history[6] == pytest.approx([0.001] * 3, rel=1e-15)


def test_step_lr_with_groups() -> None:
    opt = _opt(1.0, 0.5)
    sched = StepLR(opt, step_size=2, gamma=0.1)
    got = _schedule(sched, 4)
    assert got == [
        [1.0, 0.5],
        [1.0, 0.5],
        pytest.approx([0.1, 0.05], rel=1e-15),
        pytest.approx([0.1, 0.05], rel=1e-15),
        pytest.approx([0.01, 0.005], rel=1e-15),
    ]


def test_get_last_lr_is_a_list_of_the_groups_rates() -> None:
    opt = _opt(0.4, 0.2)
    sched = LinearLR(opt, start_factor=0.5, total_iters=2)
    lrs = sched.get_last_lr()
    assert isinstance(lrs, list)
    assert lrs == pytest.approx([0.2, 0.1], rel=1e-15)
    assert opt.param_groups[0]["lr"] == lrs[0]
    assert sched.last_epoch == 0
    sched.step()
    assert sched.last_epoch == 1
    assert sched.get_last_lr() == pytest.approx([0.3, 0.15], rel=1e-15)


def test_the_scheduled_rate_drives_the_optimizer() -> None:
    w = st.tensor([1.0], requires_grad=True)
    opt = SGD([w], lr=1.0)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    for lr in (1.0, 0.5, 0.25):
        before = w.data.copy()
        w.grad = np.array([0.1])
        opt.step()
        np.testing.assert_allclose(before - w.data, [0.1 * lr], rtol=1e-14)
        sched.step()


def test_initial_lr_is_recorded_and_reused_by_a_second_scheduler() -> None:
    opt = _opt(0.8)
    first = StepLR(opt, step_size=1, gamma=0.5)
    first.step()
    assert opt.param_groups[0]["lr"] == 0.4
    assert opt.param_groups[0]["initial_lr"] == 0.8
    second = LinearLR(opt, start_factor=0.25, total_iters=3)
    assert second.base_lrs == [0.8]
    assert second.get_last_lr() == [0.2]


@pytest.mark.parametrize(
    "make",
    [
        lambda o: StepLR(o, step_size=3, gamma=0.3),
        lambda o: CosineAnnealingLR(o, T_max=7, eta_min=0.01),
        lambda o: LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=6),
    ],
    ids=["StepLR", "CosineAnnealingLR", "LinearLR"],
)
def test_scheduler_state_dict_round_trip(make: Callable[[Optimizer], LRScheduler]) -> None:
    opt = Adam([{"params": [st.tensor([1.0], requires_grad=True)], "lr": 0.1}], lr=0.1)
    opt.add_param_group({"params": [st.tensor([2.0], requires_grad=True)], "lr": 0.03})
    sched = make(opt)
    for _ in range(4):
        sched.step()
    saved = copy.deepcopy(sched.state_dict())
    assert saved["last_epoch"] == 4
    assert "optimizer" not in saved
    expected = _schedule(sched, 5)

    # a fresh optimizer (different rates) and scheduler, restored from the checkpoint
    opt2 = Adam([{"params": [st.tensor([1.0], requires_grad=True)], "lr": 0.5}], lr=0.5)
    opt2.add_param_group({"params": [st.tensor([2.0], requires_grad=True)], "lr": 0.5})
    sched2 = make(opt2)
    sched2.load_state_dict(saved)
    assert sched2.last_epoch == 4
    assert sched2.base_lrs == [0.1, 0.03]
    assert _schedule(sched2, 5) == expected
