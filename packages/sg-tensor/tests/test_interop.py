"""numpy interoperability: arrays and numbers on either side, ufuncs and functions on tensors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import Tensor, no_grad

A = np.array([[1.0, 2.0], [3.0, 4.0]])
V = np.array([0.5, 1.5])


def test_asarray_gives_the_data() -> None:
    t = Tensor(A)
    arr = np.asarray(t)
    assert isinstance(arr, np.ndarray)
    np.testing.assert_array_equal(arr, A)
    np.testing.assert_array_equal(np.array(t, dtype=np.float32), A.astype(np.float32))
    assert np.array(t, dtype=np.float32).dtype == np.float32
    copy = np.array(t, copy=True)
    copy[0, 0] = -1.0
    assert t.data[0, 0] == 1.0


def test_asarray_of_a_tensor_that_requires_grad() -> None:
    t = Tensor(A, requires_grad=True)
    np.testing.assert_array_equal(np.asarray(t), A)


BINARY: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("+", lambda a, b: a + b),
    ("-", lambda a, b: a - b),
    ("*", lambda a, b: a * b),
    ("/", lambda a, b: a / b),
    ("**", lambda a, b: a**b),
    ("@", lambda a, b: a @ b),
]


@pytest.mark.parametrize(("symbol", "fn"), BINARY, ids=[b[0] for b in BINARY])
def test_arrays_on_either_side_give_tracked_tensors(symbol: str, fn: Any) -> None:
    x = Tensor(V, requires_grad=True)
    for out, expected in [(fn(A, x), fn(A, V)), (fn(x, A), fn(V, A))]:
        assert isinstance(out, Tensor), symbol
        assert out.requires_grad
        np.testing.assert_allclose(out.data, expected, rtol=1e-15)
        out.sum().backward()
    assert x.grad is not None
    assert x.grad.shape == V.shape


@pytest.mark.parametrize(("symbol", "fn"), BINARY[:5], ids=[b[0] for b in BINARY[:5]])
def test_numbers_on_either_side(symbol: str, fn: Any) -> None:
    x = Tensor(V, requires_grad=True)
    for number in (2, 2.5, np.float64(1.5)):
        for out, expected in [(fn(number, x), fn(number, V)), (fn(x, number), fn(V, number))]:
            assert isinstance(out, Tensor), symbol
            assert out.requires_grad
            np.testing.assert_allclose(out.data, expected, rtol=1e-15)


def test_array_plus_tensor_gradient() -> None:
    x = Tensor(V, requires_grad=True)
    out = A + x  # numpy's ndarray.__add__ defers to the Tensor
    assert isinstance(out, Tensor)
    (out * out).sum().backward()
    np.testing.assert_allclose(x.grad, (2 * (A + V)).sum(axis=0))


def test_array_minus_and_divided_by_tensor() -> None:
    x = Tensor(V, requires_grad=True)
    ((A - x) + A / x).sum().backward()
    np.testing.assert_allclose(x.grad, -2.0 - (A / V**2).sum(axis=0))


def test_numpy_scalar_on_the_left() -> None:
    x = Tensor(V, requires_grad=True)
    out = np.float64(3.0) * x
    assert isinstance(out, Tensor)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


UFUNCS = [np.exp, np.log, np.sqrt, np.abs, np.sin, np.cos, np.tanh, np.negative]


@pytest.mark.parametrize("ufunc", UFUNCS, ids=lambda u: u.__name__)
def test_numpy_ufuncs_return_differentiable_tensors(ufunc: np.ufunc) -> None:
    x = Tensor(V, requires_grad=True)
    out = ufunc(x)
    assert isinstance(out, Tensor)
    assert out.requires_grad
    np.testing.assert_allclose(out.data, ufunc(V), rtol=1e-15)
    out.sum().backward()
    assert x.grad is not None
    assert np.all(x.grad != 0)


def test_np_exp_gradient() -> None:
    x = Tensor(V, requires_grad=True)
    np.exp(x).sum().backward()
    np.testing.assert_allclose(x.grad, np.exp(V), rtol=1e-15)


def test_binary_ufuncs_dispatch_to_sg() -> None:
    x = Tensor(V, requires_grad=True)
    for ufunc in (np.add, np.subtract, np.multiply, np.divide, np.power, np.maximum, np.minimum):
        out = ufunc(A, x)
        assert isinstance(out, Tensor), ufunc
        assert out.requires_grad
        np.testing.assert_allclose(out.data, ufunc(A, V), rtol=1e-15)
    out = np.matmul(A, x)
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, A @ V)


def test_numpy_comparisons_give_boolean_tensors() -> None:
    x = Tensor(V, requires_grad=True)
    out = np.greater(x, 1.0)
    assert isinstance(out, Tensor)
    assert out.dtype == bool
    np.testing.assert_array_equal(out.data, [False, True])
    assert not out.requires_grad


def test_np_sum_with_axis_returns_a_tensor_with_gradients() -> None:
    x = Tensor(A, requires_grad=True)
    out = np.sum(x, axis=0)
    assert isinstance(out, Tensor)
    np.testing.assert_array_equal(out.data, A.sum(axis=0))
    (out * np.array([1.0, 2.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 2.0], [1.0, 2.0]])


FUNCTIONS: list[tuple[str, Callable[[Any], Any]]] = [
    ("sum", lambda t: np.sum(t)),
    ("mean", lambda t: np.mean(t, axis=1, keepdims=True)),
    ("max", lambda t: np.max(t, axis=0)),
    ("min", lambda t: np.min(t)),
    ("amax", lambda t: np.amax(t, axis=1)),
    ("var", lambda t: np.var(t, axis=0)),
    ("std", lambda t: np.std(t)),
    ("reshape", lambda t: np.reshape(t, (4,))),
    ("transpose", lambda t: np.transpose(t)),
    ("swapaxes", lambda t: np.swapaxes(t, 0, 1)),
    ("broadcast_to", lambda t: np.broadcast_to(t, (3, 2, 2))),
    ("squeeze", lambda t: np.squeeze(np.expand_dims(t, 0))),
    ("expand_dims", lambda t: np.expand_dims(t, 1)),
    ("where", lambda t: np.where(A > 2, t, 0.0)),
    ("concatenate", lambda t: np.concatenate([t, A])),
    ("stack", lambda t: np.stack([t, t], axis=1)),
    ("split", lambda t: np.split(t, 2)[1]),
    ("clip", lambda t: np.clip(t, 1.5, 3.5)),
]


@pytest.mark.parametrize(("name", "fn"), FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_numpy_functions_return_differentiable_tensors(name: str, fn: Any) -> None:
    x = Tensor(A, requires_grad=True)
    out = fn(x)
    assert isinstance(out, Tensor), name
    assert out.requires_grad
    np.testing.assert_allclose(out.data, fn(A), rtol=1e-15)
    out.sum().backward()
    assert x.grad is not None
    assert x.grad.shape == A.shape


def test_np_shape_and_ndim() -> None:
    t = Tensor(np.zeros((2, 3)), requires_grad=True)
    assert np.shape(t) == (2, 3)
    assert np.ndim(t) == 2


def test_unsupported_numpy_function_on_a_tensor_that_requires_grad_is_a_type_error() -> None:
    x = Tensor(A, requires_grad=True)
    with pytest.raises(TypeError, match=r"cumprod.*detach"):
        np.cumprod(x)
    with pytest.raises(TypeError, match="detach"):
        np.exp2(x)  # a ufunc sg does not differentiate
    with pytest.raises(TypeError, match="detach"):
        np.add.reduce(x)  # a ufunc method other than __call__


def test_unsupported_numpy_function_without_grad_returns_the_numpy_result() -> None:
    x = Tensor(A)
    out = np.cumprod(x)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, np.cumprod(A))
    np.testing.assert_array_equal(
        np.cumprod(Tensor(A, requires_grad=True).detach()), np.cumprod(A)
    )
    np.testing.assert_array_equal(np.exp2(x), np.exp2(A))


def test_unsupported_numpy_function_inside_no_grad_returns_the_numpy_result() -> None:
    x = Tensor(A, requires_grad=True)
    with no_grad():
        np.testing.assert_array_equal(np.cumprod(x, axis=0), np.cumprod(A, axis=0))


def test_unsupported_keyword_arguments_fall_back_or_fail_clearly() -> None:
    x = Tensor(A, requires_grad=True)
    with pytest.raises(TypeError, match="detach"):
        np.sum(x, dtype=np.float32)
    out = np.sum(Tensor(A), dtype=np.float32)
    assert out == np.float32(10.0)


def test_functional_forms_accept_plain_arrays() -> None:
    out = st.exp(V)
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, np.exp(V))
    assert isinstance(st.add(1.0, 2.0), Tensor)
    assert st.add(1.0, 2.0).item() == 3.0
    assert st.mul(V, 2.0).data.tolist() == [1.0, 3.0]
