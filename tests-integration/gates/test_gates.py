"""Accuracy gates: sg's own MLP, CNN and Adam must really learn (``nox -s gates``)."""

from __future__ import annotations

import numpy as np
from training import train_digits, train_digits_cnn, train_moons

MOONS_SEEDS = [0, 1, 2, 3, 4]
CNN_SEEDS = [0, 1, 2]


def test_two_moons_every_seed_above_95_percent_and_mean_at_least_98() -> None:
    results = {seed: train_moons(seed) for seed in MOONS_SEEDS}
    print("\ntwo moons, MLP 2-16-16-1, Adam, 300 held-out points per seed")
    for seed, r in results.items():
        print(f"  seed {seed}: test accuracy {r.accuracy:.4f}  ({r.seconds:.1f} s)")
    accuracies = [r.accuracy for r in results.values()]
    mean = float(np.mean(accuracies))
    print(f"  mean test accuracy {mean:.4f}")
    assert all(a > 0.95 for a in accuracies), accuracies
    assert mean >= 0.98


def test_digits_at_least_97_percent() -> None:
    result = train_digits(seed=0)
    print(
        f"\ndigits 8x8, MLP 64-256-128-10: test accuracy {result.accuracy:.4f} "
        f"({result.seconds:.1f} s)"
    )
    assert result.accuracy >= 0.97


def test_digits_cnn_at_least_98_5_percent_on_every_seed() -> None:
    print("\ndigits 8x8 as images, CNN (conv-bn-relu x2, pool, x2, pool, linear), AdamW")
    accuracies = []
    for seed in CNN_SEEDS:
        result = train_digits_cnn(seed)
        accuracies.append(result.accuracy)
        print(f"  seed {seed}: test accuracy {result.accuracy:.4f}  ({result.seconds:.1f} s)")
    assert all(a >= 0.985 for a in accuracies), accuracies
