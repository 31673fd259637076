"""The schedulers against their closed forms and sequences written out by hand; their
arguments, checkpoints, and steps that fail without changing anything."""

from __future__ import annotations

import copy
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from optim_helpers import cosine_closed_form

import sg_tensor as st
from sg_optim import (
    SGD,
    Adagrad,
    Adam,
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    Optimizer,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)


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
        # abs: below the smallest normal double a relative error means nothing (subnormals)
        want = lr0 * gamma ** (t // step_size)
        assert lrs[0] == pytest.approx(want, rel=1e-14, abs=np.finfo(float).tiny)


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
        # The recursive form rounds on the scale of the larger of lr0 and eta_min (a rate
        # rising from a small lr0 to eta_min errs like eta_min, relative to lr0 far more),
        # and its roundings add up over the steps (2.6e-14 of eta_min after 44 steps, seen).
        assert lrs[0] == pytest.approx(want, rel=1e-13, abs=1e-13 * max(lr0, eta_min))


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
    # chainable, as PyTorch's: the warm-up scales the current rate, 0.4, not the initial one
    assert second.get_last_lr() == [0.4 * 0.25]


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


# == the schedulers added after the first three =========================================
def _rates(sched: LRScheduler, n: int, group: int = 0) -> list[float]:
    """The rate of one group at epochs 0..n."""
    return [lrs[group] for lrs in _schedule(sched, n)]


# -- ExponentialLR ----------------------------------------------------------------------
def test_exponential_lr_multiplies_the_current_rate_each_epoch() -> None:
    opt = _opt(0.1, 0.03)
    history = _schedule(ExponentialLR(opt, gamma=0.9), 40)
    want = [[0.1, 0.03]]
    for _ in range(40):
        want.append([lr * 0.9 for lr in want[-1]])  # PyTorch's recursion, bit for bit
    assert history == want
    assert any(lr != 0.1 * 0.9**t for t, (lr, _) in enumerate(history))  # not the closed form
    for t, lrs in enumerate(history):  # which it matches to rounding
        assert lrs == pytest.approx([0.1 * 0.9**t, 0.03 * 0.9**t], rel=1e-14)


def test_exponential_lr_exact_values() -> None:
    assert _rates(ExponentialLR(_opt(1.0), gamma=0.5), 4) == [1.0, 0.5, 0.25, 0.125, 0.0625]
    assert _rates(ExponentialLR(_opt(0.7), gamma=1.0), 3) == [0.7] * 4
    assert _rates(ExponentialLR(_opt(0.7), gamma=0.0), 2) == [0.7, 0.0, 0.0]


@given(lr0=hs.floats(1e-6, 10.0), gamma=hs.floats(0.5, 1.0), n=hs.integers(0, 60))
@settings(max_examples=40, deadline=None)
def test_exponential_lr_closed_form(lr0: float, gamma: float, n: int) -> None:
    for t, lr in enumerate(_rates(ExponentialLR(_opt(lr0), gamma=gamma), n)):
        assert lr == pytest.approx(lr0 * gamma**t, rel=1e-13, abs=0)


# -- MultiStepLR ------------------------------------------------------------------------
def test_multistep_lr_exact_values_and_a_repeated_milestone() -> None:
    sched = MultiStepLR(_opt(1.0), milestones=[2, 5, 5, 9], gamma=0.5)
    assert sched.milestones == Counter({2: 1, 5: 2, 9: 1})
    got = _rates(sched, 10)
    assert got == [1.0, 1.0, 0.5, 0.5, 0.5, 0.125, 0.125, 0.125, 0.125, 0.0625, 0.0625]


def test_multistep_lr_default_gamma_multiplies_once_per_milestone() -> None:
    got = _rates(MultiStepLR(_opt(0.3), milestones=[3, 6]), 8)
    once, twice = 0.3 * 0.1, 0.3 * 0.1 * 0.1  # one multiplication per milestone, as PyTorch
    assert got == [0.3] * 3 + [once] * 3 + [twice] * 3
    assert twice != 0.3 * 0.1**2  # the closed form rounds differently here
    assert twice == pytest.approx(0.3 * 0.1**2, rel=1e-15)


def test_multistep_lr_milestone_order_does_not_matter_and_zero_applies_at_once() -> None:
    assert _rates(MultiStepLR(_opt(1.0), [4, 1], 0.5), 5) == _rates(
        MultiStepLR(_opt(1.0), [1, 4], 0.5), 5
    )
    assert _rates(MultiStepLR(_opt(1.0), [0, 2], 0.5), 2) == [0.5, 0.5, 0.25]


@given(
    lr0=hs.floats(1e-6, 10.0),
    gamma=hs.floats(0.0, 1.0),
    milestones=hs.lists(hs.integers(0, 30), max_size=5),
    n=hs.integers(0, 35),
)
@settings(max_examples=40, deadline=None)
def test_multistep_lr_closed_form(lr0: float, gamma: float, milestones: list[int], n: int) -> None:
    ordered = sorted(milestones)
    for t, lr in enumerate(_rates(MultiStepLR(_opt(lr0), milestones, gamma), n)):
        assert lr == pytest.approx(lr0 * gamma ** bisect_right(ordered, t), rel=1e-13, abs=0)


# -- LambdaLR ---------------------------------------------------------------------------
def test_lambda_lr_with_one_function_per_group() -> None:
    opt = _opt(0.5, 0.2)
    sched = LambdaLR(opt, [lambda e: e // 3, lambda e: 0.95**e])
    for t, lrs in enumerate(_schedule(sched, 10)):
        assert lrs == [0.5 * (t // 3), 0.2 * 0.95**t]


def test_lambda_lr_with_one_function_for_all_groups() -> None:
    opt = _opt(1.0, 0.1)
    history = _schedule(LambdaLR(opt, lambda e: 1 / (1 + e)), 4)
    assert history == [[base * (1 / (1 + t)) for base in (1.0, 0.1)] for t in range(5)]


class Warmup:
    """A callable object: its attribute is saved by state_dict(), as in PyTorch."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.epochs)


def test_lambda_lr_state_dict_saves_callable_objects_attributes() -> None:
    opt = _opt(1.0, 1.0)
    sched = LambdaLR(opt, [lambda e: 0.5**e, Warmup(4)])
    sched.step()
    saved = copy.deepcopy(sched.state_dict())
    assert saved["lr_lambdas"] == [None, {"epochs": 4}]
    assert saved["last_epoch"] == 1

    warmup = Warmup(10)
    other = LambdaLR(_opt(1.0, 1.0), [lambda e: 0.5**e, warmup])
    assert other.get_last_lr() == [1.0, 0.1]
    other.load_state_dict(saved)
    assert warmup.epochs == 4  # restored into the object this scheduler holds
    assert other.lr_lambdas[1] is warmup
    assert other.get_last_lr() == [0.5, 0.5]
    other.step()
    assert other.get_last_lr() == [0.25, 0.75]


def test_lambda_lr_arguments_are_checked() -> None:
    opt = _opt(0.1, 0.2)
    with pytest.raises(
        ValueError, match=r"LambdaLR \(lr_lambda\): Expected 2 lr_lambdas, but got 1"
    ):
        LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(TypeError, match=r"LambdaLR \(lr_lambda\): expected a function"):
        LambdaLR(opt, [lambda e: 1.0, 0.5])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"LambdaLR \(param group 0, lr_lambda\).*-1.*epoch 0"):
        LambdaLR(opt, lambda e: -1.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2]


def test_a_lambda_that_goes_bad_fails_the_step_and_changes_nothing() -> None:
    opt = _opt(1.0, 1.0)
    sched = LambdaLR(opt, [lambda e: 1.0, lambda e: 1.0 if e < 2 else math.nan])
    sched.step()
    with pytest.raises(ValueError, match=r"param group 1, lr_lambda\).*epoch 2"):
        sched.step()
    assert sched.last_epoch == 1
    assert sched.get_last_lr() == [1.0, 1.0]
    with pytest.raises(ValueError, match="'x'"):
        LambdaLR(_opt(1.0), lambda e: "x")


# -- SequentialLR -----------------------------------------------------------------------
def test_sequential_lr_warms_up_then_decays() -> None:
    opt = _opt(0.4, 0.1)
    warmup = LinearLR(opt, start_factor=0.25, total_iters=4)
    decay = ExponentialLR(opt, gamma=0.5)
    sched = SequentialLR(opt, [warmup, decay], milestones=[4])
    history = _schedule(sched, 8)
    for t in range(4):  # the warm-up, from a quarter of the rate
        assert history[t] == pytest.approx([b * (0.25 + 0.75 * t / 4) for b in (0.4, 0.1)])
    for t in range(4, 9):  # the decay starts at its epoch 0, from the initial rates
        assert history[t] == [0.4 * 0.5 ** (t - 4), 0.1 * 0.5 ** (t - 4)]
    assert sched.last_epoch == 8
    assert decay.last_epoch == 4
    assert history[-1] == [g["lr"] for g in opt.param_groups]


def test_sequential_lr_with_three_schedulers() -> None:
    opt = _opt(1.0)
    sched = SequentialLR(
        opt,
        [StepLR(opt, 1, gamma=0.5), LambdaLR(opt, lambda e: 3.0), MultiStepLR(opt, [1], 0.25)],
        milestones=[3, 5],
    )
    assert _rates(sched, 7) == [1.0, 0.5, 0.25, 3.0, 3.0, 1.0, 0.25, 0.25]


@pytest.mark.parametrize(
    ("make", "error", "text"),
    [
        (lambda o, s: SequentialLR(o, [], []), ValueError, "at least one scheduler"),
        (lambda o, s: SequentialLR(o, s, []), ValueError, "one more than the number"),
        (lambda o, s: SequentialLR(o, s, [2, 3]), ValueError, "one more than the number"),
        (lambda o, s: SequentialLR(o, s, [0]), ValueError, "milestones[0]"),
        (lambda o, s: SequentialLR(o, s, [2.5]), TypeError, "milestones[0]"),
        (lambda o, s: SequentialLR(o, [*s, s[0]], [3, 2]), ValueError, "increasing"),
        (lambda o, s: SequentialLR(o, [s[0], "x"], [2]), TypeError, "schedulers[1]"),
        (
            lambda o, s: SequentialLR(o, [s[0], ReduceLROnPlateau(o)], [2]),
            ValueError,
            "ReduceLROnPlateau",
        ),
        (
            lambda o, s: SequentialLR(o, [s[0], StepLR(_opt(0.1), 2)], [2]),
            ValueError,
            "same optimizer",
        ),
    ],
)
def test_sequential_lr_arguments_are_checked(make: Any, error: type, text: str) -> None:
    opt = _opt(0.1)
    schedulers = [StepLR(opt, 2), ExponentialLR(opt, 0.9)]
    with pytest.raises(error, match=re.escape(text)):
        make(opt, schedulers)


# -- ReduceLROnPlateau ------------------------------------------------------------------
def _plateau_rates(sched: ReduceLROnPlateau, metrics: list[float]) -> list[float]:
    rates = []
    for metric in metrics:
        sched.step(metric)
        rates.append(sched.get_last_lr()[0])
    return rates


def test_plateau_reduces_after_patience_and_waits_out_the_cooldown() -> None:
    opt = _opt(1.0)
    sched = ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1)
    assert sched.get_last_lr() == [1.0]
    metrics = [10, 9, 9, 9, 9, 9, 9, 8, 8, 8, 8]
    # epochs 1-2 improve; 3, 4, 5 do not: the third bad epoch (> patience) halves the rate.
    # Epoch 6 is the cooldown (not counted), 7 is bad, 8 improves, 9-11 do not: halved again.
    want = [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25]
    assert _plateau_rates(sched, metrics) == want
    assert sched.best == 8
    assert sched.last_epoch == 11
    assert sched.cooldown_counter == 1
    assert sched.in_cooldown


def test_plateau_with_no_patience_reduces_at_each_bad_epoch() -> None:
    sched = ReduceLROnPlateau(_opt(1.0), factor=0.5, patience=0)
    assert _plateau_rates(sched, [5.0, 6.0, 4.0, 4.0, 7.0]) == [1.0, 0.5, 0.5, 0.25, 0.125]


def test_plateau_thresholds_relative_and_absolute() -> None:
    # from best 100, 99.995 is not below 100 * (1 - 1e-4) = 99.99, but it is below 100 - 1e-4
    rel = ReduceLROnPlateau(_opt(1.0), patience=0, threshold=1e-4)
    absolute = ReduceLROnPlateau(_opt(1.0), patience=0, threshold=1e-4, threshold_mode="abs")
    assert _plateau_rates(rel, [100.0, 99.995]) == [1.0, pytest.approx(0.1, rel=1e-15)]
    assert rel.best == 100.0
    assert _plateau_rates(absolute, [100.0, 99.995]) == [1.0, 1.0]
    assert absolute.best == 99.995


def test_plateau_mode_max_watches_a_metric_that_should_rise() -> None:
    sched = ReduceLROnPlateau(_opt(0.8), mode="max", factor=0.25, patience=1)
    assert sched.best == -math.inf
    assert _plateau_rates(sched, [0.5, 0.6, 0.6, 0.55, 0.7, 0.7]) == [0.8, 0.8, 0.8, 0.2, 0.2, 0.2]
    # relative: from best 100, 100.005 is not above 100 * (1 + 1e-4)
    rel_max = ReduceLROnPlateau(_opt(1.0), "max", 0.5, 0)
    assert _plateau_rates(rel_max, [100.0, 100.005, 100.02]) == [1.0, 0.5, 0.5]
    abs_max = ReduceLROnPlateau(_opt(1.0), "max", 0.5, 0, threshold=0.1, threshold_mode="abs")
    assert _plateau_rates(abs_max, [1.0, 1.05, 1.2]) == [1.0, 0.5, 0.5]


def test_plateau_min_lr_floors_and_eps_ignores_tiny_reductions() -> None:
    opt = _opt(1e-3, 1e-8)
    sched = ReduceLROnPlateau(opt, patience=0, min_lr=[5e-4, 0.0])
    rates = [sched.get_last_lr()]
    for metric in [1.0, 2.0, 2.0]:
        sched.step(metric)
        rates.append(sched.get_last_lr())
    # group 0: 1e-3 * 0.1 is below its floor, so 5e-4, then stays there;
    # group 1: 1e-8 -> 1e-9 would change it by 9e-9 <= eps = 1e-8: ignored
    assert rates == [[1e-3, 1e-8], [1e-3, 1e-8], [5e-4, 1e-8], [5e-4, 1e-8]]


def test_plateau_metric_may_be_a_tensor_and_must_be_a_number() -> None:
    opt = _opt(1.0)
    sched = ReduceLROnPlateau(opt, patience=0)
    sched.step(st.tensor(2.0))
    assert sched.best == 2.0
    before = copy.deepcopy(sched.state_dict())
    for bad in ("loss", None, st.tensor([1.0, 2.0])):
        with pytest.raises(TypeError, match=r"ReduceLROnPlateau.step \(metrics\)"):
            sched.step(bad)
    assert sched.state_dict() == before


def test_plateau_a_group_added_later() -> None:
    opt = _opt(1.0)
    sched = ReduceLROnPlateau(opt, patience=0, min_lr=0.01)
    opt.add_param_group({"params": [st.tensor([0.0], requires_grad=True)], "lr": 0.05})
    _plateau_rates(sched, [1.0, 2.0, 2.0])
    assert sched.get_last_lr() == [pytest.approx(0.01), 0.01]
    assert sched.min_lrs == [0.01, 0.01]

    opt = _opt(1.0)
    listed = ReduceLROnPlateau(opt, patience=0, min_lr=[0.01])
    opt.add_param_group({"params": [st.tensor([0.0], requires_grad=True)]})
    listed.step(1.0)  # no reduction yet: nothing to complain about
    before = copy.deepcopy(listed.state_dict())
    with pytest.raises(RuntimeError, match="number of param groups"):
        listed.step(2.0)
    assert listed.state_dict() == before
    assert listed.get_last_lr() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"mode": "avg"}, ValueError, "mode 'avg' is unknown"),
        ({"threshold_mode": "pct"}, ValueError, "threshold mode 'pct' is unknown"),
        ({"factor": 1.0}, ValueError, "Factor should be < 1.0"),
        ({"factor": -0.5}, ValueError, "factor"),
        ({"factor": "0.1"}, TypeError, "factor"),
        ({"patience": -1}, ValueError, "patience"),
        ({"cooldown": 1.5}, TypeError, "cooldown"),
        ({"threshold": -1e-4}, ValueError, "threshold"),
        ({"min_lr": -0.1}, ValueError, "min_lr"),
        ({"min_lr": [0.1]}, ValueError, "min_lr has 1 values, param_groups has 2"),
        ({"eps": math.nan}, ValueError, "eps"),
    ],
)
def test_plateau_arguments_are_checked(kwargs: dict[str, Any], error: type, text: str) -> None:
    with pytest.raises(error, match=r"^ReduceLROnPlateau \(.*" + re.escape(text)):
        ReduceLROnPlateau(_opt(0.1, 0.2), **kwargs)


def test_plateau_state_round_trip() -> None:
    def run(sched: ReduceLROnPlateau, metrics: list[float]) -> list[list[float]]:
        rates = [sched.get_last_lr()]
        for metric in metrics:
            sched.step(metric)
            rates.append(sched.get_last_lr())
        return rates

    metrics = [5.0, 4.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    sched = ReduceLROnPlateau(_opt(1.0, 0.5), factor=0.5, patience=1, cooldown=2)
    run(sched, metrics[:4])
    saved = copy.deepcopy(sched.state_dict())
    assert saved["num_bad_epochs"] == 0
    assert saved["cooldown_counter"] == 2
    expected = run(sched, metrics[4:])
    assert expected[-1] == [0.25, 0.125]  # two reductions in all

    other = ReduceLROnPlateau(_opt(0.3, 0.3))
    other.load_state_dict(saved)
    assert other.get_last_lr() == [0.5, 0.25]  # the rates come back with the state
    assert run(other, metrics[4:]) == expected
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau.load_state_dict \(num_bad_epochs\)"):
        other.load_state_dict({**saved, "num_bad_epochs": -1})
    assert other.get_last_lr() == expected[-1]


# -- OneCycleLR -------------------------------------------------------------------------
def one_cycle_closed_form(
    t: int,
    total: int,
    max_lr: float,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    strategy: str = "cos",
    three_phase: bool = False,
) -> float:
    """The 1cycle rate at step ``t``, from PyTorch's documentation: up from ``max_lr /
    div_factor`` to ``max_lr`` until step ``pct_start * total - 1``, then down to
    ``initial / final_div_factor`` at step ``total - 1`` (three phases: back to the
    initial rate by step ``2 * pct_start * total - 2`` first)."""

    def anneal(a: float, b: float, x: float) -> float:
        if strategy == "cos":
            return b + (a - b) * (1 + math.cos(math.pi * x)) / 2
        return a + (b - a) * x

    initial = max_lr / div_factor
    low = initial / final_div_factor
    peak = pct_start * total - 1
    if t <= peak:
        return anneal(initial, max_lr, t / peak)
    if not three_phase:
        return anneal(max_lr, low, (t - peak) / (total - 1 - peak))
    back = 2 * pct_start * total - 2
    if t <= back:
        return anneal(max_lr, initial, (t - peak) / (back - peak))
    return anneal(initial, low, (t - back) / (total - 1 - back))


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_follows_its_closed_form(strategy: str, three_phase: bool) -> None:
    opt = _opt(0.1, 0.1)
    sched = OneCycleLR(
        opt, [1.0, 0.2], total_steps=50, anneal_strategy=strategy, three_phase=three_phase
    )
    for t, lrs in enumerate(_schedule(sched, 50)):
        want = [
            one_cycle_closed_form(t, 50, m, strategy=strategy, three_phase=three_phase)
            for m in (1.0, 0.2)
        ]
        assert lrs == pytest.approx(want, rel=1e-13, abs=1e-18)


def test_one_cycle_landmarks_and_the_recorded_group_values() -> None:
    opt = _opt(0.5)
    sched = OneCycleLR(opt, max_lr=2.0, total_steps=20, pct_start=0.5, div_factor=10.0,
                       final_div_factor=100.0)  # fmt: skip
    group = opt.param_groups[0]
    assert (group["initial_lr"], group["max_lr"], group["min_lr"]) == (0.2, 2.0, 0.002)
    assert sched.base_lrs == [0.2]
    rates = _rates(sched, 20)
    assert rates[0] == pytest.approx(0.2, rel=1e-15)
    assert rates[9] == pytest.approx(2.0, rel=1e-15)  # the peak: step pct_start * 20 - 1
    assert rates[19] == pytest.approx(0.002, rel=1e-12)  # the end: step total_steps - 1
    assert all(a < b for a, b in zip(rates[:9], rates[1:10]))
    assert all(a > b for a, b in zip(rates[9:19], rates[10:20]))


def test_one_cycle_moves_sgd_momentum_the_other_way() -> None:
    w = st.tensor([1.0], requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.5)
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=20, pct_start=0.25)
    momenta = [opt.param_groups[0]["momentum"]]
    for _ in range(20):
        sched.step()
        momenta.append(opt.param_groups[0]["momentum"])
    peak = 0.25 * 20 - 1  # step 4: the rate's peak, the momentum's trough
    for t, m in enumerate(momenta):
        # from max_momentum down to base_momentum, then back up, along half cosines
        start, end, x = (0.95, 0.85, t / peak) if t <= peak else (0.85, 0.95, (t - peak) / 15)
        assert m == pytest.approx(end + (start - end) * (1 + math.cos(math.pi * x)) / 2, rel=1e-14)
    assert momenta[0] == pytest.approx(0.95)
    assert momenta[4] == pytest.approx(0.85)
    assert momenta[19] == pytest.approx(0.95)
    assert opt.param_groups[0]["max_momentum"] == 0.95
    assert opt.param_groups[0]["base_momentum"] == 0.85


def test_one_cycle_cycles_adams_beta1_and_keeps_beta2() -> None:
    opt = Adam([st.tensor([1.0], requires_grad=True)], lr=0.1, betas=(0.9, 0.99))
    sched = OneCycleLR(opt, max_lr=0.1, epochs=4, steps_per_epoch=5, base_momentum=0.8,
                       max_momentum=0.9)  # fmt: skip
    assert sched.total_steps == 20
    beta1 = [opt.param_groups[0]["betas"][0]]
    for _ in range(20):
        assert opt.param_groups[0]["betas"][1] == 0.99
        sched.step()
        beta1.append(opt.param_groups[0]["betas"][0])
    assert beta1[0] == pytest.approx(0.9)
    assert min(beta1) == pytest.approx(0.8)
    assert beta1[19] == pytest.approx(0.9)


def test_one_cycle_without_momentum_cycling_suits_any_optimizer() -> None:
    opt = Adagrad([st.tensor([1.0], requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        OneCycleLR(opt, max_lr=1.0, total_steps=10)
    assert opt.param_groups[0]["lr"] == 0.1
    assert "initial_lr" not in opt.param_groups[0]
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=10, cycle_momentum=False)
    assert sched.get_last_lr() == [pytest.approx(0.04)]
    assert "momentum" not in opt.param_groups[0]


def test_one_cycle_refuses_to_step_past_total_steps_and_changes_nothing() -> None:
    opt = SGD([st.tensor([1.0], requires_grad=True)], lr=0.1, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=10)
    for _ in range(10):
        sched.step()
    group = dict(opt.param_groups[0])
    with pytest.raises(
        ValueError, match=r"Tried to step 11 times\. The specified number of total"
    ):
        sched.step()
    assert sched.last_epoch == 10
    assert opt.param_groups[0] == group


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({}, ValueError, "You must define either total_steps OR (epochs AND steps_per_epoch)"),
        ({"epochs": 3}, ValueError, "You must define either total_steps"),
        ({"total_steps": 0}, ValueError, "total_steps"),
        ({"total_steps": 10.0}, TypeError, "total_steps"),
        ({"epochs": 2, "steps_per_epoch": -1}, ValueError, "steps_per_epoch"),
        ({"total_steps": 10, "pct_start": 1.5}, ValueError, "Expected float between 0 and 1"),
        ({"total_steps": 10, "anneal_strategy": "exp"}, ValueError, "'cos' or 'linear'"),
        ({"total_steps": 10, "div_factor": 0.0}, ValueError, "div_factor"),
        ({"total_steps": 10, "max_lr": -1.0}, ValueError, "max_lr"),
        ({"total_steps": 10, "max_lr": [1.0, 2.0]}, ValueError, "max_lr has 2 values"),
        ({"total_steps": 10, "base_momentum": -0.1}, ValueError, "base_momentum"),
        ({"total_steps": 10, "three_phase": 1}, TypeError, "three_phase"),
        # pct_start * total_steps == 1: the warm-up phase has no steps (PyTorch divides by 0)
        ({"total_steps": 10, "pct_start": 0.1}, ValueError, "phase 0 of the cycle has no steps"),
        ({"total_steps": 10, "pct_start": 1.0}, ValueError, "phase 1 of the cycle has no steps"),
    ],
)
def test_one_cycle_arguments_are_checked(kwargs: dict[str, Any], error: type, text: str) -> None:
    opt = _opt(0.1)
    with pytest.raises(error, match=r"^OneCycleLR \(.*" + re.escape(text)):
        OneCycleLR(opt, **{"max_lr": 1.0, **kwargs})
    assert opt.param_groups[0]["lr"] == 0.1
    assert "initial_lr" not in opt.param_groups[0]


def test_one_cycle_betas_must_stay_below_one() -> None:
    opt = Adam([st.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match=r"OneCycleLR \(max_momentum\): Invalid beta parameter"):
        OneCycleLR(opt, max_lr=0.1, total_steps=10, max_momentum=1.0)


def test_one_cycle_with_no_warm_up() -> None:
    # pct_start = 0: the first phase ends before step 0; the descent starts one step in
    rates = _rates(OneCycleLR(_opt(0.1), max_lr=1.0, total_steps=10, pct_start=0.0), 9)
    for t, lr in enumerate(rates):
        assert lr == pytest.approx(one_cycle_closed_form(t, 10, 1.0, pct_start=0.0), rel=1e-13)
    assert rates[0] < 1.0
    assert rates[-1] == pytest.approx(1.0 / 25 / 1e4)


# -- all of them: checkpoints -----------------------------------------------------------
def _two_group_sgd(lr0: float, lr1: float) -> Optimizer:
    groups = [{"params": [st.tensor([1.0], requires_grad=True)], "lr": lr} for lr in (lr0, lr1)]
    return SGD(groups, lr=lr0, momentum=0.5)


NEW_SCHEDULERS: dict[str, Callable[[Optimizer], LRScheduler]] = {
    "ExponentialLR": lambda o: ExponentialLR(o, gamma=0.8),
    "MultiStepLR": lambda o: MultiStepLR(o, milestones=[2, 6, 6], gamma=0.3),
    "LambdaLR": lambda o: LambdaLR(o, [lambda e: 0.9**e, lambda e: 1 / (1 + e)]),
    "SequentialLR": lambda o: SequentialLR(
        o, [LinearLR(o, 0.5, total_iters=3), ExponentialLR(o, 0.7)], milestones=[3]
    ),
    "OneCycleLR": lambda o: OneCycleLR(o, max_lr=[1.0, 0.4], total_steps=12),
}


@pytest.mark.parametrize("name", list(NEW_SCHEDULERS))
@pytest.mark.parametrize("at", [0, 2, 5])
def test_new_scheduler_state_dict_round_trip(name: str, at: int) -> None:
    make = NEW_SCHEDULERS[name]
    opt = _two_group_sgd(0.1, 0.03)
    sched = make(opt)
    for _ in range(at):
        sched.step()
    saved = copy.deepcopy(sched.state_dict())
    assert saved["last_epoch"] == at
    assert "optimizer" not in saved

    def future(s: LRScheduler, o: Optimizer) -> list[tuple[list[float], float]]:
        out = []
        for _ in range(6):
            s.step()
            out.append((s.get_last_lr(), o.param_groups[0]["momentum"]))
        return out

    expected_now = sched.get_last_lr()
    expected = future(sched, opt)

    opt2 = _two_group_sgd(0.7, 0.7)  # other rates: the checkpoint brings them back
    sched2 = make(opt2)
    sched2.load_state_dict(saved)
    assert sched2.last_epoch == at
    assert sched2.get_last_lr() == expected_now
    assert future(sched2, opt2) == expected


@pytest.mark.parametrize(
    ("name", "spoil", "error", "text"),
    [
        ("ExponentialLR", {"gamma": -0.5}, ValueError, "gamma"),
        ("MultiStepLR", {"milestones": [2, 6]}, TypeError, "Counter"),
        ("MultiStepLR", {"milestones": Counter({2: 0})}, ValueError, "milestones[2]"),
        ("LambdaLR", {"lr_lambdas": [None]}, ValueError, "lr_lambdas"),
        ("SequentialLR", {"_milestones": [3, 4]}, ValueError, "one more than"),
        ("SequentialLR", {"_schedulers": [{}, {}]}, ValueError, "schedulers[0], LinearLR (state)"),
        ("OneCycleLR", {"last_epoch": 13}, ValueError, "past total_steps"),
        ("OneCycleLR", {"anneal_strategy": "exp"}, ValueError, "anneal_strategy"),
    ],
)
def test_new_scheduler_bad_state_raises_and_changes_nothing(
    name: str, spoil: dict[str, Any], error: type, text: str
) -> None:
    opt = _two_group_sgd(0.1, 0.03)
    sched = NEW_SCHEDULERS[name](opt)
    sched.step()
    sched.step()
    before = copy.deepcopy(sched.state_dict())
    groups = copy.deepcopy(
        [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    )
    with pytest.raises(error, match=re.escape(text)) as caught:
        sched.load_state_dict({**before, **spoil})
    assert str(caught.value).startswith(f"{name}.load_state_dict")
    assert sched.state_dict() == before
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == groups


def test_sequential_lr_load_restores_the_inner_schedulers() -> None:
    opt = _opt(1.0)
    sched = NEW_SCHEDULERS["SequentialLR"](opt)
    for _ in range(5):
        sched.step()
    saved = copy.deepcopy(sched.state_dict())
    assert [s["last_epoch"] for s in saved["_schedulers"]] == [2, 2]  # the second restarted at 3

    opt2 = _opt(1.0)
    other = NEW_SCHEDULERS["SequentialLR"](opt2)
    other.load_state_dict(saved)
    inner = other._schedulers
    assert [s.last_epoch for s in inner] == [2, 2]
    assert other.get_last_lr() == [1.0 * 0.7 * 0.7]
