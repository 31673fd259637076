"""Resuming from a model + optimizer checkpoint continues exactly like an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sg_nn as nn
from sg_optim import SGD, Adam, AdamW, Optimizer, RMSprop, StepLR

OPTIMIZERS = {
    "sgd-nesterov": lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam-amsgrad": lambda ps: Adam(ps, lr=0.01, amsgrad=True),
    "adamw": lambda ps: AdamW(ps, lr=0.01, weight_decay=0.05),
    "rmsprop": lambda ps: RMSprop(ps, lr=0.005, momentum=0.5, centered=True),
}


def _setup(make_optimizer) -> tuple[nn.Module, Optimizer, StepLR]:
    model = nn.MLP([2, 16, 16, 1], rng=np.random.default_rng(7))
    optimizer = make_optimizer(list(model.parameters()))
    return model, optimizer, StepLR(optimizer, step_size=3, gamma=0.5)


def _train(model, optimizer, schedule, batches, steps: int) -> list[float]:
    X, y = nn.data.make_moons(200, noise=0.1, rng=3)
    losses = []
    for _ in range(steps):
        (idx,) = next(nn.data.iterate_minibatches(np.arange(len(X)), batch_size=32, rng=batches))
        optimizer.zero_grad()
        loss = nn.binary_cross_entropy_with_logits(model(X[idx]).reshape(-1), y[idx] * 1.0)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_resumed_training_is_bit_identical(name: str, tmp_path: Path) -> None:
    make = OPTIMIZERS[name]
    model, optimizer, schedule = _setup(make)
    batches = np.random.default_rng(11)
    first = _train(model, optimizer, schedule, batches, 10)
    checkpoint = tmp_path / "ckpt.npz"
    nn.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "batches": batches.bit_generator.state,
        },
        checkpoint,
    )
    uninterrupted = _train(model, optimizer, schedule, batches, 15)

    state = nn.load(checkpoint)
    model2, optimizer2, schedule2 = _setup(make)
    model2.load_state_dict(state["model"])
    optimizer2.load_state_dict(state["optimizer"])
    schedule2.load_state_dict(state["schedule"])
    batches2 = np.random.default_rng()
    batches2.bit_generator.state = state["batches"]
    resumed = _train(model2, optimizer2, schedule2, batches2, 15)

    assert len(first) == 10
    assert resumed == uninterrupted  # exact float equality, step by step
    for (k, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        assert np.array_equal(a, b), k
