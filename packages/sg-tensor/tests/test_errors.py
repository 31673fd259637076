"""Error messages name the operator and the shapes involved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import Tensor

T23 = Tensor(np.zeros((2, 3)))
T4 = Tensor(np.zeros(4))

BINARY: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: a**b),
    ("maximum", lambda a, b: a.maximum(b)),
    ("minimum", lambda a, b: st.minimum(a, b)),
]


@pytest.mark.parametrize(("name", "fn"), BINARY, ids=[b[0] for b in BINARY])
def test_incompatible_broadcasting_names_operator_and_shapes(name: str, fn: Any) -> None:
    with pytest.raises(ValueError, match=name) as info:
        fn(T23, T4)
    message = str(info.value)
    assert message.startswith(f"{name}:")
    assert "(2, 3)" in message
    assert "(4,)" in message


def test_incompatible_broadcasting_with_an_array_operand() -> None:
    with pytest.raises(ValueError, match=r"^add: .*\(2, 3\).*\(4,\)"):
        T23 + np.zeros(4)
    with pytest.raises(ValueError, match=r"^sub: .*\(4,\).*\(2, 3\)"):
        np.zeros(4) - T23


def test_where_with_incompatible_shapes() -> None:
    with pytest.raises(ValueError, match=r"where: .*\(2,\), \(2, 3\) and \(4,\)"):
        st.where(np.array([True, False]), T23, T4)


def test_matmul_inner_dimension_mismatch() -> None:
    with pytest.raises(ValueError, match="matmul") as info:
        T23 @ Tensor(np.zeros((4, 5)))
    message = str(info.value)
    assert "(2, 3)" in message
    assert "(4, 5)" in message
    assert "3 != 4" in message


def test_backward_on_a_non_scalar_without_grad() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward\(\).*one element.*shape \(2, 3\)"):
        (x * 2.0).backward()


def test_backward_with_a_grad_of_the_wrong_shape() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the tensor has shape \(2, 3"):
        (x * 2.0).backward(np.ones(3))
    with pytest.raises(ValueError, match=r"\(\) but the tensor has shape \(2, 3\)"):
        (x * 2.0).backward(1.0)


def test_backward_accepts_a_tensor_grad() -> None:
    x = Tensor(np.ones((2,)), requires_grad=True)
    (x * 2.0).backward(Tensor([1.0, 3.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 6.0])


def test_axis_out_of_range() -> None:
    with pytest.raises(ValueError, match="sum") as info:
        T23.sum(axis=3)
    message = str(info.value)
    assert message.startswith("sum:")
    assert "axis 3" in message
    assert "(2, 3)" in message
    with pytest.raises(ValueError, match=r"mean: axis -4 is out of range .*\(2, 3\)"):
        T23.mean(axis=-4)
    with pytest.raises(ValueError, match=r"swapaxes: axis 2 is out of range"):
        T23.swapaxes(0, 2)


def test_reshape_to_an_incompatible_shape() -> None:
    with pytest.raises(ValueError, match="reshape") as info:
        T23.reshape(4, 2)
    message = str(info.value)
    assert "(2, 3)" in message
    assert "(4, 2)" in message


OPERANDS = ["a", None, {"a": 1}, object(), 1j]


@pytest.mark.parametrize("operand", OPERANDS, ids=[type(o).__name__ for o in OPERANDS])
def test_unsupported_operand_type_names_the_type(operand: Any) -> None:
    type_name = type(operand).__name__
    with pytest.raises(TypeError, match=rf"add: unsupported operand type {type_name}"):
        T23 + operand
    with pytest.raises(TypeError, match=rf"mul: unsupported operand type {type_name}"):
        operand * T23
    with pytest.raises(TypeError, match=type_name):
        T23 @ operand


@pytest.mark.parametrize(
    "array",
    [
        np.array(["a", "b", "c"]),
        np.ones(3, dtype=complex),
        np.array([1.0, None, 2.0], dtype=object),
    ],
    ids=["str", "complex", "object"],
)
def test_an_array_operand_of_another_kind_is_refused_naming_its_dtype(array: Any) -> None:
    with pytest.raises(TypeError, match=rf"sub: unsupported operand dtype {array.dtype}.*\(3,\)"):
        T23 - array
    with pytest.raises(TypeError, match=rf"mul: unsupported operand dtype {array.dtype}"):
        array * T23


def test_a_ragged_list_operand_is_a_type_error_naming_the_operator() -> None:
    with pytest.raises(TypeError, match="add: cannot make an array of the operand"):
        T23 + [[1.0, 2.0], [3.0]]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: T23.reshape(-2, 3), ValueError, r"reshape: invalid shape \(-2, 3\)"),
        (lambda: T23.reshape(-1, -1), ValueError, r"reshape: invalid shape \(-1, -1\)"),
        (lambda: T23.reshape(2.0, 3), TypeError, r"reshape: shape must be ints"),
        (lambda: T23.reshape("6"), TypeError, r"reshape: shape must be ints"),
        (lambda: T23.permute(1.0, 0), TypeError, r"permute: dims must be ints"),
        (lambda: T23.expand(-1, 2, 3), ValueError, r"expand: invalid sizes \(-1, 2, 3\)"),
        (lambda: T23.expand(3), ValueError, r"expand: cannot broadcast .*\(2, 3\) to \(3,\)"),
        (lambda: T23.broadcast_to((-1, 2, 3)), ValueError, r"broadcast_to: invalid sizes"),
        (lambda: st.zeros(-1, 2), ValueError, r"zeros: invalid shape \(-1, 2\)"),
        (lambda: st.ones(2.5), TypeError, r"ones: shape must be ints"),
    ],
)
def test_shapes_and_axes_are_ints_and_sizes_are_not_negative(
    call: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("shape", [(0, 3), (2, 0)])
@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_and_logsumexp_over_empty_tensors_follow_pytorch(
    shape: tuple[int, int], axis: int
) -> None:
    # PyTorch: softmax of an empty tensor is empty; logsumexp of an empty slice is -inf.
    x = Tensor(np.zeros(shape), requires_grad=True)
    for name in ("softmax", "log_softmax"):
        assert getattr(x, name)(axis=axis).shape == shape
    lse = x.logsumexp(axis=axis)
    expected_shape = tuple(n for i, n in enumerate(shape) if i != axis)
    assert lse.shape == expected_shape
    if shape[axis] == 0:
        assert np.all(np.isneginf(lse.data))
    lse.sum().backward()
    assert x.grad is not None
    assert x.grad.shape == shape


def test_bad_index() -> None:
    with pytest.raises(IndexError, match=r"getitem: .*out of bounds.*\(2, 3\)"):
        T23[2]
    with pytest.raises(IndexError, match=r"getitem: .*out of bounds"):
        T23[:, -4]
    with pytest.raises(IndexError, match=r"getitem: unsupported index 'x' of type str"):
        T23["x"]
    with pytest.raises(IndexError, match=r"getitem: unsupported index True of type bool"):
        T23[True]
    with pytest.raises(IndexError, match="getitem: arrays used as indices must be integer"):
        T23[np.array([0.0])]
    with pytest.raises(IndexError, match="getitem"):
        T23[np.array([True, False, True])]  # a mask of the wrong length


def test_integer_tensor_cannot_require_grad_with_a_clear_message() -> None:
    with pytest.raises(TypeError, match="only floating-point tensors can require grad") as info:
        Tensor([1, 2], requires_grad=True)
    assert "int64" in str(info.value)
    with pytest.raises(TypeError, match="dtype bool"):
        Tensor([True]).requires_grad_()


def test_errors_are_raised_before_anything_is_recorded() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match="add"):
        x + np.ones(4)
    (x * 2.0).sum().backward()  # the failed call left nothing behind
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: T23.sum(axis=0, keepdims="no"), TypeError, "sum: keepdims must be True or False"),
        (lambda: T23.astype("no such type"), TypeError, "astype: data type"),
        (lambda: T23.astype(complex), TypeError, "astype: unsupported dtype complex128"),
        (lambda: st.where(np.array(["a"]), T23, T23), TypeError, "where: the condition must be"),
    ],
)
def test_flags_dtypes_and_conditions_are_checked(
    call: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


def test_a_grad_argument_that_is_not_numeric_is_a_type_error_naming_backward() -> None:
    x = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match=r"backward\(\): grad must be .* got str"):
        (x * 2.0).sum().backward("one")
    assert x.grad is None


def test_astype_to_an_integer_dtype_leaves_the_graph_as_in_pytorch() -> None:
    x = Tensor(np.array([1.5, -2.5]), requires_grad=True)
    rounded = x.astype(np.int64)
    assert rounded.dtype == np.int64
    assert not rounded.requires_grad
    np.testing.assert_array_equal(rounded.data, [1, -2])


@pytest.mark.parametrize(
    ("compare", "name"),
    [(lambda a, b: a < b, "less"), (lambda a, b: a == b, "equal"), (lambda a, b: a >= b,
     "greater_equal")],
)  # fmt: skip
def test_a_comparison_of_shapes_that_do_not_broadcast_names_itself(
    compare: Any, name: str
) -> None:
    with pytest.raises(
        ValueError, match=rf"{name}: shapes \(2, 2\) and \(3,\) cannot be broadcast"
    ):
        compare(st.zeros(2, 2), st.zeros(3))
