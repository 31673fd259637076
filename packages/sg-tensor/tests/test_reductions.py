"""Reductions: forward values against numpy for every axis form, ties, logsumexp edges."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import Tensor

R = np.random.default_rng(3)
X = R.standard_normal((2, 3, 4))
AXES: list[Any] = [None, 0, 1, 2, -1, -3, (0, 2), (2, 0), (-1, 1), (0, 1, 2), ()]
NUMPY = {"sum": np.sum, "mean": np.mean, "amax": np.max, "amin": np.min, "var": np.var}


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", sorted(NUMPY))
def test_reduction_matches_numpy(name: str, axis: Any, keepdims: bool) -> None:
    expected = NUMPY[name](X, axis=axis, keepdims=keepdims)
    numpys = {"ddof": 0} if name == "var" else {}  # sg's var is PyTorch's: unbiased
    out = getattr(Tensor(X), name)(axis=axis, keepdims=keepdims, **numpys)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14, atol=1e-15)
    functional = getattr(st, name)(X, axis=axis, keepdims=keepdims, **numpys)
    np.testing.assert_allclose(functional.data, expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
def test_std_and_logsumexp_match_numpy(axis: Any, keepdims: bool) -> None:
    np.testing.assert_allclose(
        Tensor(X).std(axis=axis, keepdims=keepdims, ddof=0).data,
        np.std(X, axis=axis, keepdims=keepdims),
        rtol=1e-14,
    )
    reference = np.log(np.sum(np.exp(X), axis=axis, keepdims=keepdims))
    out = Tensor(X).logsumexp(axis=axis, keepdims=keepdims)
    assert out.shape == reference.shape
    np.testing.assert_allclose(out.data, reference, rtol=1e-14)


def test_var_and_std_with_ddof() -> None:
    np.testing.assert_allclose(Tensor(X).var(axis=1, ddof=1).data, np.var(X, axis=1, ddof=1))
    np.testing.assert_allclose(st.std(X, axis=(0, 2), ddof=1).data, np.std(X, axis=(0, 2), ddof=1))


def test_sum_gradient_is_the_broadcast_cotangent() -> None:
    x = Tensor(X, requires_grad=True)
    g = R.standard_normal((2, 4))
    x.sum(axis=1).backward(g)
    np.testing.assert_array_equal(x.grad, np.broadcast_to(g[:, None, :], X.shape))


def test_mean_gradient_divides_by_the_count() -> None:
    x = Tensor(X, requires_grad=True)
    x.mean(axis=(0, 2), keepdims=True).backward(np.ones((1, 3, 1)))
    np.testing.assert_allclose(x.grad, np.full(X.shape, 1 / 8), rtol=1e-15)


def test_var_gradient_has_the_textbook_value() -> None:
    x = Tensor(X, requires_grad=True)
    x.var(axis=-1, ddof=1).sum().backward()
    expected = 2 * (X - X.mean(axis=-1, keepdims=True)) / 3
    np.testing.assert_allclose(x.grad, expected, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------------------------
# max / min ties: the gradient is shared evenly (PyTorch amax / amin)
# ---------------------------------------------------------------------------------------
def test_max_ties_split_the_gradient_evenly() -> None:
    x = Tensor([1.0, 3.0, 3.0], requires_grad=True)
    out = x.max()
    assert out.item() == 3.0
    out.backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5])


def test_min_ties_split_the_gradient_evenly() -> None:
    x = Tensor([2.0, 0.0, 5.0, 0.0, 0.0], requires_grad=True)
    x.min().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1 / 3, 0.0, 1 / 3, 1 / 3])


def test_max_ties_along_an_axis() -> None:
    x = Tensor([[1.0, 4.0, 4.0], [2.0, 2.0, 2.0], [7.0, 0.0, 1.0]], requires_grad=True)
    out = x.amax(axis=1)
    np.testing.assert_array_equal(out.data, [4.0, 2.0, 7.0])
    out.backward(np.array([2.0, 3.0, 5.0]))
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [5.0, 0.0, 0.0]])


def test_max_ties_along_a_tuple_of_axes_with_keepdims() -> None:
    x = Tensor(np.array([[[1.0, 3.0], [3.0, 0.0]], [[2.0, 2.0], [2.0, 2.0]]]), requires_grad=True)
    out = x.amax(axis=(1, 2), keepdims=True)
    assert out.shape == (2, 1, 1)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [[[0.0, 0.5], [0.5, 0.0]], [[0.25] * 2, [0.25] * 2]])


def test_mean_of_an_empty_tensor_is_nan_without_a_warning() -> None:
    # mean's forward is wrapped in ``quiet`` for this edge; PyTorch returns nan silently
    out = Tensor(np.zeros((0, 3))).mean(axis=0)
    assert out.shape == (3,)
    assert np.all(np.isnan(out.data))
    assert Tensor(np.zeros(0)).sum().item() == 0.0


def test_max_and_min_of_an_empty_tensor_are_errors() -> None:
    with pytest.raises(ValueError, match=r"max: the tensor is empty \(shape \(0, 3\)\)"):
        Tensor(np.zeros((0, 3))).max()
    with pytest.raises(ValueError, match="min: the tensor is empty"):
        Tensor(np.zeros(0)).min()


# ---------------------------------------------------------------------------------------
# logsumexp: stability and masked (-inf) entries
# ---------------------------------------------------------------------------------------
def test_logsumexp_is_stable_for_large_values() -> None:
    x = Tensor([1000.0, 1000.0], requires_grad=True)
    out = x.logsumexp()
    assert out.item() == pytest.approx(1000.0 + math.log(2.0), rel=1e-15)
    out.backward()
    np.testing.assert_allclose(x.grad, [0.5, 0.5], rtol=1e-12)  # exp(x - out), out rounded
    small = st.logsumexp(np.array([-1000.0, -1000.0]))
    assert small.item() == pytest.approx(-1000.0 + math.log(2.0), rel=1e-15)


def test_logsumexp_with_minus_infinity_entries_has_finite_gradients() -> None:
    x = Tensor([[0.0, -np.inf, 0.0], [-np.inf, -np.inf, -np.inf]], requires_grad=True)
    out = x.logsumexp(axis=1)
    assert out.data[0] == pytest.approx(math.log(2.0), rel=1e-15)
    assert out.data[1] == -np.inf
    out.backward(np.array([1.0, 1.0]))
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_array_equal(x.grad, [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])


def test_logsumexp_of_a_row_of_minus_infinity_keepdims() -> None:
    x = Tensor(np.full((2, 2), -np.inf), requires_grad=True)
    out = x.logsumexp(axis=-1, keepdims=True)
    np.testing.assert_array_equal(out.data, [[-np.inf], [-np.inf]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros((2, 2)))


def test_logsumexp_gradient_is_the_softmax() -> None:
    x = Tensor(X, requires_grad=True)
    x.logsumexp(axis=(0, 2)).sum().backward()
    e = np.exp(X - X.max(axis=(0, 2), keepdims=True))
    np.testing.assert_allclose(x.grad, e / e.sum(axis=(0, 2), keepdims=True), rtol=1e-13)


# ---------------------------------------------------------------------------------------
# Axis errors
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "var", "std", "logsumexp"])
def test_axis_out_of_range_names_operator_axis_and_shape(name: str) -> None:
    expected = name.removeprefix("a")  # amax is the operator max
    with pytest.raises(ValueError, match=rf"^{expected}: axis 3 is out of range .*\(2, 3\)"):
        getattr(Tensor(np.zeros((2, 3))), name)(axis=3)
    with pytest.raises(ValueError, match=r"axis -3 is out of range"):
        getattr(Tensor(np.zeros((2, 3))), name)(axis=(0, -3))


def test_repeated_or_non_integer_axes_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"sum: repeated axis in \(1, -1\)"):
        Tensor(np.zeros((2, 3))).sum(axis=(1, -1))
    with pytest.raises(TypeError, match="mean: axis must be an int or a tuple of ints"):
        Tensor(np.zeros((2, 3))).mean(axis=1.0)
    with pytest.raises(TypeError, match="axis must be an int"):
        Tensor(np.zeros((2, 3))).sum(axis=True)


def test_std_of_a_constant_slice_has_a_zero_gradient_not_nan() -> None:
    # PyTorch's convention: where std is 0 its gradient is 0 (as sqrt(var) it is 0/0)
    x = st.tensor([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]], requires_grad=True)
    x.std(axis=1, ddof=0).sum().backward()
    assert not np.isnan(x.grad).any()
    np.testing.assert_array_equal(x.grad[0], [0.0, 0.0, 0.0])
    row = np.array([1.0, 2.0, 4.0])
    expected = (row - row.mean()) / (3 * row.std())
    np.testing.assert_allclose(x.grad[1], expected, rtol=1e-14)
    (g,) = st.grad(x.std(axis=1, ddof=1).sum(), x, create_graph=True)
    (h,) = st.grad(g.sum(), x)
    assert np.isfinite(h.data).all()


def test_pytorch_dim_and_keepdim_spellings() -> None:
    x = st.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    np.testing.assert_array_equal(x.sum(dim=1).data, x.data.sum(axis=1))
    np.testing.assert_array_equal(
        x.mean(dim=(0, 2), keepdim=True).data, x.data.mean(axis=(0, 2), keepdims=True)
    )
    np.testing.assert_array_equal(st.sum(x, dim=-1).data, x.data.sum(axis=-1))
    np.testing.assert_allclose(x.softmax(dim=0).data.sum(axis=0), 1.0)
    np.testing.assert_array_equal(x.cumsum(dim=2).data, x.data.cumsum(axis=2))
    x.logsumexp(dim=1, keepdim=True).sum().backward()
    assert x.grad.shape == (2, 3, 4)
    with pytest.raises(TypeError, match=r"sum\(\): give dim= or axis=, not both"):
        x.sum(axis=0, dim=1)
    values, indices = x.max(dim=0)  # PyTorch's max(dim): values and their indices
    np.testing.assert_array_equal(values.data, x.data.max(axis=0))
    np.testing.assert_array_equal(indices.data, x.data.argmax(axis=0))
    np.testing.assert_array_equal(x.amax(dim=0).data, x.data.max(axis=0))


def test_a_0d_tensor_has_dims_0_and_minus_1_as_in_pytorch() -> None:
    """Regression: reductions and softmax with dim=0 or -1 on a 0-d tensor raised."""
    x = st.tensor(2.5, requires_grad=True)
    for out in (x.sum(dim=0), x.mean(0), x.sum(-1, keepdim=True), x.logsumexp(dim=(0,))):
        assert out.shape == ()
        np.testing.assert_allclose(out.data, 2.5)
    assert x.softmax(dim=0).item() == 1.0
    assert x.log_softmax(-1).item() == 0.0
    x.sum(dim=0).backward()
    assert x.grad == 1.0
    with pytest.raises(ValueError, match="axis 1 is out of range"):
        x.sum(dim=1)


def test_std_and_var_are_unbiased_by_default_as_pytorch_and_np_keeps_numpy() -> None:
    """Regression: x.std() and x.var() were population statistics (numpy's ddof=0)."""
    data = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]])
    x = st.tensor(data, requires_grad=True)
    np.testing.assert_allclose(x.std().data, data.std(ddof=1))
    np.testing.assert_allclose(x.var(dim=1).data, data.var(axis=1, ddof=1))
    np.testing.assert_allclose(st.var(x, 0).data, data.var(axis=0, ddof=1))
    np.testing.assert_allclose(x.std(correction=0).data, data.std())
    np.testing.assert_allclose(x.var(unbiased=False).data, data.var())
    # PyTorch's positional order: (dim, unbiased, keepdim)
    np.testing.assert_allclose(x.std(1, False).data, data.std(axis=1))
    np.testing.assert_allclose(x.var(1, True, True).data, data.var(axis=1, ddof=1, keepdims=True))
    np.testing.assert_allclose(x.var(1, correction=2).data, data.var(axis=1, ddof=2))
    np.testing.assert_allclose(x.std(ddof=0).data, data.std())
    np.testing.assert_allclose(np.std(x).data, data.std())  # numpy's function: numpy's
    np.testing.assert_allclose(np.var(x, axis=1).data, data.var(axis=1))
    np.testing.assert_allclose(np.var(x, axis=0, ddof=1).data, data.var(axis=0, ddof=1))
    with pytest.raises(TypeError, match="give correction= or ddof=, not both"):
        x.std(correction=1, ddof=0)
    with pytest.raises(TypeError, match="give unbiased or correction=, not both"):
        x.std(1, True, correction=0)
    with pytest.raises(TypeError, match="unbiased must be True or False"):
        x.var(unbiased=2)
