"""Activations and the softmax family: forward values, stability, conventions at kinks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import Tensor

R = np.random.default_rng(11)
X = R.standard_normal((3, 4)) * 3


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x)


def test_tanh_and_sigmoid_match_numpy() -> None:
    np.testing.assert_allclose(Tensor(X).tanh().data, np.tanh(X), rtol=1e-15)
    np.testing.assert_allclose(st.sigmoid(X).data, 1 / (1 + np.exp(-X)), rtol=1e-15)


def test_sigmoid_is_exact_far_out_without_nan_or_warning() -> None:
    x = Tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], requires_grad=True)
    out = x.sigmoid()
    assert out.data[0] == 0.0
    assert out.data[2] == 0.5
    assert out.data[4] == 1.0
    assert not np.any(np.isnan(out.data))
    out.backward(np.ones(5))
    assert np.all(np.isfinite(x.grad))
    assert x.grad[0] == 0.0
    assert x.grad[2] == 0.25
    assert x.grad[4] == 0.0


def test_relu_forward_and_derivative_at_zero() -> None:
    x = Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    out = x.relu()
    np.testing.assert_array_equal(out.data, [0.0, 0.0, 2.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


def test_leaky_relu_forward_and_gradient() -> None:
    x = Tensor([-2.0, 0.0, 3.0], requires_grad=True)
    out = x.leaky_relu(0.1)
    np.testing.assert_allclose(out.data, [-0.2, 0.0, 3.0], rtol=1e-15)
    out.sum().backward()
    np.testing.assert_allclose(x.grad, [0.1, 0.1, 1.0], rtol=1e-15)  # slope at 0 is 0.1
    np.testing.assert_allclose(st.leaky_relu(X).data, np.where(X > 0, X, 0.01 * X), rtol=1e-15)


def test_gelu_matches_its_formulas() -> None:
    exact = X * 0.5 * (1 + _erf(X / math.sqrt(2)))
    np.testing.assert_allclose(Tensor(X).gelu().data, exact, rtol=1e-14, atol=1e-300)
    k = math.sqrt(2 / math.pi)
    approx = 0.5 * X * (1 + np.tanh(k * (X + 0.044715 * X**3)))
    np.testing.assert_allclose(st.gelu(X, approximate="tanh").data, approx, rtol=1e-14)


def test_gelu_rejects_an_unknown_approximation() -> None:
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        Tensor(X).gelu("fast")


def test_softplus_matches_its_formula_and_is_linear_above_the_threshold() -> None:
    np.testing.assert_allclose(Tensor(X).softplus().data, np.log1p(np.exp(X)), rtol=1e-14)
    np.testing.assert_allclose(
        st.softplus(X, beta=2.0).data, np.log1p(np.exp(2 * X)) / 2, rtol=1e-14
    )
    x = Tensor([30.0, 1000.0, -1000.0], requires_grad=True)
    out = x.softplus()
    np.testing.assert_array_equal(out.data, [30.0, 1000.0, 0.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 0.0])


def test_softplus_needs_a_positive_beta() -> None:
    with pytest.raises(ValueError, match="softplus: beta must be positive, got 0"):
        Tensor(X).softplus(beta=0)


# ---------------------------------------------------------------------------------------
# softmax / log_softmax
# ---------------------------------------------------------------------------------------
def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_softmax_and_log_softmax_on_any_axis(axis: int) -> None:
    x = R.standard_normal((2, 3, 4))
    s = Tensor(x).softmax(axis)
    np.testing.assert_allclose(s.data, _softmax(x, axis), rtol=1e-14)
    np.testing.assert_allclose(s.data.sum(axis=axis), 1.0, rtol=1e-14)
    ls = st.log_softmax(x, axis)
    np.testing.assert_allclose(ls.data, np.log(_softmax(x, axis)), rtol=1e-13)


def test_softmax_default_axis_is_the_last() -> None:
    np.testing.assert_allclose(Tensor(X).softmax().data, _softmax(X, -1), rtol=1e-14)


def test_softmax_and_log_softmax_are_stable_for_large_logits() -> None:
    x = Tensor([[1000.0, 1000.0, 999.0], [-1000.0, 0.0, 1000.0]], requires_grad=True)
    s = x.softmax()
    ls = x.log_softmax()
    assert np.all(np.isfinite(s.data))
    assert np.all(np.isfinite(ls.data))
    e = math.exp(-1)
    np.testing.assert_allclose(s.data[0], [1 / (2 + e), 1 / (2 + e), e / (2 + e)], rtol=1e-14)
    np.testing.assert_allclose(s.data[1], [0.0, 0.0, 1.0], atol=1e-300)
    np.testing.assert_allclose(ls.data[0], np.log([1 / (2 + e), 1 / (2 + e), e / (2 + e)]))
    np.testing.assert_allclose(ls.data[1], [-2000.0, -1000.0, 0.0])
    (s.sum() * 0.0 + (s * Tensor(np.arange(6.0).reshape(2, 3))).sum() + ls.sum()).backward()
    assert np.all(np.isfinite(x.grad))


def test_softmax_of_a_fully_masked_row_is_nan_without_a_warning() -> None:
    # A row of -inf (every entry masked) has no softmax: nan, as in PyTorch, with no
    # RuntimeWarning (the pytest configuration turns warnings into errors). The other
    # rows, with some -inf entries, stay exact.
    x = Tensor([[-np.inf, -np.inf], [0.0, -np.inf]])
    s = x.softmax()
    assert np.all(np.isnan(s.data[0]))
    np.testing.assert_array_equal(s.data[1], [1.0, 0.0])
    ls = x.log_softmax()
    assert np.all(np.isnan(ls.data[0]))
    np.testing.assert_array_equal(ls.data[1], [0.0, -np.inf])


def test_softmax_with_some_masked_entries_has_finite_gradients() -> None:
    x = Tensor([[0.0, -np.inf, 0.0]], requires_grad=True)
    s = x.softmax()
    np.testing.assert_array_equal(s.data, [[0.5, 0.0, 0.5]])
    s.backward(np.array([[1.0, 2.0, 3.0]]))
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(x.grad, [[-0.5, 0.0, 0.5]], atol=1e-15)


def test_softmax_gradient_rows_sum_to_zero() -> None:
    x = Tensor(X, requires_grad=True)
    x.softmax(axis=1).backward(R.standard_normal(X.shape))
    np.testing.assert_allclose(x.grad.sum(axis=1), 0.0, atol=1e-14)
    x.grad = None
    x.log_softmax(axis=0).backward(R.standard_normal(X.shape))
    # d log_softmax: g - softmax * sum(g): the column sums of the gradient are 0
    np.testing.assert_allclose(x.grad.sum(axis=0), 0.0, atol=1e-13)


def test_softmax_axis_out_of_range_names_the_operator() -> None:
    with pytest.raises(ValueError, match=r"softmax: axis 2 is out of range .* shape \(3, 4\)"):
        Tensor(X).softmax(2)
    with pytest.raises(ValueError, match="log_softmax: axis -3"):
        Tensor(X).log_softmax(-3)
