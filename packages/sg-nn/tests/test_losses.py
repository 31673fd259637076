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
from sg_tensor import Tensor, no_grad

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
    "cls",
    [
        nn.MSELoss,
        nn.BCEWithLogitsLoss,
        nn.CrossEntropyLoss,
        nn.NLLLoss,
        nn.HingeLoss,
        nn.L1Loss,
        nn.SmoothL1Loss,
        nn.HuberLoss,
        nn.BCELoss,
        nn.SoftMarginLoss,
        nn.MarginRankingLoss,
        nn.PoissonNLLLoss,
        nn.GaussianNLLLoss,
    ],
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
        (nn.l1_loss, "l1_loss"),
        (nn.smooth_l1_loss, "smooth_l1_loss"),
        (nn.huber_loss, "huber_loss"),
        (nn.binary_cross_entropy, "binary_cross_entropy"),
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
        (
            ValueError,
            "target must have shape () for input (4,), got (1,)",
            np.zeros(4),
            TARGETS[:1],
        ),
        (
            ValueError,
            "expected input of shape (C,), (N, C) or (N, C, d1, ...), got ()",
            np.zeros(()),
            TARGETS[:1],
        ),
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
        ("l1_loss", lambda r: nn.l1_loss(np.ones(3), np.ones(3), r)),
        ("l1_loss", lambda r: nn.l1_loss(np.ones(3), np.ones(3), r, weight=np.ones(3))),
        ("smooth_l1_loss", lambda r: nn.smooth_l1_loss(np.ones(3), np.ones(3), r)),
        ("huber_loss", lambda r: nn.huber_loss(np.ones(3), np.ones(3), r)),
        ("binary_cross_entropy", lambda r: nn.binary_cross_entropy(np.ones(3), np.ones(3), r)),
        ("soft_margin_loss", lambda r: nn.soft_margin_loss(np.ones(3), np.ones(3), r)),
        (
            "margin_ranking_loss",
            lambda r: nn.margin_ranking_loss(np.ones(3), np.ones(3), np.ones(3), 0.0, r),
        ),
        ("poisson_nll_loss", lambda r: nn.poisson_nll_loss(np.ones(3), np.ones(3), reduction=r)),
        (
            "gaussian_nll_loss",
            lambda r: nn.gaussian_nll_loss(np.ones(3), np.ones(3), 1.0, reduction=r),
        ),
        (
            "cross_entropy",
            lambda r: nn.cross_entropy(np.ones((3, 2)), np.ones((3, 2)) / 2, reduction=r),
        ),
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


# ---------------------------------------------------------------------------------------
# l1_loss, smooth_l1_loss, huber_loss and weights
# ---------------------------------------------------------------------------------------
def kinked_pair(kink: float) -> tuple[np.ndarray, np.ndarray]:
    """Random pairs, plus differences of exactly 0 and exactly +-``kink``."""
    x, y = R.standard_normal((N, 3)) * 2, R.standard_normal((N, 3))
    x[0] = y[0]
    y[1, :2] = [0.25, -0.75]
    x[1, :2] = [0.25 + kink, -0.75 - kink]
    assert np.sum(np.abs(x - y) == kink) >= 2
    return x, y


def far_from_kinks(kink: float) -> tuple[np.ndarray, np.ndarray]:
    """Random pairs whose differences stay 0.05 away from 0 and from +-``kink``."""
    x, y = R.standard_normal((N, 3)) * 2, R.standard_normal((N, 3))
    d = x - y
    d = np.where(np.abs(np.abs(d) - kink) < 0.05, d + 0.1, d)
    d = np.where(np.abs(d) < 0.05, 0.1, d)
    return y + d, y


def smooth_l1_reference(d: np.ndarray, beta: float) -> np.ndarray:
    a = np.abs(d)
    return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1_loss_matches_formula_and_its_gradient_is_the_sign(reduction: str) -> None:
    x, y = kinked_pair(1.0)
    loss = nn.l1_loss(x, y, reduction)
    np.testing.assert_allclose(values(loss), reduce(np.abs(x - y), reduction), rtol=1e-14)
    xt, yt = leaf(x), leaf(y)
    nn.l1_loss(xt, yt, "sum").backward()
    np.testing.assert_array_equal(xt.grad, np.sign(x - y))  # 0 where x == y, as PyTorch
    np.testing.assert_array_equal(yt.grad, -np.sign(x - y))
    xs, ys = (leaf(a) for a in far_from_kinks(0.0))
    check_grads(lambda: nn.l1_loss(xs, ys, reduction), [xs, ys])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
def test_smooth_l1_loss_matches_formula_and_gradient(reduction: str, beta: float) -> None:
    x, y = kinked_pair(beta)
    d = x - y
    loss = nn.smooth_l1_loss(x, y, reduction, beta)
    np.testing.assert_allclose(
        values(loss), reduce(smooth_l1_reference(d, beta), reduction), rtol=1e-14
    )
    xt = leaf(x)
    nn.smooth_l1_loss(xt, y, "sum", beta=beta).backward()
    # d / beta inside, sign(d) outside; at |d| == beta both pieces have slope sign(d)
    expected = np.where(np.abs(d) < beta, d / beta, np.sign(d))
    np.testing.assert_allclose(xt.grad, expected, rtol=1e-15)
    xs, ys = (leaf(a) for a in far_from_kinks(beta))
    check_grads(lambda: nn.smooth_l1_loss(xs, ys, reduction, beta), [xs, ys])


def test_smooth_l1_with_beta_zero_is_l1_and_a_negative_beta_is_refused() -> None:
    x, y = kinked_pair(1.0)
    np.testing.assert_array_equal(nn.smooth_l1_loss(x, y, "none", beta=0.0).data, np.abs(x - y))
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must not be negative, got -1"):
        nn.smooth_l1_loss(x, y, beta=-1.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.25])
def test_huber_loss_matches_formula_and_is_delta_times_smooth_l1(
    reduction: str, delta: float
) -> None:
    x, y = kinked_pair(delta)
    d = x - y
    expected = np.where(np.abs(d) < delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))
    loss = nn.huber_loss(x, y, reduction, delta)
    np.testing.assert_allclose(values(loss), reduce(expected, reduction), rtol=1e-14)
    np.testing.assert_allclose(
        nn.huber_loss(x, y, "none", delta).data,
        delta * nn.smooth_l1_loss(x, y, "none", beta=delta).data,
        rtol=1e-14,
    )
    xt = leaf(x)
    nn.huber_loss(xt, y, "sum", delta=delta).backward()
    np.testing.assert_allclose(xt.grad, np.clip(d, -delta, delta), rtol=1e-15)
    xs, ys = (leaf(a) for a in far_from_kinks(delta))
    check_grads(lambda: nn.huber_loss(xs, ys, reduction, delta), [xs, ys])
    with pytest.raises(ValueError, match="huber_loss: delta must be positive, got 0"):
        nn.huber_loss(x, y, delta=0.0)


def test_weighted_regression_losses_reduce_as_pytorch() -> None:
    x, y = far_from_kinks(1.0)
    w = R.uniform(0.1, 2.0, x.shape)
    d = x - y
    huber = np.where(np.abs(d) < 1, 0.5 * d * d, np.abs(d) - 0.5)
    for fn, terms, mean in (
        (nn.l1_loss, w * np.abs(d), (w * np.abs(d)).sum() / w.sum()),  # over sum(weight)
        (nn.mse_loss, w * d * d, (w * d * d).sum() / w.sum()),
        (nn.huber_loss, w * huber, (w * huber).mean()),  # over the count
    ):
        np.testing.assert_allclose(fn(x, y, weight=w).item(), mean, rtol=1e-14)
        np.testing.assert_allclose(fn(x, y, "sum", weight=w).item(), terms.sum(), rtol=1e-14)
        np.testing.assert_allclose(fn(x, y, "none", weight=w).data, terms, rtol=1e-14)
        xt, yt, wt = leaf(x), leaf(y), leaf(w)  # a Tensor weight gets a gradient too
        check_grads(lambda fn=fn, a=xt, b=yt, c=wt: fn(a, b, weight=c), [xt, yt, wt])
        with pytest.raises(ValueError, match=r"weight must have the input's shape \(6, 3\)"):
            fn(x, y, weight=w[0])


# ---------------------------------------------------------------------------------------
# binary_cross_entropy
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_formula_and_gradient(reduction: str, weighted: bool) -> None:
    x, y = R.uniform(0.02, 0.98, (N, 3)), R.uniform(0, 1, (N, 3))
    y[0] = [0.0, 1.0, 1.0]
    w = R.uniform(0.5, 2.0, 3) if weighted else None
    expected = -(y * np.log(x) + (1 - y) * np.log(1 - x)) * (1.0 if w is None else w)
    loss = nn.binary_cross_entropy(x, y, w, reduction=reduction)
    np.testing.assert_allclose(values(loss), reduce(expected, reduction), rtol=1e-13)
    # The target's differences need room on both sides: targets of 0 and 1 only for x.
    xt, yt = leaf(x[1:]), leaf(y[1:])
    check_grads(lambda: nn.binary_cross_entropy(xt, yt, w, reduction=reduction), [xt, yt])
    x0 = leaf(x)
    check_grads(lambda: nn.binary_cross_entropy(x0, y, w, reduction=reduction), [x0])


def test_binary_cross_entropy_gradient_is_x_minus_y_over_x_one_minus_x() -> None:
    x, y = leaf(R.uniform(0.01, 0.99, 8)), R.uniform(0, 1, 8)
    nn.binary_cross_entropy(x, y).backward()
    np.testing.assert_allclose(x.grad, (x.data - y) / (x.data * (1 - x.data)) / 8, rtol=1e-13)


def test_binary_cross_entropy_clamps_its_logs_at_minus_100_as_pytorch() -> None:
    x = leaf(np.array([0.0, 0.0, 1.0, 1.0, 1e-50, 1e-13, 0.5]))
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    loss = nn.binary_cross_entropy(x, y, reduction="none")
    expected = [0.0, 100.0, 100.0, 0.0, 100.0, -np.log(1e-13), np.log(2)]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-15)
    loss.backward(np.ones(7))
    # PyTorch's backward: (x - y) / max(x (1 - x), 1e-12), its 1e-12 a C++ float.
    eps = float(np.float32(1e-12))
    slope = (x.data - y) / np.maximum(x.data * (1 - x.data), eps)
    np.testing.assert_allclose(x.grad, slope, rtol=1e-15)
    assert x.grad[1] == -1 / eps  # finite where log(0) would have been infinite


def test_binary_cross_entropy_of_a_sigmoid_is_the_loss_with_logits() -> None:
    logits, y = R.standard_normal((N, 3)) * 3, R.uniform(0, 1, (N, 3))
    np.testing.assert_allclose(
        nn.binary_cross_entropy(sigmoid(logits), y, reduction="none").data,
        bce_with_logits(logits, y),
        rtol=1e-12,
    )


@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan])
def test_binary_cross_entropy_refuses_inputs_outside_0_1(bad: float) -> None:
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must hold probabilities"):
        nn.binary_cross_entropy(np.array([0.5, bad]), np.array([1.0, 0.0]))


@pytest.mark.parametrize(
    ("bad", "found"),
    [(-0.1, "values from -0.1 to 1.0"), (1.5, "values from 0.5 to 1.5"),
     (np.nan, "values from 0.5 to 0.5 and nan")],
)  # fmt: skip
def test_binary_cross_entropy_refuses_targets_outside_0_1(bad: float, found: str) -> None:
    # As PyTorch ("all elements of target should be between 0 and 1"): such a target
    # gives a loss that is no cross entropy (and can be negative).
    target = np.array([0.5, bad, 1.0]) if bad < 0 else np.array([0.5, bad])
    with pytest.raises(ValueError, match=rf"binary_cross_entropy: target must .*got {found}$"):
        nn.binary_cross_entropy(np.full(target.shape, 0.3), target)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_weight_and_pos_weight(reduction: str) -> None:
    x, y = R.standard_normal((N, 3)) * 3, R.uniform(0, 1, (N, 3))
    w, p = R.uniform(0.5, 2.0, (N, 1)), R.uniform(0.5, 3.0, 3)
    s = sigmoid(x)
    expected = -w * (p * y * np.log(s) + (1 - y) * np.log(1 - s))
    loss = nn.binary_cross_entropy_with_logits(x, y, w, reduction=reduction, pos_weight=p)
    np.testing.assert_allclose(values(loss), reduce(expected, reduction), rtol=1e-12)
    xt, yt = leaf(x), leaf(y)
    nn.binary_cross_entropy_with_logits(xt, yt, w, reduction="sum", pos_weight=p).backward()
    # d/dx = w ((1 + (p - 1) y) sigmoid(x) - p y)
    np.testing.assert_allclose(xt.grad, w * ((1 + (p - 1) * y) * s - p * y), rtol=1e-12)
    xt.grad = yt.grad = None
    fn = lambda: nn.binary_cross_entropy_with_logits(xt, yt, w, reduction=reduction, pos_weight=p)  # noqa: E731
    check_grads(fn, [xt, yt])
    with pytest.raises(ValueError, match=r"pos_weight of shape \(4,\) does not broadcast"):
        nn.binary_cross_entropy_with_logits(x, y, pos_weight=np.ones(4))


# ---------------------------------------------------------------------------------------
# cross_entropy and nll_loss: weights, ignore_index, probabilities, shapes
# ---------------------------------------------------------------------------------------
W = np.array([0.5, 2.0, 1.0, 3.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_weights_and_the_weighted_mean(reduction: str) -> None:
    x = R.standard_normal((N, C)) * 2
    nll = -log_softmax(x)[np.arange(N), TARGETS]
    terms = W[TARGETS] * nll
    expected = terms.sum() / W[TARGETS].sum() if reduction == "mean" else reduce(terms, reduction)
    loss = nn.cross_entropy(x, TARGETS, W, reduction=reduction)
    np.testing.assert_allclose(values(loss), expected, rtol=1e-13)
    logp = log_softmax(x)
    np.testing.assert_allclose(
        values(nn.nll_loss(logp, TARGETS, weight=W, reduction=reduction)), expected, rtol=1e-13
    )
    xt = leaf(x)
    check_grads(lambda: nn.cross_entropy(xt, TARGETS, W, reduction=reduction), [xt])


@pytest.mark.parametrize("ignore_index", [-100, 1])
def test_ignored_targets_count_for_nothing(ignore_index: int) -> None:
    x = leaf(R.standard_normal((N, C)))
    t = TARGETS.copy()
    t[[1, 4]] = ignore_index
    counted = t != ignore_index
    nll = -log_softmax(x.data)[np.arange(N), np.where(counted, t, 0)]
    loss = nn.cross_entropy(x, t, ignore_index=ignore_index, reduction="none")
    np.testing.assert_allclose(loss.data, np.where(counted, nll, 0.0), rtol=1e-14)
    mean = nn.cross_entropy(x, t, ignore_index=ignore_index)
    np.testing.assert_allclose(mean.item(), nll[counted].mean(), rtol=1e-14)  # over 4, not 6
    mean.backward()
    np.testing.assert_array_equal(x.grad[~counted], 0.0)
    expected_rows = (softmax(x.data) - one_hot(np.where(counted, t, 0), C)) / counted.sum()
    np.testing.assert_allclose(x.grad[counted], expected_rows[counted], atol=1e-15)
    weighted = nn.nll_loss(log_softmax(x.data), t, W, ignore_index=ignore_index)
    w_t = W[t[counted]]
    np.testing.assert_allclose(weighted.item(), (w_t * nll[counted]).sum() / w_t.sum(), rtol=1e-13)


def test_all_targets_ignored_gives_nan_for_the_mean_and_no_gradient() -> None:
    x = leaf(R.standard_normal((3, C)))
    t = np.full(3, -100)
    mean = nn.cross_entropy(x, t)
    assert math.isnan(mean.item())
    mean.backward()
    np.testing.assert_array_equal(x.grad, 0.0)  # zeros, not nan, as PyTorch
    assert nn.cross_entropy(x, t, reduction="sum").item() == 0.0
    np.testing.assert_array_equal(nn.nll_loss(x, t, reduction="none").data, 0.0)
    assert math.isnan(nn.cross_entropy(x, t, W, label_smoothing=0.2).item())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_label_smoothing_with_weight_and_ignore_index_is_pytorchs_formula(reduction: str) -> None:
    x = R.standard_normal((N, C)) * 2
    t = TARGETS.copy()
    t[2] = -100
    counted, safe, eps = t != -100, np.where(t != -100, t, 0), 0.2
    logp = log_softmax(x)
    nll = np.where(counted, -W[safe] * logp[np.arange(N), safe], 0.0)
    spread = np.where(counted, -(W * logp).sum(axis=1), 0.0)
    terms = (1 - eps) * nll + eps / C * spread
    expected = (
        terms.sum() / W[safe][counted].sum() if reduction == "mean" else reduce(terms, reduction)
    )
    loss = nn.cross_entropy(x, t, W, reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(values(loss), expected, rtol=1e-13)
    xt = leaf(x)
    fn = lambda: nn.cross_entropy(xt, t, W, reduction=reduction, label_smoothing=eps)  # noqa: E731
    check_grads(fn, [xt])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_probability_targets(reduction: str, weighted: bool) -> None:
    x = R.standard_normal((N, C)) * 2
    q = softmax(R.standard_normal((N, C)))
    w = W if weighted else np.ones(C)
    expected = -(w * q * log_softmax(x)).sum(axis=1)  # "mean" divides by N, not by weights
    loss = nn.cross_entropy(x, q, W if weighted else None, reduction=reduction)
    np.testing.assert_allclose(values(loss), reduce(expected, reduction), rtol=1e-13)
    smoothed = nn.cross_entropy(x, q, reduction=reduction, label_smoothing=0.3)
    q_smooth = 0.7 * q + 0.3 / C
    np.testing.assert_allclose(
        values(smoothed), reduce(-(q_smooth * log_softmax(x)).sum(axis=1), reduction), rtol=1e-13
    )
    xt, qt = leaf(x), leaf(q)
    check_grads(lambda: nn.cross_entropy(xt, qt, w, reduction=reduction), [xt, qt])


def test_one_hot_probabilities_equal_class_targets() -> None:
    x = R.standard_normal((N, C))
    for kwargs in ({}, {"label_smoothing": 0.1}):
        np.testing.assert_allclose(
            nn.cross_entropy(x, one_hot(TARGETS, C), reduction="none", **kwargs).data,
            nn.cross_entropy(x, TARGETS, reduction="none", **kwargs).data,
            rtol=1e-14,
        )


def test_class_losses_over_extra_dimensions_and_unbatched() -> None:
    x = R.standard_normal((2, C, 3, 2))  # (N, C, d1, d2)
    t = R.integers(0, C, (2, 3, 2))
    rows = np.moveaxis(x, 1, -1).reshape(-1, C)  # one row per position
    per_position = nn.cross_entropy(rows, t.reshape(-1), reduction="none").data
    loss = nn.cross_entropy(x, t, W, reduction="none")
    assert loss.shape == (2, 3, 2)
    np.testing.assert_allclose(
        loss.data, (W[t.reshape(-1)] * per_position).reshape(t.shape), rtol=1e-14
    )
    xt = leaf(x)
    check_grads(lambda: nn.cross_entropy(xt, t, W, label_smoothing=0.1), [xt])
    row, target = R.standard_normal(C), np.int64(2)  # (C,) with a 0-d target
    unbatched = nn.cross_entropy(row, target)
    assert unbatched.shape == ()
    assert unbatched.item() == nn.cross_entropy(row[None], np.array([2])).item()
    assert nn.nll_loss(row, np.array(1), reduction="none").item() == -row[1]


def test_the_third_argument_is_the_weight_or_sgs_older_reduction() -> None:
    x = R.standard_normal((N, C))
    by_keyword = nn.cross_entropy(x, TARGETS, weight=W).item()
    assert nn.cross_entropy(x, TARGETS, W).item() == by_keyword  # PyTorch's order
    assert (
        nn.cross_entropy(x, TARGETS, "sum").item()
        == nn.cross_entropy(x, TARGETS, reduction="sum").item()
    )  # sg's older positional reduction: a string is never a weight
    with pytest.raises(TypeError, match="cross_entropy: got the reduction twice"):
        nn.cross_entropy(x, TARGETS, "sum", reduction="none")
    assert nn.CrossEntropyLoss("sum").reduction == "sum"
    assert nn.BCEWithLogitsLoss("none").weight is None
    np.testing.assert_array_equal(nn.NLLLoss(W).weight, W)


def test_class_loss_argument_errors() -> None:
    x = np.zeros((3, C))
    t = np.array([0, 1, 2])
    with pytest.raises(
        ValueError, match=re.escape("weight must have one entry per class, shape (4,), got (3,)")
    ):
        nn.cross_entropy(x, t, np.ones(3))
    with pytest.raises(TypeError, match="holds class probabilities and must be floating point"):
        nn.cross_entropy(x, np.zeros((3, C), dtype=np.int64))
    with pytest.raises(
        ValueError, match=re.escape("ignore_index (1) is not supported for class probability")
    ):
        nn.cross_entropy(x, np.full((3, C), 0.25), ignore_index=1)
    with pytest.raises(
        IndexError, match=re.escape("class indices must be in [0, 4), got values from 0 to 7")
    ):
        nn.nll_loss(x, np.array([0, 7, -100]))  # -100 is ignored, 7 is not a class


# ---------------------------------------------------------------------------------------
# the new modules
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_new_loss_modules_equal_the_functions(reduction: str) -> None:
    x, y = R.standard_normal((N, C)), R.standard_normal((N, C))
    p = R.uniform(0.05, 0.95, (N, C))
    t = TARGETS.copy()
    t[0] = 3
    cases = [
        (nn.L1Loss(reduction), nn.l1_loss(x, y, reduction), (x, y)),
        (nn.SmoothL1Loss(reduction, beta=0.5), nn.smooth_l1_loss(x, y, reduction, 0.5), (x, y)),
        (nn.HuberLoss(reduction, delta=2.0), nn.huber_loss(x, y, reduction, 2.0), (x, y)),
        (
            nn.BCELoss(W, reduction=reduction),
            nn.binary_cross_entropy(p, y > 0, W, reduction=reduction),
            (p, y > 0),
        ),
        (
            nn.CrossEntropyLoss(W, ignore_index=3, reduction=reduction, label_smoothing=0.1),
            nn.cross_entropy(x, t, W, ignore_index=3, reduction=reduction, label_smoothing=0.1),
            (x, t),
        ),
        (
            nn.NLLLoss(W, ignore_index=3, reduction=reduction),
            nn.nll_loss(x, t, W, ignore_index=3, reduction=reduction),
            (x, t),
        ),
        (
            nn.BCEWithLogitsLoss(W, reduction=reduction, pos_weight=W),
            nn.binary_cross_entropy_with_logits(x, p, W, reduction=reduction, pos_weight=W),
            (x, p),
        ),
    ]
    for module, expected, args in cases:
        assert module.reduction == reduction
        np.testing.assert_array_equal(module(*args).data, expected.data, err_msg=repr(module))
        assert module.num_parameters() == 0


def test_loss_weights_are_buffers_that_follow_the_dtype() -> None:
    loss = nn.CrossEntropyLoss(W)
    assert list(loss.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    assert list(nn.BCEWithLogitsLoss(pos_weight=W).state_dict()) == ["pos_weight"]
    loss.float()
    assert loss.weight.dtype == np.float32
    x = R.standard_normal((N, C)).astype(np.float32)
    assert loss(x, TARGETS).dtype == np.float32
    assert nn.SmoothL1Loss().beta == 1.0
    assert nn.HuberLoss().delta == 1.0
    assert nn.CrossEntropyLoss().ignore_index == -100


# ---------------------------------------------------------------------------------------
# soft_margin_loss, margin_ranking_loss
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss_is_the_logistic_loss(reduction: str) -> None:
    x, y = R.standard_normal((N, 3)) * 3, np.sign(R.standard_normal((N, 3)))
    expected = np.log1p(np.exp(-y * x))
    np.testing.assert_allclose(
        values(nn.soft_margin_loss(x, y, reduction)), reduce(expected, reduction), rtol=1e-13
    )
    xt = leaf(x)
    nn.soft_margin_loss(xt, y, "sum").backward()
    np.testing.assert_allclose(xt.grad, -y * sigmoid(-y * x), rtol=1e-13)  # -y s(-y x)
    check_grads(lambda: nn.soft_margin_loss(xt, y, reduction), [xt])
    # finite where log1p(exp(800)) overflows
    assert nn.soft_margin_loss(np.array([-800.0]), np.array([1.0])).item() == 800.0
    # labels get no gradient, as in PyTorch: a target that requires one is refused
    with pytest.raises(RuntimeError, match=r"soft_margin_loss: the target \(shape \(3,\)\)"):
        nn.soft_margin_loss(leaf(x[0]), leaf(y[0]))
    with no_grad():
        nn.soft_margin_loss(leaf(x[0]), leaf(y[0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_loss_formula_and_slope_at_the_kink(reduction: str, margin: float) -> None:
    x1, x2 = R.standard_normal(8), R.standard_normal(8)
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0])
    x1[0], x2[0] = 1.0 + margin, 1.0  # exactly at the kink: -y (x1 - x2) + margin == 0
    u = -y * (x1 - x2) + margin
    assert u[0] == 0
    np.testing.assert_allclose(
        values(nn.margin_ranking_loss(x1, x2, y, margin, reduction)),
        reduce(np.maximum(u, 0), reduction),
        rtol=1e-14,
    )
    a, b = leaf(x1), leaf(x2)
    nn.margin_ranking_loss(a, b, y, margin, "sum").backward()
    np.testing.assert_array_equal(a.grad, np.where(u >= 0, -y, 0.0))  # the kink counts in
    np.testing.assert_array_equal(b.grad, np.where(u >= 0, y, 0.0))
    assert nn.MarginRankingLoss(margin, reduction)(x1, x2, y).shape == np.shape(
        reduce(u, reduction)
    )
    with pytest.raises(ValueError, match="margin_ranking_loss: input1, input2 and target"):
        nn.margin_ranking_loss(x1, x2, y[None])


# ---------------------------------------------------------------------------------------
# kl_div, poisson_nll_loss, gaussian_nll_loss
# ---------------------------------------------------------------------------------------
def test_kl_div_batchmean_is_the_kl_divergence_and_zero_targets_count_for_nothing() -> None:
    q, p = softmax(R.standard_normal((N, C))), softmax(R.standard_normal((N, C)))
    p[0, 1] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    got = nn.kl_div(np.log(q), p, reduction="batchmean")
    np.testing.assert_allclose(got.item(), terms.sum() / N, rtol=1e-13)
    np.testing.assert_allclose(nn.kl_div(np.log(q), p, "none").data, terms, rtol=1e-13, atol=1e-16)
    log_p = np.log(np.where(p > 0, p, 1.0))
    np.testing.assert_allclose(
        nn.kl_div(np.log(q), log_p, "sum", log_target=True).item(),
        (np.exp(log_p) * (log_p - np.log(q))).sum(),
        rtol=1e-13,
    )
    x, t = leaf(np.log(q)), leaf(p)
    nn.kl_div(x, t, "sum").backward()
    np.testing.assert_array_equal(x.grad, -p)
    positive = p > 0
    expected = np.log(p[positive]) + 1 - np.log(q[positive])
    np.testing.assert_allclose(t.grad[positive], expected, rtol=1e-13)
    assert t.grad[0, 1] == -np.log(q[0, 1])  # t log t adds nothing at t = 0 (PyTorch: nan)
    check_grads(lambda: nn.kl_div(x, t, "batchmean"), [x])


def test_kl_div_mean_warns_as_pytorch_and_reductions_are_checked() -> None:
    x, t = np.log(np.full((2, 4), 0.25)), np.full((2, 4), 0.25)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        assert nn.kl_div(x, t).item() == 0.0
    with pytest.warns(UserWarning, match="'batchmean'"):
        nn.KLDivLoss()(x, t)
    for bad in ("avg", "batch"):
        with pytest.raises(ValueError, match=r"reduction must be one of .*'batchmean'"):
            nn.kl_div(x, t, bad)
        with pytest.raises(ValueError, match="KLDivLoss: reduction must be one of"):
            nn.KLDivLoss(bad)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_nll_loss(reduction: str) -> None:
    x = R.standard_normal((N, 3))
    k = R.integers(0, 6, (N, 3)).astype(float)
    k[0] = [0.0, 1.0, 3.0]
    expected = np.exp(x) - k * x
    np.testing.assert_allclose(
        values(nn.poisson_nll_loss(x, k, reduction=reduction)),
        reduce(expected, reduction),
        rtol=1e-13,
    )
    rate = np.exp(x)
    plain = rate - k * np.log(rate + 1e-8)
    np.testing.assert_allclose(
        values(nn.poisson_nll_loss(rate, k, log_input=False, reduction=reduction)),
        reduce(plain, reduction),
        rtol=1e-13,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        stirling = np.where(k > 1, k * np.log(k) - k + 0.5 * np.log(2 * np.pi * k), 0.0)
    np.testing.assert_allclose(
        values(nn.poisson_nll_loss(x, k, full=True, reduction=reduction)),
        reduce(expected + stirling, reduction),
        rtol=1e-13,
    )
    xt, kt = leaf(x), leaf(k + 0.5)  # non-integer counts keep the Stirling term smooth
    check_grads(lambda: nn.poisson_nll_loss(xt, kt, full=True, reduction=reduction), [xt, kt])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_loss_and_its_variance_shapes(reduction: str) -> None:
    mu, y = R.standard_normal((N, 3)), R.standard_normal((N, 3))
    var = R.uniform(0.2, 2.0, (N, 3))
    expected = 0.5 * (np.log(var) + (mu - y) ** 2 / var)
    for v, v_full in ((var, var), (var[:, 0], var[:, :1]), (var[:, :1], var[:, :1]), (0.7, 0.7)):
        got = nn.gaussian_nll_loss(mu, y, v, reduction=reduction)
        ref = 0.5 * (np.log(v_full) + (mu - y) ** 2 / v_full)
        np.testing.assert_allclose(values(got), reduce(ref, reduction), rtol=1e-13)
    full = nn.gaussian_nll_loss(mu, y, var, full=True, reduction=reduction)
    np.testing.assert_allclose(
        values(full), reduce(expected + 0.5 * np.log(2 * np.pi), reduction), rtol=1e-13
    )
    a, b, v = leaf(mu), leaf(y), leaf(var)
    check_grads(lambda: nn.gaussian_nll_loss(a, b, v, reduction=reduction), [a, b, v])


def test_gaussian_nll_loss_raises_small_variances_to_eps_keeping_their_gradient() -> None:
    mu, v = leaf(np.array([0.3, 0.1])), leaf(np.array([1e-9, 0.5]))
    loss = nn.gaussian_nll_loss(mu, np.zeros(2), v, reduction="sum")
    np.testing.assert_allclose(
        loss.item(), 0.5 * (np.log(1e-6) + 0.09 / 1e-6 + np.log(0.5) + 0.01 / 0.5), rtol=1e-14
    )
    loss.backward()
    # d/dv of (log v + d**2 / v) / 2 at v = eps, passed to v as if it were not clamped
    np.testing.assert_allclose(
        v.grad,
        0.5 * (1 / np.array([1e-6, 0.5]) - np.array([0.09, 0.01]) / np.array([1e-6, 0.5]) ** 2),
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match="var has negative entry"):
        nn.gaussian_nll_loss(np.zeros(2), np.zeros(2), np.array([1.0, -1.0]))
    with pytest.raises(
        ValueError, match=re.escape("var of shape (3,) does not fit the input's (2,)")
    ):
        nn.gaussian_nll_loss(np.zeros(2), np.zeros(2), np.ones(3))


def test_likelihood_and_margin_loss_modules_equal_the_functions() -> None:
    x, y = R.standard_normal((N, 3)), np.sign(R.standard_normal((N, 3)))
    var = R.uniform(0.5, 1.5, (N, 3))
    k = R.integers(0, 4, (N, 3)).astype(float)
    pairs = [
        (nn.SoftMarginLoss("sum")(x, y), nn.soft_margin_loss(x, y, "sum")),
        (nn.PoissonNLLLoss(full=True)(x, k), nn.poisson_nll_loss(x, k, full=True)),
        (
            nn.GaussianNLLLoss(full=True, eps=0.1)(x, y, var),
            nn.gaussian_nll_loss(x, y, var, full=True, eps=0.1),
        ),
        (nn.KLDivLoss("sum", log_target=True)(x, y), nn.kl_div(x, y, "sum", log_target=True)),
    ]
    for got, expected in pairs:
        np.testing.assert_array_equal(got.data, expected.data)


def test_a_class_weight_of_probability_targets_gets_its_gradient() -> None:
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    q = rng.random((3, 4))
    q /= q.sum(axis=1, keepdims=True)
    w = Tensor(np.array([1.0, 2.0, 3.0, 4.0]), requires_grad=True)
    nn.cross_entropy(x, Tensor(q), weight=w).backward()
    # loss = -mean_n sum_c w_c q_nc logp_nc, so dloss/dw_c = -mean_n q_nc logp_nc
    logp = x.data - np.log(np.exp(x.data).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(w.grad, -(q * logp).mean(axis=0), rtol=1e-13)


@pytest.mark.parametrize(
    "loss",
    [
        lambda x, w: nn.cross_entropy(x, Tensor(np.array([0, 1, 2])), weight=w),
        lambda x, w: nn.nll_loss(x.log_softmax(axis=1), Tensor(np.array([0, 1, 2])), weight=w),
        lambda x, w: nn.binary_cross_entropy(x.sigmoid(), Tensor(np.ones((3, 4))), weight=w),
        lambda x, w: nn.binary_cross_entropy_with_logits(x, Tensor(np.ones((3, 4))), weight=w),
        lambda x, w: nn.binary_cross_entropy_with_logits(x, Tensor(np.ones((3, 4))), pos_weight=w),
    ],
)
def test_a_weight_that_requires_grad_is_refused_where_the_loss_has_no_gradient_for_it(
    loss: Any,
) -> None:
    # PyTorch: "the derivative for 'weight' is not implemented"; sg left w.grad None
    x = Tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    w = Tensor(np.array([1.0, 2.0, 3.0, 4.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad, but the loss is not differentiable"):
        loss(x, w)
    assert np.isfinite(loss(x, w.detach()).item())
