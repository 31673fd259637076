"""Losses against their numpy formulas and central differences, stability, module forms and
error messages."""

from __future__ import annotations

import math
import re
from typing import Any

import hypothesis.strategies as hs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays
from nn_helpers import (
    bce_with_logits,
    check_grads,
    leaf,
    log_softmax,
    one_hot,
    reduce,
    sigmoid,
    softmax,
)

import sg_nn as nn
from sg_tensor import Tensor

REDUCTIONS = ["mean", "sum", "none"]
R = np.random.default_rng(2024)
N, C = 6, 4
TARGETS = np.array([0, 3, 1, 1, 2, 3])


def values(loss: Tensor) -> np.ndarray:
    assert isinstance(loss, Tensor)
    return loss.data


# ---------------------------------------------------------------------------------------
# mse_loss
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_formula_and_gradient(reduction: str) -> None:
    x, y = R.standard_normal((N, 3)), R.standard_normal((N, 3))
    loss = nn.mse_loss(x, y, reduction=reduction)
    np.testing.assert_allclose(values(loss), reduce((x - y) ** 2, reduction), rtol=1e-14)
    xt, yt = leaf(x), leaf(y)
    check_grads(lambda: nn.mse_loss(xt, yt, reduction=reduction), [xt, yt])


def test_mse_loss_default_is_mean_and_gradient_is_two_diff_over_n() -> None:
    x, y = leaf(R.standard_normal(5)), R.standard_normal(5)
    loss = nn.mse_loss(x, y)
    assert loss.shape == ()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * (x.data - y) / 5, rtol=1e-14)


# ---------------------------------------------------------------------------------------
# binary_cross_entropy_with_logits
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_formula_and_gradient(reduction: str) -> None:
    x = R.standard_normal((N, 2)) * 3
    y = R.uniform(0, 1, (N, 2))  # soft targets are allowed
    y[0] = [0.0, 1.0]
    loss = nn.binary_cross_entropy_with_logits(x, y, reduction=reduction)
    naive = -(y * np.log(sigmoid(x)) + (1 - y) * np.log(1 - sigmoid(x)))
    np.testing.assert_allclose(values(loss), reduce(naive, reduction), rtol=1e-12)
    np.testing.assert_allclose(values(loss), reduce(bce_with_logits(x, y), reduction), rtol=1e-14)
    xt, yt = leaf(x), leaf(y)
    fn = lambda: nn.binary_cross_entropy_with_logits(xt, yt, reduction=reduction)  # noqa: E731
    check_grads(fn, [xt, yt])


def test_bce_with_logits_gradient_is_sigmoid_minus_target() -> None:
    x, y = leaf(R.standard_normal(8) * 4), R.integers(0, 2, 8).astype(float)
    nn.binary_cross_entropy_with_logits(x, y, reduction="sum").backward()
    np.testing.assert_allclose(x.grad, sigmoid(x.data) - y, rtol=1e-13, atol=1e-16)


def test_bce_with_logits_is_stable_for_huge_logits() -> None:
    x = leaf(np.array([1000.0, -1000.0, 1000.0, -1000.0, 40.0, -40.0]))
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    loss = nn.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.data, [1000.0, 1000.0, 0.0, 0.0, 40.0, 40.0], rtol=1e-15)
    mean = nn.binary_cross_entropy_with_logits(x, y)
    assert math.isfinite(mean.item())
    mean.backward()
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(x.grad, (sigmoid(x.data) - y) / 6, rtol=1e-12, atol=1e-20)
    np.testing.assert_array_equal(x.grad[:4], np.array([1.0, -1.0, 0.0, 0.0]) / 6)


def test_bce_with_logits_single_huge_logit() -> None:
    x = leaf(np.array([1000.0, 1000.0, 1000.0, 1000.0]))
    loss = nn.binary_cross_entropy_with_logits(x, np.zeros(4))
    assert loss.item() == 1000.0
    loss.backward()
    np.testing.assert_array_equal(x.grad, np.full(4, 0.25))


# ---------------------------------------------------------------------------------------
# cross_entropy and nll_loss
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_formula_and_gradient(reduction: str) -> None:
    x = R.standard_normal((N, C)) * 2
    loss = nn.cross_entropy(x, TARGETS, reduction=reduction)
    expected = -log_softmax(x)[np.arange(N), TARGETS]
    naive = -np.log(np.exp(x)[np.arange(N), TARGETS] / np.exp(x).sum(axis=1))
    np.testing.assert_allclose(expected, naive, rtol=1e-13)
    np.testing.assert_allclose(values(loss), reduce(expected, reduction), rtol=1e-13)
    xt = leaf(x)
    check_grads(lambda: nn.cross_entropy(xt, TARGETS, reduction=reduction), [xt])


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n() -> None:
    x = leaf(R.standard_normal((N, C)))
    nn.cross_entropy(x, TARGETS).backward()
    np.testing.assert_allclose(x.grad, (softmax(x.data) - one_hot(TARGETS, C)) / N, atol=1e-15)


@pytest.mark.parametrize("scale", [1e4, 1e6, 1e300])
def test_cross_entropy_is_stable_for_huge_logits(scale: float) -> None:
    x = leaf(np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.5], [0.2, 0.1, 0.0]]) * scale)
    t = np.array([2, 1, 0])
    loss = nn.cross_entropy(x, t, reduction="none")
    np.testing.assert_allclose(loss.data, [2 * scale, 0.0, 0.0], rtol=1e-12, atol=1e-300)
    total = nn.cross_entropy(x, t, reduction="sum")
    total.backward()
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(x.grad, softmax(x.data) - one_hot(t, 3), atol=1e-15)
    np.testing.assert_array_equal(x.grad[0], [1.0, 0.0, -1.0])


def test_cross_entropy_with_logits_like_1e4_matches_numpy() -> None:
    x = R.standard_normal((N, C)) * 1e4
    np.testing.assert_allclose(
        nn.cross_entropy(x, TARGETS, reduction="none").data,
        -log_softmax(x)[np.arange(N), TARGETS],
        rtol=1e-12,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [0.1, 0.3, 1.0])
def test_cross_entropy_label_smoothing_formula_and_gradient(reduction: str, eps: float) -> None:
    x = R.standard_normal((N, C)) * 2
    logp = log_softmax(x)
    nll = -logp[np.arange(N), TARGETS]
    smooth = -logp.mean(axis=1)
    expected = (1 - eps) * nll + eps * smooth
    # the same thing as a cross-entropy with the smoothed target distribution
    q = (1 - eps) * one_hot(TARGETS, C) + eps / C
    np.testing.assert_allclose(expected, -(q * logp).sum(axis=1), rtol=1e-13)
    loss = nn.cross_entropy(x, TARGETS, reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(values(loss), reduce(expected, reduction), rtol=1e-13)
    xt = leaf(x)
    fn = lambda: nn.cross_entropy(xt, TARGETS, reduction=reduction, label_smoothing=eps)  # noqa: E731
    check_grads(fn, [xt])


def test_label_smoothing_zero_is_plain_cross_entropy() -> None:
    x = R.standard_normal((N, C))
    np.testing.assert_array_equal(
        nn.cross_entropy(x, TARGETS, label_smoothing=0.0).data, nn.cross_entropy(x, TARGETS).data
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_formula_and_gradient(reduction: str) -> None:
    logp = log_softmax(R.standard_normal((N, C)))
    loss = nn.nll_loss(logp, TARGETS, reduction=reduction)
    np.testing.assert_array_equal(values(loss), reduce(-logp[np.arange(N), TARGETS], reduction))
    lt = leaf(logp)
    check_grads(lambda: nn.nll_loss(lt, TARGETS, reduction=reduction), [lt])
    lt.grad = None
    nn.nll_loss(lt, TARGETS, reduction="sum").backward()
    np.testing.assert_array_equal(lt.grad, -one_hot(TARGETS, C))


def test_nll_of_log_softmax_is_cross_entropy() -> None:
    x = Tensor(R.standard_normal((N, C)))
    np.testing.assert_allclose(
        nn.nll_loss(x.log_softmax(axis=1), TARGETS).data,
        nn.cross_entropy(x, TARGETS).data,
        rtol=1e-15,
    )


def test_class_targets_may_be_any_integer_dtype_or_a_tensor() -> None:
    x = R.standard_normal((N, C))
    expected = nn.cross_entropy(x, TARGETS).data
    for t in (TARGETS.astype(np.uint8), TARGETS.astype(np.int32), Tensor(TARGETS)):
        np.testing.assert_array_equal(nn.cross_entropy(x, t).data, expected)
    np.testing.assert_array_equal(nn.cross_entropy(x, list(TARGETS)).data, expected)


@settings(max_examples=30, deadline=None, database=None)
@given(
    hs.integers(1, 5).flatmap(
        lambda n: hs.integers(2, 5).flatmap(
            lambda c: hs.tuples(
                arrays(np.float64, (n, c), elements=hs.floats(-50, 50)),
                arrays(np.int64, (n,), elements=hs.integers(0, c - 1)),
            )
        )
    )
)
def test_cross_entropy_property(case: tuple[np.ndarray, np.ndarray]) -> None:
    x, t = case
    expected = -log_softmax(x)[np.arange(len(t)), t]
    loss = nn.cross_entropy(x, t, reduction="none").data
    np.testing.assert_allclose(loss, expected, rtol=1e-12, atol=1e-12)
    assert np.all(loss >= 0)


# ---------------------------------------------------------------------------------------
# hinge_loss
# ---------------------------------------------------------------------------------------
def hinge_inputs(margin: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Scores of both signs, never within 0.1 of the kink at ``y * score == margin``."""
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    ys = np.array([-2.0, -0.5, 0.3, 0.7, 1.4, 2.5, margin - 0.4, margin + 0.2])
    return ys * y, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_hinge_loss_matches_formula_and_gradient(reduction: str, margin: float) -> None:
    score, y = hinge_inputs(margin)
    loss = nn.hinge_loss(score, y, margin=margin, reduction=reduction)
    expected = np.maximum(0.0, margin - y * score)
    assert np.any(expected == 0)
    assert np.any(expected > 0)
    np.testing.assert_allclose(values(loss), reduce(expected, reduction), rtol=1e-14)
    st_ = leaf(score)
    check_grads(lambda: nn.hinge_loss(st_, y, margin=margin, reduction=reduction), [st_])


def test_hinge_loss_is_micrografs_max_margin_loss() -> None:
    score, y = hinge_inputs()
    micrograd = sum(max(0.0, 1 + -yi * si) for yi, si in zip(y, score)) / len(y)
    assert nn.hinge_loss(score, y).item() == pytest.approx(micrograd, rel=1e-15)
    s = leaf(score)
    nn.hinge_loss(s, y.astype(np.int64)).backward()  # integer labels work too
    np.testing.assert_array_equal(s.grad, np.where(1 - y * score > 0, -y, 0.0) / len(y))


# ---------------------------------------------------------------------------------------
# module forms
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_loss_modules_equal_the_functions(reduction: str) -> None:
    x, y = R.standard_normal((N, C)), R.standard_normal((N, C))
    p = R.uniform(0, 1, (N, C))
    score, labels = hinge_inputs()
    cases = [
        (nn.MSELoss(reduction), nn.mse_loss(x, y, reduction), (x, y)),
        (
            nn.BCEWithLogitsLoss(reduction),
            nn.binary_cross_entropy_with_logits(x, p, reduction),
            (x, p),
        ),
        (nn.CrossEntropyLoss(reduction), nn.cross_entropy(x, TARGETS, reduction), (x, TARGETS)),
        (
            nn.CrossEntropyLoss(reduction, label_smoothing=0.2),
            nn.cross_entropy(x, TARGETS, reduction, label_smoothing=0.2),
            (x, TARGETS),
        ),
        (
            nn.NLLLoss(reduction),
            nn.nll_loss(log_softmax(x), TARGETS, reduction),
            (log_softmax(x), TARGETS),
        ),
        (nn.HingeLoss(reduction=reduction), nn.hinge_loss(score, labels, 1.0, reduction), None),
        (
            nn.HingeLoss(0.5, reduction),
            nn.hinge_loss(score, labels, 0.5, reduction),
            (score, labels),
        ),
    ]
    for module, expected, args in cases:
        assert module.reduction == reduction
        got = module(*(args if args is not None else (score, labels)))
        np.testing.assert_array_equal(got.data, expected.data, err_msg=repr(module))
        assert module.num_parameters() == 0


def test_loss_module_defaults_and_reprs() -> None:
    assert nn.MSELoss().reduction == "mean"
    assert nn.CrossEntropyLoss().label_smoothing == 0.0
    assert nn.HingeLoss().margin == 1.0
    assert repr(nn.BCEWithLogitsLoss("none")) == "BCEWithLogitsLoss(reduction='none')"


def test_loss_modules_backpropagate() -> None:
    x = leaf(R.standard_normal((N, C)))
    nn.CrossEntropyLoss()(x, TARGETS).backward()
    np.testing.assert_allclose(x.grad, (softmax(x.data) - one_hot(TARGETS, C)) / N, atol=1e-15)


@pytest.mark.parametrize(
    "cls", [nn.MSELoss, nn.BCEWithLogitsLoss, nn.CrossEntropyLoss, nn.NLLLoss, nn.HingeLoss]
)
def test_loss_modules_validate_reduction_when_built(cls: type) -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(f"{cls.__name__}: reduction must be one of ('mean', 'sum', 'none')")
        + ".*'avg'",
    ):
        cls(reduction="avg")


# ---------------------------------------------------------------------------------------
# error messages
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (nn.mse_loss, "mse_loss"),
        (nn.binary_cross_entropy_with_logits, "binary_cross_entropy_with_logits"),
        (nn.hinge_loss, "hinge_loss"),
    ],
)
def test_shape_mismatch_names_the_function_and_both_shapes(fn: object, name: str) -> None:
    message = f"{name}: input and target must have the same shape, got (4, 1) and (4,)"
    with pytest.raises(ValueError, match=re.escape(message)):
        fn(np.ones((4, 1)), np.ones(4))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("fn", "name"), [(nn.cross_entropy, "cross_entropy"), (nn.nll_loss, "nll_loss")]
)
def test_class_target_errors(fn: Any, name: str) -> None:
    x = np.zeros((3, 4))
    cases: list[tuple[type[Exception], str, np.ndarray, np.ndarray]] = [
        (ValueError, "target must have shape (3,) for input (3, 4), got (2,)", x, TARGETS[:2]),
        (
            ValueError,
            "target must have shape (3,) for input (3, 4), got (3, 1)",
            x,
            np.zeros((3, 1), dtype=int),
        ),
        (ValueError, "expected input of shape (N, C), got (4,)", np.zeros(4), TARGETS[:1]),
        (
            TypeError,
            "target must hold integer class indices, got dtype float64",
            x,
            np.array([0.0, 1.0, 2.0]),
        ),
        (
            TypeError,
            "target must hold integer class indices, got dtype bool",
            x,
            np.array([True, False, True]),
        ),
        (
            IndexError,
            "class indices must be in [0, 4), got values from 0 to 4",
            x,
            np.array([0, 4, 1]),
        ),
        (
            IndexError,
            "class indices must be in [0, 4), got values from -1 to 2",
            x,
            TARGETS[:3] - 1,
        ),
    ]
    for exc, message, logits, target in cases:
        with pytest.raises(exc, match=re.escape(f"{name}: {message}")):
            fn(logits, target)


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("mse_loss", lambda r: nn.mse_loss(np.ones(3), np.ones(3), reduction=r)),
        (
            "binary_cross_entropy_with_logits",
            lambda r: nn.binary_cross_entropy_with_logits(np.ones(3), np.ones(3), reduction=r),
        ),
        ("cross_entropy", lambda r: nn.cross_entropy(np.ones((3, 2)), TARGETS[:3] % 2, r)),
        ("nll_loss", lambda r: nn.nll_loss(np.ones((3, 2)), TARGETS[:3] % 2, r)),
        ("hinge_loss", lambda r: nn.hinge_loss(np.ones(3), np.ones(3), reduction=r)),
    ],
)
@pytest.mark.parametrize("bad", ["avg", "Mean", ""])
def test_bad_reduction_names_the_function_and_the_value(name: str, call: object, bad: str) -> None:
    message = f"{name}: reduction must be one of ('mean', 'sum', 'none'), got {bad!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        call(bad)  # type: ignore[operator]


@pytest.mark.parametrize("labels", [[0.0, 1.0, 1.0], [1.0, -1.0, 2.0], [0.5, 1.0, -1.0]])
def test_hinge_labels_must_be_plus_or_minus_one(labels: list[float]) -> None:
    with pytest.raises(ValueError, match="hinge_loss: target labels must be -1 or \\+1"):
        nn.hinge_loss(np.ones(3), np.array(labels))


@pytest.mark.parametrize("eps", [-0.1, 1.5, math.nan])
def test_bad_label_smoothing(eps: float) -> None:
    x = np.zeros((3, 4))
    t = np.array([0, 1, 2])
    message = re.escape(f"cross_entropy: label_smoothing must be in [0, 1], got {eps}")
    with pytest.raises(ValueError, match=message):
        nn.cross_entropy(x, t, label_smoothing=eps)
    with pytest.raises(ValueError, match=message):
        nn.CrossEntropyLoss(label_smoothing=eps)(x, t)
