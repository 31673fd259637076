"""The two-moons gate as evidence: an MLP 2-16-16-1 trained with sg's own Adam.

The one training run the report (``sg-verify moons``, ``sg-verify report``) and the
accuracy gate (``nox -s gates``) both use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

import sg_nn as nn
import sg_tensor as st
from sg_optim import Adam
from sg_verify.output import progress


@dataclass
class MoonsRun:
    """One two-moons training run: its held-out accuracy, the model and the test data."""

    seed: int
    accuracy: float
    seconds: float
    model: nn.Module
    X_test: np.ndarray
    y_test: np.ndarray
    final_loss: float  # the last minibatch's loss


def train_moons(seed: int, epochs: int = 100, samples: int = 1000) -> MoonsRun:
    """Train on 70% of noisy two moons (noise 0.1) and measure held-out accuracy."""
    start = time.perf_counter()
    X, y = nn.data.make_moons(samples, noise=0.1, rng=seed)
    X_train, X_test, y_train, y_test = nn.data.train_test_split(X, y, test_size=0.3, rng=seed)
    model = nn.MLP([2, 16, 16, 1], rng=np.random.default_rng(seed))
    optimizer = Adam(model.parameters(), lr=0.01)
    batches = np.random.default_rng(seed)
    loss = st.tensor(np.nan)
    for _ in range(epochs):
        for xb, yb in nn.data.iterate_minibatches(X_train, y_train, batch_size=64, rng=batches):
            optimizer.zero_grad()
            loss = nn.binary_cross_entropy_with_logits(model(xb).reshape(-1), yb.astype(float))
            loss.backward()
            optimizer.step()
    with st.no_grad():
        accuracy = float(np.mean((model(X_test).data.reshape(-1) > 0) == y_test))
    seconds = time.perf_counter() - start
    return MoonsRun(seed, accuracy, seconds, model, X_test, y_test, float(loss.item()))


def run_moons(seeds: tuple[int, ...] = (0, 1, 2, 3, 4)) -> list[MoonsRun]:
    """One training run per seed."""
    return [train_moons(s) for s in progress(seeds, len(seeds), "two moons")]


def moons_dict(runs: list[MoonsRun]) -> dict[str, Any]:
    """The report's two-moons section: accuracy per seed, mean, minimum, and the verdict."""
    accuracies = [r.accuracy for r in runs]
    return {
        "model": "MLP 2-16-16-1, ReLU, Adam lr 0.01, 100 epochs, batch 64",
        "data": "1000 two-moons points, noise 0.1, 30% held out",
        "accuracy_by_seed": {str(r.seed): r.accuracy for r in runs},
        "mean_accuracy": float(np.mean(accuracies)),
        "min_accuracy": float(np.min(accuracies)),
        "passed": bool(min(accuracies) > 0.95 and np.mean(accuracies) >= 0.98),
    }
