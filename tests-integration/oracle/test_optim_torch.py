"""Adagrad and the learning-rate schedulers against PyTorch (needs PyTorch: ``nox -s parity``).

* Adagrad: the training trajectory of ``sg_verify.trajectory`` (200 steps of the same MLP
  and batches in sg and PyTorch) with the default and with every hyperparameter set,
  and a small problem of two param groups compared parameter by parameter, state by
  state, at every step.
* Schedulers: each one's learning rates over 100 steps, and the momenta OneCycleLR
  cycles, against ``torch.optim.lr_scheduler`` driving a float64 PyTorch optimizer with
  the same groups. They must be equal float for float; the one exception is sg's
  ``LinearLR`` (a closed form, where PyTorch multiplies step by step), within ``1e-15``
  relative.
"""

from __future__ import annotations

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
    """sg's LinearLR is a closed form (PyTorch's multiplies step by step): the warm-up
    agrees to 1e-15 relative, and the decay after the milestone to the bit."""
    opt, topt = _pair()

    def make(m: Any, o: Any) -> Any:
        return m.SequentialLR(
            o, [m.LinearLR(o, 0.1, total_iters=10), m.ExponentialLR(o, 0.95)], milestones=[10]
        )

    got, want = _history(opt, make(sl, opt), N), _history(topt, make(tl, topt), N)
    for t, (g, w) in enumerate(zip(got, want)):
        for (lr, *_), (tlr, *_) in zip(g, w):
            if t < 10:
                assert abs(lr - tlr) <= 1e-15 * tlr, (t, lr, tlr)
            else:
                assert lr == tlr, (t, lr, tlr)


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
