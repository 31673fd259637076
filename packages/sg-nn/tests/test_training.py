"""End to end: a small MLP learns the moons with a hand-written SGD loop (no optimizer
package)."""

from __future__ import annotations

import numpy as np

import sg_nn as nn


def test_mlp_learns_the_moons_with_plain_sgd() -> None:
    X, y = nn.data.make_moons(200, noise=0.1, rng=0)
    targets = y.reshape(-1, 1).astype(np.float64)
    model = nn.MLP([2, 8, 1], activation="tanh", rng=np.random.default_rng(0))
    lr = 0.5

    def step() -> float:
        model.zero_grad()
        loss = nn.binary_cross_entropy_with_logits(model(X), targets)
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        return loss.item()

    losses = [step() for _ in range(300)]
    assert all(np.isfinite(losses))
    assert losses[0] > 0.5
    assert losses[-1] < 0.4 * losses[0]
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    predictions = model(X).data.ravel() > 0
    assert np.mean(predictions == y) > 0.85


def test_minibatch_training_with_a_seeded_pipeline_is_reproducible() -> None:
    def train(seed: int) -> list[np.ndarray]:
        X, y = nn.data.make_moons(64, noise=0.1, rng=seed)
        X_train, _, y_train, _ = nn.data.train_test_split(X, y, rng=seed)
        model = nn.MLP([2, 8, 1], rng=np.random.default_rng(seed))
        gen = np.random.default_rng(seed)
        for _ in range(3):
            for xb, yb in nn.data.iterate_minibatches(X_train, y_train, batch_size=16, rng=gen):
                model.zero_grad()
                loss = nn.BCEWithLogitsLoss()(model(xb), yb.reshape(-1, 1).astype(float))
                loss.backward()
                for p in model.parameters():
                    p.data -= 0.1 * p.grad
        return [p.data.copy() for p in model.parameters()]

    a, b, c = train(1), train(1), train(2)
    assert all(u.tobytes() == v.tobytes() for u, v in zip(a, b))
    assert not all(np.array_equal(u, w) for u, w in zip(a, c))
