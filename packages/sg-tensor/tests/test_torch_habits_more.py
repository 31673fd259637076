"""More PyTorch habits that must mean what they mean in PyTorch: the augmented operators
``**= %= //= &= |= ^=`` in place, comparisons in the dtype arithmetic uses, PyTorch's
keywords, integer reductions' dtypes, ``t == None``, formatting, ``__index__`` and
``fill_``.

The expected values are PyTorch's (checked against torch 2.13 in float64), written out
by hand: these tests do not import torch.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import CaptureError, Tensor


# ---------------------------------------------------------------------------------------
# The augmented operators without an in-place method: in place, as += is
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("augment", "data", "other", "expected"),
    [
        # torch: x = tensor([1., 2., 3.]); x **= 2 -> tensor([1., 4., 9.])
        (operator.ipow, [1.0, 2.0, 3.0], 2, [1.0, 4.0, 9.0]),
        # torch: tensor([5., 7., -3.]) %= 2 -> tensor([1., 1., 1.]) (the sign of the divisor)
        (operator.imod, [5.0, 7.0, -3.0], 2, [1.0, 1.0, 1.0]),
        # torch: tensor([5, 7, -3]) %= 3 -> tensor([2, 1, 0])
        (operator.imod, [5, 7, -3], 3, [2, 1, 0]),
        # torch: tensor([5, 7, -3]) //= 2 -> tensor([2, 3, -2]) (floor, not truncation)
        (operator.ifloordiv, [5, 7, -3], 2, [2, 3, -2]),
        # torch: tensor([5., 7., -3.]) //= 2 -> tensor([2., 3., -2.])
        (operator.ifloordiv, [5.0, 7.0, -3.0], 2, [2.0, 3.0, -2.0]),
        # torch: tensor([5, 7, -3]) &= 6 -> tensor([4, 6, 4])
        (operator.iand, [5, 7, -3], 6, [4, 6, 4]),
        # torch: tensor([5, 7]) |= 8 -> tensor([13, 15]); ^= 1 -> tensor([4, 6])
        (operator.ior, [5, 7], 8, [13, 15]),
        (operator.ixor, [5, 7], 1, [4, 6]),
        # torch: tensor([True, False]) |= tensor([False, True]) -> tensor([True, True])
        (operator.ior, [True, False], st.tensor([False, True]), [True, True]),
    ],
)
def test_augmented_operators_write_in_place_and_views_see_it(
    augment: Callable[[Any, Any], Any], data: list[Any], other: Any, expected: list[Any]
) -> None:
    """Regression: Tensor had no ``__ipow__``/``__imod__``/``__ifloordiv__``/``__iand__``/
    ``__ior__``/``__ixor__``, so Python rebound the name to a new tensor: a view, or any
    other name for the tensor, kept the old values."""
    x = st.tensor(data)
    same, array, dtype = x, x.data, x.dtype
    view = x[1:]
    x = augment(x, other)
    assert x is same
    assert x.data is array
    assert x.dtype == dtype
    np.testing.assert_array_equal(x.data, expected)
    np.testing.assert_array_equal(view.data, expected[1:])


def test_augmented_power_under_no_grad_updates_the_parameter_itself() -> None:
    # torch: with no_grad(): w **= 0.5 changes the parameter the optimizer holds
    w = st.tensor([4.0, 9.0], requires_grad=True)
    held = [w]  # an optimizer's list of parameters
    with st.no_grad():
        w **= 0.5
    assert held[0] is w
    assert w.is_leaf
    assert w.requires_grad
    np.testing.assert_array_equal(held[0].data, [2.0, 3.0])


@pytest.mark.parametrize(
    ("name", "augment"),
    [
        ("__ipow__", operator.ipow),
        ("__imod__", operator.imod),
        ("__ifloordiv__", operator.ifloordiv),
    ],
)
def test_augmented_operators_on_a_leaf_that_requires_grad_are_refused(
    name: str, augment: Callable[[Any, Any], Any]
) -> None:
    """Regression: ``w **= 2`` on a leaf requiring grad silently made a new non-leaf.
    torch: RuntimeError "a leaf Variable that requires grad is being used in an in-place
    operation"."""
    w = st.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=f"{name}: in-place operation on a tensor"):
        augment(w, 2)
    np.testing.assert_array_equal(w.data, [1.0, 2.0])


def test_augmented_power_with_an_operand_that_requires_grad_is_refused() -> None:
    # torch records b **= a (b then requires grad); sg refuses it, as it does b += a
    a = st.tensor([1.0, 2.0], requires_grad=True)
    b = st.tensor([3.0, 4.0])
    with pytest.raises(RuntimeError, match="__ipow__: the operand"):
        b **= a
    np.testing.assert_array_equal(b.data, [3.0, 4.0])


def test_augmented_power_counts_as_a_modification_for_backward() -> None:
    # torch: y = (a * b).sum(); b **= 2; y.backward() -> RuntimeError "one of the
    # variables needed for gradient computation has been modified by an inplace operation"
    a = st.tensor([1.0, 2.0], requires_grad=True)
    b = st.tensor([3.0, 4.0])
    y = (a * b).sum()
    b **= 2
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_augmented_operators_keep_the_dtype_or_raise() -> None:
    # torch: x = tensor([1, 2, 3]); x **= 0.5 -> RuntimeError "result type Float can't be
    # cast to the desired output type Long"; so do %= 1.5 and //= 1.5
    x = st.tensor([1, 2, 3])
    for augment, value in ((operator.ipow, 0.5), (operator.imod, 1.5), (operator.ifloordiv, 1.5)):
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type int64"):
            augment(x, value)
    with pytest.raises(TypeError, match="the result is floating point"):  # a TypeError too
        x **= 0.5
    np.testing.assert_array_equal(x.data, [1, 2, 3])
    # torch: int tensor **= 2 -> tensor([1, 4, 9]), still int64
    x **= 2
    assert x.dtype == np.int64
    np.testing.assert_array_equal(x.data, [1, 4, 9])
    # torch: tensor([True, False]) &= 3 -> RuntimeError "result type Long can't be cast to
    # the desired output type Bool" (numpy's unsafe cast wrote True)
    mask = st.tensor([True, False])
    with pytest.raises(RuntimeError, match="__iand__: the result is an integer"):
        mask &= 3
    # torch: tensor([True, False]) += 1 -> the same RuntimeError
    with pytest.raises(RuntimeError, match="__iadd__: the result is an integer"):
        mask += 1
    np.testing.assert_array_equal(mask.data, [True, False])
    # torch: a float32 tensor **= a float64 tensor stays float32
    f = st.tensor([1.0, 2.0], dtype=st.float32)
    f **= st.tensor([2.0, 3.0])
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f.data, np.array([1.0, 8.0], dtype=np.float32))


def test_augmented_operators_give_the_out_of_place_operators_errors() -> None:
    # torch: tensor([1, 2]) //= 0 -> RuntimeError "ZeroDivisionError"
    x = st.tensor([1, 2])
    with pytest.raises(ZeroDivisionError, match="floor_divide"):
        x //= 0
    with pytest.raises(ZeroDivisionError, match="remainder"):
        x %= 0
    # torch: output with shape [2] doesn't match the broadcast shape [2, 2]
    y = st.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"__ipow__: an operand of shape \(2, 2\)"):
        y **= st.ones(2, 2)
    np.testing.assert_array_equal(y.data, [1.0, 2.0])


def test_augmented_operators_are_refused_while_capturing() -> None:
    def step(x: Tensor) -> Tensor:
        x **= 2
        return x

    with pytest.raises(CaptureError, match=r"in-place operation \(__ipow__\)"):
        st.capture(step)(Tensor(np.ones(3)))


# ---------------------------------------------------------------------------------------
# Comparisons promote as arithmetic does
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "threshold",
    [st.tensor(0.1), np.float64(0.1), np.array(0.1), 0.1],
    ids=["0-d float64 tensor", "np.float64", "0-d float64 array", "Python float"],
)
def test_a_float32_tensor_compares_with_a_0d_float64_value_in_float32(threshold: Any) -> None:
    """Regression: a 0-d float64 tensor, np.float64 or 0-d array was compared in float64
    (float32(0.1) > float64(0.1)), while arithmetic with it stays in float32."""
    x = st.tensor([0.1, 0.5], dtype=st.float32)
    # torch: x > thr -> [False, True]; x == thr -> [True, False]; x >= thr -> [True, True]
    np.testing.assert_array_equal((x > threshold).data, [False, True])
    np.testing.assert_array_equal((x == threshold).data, [True, False])
    np.testing.assert_array_equal((x != threshold).data, [False, True])
    np.testing.assert_array_equal((x >= threshold).data, [True, True])
    np.testing.assert_array_equal((x <= threshold).data, [True, False])
    np.testing.assert_array_equal((x < threshold).data, [False, False])


def test_a_0d_float64_tensor_on_the_left_compares_in_float32_too() -> None:
    x = st.tensor([0.1, 0.5], dtype=st.float32)
    thr = st.tensor(0.1)
    # torch: thr < x -> [False, True]; thr == x -> [True, False]
    np.testing.assert_array_equal((thr < x).data, [False, True])
    np.testing.assert_array_equal((thr == x).data, [True, False])


def test_dimensioned_tensors_of_two_float_dtypes_compare_in_the_wider_one() -> None:
    x = st.tensor([0.1, 0.5], dtype=st.float32)
    # torch: x == tensor([0.1, 0.5], dtype=float64) -> [False, True] (promoted to float64)
    np.testing.assert_array_equal((x == st.tensor([0.1, 0.5])).data, [False, True])
    # torch: float16 tensor([0.1]) == tensor(0.1) (float64, 0-d) -> [True]
    half = st.tensor([0.1], dtype=st.float16)
    np.testing.assert_array_equal((half == st.tensor(0.1)).data, [True])
    # numpy's function on a tensor promotes as sg's operators (Python routes
    # np.float64(0.1) < x through it too, and PyTorch keeps float32 there)
    np.testing.assert_array_equal(np.greater(x, np.float64(0.1)).data, [False, True])


def test_comparisons_inside_a_captured_step_are_replayed_with_the_new_values() -> None:
    thr = st.tensor(0.1)
    captured = st.capture(lambda x: (x > thr, x == thr))
    first = st.tensor(np.array([0.1, 0.5], dtype=np.float32))
    second = st.tensor(np.array([0.5, 0.1], dtype=np.float32))
    captured(first)
    above, equal = captured(second)
    np.testing.assert_array_equal(above.data, [True, False])
    np.testing.assert_array_equal(equal.data, [False, True])


def test_equality_with_none_or_a_string_is_pythons_answer() -> None:
    """Regression: ``t == None`` gave a bool tensor (so ``t in [None]`` raised on its
    truth value) and ``t == "x"`` a raw numpy UFuncTypeError."""
    t = st.tensor([1.0, 2.0])
    # torch: t == None -> False; t != None -> True; t == "x" -> False; t in [None] -> False
    assert (t == None) is False  # noqa: E711
    assert (t != None) is True  # noqa: E711
    assert (t == "x") is False
    assert (t != "x") is True
    assert t not in [None, "x"]
    # torch: t < None -> TypeError "'<' not supported between instances of 'Tensor' and
    # 'NoneType'"
    with pytest.raises(TypeError, match="'<' not supported between instances of 'Tensor'"):
        t < None  # noqa: B015
    with pytest.raises(TypeError, match="'>=' not supported"):
        t >= "x"  # noqa: B015


# ---------------------------------------------------------------------------------------
# PyTorch's keywords
# ---------------------------------------------------------------------------------------
def test_split_takes_pytorchs_keywords() -> None:
    t = st.arange(6.0)
    # torch: t.split(split_size=2) -> three pieces of 2; torch.split(t,
    # split_size_or_sections=2) the same
    assert [p.tolist() for p in t.split(split_size=2)] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert [p.shape for p in st.split(t, split_size_or_sections=[1, 5])] == [(1,), (5,)]
    assert [p.shape for p in t.split(split_size=4, dim=0)] == [(4,), (2,)]
    with pytest.raises(TypeError, match="split"):
        t.split(2, split_size=2)
    with pytest.raises(TypeError, match="split"):
        t.split()


def test_new_zeros_and_new_ones_take_size_by_keyword() -> None:
    t = st.tensor([1, 2], dtype=st.int32)
    # torch: t.new_zeros(size=(2, 3)) -> zeros of shape (2, 3), t's dtype
    z = t.new_zeros(size=(2, 3))
    assert z.shape == (2, 3)
    assert z.dtype == np.int32
    assert not z.data.any()
    o = t.new_ones(size=(2,))
    np.testing.assert_array_equal(o.data, [1, 1])
    assert t.new_zeros(2, 3).shape == (2, 3)  # positionally, as before
    with pytest.raises(TypeError, match="new_zeros"):
        t.new_zeros(2, size=(2,))


# ---------------------------------------------------------------------------------------
# Reductions of integer and bool tensors: PyTorch's dtypes
# ---------------------------------------------------------------------------------------
def test_sum_prod_and_cumsum_of_unsigned_integers_give_int64() -> None:
    """Regression: a uint8 tensor's sum, prod and cumsum were uint64 (numpy's)."""
    u = st.tensor(np.array([200, 100], dtype=np.uint8))
    # torch: u.sum() -> tensor(300) int64; u.prod() -> tensor(20000) int64;
    # u.cumsum(0) -> tensor([200, 300]) int64
    for result, expected in ((u.sum(), 300), (u.prod(), 20000), (st.sum(u), 300)):
        assert result.dtype == np.int64
        assert result.item() == expected
    assert u.sum(0).dtype == np.int64
    cumulative = u.cumsum(0)
    assert cumulative.dtype == np.int64
    np.testing.assert_array_equal(cumulative.data, [200, 300])
    # torch: every integer and bool dtype sums, multiplies and accumulates in int64
    for dtype in (np.int8, np.int16, np.int32, np.bool_):
        v = st.tensor(np.array([1, 1], dtype=dtype))
        assert {v.sum().dtype, v.prod().dtype, v.cumsum(0).dtype} == {np.dtype(np.int64)}


def test_all_and_any_of_a_uint8_tensor_give_uint8() -> None:
    u = st.tensor(np.array([200, 0], dtype=np.uint8))
    # torch: u.all() -> tensor(0, dtype=uint8); u.any() -> tensor(1, dtype=uint8)
    assert u.all().dtype == np.uint8
    assert u.all().item() == 0
    assert u.any().dtype == np.uint8
    assert u.any().item() == 1
    assert u.any(0, keepdim=True).shape == (1,)
    # torch: other dtypes give bool
    assert st.tensor([1, 2], dtype=st.int32).all().dtype == np.bool_
    assert st.tensor([1.0, 0.0]).any().dtype == np.bool_


# ---------------------------------------------------------------------------------------
# Python protocols: format, index
# ---------------------------------------------------------------------------------------
def test_a_0d_tensor_formats_as_its_value() -> None:
    # torch: f"{tensor(3.14159):.2f}" -> '3.14'; f"{tensor(3):04d}" -> '0003';
    # f"{tensor(3.5)}" -> '3.5'
    assert f"{st.tensor(3.14159):.2f}" == "3.14"
    assert f"{st.tensor(3):04d}" == "0003"
    assert f"{st.tensor(3.5)}" == "3.5"
    # torch: a tensor with dimensions takes no format spec (TypeError), an empty one is str()
    t = st.tensor([3.5])
    assert f"{t}" == str(t)
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{t:.2f}"


def test_a_0d_integer_tensor_is_an_index() -> None:
    # torch: [10, 20, 30][tensor(1)] -> 20; list(range(tensor(3))) -> [0, 1, 2];
    # [10, 20, 30][tensor(True)] -> 20
    assert [10, 20, 30][st.tensor(1)] == 20
    assert list(range(st.tensor(3))) == [0, 1, 2]
    assert [10, 20, 30][st.tensor(True)] == 20
    assert operator.index(st.tensor(np.array(3, dtype=np.uint8))) == 3
    # torch: "only integer tensors of a single element can be converted to an index"
    with pytest.raises(TypeError, match=r"__index__: only a 0-d integer tensor.*float64"):
        [10, 20, 30][st.tensor(1.0)]
    with pytest.raises(TypeError, match=r"__index__: .*shape \(2,\)"):
        operator.index(st.tensor([1, 2]))
    # a tensor with dimensions stays an array to numpy (not a number)
    np.testing.assert_array_equal(np.arange(10)[st.tensor([1])], [1])


# ---------------------------------------------------------------------------------------
# fill_
# ---------------------------------------------------------------------------------------
def test_fill_converts_the_value_as_pytorch() -> None:
    """Regression: ``int_tensor.fill_(2.7)`` raised."""
    # torch: tensor([1, 2]).fill_(2.7) -> tensor([2, 2]); fill_(-2.7) -> tensor([-2, -2]);
    # fill_(tensor(2.7)) -> tensor([2, 2])
    for value, expected in ((2.7, [2, 2]), (-2.7, [-2, -2]), (st.tensor(2.7), [2, 2])):
        x = st.tensor([1, 2])
        assert x.fill_(value) is x
        assert x.dtype == np.int64
        np.testing.assert_array_equal(x.data, expected)
    # torch: tensor([True, False]).fill_(2.7) -> tensor([True, True])
    mask = st.tensor([True, False])
    np.testing.assert_array_equal(mask.fill_(2.7).data, [True, True])
    # torch: float tensor fill_(True) -> 1.0
    np.testing.assert_array_equal(st.tensor([0.0, 2.0]).fill_(True).data, [1.0, 1.0])


def test_fill_refuses_a_value_the_dtype_cannot_hold() -> None:
    # torch: tensor([1, 2]).fill_(nan) -> RuntimeError "value cannot be converted to type
    # int64_t without overflow"; uint8 fill_(300) the same
    x = st.tensor([1, 2])
    with pytest.raises(ValueError, match="fill_: cannot fill a tensor of dtype int64 with nan"):
        x.fill_(float("nan"))
    u = st.tensor(np.array([1, 2], dtype=np.uint8))
    with pytest.raises(ValueError, match=r"fill_: 300 does not fit in .* uint8 \(0 to 255\)"):
        u.fill_(300)
    np.testing.assert_array_equal(u.data, [1, 2])


def test_broadcast_to_keeps_a_dimension_given_as_minus_one() -> None:
    # torch.ones(3, 1).broadcast_to((2, -1, 4)).shape == (2, 3, 4), as expand's -1
    t = st.ones(3, 1, requires_grad=True)
    out = t.broadcast_to((2, -1, 4))
    assert out.shape == (2, 3, 4)
    out.sum().backward()
    assert t.grad.tolist() == [[8.0], [8.0], [8.0]]
    with pytest.raises(ValueError, match=r"broadcast_to: invalid sizes \(-1, 3, 1\)"):
        t.broadcast_to((-1, 3, 1))  # a new leading dimension cannot keep a size


def test_binary_operators_take_pytorchs_keyword_names() -> None:
    # torch.mul(input=x, other=y), x.mul(other=y), torch.add(x, y, alpha=2)
    x, y = st.tensor([1.0, 2.0]), st.tensor([3.0, 4.0])
    assert st.mul(input=x, other=y).tolist() == [3.0, 8.0]
    assert x.mul(other=y).tolist() == [3.0, 8.0]
    assert x.div(other=y).tolist() == [1.0 / 3.0, 0.5]
    assert x.maximum(other=y).tolist() == [3.0, 4.0]
    assert st.add(x, y, alpha=2).tolist() == [7.0, 10.0]
    assert st.sub(input=x, other=y, alpha=0.5).tolist() == [-0.5, 0.0]


def test_iterating_a_0d_tensor_says_so() -> None:
    # torch: TypeError: iteration over a 0-d tensor
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(st.tensor(1.0))


def test_a_numpy_scalar_on_the_left_of_a_comparison_promotes_as_on_the_right() -> None:
    # torch: np.float64(0.1) < torch.tensor([0.1, 0.2], dtype=torch.float32) -> [F, T]
    t = st.tensor([0.1, 0.2], dtype=np.float32)
    assert (np.float64(0.1) < t).tolist() == [False, True]
    assert (np.float64(0.1) >= t).tolist() == [True, False]
    assert (t > np.float64(0.1)).tolist() == [False, True]
    assert np.greater(t, np.float64(0.1)).tolist() == [False, True]
