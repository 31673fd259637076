"""The gate workloads: two moons and scikit-learn's digits, trained with sg's own Adam.

Two moons is sg-verify's run (:func:`sg_verify.moons.train_moons`, also in the report);
digits is here. Used by the gate tests (``nox -s gates``) and runnable alone:
``python tests-integration/gates/training.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

import sg_nn as nn
import sg_tensor as st
from sg_optim import AdamW, CosineAnnealingLR
from sg_verify.moons import train_moons
from sg_verify.output import progress


@dataclass
class Result:
    accuracy: float
    seconds: float
    final_loss: float


def train_digits(seed: int = 0, epochs: int = 40) -> Result:
    """MLP 64-256-128-10 with dropout on scikit-learn's 8x8 digits (25% held out).

    AdamW with cosine annealing and label smoothing 0.1: standard choices for a small
    classifier, no tuning on the test split.
    """
    from sklearn.datasets import load_digits  # a test-only dependency of the gates

    start = time.perf_counter()
    digits = load_digits()
    X_train, X_test, y_train, y_test = nn.data.train_test_split(
        digits.data, digits.target, test_size=0.25, rng=seed
    )
    mean, std = X_train.mean(axis=0), X_train.std(axis=0) + 1e-8
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    rng = np.random.default_rng(seed)
    model = nn.Sequential(
        nn.Linear(64, 256, rng=rng),
        nn.ReLU(),
        nn.Dropout(0.2, rng=rng),
        nn.Linear(256, 128, rng=rng),
        nn.ReLU(),
        nn.Dropout(0.2, rng=rng),
        nn.Linear(128, 10, rng=rng),
    )
    optimizer = AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    schedule = CosineAnnealingLR(optimizer, T_max=epochs)
    batches = np.random.default_rng(seed)
    loss = st.tensor(np.nan)
    for _ in progress(range(epochs), epochs, "digits"):
        model.train()
        for xb, yb in nn.data.iterate_minibatches(X_train, y_train, batch_size=32, rng=batches):
            optimizer.zero_grad()
            loss = nn.cross_entropy(model(xb), yb, label_smoothing=0.1)
            loss.backward()
            optimizer.step()
        schedule.step()
    model.eval()
    with st.no_grad():
        accuracy = float(np.mean(model(X_test).data.argmax(axis=1) == y_test))
    return Result(accuracy, time.perf_counter() - start, float(loss.item()))


if __name__ == "__main__":
    for s in range(5):
        print(f"moons seed {s}: test accuracy {train_moons(s).accuracy:.4f}")
    print(f"digits: {train_digits()}")
