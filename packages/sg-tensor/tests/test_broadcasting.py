"""Broadcasting gradients, property-based: every binary broadcasting operator, every shape pair.

hypothesis draws broadcast-compatible shapes (rank mismatch, size-1 axes, 0-d operands,
on either side). Each input's gradient must have the input's shape and dtype, and equal
the analytic local derivative times the cotangent, summed over the broadcast axes
(``tensor_helpers.sum_to_shape``, written independently of ``sg_tensor.unbroadcast``).
A few draws are also checked against central differences.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis.strategies as hs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import mutually_broadcastable_shapes
from tensor_helpers import gradcheck, sum_to_shape

import sg_tensor as st
from sg_tensor import Tensor

SETTINGS = settings(max_examples=40, deadline=None, database=None)
PAIRS = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3)
TRIPLES = mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3)
SEEDS = hs.integers(0, 2**32 - 1)

Sampler = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
Local = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape)


def _positive(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def _nonzero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)


def _small_ints(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Few distinct values, so that maximum/minimum often meet ties."""
    return rng.integers(-2, 3, shape).astype(np.float64)


def _extremum(larger: bool) -> Local:
    def local(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a_wins = (a > b) if larger else (a < b)
        b_wins = (b > a) if larger else (b < a)
        tie = a == b
        return np.where(tie, 0.5, a_wins * 1.0), np.where(tie, 0.5, b_wins * 1.0)

    return local


# name -> (sg call, sampler of a, sampler of b, local derivatives at broadcast shape)
BINARY: dict[str, tuple[Callable[[Any, Any], Tensor], Sampler, Sampler, Local]] = {
    "add": (lambda a, b: a + b, _normal, _normal, lambda a, b: (a * 0 + 1, b * 0 + 1)),
    "sub": (lambda a, b: a - b, _normal, _normal, lambda a, b: (a * 0 + 1, b * 0 - 1)),
    "mul": (lambda a, b: a * b, _normal, _normal, lambda a, b: (b + a * 0, a + b * 0)),
    "div": (lambda a, b: a / b, _normal, _nonzero, lambda a, b: (1 / b + a * 0, -a / b**2)),
    "pow": (
        lambda a, b: a**b,
        _positive,
        _normal,
        lambda a, b: (b * a ** (b - 1), a**b * np.log(a)),
    ),
    "maximum": (lambda a, b: a.maximum(b), _small_ints, _small_ints, _extremum(True)),
    "minimum": (lambda a, b: st.minimum(a, b), _small_ints, _small_ints, _extremum(False)),
}


def _check_grads(
    leaves: list[Tensor], locals_: list[np.ndarray], cot: np.ndarray, dtype: Any
) -> None:
    for leaf, local in zip(leaves, locals_):
        assert leaf.grad is not None
        assert leaf.grad.shape == leaf.shape
        assert leaf.grad.dtype == dtype
        full = np.broadcast_to(local, cot.shape) * cot
        expected = sum_to_shape(np.asarray(full, dtype=np.float64), leaf.shape)
        tol = 1e-12 if dtype == np.float64 else 1e-4
        np.testing.assert_allclose(leaf.grad, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(shapes=PAIRS, seed=SEEDS, float32=hs.booleans())
def test_binary_gradient_is_summed_back_to_each_input(
    name: str, shapes: Any, seed: int, float32: bool
) -> None:
    fn, sample_a, sample_b, local = BINARY[name]
    dtype = np.float32 if float32 else np.float64
    rng = np.random.default_rng(seed)
    shape_a, shape_b = shapes.input_shapes
    a = Tensor(sample_a(rng, shape_a).astype(dtype), requires_grad=True)
    b = Tensor(sample_b(rng, shape_b).astype(dtype), requires_grad=True)
    out = fn(a, b)
    assert out.shape == shapes.result_shape
    assert out.dtype == dtype
    cot = rng.standard_normal(out.shape).astype(dtype)
    out.backward(cot)
    a64, b64 = np.broadcast_arrays(a.data.astype(np.float64), b.data.astype(np.float64))
    _check_grads([a, b], list(local(a64, b64)), cot.astype(np.float64), dtype)


@SETTINGS
@given(shapes=TRIPLES, seed=SEEDS, float32=hs.booleans())
def test_where_gradient_is_summed_back_to_each_input(
    shapes: Any, seed: int, float32: bool
) -> None:
    dtype = np.float32 if float32 else np.float64
    rng = np.random.default_rng(seed)
    shape_c, shape_a, shape_b = shapes.input_shapes
    cond = rng.random(shape_c) < 0.5
    a = Tensor(rng.standard_normal(shape_a).astype(dtype), requires_grad=True)
    b = Tensor(rng.standard_normal(shape_b).astype(dtype), requires_grad=True)
    out = st.where(cond, a, b)
    assert out.shape == shapes.result_shape
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.data, np.where(cond, a.data, b.data))
    cot = rng.standard_normal(out.shape).astype(dtype)
    out.backward(cot)
    full_cond = np.broadcast_to(cond, out.shape)
    _check_grads([a, b], [full_cond * 1.0, ~full_cond * 1.0], cot.astype(np.float64), dtype)


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=10, deadline=None, database=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
def test_binary_broadcasting_matches_central_differences(name: str, shapes: Any) -> None:
    fn, sample_a, sample_b, _ = BINARY[name]
    rng = np.random.default_rng(0)
    shape_a, shape_b = shapes.input_shapes
    if name in ("maximum", "minimum"):  # keep away from ties: they are kinks
        a = rng.permutation(np.arange(int(np.prod(shape_a))) * 0.25).reshape(shape_a)
        b = rng.permutation(np.arange(int(np.prod(shape_b))) * 0.25 + 0.1).reshape(shape_b)
    else:
        a, b = sample_a(rng, shape_a), sample_b(rng, shape_b)
    gradcheck(fn, a, b)


@SETTINGS
@given(shapes=PAIRS, seed=SEEDS)
def test_float32_leaf_with_float64_operand_keeps_a_float32_gradient(
    shapes: Any, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    shape_a, shape_b = shapes.input_shapes
    a = Tensor(rng.standard_normal(shape_a).astype(np.float32), requires_grad=True)
    b = Tensor(rng.standard_normal(shape_b), requires_grad=True)
    out = a * b + a
    # PyTorch's promotion: a 0-d float64 tensor does not widen a dimensioned float32 one
    widened = not (len(shape_b) == 0 and len(shape_a) > 0)
    assert out.dtype == (np.float64 if widened else np.float32)
    out.backward(np.ones(out.shape))
    assert a.grad.dtype == np.float32
    assert b.grad.dtype == np.float64
    assert a.grad.shape == shape_a
    assert b.grad.shape == shape_b
    expected_a = sum_to_shape(np.broadcast_to(b.data + 1.0, out.shape).copy(), shape_a)
    # float32 sums: relative 1e-5, and absolute where b is near -1 (the sum is near 0)
    np.testing.assert_allclose(a.grad, expected_a, rtol=1e-5, atol=1e-5)


@SETTINGS
@given(shapes=PAIRS)
def test_unbroadcast_sums_to_the_input_shape(shapes: Any) -> None:
    shape_in, _ = shapes.input_shapes
    g = np.random.default_rng(1).standard_normal(shapes.result_shape)
    result = st.unbroadcast(g, shape_in)
    assert result.shape == shape_in
    np.testing.assert_allclose(result, sum_to_shape(g, shape_in), rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None, database=None)
@given(shapes=mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3))
def test_matmul_with_broadcast_batch_axes_matches_central_differences(shapes: Any) -> None:
    shape_a, shape_b = shapes.input_shapes
    rng = np.random.default_rng(2)
    out = Tensor(rng.standard_normal(shape_a)) @ Tensor(rng.standard_normal(shape_b))
    assert out.shape == shapes.result_shape
    gradcheck(lambda a, b: a @ b, rng.standard_normal(shape_a), rng.standard_normal(shape_b))
