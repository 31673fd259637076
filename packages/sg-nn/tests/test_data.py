"""Datasets, train/test splitting and minibatches: shapes, geometry, seeding, errors."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as hs
import numpy as np
import pytest
from hypothesis import given, settings

import sg_nn as nn
from sg_nn import data
from sg_tensor import Tensor

MAKERS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "moons": data.make_moons,
    "circles": data.make_circles,
    "spirals": data.make_spirals,
}


# ---------------------------------------------------------------------------------------
# shared properties of the datasets
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(MAKERS))
@pytest.mark.parametrize("n", [2, 7, 100, 101])
def test_datasets_shapes_dtypes_and_balanced_labels(name: str, n: int) -> None:
    X, y = MAKERS[name](n, noise=0.1, rng=0)
    assert X.shape == (n, 2)
    assert y.shape == (n,)
    assert X.dtype == np.float64
    assert y.dtype == np.int64
    counts = np.bincount(y, minlength=2)
    assert counts.sum() == n
    assert len(counts) == 2
    assert counts.max() - counts.min() <= 1
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("name", list(MAKERS))
def test_datasets_default_size(name: str) -> None:
    X, y = MAKERS[name]()
    assert X.shape == (100, 2)
    np.testing.assert_array_equal(np.bincount(y), [50, 50])


def test_moons_and_circles_put_the_extra_sample_in_class_one() -> None:
    for maker in (data.make_moons, data.make_circles):
        np.testing.assert_array_equal(np.bincount(maker(11)[1]), [5, 6])


@pytest.mark.parametrize("name", list(MAKERS))
@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_datasets_are_deterministic_per_seed(name: str, noise: float) -> None:
    make = MAKERS[name]
    X1, y1 = make(60, noise=noise, rng=3)
    X2, y2 = make(60, noise=noise, rng=3)
    X3, y3 = make(60, noise=noise, rng=np.random.default_rng(3))
    assert X1.tobytes() == X2.tobytes() == X3.tobytes()
    assert y1.tobytes() == y2.tobytes() == y3.tobytes()
    X4, y4 = make(60, noise=noise, rng=4)
    assert not np.array_equal(X1, X4)
    if noise == 0.0:  # the same points, in another order
        assert not np.array_equal(y1, y4)
        order1, order4 = np.lexsort(X1.T), np.lexsort(X4.T)
        np.testing.assert_array_equal(X1[order1], X4[order4])
        np.testing.assert_array_equal(y1[order1], y4[order4])


@pytest.mark.parametrize("name", list(MAKERS))
def test_noise_moves_points_off_the_curves_by_about_its_scale(name: str) -> None:
    make = MAKERS[name]
    clean, _ = make(4000, rng=5)  # a dense sampling of the curves
    noisy, _ = make(300, noise=0.05, rng=5)
    # the distance to the curve is about |N(0, 0.05)|, whose mean is 0.05 * sqrt(2 / pi)
    dist = nearest_distance(noisy, clean)
    assert 0.03 < dist.mean() < 0.05
    assert dist.max() < 0.3


def nearest_distance(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    d = np.linalg.norm(points[:, None, :] - reference[None, :, :], axis=2)
    return d.min(axis=1)


# ---------------------------------------------------------------------------------------
# geometry without noise
# ---------------------------------------------------------------------------------------
def test_moons_without_noise_lie_exactly_on_the_half_circles() -> None:
    X, y = data.make_moons(200, noise=0.0, rng=1)
    outer, inner = X[y == 0], X[y == 1]
    # outer moon: the upper half of the unit circle
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0, rtol=1e-14)
    assert np.all(outer[:, 1] >= 0)
    # inner moon: the lower half of the unit circle centred at (1, 0.5)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1, inner[:, 1] - 0.5), 1.0, rtol=1e-14)
    assert np.all(inner[:, 1] <= 0.5)
    # the ends of each half circle are included, as scikit-learn's
    for point in ([1.0, 0.0], [-1.0, 0.0]):
        assert np.min(np.linalg.norm(outer - point, axis=1)) < 1e-15
    for point in ([0.0, 0.5], [2.0, 0.5]):
        assert np.min(np.linalg.norm(inner - point, axis=1)) < 1e-15
    # evenly spaced angles
    angles = np.sort(np.arctan2(outer[:, 1], outer[:, 0]))
    np.testing.assert_allclose(np.diff(angles), math.pi / 99, rtol=1e-9)


@pytest.mark.parametrize("factor", [0.8, 0.3])
def test_circles_without_noise_have_radius_one_and_factor(factor: float) -> None:
    X, y = data.make_circles(100, noise=0.0, factor=factor, rng=2)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0, rtol=1e-14)
    np.testing.assert_allclose(radius[y == 1], factor, rtol=1e-14)
    angles = np.sort(np.mod(np.arctan2(X[y == 0, 1], X[y == 0, 0]), 2 * np.pi))
    np.testing.assert_allclose(np.diff(angles), 2 * np.pi / 50, rtol=1e-9)
    assert len(np.unique(np.round(X, 12), axis=0)) == 100  # no duplicate (endpoint excluded)


@pytest.mark.parametrize(("n_classes", "turns"), [(2, 1.0), (3, 1.5), (5, 0.5)])
def test_spirals_without_noise_follow_the_arm_formula(n_classes: int, turns: float) -> None:
    n = 150
    X, y = data.make_spirals(n, n_classes=n_classes, noise=0.0, turns=turns, rng=3)
    assert set(np.unique(y)) == set(range(n_classes))
    assert np.bincount(y).max() - np.bincount(y).min() <= 1
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(np.sort(r), np.linspace(0.05, 1.0, n), rtol=1e-13)
    expected_angle = 2 * np.pi * (turns * r + y / n_classes)
    np.testing.assert_allclose(X[:, 0], r * np.cos(expected_angle), atol=1e-12)
    np.testing.assert_allclose(X[:, 1], r * np.sin(expected_angle), atol=1e-12)


# ---------------------------------------------------------------------------------------
# dataset errors
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(MAKERS))
@pytest.mark.parametrize("n", [1, 0, -5])
def test_datasets_need_two_samples(name: str, n: int) -> None:
    with pytest.raises(ValueError, match=f"make_{name}: n_samples must be at least 2, got {n}"):
        MAKERS[name](n)


@pytest.mark.parametrize("name", list(MAKERS))
def test_datasets_need_an_integer_count(name: str) -> None:
    with pytest.raises(TypeError, match=f"make_{name}: n_samples must be an int, got 10.0"):
        MAKERS[name](10.0)


@pytest.mark.parametrize("factor", [0.0, 1.0, 1.5, -0.2])
def test_circles_factor_must_be_inside_the_unit_interval(factor: float) -> None:
    with pytest.raises(ValueError, match=re.escape(f"factor must be in (0, 1), got {factor}")):
        data.make_circles(10, factor=factor)


def test_spirals_need_two_classes() -> None:
    with pytest.raises(ValueError, match="n_classes must be at least 2, got 1"):
        data.make_spirals(10, n_classes=1)


@pytest.mark.parametrize("name", list(MAKERS))
@pytest.mark.parametrize("bad", ["0", 1.5, np.random.RandomState(0)])
def test_datasets_reject_a_bad_rng(name: str, bad: Any) -> None:
    with pytest.raises(TypeError, match="rng must be a numpy Generator or an int seed"):
        MAKERS[name](10, noise=0.1, rng=bad)


# ---------------------------------------------------------------------------------------
# train_test_split
# ---------------------------------------------------------------------------------------
def indexed(n: int) -> tuple[np.ndarray, np.ndarray]:
    """X whose rows know their index, and y derived from it, to check pairing."""
    X = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(float)
    return X, np.arange(n) * 10


@pytest.mark.parametrize(("test_size", "n_test"), [(0.25, 25), (0.2, 20), (0.5, 50), (10, 10)])
def test_train_test_split_sizes_cover_and_pairing(test_size: float, n_test: int) -> None:
    X, y = indexed(100)
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=test_size, rng=0)
    assert X_train.shape == (100 - n_test, 2)
    assert X_test.shape == (n_test, 2)
    assert y_train.shape == (100 - n_test,)
    assert y_test.shape == (n_test,)
    train_ids, test_ids = X_train[:, 0].astype(int), X_test[:, 0].astype(int)
    assert not set(train_ids) & set(test_ids)  # disjoint
    np.testing.assert_array_equal(np.sort(np.concatenate([train_ids, test_ids])), np.arange(100))
    # the same permutation for X and y
    np.testing.assert_array_equal(y_train, train_ids * 10)
    np.testing.assert_array_equal(y_test, test_ids * 10)
    np.testing.assert_array_equal(X_train[:, 1], -train_ids)
    assert not np.array_equal(train_ids, np.sort(train_ids))  # shuffled


def test_train_test_split_is_seeded() -> None:
    X, y = indexed(50)
    a = data.train_test_split(X, y, rng=1)
    b = data.train_test_split(X, y, rng=np.random.default_rng(1))
    c = data.train_test_split(X, y, rng=2)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])


def test_train_test_split_without_shuffle_takes_the_last_part_as_test() -> None:
    """As scikit-learn's."""
    X, y = indexed(10)
    _, X_test, y_train, _ = data.train_test_split(X, y, test_size=3, shuffle=False)
    np.testing.assert_array_equal(X_test[:, 0], [7, 8, 9])
    np.testing.assert_array_equal(y_train, np.arange(7) * 10)


@pytest.mark.parametrize(("test_size", "n_test"), [
    (0.25, 3), (0.35, 4), (0.05, 1), (np.float32(0.5), 5), (np.int64(2), 2),
])  # fmt: skip
def test_train_test_split_rounds_a_fraction_up_as_scikit_learn(
    test_size: Any, n_test: int
) -> None:
    X, _ = indexed(10)
    _, X_test = data.train_test_split(X, test_size=test_size)
    assert len(X_test) == n_test


@pytest.mark.parametrize("bad", [True, "0.3", None])
def test_train_test_split_refuses_a_test_size_that_is_not_a_number(bad: Any) -> None:
    with pytest.raises(TypeError, match="test_size must be a fraction or a count"):
        data.train_test_split(np.zeros(10), test_size=bad)


def test_train_test_split_one_or_three_arrays_and_lists() -> None:
    X, y = indexed(20)
    parts = data.train_test_split(X, test_size=0.25)
    assert [p.shape for p in parts] == [(15, 2), (5, 2)]
    w = list(range(20))
    parts = data.train_test_split(X, y, w, test_size=4)
    assert len(parts) == 6
    assert isinstance(parts[4], np.ndarray)
    np.testing.assert_array_equal(parts[4], parts[0][:, 0])
    np.testing.assert_array_equal(parts[5] * 10, parts[3])


def test_train_test_split_errors() -> None:
    X, y = indexed(10)
    with pytest.raises(ValueError, match="arrays must have the same length, got 10, 9"):
        data.train_test_split(X, y[:9])
    with pytest.raises(ValueError, match="give at least one array"):
        data.train_test_split()
    for bad in (0.0, 1.0, 1.5, -0.25, 0, 10, 11, -1, 0.95):
        with pytest.raises(ValueError, match=f"test_size {bad} leaves an empty train or test"):
            data.train_test_split(X, y, test_size=bad)


# ---------------------------------------------------------------------------------------
# iterate_minibatches
# ---------------------------------------------------------------------------------------
def epoch(n: int, **kwargs: Any) -> list[tuple[np.ndarray, ...]]:
    X, y = indexed(n)
    return list(data.iterate_minibatches(X, y, **kwargs))


def test_minibatches_cover_every_sample_once_with_paired_rows() -> None:
    batches = epoch(10, batch_size=3, rng=0)
    assert [len(xb) for xb, _ in batches] == [3, 3, 3, 1]
    ids = np.concatenate([xb[:, 0] for xb, _ in batches]).astype(int)
    np.testing.assert_array_equal(np.sort(ids), np.arange(10))
    assert not np.array_equal(ids, np.arange(10))  # shuffled
    for xb, yb in batches:
        assert xb.shape[1:] == (2,)
        np.testing.assert_array_equal(yb, xb[:, 0] * 10)


def test_minibatches_drop_last() -> None:
    batches = epoch(10, batch_size=3, rng=0, drop_last=True)
    assert [len(xb) for xb, _ in batches] == [3, 3, 3]
    assert len({int(i) for xb, _ in batches for i in xb[:, 0]}) == 9
    assert [len(xb) for xb, _ in epoch(9, batch_size=3, drop_last=True)] == [3, 3, 3]
    assert epoch(2, batch_size=3, drop_last=True) == []


def test_minibatches_without_shuffle_keep_the_order() -> None:
    batches = epoch(7, batch_size=4, shuffle=False)
    np.testing.assert_array_equal(batches[0][0][:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(batches[1][1], [40, 50, 60])


def test_minibatch_order_is_reproducible_from_a_seed() -> None:
    first = [yb for _, yb in epoch(20, batch_size=6, rng=7)]
    again = [yb for _, yb in epoch(20, batch_size=6, rng=np.random.default_rng(7))]
    other = [yb for _, yb in epoch(20, batch_size=6, rng=8)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_a_shared_generator_gives_a_new_order_each_epoch_reproducibly() -> None:
    def two_epochs(seed: int) -> list[np.ndarray]:
        gen = np.random.default_rng(seed)
        orders = []
        for _ in range(2):
            orders.append(np.concatenate([yb for _, yb in epoch(30, batch_size=8, rng=gen)]))
        return orders

    a1, a2 = two_epochs(0)
    b1, b2 = two_epochs(0)
    assert not np.array_equal(a1, a2)
    np.testing.assert_array_equal(np.sort(a1), np.sort(a2))
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)


def test_minibatches_errors() -> None:
    X, y = indexed(10)
    for bad in (0, -2):
        with pytest.raises(ValueError, match=f"batch_size must be positive, got {bad}"):
            list(data.iterate_minibatches(X, y, batch_size=bad))
    with pytest.raises(ValueError, match="arrays must have the same length"):
        list(data.iterate_minibatches(X, y[:5], batch_size=2))


@settings(max_examples=60, deadline=None, database=None)
@given(
    n=hs.integers(1, 40),
    batch_size=hs.integers(1, 15),
    drop_last=hs.booleans(),
    seed=hs.integers(0, 2**32 - 1),
)
def test_minibatches_property(n: int, batch_size: int, drop_last: bool, seed: int) -> None:
    batches = epoch(n, batch_size=batch_size, rng=seed, drop_last=drop_last)
    sizes = [len(yb) for _, yb in batches]
    full, rest = divmod(n, batch_size)
    expected = [batch_size] * full + ([] if drop_last or rest == 0 else [rest])
    assert sizes == expected
    ids = np.concatenate([yb for _, yb in batches]) // 10 if batches else np.array([], int)
    assert len(set(ids.tolist())) == len(ids)  # no sample twice
    assert len(ids) == (full * batch_size if drop_last else n)


def test_minibatches_by_default_draw_a_new_order_each_epoch_from_the_default_generator() -> None:
    # Regression: the default used to be rng=0, so every epoch had the same order.
    def orders(seed: int) -> list[np.ndarray]:
        nn.manual_seed(seed)
        return [np.concatenate([yb for _, yb in epoch(30, batch_size=8)]) for _ in range(3)]

    first, second, third = orders(5)
    assert not np.array_equal(first, second)
    assert not np.array_equal(second, third)
    for order in (first, second, third):
        np.testing.assert_array_equal(np.sort(order), np.arange(30) * 10)
    for a, b in zip(orders(5), (first, second, third)):  # reproducible from manual_seed
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(orders(6)[0], first)


def test_minibatches_with_an_int_seed_repeat_the_same_order() -> None:
    runs = [np.concatenate([yb for _, yb in epoch(30, batch_size=8, rng=4)]) for _ in range(3)]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[1], runs[2])
    expected = np.random.default_rng(4).permutation(30) * 10  # numpy's permutation, seed 4
    np.testing.assert_array_equal(runs[0], expected)


def test_rng_none_means_the_default_generator_everywhere_in_data() -> None:
    X, y = indexed(40)
    nn.manual_seed(11)
    a = data.train_test_split(X, y, rng=None)
    moons_a = data.make_moons(20, noise=0.1, rng=None)
    nn.manual_seed(11)
    b = data.train_test_split(X, y, rng=None)
    moons_b = data.make_moons(20, noise=0.1, rng=None)
    for u, v in zip([*a, *moons_a], [*b, *moons_b]):
        np.testing.assert_array_equal(u, v)
    expected_test = np.random.default_rng(11).permutation(40)[:10]
    np.testing.assert_array_equal(a[1][:, 0], expected_test)


def test_minibatches_length_error_names_the_lengths() -> None:
    X, y = indexed(10)
    with pytest.raises(ValueError, match="same length, got 10, 5"):
        list(data.iterate_minibatches(X, y[:5], batch_size=2))


# ---------------------------------------------------------------------------------------
# TensorDataset
# ---------------------------------------------------------------------------------------
def test_tensor_dataset_indexes_the_rows_of_every_tensor() -> None:
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.array([7, 8, 9, 10])
    ds = data.TensorDataset(Tensor(X), y)
    assert len(ds) == 4
    assert all(isinstance(t, Tensor) for t in ds.tensors)
    for i in (0, 2, -1):
        sample = ds[i]
        assert isinstance(sample, tuple)
        assert len(sample) == 2
        np.testing.assert_array_equal(sample[0].data, X[i])
        assert sample[0].dtype == np.float32
        assert sample[1].item() == y[i]
        assert sample[1].dtype == np.int64
    assert ds[0:2][0].shape == (2, 3)  # slices work as PyTorch's


def test_tensor_dataset_errors() -> None:
    with pytest.raises(ValueError, match=r"TensorDataset: the tensors .* got sizes 5, 4, 5"):
        data.TensorDataset(np.zeros((5, 2)), np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="TensorDataset: give at least one tensor"):
        data.TensorDataset()
    with pytest.raises(ValueError, match=re.escape("first dimension, got (3,), ()")):
        data.TensorDataset(np.zeros(3), np.float64(1.0))


# ---------------------------------------------------------------------------------------
# DataLoader
# ---------------------------------------------------------------------------------------
def loader_dataset(n: int) -> data.TensorDataset:
    """Features whose first column is the sample index, labels 10 * index."""
    X, y = indexed(n)
    return data.TensorDataset(X, y)


def epoch_ids(loader: data.DataLoader) -> list[np.ndarray]:
    """The sample indices of each batch of one epoch, checking rows stay paired."""
    ids = []
    for xb, yb in loader:
        assert isinstance(xb, Tensor)
        assert isinstance(yb, Tensor)
        np.testing.assert_array_equal(yb.data, xb.data[:, 0] * 10)
        ids.append(yb.data // 10)
    return ids


def test_loader_without_shuffle_gives_the_rows_in_order() -> None:
    X = np.random.default_rng(0).standard_normal((7, 3)).astype(np.float32)
    y = np.arange(7) % 3
    batches = list(data.DataLoader(data.TensorDataset(X, y), batch_size=3))
    assert [type(b) for b in batches] == [list] * 3  # as PyTorch's default_collate
    for b, rows in zip(batches, [slice(0, 3), slice(3, 6), slice(6, 7)]):
        xb, yb = b
        assert xb.dtype == np.float32
        assert yb.dtype == np.int64
        np.testing.assert_array_equal(xb.data, X[rows])
        np.testing.assert_array_equal(yb.data, y[rows])


def test_loader_defaults_are_pytorchs() -> None:
    loader = data.DataLoader(loader_dataset(3))
    assert (loader.batch_size, loader.shuffle, loader.drop_last) == (1, False, False)
    assert loader.generator is None
    assert [ids.tolist() for ids in epoch_ids(loader)] == [[0], [1], [2]]


@pytest.mark.parametrize(("n", "batch_size", "drop_last", "length"), [
    (10, 3, False, 4), (10, 3, True, 3), (9, 3, False, 3), (9, 3, True, 3),
    (2, 3, False, 1), (2, 3, True, 0), (0, 4, False, 0), (1, 1, True, 1),
])  # fmt: skip
def test_loader_len_is_ceil_or_floor(
    n: int, batch_size: int, drop_last: bool, length: int
) -> None:
    loader = data.DataLoader(
        data.TensorDataset(np.zeros((n, 2))), batch_size=batch_size, drop_last=drop_last
    )
    assert len(loader) == length
    assert len(list(loader)) == length


def test_shuffled_epochs_are_new_permutations_reproducible_from_the_seed() -> None:
    def epochs(seed: int, count: int = 4) -> list[np.ndarray]:
        loader = data.DataLoader(
            loader_dataset(25), batch_size=4, shuffle=True, generator=np.random.default_rng(seed)
        )
        return [np.concatenate(epoch_ids(loader)) for _ in range(count)]

    runs = epochs(3)
    for order in runs:
        np.testing.assert_array_equal(np.sort(order), np.arange(25))  # every sample once
    assert len({order.tobytes() for order in runs}) == 4  # a new order each epoch
    assert not any(np.array_equal(order, np.arange(25)) for order in runs)
    for a, b in zip(epochs(3), runs):  # the same seed, the same sequence of epochs
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(epochs(4, 1)[0], runs[0])


def test_shuffled_order_is_numpys_permutation_from_the_generator() -> None:
    gen, reference = np.random.default_rng(8), np.random.default_rng(8)
    loader = data.DataLoader(loader_dataset(12), batch_size=5, shuffle=True, generator=gen)
    for _ in range(2):
        np.testing.assert_array_equal(np.concatenate(epoch_ids(loader)), reference.permutation(12))


def test_shuffle_without_a_generator_uses_the_default_generator() -> None:
    loader = data.DataLoader(loader_dataset(20), batch_size=6, shuffle=True)

    def two_epochs() -> list[np.ndarray]:
        return [np.concatenate(epoch_ids(loader)) for _ in range(2)]

    nn.manual_seed(123)
    first = two_epochs()
    nn.manual_seed(123)
    again = two_epochs()
    assert not np.array_equal(first[0], first[1])
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    reference = np.random.default_rng(123)
    for order in first:
        np.testing.assert_array_equal(order, reference.permutation(20))


def test_each_iteration_draws_its_order_when_it_starts() -> None:
    loader = data.DataLoader(
        loader_dataset(10), batch_size=3, shuffle=True, generator=np.random.default_rng(1)
    )
    it1, it2 = iter(loader), iter(loader)
    ids1 = np.concatenate([yb.data for _, yb in it1]) // 10
    ids2 = np.concatenate([yb.data for _, yb in it2]) // 10
    reference = np.random.default_rng(1)
    np.testing.assert_array_equal(ids1, reference.permutation(10))
    np.testing.assert_array_equal(ids2, reference.permutation(10))


def test_loader_drop_last_drops_only_the_incomplete_batch() -> None:
    loader = data.DataLoader(
        loader_dataset(11),
        batch_size=4,
        shuffle=True,
        drop_last=True,
        generator=np.random.default_rng(0),
    )
    for _ in range(3):
        batches = epoch_ids(loader)
        assert [len(b) for b in batches] == [4, 4]
        ids = np.concatenate(batches)
        assert len(set(ids.tolist())) == 8
    unshuffled = data.DataLoader(loader_dataset(11), batch_size=4, drop_last=True)
    np.testing.assert_array_equal(np.concatenate(epoch_ids(unshuffled)), np.arange(8))


@settings(max_examples=60, deadline=None, database=None)
@given(
    n=hs.integers(0, 40),
    batch_size=hs.integers(1, 15),
    drop_last=hs.booleans(),
    shuffle=hs.booleans(),
    seed=hs.integers(0, 2**32 - 1),
)
def test_loader_property(
    n: int, batch_size: int, drop_last: bool, shuffle: bool, seed: int
) -> None:
    loader = data.DataLoader(
        loader_dataset(n),
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        generator=np.random.default_rng(seed),
    )
    batches = epoch_ids(loader)
    full, rest = divmod(n, batch_size)
    expected = [batch_size] * full + ([] if drop_last or rest == 0 else [rest])
    assert [len(b) for b in batches] == expected
    assert len(loader) == len(expected)
    ids = np.concatenate(batches) if batches else np.array([], dtype=np.int64)
    assert len(set(ids.tolist())) == len(ids)
    if not drop_last:
        np.testing.assert_array_equal(np.sort(ids), np.arange(n))
    if not shuffle:
        np.testing.assert_array_equal(ids, np.arange(len(ids)))


def test_a_dataset_of_tuples_is_stacked_field_by_field() -> None:
    rng = np.random.default_rng(2)
    rows = rng.standard_normal((5, 2, 3))
    samples = [(rows[i], i, float(i) / 2, f"s{i}") for i in range(5)]
    batches = list(data.DataLoader(samples, batch_size=2))
    assert len(batches) == 3
    xb, ib, fb, sb = batches[1]
    assert isinstance(batches[1], list)  # a list, as PyTorch's
    np.testing.assert_array_equal(xb.data, rows[2:4])
    assert xb.dtype == np.float64
    assert ib.dtype == np.int64
    np.testing.assert_array_equal(ib.data, [2, 3])
    assert fb.dtype == np.float64
    np.testing.assert_array_equal(fb.data, [1.0, 1.5])
    assert sb == ["s2", "s3"]


def test_lists_named_tuples_dicts_and_bools_are_batched_like_pytorch() -> None:
    from collections import namedtuple

    Pair = namedtuple("Pair", ["x", "flag"])
    named = list(data.DataLoader([Pair(np.full(2, i), i % 2 == 0) for i in range(3)], 3))
    assert type(named[0]) is Pair
    np.testing.assert_array_equal(named[0].x.data, [[0, 0], [1, 1], [2, 2]])
    assert named[0].flag.dtype == np.bool_
    np.testing.assert_array_equal(named[0].flag.data, [True, False, True])
    lists = list(data.DataLoader([[i, -i] for i in range(4)], batch_size=4))
    assert isinstance(lists[0], list)
    np.testing.assert_array_equal(lists[0][1].data, [0, -1, -2, -3])
    dicts = list(data.DataLoader([{"a": np.float32(i), "b": [i]} for i in range(3)], 2))
    assert dicts[0]["a"].dtype == np.float32
    np.testing.assert_array_equal(dicts[0]["a"].data, [0, 1])
    np.testing.assert_array_equal(dicts[1]["b"][0].data, [2])


def test_tensor_dataset_batches_equal_the_stacked_samples() -> None:
    X = np.random.default_rng(4).standard_normal((9, 2, 2))
    y = np.arange(9)
    as_tensors = data.DataLoader(
        data.TensorDataset(X, y), 4, shuffle=True, generator=np.random.default_rng(6)
    )
    as_tuples = data.DataLoader(
        list(zip(X, y)), 4, shuffle=True, generator=np.random.default_rng(6)
    )
    for _ in range(2):
        for (xa, ya), (xb, yb) in zip(as_tensors, as_tuples, strict=True):
            assert xa.data.tobytes() == xb.data.tobytes()
            np.testing.assert_array_equal(ya.data, yb.data)
            assert ya.dtype == yb.dtype


def test_a_tensor_dataset_subclass_keeps_its_getitem() -> None:
    class Doubled(data.TensorDataset):
        def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
            return tuple(t[index] * 2 for t in self.tensors)

    (xb,) = next(iter(data.DataLoader(Doubled(np.arange(4.0)), batch_size=4)))
    np.testing.assert_array_equal(xb.data, [0.0, 2.0, 4.0, 6.0])


def test_batch_size_none_yields_unbatched_samples() -> None:
    X = np.arange(6.0).reshape(3, 2)
    samples = list(data.DataLoader([(X[i], i) for i in range(3)], batch_size=None))
    assert len(samples) == 3
    x1, i1 = samples[1]
    assert isinstance(x1, Tensor)
    np.testing.assert_array_equal(x1.data, X[1])
    assert i1 == 1
    loader = data.DataLoader(loader_dataset(4), batch_size=None)
    assert len(loader) == 4
    assert [int(s[1].item()) for s in loader] == [0, 10, 20, 30]


def test_loader_errors() -> None:
    ds = loader_dataset(4)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match=re.escape(f"positive integer or None, got {bad!r}")):
            data.DataLoader(ds, batch_size=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"batch_size=None .* drop_last=True"):
        data.DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(TypeError, match=r"generator must be a numpy Generator .* got int"):
        data.DataLoader(ds, shuffle=True, generator=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs __len__ and __getitem__, got generator"):
        data.DataLoader(x for x in range(3))
    with pytest.raises(TypeError):
        data.DataLoader(ds, 2, True, None)  # type: ignore[misc]  # PyTorch's 4th is sampler
    with pytest.raises(ValueError, match=re.escape("different shapes [(2,), (3,)]")):
        list(data.DataLoader([np.zeros(2), np.zeros(3)], batch_size=2))
    with pytest.raises(TypeError, match="cannot batch samples of type object"):
        list(data.DataLoader([object(), object()], batch_size=2))


def test_a_batch_of_numbers_takes_the_dtype_of_all_of_them() -> None:
    """As torch.tensor(batch): [1, 2.5] is a float batch, not the first sample's int."""
    (batch,) = list(data.DataLoader([1, 2.5, 3, 4.5], batch_size=4))
    np.testing.assert_array_equal(batch.data, [1.0, 2.5, 3.0, 4.5])
    (mixed,) = list(data.DataLoader([True, 0.5, 2], batch_size=3))
    np.testing.assert_array_equal(mixed.data, [1.0, 0.5, 2.0])
    (ints,) = list(data.DataLoader([True, 2], batch_size=2))
    assert ints.dtype == np.int64
    (flags,) = list(data.DataLoader([True, False], batch_size=2))
    assert flags.dtype == np.bool_
    (fields,) = list(data.DataLoader([{"a": 1}, {"a": 2.7}], batch_size=2))
    np.testing.assert_array_equal(fields["a"].data, [1.0, 2.7])


def test_batches_of_tensors_that_require_grad_stay_in_the_graph() -> None:
    w = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    for dataset in (data.TensorDataset(w, np.arange(3)), [(w[i], i) for i in range(3)]):
        w.grad = None
        xb, _ = next(iter(data.DataLoader(dataset, batch_size=2)))
        assert xb.requires_grad
        xb.sum().backward()
        np.testing.assert_array_equal(w.grad, [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])


def test_a_batch_of_numbers_beyond_int64_is_float_when_floats_are_in_it() -> None:
    (batch,) = list(data.DataLoader([1.0, 2**70], batch_size=2))
    assert batch.dtype == np.float64
    with pytest.raises(OverflowError, match="does not fit in int64"):
        list(data.DataLoader([1, 2**63], batch_size=2))
    with pytest.raises(TypeError, match="cannot batch numbers with other samples"):
        list(data.DataLoader([1, "a"], batch_size=2))


def test_train_test_split_rounds_in_the_fractions_own_precision() -> None:
    """As scikit-learn: np.float32(0.1) of 1000 samples is 100, not 101."""
    assert len(data.train_test_split(np.zeros(1000), test_size=np.float32(0.1))[1]) == 100
    assert len(data.train_test_split(np.zeros(10), test_size=np.float32(0.1))[1]) == 1
