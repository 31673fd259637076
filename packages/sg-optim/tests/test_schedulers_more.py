"""Chaining (two schedulers on one optimizer, a rate set by hand) traced by hand, and the
schedulers ConstantLR, PolynomialLR, MultiplicativeLR, CosineAnnealingWarmRestarts,
CyclicLR and ChainedScheduler against their closed forms and hand traces; checkpoints,
and argument errors."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from optim_helpers import cosine_closed_form

import sg_tensor as st
from sg_optim import (
    SGD,
    Adagrad,
    Adam,
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiplicativeLR,
    MultiStepLR,
    OneCycleLR,
    Optimizer,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)


def _opt(*lrs: float, momentum: float = 0.0) -> Optimizer:
    groups = [{"params": [st.tensor([1.0], requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, lr=lrs[0], momentum=momentum)


def _lr(opt: Optimizer, group: int = 0) -> float:
    return float(opt.param_groups[group]["lr"])


def _state(opt: Optimizer) -> list[tuple[float, float]]:
    """Each group's rate and momentum."""
    return [(g["lr"], g["momentum"]) for g in opt.param_groups]


def _rates(sched: LRScheduler, n: int, group: int = 0) -> list[float]:
    """One group's rate at epochs 0..n."""
    opt = sched.optimizer
    out = [_lr(opt, group)]
    for _ in range(n):
        sched.step()
        out.append(_lr(opt, group))
    return out


# == chaining ============================================================================
def test_step_lr_and_exponential_lr_chain() -> None:
    """The report's example: PyTorch gives 0.9 ** 4 * 0.5 = 0.328..., not 0.45."""
    opt = _opt(1.0)
    a, b = StepLR(opt, 3, 0.5), ExponentialLR(opt, 0.9)
    want, got = 1.0, []
    for t in range(1, 13):
        opt.step()
        a.step()
        b.step()
        if t % 3 == 0:  # StepLR's step multiplies first, ExponentialLR's after it
            want = want * 0.5
        want = want * 0.9
        assert _lr(opt) == want
        got.append(_lr(opt))
        if t == 3:  # each scheduler's get_last_lr() is the rate its own step set
            assert a.get_last_lr() == [1.0 * 0.9 * 0.9 * 0.5]
            assert b.get_last_lr() == [1.0 * 0.9 * 0.9 * 0.5 * 0.9]
    assert got[3] == pytest.approx(0.9**4 * 0.5, rel=1e-15)
    assert got[3] != 0.45


def test_linear_warm_up_and_cosine_chain() -> None:
    opt = _opt(0.5)
    start, end = 0.2, 1.0
    warm, cos = LinearLR(opt, start, total_iters=4), CosineAnnealingLR(opt, 10, 0.01)
    lr = 0.5 * start  # the warm-up's initial step; the cosine's leaves the rate as it is
    assert _lr(opt) == lr
    for t in range(1, 25):
        opt.step()
        warm.step()
        cos.step()
        if t <= 4:
            lr = lr * (1.0 + (end - start) / (4 * start + (t - 1) * (end - start)))
        if (t - 1 - 10) % 20 == 0:
            lr = lr + (0.5 - 0.01) * (1 - math.cos(math.pi / 10)) / 2
        else:
            lr = (1 + math.cos(math.pi * t / 10)) / (1 + math.cos(math.pi * (t - 1) / 10)) * (
                lr - 0.01
            ) + 0.01
        assert _lr(opt) == lr, t


def test_constant_lr_and_multistep_chain() -> None:
    opt = _opt(1.0)
    sched = ChainedScheduler([ConstantLR(opt, 0.5, total_iters=3), MultiStepLR(opt, [2, 4], 0.1)])
    halved = 0.5 * 0.1  # epoch 2: the milestone; epoch 3: ConstantLR undoes its factor
    assert _rates(sched, 4) == [0.5, 0.5, halved, halved * (1.0 / 0.5), halved * 2.0 * 0.1]


@pytest.mark.parametrize(
    ("make", "after"),
    [
        # the rate set by hand at epoch 4 (0.3), then each scheduler's next steps
        (lambda o: StepLR(o, 3, 0.5), [0.3, 0.3, 0.15, 0.15, 0.15, 0.075]),
        (lambda o: MultiStepLR(o, [5, 6], 0.5), [0.3, 0.15, 0.075, 0.075]),
        (lambda o: ExponentialLR(o, 0.5), [0.3, 0.15, 0.075]),
        (lambda o: ConstantLR(o, 0.25, total_iters=6), [0.3, 0.3, 0.3 * (1.0 / 0.25), 1.2]),
        (lambda o: MultiplicativeLR(o, lambda e: 0.5), [0.3, 0.15, 0.075]),
        (lambda o: PolynomialLR(o, 8, 1.0), [0.3, 0.3 * (3 / 8) / (4 / 8), 0.225 * (2 / 3)]),
        # not chainable: the rate set by hand is forgotten at the next step
        (lambda o: LambdaLR(o, lambda e: 1.0), [0.3, 1.0, 1.0]),
        (lambda o: CosineAnnealingWarmRestarts(o, 100), [0.3, cosine_closed_form(1, 0, 5, 100)]),
    ],
)
def test_a_rate_set_by_hand_carries_on(
    make: Callable[[Optimizer], LRScheduler], after: list[float]
) -> None:
    opt = _opt(1.0)
    sched = make(opt)
    for _ in range(4):
        sched.step()
    before = sched.get_last_lr()
    opt.param_groups[0]["lr"] = 0.3
    assert sched.get_last_lr() == before  # the rate it set, as PyTorch's
    got = _rates(sched, len(after) - 1)
    assert got == pytest.approx(after, rel=1e-15)


def test_linear_lr_carries_a_rate_set_by_hand() -> None:
    opt = _opt(1.0)
    sched = LinearLR(opt, start_factor=0.5, total_iters=4)
    sched.step()
    sched.step()  # 0.5 -> 0.625 -> 0.75
    opt.param_groups[0]["lr"] = 0.3
    lr = 0.3
    for t in (3, 4):  # each step multiplies by this factor over the last one
        sched.step()
        lr = lr * (1.0 + 0.5 / (4 * 0.5 + (t - 1) * 0.5))
        assert _lr(opt) == lr
    sched.step()
    assert _lr(opt) == lr == pytest.approx(0.3 / 0.75)  # held after total_iters


def test_cosine_recursion_carries_a_rate_set_by_hand() -> None:
    opt = _opt(1.0)
    sched = CosineAnnealingLR(opt, T_max=6, eta_min=0.1)
    for _ in range(3):
        sched.step()
    opt.param_groups[0]["lr"] = 0.4
    lr = 0.4
    rates = {}
    for t in range(4, 16):
        sched.step()
        if t == 7:  # just after the bottom, cos(pi) = -1: PyTorch adds a constant
            lr = lr + (1.0 - 0.1) * (1 - math.cos(math.pi / 6)) / 2
        else:
            lr = (1 + math.cos(math.pi * t / 6)) / (1 + math.cos(math.pi * (t - 1) / 6)) * (
                lr - 0.1
            ) + 0.1
        assert _lr(opt) == lr, t
        rates[t] = lr
    # the rate set by hand is carried until the bottom, where the recursion gives eta_min
    assert rates[5] != pytest.approx(cosine_closed_form(1.0, 0.1, 5, 6))
    assert rates[6] == 0.1
    assert rates[15] == pytest.approx(cosine_closed_form(1.0, 0.1, 15, 6), rel=1e-14)


def test_a_scheduler_made_mid_run_starts_from_the_current_rate() -> None:
    opt = _opt(1.0)
    first = ExponentialLR(opt, 0.5)
    first.step()
    assert _lr(opt) == 0.5
    for make in (
        lambda o: StepLR(o, 2),
        lambda o: ExponentialLR(o, 0.9),
        lambda o: CosineAnnealingLR(o, 5),
        lambda o: PolynomialLR(o),
        lambda o: MultiplicativeLR(o, lambda e: 2.0),
    ):
        make(opt)
        assert _lr(opt) == 0.5  # the initial step leaves the rate as it is
    MultiStepLR(opt, [0, 3], 0.5)  # a milestone at epoch 0 applies at once
    assert _lr(opt) == 0.25
    LinearLR(opt, 0.5)
    assert _lr(opt) == 0.125
    ConstantLR(opt, 0.5)
    assert _lr(opt) == 0.0625
    assert opt.param_groups[0]["initial_lr"] == 1.0


# == the new schedulers ==================================================================
@given(
    lr0=hs.floats(1e-6, 10.0),
    factor=hs.floats(1e-3, 1.0),
    total=hs.integers(1, 10),
    n=hs.integers(0, 20),
)
@settings(max_examples=50, deadline=None)
def test_constant_lr_closed_form(lr0: float, factor: float, total: int, n: int) -> None:
    for t, lr in enumerate(_rates(ConstantLR(_opt(lr0), factor, total), n)):
        want = lr0 * factor if t < total else lr0
        assert lr == pytest.approx(want, rel=1e-14)


def test_constant_lr_defaults() -> None:
    rates = _rates(ConstantLR(_opt(0.3)), 7)
    assert rates[:5] == [0.3 * (1.0 / 3)] * 5
    assert rates[5:] == [0.3 * (1.0 / 3) * (1.0 / (1.0 / 3))] * 3
    assert rates[5] == pytest.approx(0.3, rel=1e-15)


@given(
    lr0=hs.floats(1e-6, 10.0),
    power=hs.floats(0.0, 4.0),
    total=hs.integers(1, 30),
    n=hs.integers(0, 40),
)
@settings(max_examples=50, deadline=None)
def test_polynomial_lr_closed_form(lr0: float, power: float, total: int, n: int) -> None:
    for t, lr in enumerate(_rates(PolynomialLR(_opt(lr0), total, power), n)):
        want = lr0 * (1 - min(t, total) / total) ** power
        assert lr == pytest.approx(want, rel=1e-12, abs=1e-15 * lr0)


def test_polynomial_lr_defaults_decay_linearly_to_zero_in_five() -> None:
    rates = _rates(PolynomialLR(_opt(1.0)), 7)
    assert rates == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2, 0.0, 0.0, 0.0], abs=1e-15)
    assert rates[5:] == [0.0, 0.0, 0.0]


def test_multiplicative_lr_multiplies_by_the_function_of_each_epoch() -> None:
    opt = _opt(1.0, 0.5)
    sched = MultiplicativeLR(opt, [lambda e: 0.5, lambda e: e])
    assert sched.get_last_lr() == [1.0, 0.5]  # the constructor changes nothing
    want = [1.0, 0.5]
    for t in range(1, 6):
        sched.step()
        want = [want[0] * 0.5, want[1] * t]
        assert sched.get_last_lr() == want
    assert want == [1 / 32, 0.5 * 120]


def test_cosine_warm_restarts_restart_every_t_0() -> None:
    rates = _rates(CosineAnnealingWarmRestarts(_opt(1.0), T_0=4, eta_min=0.2), 12)
    cycle = [cosine_closed_form(1.0, 0.2, t, 4) for t in range(4)]
    assert rates == cycle * 3 + [cycle[0]]
    assert rates[0] == 1.0


def test_cosine_warm_restarts_cycles_grow_by_t_mult() -> None:
    sched = CosineAnnealingWarmRestarts(_opt(1.0), T_0=2, T_mult=3)
    rates = _rates(sched, 10)
    # cycles of 2, 6, 18 epochs: restarts at epochs 2 and 8
    want = [cosine_closed_form(1.0, 0, t, 2) for t in range(2)]
    want += [cosine_closed_form(1.0, 0, t, 6) for t in range(6)]
    want += [cosine_closed_form(1.0, 0, t, 18) for t in range(3)]
    assert rates == want
    assert (sched.T_cur, sched.T_i, sched.last_epoch) == (2, 18, 10)


def test_cosine_warm_restarts_step_to_an_epoch() -> None:
    opt = _opt(1.0)
    sched = CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2)
    sched.step(25)  # cycles [0, 10), [10, 30): 15 epochs into one of 20
    assert (sched.T_cur, sched.T_i, sched.last_epoch) == (15.0, 20, 25)
    assert _lr(opt) == cosine_closed_form(1.0, 0, 15, 20)
    sched.step(2.5)  # back, fractional
    assert (sched.T_cur, sched.T_i, sched.last_epoch) == (2.5, 10, 2)
    assert _lr(opt) == pytest.approx((1 + math.cos(math.pi * 0.25)) / 2, rel=1e-15)
    sched.step()
    assert (sched.T_cur, sched.T_i, sched.last_epoch) == (3.5, 10, 3)
    same = CosineAnnealingWarmRestarts(_opt(1.0), T_0=4)
    same.step(9)  # T_mult = 1: epoch % T_0
    assert (same.T_cur, same.T_i, same.last_epoch) == (1, 4, 9)


@pytest.mark.parametrize("epoch", [-1, -0.5, math.nan, math.inf, "3"])
def test_cosine_warm_restarts_bad_epoch(epoch: Any) -> None:
    opt = _opt(1.0)
    sched = CosineAnnealingWarmRestarts(opt, T_0=5)
    sched.step()
    before = copy.deepcopy(sched.state_dict())
    with pytest.raises(
        ValueError, match=r"^CosineAnnealingWarmRestarts.step \(epoch\): Expected non-negative"
    ):
        sched.step(epoch)
    assert sched.state_dict() == before


def cyclic_closed_form(t: int, base: float, peak: float, up: int, down: int) -> float:
    """The triangle: up from ``base`` to ``peak`` in ``up`` steps, down in ``down``."""
    x = t % (up + down)
    return base + (peak - base) * (x / up if x <= up else (up + down - x) / down)


@pytest.mark.parametrize(("up", "down"), [(4, None), (3, 7), (5, 1), (2, 0)])
def test_cyclic_lr_triangle(up: int, down: int | None) -> None:
    opt = _opt(0.5, 0.5, momentum=0.9)
    sched = CyclicLR(opt, [0.1, 0.01], [1.0, 0.05], up, down, base_momentum=0.8)
    d = up if down is None else down
    for t in range(40):
        for group, (base, peak) in enumerate([(0.1, 1.0), (0.01, 0.05)]):
            want = cyclic_closed_form(t, base, peak, up, d)
            assert _lr(opt, group) == pytest.approx(want, rel=1e-13)
            # the momentum goes the other way, from max_momentum (0.9) to 0.8
            height = (want - base) / (peak - base)
            assert opt.param_groups[group]["momentum"] == pytest.approx(0.9 - 0.1 * height)
        sched.step()


def test_cyclic_lr_modes_scale_the_height() -> None:
    def height(sched: CyclicLR, n: int) -> list[float]:
        return [(lr - 0.1) / 0.9 for lr in _rates(sched, n)]

    tri2 = height(CyclicLR(_opt(1.0), 0.1, 1.0, 2, mode="triangular2", cycle_momentum=False), 8)
    assert tri2 == pytest.approx([0, 0.5, 1, 0.5, 0, 0.25, 0.5, 0.25, 0], abs=1e-15)
    exp = height(CyclicLR(_opt(1.0), 0.1, 1.0, 2, mode="exp_range", gamma=0.5,
                          cycle_momentum=False), 4)  # fmt: skip
    assert exp == pytest.approx([0, 0.5 * 0.5, 1 * 0.25, 0.5 * 0.125, 0], abs=1e-15)
    custom = CyclicLR(_opt(1.0), 0.1, 1.0, 2, scale_fn=lambda c: 1 / c, cycle_momentum=False)
    assert custom.scale_mode == "cycle"
    assert height(custom, 6) == pytest.approx([0, 0.5, 1, 0.5, 0, 0.25, 0.5], abs=1e-15)


def test_cyclic_lr_sets_up_the_groups_as_pytorch() -> None:
    opt = Adam([st.tensor([1.0], requires_grad=True)], lr=0.5, betas=(0.9, 0.99))
    sched = CyclicLR(opt, 0.01, 0.1, 3, base_momentum=0.7, max_momentum=0.85)
    group = opt.param_groups[0]
    assert (group["lr"], group["initial_lr"], group["betas"]) == (0.01, 0.01, (0.85, 0.99))
    assert (group["max_momentum"], group["base_momentum"]) == (0.85, 0.7)
    sched.step()
    assert group["betas"] == (pytest.approx(0.85 - 0.15 / 3), 0.99)
    assert sched.base_lrs == [0.01]
    assert sched.total_size == 6.0
    assert sched.step_ratio == 0.5


def test_cyclic_lr_after_another_scheduler_starts_from_initial_lr_as_pytorch() -> None:
    """PyTorch's constructor takes its first step from the groups' ``initial_lr`` (an
    earlier scheduler recorded it), then cycles from ``base_lr``."""
    opt = _opt(1.0, momentum=0.9)
    StepLR(opt, 2)
    sched = CyclicLR(opt, 0.1, 0.5, 2)
    assert opt.param_groups[0]["initial_lr"] == 1.0
    assert sched.get_last_lr() == [1.0]
    sched.step()
    assert _lr(opt) == pytest.approx(0.3)
    assert sched.base_lrs == [0.1]


def test_cyclic_lr_bad_scale_fn_values_raise_and_change_nothing() -> None:
    opt = _opt(1.0, momentum=0.9)
    sched = CyclicLR(opt, 0.1, 1.0, 2, scale_fn=lambda c: 1.0 if c < 2 else -5.0)
    for _ in range(4):
        sched.step()
    before = copy.deepcopy(sched.state_dict())
    groups = copy.deepcopy(_state(opt))
    with pytest.raises(ValueError, match=r"^CyclicLR \(param group 0, scale_fn\).* step 5 is -2"):
        sched.step()  # the second cycle, scaled by -5: 0.1 + 0.45 * -5
    assert sched.state_dict() == before
    assert _state(opt) == groups

    opt = _opt(1.0)
    with pytest.raises(ValueError, match=r"CyclicLR \(param group 0, scale_fn\).*got 'x'"):
        CyclicLR(opt, 0.1, 1.0, 2, scale_fn=lambda c: "x", cycle_momentum=False)  # type: ignore[arg-type,return-value]
    assert opt.param_groups[0] == {**opt.param_groups[0], "lr": 1.0}
    assert "initial_lr" not in opt.param_groups[0]  # the groups are put back


# -- ChainedScheduler -------------------------------------------------------------------
def test_chained_scheduler_steps_each_in_order() -> None:
    opt = _opt(1.0)
    sched = ChainedScheduler([ConstantLR(opt, 0.5, 2), ExponentialLR(opt, 0.9)])
    assert sched.optimizer is opt
    assert sched.get_last_lr() == [0.5]
    want = [0.5, 0.5 * 0.9]
    want.append(want[-1] * (1.0 / 0.5) * 0.9)  # epoch 2: ConstantLR undoes its factor
    want += [want[-1] * 0.9, want[-1] * 0.9 * 0.9]
    assert _rates(sched, 4) == want


def test_a_failing_step_in_a_chain_changes_nothing() -> None:
    opt = _opt(1.0, momentum=0.9)
    decay = ExponentialLR(opt, 0.5)
    cycle = OneCycleLR(opt, max_lr=1.0, total_steps=3)
    chain = ChainedScheduler([decay, cycle])
    for _ in range(3):
        chain.step()
    groups = copy.deepcopy(
        [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    )
    states = [copy.deepcopy(s.state_dict()) for s in (decay, cycle, chain)]
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        chain.step()  # the decay stepped before the cycle raised: it is put back
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == groups
    assert [s.state_dict() for s in (decay, cycle, chain)] == states


@pytest.mark.parametrize(
    ("make", "error", "text"),
    [
        (lambda o: ChainedScheduler([]), ValueError, "ChainedScheduler (schedulers): "
         "ChainedScheduler expects a list of at least one scheduler, got []"),
        (lambda o: ChainedScheduler(["x"]), TypeError, "ChainedScheduler (schedulers[0]): "
         "expected a scheduler, got str"),
        (lambda o: ChainedScheduler([StepLR(o, 2), 3]), TypeError, "(schedulers[1])"),
        (lambda o: ChainedScheduler([ReduceLROnPlateau(o)]), ValueError,
         "ChainedScheduler does not support ReduceLROnPlateau"),
        (lambda o: ChainedScheduler([StepLR(o, 2), StepLR(_opt(0.1), 2)]), ValueError,
         "(schedulers[1]): ChainedScheduler expects all schedulers to belong to the same "
         "optimizer, but StepLR has another one"),
        (lambda o: ChainedScheduler([StepLR(o, 2)], optimizer=_opt(0.1)), ValueError,
         "(schedulers[0])"),
        (lambda o: ChainedScheduler([StepLR(o, 2)], optimizer="o"), TypeError,
         "ChainedScheduler: expected an Optimizer, got str"),
        (lambda o: SequentialLR(o, [StepLR(o, 2), ChainedScheduler([StepLR(o, 2)])], [3]),
         ValueError, "SequentialLR (schedulers[1]): SequentialLR does not support "
         "ChainedScheduler"),
    ],
)  # fmt: skip
def test_chained_scheduler_arguments_are_checked(make: Any, error: type, text: str) -> None:
    with pytest.raises(error, match=re.escape(text)):
        make(_opt(0.1))


# == arguments ===========================================================================
@pytest.mark.parametrize(
    ("make", "error", "text"),
    [
        (lambda o: ConstantLR(o, factor=1.5), ValueError,
         "ConstantLR (factor): Constant multiplicative factor expected to be between 0 and 1, "
         "got 1.5"),
        (lambda o: ConstantLR(o, factor=-0.1), ValueError, "ConstantLR (factor): Constant"),
        (lambda o: ConstantLR(o, factor=0.0), ValueError,
         "ConstantLR (factor): a factor of 0 cannot be undone"),
        (lambda o: ConstantLR(o, factor=math.nan), ValueError,
         "ConstantLR (factor): Constant multiplicative factor expected to be between 0 and 1, "
         "got nan"),
        (lambda o: ConstantLR(o, factor="0.5"), TypeError, "ConstantLR (factor): expected a real"),
        (lambda o: ConstantLR(o, total_iters=0), ValueError,
         "ConstantLR (total_iters): Expected a positive integer total_iters, but got 0"),
        (lambda o: ConstantLR(o, total_iters=2.0), TypeError, "ConstantLR (total_iters)"),
        (lambda o: PolynomialLR(o, total_iters=-1), ValueError, "PolynomialLR (total_iters)"),
        (lambda o: PolynomialLR(o, power=-1.0), ValueError,
         "PolynomialLR (power): Invalid power value: -1.0, must be >= 0"),
        (lambda o: PolynomialLR(o, power=None), TypeError, "PolynomialLR (power)"),
        (lambda o: MultiplicativeLR(o, [lambda e: 1.0] * 2), ValueError,
         "MultiplicativeLR (lr_lambda): Expected 1 lr_lambdas, but got 2"),
        (lambda o: MultiplicativeLR(o, 0.5), TypeError,
         "MultiplicativeLR (lr_lambda): expected a function of the epoch, got 0.5"),
        (lambda o: CosineAnnealingWarmRestarts(o, T_0=0), ValueError,
         "CosineAnnealingWarmRestarts (T_0): Expected a positive integer T_0, but got 0"),
        (lambda o: CosineAnnealingWarmRestarts(o, T_0=2.5), TypeError,
         "CosineAnnealingWarmRestarts (T_0)"),
        (lambda o: CosineAnnealingWarmRestarts(o, 5, T_mult=0), ValueError,
         "CosineAnnealingWarmRestarts (T_mult): Expected a positive integer T_mult, but got 0"),
        (lambda o: CosineAnnealingWarmRestarts(o, 5, eta_min=-1.0), ValueError,
         "CosineAnnealingWarmRestarts (eta_min): Invalid eta_min value: -1.0"),
        (lambda o: CyclicLR(o, -0.1, 1.0), ValueError,
         "CyclicLR (base_lr[0]): Invalid learning rate: -0.1"),
        (lambda o: CyclicLR(o, [0.1, 0.1], 1.0), ValueError,
         "CyclicLR (base_lr): base_lr must have the same length as optimizer.param_groups. "
         "base_lr has 2 values, param_groups has 1."),
        (lambda o: CyclicLR(o, 0.1, math.nan), ValueError, "CyclicLR (max_lr[0])"),
        (lambda o: CyclicLR(o, 0.1, 1.0, step_size_up=0), ValueError,
         "CyclicLR (step_size_up): Expected a positive integer step_size_up, but got 0"),
        (lambda o: CyclicLR(o, 0.1, 1.0, step_size_down=-2), ValueError,
         "CyclicLR (step_size_down): expected an integer >= 0, got -2"),
        (lambda o: CyclicLR(o, 0.1, 1.0, mode="sine"), ValueError,
         "CyclicLR (mode): mode is invalid and scale_fn is None: got 'sine'"),
        (lambda o: CyclicLR(o, 0.1, 1.0, scale_fn=2.0), TypeError,
         "CyclicLR (scale_fn): expected a function or None, got 2.0"),
        (lambda o: CyclicLR(o, 0.1, 1.0, scale_fn=abs, scale_mode="epochs"), ValueError,
         "CyclicLR (scale_mode): expected 'cycle' or 'iterations', got 'epochs'"),
        (lambda o: CyclicLR(o, 0.1, 1.0, gamma=-1.0), ValueError,
         "CyclicLR (gamma): Invalid gamma value: -1.0"),
        (lambda o: CyclicLR(o, 0.1, 1.0, cycle_momentum=1), TypeError,
         "CyclicLR (cycle_momentum): expected True or False, got 1"),
        (lambda o: CyclicLR(o, 0.1, 1.0, base_momentum=-0.5), ValueError,
         "CyclicLR (base_momentum): Invalid momentum value: -0.5"),
    ],
)  # fmt: skip
def test_new_scheduler_arguments_are_checked(make: Any, error: type, text: str) -> None:
    opt = _opt(0.1, momentum=0.9)
    with pytest.raises(error, match="^" + re.escape(text)):
        make(opt)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"]) == (0.1, 0.9)  # nothing changed
    assert "initial_lr" not in group


def test_cyclic_lr_momentum_needs_an_optimizer_with_one() -> None:
    opt = Adagrad([st.tensor([1.0], requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=r"^CyclicLR \(cycle_momentum\): optimizer must support"):
        CyclicLR(opt, 0.01, 0.1)
    CyclicLR(opt, 0.01, 0.1, cycle_momentum=False)
    adam = Adam([st.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match=r"CyclicLR \(max_momentum\): Invalid beta parameter"):
        CyclicLR(adam, 0.01, 0.1, max_momentum=1.0)


# == checkpoints =========================================================================
class Halving:
    """A callable object: its attribute is saved by state_dict(), as in PyTorch."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def __call__(self, x: float) -> float:
        return self.factor


MORE: dict[str, Callable[[Optimizer], LRScheduler]] = {
    "ConstantLR": lambda o: ConstantLR(o, 0.4, 4),
    "PolynomialLR": lambda o: PolynomialLR(o, 9, 1.5),
    "MultiplicativeLR": lambda o: MultiplicativeLR(o, [lambda e: 0.9, Halving(0.5)]),
    "CosineAnnealingWarmRestarts": lambda o: CosineAnnealingWarmRestarts(o, 2, 2, 0.001),
    "CyclicLR": lambda o: CyclicLR(o, [0.01, 0.02], 0.1, 3, 2, mode="triangular2"),
    "CyclicLR-scale_fn": lambda o: CyclicLR(o, 0.01, 0.1, 2, scale_fn=Halving(0.7)),
    "ChainedScheduler": lambda o: ChainedScheduler(
        [LinearLR(o, 0.5, total_iters=3), CosineAnnealingLR(o, 5, 0.001), StepLR(o, 2, 0.9)]
    ),
    "SequentialLR": lambda o: SequentialLR(
        o, [ConstantLR(o, 0.5, 2), CosineAnnealingWarmRestarts(o, 3)], [3]
    ),
}


@pytest.mark.parametrize("name", list(MORE))
@pytest.mark.parametrize("at", [0, 2, 5])
def test_more_schedulers_state_dict_round_trip(name: str, at: int) -> None:
    make = MORE[name]
    opt = _opt(0.1, 0.03, momentum=0.5)
    sched = make(opt)
    for _ in range(at):
        sched.step()
    saved = copy.deepcopy(sched.state_dict())
    assert "optimizer" not in saved
    now = _state(opt)
    future = []
    for _ in range(8):
        sched.step()
        future.append(_state(opt))

    opt2 = _opt(0.7, 0.7, momentum=0.5)  # other rates: the checkpoint brings them back
    sched2 = make(opt2)
    sched2.load_state_dict(saved)
    assert _state(opt2) == now
    assert sched2.get_last_lr() == [lr for lr, _ in now]
    for want in future:
        sched2.step()
        assert _state(opt2) == want


def test_callable_objects_are_restored_into_this_schedulers_objects() -> None:
    sched = MORE["CyclicLR-scale_fn"](_opt(0.1, 0.1, momentum=0.5))
    assert sched.state_dict()["_scale_fn_custom"] == {"factor": 0.7}
    mine = Halving(0.2)
    other = CyclicLR(_opt(0.1, 0.1, momentum=0.5), 0.01, 0.1, 2, scale_fn=mine)
    other.load_state_dict(sched.state_dict())
    assert mine.factor == 0.7
    plain = CyclicLR(_opt(0.1, 0.1, momentum=0.5), 0.01, 0.1, 2)
    assert plain.state_dict()["_scale_fn_custom"] is None
    with pytest.raises(ValueError, match=r"^CyclicLR.load_state_dict \(_scale_fn_custom\)"):
        plain.load_state_dict(sched.state_dict())


@pytest.mark.parametrize(
    ("name", "spoil", "error", "text"),
    [
        ("ConstantLR", {"factor": 0}, ValueError, "(factor)"),
        ("PolynomialLR", {"power": -2.0}, ValueError, "(power)"),
        ("MultiplicativeLR", {"lr_lambdas": [None]}, ValueError, "(lr_lambdas)"),
        ("CosineAnnealingWarmRestarts", {"T_i": 0}, ValueError, "(T_i)"),
        ("CosineAnnealingWarmRestarts", {"T_cur": math.nan}, ValueError, "(T_cur)"),
        ("CyclicLR", {"max_lrs": [0.1]}, ValueError, "(max_lr)"),
        ("CyclicLR", {"_last_lr": [0.1, -1.0]}, ValueError, "(_last_lr[1])"),
        ("ChainedScheduler", {"_last_lr": None}, ValueError, "(_last_lr)"),
        ("ChainedScheduler", {"_schedulers": [{}, {}]}, ValueError, "(_schedulers)"),
        ("ChainedScheduler", {"_schedulers": [{}, {}, {}]}, ValueError,
         "ChainedScheduler.load_state_dict: schedulers[0], LinearLR (state)"),
    ],
)  # fmt: skip
def test_more_schedulers_bad_state_raises_and_changes_nothing(
    name: str, spoil: dict[str, Any], error: type, text: str
) -> None:
    opt = _opt(0.1, 0.03, momentum=0.5)
    sched = MORE[name](opt)
    sched.step()
    sched.step()
    before = copy.deepcopy(sched.state_dict())
    groups = copy.deepcopy(_state(opt))
    with pytest.raises(error, match=re.escape(text)) as caught:
        sched.load_state_dict({**before, **spoil})
    assert str(caught.value).startswith(f"{type(sched).__name__}.load_state_dict")
    assert sched.state_dict() == before
    assert _state(opt) == groups
