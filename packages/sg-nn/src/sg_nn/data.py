"""Small datasets made with numpy alone, splitting, and seeded minibatches.

Every function takes a ``rng`` (a numpy ``Generator`` or an int seed), so the same
seed always gives the same data and the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["iterate_minibatches", "make_circles", "make_moons", "make_spirals", "train_test_split"]


def _generator(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator or an int seed, got {type(rng).__name__}")


def _check_n(n_samples: int, name: str) -> None:
    if n_samples < 2:
        raise ValueError(f"{name}: n_samples must be at least 2, got {n_samples}")


def _two_classes(
    outer: np.ndarray, inner: np.ndarray, noise: float, gen: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Stack the two classes' points (labels 0 and 1), add noise, shuffle."""
    X = np.concatenate([outer, inner])
    y = np.concatenate([np.zeros(len(outer), dtype=np.int64), np.ones(len(inner), dtype=np.int64)])
    if noise:
        X = X + gen.normal(scale=noise, size=X.shape)
    order = gen.permutation(len(X))
    return X[order], y[order]


def _circle(angles: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def make_moons(
    n_samples: int = 100, noise: float = 0.0, rng: Any = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as scikit-learn's): points ``(n, 2)``, labels 0/1."""
    _check_n(n_samples, "make_moons")
    gen = _generator(rng)
    n_out = n_samples // 2
    outer = _circle(np.linspace(0, np.pi, n_out))
    inner = 1 - _circle(np.linspace(0, np.pi, n_samples - n_out)) - np.array([0.0, 0.5])
    return _two_classes(outer, inner, noise, gen)


def make_circles(
    n_samples: int = 100, noise: float = 0.0, factor: float = 0.8, rng: Any = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle inside a large one: points ``(n, 2)``, labels 0 (outer) / 1 (inner)."""
    _check_n(n_samples, "make_circles")
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor must be in (0, 1), got {factor}")
    gen = _generator(rng)
    n_out = n_samples // 2
    outer = _circle(np.linspace(0, 2 * np.pi, n_out, endpoint=False))
    inner = factor * _circle(np.linspace(0, 2 * np.pi, n_samples - n_out, endpoint=False))
    return _two_classes(outer, inner, noise, gen)


def make_spirals(
    n_samples: int = 100, n_classes: int = 2, noise: float = 0.0, turns: float = 1.0, rng: Any = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` interleaved spiral arms: points ``(n, 2)``, labels ``0..n_classes-1``."""
    _check_n(n_samples, "make_spirals")
    if n_classes < 2:
        raise ValueError(f"make_spirals: n_classes must be at least 2, got {n_classes}")
    gen = _generator(rng)
    labels = np.arange(n_samples) % n_classes
    radius = np.linspace(0.05, 1.0, n_samples)
    angle = 2 * np.pi * (turns * radius + labels / n_classes)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    if noise:
        X = X + gen.normal(scale=noise, size=X.shape)
    order = gen.permutation(n_samples)
    return X[order], labels[order].astype(np.int64)


def train_test_split(
    *arrays: np.ndarray, test_size: float = 0.25, rng: Any = 0, shuffle: bool = True
) -> list[np.ndarray]:
    """Split arrays (same first dimension) into train and test parts:
    ``X_train, X_test, y_train, y_test = train_test_split(X, y)``."""
    if not arrays:
        raise ValueError("train_test_split: give at least one array")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(
            "train_test_split: arrays must have the same length, got "
            + ", ".join(str(len(a)) for a in arrays)
        )
    n_test = round(test_size * n) if isinstance(test_size, float) else int(test_size)
    if not 0 < n_test < n:
        raise ValueError(
            f"train_test_split: test_size {test_size} leaves an empty train or test part "
            f"for {n} samples"
        )
    order = _generator(rng).permutation(n) if shuffle else np.arange(n)
    test, train = order[:n_test], order[n_test:]
    out: list[np.ndarray] = []
    for a in arrays:
        a = np.asarray(a)
        out.extend([a[train], a[test]])
    return out


def iterate_minibatches(
    *arrays: np.ndarray,
    batch_size: int,
    shuffle: bool = True,
    rng: Any = 0,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, ...]]:
    """One epoch of minibatches ``(X_batch, y_batch, ...)``, shuffled by ``rng``.

    Pass the same Generator every epoch for a different, reproducible order each time.
    """
    if not arrays:
        raise ValueError("iterate_minibatches: give at least one array")
    if batch_size <= 0:
        raise ValueError(f"iterate_minibatches: batch_size must be positive, got {batch_size}")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("iterate_minibatches: arrays must have the same length")
    order = _generator(rng).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield tuple(np.asarray(a)[idx] for a in arrays)
