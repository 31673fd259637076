"""Adagrad and the learning-rate schedulers against PyTorch (needs PyTorch: ``nox -s parity``).

* Adagrad: the training trajectory of ``sg_verify.trajectory`` (200 steps of the same MLP
  and batches in sg and PyTorch) with the default and with every hyperparameter set,
  and a small problem of two param groups compared parameter by parameter, state by
  state, at every step.
* Schedulers: each one's learning rates over 100 steps, and the momenta OneCycleLR and
  CyclicLR cycle, against ``torch.optim.lr_scheduler`` driving a float64 PyTorch
  optimizer with the same groups: alone, chained (two or three schedulers stepped on one
  optimizer, ``ChainedScheduler``, ``SequentialLR``), with a rate set by hand at step 7,
  and resumed from a checkpoint. They must be equal float for float (``==``): the
  chainable schedulers compute each step from the current rate with PyTorch's formulas,
  in PyTorch's order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.optim.lr_scheduler as tl

import sg_optim
import sg_optim.lr_scheduler as sl
import sg_tensor as st
from sg_verify.trajectory import LOSS_TOLERANCE, TrajectoryResult, run_trajectory

STEPS = 200
ADAGRAD_FULL = {
    "lr": 0.1,
    "lr_decay": 1e-3,
    "weight_decay": 1e-4,
    "initial_accumulator_value": 0.01,
    "eps": 1e-8,
}
_cache: dict[str, TrajectoryResult] = {}


def adagrad_run(name: str) -> TrajectoryResult:
    if name not in _cache:
        hyper = ADAGRAD_FULL if name == "full" else None
        _cache[name] = run_trajectory("adagrad", steps=STEPS, hyperparameters=hyper)
    return _cache[name]


# -- Adagrad ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["defaults", "full"])
def test_adagrad_trajectory_parity(name: str) -> None:
    result = adagrad_run(name)
    assert result.optimizer_class == "Adagrad"
    assert result.steps == STEPS
    assert len(result.loss_diff) == STEPS
    if name == "full":
        assert result.hyperparameters == ADAGRAD_FULL
    assert result.max_loss_diff <= LOSS_TOLERANCE <= 1e-10, (
        f"loss differs by {result.max_loss_diff:.3e} at step {result.worst_step}; first "
        f"step above 1e-12: param {result.first_step_above(1e-12, 'param')}"
    )
    assert result.max_param_rel_diff <= 1e-10, result.param_max_diff
    assert result.max_grad_diff <= 1e-10
    # and the runs learn: parity of a run that goes nowhere would prove little
    assert result.final_full_loss_sg < 0.5 * result.initial_full_loss


@pytest.mark.parametrize(
    "torch_hyperparameters",
    [{"lr_decay": 1.1e-3}, {"initial_accumulator_value": 0.0101}, {"eps": 1e-6}],
)
def test_the_adagrad_comparison_detects_a_small_difference(
    torch_hyperparameters: dict[str, float],
) -> None:
    result = run_trajectory(
        "adagrad",
        steps=STEPS,
        hyperparameters=ADAGRAD_FULL,
        torch_hyperparameters=torch_hyperparameters,
    )
    assert result.max_param_rel_diff > 1e3 * 1e-10


def test_adagrad_step_by_step_with_two_groups() -> None:
    """Two groups with their own lr, lr_decay and weight decay, a 0-d parameter and a
    parameter that skips steps: parameters and sums equal PyTorch's after every step."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((3, 2)), rng.standard_normal(2), np.array(0.7)]
    sg_params = [st.tensor(a.copy(), requires_grad=True) for a in arrays]
    t_params = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]

    def groups(params: list[Any]) -> list[dict[str, Any]]:
        return [
            {"params": params[:2], "lr": 0.05, "lr_decay": 0.01},
            {"params": params[2:], "weight_decay": 0.1},
        ]

    hyper = {"lr": 0.2, "initial_accumulator_value": 0.05, "eps": 1e-9}
    opt = sg_optim.Adagrad(groups(sg_params), **hyper)
    topt = torch.optim.Adagrad(groups(t_params), foreach=False, **hyper)
    for step in range(STEPS):
        grads = [np.asarray(rng.standard_normal(a.shape) * (1 + step % 7)) for a in arrays]
        if step % 5 == 2:
            grads[1] = None  # the vector skips this step, in both
        for p, tp, g in zip(sg_params, t_params, grads):
            p.grad = None if g is None else g.copy()
            tp.grad = None if g is None else torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        for i, (p, tp) in enumerate(zip(sg_params, t_params)):
            want = tp.detach().numpy()
            np.testing.assert_allclose(p.data, want, rtol=1e-10, atol=1e-12, err_msg=f"{i}")
            state, tstate = opt.state[p], topt.state[tp]
            assert state["step"] == int(tstate["step"].item())
            np.testing.assert_allclose(state["sum"], tstate["sum"].numpy(), rtol=1e-12)
    assert opt.state[sg_params[1]]["step"] == STEPS - STEPS // 5


# -- the schedulers ---------------------------------------------------------------------
N = 100
LRS = (0.1, 0.03)


def _pair(optimizer: str = "SGD", **hyper: Any) -> tuple[Any, Any]:
    """An sg and a PyTorch optimizer with two groups of the rates ``LRS``."""
    sg_groups = [{"params": [st.tensor([1.0], requires_grad=True)], "lr": lr} for lr in LRS]
    t_groups = [
        {"params": [torch.nn.Parameter(torch.ones(1, dtype=torch.float64))], "lr": lr}
        for lr in LRS
    ]
    return (
        getattr(sg_optim, optimizer)(sg_groups, **hyper),
        getattr(torch.optim, optimizer)(t_groups, **hyper),
    )


def _history(
    opt: Any, scheduler: Any, steps: int, metrics: list[float] | None = None
) -> list[list[Any]]:
    """Each group's (rate, momentum or betas) before each step and after the last."""

    def now() -> list[Any]:
        return [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]

    out = [now()]
    for t in range(steps):
        opt.step()  # no gradients: nothing moves, but PyTorch wants it before the scheduler
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[t])
        out.append(now())
    return out


def _compare(
    make_sg: Callable[[Any], Any],
    make_torch: Callable[[Any], Any],
    optimizer: str = "SGD",
    steps: int = N,
    metrics: list[float] | None = None,
    **hyper: Any,
) -> list[list[Any]]:
    opt, topt = _pair(optimizer, **hyper)
    sched, tsched = make_sg(opt), make_torch(topt)
    got = _history(opt, sched, steps, metrics)
    want = _history(topt, tsched, steps, metrics)
    assert sched.get_last_lr() == tsched.get_last_lr()
    for t, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"step {t}: sg {g}, PyTorch {w}"
    return got


def _lrs(history: list[list[Any]], group: int = 0) -> list[float]:
    return [step[group][0] for step in history]


def test_exponential_lr() -> None:
    got = _compare(lambda o: sl.ExponentialLR(o, 0.95), lambda o: tl.ExponentialLR(o, 0.95))
    # the product of PyTorch's steps, which the closed form would not give to the bit
    assert any(lr != 0.1 * 0.95**t for t, lr in enumerate(_lrs(got)))


@pytest.mark.parametrize("gamma", [0.1, 0.5, 0.3])
def test_multistep_lr(gamma: float) -> None:
    milestones = [10, 30, 30, 70, 99]
    got = _compare(
        lambda o: sl.MultiStepLR(o, milestones, gamma),
        lambda o: tl.MultiStepLR(o, milestones, gamma),
    )
    assert len(set(_lrs(got))) == 5


def test_lambda_lr_with_a_function_per_group() -> None:
    functions = [lambda e: 0.97**e, lambda e: 1.0 / (1 + 0.1 * e) if e < 50 else 0.25]
    _compare(lambda o: sl.LambdaLR(o, functions), lambda o: tl.LambdaLR(o, functions))
    _compare(
        lambda o: sl.LambdaLR(o, lambda e: e // 10), lambda o: tl.LambdaLR(o, lambda e: e // 10)
    )


def test_sequential_lr_of_exact_schedulers() -> None:
    def make(m: Any, o: Any) -> Any:
        return m.SequentialLR(
            o,
            [
                m.ExponentialLR(o, 0.9),
                m.MultiStepLR(o, [5, 20], 0.5),
                m.LambdaLR(o, lambda e: 0.99**e),
            ],
            milestones=[10, 40],
        )

    got = _compare(lambda o: make(sl, o), lambda o: make(tl, o))
    lrs = _lrs(got)
    assert lrs[10] == 0.1
    assert lrs[40] == 0.1


def test_sequential_lr_warm_up_then_decay() -> None:
    """LinearLR multiplies the current rate step by step, as PyTorch's: the warm-up and
    the decay after the milestone agree to the bit."""

    def make(m: Any, o: Any) -> Any:
        return m.SequentialLR(
            o, [m.LinearLR(o, 0.1, total_iters=10), m.ExponentialLR(o, 0.95)], milestones=[10]
        )

    got = _compare(lambda o: make(sl, o), lambda o: make(tl, o))
    lrs = _lrs(got)
    assert lrs[10] == 0.1
    # the product of the steps: not the closed form 0.1 * (0.1 + 0.9 * t / 10), to the bit
    assert any(lrs[t] != 0.1 * (0.1 + 0.9 * t / 10) for t in range(10))


def _plateaus(seed: int) -> list[float]:
    """A falling loss with plateaus (and noise on them): reductions and cooldowns happen."""
    rng = np.random.default_rng(seed)
    levels = np.repeat([1.0, 0.8, 0.8, 0.6, 0.55, 0.55, 0.5, 0.5, 0.45, 0.45], 10)
    return list(levels + rng.uniform(0, 1e-3, N) * (np.arange(N) % 3))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"factor": 0.5, "patience": 3, "cooldown": 2},
        {"patience": 2, "threshold": 0.05, "threshold_mode": "abs", "min_lr": [1e-3, 2e-4]},
        {"factor": 0.3, "patience": 0, "cooldown": 4, "min_lr": 1e-4, "eps": 1e-3},
        {"mode": "max", "factor": 0.7, "patience": 1, "threshold": 1e-2},
    ],
)
def test_reduce_lr_on_plateau(kwargs: dict[str, Any]) -> None:
    metrics = _plateaus(0)
    if kwargs.get("mode") == "max":  # an accuracy, rising in steps
        metrics = [1.5 - m for m in metrics]
    got = _compare(
        lambda o: sl.ReduceLROnPlateau(o, **kwargs),
        lambda o: tl.ReduceLROnPlateau(o, **kwargs),
        metrics=metrics,
    )
    assert len(set(_lrs(got))) >= 3  # it did reduce, more than once


@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "RMSprop"])
@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_lr_and_momentum(
    optimizer: str, anneal_strategy: str, three_phase: bool
) -> None:
    kwargs = {
        "max_lr": [0.5, 0.2],
        "total_steps": N,
        "anneal_strategy": anneal_strategy,
        "three_phase": three_phase,
    }
    hyper = {"momentum": 0.9} if optimizer == "SGD" else {}
    got = _compare(
        lambda o: sl.OneCycleLR(o, **kwargs),
        lambda o: tl.OneCycleLR(o, **kwargs),
        optimizer=optimizer,
        **hyper,
    )
    momenta = [step[0][2][0] if optimizer == "Adam" else step[0][1] for step in got]
    assert min(momenta) == pytest.approx(0.85)
    assert momenta[0] == pytest.approx(0.95)
    assert max(_lrs(got)) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_lr": 1.0, "epochs": 5, "steps_per_epoch": 20, "pct_start": 0.25},
        {"max_lr": 0.3, "total_steps": N, "pct_start": 0.0, "div_factor": 10.0},
        {"max_lr": 0.3, "total_steps": 137, "pct_start": 0.45, "final_div_factor": 100.0},
        {
            "max_lr": [0.3, 0.1],
            "total_steps": N,
            "base_momentum": [0.8, 0.7],
            "max_momentum": 0.9,
            "three_phase": True,
        },
        {"max_lr": 0.3, "total_steps": N, "cycle_momentum": False},
    ],
)
def test_one_cycle_lr_settings(kwargs: dict[str, Any]) -> None:
    _compare(
        lambda o: sl.OneCycleLR(o, **kwargs),
        lambda o: tl.OneCycleLR(o, **kwargs),
        momentum=0.5,
    )


def test_one_cycle_lr_initial_values_recorded_in_the_groups() -> None:
    opt, topt = _pair("Adam")
    sl.OneCycleLR(opt, max_lr=[0.4, 0.2], total_steps=N)
    tl.OneCycleLR(topt, max_lr=[0.4, 0.2], total_steps=N)
    keys = ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum", "lr", "betas")
    for group, tgroup in zip(opt.param_groups, topt.param_groups):
        assert {k: group[k] for k in keys} == {k: tgroup[k] for k in keys}


# -- every scheduler: alone, chained, with a rate set by hand, resumed ------------------
Make = Callable[[Any, Any], list[Any]]  # (sg_optim.lr_scheduler or PyTorch's, optimizer)
HAND = (0.07, 0.011)  # the rates set by hand after step 7 in the "by hand" runs


def _sin_scale(x: float) -> float:
    return 0.5 * (1 + math.sin(x))


#: name -> (schedulers on one optimizer, the optimizer, its hyperparameters)
SINGLE: dict[str, tuple[Make, str, dict[str, Any]]] = {
    "StepLR": (lambda m, o: [m.StepLR(o, 3, 0.5)], "SGD", {}),
    "StepLR-default": (lambda m, o: [m.StepLR(o, 7)], "SGD", {}),
    "MultiStepLR": (lambda m, o: [m.MultiStepLR(o, [0, 10, 30, 30, 70], 0.5)], "SGD", {}),
    "ExponentialLR": (lambda m, o: [m.ExponentialLR(o, 0.95)], "SGD", {}),
    "ConstantLR": (lambda m, o: [m.ConstantLR(o)], "SGD", {}),
    "ConstantLR-17": (lambda m, o: [m.ConstantLR(o, factor=0.45, total_iters=17)], "SGD", {}),
    "LinearLR": (lambda m, o: [m.LinearLR(o)], "SGD", {}),
    "LinearLR-warmup": (lambda m, o: [m.LinearLR(o, 0.1, total_iters=10)], "SGD", {}),
    "LinearLR-decay": (lambda m, o: [m.LinearLR(o, 1.0, 0.2, total_iters=37)], "SGD", {}),
    "CosineAnnealingLR": (lambda m, o: [m.CosineAnnealingLR(o, 10, 0.001)], "SGD", {}),
    "CosineAnnealingLR-1": (lambda m, o: [m.CosineAnnealingLR(o, 1)], "SGD", {}),
    "CosineAnnealingLR-7": (lambda m, o: [m.CosineAnnealingLR(o, 7, 0.01)], "SGD", {}),
    "PolynomialLR": (lambda m, o: [m.PolynomialLR(o)], "SGD", {}),
    "PolynomialLR-2": (lambda m, o: [m.PolynomialLR(o, total_iters=30, power=2.0)], "SGD", {}),
    "PolynomialLR-0.7": (lambda m, o: [m.PolynomialLR(o, 50, 0.7)], "SGD", {}),
    "LambdaLR": (lambda m, o: [m.LambdaLR(o, lambda e: 0.99**e)], "SGD", {}),
    "MultiplicativeLR": (
        lambda m, o: [m.MultiplicativeLR(o, [lambda e: 0.97, lambda e: 1.01 if e < 20 else 0.9])],
        "SGD",
        {},
    ),
    "CosineAnnealingWarmRestarts": (
        lambda m, o: [m.CosineAnnealingWarmRestarts(o, 10)],
        "SGD",
        {},
    ),
    "CosineAnnealingWarmRestarts-mult": (
        lambda m, o: [m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001)],
        "SGD",
        {},
    ),
    "CyclicLR": (lambda m, o: [m.CyclicLR(o, 0.01, 0.1, 7)], "SGD", {"momentum": 0.9}),
    "CyclicLR-triangular2": (
        lambda m, o: [
            m.CyclicLR(o, [0.01, 0.02], [0.1, 0.5], 5, 9, mode="triangular2", max_momentum=0.95)
        ],
        "SGD",
        {"momentum": 0.9},
    ),
    "CyclicLR-exp_range": (
        lambda m, o: [m.CyclicLR(o, 0.01, 0.1, 5, mode="exp_range", gamma=0.99)],
        "SGD",
        {"momentum": 0.5},
    ),
    "CyclicLR-scale_fn": (
        lambda m, o: [
            m.CyclicLR(o, 0.01, 0.1, 4, scale_fn=_sin_scale, scale_mode="iterations"),
        ],
        "SGD",
        {"momentum": 0.5},
    ),
    "CyclicLR-Adam": (
        lambda m, o: [m.CyclicLR(o, 0.001, 0.01, 6, base_momentum=[0.8, 0.85], max_momentum=0.95)],
        "Adam",
        {},
    ),
    "CyclicLR-no-momentum": (
        lambda m, o: [m.CyclicLR(o, 0.001, 0.01, 3, 8, cycle_momentum=False)],
        "Adagrad",
        {},
    ),
    "OneCycleLR": (lambda m, o: [m.OneCycleLR(o, 0.5, total_steps=N)], "SGD", {"momentum": 0.9}),
    "SequentialLR": (
        lambda m, o: [
            m.SequentialLR(
                o, [m.LinearLR(o, 0.1, total_iters=10), m.CosineAnnealingLR(o, 40, 0.001)], [10]
            )
        ],
        "SGD",
        {},
    ),
    "SequentialLR-new": (
        lambda m, o: [
            m.SequentialLR(
                o,
                [
                    m.ConstantLR(o, 0.5, 5),
                    m.PolynomialLR(o, 30),
                    m.CosineAnnealingWarmRestarts(o, 7, 2),
                ],
                [5, 40],
            )
        ],
        "SGD",
        {},
    ),
    "SequentialLR-cyclic": (
        lambda m, o: [
            m.SequentialLR(
                o,
                [
                    m.StepLR(o, 3, 0.5),
                    m.MultiplicativeLR(o, lambda e: 0.95),
                    m.CyclicLR(o, 0.01, 0.05, step_size_up=4),
                ],
                [20, 50],
            )
        ],
        "SGD",
        {"momentum": 0.9},
    ),
}

#: two or three schedulers stepped one after the other on one optimizer
CHAINED: dict[str, Make] = {
    "StepLR+ExponentialLR": lambda m, o: [m.StepLR(o, 3, 0.5), m.ExponentialLR(o, 0.9)],
    "ExponentialLR+StepLR": lambda m, o: [m.ExponentialLR(o, 0.9), m.StepLR(o, 3, 0.5)],
    "LinearLR+CosineAnnealingLR": lambda m, o: [
        m.LinearLR(o, 0.1, total_iters=10),
        m.CosineAnnealingLR(o, 50, 0.001),
    ],
    "CosineAnnealingLR+LinearLR": lambda m, o: [
        m.CosineAnnealingLR(o, 50, 0.001),
        m.LinearLR(o, 0.1, total_iters=10),
    ],
    "ConstantLR+MultiStepLR": lambda m, o: [
        m.ConstantLR(o, 0.5, 8),
        m.MultiStepLR(o, [5, 20, 60], 0.3),
    ],
    "PolynomialLR+StepLR": lambda m, o: [m.PolynomialLR(o, 60, 1.5), m.StepLR(o, 10, 0.7)],
    "MultiplicativeLR+CosineAnnealingLR": lambda m, o: [
        m.MultiplicativeLR(o, lambda e: 0.99),
        m.CosineAnnealingLR(o, 13, 0.002),
    ],
    "LinearLR+ConstantLR+ExponentialLR": lambda m, o: [
        m.LinearLR(o, 0.25, total_iters=12),
        m.ConstantLR(o, 0.4, 30),
        m.ExponentialLR(o, 0.98),
    ],
    # not chainable after a chainable one: the cosine sets its rate over the decay's
    "ExponentialLR+CosineAnnealingWarmRestarts": lambda m, o: [
        m.ExponentialLR(o, 0.9),
        m.CosineAnnealingWarmRestarts(o, 5),
    ],
    "CosineAnnealingWarmRestarts+ExponentialLR": lambda m, o: [
        m.CosineAnnealingWarmRestarts(o, 5),
        m.ExponentialLR(o, 0.9),
    ],
    "LambdaLR+MultiplicativeLR": lambda m, o: [
        m.LambdaLR(o, lambda e: 1 / (1 + e)),
        m.MultiplicativeLR(o, lambda e: 0.99),
    ],
    "ChainedScheduler": lambda m, o: [
        m.ChainedScheduler([m.LinearLR(o, 0.2, total_iters=5), m.ExponentialLR(o, 0.97)])
    ],
    "ChainedScheduler-optimizer": lambda m, o: [
        m.ChainedScheduler([m.ConstantLR(o, 0.5, 4), m.CosineAnnealingLR(o, 30)], optimizer=o)
    ],
    "SequentialLR+ExponentialLR": lambda m, o: [
        m.SequentialLR(o, [m.ConstantLR(o, 0.5, 5), m.StepLR(o, 4, 0.8)], [10]),
        m.ExponentialLR(o, 0.99),
    ],
}


def _drive(
    opt: Any,
    schedulers: list[Any],
    steps: int,
    hand_at: int | None = None,
    metrics: list[float] | None = None,
) -> tuple[list[list[Any]], list[list[float]]]:
    """Each group's (rate, momentum, betas) before each step and after the last, and each
    scheduler's ``get_last_lr()``; with ``hand_at``, the rates ``HAND`` are set by hand
    after that step; with ``metrics``, ``step(metric)`` (ReduceLROnPlateau)."""

    def now() -> list[Any]:
        return [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]

    out = [now()]
    for t in range(1, steps + 1):
        opt.step()
        for scheduler in schedulers:
            if metrics is None:
                scheduler.step()
            else:
                scheduler.step(metrics[t - 1])
        if t == hand_at:
            for group, lr in zip(opt.param_groups, HAND):
                group["lr"] = lr
        out.append(now())
    return out, [scheduler.get_last_lr() for scheduler in schedulers]


def _agree(make: Make, optimizer: str = "SGD", hand_at: int | None = None, **hyper: Any) -> Any:
    """Run ``make``'s schedulers in sg and PyTorch; assert every value is equal."""
    opt, topt = _pair(optimizer, **hyper)
    got, got_last = _drive(opt, make(sl, opt), N, hand_at)
    want, want_last = _drive(topt, make(tl, topt), N, hand_at)
    for t, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"step {t}: sg {g}, PyTorch {w}"
    assert got_last == want_last
    return got


@pytest.mark.parametrize("name", list(SINGLE))
def test_each_scheduler_alone(name: str) -> None:
    make, optimizer, hyper = SINGLE[name]
    got = _agree(make, optimizer, **hyper)
    assert len(set(_lrs(got))) > 1


@pytest.mark.parametrize("name", list(SINGLE))
def test_each_scheduler_with_a_rate_set_by_hand(name: str) -> None:
    make, optimizer, hyper = SINGLE[name]
    got = _agree(make, optimizer, hand_at=7, **hyper)
    assert _lrs(got)[7] == HAND[0]


def test_reduce_lr_on_plateau_with_a_rate_set_by_hand() -> None:
    kwargs = {"factor": 0.5, "patience": 3, "cooldown": 2, "min_lr": 0.005}
    metrics = _plateaus(1)
    opt, topt = _pair()
    sched, tsched = sl.ReduceLROnPlateau(opt, **kwargs), tl.ReduceLROnPlateau(topt, **kwargs)
    got = _drive(opt, [sched], N, hand_at=7, metrics=metrics)
    assert got == _drive(topt, [tsched], N, hand_at=7, metrics=metrics)
    assert _lrs(got[0])[7] == HAND[0]
    assert len(set(_lrs(got[0])[7:])) >= 3  # it reduced the rate set by hand


@pytest.mark.parametrize("name", list(CHAINED))
@pytest.mark.parametrize("hand_at", [None, 7])
def test_chained_schedulers(name: str, hand_at: int | None) -> None:
    _agree(CHAINED[name], hand_at=hand_at, momentum=0.5)


def test_the_chained_example_of_the_report() -> None:
    """StepLR then ExponentialLR: 0.9 ** 4 * 0.5 after four steps, as PyTorch's (sg set
    0.45 when StepLR was a closed form, forgetting ExponentialLR's factors)."""
    got = _agree(lambda m, o: [m.StepLR(o, 3, 0.5), m.ExponentialLR(o, 0.9)])
    assert _lrs(got)[4] == 0.1 * 0.9 * 0.9 * 0.9 * 0.5 * 0.9


def test_a_scheduler_made_after_steps_of_another() -> None:
    """A warm-up created mid-run scales the current rate (chainable), as PyTorch's."""

    def run(m: Any, o: Any) -> list[float]:
        first = m.StepLR(o, 2, 0.5)
        for _ in range(5):
            o.step()
            first.step()
        second = m.LinearLR(o, 0.25, total_iters=4)
        rates = [o.param_groups[0]["lr"]]
        for _ in range(10):
            o.step()
            first.step()
            second.step()
            rates.append(o.param_groups[0]["lr"])
        return rates

    opt, topt = _pair()
    assert run(sl, opt) == run(tl, topt)


@pytest.mark.parametrize(("t_0", "t_mult"), [(5, 1), (3, 2), (2, 3), (10, 2)])
def test_cosine_warm_restarts_stepped_to_fractional_epochs(t_0: int, t_mult: int) -> None:
    def run(m: Any, o: Any) -> list[Any]:
        s = m.CosineAnnealingWarmRestarts(o, t_0, t_mult, 0.001)
        out = []
        for epoch in range(40):
            for batch in range(7):
                o.step()
                s.step(epoch + batch / 7)
                out.append((o.param_groups[0]["lr"], s.T_cur, s.T_i, s.last_epoch))
        for epoch in (0, 3, 15, 21, 45, 93, 189):  # jumps, back and forth
            s.step(epoch)
            out.append((o.param_groups[0]["lr"], s.T_cur, s.T_i, s.last_epoch))
        for _ in range(20):
            s.step()
            out.append((o.param_groups[0]["lr"], s.T_cur, s.T_i, s.last_epoch))
        return out

    opt, topt = _pair()
    got, want = run(sl, opt), run(tl, topt)
    assert got == want
    assert [type(v[1]) for v in got] == [type(v[1]) for v in want]  # int or float T_cur


RESUMED = [
    "StepLR+ExponentialLR",
    "LinearLR+CosineAnnealingLR",
    "ConstantLR+MultiStepLR",
    "ChainedScheduler",
    "SequentialLR+ExponentialLR",
    "PolynomialLR-2",
    "MultiplicativeLR",
    "CosineAnnealingWarmRestarts-mult",
    "CyclicLR-triangular2",
    "CyclicLR-Adam",
    "SequentialLR-new",
]


@pytest.mark.parametrize("name", RESUMED)
@pytest.mark.parametrize("at", [3, 9, 40])
def test_schedulers_resumed_from_checkpoints(name: str, at: int) -> None:
    """Stop after ``at`` steps, load the optimizer and the schedulers into new ones (in
    the order they step), continue: the rates (and momenta) are PyTorch's uninterrupted
    run's."""
    make, optimizer, hyper = SINGLE[name] if name in SINGLE else (CHAINED[name], "SGD", {})
    topt = _pair(optimizer, **hyper)[1]
    want, _ = _drive(topt, make(tl, topt), N)

    opt = _pair(optimizer, **hyper)[0]
    schedulers = make(sl, opt)
    first, _ = _drive(opt, schedulers, at)
    saved = [s.state_dict() for s in schedulers]
    opt2 = _pair(optimizer, **hyper)[0]
    opt2.load_state_dict(opt.state_dict())
    schedulers2 = make(sl, opt2)
    for scheduler, state in zip(schedulers2, saved):
        scheduler.load_state_dict(state)
    rest, _ = _drive(opt2, schedulers2, N - at)
    assert first[:-1] + rest == want
