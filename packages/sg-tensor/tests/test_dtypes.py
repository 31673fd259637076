"""dtypes: float64 by default, float32 end to end, gradients in each leaf's own dtype."""

from __future__ import annotations

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import Tensor


def test_float64_is_the_default() -> None:
    assert Tensor([1.0]).dtype == np.float64
    assert Tensor(1.0).dtype == np.float64
    assert st.tensor([1, 2.5]).dtype == np.float64
    assert Tensor([1, 2.5]).dtype == np.float64
    assert Tensor([[1, 2], [3, 4.0]]).dtype == np.float64
    assert st.zeros(2).dtype == np.float64
    assert st.ones(2, 3).dtype == np.float64


def test_integer_and_bool_data_keep_their_dtype() -> None:
    assert Tensor([1, 2]).dtype.kind == "i"
    assert Tensor([True, False]).dtype == bool
    assert Tensor(np.arange(3, dtype=np.uint8)).dtype == np.uint8


def test_explicit_dtype() -> None:
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert st.tensor([1.0], dtype=np.float32).dtype == np.float32


def test_float32_stays_float32_end_to_end() -> None:
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 2)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(2, np.float32), requires_grad=True)
    h = (x @ w + b) * 2.0 - 1 + 0.5 / (1.0 + (x @ w) ** 2) + 3**b
    h = h.tanh().sigmoid().relu().exp().log().softmax(axis=1).log_softmax(axis=0)
    loss = h.sum() + h.mean() + h.max() + h.var() + h.logsumexp() + h.std() + (h**2).sum()
    loss = loss + st.where(h.data > -1.0, h, 0.0).sum() + h.abs().sqrt().sum() + h.sin().sum()
    loss = loss + ((h.abs() + 1.0) ** 1.5 @ np.ones(2, np.float32)).sum()
    for t in (h, loss):
        assert t.dtype == np.float32, t
    loss.backward()
    for leaf in (x, w, b):
        assert leaf.grad.dtype == np.float32
        assert np.all(np.isfinite(leaf.grad))


def test_float32_forward_agrees_with_float64() -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4))
    t32 = Tensor(a.astype(np.float32), requires_grad=True)
    t64 = Tensor(a, requires_grad=True)
    for t in (t32, t64):
        (t.exp() * 2.0 + t.tanh()).sum().backward()
    np.testing.assert_allclose(t32.grad, t64.grad, rtol=1e-5)


def test_float32_leaf_with_a_float64_array_gets_a_float32_gradient() -> None:
    x = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    out = x * np.array([3.0, 4.0])  # numpy promotes the result to float64
    assert out.dtype == np.float64
    out.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_float32_leaf_with_a_float64_tensor_in_every_binary_operator() -> None:
    for op in (
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a * b,
        lambda a, b: a / b,
        lambda a, b: a**b,
        lambda a, b: a.maximum(b),
        lambda a, b: st.minimum(a, b),
        lambda a, b: a @ b,
        lambda a, b: st.where(np.array([True, False]), a, b),
    ):
        a = Tensor(np.array([1.5, 2.5], np.float32), requires_grad=True)
        b = Tensor(np.array([0.5, 3.0]), requires_grad=True)
        op(a, b).sum().backward()
        assert a.grad.dtype == np.float32
        assert b.grad.dtype == np.float64
        op(b, a).sum().backward()
        assert a.grad.dtype == np.float32
        assert b.grad.dtype == np.float64


def test_mixed_float32_and_float64_reductions_and_shapes() -> None:
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    y = (x.reshape(3, 2).T[0] * np.ones(3)).sum()
    y.backward()
    assert x.grad.dtype == np.float32


def test_float16_is_a_floating_type_too() -> None:
    x = Tensor(np.array([1.0, 2.0], np.float16), requires_grad=True)
    (x * 2.0).sum().backward()
    assert (x * 2.0).dtype == np.float16
    assert x.grad.dtype == np.float16


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, bool])
def test_integer_and_bool_tensors_cannot_require_grad(dtype: type) -> None:
    data = np.array([1, 0]).astype(dtype)
    with pytest.raises(TypeError, match="only floating-point tensors can require grad"):
        Tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match=f"has dtype {np.dtype(dtype)}"):
        Tensor(data).requires_grad_()
    with pytest.raises(TypeError, match="only floating-point"):
        st.tensor(data, requires_grad=True)


def test_integer_tensor_without_grad_mixes_with_a_float_leaf() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    i = Tensor(np.array([3, 4]))
    (x * i).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])
    assert i.grad is None
