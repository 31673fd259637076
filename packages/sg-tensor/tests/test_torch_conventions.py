"""PyTorch's answers where numpy's differ: result dtypes of bool and integer inputs,
integer division by zero, and the conventions at nan.

The expected values are PyTorch's (float64 default dtype), written out by hand or
computed with numpy in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor.kernels import INTO
from sg_tensor.op import OPS

NAN = float("nan")


@pytest.fixture
def float32_default() -> Iterator[None]:
    st.set_default_dtype(st.float32)
    try:
        yield
    finally:
        st.set_default_dtype(st.float64)


# ---------------------------------------------------------------------------------------
# Real functions of bool and integer tensors: the default floating dtype
# ---------------------------------------------------------------------------------------
UNARY = {
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": np.tanh,
    "expm1": np.expm1,
    "log1p": np.log1p,
    "arctan": np.arctan,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "erf": np.vectorize(math.erf),
}


def test_erf_of_integers_and_bools_is_floating() -> None:
    out = st.tensor([1, 2]).erf()
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.data, [math.erf(1.0), math.erf(2.0)])
    out = st.tensor([True, False]).erf()
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.data, [math.erf(1.0), 0.0])
    for dtype in (np.int32, np.int64):  # the others' float64 results are numpy's, as before
        values = np.array([1, 2, 3], dtype=dtype)
        for name, reference in UNARY.items():
            out = getattr(st.tensor(values), name)()
            assert out.dtype == np.float64
            np.testing.assert_array_equal(out.data, reference(values.astype(np.float64)))


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int16])
def test_real_functions_of_bool_and_integer_tensors_give_the_default_dtype(
    name: str, dtype: type
) -> None:
    values = np.array([1, 0, 1] if dtype is np.bool_ else [1, 2, 3], dtype=dtype)
    out = getattr(st.tensor(values), name)()
    assert out.dtype == np.float64  # numpy: float16 for bool and int8, float32 for int16
    with np.errstate(divide="ignore"):  # log(False) is -inf
        expected = UNARY[name](values.astype(np.float64))
    np.testing.assert_array_equal(out.data, expected)


@pytest.mark.usefixtures("float32_default")
def test_real_functions_of_integers_follow_the_default_dtype() -> None:
    assert st.tensor([True, False]).exp().dtype == np.float32
    assert st.tensor([1, 2]).erf().dtype == np.float32
    assert st.tensor([1, 2]).sin().dtype == np.float32


def test_sigmoid_of_a_bool_tensor() -> None:
    out = st.tensor([True, False]).sigmoid()
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.data, [1 / (1 + math.exp(-1.0)), 0.5])


# ---------------------------------------------------------------------------------------
# clamp with number bounds: integer bounds keep an integer tensor's dtype
# ---------------------------------------------------------------------------------------
def test_clamp_of_an_integer_tensor_with_integer_bounds_stays_integer() -> None:
    out = st.tensor([-1, 0, 3]).clamp(0, 1)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, [0, 0, 1])
    out = st.tensor([-1, 0, 3]).clamp(np.int64(0), np.int64(1))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, [0, 0, 1])
    out = st.tensor(np.array([-5, 7], dtype=np.int8)).clamp(min=-2)
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out.data, [-2, 7])
    out = st.tensor([True, False]).clamp(0, 1)  # bool with int bounds: int64
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, [1, 0])
    # a float bound makes it floating (the default dtype)
    out = st.tensor([-1, 0, 3]).clamp(0.5, 1)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.data, [0.5, 0.5, 1.0])
    # a float tensor keeps its dtype with integer bounds
    out = st.tensor(np.array([-1.5, 0.25, 3.0], dtype=np.float32)).clamp(np.int64(0), 1)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, np.array([0.0, 0.25, 1.0], dtype=np.float32))


@pytest.mark.usefixtures("float32_default")
def test_clamp_of_an_integer_tensor_with_a_float_bound_follows_the_default_dtype() -> None:
    out = st.tensor([-1, 0, 3]).clamp(max=0.5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, np.array([-1.0, 0.0, 0.5], dtype=np.float32))


# ---------------------------------------------------------------------------------------
# Integer exponents of any integer type keep an integer tensor's dtype
# ---------------------------------------------------------------------------------------
def test_numpy_integer_exponent_keeps_the_integer_dtype() -> None:
    out = st.tensor([1, 2, 3]) ** np.int64(2)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, [1, 4, 9])
    out = st.tensor(np.array([1, -2], dtype=np.int8)).pow(np.int32(3))
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out.data, [1, -8])
    out = st.tensor([True, False]) ** np.int64(2)  # as ``** 2``: int64
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, [1, 0])
    # a float tensor's power and gradient, as with ``** 3``
    x = st.tensor([0.5, -1.5], requires_grad=True)
    out = x ** np.int64(3)
    np.testing.assert_array_equal(out.data, [0.125, -3.375])
    out.backward(np.ones(2))
    np.testing.assert_array_equal(x.grad, [0.75, 6.75])


# ---------------------------------------------------------------------------------------
# Integer // and % by zero raise (numpy gives 0 and a warning)
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "divide"),
    [
        ("floor_divide", lambda a, b: a // b),
        ("remainder", lambda a, b: a % b),
    ],
)
def test_integer_division_by_zero_raises(name: str, divide: Callable[[Any, Any], Any]) -> None:
    for a, b in [
        (st.tensor([1, 2]), 0),
        (st.tensor([1, 2]), st.tensor([1, 0])),
        (5, st.tensor([3, 0])),
        (st.tensor(np.array([1, 2], dtype=np.int8)), st.tensor(np.array([0, 1], np.int8))),
        (st.tensor([True, True]), st.tensor([True, False])),
    ]:
        with pytest.raises(ZeroDivisionError, match=f"{name}: integer division by zero"):
            divide(a, b)
    with pytest.raises(RuntimeError, match="division by zero"):  # PyTorch's exception type
        divide(st.tensor([1, 2]), 0)
    # nonzero divisors: Python's floor division and remainder
    expected = {"floor_divide": [3, -4], "remainder": [1, 1]}[name]
    np.testing.assert_array_equal(divide(st.tensor([7, -7]), st.tensor([2, 2])).data, expected)


# ---------------------------------------------------------------------------------------
# nan conventions
# ---------------------------------------------------------------------------------------
def test_sign_of_nan_is_zero() -> None:
    x = st.tensor([NAN, -2.0, 0.0, 3.0, -math.inf], requires_grad=True)
    out = x.sign()
    np.testing.assert_array_equal(out.data, [0.0, -1.0, 0.0, 1.0, -1.0])
    out.backward(np.ones(5))
    np.testing.assert_array_equal(x.grad, np.zeros(5))


def test_sign_of_a_bool_tensor_is_itself() -> None:
    out = st.tensor([True, False]).sign()
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out.data, [True, False])


def test_abs_gradient_at_nan_is_zero() -> None:
    x = st.tensor([NAN, -2.0, 0.0, 3.0], requires_grad=True)
    x.abs().backward(np.array([5.0, 5.0, 5.0, 5.0]))
    np.testing.assert_array_equal(x.grad, [0.0, -5.0, 0.0, 5.0])


def test_relu_passes_the_gradient_at_nan() -> None:
    # PyTorch's mask is ``not (out <= 0)``: a nan output lets the gradient through
    x = st.tensor([NAN, -1.0, 0.0, 2.0], requires_grad=True)
    out = x.relu()
    assert np.isnan(out.data[0])
    out.backward(np.array([5.0, 5.0, 5.0, 5.0]))
    np.testing.assert_array_equal(x.grad, [5.0, 0.0, 0.0, 5.0])


def test_relu_kernel_of_captured_steps_passes_the_gradient_at_nan() -> None:
    x = np.array([NAN, -1.0, 0.0, 2.0])
    g = np.array([5.0, 5.0, 5.0, 5.0])
    relu = OPS["relu"]
    out = relu.forward(x)
    (expected,) = relu.vjp(g, out, x)
    (kernel,) = INTO[relu].rule([np.empty(4)], g, out, x)
    np.testing.assert_array_equal(kernel, [5.0, 0.0, 0.0, 5.0])
    assert kernel.tobytes() == expected.tobytes()


def test_remainder_by_zero_passes_the_gradient_of_the_dividend() -> None:
    x = st.tensor([1.5, -2.0], requires_grad=True)
    with np.errstate(invalid="ignore"):  # the forward's 0 * inf: nan, as PyTorch's
        out = x % 0.0
    assert np.all(np.isnan(out.data))
    out.backward(np.array([3.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [3.0, -1.0])


def test_remainder_gradients_are_one_and_minus_the_floor() -> None:
    x = st.tensor([1.5, -2.5, 7.0], requires_grad=True)
    y = st.tensor([2.0, 2.0, -3.0], requires_grad=True)
    (x % y).backward(np.array([3.0, 3.0, 3.0]))
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 3.0])
    # -floor(x / y) * g: floor(0.75) = 0, floor(-1.25) = -2, floor(-2.33) = -3
    np.testing.assert_array_equal(y.grad, [-0.0, 6.0, 9.0])
    assert np.signbit(y.grad[0])  # -(0 * 3), as PyTorch's -floor(a / b) * g


def test_full_takes_its_dtype_from_the_fill_value() -> None:
    assert st.full((2,), 3).dtype == np.int64
    assert st.full((2,), True).dtype == np.bool_
    assert st.full((2,), 1.5).dtype == st.get_default_dtype()
    assert st.full((2,), 3, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(st.full((2, 1), 7).data, [[7], [7]])


def test_var_and_std_take_unbiased_as_their_first_argument() -> None:
    x = st.tensor([1.0, 2.0, 4.0])
    assert x.var(True).item() == pytest.approx(np.var(x.data, ddof=1), rel=1e-15)
    assert x.var(False).item() == pytest.approx(np.var(x.data), rel=1e-15)
    assert x.std(False).item() == pytest.approx(np.std(x.data), rel=1e-15)
    assert x.var(0).item() == pytest.approx(np.var(x.data, ddof=1), rel=1e-15)  # a dim


def test_permute_needs_the_order_of_the_dims() -> None:
    x = st.zeros(2, 3, 4)
    with pytest.raises(
        TypeError, match=r"permute: give the order of the dims \(the tensor has 3\)"
    ):
        x.permute()
    assert x.permute(2, 0, 1).shape == (4, 2, 3)
    assert x.permute(dims=(2, 0, 1)).shape == (4, 2, 3)


def test_view_is_reshape_and_contiguous_makes_row_major_copies() -> None:
    x = st.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = x.view(3, 2)
    assert np.shares_memory(v.data, x.data)
    assert x.view(-1).shape == (6,)
    assert x.view((6,)).shape == (6,)
    (x.view(6) * st.arange(6.0)).sum().backward()
    np.testing.assert_array_equal(x.grad, np.arange(6.0).reshape(2, 3))
    # where PyTorch's view needs row order, sg's copies (numpy's layouts differ from
    # PyTorch's after a flip or an indexing): the values are PyTorch's either way
    np.testing.assert_array_equal(x.t().view(-1).data, x.data.T.reshape(-1))
    np.testing.assert_array_equal(x[:, [0, 2]].view(-1).data, [0.0, 2.0, 3.0, 5.0])
    assert not x.t().is_contiguous()
    assert x.contiguous() is x  # already in row order: itself, as PyTorch
    flat = x.t().contiguous()
    assert flat.is_contiguous()
    assert np.shares_memory(flat.view(-1).data, flat.data)
    with pytest.raises(TypeError, match="view: reinterpreting the elements as another dtype"):
        x.view(np.int64)


def test_arange_refuses_bounds_the_step_cannot_join() -> None:
    np.testing.assert_array_equal(st.arange(5, 0, -2).data, [5, 3, 1])
    assert st.arange(2, 2).shape == (0,)  # equal bounds: empty, as PyTorch
    for args in [(1, 0), (0, 5, -1), (-3,)]:
        with pytest.raises(ValueError, match="arange: the bounds are inconsistent with the step"):
            st.arange(*args)
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        st.arange(0, 5, 0)


def test_a_uint8_tensor_index_is_refused_as_ambiguous() -> None:
    # PyTorch takes it as a mask (deprecated), numpy as positions: neither silently.
    x = st.tensor(np.arange(12.0).reshape(3, 4))
    index = st.tensor(np.array([1, 0, 1], dtype=np.uint8))
    with pytest.raises(IndexError, match=r"uint8 tensor index \(shape \(3,\)\) is ambiguous"):
        x[index]
    assert x[index.bool()].shape == (2, 4)
    assert x[index.long()].shape == (3, 4)
