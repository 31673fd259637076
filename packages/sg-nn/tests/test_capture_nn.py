"""sg-nn's functions under a captured step (``sg_tensor.capture``).

A capture records tensor operations; numpy run directly on a tensor's ``.data`` would be
fixed at capture. So every function whose result depends on its input's values (the mask
of a kink, a clamped value, a check that raises) is called here through a captured step
on inputs drawn afresh at each call, with values on both sides of every kink and on the
kinks themselves: each replay must return the value and the gradients that an eager call
on the same inputs returns, bit for bit, and raise what the eager call raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import sg_nn as nn
import sg_tensor as st
from sg_nn import functional as F
from sg_nn import utils
from sg_tensor import Tensor
from sg_tensor.capturing import CaptureError

SHAPE = (4, 6)
Draw = Callable[[np.random.Generator, bool], tuple[np.ndarray, ...]]


def sample(
    rng: np.random.Generator,
    kinky: bool,
    kinks: list[float],
    low: float = -8.0,
    high: float = 8.0,
    shape: tuple[int, ...] = SHAPE,
) -> np.ndarray:
    """Uniform values in ``[low, high)``; if ``kinky``, about half of them replaced by
    values drawn from ``kinks`` (a plain draw hits no kink)."""
    x = rng.uniform(low, high, shape)
    if kinky:
        on_kink = rng.random(shape) < 0.5
        x[on_kink] = rng.choice(np.asarray(kinks), shape)[on_kink]
    return x


def dyadic(rng: np.random.Generator, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    """Multiples of 1/4 in [-4, 4): a target ``y`` such that ``(y + d) - y == d`` exactly
    for the kinks ``d`` of the losses (multiples of 1/4 too)."""
    return rng.integers(-16, 16, shape) / 4


def activation(fn: Callable[..., Tensor], kinks: list[float]) -> tuple[Any, Draw, tuple[bool]]:
    return fn, lambda rng, kinky: (sample(rng, kinky, kinks),), (True,)


def _difference(
    rng: np.random.Generator, kinky: bool, kinks: list[float]
) -> tuple[np.ndarray, ...]:
    """``(input, target)`` whose difference is exactly one of ``kinks`` where kinky."""
    target = dyadic(rng)
    return target + sample(rng, kinky, kinks, -3.0, 3.0), target


def _ranking(rng: np.random.Generator, kinky: bool) -> tuple[np.ndarray, ...]:
    """``(x1, x2, y)`` with ``-y (x1 - x2) + 0.5`` exactly 0 where kinky."""
    x2, y = dyadic(rng), rng.choice([-1.0, 1.0], SHAPE)
    x1 = x2 + sample(rng, False, [], -2.0, 2.0)
    if kinky:
        on_kink = rng.random(SHAPE) < 0.5
        x1[on_kink] = (x2 + 0.5 * y)[on_kink]
    return x1, x2, y


def _probabilities(rng: np.random.Generator, kinky: bool) -> tuple[np.ndarray, ...]:
    x = sample(rng, kinky, [0.0, 1.0, 1e-13, 1 - 1e-13, 0.5], 0.01, 0.99)
    return x, rng.uniform(0.0, 1.0, SHAPE)


def _logits_and_class_weights(rng: np.random.Generator, kinky: bool) -> tuple[np.ndarray, ...]:
    """Logits of 4 samples and 6 classes, and weights drawn afresh (as a step computing
    them from its batch would)."""
    return rng.standard_normal(SHAPE), rng.uniform(0.1, 2.0, SHAPE[1])


def _logits_targets_and_pos_weights(
    rng: np.random.Generator, kinky: bool
) -> tuple[np.ndarray, ...]:
    return (
        rng.standard_normal(SHAPE),
        rng.uniform(0.0, 1.0, SHAPE),
        rng.uniform(0.1, 3.0, SHAPE[1]),
    )


def _gaussian(rng: np.random.Generator, kinky: bool) -> tuple[np.ndarray, ...]:
    var = sample(rng, kinky, [0.0, 1e-7, 1e-6, 5e-7], 0.5, 2.0)
    return rng.standard_normal(SHAPE), rng.standard_normal(SHAPE), var


def _rows_with_zero_norms(rng: np.random.Generator, kinky: bool) -> tuple[np.ndarray, ...]:
    x = rng.standard_normal(SHAPE)
    if kinky:
        x[rng.random(SHAPE[0]) < 0.5] = 0.0
        x[rng.integers(SHAPE[0])] = 1e-14
    return (x,)


def _log_probabilities_and_targets(
    rng: np.random.Generator, kinky: bool
) -> tuple[np.ndarray, ...]:
    return np.log(rng.uniform(0.1, 1.0, SHAPE)), sample(rng, kinky, [0.0], 0.1, 1.0)


def _counts(rng: np.random.Generator, kinky: bool) -> tuple[np.ndarray, ...]:
    return rng.standard_normal(SHAPE), sample(rng, kinky, [0.0, 0.5, 1.0, 2.0], 1.5, 5.0)


def _prelu(rng: np.random.Generator, kinky: bool) -> tuple[np.ndarray, ...]:
    return sample(rng, kinky, [0.0, -0.0]), rng.uniform(0.1, 0.5, SHAPE[1])


def _one_hot_indices(rng: np.random.Generator, kinky: bool) -> tuple[np.ndarray, ...]:
    return (rng.integers(0, 5, SHAPE),)


def _embedding_lookup(rng: np.random.Generator, kinky: bool) -> tuple[np.ndarray, ...]:
    """Indices into a (5, 3) table, the padding index 0 among them only where kinky."""
    return rng.integers(0 if kinky else 1, 5, SHAPE), rng.standard_normal((5, 3))


# name: (the function of the step's arguments, their draw, which need a gradient)
CASES: dict[str, tuple[Callable[..., Tensor], Draw, tuple[bool, ...]]] = {
    "elu": activation(F.elu, [0.0, -0.0, 1.0]),
    "selu": activation(F.selu, [0.0, -0.0, -1.0]),
    "celu": activation(lambda x: F.celu(x, alpha=0.5), [0.0, -0.0, 0.5]),
    "hardtanh": activation(F.hardtanh, [-1.0, 1.0, 0.0]),
    "hardtanh(-0.5, 2)": activation(lambda x: F.hardtanh(x, -0.5, 2.0), [-0.5, 2.0]),
    "relu6": activation(F.relu6, [0.0, -0.0, 6.0]),
    "hardsigmoid": activation(F.hardsigmoid, [-3.0, 3.0, 0.0]),
    "hardswish": activation(F.hardswish, [-3.0, 3.0, 0.0]),
    "hardshrink": activation(F.hardshrink, [-0.5, 0.5, 0.0]),
    "softshrink": activation(F.softshrink, [-0.5, 0.5, 0.0, -0.0]),
    "threshold": activation(lambda x: F.threshold(x, 0.25, -7.0), [0.25]),
    "prelu": (F.prelu, _prelu, (True, True)),
    "smooth_l1_loss": (
        lambda x, y: F.smooth_l1_loss(x, y, reduction="none"),
        lambda rng, kinky: _difference(rng, kinky, [-1.0, 1.0, 0.0]),
        (True, False),
    ),
    "smooth_l1_loss(beta=0.5, sum)": (
        lambda x, y: F.smooth_l1_loss(x, y, reduction="sum", beta=0.5),
        lambda rng, kinky: _difference(rng, kinky, [-0.5, 0.5]),
        (True, True),
    ),
    "huber_loss": (
        lambda x, y: F.huber_loss(x, y, reduction="none", delta=1.5),
        lambda rng, kinky: _difference(rng, kinky, [-1.5, 1.5, 0.0]),
        (True, False),
    ),
    "margin_ranking_loss": (
        lambda x1, x2, y: F.margin_ranking_loss(x1, x2, y, margin=0.5, reduction="none"),
        _ranking,
        (True, True, False),
    ),
    "binary_cross_entropy": (
        lambda x, y: F.binary_cross_entropy(x, y, reduction="none"),
        _probabilities,
        (True, False),
    ),
    "binary_cross_entropy(target grad)": (F.binary_cross_entropy, _probabilities, (True, True)),
    "binary_cross_entropy(weight from the batch)": (
        lambda x, y: F.binary_cross_entropy(x, y, y > 0.5),
        _probabilities,
        (True, False),
    ),
    "huber_loss(weight, mean)": (
        lambda x, y: F.huber_loss(x, y, delta=1.5, weight=y > 0),
        lambda rng, kinky: _difference(rng, kinky, [-1.5, 1.5, 0.0]),
        (True, False),
    ),
    "cross_entropy(class weights, label_smoothing)": (
        lambda x, w: F.cross_entropy(x, np.array([0, 5, 2, 3]), w, label_smoothing=0.1),
        _logits_and_class_weights,
        (True, False),
    ),
    "binary_cross_entropy_with_logits(pos_weight)": (
        lambda x, y, p: F.binary_cross_entropy_with_logits(x, y, pos_weight=p),
        _logits_targets_and_pos_weights,
        (True, True, False),
    ),
    "kl_div": (
        lambda x, t: F.kl_div(x, t, reduction="sum"),
        _log_probabilities_and_targets,
        (True, True),
    ),
    "poisson_nll_loss(full)": (
        lambda x, t: F.poisson_nll_loss(x, t, full=True, reduction="none"),
        _counts,
        (True, True),
    ),
    "gaussian_nll_loss": (
        lambda x, t, var: F.gaussian_nll_loss(x, t, var, reduction="none"),
        _gaussian,
        (True, False, True),
    ),
    "normalize": (F.normalize, _rows_with_zero_norms, (True,)),
    "one_hot": (lambda idx: F.one_hot(idx, 5), _one_hot_indices, (False,)),
    "embedding": (
        lambda idx, w: F.embedding(idx, w, padding_idx=0),
        _embedding_lookup,
        (False, True),
    ),
}


def arguments(draw: tuple[np.ndarray, ...], grads: tuple[bool, ...], dtype: Any) -> list[Any]:
    """Fresh arguments: floating arrays as tensors of ``dtype`` (leaves where a gradient
    is wanted), index arrays as they are."""
    return [
        Tensor(a.astype(dtype), requires_grad=g) if a.dtype.kind == "f" else a.copy()
        for a, g in zip(draw, grads)
    ]


def stepping(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """A step: ``fn`` of the arguments, and the backward of its sum if it needs one."""

    def step(*args: Any) -> Tensor:
        out = fn(*args)
        if out.requires_grad:
            out.sum().backward()
        return out

    return step


def assert_identical(replayed: np.ndarray, eager: np.ndarray, what: str) -> None:
    """Equal values, NaNs in the same places, and zeros of the same sign."""
    assert (replayed.dtype, replayed.shape) == (eager.dtype, eager.shape), what
    assert np.array_equal(replayed, eager, equal_nan=True), what
    assert np.array_equal(np.signbit(replayed), np.signbit(eager)), f"{what}: signs of zeros"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("kinky_first", [False, True], ids=["plain first", "kinks first"])
@pytest.mark.parametrize("name", list(CASES))
def test_every_replay_computes_what_an_eager_call_computes(
    name: str, kinky_first: bool, dtype: Any
) -> None:
    fn, draw, grads = CASES[name]
    step = stepping(fn)
    captured = st.capture(step, recapture=False)
    rng = np.random.default_rng(sum(map(ord, name)))
    calls = 6
    for call in range(calls):
        inputs = draw(rng, kinky_first == (call % 2 == 0))
        replay_args, eager_args = arguments(inputs, grads, dtype), arguments(inputs, grads, dtype)
        replayed, eager = captured(*replay_args), step(*eager_args)
        assert_identical(replayed.data, eager.data, f"call {call}: the value")
        for i, (r, e) in enumerate(zip(replay_args, eager_args)):
            if isinstance(e, Tensor) and e.requires_grad:
                assert e.grad is not None, f"call {call}: no gradient for argument {i}"
                assert_identical(r.grad, e.grad, f"call {call}: the gradient of argument {i}")
    assert (captured.captures, captured.replays) == (1, calls - 1)


# ---------------------------------------------------------------------------------------
# Checks on the values raise at every replay, as an eager call raises
# ---------------------------------------------------------------------------------------
def _eager_error(fn: Callable[..., Any], *args: Any) -> tuple[type[BaseException], str]:
    try:
        fn(*args)
    except Exception as error:  # the error itself is what is compared
        return type(error), str(error)
    raise AssertionError("the eager call raised nothing")


RAISING: dict[
    str, tuple[Callable[..., Any], tuple[np.ndarray, ...], list[tuple[np.ndarray, ...]]]
] = {
    # name: (the step, valid arguments, arguments it must refuse)
    "one_hot": (
        lambda idx: F.one_hot(idx, 5),
        (np.array([0, 4, 2]),),
        [(np.array([0, 5, 2]),), (np.array([0, -1, 2]),)],
    ),
    "one_hot(num_classes=-1)": (
        lambda idx: F.one_hot(idx),
        (np.array([0, 4, 2]),),
        [(np.array([0, -1, 2]),)],
    ),
    "embedding": (
        lambda idx, w: F.embedding(idx, w),
        (np.array([0, 4, 2]), np.ones((5, 3))),
        [(np.array([0, -1, 2]), np.ones((5, 3))), (np.array([5, 1, 2]), np.ones((5, 3)))],
    ),
    "Embedding(padding_idx=1)": (
        nn.Embedding(5, 3, padding_idx=1),
        (np.array([0, 4, 1]),),
        [(np.array([0, -1, 1]),), (np.array([7, 1, 2]),)],
    ),
    "binary_cross_entropy": (
        lambda x, y: F.binary_cross_entropy(x, y),
        (Tensor([0.5, 0.25]), Tensor([1.0, 0.0])),
        [(Tensor([1.5, 0.25]), Tensor([1.0, 0.0])), (Tensor([0.5, -0.0625]), Tensor([1.0, 0.0]))],
    ),
    "hinge_loss": (
        lambda x, y: F.hinge_loss(x, y),
        (Tensor([0.5, 2.0]), Tensor([1.0, -1.0])),
        [(Tensor([0.5, 2.0]), Tensor([1.0, 0.0]))],
    ),
    "gaussian_nll_loss": (
        lambda x, y, var: F.gaussian_nll_loss(x, y, var),
        (Tensor([0.5, 2.0]), Tensor([1.0, 0.0]), Tensor([1.0, 0.0])),
        [(Tensor([0.5, 2.0]), Tensor([1.0, 0.0]), Tensor([1.0, -0.5]))],
    ),
}


@pytest.mark.parametrize("name", list(RAISING))
def test_a_replay_raises_what_an_eager_call_raises(name: str) -> None:
    fn, valid, refused = RAISING[name]
    captured = st.capture(fn, recapture=False)
    captured(*valid)
    for args in refused:
        kind, message = _eager_error(fn, *args)
        with pytest.raises(kind, match=f"^{re.escape(message)}$"):
            captured(*args)
        captured(*valid)  # and the tape is still good
    assert captured.captures == 1


def test_one_hot_inferring_its_width_replays_only_that_width() -> None:
    captured = st.capture(lambda idx: F.one_hot(idx), recapture=False)
    captured(np.array([0, 4, 2]))
    replayed = captured(np.array([4, 1, 3]))
    assert np.array_equal(replayed.data, F.one_hot(np.array([4, 1, 3])).data)
    with pytest.raises(CaptureError, match=r"one_hot: num_classes=-1 made 5 classes at capture"):
        captured(np.array([0, 1, 2]))


def test_dropout_with_its_own_generator_is_refused_by_a_capture() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(CaptureError, match="drawing random numbers"):
        st.capture(lambda x: F.dropout(x, 0.5, rng=rng))(st.ones(8))
    layer = nn.Dropout(0.5, rng=rng)
    with pytest.raises(CaptureError, match="drawing random numbers"):
        st.capture(layer)(st.ones(8))
    assert np.array_equal(st.capture(layer.eval())(st.ones(8)).data, np.ones(8))


def test_vector_to_parameters_writes_each_replays_vector() -> None:
    w = nn.Parameter(np.zeros(3))
    step = st.capture(lambda v: utils.vector_to_parameters(v * 2.0, [w]), recapture=False)
    for v in ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [-1.0, 0.5, 0.0]):
        step(Tensor(v))
        assert np.array_equal(w.data, 2 * np.array(v))
    assert step.replays == 2


def test_a_loaded_state_dict_is_what_the_next_replay_reads() -> None:
    # buffers are loaded in place (as PyTorch's copy_): a captured evaluation step and a
    # captured loss with class weights read the loaded values
    bn = nn.BatchNorm1d(3)
    bn.eval()
    loss = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0, 3.0]))
    step = st.capture(lambda x, y: loss(bn(x), y))
    rng = np.random.default_rng(8)
    x, y = Tensor(rng.standard_normal((5, 3))), np.array([0, 1, 2, 1, 0])
    step(x, y)
    trained = nn.BatchNorm1d(3)
    trained(Tensor(rng.standard_normal((16, 3)) * 3.0 + 1.0))  # statistics that moved
    bn.load_state_dict(trained.state_dict())
    loss.load_state_dict({"weight": np.array([3.0, 1.0, 0.5])})
    assert step(x, y).item() == loss(bn(x), y).item()
    assert step.replays == 1
