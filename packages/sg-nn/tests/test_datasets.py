"""``Dataset`` subclasses, ``Subset``, ``ConcatDataset`` and ``random_split``, and
``DataLoader`` over them, as ``torch.utils.data``'s."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sg_nn
from sg_nn.data import ConcatDataset, DataLoader, Dataset, Subset, TensorDataset, random_split
from sg_tensor import Tensor


class Squares(Dataset[tuple[Any, ...]]):
    """A user dataset returning a tuple of a Tensor, an array, a float and an int."""

    def __init__(self, n: int) -> None:
        self.x = np.arange(float(n))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[Any, ...]:
        value = self.x[i]
        return Tensor(value), np.array([value, -value]), float(value**2), int(i) % 2


def test_a_dataset_subclass_goes_through_the_data_loader() -> None:
    batches = list(DataLoader(Squares(7), batch_size=3))
    assert len(batches) == 3
    x, pair, square, parity = batches[0]
    assert all(isinstance(t, Tensor) for t in batches[0])
    np.testing.assert_array_equal(x.data, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(pair.data, [[0.0, -0.0], [1.0, -1.0], [2.0, -2.0]])
    np.testing.assert_array_equal(square.data, [0.0, 1.0, 4.0])
    assert square.dtype == np.float64
    assert parity.dtype == np.int64
    np.testing.assert_array_equal(batches[2][0].data, [6.0])  # the short last batch
    shuffled = list(DataLoader(Squares(7), batch_size=7, shuffle=True))
    assert sorted(shuffled[0][0].data.tolist()) == list(range(7))


def test_dataset_base_class() -> None:
    assert isinstance(TensorDataset(np.zeros(2)), Dataset)
    with pytest.raises(NotImplementedError, match="does not define __getitem__"):
        Dataset()[0]
    with pytest.raises(TypeError, match="needs __len__"):
        DataLoader(Dataset())  # no __len__, as PyTorch's base class
    both = Squares(2) + Squares(3)
    assert isinstance(both, ConcatDataset)
    assert len(both) == 5


def test_subset_maps_positions_to_indices() -> None:
    data = Squares(7)
    part = Subset(data, [5, 1, 3])
    assert len(part) == 3
    assert part.dataset is data
    assert part.indices == [5, 1, 3]
    assert part[0][2] == 25.0
    assert part[-1][2] == 9.0
    assert [sample[2] for sample in part] == [25.0, 1.0, 9.0]  # iteration stops at the end
    tensors = TensorDataset(np.arange(10.0), np.arange(10) * 2)
    rows = Subset(tensors, np.array([4, 2]))[[0, 1]]  # a list of positions at once
    np.testing.assert_array_equal(rows[1].data, [8, 4])
    ((xb, yb),) = list(DataLoader(Subset(tensors, [9, 0]), batch_size=2))
    np.testing.assert_array_equal(xb.data, [9.0, 0.0])
    np.testing.assert_array_equal(yb.data, [18, 0])


def test_concat_dataset_indexing() -> None:
    both = ConcatDataset([list("abc"), list("de")])
    assert both.cumulative_sizes == [3, 5]
    assert len(both) == 5
    assert [both[i] for i in range(5)] == list("abcde")
    assert both[-1] == "e"
    assert both[-5] == "a"
    assert list(both) == list("abcde")
    with pytest.raises(ValueError, match="absolute value"):
        both[-6]
    with pytest.raises(IndexError):
        both[5]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


# ---------------------------------------------------------------------------------------
# random_split
# ---------------------------------------------------------------------------------------
def test_random_split_by_counts_is_a_disjoint_cover_reproducible_from_the_generator() -> None:
    data = list(range(10))
    parts = random_split(data, [6, 3, 1], generator=np.random.default_rng(5))
    assert [len(p) for p in parts] == [6, 3, 1]
    assert all(isinstance(p, Subset) and p.dataset is data for p in parts)
    everything = [i for p in parts for i in p.indices]
    assert sorted(everything) == data
    again = random_split(data, [6, 3, 1], generator=np.random.default_rng(5))
    assert [p.indices for p in again] == [p.indices for p in parts]
    # the indices are a permutation drawn from the generator: the same as numpy's
    assert everything == np.random.default_rng(5).permutation(10).tolist()
    assert all(type(i) is int for i in everything)
    other = random_split(data, [6, 3, 1], generator=np.random.default_rng(6))
    assert [p.indices for p in other] != [p.indices for p in parts]
    seeded = random_split(data, [5, 5], generator=5)
    assert seeded[0].indices == everything[:5]


def test_random_split_default_generator_follows_manual_seed() -> None:
    sg_nn.manual_seed(3)
    first = [p.indices for p in random_split(range(8), [4, 4])]
    second = [p.indices for p in random_split(range(8), [4, 4])]
    assert first != second  # the default generator advances
    sg_nn.manual_seed(3)
    assert [p.indices for p in random_split(range(8), [4, 4])] == first


def test_random_split_by_fractions_as_pytorch() -> None:
    gen = np.random.default_rng(0)
    assert [len(p) for p in random_split(range(10), [0.8, 0.2], gen)] == [8, 2]
    # floor(n * fraction) each, then the remainder one by one from the first part
    assert [len(p) for p in random_split(range(11), [0.5, 0.3, 0.2], gen)] == [6, 3, 2]
    assert [len(p) for p in random_split(range(5), [1 / 3] * 3, gen)] == [2, 2, 1]
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        parts = random_split(range(2), [0.9, 0.1], gen)
    assert [len(p) for p in parts] == [2, 0]
    # [1, 0] adds up to 1, so PyTorch takes it as fractions: all the samples, then none
    with pytest.warns(UserWarning, match="index 1 is 0"):
        assert [len(p) for p in random_split(range(5), [1, 0], gen)] == [5, 0]


def test_random_split_errors() -> None:
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(range(10), [6, 3])
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(range(10), [0.5, 0.4])
    with pytest.raises(ValueError, match="not between 0 and 1"):
        random_split(range(10), [1.5, -0.5])
    with pytest.raises(ValueError, match="negative"):
        random_split(range(10), [12, -2])
    with pytest.raises(TypeError, match="integers"):
        random_split(range(10), [5.5, 4.5])
    with pytest.raises(TypeError, match="generator"):
        random_split(range(10), [5, 5], generator="seed")
