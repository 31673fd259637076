"""The gate workloads: two moons and scikit-learn's digits, trained with sg's own Adam.

Used by the gate tests (``nox -s gates``) and runnable alone:
``python tests-integration/gates/training.py``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

import sg_nn as nn
import sg_tensor as st
from sg_optim import Adam, AdamW, CosineAnnealingLR

T = TypeVar("T")


def progress(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    """Yield ``items``, drawing a progress bar on stderr when it is a terminal."""
    interactive = sys.stderr.isatty()
    for i, item in enumerate(items, 1):
        yield item
        if interactive:
            filled = int(30 * i / total)
            sys.stderr.write(f"\r  {label} [{'#' * filled}{'.' * (30 - filled)}] {i}/{total}")
            sys.stderr.flush()
    if interactive:
        sys.stderr.write("\r" + " " * (len(label) + 50) + "\r")


@dataclass
class Result:
    accuracy: float
    seconds: float
    final_loss: float


def train_moons(seed: int, epochs: int = 100) -> Result:
    """MLP 2-16-16-1 on 1,000 noisy two-moons points (30% held out), Adam, BCE with logits."""
    start = time.perf_counter()
    X, y = nn.data.make_moons(1000, noise=0.1, rng=seed)
    X_train, X_test, y_train, y_test = nn.data.train_test_split(X, y, test_size=0.3, rng=seed)
    model = nn.MLP([2, 16, 16, 1], rng=np.random.default_rng(seed))
    optimizer = Adam(model.parameters(), lr=0.01)
    batches = np.random.default_rng(seed)
    loss = st.tensor(np.nan)
    for _ in progress(range(epochs), epochs, f"moons seed {seed}"):
        for xb, yb in nn.data.iterate_minibatches(X_train, y_train, batch_size=64, rng=batches):
            optimizer.zero_grad()
            loss = nn.binary_cross_entropy_with_logits(model(xb).reshape(-1), yb.astype(float))
            loss.backward()
            optimizer.step()
    with st.no_grad():
        predicted = model(X_test).data.reshape(-1) > 0
    accuracy = float(np.mean(predicted == y_test))
    return Result(accuracy, time.perf_counter() - start, float(loss.item()))


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
        print(f"moons seed {s}: {train_moons(s)}")
    print(f"digits: {train_digits()}")
