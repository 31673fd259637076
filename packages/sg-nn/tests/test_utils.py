"""sg_nn.utils: gradient clipping and flat parameter vectors, checked against formulas
written here with numpy (the PyTorch comparison is in tests-integration/oracle)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import sg_nn as nn
from sg_nn import utils
from sg_tensor import Tensor

NORM_TYPES = [2.0, 1.0, math.inf, 3.0, 0.5]


def with_grads(shapes: list[tuple[int, ...]], seed: int = 0, scale: float = 1.0) -> list[Tensor]:
    """Parameters of the given shapes with random gradients."""
    rng = np.random.default_rng(seed)
    params = []
    for shape in shapes:
        p = nn.Parameter(rng.standard_normal(shape))
        p.grad = np.array(scale * rng.standard_normal(shape))  # 0-d too: an array
        params.append(p)
    return params


def expected_norm(grads: list[np.ndarray], norm_type: float) -> float:
    """The norm of all gradient entries joined into one vector."""
    flat = np.concatenate([g.ravel() for g in grads])
    return float(np.linalg.norm(flat, ord=norm_type))


SHAPES = [(4, 3), (3,), (2, 2, 5), ()]


# ---------------------------------------------------------------------------------------
# clip_grad_norm_
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("max_norm", [0.5, 3.0])
def test_clip_grad_norm_scales_by_the_formula(norm_type: float, max_norm: float) -> None:
    params = with_grads(SHAPES, scale=2.0)
    before = [p.grad.copy() for p in params]
    total = expected_norm(before, norm_type)
    assert total > max_norm  # these gradients are clipped
    returned = utils.clip_grad_norm_(params, max_norm, norm_type)
    assert isinstance(returned, Tensor)
    assert returned.shape == ()
    assert returned.dtype == np.float64
    assert returned.item() == pytest.approx(total, rel=1e-13)
    coef = max_norm / (total + 1e-6)
    for p, g in zip(params, before):
        np.testing.assert_allclose(p.grad, g * coef, rtol=1e-13)
    after = expected_norm([p.grad for p in params], norm_type)
    assert after == pytest.approx(max_norm * total / (total + 1e-6), rel=1e-12)


@pytest.mark.parametrize("norm_type", NORM_TYPES)
def test_gradients_under_the_max_norm_are_unchanged(norm_type: float) -> None:
    params = with_grads(SHAPES, seed=1, scale=0.01)
    before = [p.grad.copy() for p in params]
    total = utils.clip_grad_norm_(params, 100.0, norm_type).item()
    assert total == pytest.approx(expected_norm(before, norm_type), rel=1e-13)
    for p, g in zip(params, before):
        assert p.grad.tobytes() == g.tobytes()  # multiplied by exactly 1


def test_the_coefficient_is_clamped_at_one_near_the_max_norm() -> None:
    # total == max_norm: max_norm / (total + 1e-6) is just below 1, so a tiny shrink
    (p,) = with_grads([(5,)], seed=2)
    g = p.grad.copy()
    total = float(np.linalg.norm(g))
    utils.clip_grad_norm_([p], total)
    np.testing.assert_allclose(p.grad, g * (total / (total + 1e-6)), rtol=1e-15)
    assert np.all(np.abs(p.grad) < np.abs(g))


def test_clip_grad_norm_changes_the_same_arrays_in_place() -> None:
    params = with_grads(SHAPES, seed=3, scale=5.0)
    arrays = [p.grad for p in params]
    views = [a.reshape(-1) for a in arrays]  # someone holding a view sees the change
    before = [a.copy() for a in arrays]
    utils.clip_grad_norm_(params, 1.0)
    for p, a, v, g in zip(params, arrays, views, before):
        assert p.grad is a
        assert not np.array_equal(a, g)
        np.testing.assert_array_equal(v, a.ravel())


def test_parameters_without_a_gradient_are_skipped() -> None:
    params = with_grads([(3,), (2, 2), (4,)], seed=4, scale=3.0)
    params[1].grad = None
    kept = [params[0].grad.copy(), params[2].grad.copy()]
    total = utils.clip_grad_norm_(params, 1.0).item()
    assert total == pytest.approx(expected_norm(kept, 2.0), rel=1e-13)
    assert params[1].grad is None
    coef = 1.0 / (total + 1e-6)
    np.testing.assert_allclose(params[0].grad, kept[0] * coef, rtol=1e-13)
    np.testing.assert_allclose(params[2].grad, kept[1] * coef, rtol=1e-13)
    utils.clip_grad_value_(params, 0.1)
    assert params[1].grad is None


def test_no_gradients_give_a_zero_norm() -> None:
    p = nn.Parameter(np.ones(3))
    for parameters in ([], [p], iter([p])):
        total = utils.clip_grad_norm_(parameters, 1.0)
        assert isinstance(total, Tensor)
        assert total.shape == ()
        assert total.item() == 0.0
    assert p.grad is None


def test_an_empty_generator_warns_as_pytorch() -> None:
    with pytest.warns(UserWarning, match="empty generator, no gradient clipping"):
        utils.clip_grad_norm_((p for p in []), 1.0)


def test_one_tensor_a_generator_and_a_models_parameters_are_accepted() -> None:
    (p,) = with_grads([(6,)], seed=5, scale=4.0)
    g = p.grad.copy()
    assert utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(np.linalg.norm(g), rel=1e-14)
    assert np.linalg.norm(p.grad) == pytest.approx(1.0, rel=1e-5)

    model = nn.MLP([3, 5, 2], rng=np.random.default_rng(0))
    loss = (model(np.random.default_rng(1).standard_normal((4, 3))) * 10).sum()
    loss.backward()
    grads = [q.grad.copy() for q in model.parameters()]
    total = utils.clip_grad_norm_(model.parameters(), 0.25).item()  # a generator
    assert total == pytest.approx(expected_norm(grads, 2.0), rel=1e-13)
    assert expected_norm([q.grad for q in model.parameters()], 2.0) == pytest.approx(
        0.25, rel=1e-5
    )


def test_norm_type_may_be_the_string_inf_as_in_pytorch() -> None:
    params = with_grads(SHAPES, seed=6)
    largest = max(float(np.max(np.abs(p.grad))) for p in params)
    assert utils.clip_grad_norm_(params, 10.0, norm_type="inf").item() == largest  # type: ignore[arg-type]


def test_float32_gradients_give_a_float32_norm_and_stay_float32() -> None:
    p = nn.Parameter(np.zeros(4, dtype=np.float32))
    g = np.array([3.0, -4.0, 0.0, 12.0], dtype=np.float32)
    p.grad = g.copy()
    total = utils.clip_grad_norm_([p], 6.5)
    assert total.dtype == np.float32
    assert total.item() == 13.0
    assert p.grad.dtype == np.float32
    coef = np.float32(6.5) / (np.float32(13.0) + np.float32(1e-6))
    np.testing.assert_array_equal(p.grad, g * coef)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_norm_raises_only_when_asked(bad: float) -> None:
    params = with_grads([(3,), (2,)], seed=7)
    params[1].grad[0] = bad
    before = [p.grad.copy() for p in params]
    with pytest.raises(RuntimeError, match=f"clip_grad_norm_: .* order 2.0 .* is {bad}"):
        utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    for p, g in zip(params, before):
        np.testing.assert_array_equal(p.grad, g)  # nothing changed
    total = utils.clip_grad_norm_(params, 1.0)
    assert np.isnan(total.item()) if np.isnan(bad) else total.item() == np.inf
    # the coefficient is 1 / (inf + 1e-6) = 0 or NaN: the formula, applied as is
    coef = 1.0 / (total.item() + 1e-6)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(params[0].grad, before[0] * coef)


def test_a_gradient_that_is_not_an_array_is_refused() -> None:
    p = nn.Parameter(np.ones(()))
    p.grad = 2.5  # a float cannot be changed in place
    with pytest.raises(TypeError, match="clip_grad_norm_: a gradient must be a numpy array"):
        utils.clip_grad_norm_([p], 1.0)
    with pytest.raises(TypeError, match="clip_grad_value_: a gradient must be a numpy array"):
        utils.clip_grad_value_([p], 1.0)


# ---------------------------------------------------------------------------------------
# clip_grad_value_
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("clip_value", [0.3, 1.0, 5.0])
def test_clip_grad_value_clips_every_entry_in_place(clip_value: float) -> None:
    params = with_grads(SHAPES, seed=8, scale=2.0)
    arrays = [p.grad for p in params]
    before = [a.copy() for a in arrays]
    assert utils.clip_grad_value_(params, clip_value) is None  # type: ignore[func-returns-value]
    for p, a, g in zip(params, arrays, before):
        assert p.grad is a
        np.testing.assert_array_equal(a, np.clip(g, -clip_value, clip_value))
        assert np.max(np.abs(a), initial=0.0) <= clip_value


def test_clip_grad_value_keeps_nan_and_accepts_one_tensor() -> None:
    p = nn.Parameter(np.zeros(4))
    p.grad = np.array([np.nan, -np.inf, 0.2, 7.0])
    utils.clip_grad_value_(p, 1)
    np.testing.assert_array_equal(p.grad, [np.nan, -1.0, 0.2, 1.0])


# ---------------------------------------------------------------------------------------
# parameters_to_vector / vector_to_parameters
# ---------------------------------------------------------------------------------------
def test_parameters_to_vector_joins_the_flattened_parameters() -> None:
    params = with_grads(SHAPES, seed=9)
    vec = utils.parameters_to_vector(params)
    assert isinstance(vec, Tensor)
    expected = np.concatenate([p.data.ravel() for p in params])
    assert vec.shape == (sum(p.size for p in params),)
    assert vec.data.tobytes() == expected.tobytes()
    vec.data[:] = 0.0  # a copy: the parameters do not change
    assert not np.any(np.concatenate([p.data.ravel() for p in params]) == 0.0)


def test_parameters_to_vector_is_differentiable() -> None:
    params = [nn.Parameter(np.ones((2, 3))), nn.Parameter(np.ones(4))]
    weights = np.arange(10.0)
    (utils.parameters_to_vector(params) * weights).sum().backward()
    np.testing.assert_array_equal(params[0].grad, weights[:6].reshape(2, 3))
    np.testing.assert_array_equal(params[1].grad, weights[6:])


def test_vector_round_trip_writes_the_same_arrays_in_place() -> None:
    model = nn.MLP([3, 4, 2], rng=np.random.default_rng(0))
    params = list(model.parameters())
    arrays = [p.data for p in params]
    vec = utils.parameters_to_vector(params)
    new = Tensor(np.arange(vec.shape[0], dtype=np.float64) / 7)
    utils.vector_to_parameters(new, model.parameters())
    pointer = 0
    for p, a in zip(params, arrays):
        assert p.data is a
        np.testing.assert_array_equal(a, new.data[pointer : pointer + a.size].reshape(a.shape))
        pointer += a.size
    assert utils.parameters_to_vector(params).data.tobytes() == new.data.tobytes()
    utils.vector_to_parameters(vec, params)  # and back
    assert utils.parameters_to_vector(params).data.tobytes() == vec.data.tobytes()


def test_vector_to_parameters_keeps_each_parameters_dtype() -> None:
    p32 = nn.Parameter(np.zeros(2, dtype=np.float32))
    p64 = nn.Parameter(np.zeros(1))
    utils.vector_to_parameters(Tensor([0.1, 0.2, 0.3]), [p32, p64])
    assert p32.dtype == np.float32
    np.testing.assert_array_equal(p32.data, np.array([0.1, 0.2], dtype=np.float32))
    assert p64.data[0] == 0.3


@pytest.mark.parametrize("length", [6, 8, 0])
def test_a_wrong_length_is_refused_and_nothing_is_written(length: int) -> None:
    params = [nn.Parameter(np.ones((2, 2))), nn.Parameter(np.ones(3))]
    with pytest.raises(
        ValueError,
        match=f"vector_to_parameters: vec has {length} elements but the parameters have 7",
    ):
        utils.vector_to_parameters(Tensor(np.zeros(length)), params)
    assert all(np.all(p.data == 1.0) for p in params)


def test_vector_conversion_errors() -> None:
    p = nn.Parameter(np.ones(4))
    with pytest.raises(
        TypeError, match="vector_to_parameters: expected an sg Tensor, got ndarray"
    ):
        utils.vector_to_parameters(np.zeros(4), [p])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("vec must be 1-D, got shape (2, 2)")):
        utils.vector_to_parameters(Tensor(np.zeros((2, 2))), [p])
    readonly = Tensor(np.ones(2))
    readonly.data.flags.writeable = False
    with pytest.raises(ValueError, match="parameter 1's data is read-only"):
        utils.vector_to_parameters(Tensor(np.zeros(6)), [p, readonly])
    assert np.all(p.data == 1.0)
    with pytest.raises(ValueError, match="parameters_to_vector: got no parameters"):
        utils.parameters_to_vector([])
    with pytest.raises(TypeError, match="parameter 1 is a ndarray, not a Tensor"):
        utils.parameters_to_vector([p, np.ones(2)])  # type: ignore[list-item]


def test_import_spellings() -> None:
    import sg_nn.utils

    assert sg_nn.utils is utils
    assert set(utils.__all__) == {
        "clip_grad_norm_",
        "clip_grad_value_",
        "parameters_to_vector",
        "vector_to_parameters",
    }
