"""matmul: numpy's semantics for every operand rank, gradients with the textbook formulas."""

from __future__ import annotations

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import Tensor

R = np.random.default_rng(13)

SHAPES = [
    ((2, 3), (3, 4)),
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
    ((2, 3, 4), (2, 4, 2)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 3, 2), (4, 2, 3)),
]


@pytest.mark.parametrize(("sa", "sb"), SHAPES, ids=[f"{a}@{b}" for a, b in SHAPES])
def test_matmul_matches_numpy_and_grads_have_the_input_shapes(
    sa: tuple[int, ...], sb: tuple[int, ...]
) -> None:
    a_data, b_data = R.standard_normal(sa), R.standard_normal(sb)
    a, b = Tensor(a_data, requires_grad=True), Tensor(b_data, requires_grad=True)
    out = a @ b
    expected = a_data @ b_data
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14, atol=1e-14)
    out.backward(np.ones(out.shape))
    assert a.grad.shape == sa
    assert b.grad.shape == sb


def test_matmul_2d_gradients_are_g_bt_and_at_g() -> None:
    a_data, b_data = R.standard_normal((2, 3)), R.standard_normal((3, 4))
    a, b = Tensor(a_data, requires_grad=True), Tensor(b_data, requires_grad=True)
    g = R.standard_normal((2, 4))
    (a @ b).backward(g)
    np.testing.assert_allclose(a.grad, g @ b_data.T, rtol=1e-14)
    np.testing.assert_allclose(b.grad, a_data.T @ g, rtol=1e-14)


def test_dot_product_gradients() -> None:
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = Tensor([4.0, 5.0, 6.0], requires_grad=True)
    out = a @ b
    assert out.shape == ()
    assert out.item() == 32.0
    out.backward()
    np.testing.assert_array_equal(a.grad, [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(b.grad, [1.0, 2.0, 3.0])


def test_broadcast_batch_gradient_sums_over_the_batch() -> None:
    a_data = R.standard_normal((3, 4))
    b_data = R.standard_normal((5, 4, 2))
    a, b = Tensor(a_data, requires_grad=True), Tensor(b_data, requires_grad=True)
    g = R.standard_normal((5, 3, 2))
    (a @ b).backward(g)
    np.testing.assert_allclose(a.grad, sum(g[i] @ b_data[i].T for i in range(5)), rtol=1e-13)
    np.testing.assert_allclose(b.grad, np.stack([a_data.T @ g[i] for i in range(5)]), rtol=1e-13)


def test_matmul_with_arrays_on_either_side() -> None:
    m = R.standard_normal((2, 3))
    v = Tensor(R.standard_normal(3), requires_grad=True)
    left = m @ v
    assert isinstance(left, Tensor)
    assert left.requires_grad
    np.testing.assert_allclose(left.data, m @ v.data, rtol=1e-14)
    w = Tensor(R.standard_normal((2, 2)), requires_grad=True)
    right = w @ m
    np.testing.assert_allclose(right.data, w.data @ m, rtol=1e-14)
    left.sum().backward()
    np.testing.assert_allclose(v.grad, m.sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(st.matmul(m.T, w.data).data, m.T @ w.data)


def test_matmul_inner_dimension_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"matmul: .*\(2, 3\) @ \(4, 2\)"):
        Tensor(np.zeros((2, 3))) @ Tensor(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"matmul: .*\(3,\) @ \(2,\)"):
        Tensor(np.zeros(3)) @ Tensor(np.zeros(2))
    with pytest.raises(ValueError, match=r"matmul: .*\(2, 5\) @ \(4,\)"):
        Tensor(np.zeros((2, 5))) @ np.zeros(4)


def test_matmul_of_a_0d_operand_is_an_error() -> None:
    with pytest.raises(ValueError, match="matmul: operands must have at least 1 dimension"):
        Tensor(np.float64(2.0)) @ Tensor(np.zeros(3))


def test_matmul_batch_mismatch_names_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3, 4\).*\(3, 4, 5\)"):
        Tensor(np.zeros((2, 3, 4))) @ Tensor(np.zeros((3, 4, 5)))
