"""Small datasets made with numpy alone, splitting, minibatches, and PyTorch's
``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``random_split`` and
``DataLoader`` (``torch.utils.data`` is ``sg_nn.data``).

Every function takes a ``rng``: an int seed (the same seed always gives the same data
and the same batches), a numpy ``Generator`` (drawn from, so it advances), or ``None``
for sg-nn's default generator, the one :func:`sg_nn.manual_seed` resets.
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

import sg_tensor as st
from sg_nn import init
from sg_tensor import Tensor

__all__ = [
    "ConcatDataset", "DataLoader", "Dataset", "Subset", "TensorDataset", "iterate_minibatches",
    "make_circles", "make_moons", "make_spirals", "random_split", "train_test_split",
]  # fmt: skip

T_co = TypeVar("T_co", covariant=True)


def _generator(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return init.default_generator()
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be a numpy Generator or an int seed (or None), got {type(rng).__name__}"
    )


def _check_n(n_samples: int, name: str) -> None:
    if isinstance(n_samples, (bool, np.bool_)) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"{name}: n_samples must be an int, got {n_samples!r}")
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
    ``X_train, X_test, y_train, y_test = train_test_split(X, y)``, as scikit-learn's.

    ``test_size``: a fraction of the samples (rounded up, as scikit-learn's) or a count.
    ``shuffle=False``: the test part is the last ``n_test`` rows, in order."""
    if not arrays:
        raise ValueError("train_test_split: give at least one array")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(
            "train_test_split: arrays must have the same length, got "
            + ", ".join(str(len(a)) for a in arrays)
        )
    if isinstance(test_size, (bool, np.bool_)) or not isinstance(
        test_size, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"train_test_split: test_size must be a fraction or a count of "
                        f"samples, got {test_size!r}")  # fmt: skip
    fraction = isinstance(test_size, (float, np.floating))
    # (in the fraction's own precision, as scikit-learn: np.float32(0.1) of 10 is 1)
    n_test = math.ceil(test_size * n) if fraction else int(test_size)
    if not 0 < n_test < n:
        raise ValueError(
            f"train_test_split: test_size {test_size} leaves an empty train or test part "
            f"for {n} samples"
        )
    if shuffle:
        order = _generator(rng).permutation(n)
        test, train = order[:n_test], order[n_test:]
    else:
        train, test = np.arange(n - n_test), np.arange(n - n_test, n)
    out: list[np.ndarray] = []
    for a in arrays:
        a = np.asarray(a)
        out.extend([a[train], a[test]])
    return out


def iterate_minibatches(
    *arrays: np.ndarray,
    batch_size: int,
    shuffle: bool = True,
    rng: Any = None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, ...]]:
    """One epoch of minibatches ``(X_batch, y_batch, ...)`` of numpy arrays.

    Call it once per epoch. The order is drawn from ``rng``:

    - ``None`` (the default): sg-nn's default generator, which advances, so every
      epoch gets a new order, reproducible from :func:`sg_nn.manual_seed`;
    - a ``Generator``: drawn from it, so it advances too: a new order each epoch,
      reproducible from the generator's seed;
    - an int: a new generator with that seed, so the same order on every call.

    The default used to be ``rng=0``, which silently gave the same order every epoch
    unless a generator was passed.
    """
    if not arrays:
        raise ValueError("iterate_minibatches: give at least one array")
    if batch_size <= 0:
        raise ValueError(f"iterate_minibatches: batch_size must be positive, got {batch_size}")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(
            "iterate_minibatches: arrays must have the same length, got "
            + ", ".join(str(len(a)) for a in arrays)
        )
    order = _generator(rng).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield tuple(np.asarray(a)[idx] for a in arrays)


# ---------------------------------------------------------------------------------------
# Datasets, as torch.utils.data's
# ---------------------------------------------------------------------------------------
class Dataset(Generic[T_co]):
    """The base class of map-style datasets, as PyTorch's: subclass it and define
    ``__getitem__`` (sample ``i``) and ``__len__`` (the number of samples); a
    :class:`DataLoader` batches any such dataset. ``a + b`` is a :class:`ConcatDataset`.

    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         return float(i), float(i * i)
    >>> [tuple(t.data.tolist()) for t in next(iter(DataLoader(Squares(), batch_size=4)))]
    [(0.0, 1.0, 2.0, 3.0), (0.0, 1.0, 4.0, 9.0)]
    """

    def __getitem__(self, index: Any) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} does not define __getitem__")

    def __add__(self, other: Dataset[T_co]) -> ConcatDataset[T_co]:
        return ConcatDataset([self, other])


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order: ``subset[i]`` is
    ``dataset[indices[i]]``, as PyTorch's (a list of positions gives
    ``dataset[[indices[i] for i in positions]]``)."""

    dataset: Any
    indices: Sequence[int]

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[T_co]):
    """The datasets one after the other: sample ``i`` of the first, then of the second...

    ``cumulative_sizes`` holds the running totals of their lengths, as PyTorch's; a
    negative index counts from the end.
    """

    datasets: list[Any]
    cumulative_sizes: list[int]

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            if -index > len(self):
                raise ValueError(
                    "ConcatDataset: absolute value of index should not exceed dataset length"
                )
            index = len(self) + index
        which = bisect.bisect_right(self.cumulative_sizes, index)
        if which == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {index} is out of range for {len(self)}")
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(
    dataset: Any, lengths: Sequence[int | float], generator: Any = None
) -> list[Subset[Any]]:
    """Split ``dataset`` into non-overlapping :class:`Subset` s of the given ``lengths``,
    its indices shuffled, as PyTorch's.

    ``lengths`` are sample counts adding up to ``len(dataset)``, or fractions adding up
    to 1: each part gets ``floor(n * fraction)`` samples and the ones left over go one
    each to the first parts (PyTorch's rule; a part of 0 samples warns). The permutation
    is drawn from ``generator``: a numpy ``Generator`` (which advances), an int seed, or
    ``None`` for sg-nn's default generator (see :func:`sg_nn.manual_seed`). The same
    generator state always gives the same split, but not the split PyTorch's generator
    would: the two draw from different random streams.

    >>> import numpy as np
    >>> train, test = random_split(list(range(10)), [0.8, 0.2], np.random.default_rng(0))
    >>> len(train), len(test), sorted(list(train) + list(test)) == list(range(10))
    (8, 2, True)
    """
    n = len(dataset)
    sizes: list[int]
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
            sizes.append(math.floor(n * fraction))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.",
                    UserWarning,
                    stacklevel=2,
                )
    else:
        if sum(lengths) != n:
            raise ValueError(
                "random_split: sum of input lengths does not equal the length of the input "
                f"dataset ({sum(lengths)} != {n})"
            )
        if any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) for k in lengths):
            raise TypeError(
                "random_split: lengths must be integers (or fractions adding up to 1), "
                f"got {list(lengths)}"
            )
        if any(k < 0 for k in lengths):
            raise ValueError(f"random_split: lengths must not be negative, got {list(lengths)}")
        sizes = [int(k) for k in lengths]
    if generator is not None and not isinstance(generator, (np.random.Generator, int, np.integer)):
        raise TypeError(
            "random_split: generator must be a numpy Generator, an int seed or None, got "
            f"{type(generator).__name__}"
        )
    order = _generator(generator).permutation(n).tolist()
    ends = itertools.accumulate(sizes)
    return [Subset(dataset, order[end - size : end]) for end, size in zip(ends, sizes)]


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """A dataset of tensors sharing their first dimension: sample ``i`` is the tuple of
    their ``i``-th rows.

    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((4, 2)), np.arange(4))
    >>> len(ds), ds[1][1]
    (4, Tensor(1, dtype=int64))
    """

    tensors: tuple[Tensor, ...]

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        converted = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        if any(t.ndim == 0 for t in converted):
            shapes = ", ".join(str(t.shape) for t in converted)
            raise ValueError(f"TensorDataset: every tensor needs a first dimension, got {shapes}")
        sizes = [t.shape[0] for t in converted]
        if len(set(sizes)) > 1:
            raise ValueError(
                "TensorDataset: the tensors must have the same first dimension, got sizes "
                + ", ".join(map(str, sizes))
            )
        self.tensors = converted

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


def _collate(samples: list[Any]) -> Any:
    """Stack a list of samples into a batch, field by field, as PyTorch's default_collate:
    tensors, arrays and numbers become one Tensor with a new first axis; tuples, lists,
    named tuples and dicts are batched per field; strings are kept as a list."""
    first = samples[0]
    if isinstance(first, (str, bytes)):  # numpy's str_ and bytes_ too
        return list(samples)
    if isinstance(first, (Tensor, np.ndarray, np.generic)):
        arrays = [s.data if isinstance(s, Tensor) else np.asarray(s) for s in samples]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(
                f"DataLoader: cannot stack samples of different shapes {sorted(shapes)}"
            )
        if any(isinstance(s, Tensor) and s.requires_grad for s in samples):
            return st.stack(samples)  # the batch stays in the graph, as PyTorch's
        return Tensor(np.stack(arrays))
    if isinstance(first, (bool, int, float)):
        # the kind of the whole batch, as torch.tensor(batch): [1, 2.5] is float (sg's
        # default float64), not truncated to the first sample's int
        if not all(isinstance(v, (bool, int, float)) for v in samples):
            kinds = sorted({type(v).__name__ for v in samples})
            raise TypeError(f"DataLoader: cannot batch numbers with other samples ({kinds})")
        if all(isinstance(v, bool) for v in samples):
            return Tensor(np.array(samples, dtype=np.bool_))
        if any(isinstance(v, float) for v in samples):
            return Tensor(np.array(samples, dtype=np.float64))
        try:
            return Tensor(np.array(samples, dtype=np.int64))
        except OverflowError:
            raise OverflowError("DataLoader: an integer sample does not fit in int64") from None
    if isinstance(first, Mapping):
        return {key: _collate([s[key] for s in samples]) for key in first}
    if isinstance(first, Sequence):
        if len({len(s) for s in samples}) > 1:
            raise ValueError("DataLoader: every sample in a batch must have the same length")
        fields = [_collate(list(field)) for field in zip(*samples)]
        if isinstance(first, tuple) and hasattr(first, "_fields"):  # a named tuple
            return type(first)(*fields)
        return fields  # a list, for tuples too, as PyTorch's default_collate
    raise TypeError(f"DataLoader: cannot batch samples of type {type(first).__name__}")


def _convert(sample: Any) -> Any:
    """An unbatched sample (``batch_size=None``) with its arrays made Tensors."""
    if isinstance(sample, (np.ndarray, np.generic)) and not isinstance(sample, (str, bytes)):
        return Tensor(np.asarray(sample))
    if isinstance(sample, Mapping):
        return {key: _convert(value) for key, value in sample.items()}
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):  # a named tuple
        return type(sample)(*(_convert(v) for v in sample))
    if isinstance(sample, (tuple, list)):
        return type(sample)(_convert(v) for v in sample)
    return sample  # a Tensor, a number, a string


class DataLoader:
    """Iterate over a dataset in minibatches, as PyTorch's ``DataLoader``.

    ``dataset`` is anything with ``__len__`` and ``__getitem__`` (a :class:`TensorDataset`,
    a subclass of :class:`Dataset`, a :class:`Subset`, a list of ``(x, y)`` tuples, ...).
    Each batch stacks ``batch_size`` samples field by field into sg Tensors (tensors,
    arrays and numbers; tuples, lists and dicts of them): a :class:`TensorDataset` gives
    a list ``[X_batch, y_batch]`` (PyTorch's default_collate makes lists of tuples).
    ``batch_size=None`` yields the samples one by one, unbatched.

    Every iteration is an epoch that visits each sample once. With ``shuffle=True``
    every epoch draws a new order from ``generator`` (a numpy ``Generator``, which
    advances), or, when it is ``None``, from sg-nn's default generator (see
    :func:`sg_nn.manual_seed`): two loaders whose generators have the same seed give the
    same sequence of epochs. ``drop_last=True`` drops a last, incomplete batch.

    >>> import numpy as np
    >>> loader = DataLoader(TensorDataset(np.arange(5.0)), batch_size=2)
    >>> len(loader), [xb.shape for (xb,) in loader]
    (3, [(2,), (2,), (1,)])
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool = False,
        *,
        drop_last: bool = False,
        generator: np.random.Generator | None = None,
    ) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                "DataLoader: the dataset needs __len__ and __getitem__, got "
                f"{type(dataset).__name__}"
            )
        if batch_size is not None and (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size <= 0
        ):
            raise ValueError(
                f"DataLoader: batch_size must be a positive integer or None, got {batch_size!r}"
            )
        if batch_size is None and drop_last:
            raise ValueError(
                "DataLoader: batch_size=None (no batching) cannot be combined with drop_last=True"
            )
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(
                "DataLoader: generator must be a numpy Generator (np.random.default_rng(seed))"
                f" or None, got {type(generator).__name__}"
            )
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator

    def __len__(self) -> int:
        """The number of batches in an epoch."""
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size  # the last batch may be smaller

    def _order(self) -> np.ndarray:
        """The sample indices of one epoch."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = init.default_generator() if self.generator is None else self.generator
        return rng.permutation(n)

    def __iter__(self) -> Iterator[Any]:
        """One epoch (its order is drawn now, when the iteration starts)."""
        return self._batches(self._order())

    def _batches(self, order: np.ndarray) -> Iterator[Any]:
        if self.batch_size is None:
            for i in order:
                yield _convert(self.dataset[int(i)])
            return
        # A plain TensorDataset: index all the rows of a batch at once (same result).
        rows_at_once = type(self.dataset).__getitem__ is TensorDataset.__getitem__
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            idx = order[start : start + self.batch_size]
            if rows_at_once:  # (a tensor in the graph is indexed in it, as PyTorch's)
                yield [t[idx] if t.requires_grad else Tensor(t.data[idx])
                       for t in self.dataset.tensors]  # fmt: skip
            else:
                yield _collate([self.dataset[int(i)] for i in idx])
