"""Factories: tensors from data, filled, ranges, identity and reproducible random numbers."""

from __future__ import annotations

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import Tensor


def test_tensor_copies_its_data() -> None:
    a = np.array([1.0, 2.0])
    t = st.tensor(a)
    a[0] = 99.0
    assert t.data[0] == 1.0
    source = Tensor([3.0, 4.0])
    copy = st.tensor(source, requires_grad=True)
    assert copy.data is not source.data
    assert copy.requires_grad
    assert not source.requires_grad


def test_tensor_dtype_argument() -> None:
    assert st.tensor([1, 2]).dtype.kind == "i"
    assert st.tensor([1, 2], dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("make", [st.zeros, st.ones])
def test_zeros_and_ones_take_a_shape_or_sizes(make: object) -> None:
    assert make(2, 3).shape == (2, 3)  # type: ignore[operator]
    assert make((2, 3)).shape == (2, 3)  # type: ignore[operator]
    assert make([4]).shape == (4,)  # type: ignore[operator]
    assert make().shape == ()  # type: ignore[operator]
    t = make(2, dtype=np.float32, requires_grad=True)  # type: ignore[operator]
    assert t.dtype == np.float32
    assert t.requires_grad


def test_filled_values() -> None:
    np.testing.assert_array_equal(st.zeros(2, 2).data, np.zeros((2, 2)))
    np.testing.assert_array_equal(st.ones(3).data, np.ones(3))
    np.testing.assert_array_equal(st.full((2, 3), 7.5).data, np.full((2, 3), 7.5))
    np.testing.assert_array_equal(st.full(4, -1.0).data, np.full(4, -1.0))
    assert st.full(2, 1.0, requires_grad=True).requires_grad


def test_like_factories_follow_shape_and_dtype() -> None:
    ref = Tensor(np.ones((2, 3), np.float32))
    z = st.zeros_like(ref)
    o = st.ones_like(np.zeros((4,)))
    assert z.shape == (2, 3)
    assert z.dtype == np.float32
    np.testing.assert_array_equal(z.data, 0.0)
    assert o.shape == (4,)
    np.testing.assert_array_equal(o.data, 1.0)
    assert st.zeros_like(ref, dtype=np.float64).dtype == np.float64
    assert st.ones_like(ref, requires_grad=True).requires_grad


def test_arange_matches_numpy() -> None:
    np.testing.assert_array_equal(st.arange(5).data, np.arange(5))
    np.testing.assert_array_equal(st.arange(1, 7, 2).data, np.arange(1, 7, 2))
    np.testing.assert_array_equal(st.arange(0.0, 1.0, 0.25).data, np.arange(0.0, 1.0, 0.25))
    assert st.arange(3, dtype=np.float32).dtype == np.float32


def test_a_float32_arange_is_each_float64_value_rounded_once() -> None:
    # PyTorch computes start + i * step in double and rounds (torch.arange(0, 1, 0.1,
    # dtype=torch.float32)[9] is 0.9f); numpy steps in float32 and gives 0.90000004.
    values = st.arange(0, 1, 0.1, dtype=np.float32).data
    assert values.dtype == np.float32
    assert values[9] == np.float32(0.9)
    wide = np.arange(-1.0, 1.0, 0.07)
    np.testing.assert_array_equal(st.arange(-1, 1, 0.07, dtype=np.float32).data,
                                  wide.astype(np.float32))  # fmt: skip
    assert st.arange(-1, 1, 0.07, dtype=np.float16).shape == wide.shape


def test_eye() -> None:
    np.testing.assert_array_equal(st.eye(3).data, np.eye(3))
    np.testing.assert_array_equal(st.eye(2, 3).data, np.eye(2, 3))
    assert st.eye(2).dtype == np.float64
    assert st.eye(2, requires_grad=True).requires_grad


def test_random_factories_are_reproducible() -> None:
    a = st.randn(3, 4, rng=np.random.default_rng(42))
    b = st.randn((3, 4), rng=42)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.data, np.random.default_rng(42).standard_normal((3, 4)))
    u = st.rand(1000, rng=0)
    assert u.shape == (1000,)
    assert np.all((u.data >= 0.0) & (u.data < 1.0))
    assert 0.4 < u.data.mean() < 0.6
    assert st.rand(2, rng=0, dtype=np.float32).dtype == np.float32
    assert st.randn(2, rng=0, requires_grad=True).requires_grad


def test_random_factories_draw_from_the_default_generator_manual_seed_resets() -> None:
    st.manual_seed(5)
    first = (st.randn(2, 3).data, st.rand(4).data)
    st.manual_seed(5)
    again = (st.randn(2, 3).data, st.rand(4).data)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(st.randn(2, 3).data, first[0])  # the generator advances
    np.testing.assert_array_equal(
        st.randn(3, rng=7).data, np.random.default_rng(7).standard_normal(3)
    )
    with pytest.raises(TypeError, match="rng must be a numpy Generator or an int seed, got str"):
        st.rand(2, rng="seed")
    with pytest.raises(TypeError, match="manual_seed: seed must be an int"):
        st.manual_seed(1.5)


def test_default_dtype_and_pytorch_dtype_names() -> None:
    assert st.get_default_dtype() is np.float64
    try:
        st.set_default_dtype(st.float32)
        assert st.tensor([1.0, 2.0]).dtype == np.float32
        assert st.Tensor(2.5).dtype == np.float32
        assert st.zeros(2).dtype == np.float32
        assert st.randn(2).dtype == np.float32
        assert st.tensor(np.zeros(2)).dtype == np.float64  # an array keeps its dtype
        assert st.tensor([1, 2]).dtype == np.int64
    finally:
        st.set_default_dtype(st.float64)
    with pytest.raises(TypeError, match="set_default_dtype: only float32 or float64"):
        st.set_default_dtype(st.int64)
    shared = np.zeros(3)
    assert st.from_numpy(shared).data is shared


def test_as_tensor_does_not_copy() -> None:
    a = np.zeros(3)
    t = st.as_tensor(a)
    assert t.data is a
    assert st.as_tensor(t) is t
