"""PyTorch's selections: max/min along a dim with indices, sort, topk, gather, argmax."""

from __future__ import annotations

import numpy as np
import pytest

import sg_tensor as st

X = np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])


def test_max_and_min_along_a_dim_return_values_and_indices() -> None:
    """Regression: x.max(1) returned the values alone (numpy's meaning)."""
    x = st.tensor(X, requires_grad=True)
    values, indices = x.max(1)
    np.testing.assert_array_equal(values.data, [5.0, 6.0])
    np.testing.assert_array_equal(indices.data, [1, 2])
    assert indices.dtype == np.int64
    kept = x.min(dim=0, keepdim=True)
    assert kept.values.shape == (1, 3)
    np.testing.assert_array_equal(kept.indices.data, [[0, 1, 0]])
    assert x.max().item() == 6.0  # no dim: the value
    np.testing.assert_array_equal(x.amax(1).data, [5.0, 6.0])  # values alone: amax
    np.testing.assert_array_equal(np.max(x, axis=1).data, [5.0, 6.0])  # numpy's meaning
    np.testing.assert_array_equal(x.max(st.tensor([3.0, 3.0, 3.0])).data, np.maximum(X, 3))
    values.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [0, 0, 1]])


def test_ties_route_the_gradient_to_the_returned_index_as_pytorch() -> None:
    x = st.tensor([[2.0, 2.0, 1.0]], requires_grad=True)
    values, indices = x.max(1)
    assert indices.item() == 0
    values.sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 0.0, 0.0]])
    y = st.tensor([[2.0, 2.0, 1.0]], requires_grad=True)
    y.amax(1).sum().backward()  # amax splits a tie, as PyTorch's amax
    np.testing.assert_array_equal(y.grad, [[0.5, 0.5, 0.0]])


def test_sort_topk_argsort_argmax_argmin() -> None:
    x = st.tensor(X, requires_grad=True)
    values, indices = x.sort(dim=1, descending=True)
    np.testing.assert_array_equal(values.data, [[5.0, 3.0, 1.0], [6.0, 4.0, 2.0]])
    np.testing.assert_array_equal(indices.data, [[1, 2, 0], [2, 0, 1]])
    np.testing.assert_array_equal(x.argsort(1).data, [[0, 2, 1], [1, 0, 2]])
    top = x.topk(2)
    np.testing.assert_array_equal(top.values.data, [[5.0, 3.0], [6.0, 4.0]])
    np.testing.assert_array_equal(st.topk(x, 1, dim=0, largest=False).indices.data, [[0, 1, 0]])
    assert x.argmax().item() == 5
    np.testing.assert_array_equal(x.argmax(dim=1).data, [1, 2])
    np.testing.assert_array_equal(st.argmin(x, 0, keepdim=True).data, [[0, 1, 0]])
    np.testing.assert_array_equal(x.argmax(axis=0).data, [1, 0, 1])  # numpy's keyword
    (top.values * st.tensor([[1.0, 10.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 10], [10, 0, 1]])
    with pytest.raises(ValueError, match="topk: k must be an int from 0 to 3"):
        x.topk(4)


def test_gather_and_masked_fill() -> None:
    x = st.tensor(X, requires_grad=True)
    index = np.array([[0, 0], [2, 1]])
    picked = st.gather(x, 1, index)
    np.testing.assert_array_equal(picked.data, np.take_along_axis(X, index, axis=1))
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad, [[2, 0, 0], [0, 1, 1]])  # repeats add up
    filled = x.masked_fill(X > 3, -1.0)
    np.testing.assert_array_equal(filled.data, np.where(X > 3, -1.0, X))
    with pytest.raises(ValueError, match=r"gather: index of shape \(2,\) does not fit"):
        st.gather(x, 1, np.array([0, 1]))
    with pytest.raises(TypeError, match="masked_fill: mask must be boolean"):
        x.masked_fill(np.ones((2, 3)), 0.0)


def test_norm_and_sign() -> None:
    x = st.tensor([[3.0, -4.0], [0.0, 1.0]], requires_grad=True)
    np.testing.assert_allclose(x.norm().data, np.sqrt(26.0))
    np.testing.assert_allclose(x.norm(1, dim=1).data, [7.0, 1.0])
    np.testing.assert_allclose(x.norm(float("inf"), dim=0).data, [3.0, 4.0])
    x.norm(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0.6, -0.8], [0.0, 1.0]])
    z = st.zeros(3, requires_grad=True)
    z.norm().backward()  # 0 at the zero vector, as PyTorch, not 0 / 0
    np.testing.assert_array_equal(z.grad, [0.0, 0.0, 0.0])
    s = st.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    np.testing.assert_array_equal(s.sign().data, [-1.0, 0.0, 1.0])
    (s.sign() * s).sum().backward()  # sign's own derivative is 0
    np.testing.assert_array_equal(s.grad, [-1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="norm: p must be positive"):
        x.norm(-1)


def test_a_boolean_mask_must_match_the_dimensions_it_indexes() -> None:
    x = st.arange(12.0).reshape(4, 3)
    with pytest.raises(IndexError, match=r"mask of shape \(2,\) does not match .* \(4,\)"):
        x[st.tensor([True, False])]
    with pytest.raises(IndexError, match=r"mask of shape \(3,\) does not match"):
        x[np.array([True, False, True])]
    assert x[:, np.array([True, False, True])].shape == (4, 2)
    assert x[..., np.array([True, False, True])].shape == (4, 2)
    assert x[None, np.array([True, False, True, True])].shape == (1, 3, 3)
    with pytest.raises(IndexError, match="0-d boolean index"):
        x[st.tensor(True)]


def test_gather_and_index_select_refuse_negative_positions_as_pytorch() -> None:
    t = st.arange(6.0).reshape(2, 3)
    with pytest.raises(IndexError, match="gather: index out of range for dim 1 of size 3"):
        t.gather(1, st.tensor([[-1], [1]]))
    with pytest.raises(IndexError, match="index_select: index out of range for dim 0"):
        t.index_select(0, st.tensor([-1]))
    assert t.gather(1, st.tensor([[2], [0]])).tolist() == [[2.0], [3.0]]


def test_a_nan_is_the_largest_value_when_sorting_as_in_pytorch() -> None:
    x = st.tensor([1.0, np.nan, -1.0, np.inf, np.nan, 2.0])
    values, indices = x.sort(descending=True)
    assert indices.tolist() == [1, 4, 3, 5, 0, 2]  # the NaNs first, in their order
    assert x.sort().indices.tolist() == [2, 0, 5, 3, 1, 4]  # going up: last
    assert x.topk(2).indices.tolist() == [1, 4]
    assert np.isnan(values.data[:2]).all()


def test_argmax_along_a_dim_of_an_empty_tensor() -> None:
    x = st.zeros((0, 3))
    assert x.argmax(dim=1).shape == (0,)  # nothing to choose in no row: an empty result
    with pytest.raises(IndexError, match=r"argmax: dim 0 of the tensor \(shape \(0, 3\)\)"):
        x.argmax(dim=0)
    with pytest.raises(IndexError, match="argmin: the tensor is empty"):
        x.argmin()
