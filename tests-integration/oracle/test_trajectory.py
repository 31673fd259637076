"""Training-trajectory parity with PyTorch (float64): the acceptance criterion.

The same MLP, initial weights and minibatches are trained in sg and in PyTorch with
SGD, SGD+Nesterov, Adam and AdamW (with weight decay); losses, gradients and parameters
are compared at every one of 200 steps, and the largest loss difference must be at most
1e-10 for every optimizer. Run with ``pytest tests-integration/oracle -s`` to see the
numbers.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch", reason="the oracle suite needs PyTorch (torch==2.13.0)")

from sg_verify.trajectory import (
    LOSS_TOLERANCE,
    TrajectoryResult,
    format_table,
    run_trajectory,
)

STEPS = 200
ACCEPTANCE = ["sgd", "sgd_nesterov", "adam", "adamw"]
_cache: dict[tuple[str, str], TrajectoryResult] = {}


def trajectory(optimizer: str, loss: str = "cross_entropy") -> TrajectoryResult:
    """One run per (optimizer, loss), shared by the tests below."""
    key = (optimizer, loss)
    if key not in _cache:
        _cache[key] = run_trajectory(optimizer, steps=STEPS, seed=0, loss=loss)
    return _cache[key]


def report(result: TrajectoryResult) -> None:
    s = result.summary()
    print(
        f"\n{s['optimizer']:>13} {s['loss']:<13} {s['steps']} steps: "
        f"max |dloss| {s['max_loss_diff']:.3e} (step {s['worst_step']}), "
        f"max |dgrad| {s['max_grad_diff']:.3e}, max |dparam| {s['max_param_diff']:.3e} "
        f"(rel {s['max_param_rel_diff']:.3e}); full-data loss "
        f"{s['initial_full_loss']:.4f} -> {s['final_full_loss_sg']:.4f}; "
        f"sg {s['seconds_sg']:.2f} s, torch {s['seconds_torch']:.2f} s"
    )


@pytest.mark.parametrize("optimizer", [*ACCEPTANCE, "rmsprop"])
def test_trajectory_parity(optimizer: str) -> None:
    result = trajectory(optimizer)
    report(result)
    assert result.steps == STEPS
    assert len(result.loss_diff) == STEPS
    assert result.max_loss_diff <= LOSS_TOLERANCE, (
        f"{optimizer}: loss differs by {result.max_loss_diff:.3e} at step "
        f"{result.worst_step}; first step above 1e-12: loss "
        f"{result.first_step_above(1e-12, 'loss')}, grad "
        f"{result.first_step_above(1e-12, 'grad')}, param "
        f"{result.first_step_above(1e-12, 'param')}"
    )
    # the parameters follow the same path too, not only the loss
    assert result.max_param_rel_diff <= 1e-9, result.param_max_diff
    assert result.max_grad_diff <= 1e-9
    assert abs(result.final_full_loss_sg - result.final_full_loss_torch) <= LOSS_TOLERANCE


@pytest.mark.parametrize("optimizer", [*ACCEPTANCE, "rmsprop"])
def test_training_is_real(optimizer: str) -> None:
    """The compared runs actually learn: parity of a run that goes nowhere proves little."""
    result = trajectory(optimizer)
    assert result.final_full_loss_sg < 0.5 * result.initial_full_loss
    assert np.mean(result.sg_loss[-20:]) < 0.5 * np.mean(result.sg_loss[:20])


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_other_losses(loss: str) -> None:
    """Binary cross-entropy with logits (moons) and MSE (regression), with Adam."""
    result = trajectory("adam", loss)
    report(result)
    assert result.max_loss_diff <= LOSS_TOLERANCE
    assert result.max_param_rel_diff <= 1e-9
    assert result.final_full_loss_sg < 0.5 * result.initial_full_loss


@pytest.mark.parametrize(
    ("optimizer", "torch_hyperparameters"),
    [
        ("adam", {"lr": 1e-2 * (1 + 1e-8)}),
        ("sgd", {"momentum": 0.9 + 1e-8}),
        ("sgd_nesterov", {"nesterov": False}),
        ("adamw", {"weight_decay": 1e-2 * (1 + 1e-4)}),
    ],
)
def test_comparison_detects_a_tiny_difference(
    optimizer: str, torch_hyperparameters: dict[str, Any]
) -> None:
    """A small change on the PyTorch side alone (Adam's lr or SGD's momentum moved by
    1e-8 relative, Nesterov off, AdamW's decay moved by 1e-4 relative) fails the 1e-10
    bound by far: the check is sensitive enough to catch a wrong formula."""
    result = run_trajectory(optimizer, steps=STEPS, torch_hyperparameters=torch_hyperparameters)
    assert result.max_loss_diff > 10 * LOSS_TOLERANCE
    assert not result.passed


def test_report_is_json() -> None:
    results = {name: trajectory(name) for name in ACCEPTANCE}
    print("\n" + format_table(results))
    text = json.dumps({name: r.to_dict() for name, r in results.items()})
    back = json.loads(text)
    for name in ACCEPTANCE:
        assert back[name]["passed"] is True
        assert len(back[name]["per_step"]["loss_diff"]) == STEPS
        assert back[name]["max_loss_diff"] == results[name].max_loss_diff
