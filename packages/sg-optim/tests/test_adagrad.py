"""Adagrad against steps written out by hand and an independent reference of PyTorch's
algorithm; its arguments, checkpoints, and a failed step that changes nothing."""

from __future__ import annotations

import copy
import inspect
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from optim_helpers import (
    Grads,
    Trajectory,
    assert_identical,
    assert_trajectories_close,
    make_params,
    random_problem,
    regression_reference,
    regression_run,
    run_with_grads,
)

import sg_tensor as st
from sg_optim import Adagrad, Optimizer


def ref_adagrad(
    params0: Sequence[np.ndarray],
    grads: Grads,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
) -> Trajectory:
    """The algorithm box of ``torch.optim.Adagrad``'s documentation, one line per formula
    (``t`` counts the steps of each parameter; a ``None`` gradient skips it)."""
    theta = [np.array(p, dtype=np.float64) for p in params0]
    state_sum = [np.full_like(t, initial_accumulator_value) for t in theta]
    steps = [0] * len(theta)
    out = []
    for step_grads in grads:
        for i, grad in enumerate(step_grads):
            if grad is None:
                continue
            steps[i] += 1
            t = steps[i]
            g = np.array(grad, dtype=np.float64)
            clr = lr / (1 + (t - 1) * lr_decay)
            if weight_decay != 0:
                g = g + weight_decay * theta[i]
            state_sum[i] = state_sum[i] + g**2
            theta[i] = theta[i] - clr * g / (np.sqrt(state_sum[i]) + eps)
        out.append([x.copy() for x in theta])
    return out


# -- steps written out by hand ----------------------------------------------------------
def _quadratic_step(opt: Optimizer, w: st.Tensor, a: np.ndarray) -> np.ndarray:
    """One step on ``f(w) = sum(a * w**2) / 2``, whose gradient is ``a * w``."""
    opt.zero_grad()
    ((st.tensor(a) * w * w).sum() * 0.5).backward()
    np.testing.assert_allclose(w.grad, a * w.data, rtol=1e-15)
    opt.step()
    return w.data.copy()


def test_first_steps_on_a_quadratic_written_out() -> None:
    a = np.array([1.0, 4.0, 0.25])
    w0 = np.array([2.0, -1.0, 3.0])
    lr, eps = 0.5, 1e-10
    w = st.tensor(w0.copy(), requires_grad=True)
    opt = Adagrad([w], lr=lr)

    # step 1: the sum is g1**2, so the step is lr * g1 / |g1|: every coordinate moves by lr
    g1 = a * w0  # [2, -4, 0.75]
    s1 = g1**2
    w1 = w0 - lr * g1 / (np.sqrt(s1) + eps)
    np.testing.assert_allclose(w1, [1.5, -0.5, 2.5], rtol=1e-9)
    np.testing.assert_array_equal(_quadratic_step(opt, w, a), w1)

    # step 2: the gradient shrank, the sum grew, so the step is smaller than lr
    g2 = a * w1
    s2 = s1 + g2**2
    w2 = w1 - lr * g2 / (np.sqrt(s2) + eps)
    np.testing.assert_allclose(_quadratic_step(opt, w, a), w2, rtol=1e-15)
    np.testing.assert_allclose(w2[0], 1.5 - 0.5 * 1.5 / math.sqrt(4 + 2.25), rtol=1e-9)
    assert np.all(np.abs(w2 - w1) < lr)

    state = opt.state[w]
    assert state["step"] == 2
    np.testing.assert_allclose(state["sum"], s2, rtol=1e-15)


def test_lr_decay_divides_the_rate_by_one_plus_the_previous_steps() -> None:
    # a constant gradient of 1: the sum after t steps is t, the step is clr_t / sqrt(t)
    lr, lr_decay = 0.3, 0.5
    w = st.tensor([0.0], requires_grad=True)
    opt = Adagrad([w], lr=lr, lr_decay=lr_decay, eps=0.0)
    expected = 0.0
    for t in range(1, 6):
        w.grad = np.array([1.0])
        opt.step()
        expected -= lr / (1 + (t - 1) * lr_decay) / math.sqrt(t)
        assert w.data[0] == pytest.approx(expected, rel=1e-15)
    assert opt.state[w]["sum"][0] == 5.0


def test_weight_decay_adds_to_the_gradient_before_it_is_squared() -> None:
    w = st.tensor([2.0], requires_grad=True)
    opt = Adagrad([w], lr=0.1, weight_decay=0.5, eps=0.0)
    w.grad = np.array([1.0])
    opt.step()
    g = 1.0 + 0.5 * 2.0
    assert opt.state[w]["sum"][0] == g * g
    assert w.data[0] == pytest.approx(2.0 - 0.1, rel=1e-15)  # g / sqrt(g**2) = 1
    w.grad = np.array([0.0])  # only the decay pulls now
    opt.step()
    g2 = 0.5 * 1.9  # the decay term of the gradient at w = 1.9
    assert w.data[0] == pytest.approx(1.9 - 0.1 * g2 / math.sqrt(g * g + g2 * g2), rel=1e-15)


def test_the_initial_accumulator_value_of_each_group_starts_its_sums() -> None:
    a = st.tensor([1.0, 1.0], requires_grad=True)
    b = st.tensor([1.0, 1.0], requires_grad=True)
    opt = Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 3.0}], lr=1.0)
    a.grad = np.array([1.0, 0.0])
    b.grad = np.array([1.0, 0.0])
    opt.step()
    np.testing.assert_array_equal(opt.state[a]["sum"], [1.0, 0.0])
    np.testing.assert_array_equal(opt.state[b]["sum"], [4.0, 3.0])
    np.testing.assert_allclose(a.data, [1.0 - 1 / (1 + 1e-10), 1.0], rtol=1e-15)
    np.testing.assert_allclose(b.data, [1.0 - 1 / (2 + 1e-10), 1.0], rtol=1e-15)


def test_every_parameter_has_its_state_from_the_start_as_pytorch() -> None:
    # PyTorch's Adagrad makes each parameter's state in its constructor: a checkpoint
    # holds it before any step, and a later change of the group's initial value is moot.
    a = st.tensor([1.0, 1.0], requires_grad=True)
    b = st.tensor([2.0], requires_grad=True)
    opt = Adagrad([a], lr=0.1, initial_accumulator_value=0.5)
    opt.add_param_group({"params": [b], "initial_accumulator_value": 0.25})
    state = opt.state_dict()["state"]
    assert sorted(state) == ["0", "1"]
    assert state["0"]["step"] == 0
    np.testing.assert_array_equal(state["0"]["sum"], [0.5, 0.5])
    np.testing.assert_array_equal(state["1"]["sum"], [0.25])
    opt.param_groups[0]["initial_accumulator_value"] = 2.0  # too late: the sum exists
    a.grad = np.array([1.0, 0.0])
    opt.step()
    np.testing.assert_array_equal(opt.state[a]["sum"], [1.5, 0.5])
    assert opt.state[b]["step"] == 0  # no gradient: not stepped, its state kept


def test_a_parameter_without_a_gradient_keeps_its_count() -> None:
    a = st.tensor([1.0], requires_grad=True)
    b = st.tensor([1.0], requires_grad=True)
    opt = Adagrad([a, b], lr=0.1, lr_decay=1.0)
    for k in range(3):
        a.grad = np.array([1.0])
        b.grad = np.array([1.0]) if k == 2 else None
        opt.step()
    assert opt.state[a]["step"] == 3
    assert opt.state[b]["step"] == 1  # its first step used lr itself, not lr / 3
    assert b.data[0] == pytest.approx(1.0 - 0.1 / (1 + 1e-10), rel=1e-15)


# -- the reference, over random problems ------------------------------------------------
CONFIGS: list[dict[str, Any]] = [
    {},
    {"lr": 0.1},
    {"lr": 0.05, "lr_decay": 0.1},
    {"lr": 0.05, "weight_decay": 0.2},
    {"lr": 0.05, "initial_accumulator_value": 0.5},
    {"lr": 0.02, "eps": 1e-3},
    {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1},
]


def _ids(config: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in config.items()) or "defaults"


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference_over_five_steps(config: dict[str, Any], seed: int) -> None:
    params0, grads = random_problem(seed)
    got = run_with_grads(lambda ps: Adagrad(ps, **config), params0, grads)
    assert_trajectories_close(got, ref_adagrad(params0, grads, **config))


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_matches_reference_on_a_regression_trajectory(config: dict[str, Any]) -> None:
    got = regression_run(lambda ps: Adagrad(ps, **config), 6)
    assert_trajectories_close(got, regression_reference(ref_adagrad, 6, **config), rtol=1e-11)


@given(
    lr=hs.floats(1e-4, 0.5),
    lr_decay=hs.floats(0.0, 1.0),
    weight_decay=hs.floats(0.0, 0.5),
    initial_accumulator_value=hs.floats(0.0, 2.0),
    eps=hs.floats(1e-12, 1e-2),
    seed=hs.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_matches_reference_for_random_hyperparameters(
    lr: float,
    lr_decay: float,
    weight_decay: float,
    initial_accumulator_value: float,
    eps: float,
    seed: int,
) -> None:
    config = {
        "lr": lr,
        "lr_decay": lr_decay,
        "weight_decay": weight_decay,
        "initial_accumulator_value": initial_accumulator_value,
        "eps": eps,
    }
    params0, grads = random_problem(seed)
    got = run_with_grads(lambda ps: Adagrad(ps, **config), params0, grads)
    assert_trajectories_close(got, ref_adagrad(params0, grads, **config), rtol=1e-11)


def test_steps_shrink_and_training_converges() -> None:
    w = st.tensor([3.0, -2.0], requires_grad=True)
    opt = Adagrad([w], lr=0.5)
    moves = []
    for _ in range(200):
        before = w.data.copy()
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        moves.append(np.abs(w.data - before).max())
    assert all(later <= earlier for earlier, later in zip(moves, moves[1:]))
    assert np.abs(w.data).max() < 1e-3


def test_float32_and_0d_parameters() -> None:
    w = st.tensor(np.array([1.0, -2.0], dtype=np.float32), requires_grad=True)
    s = st.tensor(np.float32(1.5), requires_grad=True)
    opt = Adagrad([w, s], lr=0.1, weight_decay=0.1, initial_accumulator_value=0.1)
    for _ in range(3):
        opt.zero_grad()
        ((w * w).sum() + s * s * s).backward()
        opt.step()
    assert w.dtype == np.float32
    assert s.dtype == np.float32
    assert opt.state[w]["sum"].dtype == np.float32
    assert opt.state[s]["sum"].shape == ()
    assert isinstance(opt.state[s]["sum"], np.ndarray)


# -- arguments --------------------------------------------------------------------------
def test_defaults_and_signature_are_pytorchs() -> None:
    parameters = inspect.signature(Adagrad).parameters
    assert list(parameters) == [
        "params",
        "lr",
        "lr_decay",
        "weight_decay",
        "initial_accumulator_value",
        "eps",
    ]
    defaults = {k: v.default for k, v in parameters.items() if k != "params"}
    assert defaults == {
        "lr": 1e-2,
        "lr_decay": 0,
        "weight_decay": 0,
        "initial_accumulator_value": 0,
        "eps": 1e-10,
    }
    opt = Adagrad([st.tensor([1.0], requires_grad=True)])
    assert {k: v for k, v in opt.param_groups[0].items() if k != "params"} == defaults


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("lr", -0.1, "Invalid learning rate: -0.1, must be >= 0"),
        ("lr_decay", -1.0, "Invalid lr_decay value: -1.0, must be >= 0"),
        ("weight_decay", -1e-3, "Invalid weight_decay value: -0.001, must be >= 0"),
        (
            "initial_accumulator_value",
            -0.5,
            "Invalid initial_accumulator_value value: -0.5, must be >= 0",
        ),
        ("eps", -1e-10, "Invalid epsilon value: -1e-10, must be >= 0"),
        ("eps", math.nan, "Invalid epsilon value: nan, must be >= 0"),
    ],
)
def test_invalid_values_raise_naming_the_optimizer_group_and_value(
    name: str, value: float, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(f"Adagrad (param group 0, {name}): {message}")):
        Adagrad([st.tensor([1.0], requires_grad=True)], **{name: value})


@pytest.mark.parametrize("name", ["lr", "lr_decay", "weight_decay", "initial_accumulator_value"])
def test_values_of_the_wrong_type_raise_type_errors(name: str) -> None:
    with pytest.raises(TypeError, match=re.escape(f"Adagrad (param group 1, {name})")):
        Adagrad(
            [
                {"params": [st.tensor([1.0], requires_grad=True)]},
                {"params": [st.tensor([1.0], requires_grad=True)], name: "0.1"},
            ]
        )


# -- a failed step changes nothing ------------------------------------------------------
def test_a_bad_gradient_fails_the_step_and_changes_nothing() -> None:
    a, b = make_params([np.array([1.0, 2.0]), np.array([[0.5, -0.5]])])
    opt = Adagrad([a, b], lr=0.1, weight_decay=0.1)
    a.grad, b.grad = np.array([0.3, -0.2]), np.array([[1.0, 1.0]])
    opt.step()
    before = copy.deepcopy(opt.state_dict())
    data = [a.data.copy(), b.data.copy()]
    a.grad = np.array([1.0, 1.0])  # fine, but the next parameter's gradient is not
    b.grad = np.array([1.0, 1.0])  # shape (2,) for a (1, 2) parameter
    with pytest.raises(ValueError, match=r"Adagrad.step \(param group 0, parameter 1\)"):
        opt.step()
    assert_identical(opt.state_dict(), before)
    np.testing.assert_array_equal(a.data, data[0])
    np.testing.assert_array_equal(b.data, data[1])
    b.grad = np.array([["x", "y"]])
    with pytest.raises(TypeError, match="parameter 1"):
        opt.step()
    assert_identical(opt.state_dict(), before)
    np.testing.assert_array_equal(a.data, data[0])


# -- checkpoints ------------------------------------------------------------------------
def _train(opt: Optimizer, params: list[st.Tensor], steps: int) -> None:
    w, b = params
    for _ in range(steps):
        opt.zero_grad()
        ((w * w * w).sum() + (b * w.sum()).sum() * 0.5).backward()
        opt.step()


def _setup() -> tuple[list[st.Tensor], Adagrad]:
    params = make_params([np.array([0.9, -1.2, 0.3]), np.array([0.5, 0.25])])
    groups = [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.05, "lr_decay": 0.2}]
    return params, Adagrad(groups, lr=0.1, weight_decay=0.01, initial_accumulator_value=0.2)


def test_resume_from_a_checkpoint_is_bit_identical() -> None:
    params, opt = _setup()
    _train(opt, params, 4)
    saved = copy.deepcopy(opt.state_dict())
    snapshot = [p.data.copy() for p in params]
    _train(opt, params, 5)
    uninterrupted = [p.data.copy() for p in params]

    fresh = make_params(snapshot)
    resumed = Adagrad(
        [{"params": [fresh[0]]}, {"params": [fresh[1]]}], lr=1.0, initial_accumulator_value=9.0
    )
    resumed.load_state_dict(saved)
    assert resumed.param_groups[1]["lr_decay"] == 0.2
    assert resumed.param_groups[0]["initial_accumulator_value"] == 0.2
    assert resumed.state[fresh[0]]["step"] == 4
    _train(resumed, fresh, 5)
    for got, want in zip(fresh, uninterrupted):
        np.testing.assert_array_equal(got.data, want)


def test_state_dict_layout_and_copies() -> None:
    params, opt = _setup()
    _train(opt, params, 2)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == ["0", "1"]
    assert sorted(sd["state"]["0"]) == ["step", "sum"]
    assert sd["state"]["1"]["step"] == 2
    sd["state"]["0"]["sum"][:] = 0.0  # the checkpoint does not alias the optimizer
    assert np.all(opt.state[params[0]]["sum"] > 0)


@pytest.mark.parametrize(
    ("corrupt", "error", "text"),
    [
        (lambda sd: sd["state"]["0"].pop("sum"), ValueError, "missing: ['sum']"),
        (lambda sd: sd["state"]["0"].update(sum=np.ones(2)), ValueError, "shape (2,)"),
        (lambda sd: sd["state"]["1"].update(step=1.5), TypeError, "integer count"),
        (lambda sd: sd["param_groups"][1].update(lr_decay=-1), ValueError, "lr_decay"),
        (lambda sd: sd["param_groups"][0].pop("initial_accumulator_value"), ValueError, "lacks"),
    ],
)
def test_a_bad_checkpoint_raises_and_changes_nothing(corrupt: Any, error: type, text: str) -> None:
    params, opt = _setup()
    _train(opt, params, 2)
    sd = copy.deepcopy(opt.state_dict())
    corrupt(sd)
    before = copy.deepcopy(opt.state_dict())
    with pytest.raises(error, match=re.escape(text)):
        opt.load_state_dict(sd)
    assert_identical(opt.state_dict(), before)
