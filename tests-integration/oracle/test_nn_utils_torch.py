"""sg_nn.utils and sg_nn.data against PyTorch's torch.nn.utils and torch.utils.data, on
the same gradients, parameters and datasets (needs PyTorch: ``nox -s parity``)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

import sg_nn as nn
from sg_nn import data, utils
from sg_tensor import Tensor

NORM_TYPES = [2.0, 1.0, math.inf, 3.0]
# A small MLP's parameter shapes: at most 64 entries each, so that PyTorch's own sums
# round like numpy's to within 1e-15 (for large gradients see the exact-value test).
SHAPES = [(8, 2), (8,), (4, 8), (4,), (1, 4), (1,), ()]


def gradients(seed: int, shapes: list[tuple[int, ...]], dtype: type = np.float64) -> list:
    rng = np.random.default_rng(seed)
    return [
        np.array(rng.standard_normal(s) * 10 ** rng.uniform(-2, 2), dtype=dtype) for s in shapes
    ]


def both(grads: list, missing: tuple[int, ...] = ()) -> tuple[list[Tensor], list[torch.Tensor]]:
    """sg and torch parameters holding the same gradients (none for the ``missing`` ones)."""
    ours, theirs = [], []
    for i, g in enumerate(grads):
        p = nn.Parameter(np.zeros(g.shape, dtype=g.dtype))
        t = torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True)
        if i not in missing:
            p.grad = g.copy()
            t.grad = torch.from_numpy(g.copy())
        ours.append(p)
        theirs.append(t)
    return ours, theirs


def assert_grads_close(ours: list[Tensor], theirs: list[torch.Tensor], rtol: float) -> None:
    for p, t in zip(ours, theirs, strict=True):
        if t.grad is None:
            assert p.grad is None
            continue
        assert p.grad.dtype == t.grad.numpy().dtype
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=rtol, atol=0)


# ---------------------------------------------------------------------------------------
# clip_grad_norm_ / clip_grad_value_
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("max_norm", [0.05, 1.0, 1e6])
@pytest.mark.parametrize("seed", range(4))
def test_clip_grad_norm_matches_torch(norm_type: float, max_norm: float, seed: int) -> None:
    ours, theirs = both(gradients(seed, SHAPES), missing=(3,))
    arrays = [p.grad for p in ours]
    total = utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.shape == tuple(expected.shape) == ()
    assert total.dtype == expected.numpy().dtype
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-15, atol=0)
    assert_grads_close(ours, theirs, rtol=1e-15)
    assert all(p.grad is a for p, a in zip(ours, arrays))  # in place, as torch


@pytest.mark.parametrize("norm_type", NORM_TYPES)
def test_clip_grad_norm_matches_torch_in_float32(norm_type: float) -> None:
    ours, theirs = both(gradients(7, SHAPES, np.float32))
    total = utils.clip_grad_norm_(ours, 0.5, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 0.5, norm_type)
    assert total.dtype == np.float32
    assert expected.dtype == torch.float32
    np.testing.assert_allclose(total.item(), expected.item(), rtol=5e-7, atol=0)  # 4 ulps
    assert_grads_close(ours, theirs, rtol=5e-7)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0])
def test_large_gradients_norm_is_at_least_as_close_to_the_exact_value_as_torchs(
    norm_type: float,
) -> None:
    # With thousands of entries PyTorch's own summation is off by a few ulps (its 1-norm
    # by up to ~1e-14), so both are compared with the exact value, in rational arithmetic.
    grads = gradients(11, [(64, 48), (48,), (10, 64), (10,)])
    ours, theirs = both(grads)
    got = utils.clip_grad_norm_(ours, 1e9, norm_type).item()
    torch_value = torch.nn.utils.clip_grad_norm_(theirs, 1e9, norm_type).item()
    power = int(norm_type)
    exact_power = sum(Fraction(abs(float(v))) ** power for g in grads for v in g.ravel())
    exact = float(exact_power) ** (1 / power) if power != 2 else math.sqrt(exact_power)
    ours_error = abs(got - exact) / exact
    torch_error = abs(torch_value - exact) / exact
    assert ours_error <= 1e-15
    assert ours_error <= torch_error + 2.3e-16  # within one ulp of torch's accuracy or better


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_norms_match_torch(bad: float) -> None:
    grads = gradients(3, SHAPES)
    grads[2][1, 1] = bad
    ours, theirs = both(grads)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="clip_grad_norm_"):
        utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    total = utils.clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_array_equal(total.data, expected.numpy())
    for p, t in zip(ours, theirs):  # zeros and NaNs in the same places
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


@pytest.mark.parametrize("clip_value", [0.01, 0.5, 3.0])
def test_clip_grad_value_matches_torch_exactly(clip_value: float) -> None:
    grads = gradients(5, SHAPES)
    grads[0][0, 0], grads[0][1, 0], grads[0][2, 0] = math.nan, math.inf, -math.inf
    ours, theirs = both(grads, missing=(1,))
    arrays = [p.grad for p in ours]
    utils.clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, t, a in zip(ours, theirs, arrays):
        assert (p.grad is None) == (t.grad is None)
        if t.grad is not None:
            assert p.grad is a
            np.testing.assert_array_equal(p.grad, t.grad.numpy())


# ---------------------------------------------------------------------------------------
# parameters_to_vector / vector_to_parameters
# ---------------------------------------------------------------------------------------
def test_parameters_to_vector_and_back_match_torch() -> None:
    values = gradients(9, SHAPES)
    ours = [nn.Parameter(v.copy()) for v in values]
    theirs = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in values]
    vec = utils.parameters_to_vector(ours)
    expected = torch.nn.utils.parameters_to_vector(theirs)
    assert vec.data.tobytes() == expected.detach().numpy().tobytes()

    new = np.random.default_rng(10).standard_normal(vec.shape[0])
    utils.vector_to_parameters(Tensor(new.copy()), ours)
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new.copy()), theirs)
    for p, t in zip(ours, theirs):
        assert p.shape == tuple(t.shape)
        assert p.data.tobytes() == t.detach().numpy().tobytes()


def test_parameters_to_vector_gradients_match_torch() -> None:
    values = gradients(12, SHAPES)
    weights = np.random.default_rng(13).standard_normal(sum(v.size for v in values))
    ours = [nn.Parameter(v.copy()) for v in values]
    theirs = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in values]
    (utils.parameters_to_vector(ours) * weights).sum().backward()
    (torch.nn.utils.parameters_to_vector(theirs) * torch.from_numpy(weights)).sum().backward()
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


# ---------------------------------------------------------------------------------------
# DataLoader
# ---------------------------------------------------------------------------------------
def dataset_arrays(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n)
    return rng.standard_normal((n, 3)).astype(np.float32), rng.integers(0, 5, n)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize(("n", "batch_size"), [(10, 3), (9, 3), (2, 3), (7, 1), (16, 16)])
def test_unshuffled_tensor_dataset_batches_match_torch(
    n: int, batch_size: int, drop_last: bool
) -> None:
    X, y = dataset_arrays(n)
    ours = data.DataLoader(data.TensorDataset(X, y), batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
        batch_size,
        drop_last=drop_last,
    )
    assert len(ours) == len(theirs)
    got, expected = list(ours), list(theirs)
    assert len(got) == len(expected)
    for (xb, yb), (xt, yt) in zip(got, expected):
        assert xb.dtype == xt.numpy().dtype == np.float32
        assert yb.dtype == yt.numpy().dtype == np.int64
        assert xb.data.tobytes() == xt.numpy().tobytes()
        np.testing.assert_array_equal(yb.data, yt.numpy())


@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_dataset_of_tuples_matches_torchs_default_collate(drop_last: bool) -> None:
    X, y = dataset_arrays(11)
    samples = [(X[i], int(y[i]), float(i) / 3, bool(i % 2)) for i in range(11)]
    got = list(data.DataLoader(samples, 4, drop_last=drop_last))
    expected = list(torch.utils.data.DataLoader(samples, 4, drop_last=drop_last))
    assert len(got) == len(expected) == (2 if drop_last else 3)
    for batch, reference in zip(got, expected):
        assert len(batch) == len(reference) == 4
        for field, t in zip(batch, reference):
            assert field.dtype == t.numpy().dtype
            assert field.data.tobytes() == t.numpy().tobytes()


def test_batch_size_none_matches_torch() -> None:
    X, y = dataset_arrays(4)
    samples = [(X[i], int(y[i])) for i in range(4)]
    got = list(data.DataLoader(samples, batch_size=None))
    expected = list(torch.utils.data.DataLoader(samples, batch_size=None))
    assert len(got) == len(expected) == 4
    for (x, label), (xt, lt) in zip(got, expected):
        assert x.data.tobytes() == xt.numpy().tobytes()
        assert label == lt


@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_batches_have_torchs_sizes_and_cover_each_sample_once(drop_last: bool) -> None:
    # torch's and numpy's generators differ, so orders cannot match: check the properties.
    X, _ = dataset_arrays(23)
    ours = data.DataLoader(
        data.TensorDataset(X, np.arange(23)),
        5,
        shuffle=True,
        drop_last=drop_last,
        generator=np.random.default_rng(0),
    )
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.arange(23)),
        5,
        shuffle=True,
        drop_last=drop_last,
        generator=torch.Generator().manual_seed(0),
    )
    assert len(ours) == len(theirs)
    orders = []
    for _ in range(3):
        got, expected = list(ours), list(theirs)
        assert [len(b[1].data) for b in got] == [len(b[1]) for b in expected]
        ids = np.concatenate([ib.data for _, ib in got])
        for xb, ib in got:  # rows stay paired with their index
            assert xb.data.tobytes() == X[ib.data].tobytes()
        assert len(set(ids.tolist())) == len(ids) == (20 if drop_last else 23)
        orders.append(ids.tobytes())
    assert len(set(orders)) == 3  # a new order each epoch, as torch's
