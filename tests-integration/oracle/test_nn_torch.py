"""sg-nn's PyTorch spellings against PyTorch float64: losses, layers and functional ops.

Every case runs the same float64 inputs (and weights, targets, parameters) through sg and
through ``torch.nn`` / ``torch.nn.functional``, backpropagates the same random cotangent,
and requires values and gradients to agree to a scale-aware ``|sg - torch| / max(1,
|torch|)`` of at most 1e-12 (a ``nan`` must be matched by a ``nan``). Inputs include the
points where PyTorch makes a choice: kinks (0 for the rectifiers, ``|d| == beta`` for
smooth L1), BCE's inputs of exactly 0 and 1 (the -100 clamp), all targets ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import sg_nn as nn
import sg_nn.functional as F
from sg_tensor import Tensor

LIMIT = 1e-12
REDUCTIONS = ["mean", "sum", "none"]
R = np.random.default_rng(20250101)


# ---------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------
def T(a: Any, requires_grad: bool = False) -> torch.Tensor:
    """A torch copy of ``a`` (float64 stays float64, integers become int64)."""
    array = np.array(a)
    if array.dtype.kind in "iu":
        array = array.astype(np.int64)
    return torch.from_numpy(array).requires_grad_(requires_grad)


def scale_aware_error(got: Any, expected: Any) -> float:
    """``max |got - expected| / max(1, |expected|)``; ``nan`` where only one is nan."""
    a = np.asarray(got, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} and {b.shape}"
    same = (np.isnan(a) & np.isnan(b)) | (a == b)  # equal, equal infinities, both nan
    with np.errstate(invalid="ignore"):
        err = np.where(same, 0.0, np.abs(a - b) / np.maximum(1.0, np.abs(b)))
    return float(np.nan_to_num(err, nan=np.inf).max(initial=0.0))


def assert_close(got: Any, expected: Any, what: str) -> None:
    err = scale_aware_error(got, expected)
    assert err <= LIMIT, (
        f"{what}: scale-aware error {err:.3g}\nsg    = {got!r}\ntorch = {expected!r}"
    )


def compare(
    sg_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    inputs: Sequence[Any],
    *,
    grads: Sequence[int] | None = None,
    seed: int = 0,
) -> tuple[list[Tensor], list[torch.Tensor]]:
    """Run both on float64 copies of ``inputs``; compare the outputs and the gradients of
    the inputs numbered in ``grads`` (all by default) for a random output cotangent."""
    wanted = set(range(len(inputs)) if grads is None else grads)
    ours = [
        Tensor(np.array(a, dtype=np.float64), requires_grad=i in wanted)
        for i, a in enumerate(inputs)
    ]
    theirs = [T(np.array(a, dtype=np.float64), i in wanted) for i, a in enumerate(inputs)]
    out, ref = sg_fn(*ours), torch_fn(*theirs)
    assert isinstance(out, Tensor)
    assert out.shape == tuple(ref.shape)
    assert out.dtype == np.float64
    assert_close(out.data, ref.detach().numpy(), "value")
    if wanted:
        cotangent = np.random.default_rng(seed).standard_normal(out.shape)
        out.backward(cotangent)
        ref.backward(torch.from_numpy(cotangent))
        for i in sorted(wanted):
            expected = theirs[i].grad
            expected_array = np.zeros(ours[i].shape) if expected is None else expected.numpy()
            got = np.zeros(ours[i].shape) if ours[i].grad is None else ours[i].grad
            assert_close(got, expected_array, f"gradient of input {i}")
    return ours, theirs


def test_the_comparison_catches_a_difference() -> None:
    assert scale_aware_error([1.0, np.nan], [1.0, np.nan]) == 0.0
    assert scale_aware_error([np.inf], [np.inf]) == 0.0
    assert scale_aware_error([1.0], [np.nan]) == np.inf
    assert scale_aware_error([2e-12 + 1e3], [1e3]) < 1e-14
    assert scale_aware_error([1 + 2e-12], [1.0]) > LIMIT
    x = R.standard_normal(3)
    with pytest.raises(AssertionError, match="value"):
        compare(lambda a: a * a, lambda a: a * a * 1.000001, [x])
    with pytest.raises(AssertionError, match="gradient of input 0"):  # same value, other slope
        compare(lambda a: a * a, lambda a: a * a + 1e-6 * (a - a.detach()), [x])


# ---------------------------------------------------------------------------------------
# Regression losses
# ---------------------------------------------------------------------------------------
def regression_inputs(kink: float) -> tuple[np.ndarray, np.ndarray]:
    """Random pairs, plus differences of exactly 0 and of exactly +-``kink``."""
    x, y = R.standard_normal((4, 5)) * 2, R.standard_normal((4, 5))
    x[0, :3] = y[0, :3]  # d == 0
    y[1, :2] = [0.25, -0.75]
    x[1, :2] = [0.25 + kink, -0.75 - kink]  # d == +-kink exactly (representable)
    assert np.any(np.abs(x - y) == kink) or kink == 0
    return x, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1_and_mse(reduction: str) -> None:
    x, y = regression_inputs(1.0)
    w = R.uniform(0.1, 2.0, x.shape)
    for sg, th in ((F.l1_loss, TF.l1_loss), (F.mse_loss, TF.mse_loss)):
        compare(
            lambda a, b, f=sg: f(a, b, reduction),
            lambda a, b, f=th: f(a, b, reduction=reduction),
            [x, y],
        )
        compare(
            lambda a, b, c, f=sg: f(a, b, reduction, weight=c),
            lambda a, b, c, f=th: f(a, b, reduction=reduction, weight=c),
            [x, y, w],
        )
    compare(lambda a, b: nn.L1Loss(reduction)(a, b), tnn.L1Loss(reduction=reduction), [x, y])
    compare(lambda a, b: nn.MSELoss(reduction)(a, b), tnn.MSELoss(reduction=reduction), [x, y])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0, 0.0])
def test_smooth_l1_loss_including_at_beta(reduction: str, beta: float) -> None:
    x, y = regression_inputs(beta)
    compare(
        lambda a, b: F.smooth_l1_loss(a, b, reduction, beta),
        lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
        [x, y],
    )
    compare(
        lambda a, b: nn.SmoothL1Loss(reduction, beta=beta)(a, b),
        tnn.SmoothL1Loss(reduction=reduction, beta=beta),
        [x, y],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.5, 3.0])
def test_huber_loss_including_at_delta(reduction: str, delta: float) -> None:
    x, y = regression_inputs(delta)
    w = R.uniform(0.1, 2.0, x.shape)
    compare(
        lambda a, b: F.huber_loss(a, b, reduction, delta),
        lambda a, b: TF.huber_loss(a, b, reduction=reduction, delta=delta),
        [x, y],
    )
    compare(
        lambda a, b, c: F.huber_loss(a, b, reduction, delta, weight=c),
        lambda a, b, c: TF.huber_loss(a, b, reduction=reduction, delta=delta, weight=c),
        [x, y, w],
    )
    compare(
        lambda a, b: nn.HuberLoss(reduction, delta)(a, b),
        tnn.HuberLoss(reduction=reduction, delta=delta),
        [x, y],
    )


# ---------------------------------------------------------------------------------------
# Binary cross entropy
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_inside_zero_one(reduction: str, weighted: bool) -> None:
    x = R.uniform(1e-6, 1 - 1e-6, (5, 3))
    x[0] = [1e-9, 0.5, 1 - 1e-9]
    y = R.uniform(0, 1, (5, 3))
    y[1] = [0.0, 1.0, 0.0]
    w = R.uniform(0.5, 2, (3,)) if weighted else None
    tw = None if w is None else T(w)
    compare(
        lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction),
        lambda a, b: TF.binary_cross_entropy(a, b, tw, reduction=reduction),
        [x, y],
    )
    compare(
        lambda a, b: nn.BCELoss(w, reduction=reduction)(a, b),
        tnn.BCELoss(tw, reduction=reduction),
        [x, y],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_at_and_near_0_and_1_is_clamped_as_pytorch(reduction: str) -> None:
    # Exactly 0 and 1 (log clamped at -100), below e**-100, and within 1e-12 of the ends,
    # where PyTorch's backward divides by 1e-12 instead of x (1 - x).
    x = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1e-50, 1e-50, 1e-13, 1 - 2**-45, 3e-13, 0.5])
    y = np.array([0.0, 1.0, 0.0, 1.0, 0.4, 1.0, 0.0, 0.5, 0.3, 1.0, 1.0])
    ours, _ = compare(
        lambda a: F.binary_cross_entropy(a, y, reduction=reduction),
        lambda a: TF.binary_cross_entropy(a, T(y), reduction=reduction),
        [x],
    )
    loss = F.binary_cross_entropy(x, y, reduction="none").data
    assert loss[1] == loss[2] == 100.0  # the clamp
    assert np.all(np.isfinite(ours[0].grad))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits_weight_and_pos_weight(reduction: str) -> None:
    x = R.standard_normal((4, 3)) * 4
    x[0] = [0.0, 40.0, -40.0]
    y = R.uniform(0, 1, (4, 3))
    y[1] = [0.0, 1.0, 1.0]
    w, p = R.uniform(0.5, 2, (4, 1)), R.uniform(0.5, 3, (3,))
    for kwargs in ({}, {"weight": w}, {"pos_weight": p}, {"weight": w, "pos_weight": p}):
        tkw = {k: T(v) for k, v in kwargs.items()}
        compare(
            lambda a, b, kw=kwargs: F.binary_cross_entropy_with_logits(
                a, b, reduction=reduction, **kw
            ),
            lambda a, b, kw=tkw: TF.binary_cross_entropy_with_logits(
                a, b, reduction=reduction, **kw
            ),
            [x, y],
        )
        module = nn.BCEWithLogitsLoss(kwargs.get("weight"), reduction=reduction,
                                      pos_weight=kwargs.get("pos_weight"))  # fmt: skip
        torch_module = tnn.BCEWithLogitsLoss(
            tkw.get("weight"), reduction=reduction, pos_weight=tkw.get("pos_weight")
        )
        compare(module, torch_module, [x, y])


# ---------------------------------------------------------------------------------------
# Cross entropy and NLL
# ---------------------------------------------------------------------------------------
SHAPES = [(6, 4), (4,), (3, 4, 2), (2, 3, 2, 2)]  # (N, C), (C,), (N, C, d1), (N, C, d1, d2)


def class_case(shape: tuple[int, ...], ignore: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Logits of ``shape`` and integer targets (some equal to ``ignore``)."""
    logits = R.standard_normal(shape) * 2
    c = shape[0] if len(shape) == 1 else shape[1]
    target_shape = () if len(shape) == 1 else shape[:1] + shape[2:]
    target = R.integers(0, c, target_shape)
    if ignore is not None and target.ndim:
        target.reshape(-1)[::3] = ignore
    return logits, target


CE_SETTINGS: list[dict[str, Any]] = [
    {},
    {"weight": True},
    {"ignore_index": -100, "ignored": -100},
    {"ignore_index": 1, "ignored": 1},
    {"weight": True, "ignore_index": 2, "ignored": 2},
    {"label_smoothing": 0.2},
    {"label_smoothing": 0.3, "weight": True, "ignore_index": -100, "ignored": -100},
    {"label_smoothing": 1.0},
]


def settings(options: dict[str, Any], n_classes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keyword arguments for sg and for torch."""
    kwargs = {k: v for k, v in options.items() if k not in ("weight", "ignored")}
    tkwargs = dict(kwargs)
    if options.get("weight"):
        w = R.uniform(0.2, 3.0, n_classes)
        kwargs["weight"], tkwargs["weight"] = w, T(w)
    return kwargs, tkwargs


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("options", CE_SETTINGS, ids=lambda o: ",".join(o) or "plain")
def test_cross_entropy_class_targets(
    reduction: str, shape: tuple[int, ...], options: dict[str, Any]
) -> None:
    logits, target = class_case(shape, options.get("ignored"))
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    kwargs, tkwargs = settings(options, n_classes)
    compare(
        lambda a: F.cross_entropy(a, target, reduction=reduction, **kwargs),
        lambda a: TF.cross_entropy(a, T(target), reduction=reduction, **tkwargs),
        [logits],
    )
    compare(
        lambda a: nn.CrossEntropyLoss(reduction=reduction, **kwargs)(a, target),
        lambda a: tnn.CrossEntropyLoss(reduction=reduction, **tkwargs)(a, T(target)),
        [logits],
    )
    if "label_smoothing" not in options:
        logp = torch.from_numpy(logits).log_softmax(dim=0 if len(shape) == 1 else 1).numpy()
        compare(
            lambda a: F.nll_loss(a, target, reduction=reduction, **kwargs),
            lambda a: TF.nll_loss(a, T(target), reduction=reduction, **tkwargs),
            [logp],
        )
        compare(
            lambda a: nn.NLLLoss(reduction=reduction, **kwargs)(a, target),
            lambda a: tnn.NLLLoss(reduction=reduction, **tkwargs)(a, T(target)),
            [logp],
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(
    "options", [{}, {"weight": True}, {"label_smoothing": 0.25}, {"weight": True,
                "label_smoothing": 0.1}], ids=lambda o: ",".join(o) or "plain")  # fmt: skip
def test_cross_entropy_probability_targets(
    reduction: str, shape: tuple[int, ...], options: dict[str, Any]
) -> None:
    logits = R.standard_normal(shape) * 2
    axis = 0 if len(shape) == 1 else 1
    probs = torch.from_numpy(R.standard_normal(shape)).softmax(dim=axis).numpy()
    kwargs, tkwargs = settings(options, shape[axis])
    compare(  # the gradient of the target too
        lambda a, b: F.cross_entropy(a, b, reduction=reduction, **kwargs),
        lambda a, b: TF.cross_entropy(a, b, reduction=reduction, **tkwargs),
        [logits, probs],
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_all_targets_ignored_gives_pytorchs_nan_and_zero_gradients(weighted: bool) -> None:
    logits = R.standard_normal((3, 4))
    target = np.array([-100, -100, -100])
    w = R.uniform(0.5, 2, 4) if weighted else None
    tw = None if w is None else T(w)
    for reduction in REDUCTIONS:
        ours, _ = compare(
            lambda a, r=reduction: F.cross_entropy(a, target, w, reduction=r),
            lambda a, r=reduction: TF.cross_entropy(a, T(target), tw, reduction=r),
            [logits],
        )
        assert np.all(ours[0].grad == 0)
    assert np.isnan(F.cross_entropy(logits, target, w).item())
    assert np.isnan(F.nll_loss(logits, target, w).item())
    assert F.cross_entropy(logits, target, w, reduction="sum").item() == 0.0
    with_smoothing = F.cross_entropy(logits, target, w, label_smoothing=0.1)
    assert np.isnan(with_smoothing.item())
    assert np.isnan(TF.cross_entropy(T(logits), T(target), tw, label_smoothing=0.1).item())


def test_cross_entropy_is_stable_for_huge_logits_as_pytorch() -> None:
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e6, 5e5], [2e300, 0.0, -1e300]])
    target = np.array([2, 1, 0])
    w = np.array([0.5, 2.0, 1.5])
    compare(
        lambda a: F.cross_entropy(a, target[:2], w, label_smoothing=0.1),
        lambda a: TF.cross_entropy(a, T(target[:2]), T(w), label_smoothing=0.1),
        [logits[:2]],
    )
    compare(
        lambda a: F.cross_entropy(a, target), lambda a: TF.cross_entropy(a, T(target)), [logits]
    )


def test_weighted_loss_modules_keep_the_weight_as_pytorchs_buffer() -> None:
    w = np.array([1.0, 2.0, 0.5])
    for ours, theirs in (
        (nn.CrossEntropyLoss(w), tnn.CrossEntropyLoss(T(w))),
        (nn.NLLLoss(w), tnn.NLLLoss(T(w))),
        (nn.BCELoss(w), tnn.BCELoss(T(w))),
        (nn.BCEWithLogitsLoss(w, pos_weight=w), tnn.BCEWithLogitsLoss(T(w), pos_weight=T(w))),
        (nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()),
    ):
        state, reference = ours.state_dict(), theirs.state_dict()
        assert list(state) == list(reference)
        for key in state:
            np.testing.assert_array_equal(state[key], reference[key].numpy())


# ---------------------------------------------------------------------------------------
# Margin, divergence and likelihood losses
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_and_margin_ranking_losses(reduction: str) -> None:
    x, y = R.standard_normal((4, 3)) * 3, np.sign(R.standard_normal((4, 3)))
    x[0] = [0.0, 30.0, -30.0]
    compare(
        lambda a: F.soft_margin_loss(a, y, reduction),
        lambda a: TF.soft_margin_loss(a, T(y), reduction=reduction),
        [x],
    )
    compare(
        lambda a: nn.SoftMarginLoss(reduction)(a, y),
        lambda a: tnn.SoftMarginLoss(reduction=reduction)(a, T(y)),
        [x],
    )
    x1, x2 = R.standard_normal(8), R.standard_normal(8)
    target = np.array([1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0])
    x2[:2] = x1[:2]  # exactly at the kink for margin 0
    x2[2] = x1[2] + 0.5  # exactly at the kink for margin 0.5
    for margin in (0.0, 0.5):
        compare(
            lambda a, b, m=margin: F.margin_ranking_loss(a, b, target, m, reduction),
            lambda a, b, m=margin: TF.margin_ranking_loss(a, b, T(target), m, reduction=reduction),
            [x1, x2],
        )
        compare(
            lambda a, b, m=margin: nn.MarginRankingLoss(m, reduction)(a, b, target),
            lambda a, b, m=margin: tnn.MarginRankingLoss(m, reduction=reduction)(a, b, T(target)),
            [x1, x2],
        )


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction: str, log_target: bool) -> None:
    logq = torch.from_numpy(R.standard_normal((4, 5))).log_softmax(dim=1).numpy()
    p = torch.from_numpy(R.standard_normal((4, 5))).softmax(dim=1).numpy()
    if not log_target:
        p[0, :2] = 0.0  # target 0: the term is 0 (PyTorch's target gradient is nan there)
    inputs = [logq, np.log(p) if log_target else p]
    grads = [0, 1] if log_target else [0]

    def ours(a: Tensor, b: Tensor) -> Tensor:
        return F.kl_div(a, b, reduction, log_target)

    def theirs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return TF.kl_div(a, b, reduction=reduction, log_target=log_target)

    if reduction == "mean":  # both warn that "mean" is not the KL divergence
        with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
            compare(ours, theirs, inputs, grads=grads)
    else:
        compare(ours, theirs, inputs, grads=grads)
    if not log_target:  # the target's gradient where it is positive
        q = p.copy()
        q[0, :2] = 0.1
        compare(
            lambda a, b: F.kl_div(a, b, "sum"),
            lambda a, b: TF.kl_div(a, b, reduction="sum"),
            [logq, q],
        )
    compare(
        lambda a, b: nn.KLDivLoss("batchmean", log_target)(a, b),
        tnn.KLDivLoss(reduction="batchmean", log_target=log_target),
        inputs,
        grads=grads,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("log_input", "full"), [(True, False), (False, False), (True, True),
                                                 (False, True)])  # fmt: skip
def test_poisson_nll_loss(reduction: str, log_input: bool, full: bool) -> None:
    rate = R.standard_normal((3, 4)) if log_input else R.uniform(0.1, 4.0, (3, 4))
    counts = R.integers(0, 6, (3, 4)).astype(np.float64)
    counts[0] = [0.0, 1.0, 2.0, 5.0]  # Stirling's term only where the count exceeds 1
    compare(
        lambda a: F.poisson_nll_loss(a, counts, log_input, full, reduction=reduction),
        lambda a: TF.poisson_nll_loss(a, T(counts), log_input, full, reduction=reduction),
        [rate],
    )
    compare(
        lambda a: nn.PoissonNLLLoss(log_input, full, reduction=reduction)(a, counts),
        lambda a: tnn.PoissonNLLLoss(log_input, full, reduction=reduction)(a, T(counts)),
        [rate],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1), (1, 3)], ids=str)
def test_gaussian_nll_loss_including_variances_below_eps(
    reduction: str, var_shape: tuple[int, ...]
) -> None:
    mean, target = R.standard_normal((4, 3)), R.standard_normal((4, 3))
    var = R.uniform(0.1, 2.0, var_shape)
    var.reshape(-1)[0] = 1e-9  # below eps: the value is eps, the gradient passes through
    for full in (False, True):
        compare(
            lambda a, b, v, f=full: F.gaussian_nll_loss(a, b, v, f, reduction=reduction),
            lambda a, b, v, f=full: TF.gaussian_nll_loss(a, b, v, f, reduction=reduction),
            [mean, target, var],
        )
    compare(
        lambda a, b, v: nn.GaussianNLLLoss(full=True, eps=0.2, reduction=reduction)(a, b, v),
        tnn.GaussianNLLLoss(full=True, eps=0.2, reduction=reduction),
        [mean, target, var],
    )
    compare(
        lambda a, b: F.gaussian_nll_loss(a, b, 0.7, reduction=reduction),
        lambda a, b: TF.gaussian_nll_loss(a, b, 0.7, reduction=reduction),
        [mean, target],
    )


# ---------------------------------------------------------------------------------------
# Activation functions and modules
# ---------------------------------------------------------------------------------------
# Random values plus every kink and breakpoint of the functions below.
KINKS = [0.0, 1.0, -1.0, 0.5, -0.5, 3.0, -3.0, 6.0, 0.3, -0.7, 2.0, 20.0, 21.0, -30.0, 40.0]
X = np.concatenate([R.standard_normal(20) * 4, np.array(KINKS)]).reshape(5, 7)

ACTIVATIONS: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("relu", F.relu, TF.relu),
    ("relu6", F.relu6, TF.relu6),
    ("leaky_relu", F.leaky_relu, TF.leaky_relu),
    ("leaky_relu-0.2", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    ("elu", F.elu, TF.elu),
    ("elu-0.5", lambda x: F.elu(x, alpha=0.5), lambda x: TF.elu(x, alpha=0.5)),
    ("selu", F.selu, TF.selu),
    ("celu", F.celu, TF.celu),
    ("celu-2", lambda x: F.celu(x, alpha=2.0), lambda x: TF.celu(x, alpha=2.0)),
    ("silu", F.silu, TF.silu),
    ("mish", F.mish, TF.mish),
    ("gelu", F.gelu, TF.gelu),
    ("gelu-tanh", lambda x: F.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    ("sigmoid", F.sigmoid, TF.sigmoid),
    ("tanh", F.tanh, TF.tanh),
    ("softplus", F.softplus, TF.softplus),
    ("softplus-2-3", lambda x: F.softplus(x, beta=2, threshold=3), lambda x: TF.softplus(x, 2, 3)),
    ("hardtanh", F.hardtanh, TF.hardtanh),
    ("hardtanh-0.3-2", lambda x: F.hardtanh(x, -0.7, 2.0), lambda x: TF.hardtanh(x, -0.7, 2.0)),
    ("hardswish", F.hardswish, TF.hardswish),
    ("hardshrink", F.hardshrink, TF.hardshrink),
    ("hardshrink-1", lambda x: F.hardshrink(x, 1.0), lambda x: TF.hardshrink(x, 1.0)),
    ("softshrink", F.softshrink, TF.softshrink),
    ("softshrink-1", lambda x: F.softshrink(x, 1.0), lambda x: TF.softshrink(x, 1.0)),
    ("softsign", F.softsign, TF.softsign),
    ("logsigmoid", F.logsigmoid, TF.logsigmoid),
    ("tanhshrink", F.tanhshrink, TF.tanhshrink),
    ("threshold", lambda x: F.threshold(x, 0.5, -2.0), lambda x: TF.threshold(x, 0.5, -2.0)),
]


@pytest.mark.parametrize(("name", "ours", "theirs"), ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_functions_with_their_kinks(
    name: str, ours: Callable[..., Any], theirs: Callable[..., Any]
) -> None:
    compare(ours, theirs, [X])


def test_hardsigmoid_whose_pytorch_gradient_is_a_float32_one_sixth() -> None:
    # PyTorch's float64 backward multiplies by the C++ constant 1.0f / 6.0f; sg's slope is
    # the float64 1/6. Scaled by the ratio, PyTorch's gradient is sg's to the last bits.
    ratio = (1 / 6) / float(np.float32(1 / 6))
    assert abs(ratio - 1) > 1e-8
    compare(F.hardsigmoid, TF.hardsigmoid, [X], grads=[])  # the values agree
    x, tx = Tensor(X.copy(), requires_grad=True), T(X, requires_grad=True)
    c = R.standard_normal(X.shape)
    F.hardsigmoid(x).backward(c)
    TF.hardsigmoid(tx).backward(T(c))
    assert tx.grad is not None
    assert_close(x.grad, tx.grad.numpy() * ratio, "hardsigmoid gradient")
    assert np.any(x.grad != tx.grad.numpy())  # the float32 constant shows


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (nn.LeakyReLU(), tnn.LeakyReLU()),
        (nn.LeakyReLU(0.3), tnn.LeakyReLU(0.3)),
        (nn.ELU(), tnn.ELU()),
        (nn.ELU(alpha=2.5), tnn.ELU(alpha=2.5)),
        (nn.SiLU(), tnn.SiLU()),
        (nn.Softmax(dim=1), tnn.Softmax(dim=1)),
        (nn.Softmax(dim=-1), tnn.Softmax(dim=-1)),
        (nn.LogSoftmax(dim=0), tnn.LogSoftmax(dim=0)),
        (nn.LogSoftmax(1), tnn.LogSoftmax(1)),
    ],
    ids=repr,
)
def test_activation_modules(ours: nn.Module, theirs: tnn.Module) -> None:
    compare(ours, theirs, [X])


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_softmax_family_along_each_dim(dim: int) -> None:
    x = R.standard_normal((3, 4, 5)) * 3
    for ours, theirs in (
        (F.softmax, TF.softmax),
        (F.log_softmax, TF.log_softmax),
        (F.softmin, TF.softmin),
    ):
        compare(lambda a, f=ours: f(a, dim), lambda a, f=theirs: f(a, dim), [x])  # type: ignore[misc]
        compare(lambda a, f=ours: f(a, dim=dim), lambda a, f=theirs: f(a, dim=dim), [x])  # type: ignore[misc]


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 2)], ids=str)
def test_softmax_without_dim_takes_pytorchs_legacy_axis_and_warns(shape: tuple[int, ...]) -> None:
    x = R.standard_normal(shape)
    for ours, theirs, name in (
        (nn.Softmax(), tnn.Softmax(), "softmax"),
        (nn.LogSoftmax(), tnn.LogSoftmax(), "log_softmax"),
        (F.softmin, TF.softmin, "softmin"),
    ):
        message = f"Implicit dimension choice for {name} has been deprecated"
        with pytest.warns(UserWarning, match=message):
            got = ours(x)
        with pytest.warns(UserWarning, match=message):
            expected = theirs(T(x))
        assert_close(got.data, expected.numpy(), f"{name} of {shape} without dim")


@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_glu(dim: int) -> None:
    compare(lambda a: F.glu(a, dim), lambda a: TF.glu(a, dim), [R.standard_normal((4, 6, 2))])


# ---------------------------------------------------------------------------------------
# Other functional ops
# ---------------------------------------------------------------------------------------
def test_linear_with_and_without_bias() -> None:
    x, w, b = R.standard_normal((5, 3)), R.standard_normal((4, 3)), R.standard_normal(4)
    compare(F.linear, TF.linear, [x, w, b])
    compare(F.linear, TF.linear, [x, w])


@pytest.mark.parametrize("affine", ["none", "weight", "both"])
@pytest.mark.parametrize(("shape", "normalized"), [((4, 5), (5,)), ((2, 3, 4), (3, 4))])
def test_layer_norm(affine: str, shape: tuple[int, ...], normalized: tuple[int, ...]) -> None:
    x = R.standard_normal(shape) * 3 + 1
    x[0] = 2.0  # a constant row: the variance is 0
    params = [R.uniform(0.5, 1.5, normalized), R.standard_normal(normalized)]
    params = params[: {"none": 0, "weight": 1, "both": 2}[affine]]
    compare(
        lambda a, *p: F.layer_norm(a, normalized, *p, eps=1e-4),
        lambda a, *p: TF.layer_norm(a, normalized, *p, eps=1e-4),
        [x, *params],
    )


def test_layer_norm_module_with_its_parameters() -> None:
    ours, theirs = nn.LayerNorm((3, 4)), tnn.LayerNorm((3, 4), dtype=torch.float64)
    assert ours.weight is not None
    assert ours.bias is not None
    ours.weight.data[...] = R.uniform(0.5, 1.5, (3, 4))
    ours.bias.data[...] = R.standard_normal((3, 4))
    with torch.no_grad():
        theirs.weight.copy_(T(ours.weight.data))
        theirs.bias.copy_(T(ours.bias.data))
    compare(ours, theirs, [R.standard_normal((2, 3, 4))])
    assert_close(ours.weight.grad, theirs.weight.grad.numpy(), "weight gradient")
    assert_close(ours.bias.grad, theirs.bias.grad.numpy(), "bias gradient")


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 1.5, float("inf")])
@pytest.mark.parametrize("dim", [1, 0, -1])
def test_normalize_including_a_zero_row(p: float, dim: int) -> None:
    x = R.standard_normal((4, 5))
    x[1] = 0.0  # norm 0 < eps: divided by eps, no gradient through the norm
    x[:, 2] = 0.0
    x[2, 3] = 1e-13  # below eps for p = 1 along dim 0? (eps is 1e-12)
    x[3, :2] = [2.5, -2.5]  # a tie for the inf-norm
    compare(lambda a: F.normalize(a, p, dim), lambda a: TF.normalize(a, p, dim), [x])
    compare(
        lambda a: F.normalize(a, p=p, dim=dim, eps=0.5),
        lambda a: TF.normalize(a, p=p, dim=dim, eps=0.5),
        [x],
    )


def test_normalize_of_a_vector_uses_dim_0() -> None:
    x = R.standard_normal(6)
    compare(lambda a: F.normalize(a, dim=0), lambda a: TF.normalize(a, dim=0), [x])


@pytest.mark.parametrize("padding_idx", [None, 2, -1, 0])
def test_embedding_function_and_padding_idx(padding_idx: int | None) -> None:
    weight = R.standard_normal((6, 3))
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    compare(
        lambda w: F.embedding(idx, w, padding_idx),
        lambda w: TF.embedding(T(idx), w, padding_idx),
        [weight],
    )


@pytest.mark.parametrize("padding_idx", [None, 3, -2])
def test_embedding_module_against_pytorchs(padding_idx: int | None) -> None:
    ours = nn.Embedding(6, 4, padding_idx=padding_idx, rng=np.random.default_rng(1))
    theirs = tnn.Embedding(6, 4, padding_idx=padding_idx, dtype=torch.float64)
    assert ours.padding_idx == theirs.padding_idx
    if padding_idx is not None:
        np.testing.assert_array_equal(ours.weight.data[padding_idx], 0.0)
        np.testing.assert_array_equal(theirs.weight.detach().numpy()[padding_idx], 0.0)
    with torch.no_grad():
        theirs.weight.copy_(T(ours.weight.data))
    idx = np.array([[3, 4, 3, 0], [1, 4, 5, 3]])
    out, ref = ours(idx), theirs(T(idx))
    assert_close(out.data, ref.detach().numpy(), "embedding rows")
    c = R.standard_normal(out.shape)
    out.backward(c)
    ref.backward(T(c))
    assert theirs.weight.grad is not None
    assert_close(ours.weight.grad, theirs.weight.grad.numpy(), "embedding weight gradient")


def test_one_hot() -> None:
    idx = np.array([[0, 3], [2, 2]])
    for kwargs in ({}, {"num_classes": 6}):
        got = F.one_hot(idx, **kwargs)
        expected = TF.one_hot(T(idx), **kwargs)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got.data, expected.numpy())


@pytest.mark.parametrize(
    ("widths", "value"), [((1, 2), None), ((0, 1, 2, 0), 1.5), ((1, 1, 1, 1, 0, 2), -3.0)]
)
def test_pad(widths: tuple[int, ...], value: float | None) -> None:
    compare(
        lambda a: F.pad(a, widths, value=value),
        lambda a: TF.pad(a, widths, value=value),
        [R.standard_normal((2, 3, 4))],
    )


def test_dropout_edge_probabilities_and_eval() -> None:
    x = R.standard_normal((3, 4))
    compare(lambda a: F.dropout(a, 1.0), lambda a: TF.dropout(a, 1.0), [x])
    compare(lambda a: F.dropout(a, 0.0), lambda a: TF.dropout(a, 0.0), [x])
    compare(lambda a: F.dropout(a, 0.5, False), lambda a: TF.dropout(a, 0.5, False), [x])


# ---------------------------------------------------------------------------------------
# Shape layers
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "end"), [(1, -1), (0, -1), (1, 2), (-2, -1), (2, 2)])
def test_flatten(start: int, end: int) -> None:
    compare(nn.Flatten(start, end), tnn.Flatten(start, end), [R.standard_normal((2, 3, 4, 2))])


@pytest.mark.parametrize(("dim", "sizes"), [(1, (3, 4)), (-1, (2, -1)), (0, (2, 1)), (1, [12])])
def test_unflatten(dim: int, sizes: Any) -> None:
    x = R.standard_normal((2, 12)) if dim != -1 else R.standard_normal((2, 3, 4))
    compare(nn.Unflatten(dim, sizes), tnn.Unflatten(dim, sizes), [x])


# ---------------------------------------------------------------------------------------
# Module behaviour: the same calls do the same things
# ---------------------------------------------------------------------------------------
def test_apply_visits_the_modules_in_pytorchs_order() -> None:
    ours = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)), nn.Tanh())
    theirs = tnn.Sequential(
        tnn.Linear(2, 3), tnn.Sequential(tnn.ReLU(), tnn.Linear(3, 1)), tnn.Tanh()
    )
    seen: list[str] = []
    seen_torch: list[str] = []
    assert ours.apply(lambda m: seen.append(type(m).__name__)) is ours
    assert theirs.apply(lambda m: seen_torch.append(type(m).__name__)) is theirs
    assert seen == seen_torch


def test_forward_hooks_replace_and_chain_as_pytorchs() -> None:
    x = R.standard_normal((2, 3))
    outputs = []
    for module, wrap in ((nn.Tanh(), np.asarray), (tnn.Tanh(), T)):
        calls: list[int] = []
        module.register_forward_hook(lambda m, inputs, out, c=calls: c.append(len(inputs)))
        doubling = module.register_forward_hook(lambda m, inputs, out: out * 2)
        module.register_forward_hook(lambda m, inputs, out: out + 1)
        first = module(wrap(x))
        doubling.remove()
        second = module(wrap(x))
        assert calls == [1, 1]
        outputs.append([o.data if isinstance(o, Tensor) else o.numpy() for o in (first, second)])
    for got, expected in zip(outputs[0], outputs[1]):
        assert_close(got, expected, "hooked output")


def test_dtype_conversion_and_freezing_as_pytorchs() -> None:
    ours, theirs = nn.Linear(3, 2), tnn.Linear(3, 2, dtype=torch.float64)
    ours.register_buffer("steps", np.zeros((), dtype=np.int64))
    theirs.register_buffer("steps", torch.zeros((), dtype=torch.int64))
    ours.float()
    theirs.float()
    for (name, a), (name_torch, b) in zip(
        ours.state_dict().items(), theirs.state_dict().items(), strict=True
    ):
        assert name == name_torch
        assert a.dtype == b.numpy().dtype, name
    ours.double().requires_grad_(False)
    theirs.double().requires_grad_(False)
    assert [p.requires_grad for p in ours.parameters()] == [
        p.requires_grad for p in theirs.parameters()
    ]
    assert [p.numel() for p in ours.parameters()] == [p.numel() for p in theirs.parameters()]
