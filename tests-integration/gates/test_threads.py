"""Several threads training separate models at once get what sequential training gets."""

from __future__ import annotations

import sys
import threading

import numpy as np

import sg_nn as nn
from sg_optim import SGD, Adam


def _train(seed: int, steps: int = 60) -> tuple[list[float], dict[str, np.ndarray]]:
    """A small MLP on two moons: the loss of every step and the final weights."""
    rng = np.random.default_rng(seed)
    X, y = nn.data.make_moons(64, noise=0.1, rng=rng)
    model = nn.MLP([2, 16, 16, 2], rng=rng)
    opt = (Adam if seed % 2 else SGD)(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    return losses, model.state_dict()


def test_models_trained_in_threads_match_sequential_training() -> None:
    seeds = list(range(6))
    expected = {seed: _train(seed) for seed in seeds}
    got: dict[int, tuple[list[float], dict[str, np.ndarray]]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(seeds))

    def worker(seed: int) -> None:
        try:
            start.wait()
            got[seed] = _train(seed)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # many more interleavings than the default 5 ms
    try:
        threads = [threading.Thread(target=worker, args=(seed,)) for seed in seeds]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)

    assert errors == []
    for seed in seeds:
        losses, state = got[seed]
        assert losses == expected[seed][0]
        for name, value in expected[seed][1].items():
            np.testing.assert_array_equal(state[name], value)
