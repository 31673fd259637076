"""The Tensor node: construction, array attributes, conversions, repr and comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from sg_tensor import Tensor


def test_wraps_an_array_without_copying() -> None:
    a = np.array([1.0, 2.0])
    t = Tensor(a)
    assert t.data is a or np.shares_memory(t.data, a)
    assert Tensor(t).data is t.data  # from a Tensor: the same array


def test_array_attributes() -> None:
    t = Tensor(np.zeros((2, 3, 4)))
    assert t.shape == (2, 3, 4)
    assert t.ndim == 3
    assert t.size == 24
    assert t.dtype == np.float64
    assert len(t) == 2
    assert t.numpy() is t.data
    assert t.is_leaf
    assert t.grad is None
    assert not t.requires_grad


def test_scalars_and_conversions() -> None:
    t = Tensor(2.5)
    assert t.shape == ()
    assert t.item() == 2.5
    assert isinstance(t.item(), float)
    assert float(t) == 2.5
    assert int(Tensor(3.0)) == 3
    assert bool(Tensor(1.0))
    assert not bool(Tensor(0.0))
    assert Tensor([[4.0]]).item() == 4.0


def test_item_of_several_elements_is_an_error() -> None:
    with pytest.raises(ValueError, match="item\\(\\): the tensor has 2 elements, not 1"):
        Tensor([1.0, 2.0]).item()


def test_len_of_a_0d_tensor_is_an_error() -> None:
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(Tensor(1.0))


def test_unsupported_data_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Tensor\\(\\): unsupported dtype"):
        Tensor(["a", "b"])
    with pytest.raises(TypeError, match="Tensor\\(\\): unsupported dtype complex128"):
        Tensor(np.array([1j]))
    with pytest.raises(TypeError, match="Tensor\\(\\): cannot make an array from list"):
        Tensor([[1.0, 2.0], [3.0]])


def test_repr_shows_data_dtype_and_origin() -> None:
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    assert repr(Tensor([1.0], requires_grad=True)) == "Tensor([1.], requires_grad=True)"
    assert repr(Tensor(np.array([1, 2]))) == "Tensor([1, 2], dtype=int64)"
    x = Tensor([1.0], requires_grad=True)
    assert repr(x * 2.0) == "Tensor([2.], op=mul)"
    assert repr(Tensor(np.ones(2, np.float32))) == "Tensor([1., 1.], dtype=float32)"


def test_tensors_hash_by_identity() -> None:
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2
    assert {a: 1}[a] == 1


def test_comparisons_return_boolean_tensors_without_a_graph() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [
        (x == 2.0, [False, True, False]),
        (x != 2.0, [True, False, True]),
        (x < 2.0, [True, False, False]),
        (x <= 2.0, [True, True, False]),
        (x > Tensor([0.0, 5.0, 3.0]), [True, False, False]),
        (x >= np.array([1.0, 3.0, 3.0]), [True, False, True]),
    ]:
        assert isinstance(result, Tensor)
        assert result.dtype == bool
        assert not result.requires_grad
        np.testing.assert_array_equal(result.data, expected)


def test_unary_plus_and_abs_builtin() -> None:
    x = Tensor([-1.0, 2.0])
    assert +x is x
    np.testing.assert_array_equal(abs(x).data, [1.0, 2.0])


def test_method_aliases_match_operators() -> None:
    a, b = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])
    np.testing.assert_array_equal(a.add(b).data, [4.0, 6.0])
    np.testing.assert_array_equal(a.sub(b).data, [-2.0, -2.0])
    np.testing.assert_array_equal(a.mul(b).data, [3.0, 8.0])
    np.testing.assert_array_equal(a.div(b).data, [1 / 3, 0.5])
    np.testing.assert_array_equal(a.pow(2).data, [1.0, 4.0])
    np.testing.assert_array_equal(a.neg().data, [-1.0, -2.0])
    assert a.matmul(b).item() == 11.0
    np.testing.assert_array_equal(a.maximum(b).data, [3.0, 4.0])
    np.testing.assert_array_equal(a.minimum(b).data, [1.0, 2.0])


def test_integer_tensors_compute_like_numpy() -> None:
    i = Tensor(np.array([1, 2, 3]))
    assert (i + 1).dtype == np.int64
    assert (i * 2).data.tolist() == [2, 4, 6]
    assert (i + 0.5).dtype == np.float64
    np.testing.assert_array_equal((i + 0.5).data, [1.5, 2.5, 3.5])
    assert (i / 2).dtype == np.float64
