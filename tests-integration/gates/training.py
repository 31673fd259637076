"""The gate workloads: two moons and scikit-learn's digits, trained with sg's own Adam.

Two moons is sg-verify's run (:func:`sg_verify.moons.train_moons`, also in the report);
digits is here. Used by the gate tests (``nox -s gates``) and runnable alone:
``python tests-integration/gates/training.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
    accuracy, loss = _fit(
        model, optimizer, epochs, (X_train, y_train, X_test, y_test), "digits",
        batches=np.random.default_rng(seed), batch_size=32, label_smoothing=0.1,
    )  # fmt: skip
    return Result(accuracy, time.perf_counter() - start, loss)


def _fit(
    model: nn.Module, optimizer: AdamW, epochs: int, split: tuple[np.ndarray, ...], name: str,
    *, batches: np.random.Generator, batch_size: int, label_smoothing: float = 0.0,
    augment: Callable[[np.ndarray], np.ndarray] | None = None, drop_last: bool = False,
) -> tuple[float, float]:  # fmt: skip
    """Train with cross-entropy and a cosine schedule over ``epochs`` (the inputs
    ``augment``-ed afresh every epoch), then the held-out accuracy and the last loss."""
    X_train, y_train, X_test, y_test = split
    schedule = CosineAnnealingLR(optimizer, T_max=epochs)
    loss = st.tensor(np.nan)
    for _ in progress(range(epochs), epochs, name):
        model.train()
        inputs = X_train if augment is None else augment(X_train)
        for xb, yb in nn.data.iterate_minibatches(
            inputs, y_train, batch_size=batch_size, rng=batches, drop_last=drop_last
        ):
            optimizer.zero_grad()
            loss = nn.cross_entropy(model(xb), yb, label_smoothing=label_smoothing)
            loss.backward()
            optimizer.step()
        schedule.step()
    model.eval()
    with st.no_grad():
        accuracy = float(np.mean(model(X_test).data.argmax(axis=1) == y_test))
    return accuracy, float(loss.item())


def digits_cnn(rng: np.random.Generator) -> nn.Sequential:
    """Two blocks of two 3x3 convolutions (batch norm, ReLU) each followed by 2x2 max
    pooling, then dropout and a linear head on the 64 x 2 x 2 features: 1x8x8 images to
    10 logits."""

    def block(n_in: int, n_out: int) -> list[nn.Module]:
        return [nn.Conv2d(n_in, n_out, 3, padding=1, bias=False, rng=rng), nn.BatchNorm2d(n_out),
                nn.ReLU()]  # fmt: skip

    return nn.Sequential(
        *block(1, 32), *block(32, 32), nn.MaxPool2d(2),
        *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3, rng=rng), nn.Linear(64 * 2 * 2, 10, rng=rng),
    )  # fmt: skip


def _shifted(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image moved by up to one pixel in each direction, zeros filled in: the
    standard augmentation for digits, drawn afresh every epoch."""
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.empty_like(images)
    dy, dx = rng.integers(0, 3, (2, len(images)))
    for shift_y in range(3):  # nine shifts, each applied to its images at once
        for shift_x in range(3):
            chosen = (dy == shift_y) & (dx == shift_x)
            out[chosen] = padded[chosen, :, shift_y : shift_y + 8, shift_x : shift_x + 8]
    return out


def train_digits_cnn(seed: int = 0, epochs: int = 20) -> Result:
    """The CNN of :func:`digits_cnn` on scikit-learn's digits as 1x8x8 images (25% held
    out), one-pixel shifts, AdamW with cosine annealing, batches of 64 (the last partial
    one dropped: batch norm needs a batch): standard choices, no tuning on the test split."""
    from sklearn.datasets import load_digits  # a test-only dependency of the gates

    start = time.perf_counter()
    digits = load_digits()
    images = digits.images.reshape(-1, 1, 8, 8) / 16.0
    X_train, X_test, y_train, y_test = nn.data.train_test_split(
        images, digits.target, test_size=0.25, rng=seed
    )
    mean, std = X_train.mean(), X_train.std()
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    rng = np.random.default_rng(seed)
    model = digits_cnn(rng)
    optimizer = AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    accuracy, loss = _fit(
        model, optimizer, epochs, (X_train, y_train, X_test, y_test), "digits CNN",
        batches=rng, batch_size=64, label_smoothing=0.1,
        augment=lambda images: _shifted(images, rng), drop_last=True,
    )  # fmt: skip
    return Result(accuracy, time.perf_counter() - start, loss)


if __name__ == "__main__":
    for s in range(5):
        print(f"moons seed {s}: test accuracy {train_moons(s).accuracy:.4f}")
    print(f"digits: {train_digits()}")
