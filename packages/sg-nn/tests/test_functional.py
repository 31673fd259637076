"""``sg_nn.functional``: activations, the softmax family and the other ops against numpy
formulas, their slopes at the kinks (PyTorch's choices, derived by hand), central
differences elsewhere, and their errors. (PyTorch itself is the oracle of
``tests-integration/oracle/test_nn_torch.py``.)"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from nn_helpers import check_grads, leaf, sigmoid

import sg_nn as nn
import sg_nn.functional as F
from sg_tensor import Tensor

R = np.random.default_rng(7)
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
# Random points away from every kink (|x| never within 0.05 of 0, 0.5, 1, 3 or 6).
SMOOTH = np.array([-7.3, -4.2, -2.6, -1.7, -0.8, -0.3, 0.2, 0.7, 1.4, 2.2, 3.6, 6.9])


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


# name, sg function, numpy reference
REFERENCES: list[tuple[str, Callable[[Any], Tensor], Callable[[np.ndarray], np.ndarray]]] = [
    ("relu", F.relu, lambda x: np.maximum(x, 0)),
    ("relu6", F.relu6, lambda x: np.clip(x, 0, 6)),
    ("leaky_relu", F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    ("elu", F.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    ("selu", F.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))),
    ("celu", lambda x: F.celu(x, 2.0), lambda x: np.where(x > 0, x, 2 * np.expm1(x / 2))),
    ("silu", F.silu, lambda x: x * sigmoid(x)),
    ("mish", F.mish, lambda x: x * np.tanh(softplus(x))),
    ("gelu", F.gelu, lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
    ("sigmoid", F.sigmoid, sigmoid),
    ("tanh", F.tanh, np.tanh),
    ("softplus", F.softplus, softplus),
    ("softplus-b2", lambda x: F.softplus(x, beta=2.0), lambda x: softplus(2 * x) / 2),
    ("hardtanh", F.hardtanh, lambda x: np.clip(x, -1, 1)),
    ("hardsigmoid", F.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    ("hardswish", F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    ("hardshrink", F.hardshrink, lambda x: np.where(np.abs(x) > 0.5, x, 0.0)),
    ("softshrink", F.softshrink, lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.5, 0)),
    ("softsign", F.softsign, lambda x: x / (1 + np.abs(x))),
    ("logsigmoid", F.logsigmoid, lambda x: np.log(sigmoid(x))),
    ("tanhshrink", F.tanhshrink, lambda x: x - np.tanh(x)),
    ("threshold", lambda x: F.threshold(x, 0.5, -2.0), lambda x: np.where(x > 0.5, x, -2.0)),
]
IDS = [r[0] for r in REFERENCES]
KINKS = np.array([-6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0])


@pytest.mark.parametrize(("name", "fn", "reference"), REFERENCES, ids=IDS)
def test_activation_values_match_numpy(name: str, fn: Any, reference: Any) -> None:
    x = np.concatenate([SMOOTH, KINKS, R.standard_normal(20) * 3])
    out = fn(x)
    assert isinstance(out, Tensor)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.data, reference(x), rtol=1e-13, atol=1e-15)
    assert fn(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize(("name", "fn", "reference"), REFERENCES, ids=IDS)
def test_activation_gradients_match_central_differences_away_from_kinks(
    name: str, fn: Any, reference: Any
) -> None:
    x = leaf(SMOOTH.reshape(3, 4))
    check_grads(lambda: fn(x), [x])


def slopes(fn: Callable[[Any], Tensor], points: list[float]) -> list[float]:
    x = leaf(np.array(points))
    fn(x).sum().backward()
    return list(x.grad)


@pytest.mark.parametrize(
    ("fn", "points", "expected"),
    [
        (F.relu, [0.0], [0.0]),
        (lambda x: F.leaky_relu(x, 0.2), [0.0], [0.2]),
        (lambda x: F.elu(x, alpha=0.5), [0.0], [0.5]),  # the x <= 0 branch: alpha e**0
        (F.selu, [0.0], [SELU_ALPHA * SELU_SCALE]),
        (lambda x: F.celu(x, alpha=3.0), [0.0], [1.0]),
        (F.silu, [0.0], [0.5]),
        (F.hardtanh, [-1.0, 1.0, 0.0], [0.0, 0.0, 1.0]),
        (F.relu6, [0.0, 6.0, 3.0], [0.0, 0.0, 1.0]),
        (F.hardsigmoid, [-3.0, 3.0, 0.0], [0.0, 0.0, 1 / 6]),
        (F.hardswish, [-3.0, 3.0, 0.0, 1.5], [0.0, 1.0, 0.5, 1.0]),  # (2x + 3) / 6 inside
        (F.hardshrink, [-0.5, 0.5, 0.7], [0.0, 0.0, 1.0]),
        (F.softshrink, [-0.5, 0.5, -0.7], [0.0, 0.0, 1.0]),
        (lambda x: F.threshold(x, 0.5, 9.0), [0.5, 0.6], [0.0, 1.0]),
        (F.logsigmoid, [0.0], [0.5]),
        (F.softsign, [0.0], [1.0]),
        (F.mish, [0.0], [math.tanh(math.log(2))]),
    ],
)
def test_slopes_at_the_kinks_are_pytorchs(
    fn: Any, points: list[float], expected: list[float]
) -> None:
    np.testing.assert_allclose(slopes(fn, points), expected, rtol=1e-15, atol=0)


def test_exponential_units_do_not_overflow_for_large_inputs() -> None:
    x = leaf(np.array([800.0, -800.0, 1000.0]))
    for fn in (F.elu, F.selu, F.celu, F.mish, F.logsigmoid, F.softsign):
        x.grad = None
        out = fn(x)
        assert np.all(np.isfinite(out.data)), fn
        out.sum().backward()
        assert np.all(np.isfinite(x.grad)), fn
    np.testing.assert_array_equal(F.logsigmoid(np.array([-800.0, 800.0])).data, [-800.0, 0.0])


def test_activation_argument_errors() -> None:
    with pytest.raises(ValueError, match=re.escape("hardtanh: min_val (2.0) must not exceed")):
        F.hardtanh(np.zeros(2), 2.0, 1.0)
    with pytest.raises(ValueError, match="softshrink: lambd must not be negative, got -1"):
        F.softshrink(np.zeros(2), -1.0)
    with pytest.raises(ValueError, match="celu: alpha must not be 0"):
        F.celu(np.zeros(2), 0.0)
    with pytest.raises(ValueError, match=re.escape("glu: dimension -1 must have an even size")):
        F.glu(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=re.escape("glu: dim 2 is out of range for an input")):
        F.glu(np.zeros((2, 4)), dim=2)


def test_glu_gates_the_first_half_with_the_second() -> None:
    x = R.standard_normal((3, 4, 2))
    np.testing.assert_allclose(F.glu(x, 1).data, x[:, :2] * sigmoid(x[:, 2:]), rtol=1e-15)
    np.testing.assert_allclose(F.glu(x).data, x[..., :1] * sigmoid(x[..., 1:]), rtol=1e-15)
    t = leaf(x)
    check_grads(lambda: F.glu(t, dim=1), [t])


# ---------------------------------------------------------------------------------------
# softmax family
# ---------------------------------------------------------------------------------------
def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family_matches_numpy(dim: int) -> None:
    x = R.standard_normal((3, 4, 5)) * 3
    np.testing.assert_allclose(F.softmax(x, dim).data, np_softmax(x, dim), rtol=1e-14)
    np.testing.assert_allclose(
        F.log_softmax(x, dim=dim).data, np.log(np_softmax(x, dim)), rtol=1e-13
    )
    np.testing.assert_allclose(F.softmin(x, dim).data, np_softmax(-x, dim), rtol=1e-14)
    t = leaf(x[:2, :3, :2])
    check_grads(lambda: F.softmin(t, dim), [t])


@pytest.mark.parametrize(("ndim", "axis"), [(0, 0), (1, 0), (2, 1), (3, 0), (4, 1)])
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax, F.softmin])
def test_softmax_without_dim_warns_and_takes_pytorchs_legacy_axis(
    ndim: int, axis: int, fn: Any
) -> None:
    x = R.standard_normal((2, 3, 2, 2)[:ndim])
    with pytest.warns(UserWarning, match="Implicit dimension choice for .* has been deprecated"):
        out = fn(x)
    np.testing.assert_array_equal(out.data, fn(x, axis).data)


def test_softmax_dtype_converts_the_input_first() -> None:
    x = R.standard_normal((2, 3))
    out = F.softmax(x, dim=1, dtype=np.float32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, np_softmax(x, 1), rtol=1e-6)
    assert F.log_softmax(x, 1, dtype=np.float64).dtype == np.float64


# ---------------------------------------------------------------------------------------
# linear, dropout, embedding, layer_norm
# ---------------------------------------------------------------------------------------
def test_linear() -> None:
    x, w, b = R.standard_normal((5, 3)), R.standard_normal((4, 3)), R.standard_normal(4)
    np.testing.assert_allclose(F.linear(x, w, b).data, x @ w.T + b, rtol=1e-14)
    np.testing.assert_allclose(F.linear(x, w).data, x @ w.T, rtol=1e-14)
    xt, wt, bt = leaf(x), leaf(w), leaf(b)
    check_grads(lambda: F.linear(xt, wt, bt), [xt, wt, bt])


def test_dropout_defaults_to_training_as_pytorch() -> None:
    x = np.ones((50, 40))
    out = F.dropout(x).data  # p=0.5, training=True
    assert set(np.unique(out)) == {0.0, 2.0}
    assert 0.4 < (out == 0).mean() < 0.6


def test_dropout_off_at_p_zero_or_outside_training_and_zero_at_p_one() -> None:
    x = leaf(R.standard_normal((3, 4)))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    out = F.dropout(x, 1.0)
    np.testing.assert_array_equal(out.data, 0.0)
    out.backward(np.ones((3, 4)))
    np.testing.assert_array_equal(x.grad, 0.0)


def test_dropout_uses_the_module_mechanism() -> None:
    x = np.ones((6, 7))
    module = nn.Dropout(0.3, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(
        F.dropout(x, 0.3, rng=np.random.default_rng(5)).data, module(x).data
    )
    nn.manual_seed(11)
    first = F.dropout(x, 0.3).data
    nn.manual_seed(11)
    np.testing.assert_array_equal(nn.Dropout(0.3)(x).data, first)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_dropout_keeps_a_boolean_mask_and_gives_the_scaled_gradient(dtype: str) -> None:
    x = Tensor(R.standard_normal((20, 30)).astype(dtype), requires_grad=True)
    out = F.dropout(x, 0.3, rng=np.random.default_rng(4))
    keep = np.random.default_rng(4).random((20, 30)) >= 0.3
    # PyTorch's noise: 1 / (1 - p) in float32 for float32 and float16, then in x's dtype
    opmath = np.float64 if dtype == "float64" else np.float32
    scale = np.where(keep, opmath(1) / opmath(1 - 0.3), 0).astype(dtype)
    np.testing.assert_array_equal(out.data, x.data * scale)
    assert out.dtype == dtype
    # the graph holds the mask as booleans (one byte an element), not x's dtype
    (mask,) = [v for v in out._ctx.values() if isinstance(v, np.ndarray)]
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, keep)
    g = R.standard_normal((20, 30)).astype(dtype)
    out.backward(g)
    np.testing.assert_array_equal(x.grad, g * scale)


def test_dropout2d_mask_is_one_boolean_per_channel() -> None:
    x = leaf(R.standard_normal((2, 3, 4, 4)))
    out = F.dropout2d(x, 0.5, rng=np.random.default_rng(1))
    (mask,) = [v for v in out._ctx.values() if isinstance(v, np.ndarray)]
    assert mask.shape == (2, 3, 1, 1)
    assert mask.dtype == bool
    out.backward(np.ones((2, 3, 4, 4)))
    np.testing.assert_array_equal(x.grad, np.broadcast_to(mask * 2.0, (2, 3, 4, 4)))


def test_dropout_of_an_integer_tensor_raises_as_pytorch_unless_nothing_is_scaled() -> None:
    ints = Tensor(np.arange(6).reshape(2, 3))
    with pytest.raises(TypeError, match="dropout: expected a floating-point input, got int64"):
        F.dropout(ints, 0.5)
    with pytest.raises(TypeError, match="dropout2d: expected a floating-point input"):
        F.dropout2d(Tensor(np.ones((2, 3, 4, 4), dtype=np.int32)), 0.5)
    assert F.dropout(ints, 0.5, training=False) is ints
    assert F.dropout(ints, 0.0) is ints
    for dtype in (np.int64, np.int32, np.uint8, np.bool_, np.float16):
        zeros = F.dropout(Tensor(np.ones((2, 3), dtype=dtype)), 1.0)
        assert zeros.dtype == dtype
        np.testing.assert_array_equal(zeros.data, 0)
    with pytest.raises(RuntimeError, match="dropout: expected a floating-point input"):
        F.dropout(ints, 0.5)  # PyTorch's exception class too


def test_float16_dropout_with_p_near_one_gives_inf_where_kept_and_zero_elsewhere() -> None:
    # 1 / (1 - p) overflows float16: PyTorch's noise is inf where kept, 0 elsewhere
    x = Tensor(np.ones(2000, dtype=np.float16), requires_grad=True)
    out = F.dropout(x, 0.99999, rng=np.random.default_rng(3))
    assert not np.isnan(out.data).any()
    assert set(np.unique(out.data)) <= {0.0, np.inf}
    out.backward(np.ones(2000, dtype=np.float16))
    np.testing.assert_array_equal(x.grad, out.data)


@pytest.mark.parametrize("p", [-0.1, 1.5, math.nan])
def test_dropout_validates_p(p: float) -> None:
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\]"):
        F.dropout(np.ones(3), p)


def test_embedding_function_and_its_padding_row() -> None:
    w = leaf(R.standard_normal((5, 3)))
    idx = np.array([[4, 0, 4], [1, 0, 2]])
    out = F.embedding(idx, w, padding_idx=0)
    np.testing.assert_array_equal(out.data, w.data[idx])  # the padding row's values
    c = R.standard_normal(out.shape)
    out.backward(c)
    expected = np.zeros((5, 3))
    np.add.at(expected, idx, c)
    expected[0] = 0.0
    np.testing.assert_array_equal(w.grad, expected)
    w.grad = None
    F.embedding(idx, w, padding_idx=-1).sum().backward()  # -1 is row 4
    np.testing.assert_array_equal(w.grad[4], 0.0)
    np.testing.assert_array_equal(w.grad[0], 2.0)


def test_embedding_errors() -> None:
    w = np.zeros((5, 3))
    with pytest.raises(IndexError, match=re.escape("embedding: indices must be in [0, 5)")):
        F.embedding(np.array([5]), w)
    with pytest.raises(ValueError, match=re.escape("padding_idx must be in [-5, 5), got 5")):
        F.embedding(np.array([1]), w, padding_idx=5)
    with pytest.raises(ValueError, match="weight must be a 2-D table"):
        F.embedding(np.array([1]), np.zeros(5))


def test_layer_norm_function() -> None:
    x = R.standard_normal((2, 3, 4)) * 2 + 1
    w, b = R.uniform(0.5, 1.5, (3, 4)), R.standard_normal((3, 4))
    mean = x.mean(axis=(1, 2), keepdims=True)
    normed = (x - mean) / np.sqrt(x.var(axis=(1, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(F.layer_norm(x, (3, 4)).data, normed, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        F.layer_norm(x, [3, 4], w, b).data, normed * w + b, rtol=1e-12, atol=1e-14
    )
    np.testing.assert_allclose(F.layer_norm(x, (3, 4), w).data, normed * w, rtol=1e-12)
    xt, wt, bt = leaf(x), leaf(w), leaf(b)
    check_grads(lambda: F.layer_norm(xt, (3, 4), wt, bt, eps=1e-3), [xt, wt, bt])
    with pytest.raises(ValueError, match=re.escape("ending in shape (5,), got (2, 3, 4)")):
        F.layer_norm(x, 5)


@pytest.mark.parametrize("shape", [(2, 1, 1, 4), (4,), (1, 3, 4)])
def test_layer_norm_refuses_an_affine_of_another_shape(shape: tuple[int, ...]) -> None:
    """As PyTorch: weight and bias have the normalized shape (broadcasting one would
    silently change the output's shape or share a scale across positions)."""
    x, other = R.standard_normal((2, 3, 4)), np.ones(shape)
    for args in ((other,), (None, other)):
        expected = re.escape(f"normalized shape (3, 4), got shape {shape}")
        with pytest.raises(ValueError, match=expected):
            F.layer_norm(x, (3, 4), *args)


def test_layer_norm_takes_numpy_integers() -> None:
    x = R.standard_normal((2, 5))
    np.testing.assert_array_equal(F.layer_norm(x, np.int64(5)).data, F.layer_norm(x, 5).data)
    assert nn.LayerNorm(np.int64(5)).normalized_shape == (5,)
    assert nn.LayerNorm((np.int32(2), 5)).normalized_shape == (2, 5)
    with pytest.raises(TypeError, match="LayerNorm: normalized_shape must be an int or a seq"):
        nn.LayerNorm(2.5)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# normalize, one_hot, pad
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
def test_normalize_matches_numpy_and_central_differences(p: float) -> None:
    x = R.standard_normal((4, 5))
    norm = np.linalg.norm(x, ord=p, axis=1, keepdims=True)
    np.testing.assert_allclose(F.normalize(x, p=p).data, x / norm, rtol=1e-14)
    np.testing.assert_allclose(
        F.normalize(x, p, dim=0).data, x / np.linalg.norm(x, ord=p, axis=0), rtol=1e-14
    )
    t = leaf(x)
    check_grads(lambda: F.normalize(t, p), [t])


def test_normalize_divides_a_tiny_row_by_eps_with_no_gradient_through_the_norm() -> None:
    x = leaf(np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]]))
    out = F.normalize(x, eps=1e-12)
    np.testing.assert_array_equal(out.data, [[0.0, 0.0, 0.0], [0.6, 0.8, 0.0]])
    c = np.array([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0]])
    out.backward(c)
    np.testing.assert_array_equal(x.grad[0], c[0] / 1e-12)  # d(x / eps) = c / eps
    y = leaf(np.array([[0.3, 0.4]]))
    F.normalize(y, eps=1.0).backward(np.array([[1.0, 1.0]]))  # norm 0.5 < eps = 1
    np.testing.assert_array_equal(y.grad, [[1.0, 1.0]])
    with pytest.raises(ValueError, match="normalize: p must be positive"):
        F.normalize(x, p=0)


def test_one_hot() -> None:
    idx = np.array([[0, 2], [1, 2]])
    expected = np.eye(3, dtype=np.int64)[idx]
    got = F.one_hot(idx)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.data, expected)
    np.testing.assert_array_equal(F.one_hot(Tensor(idx), num_classes=5).data[..., :3], expected)
    assert F.one_hot(np.array([1]), 5).shape == (1, 5)
    with pytest.raises(ValueError, match="class index 3 is out of range for num_classes=3"):
        F.one_hot(np.array([3]), 3)
    with pytest.raises(ValueError, match="must not be negative"):
        F.one_hot(np.array([-1]))
    with pytest.raises(TypeError, match="expected integer class indices, got dtype float64"):
        F.one_hot(np.array([1.0]))


def test_pad_takes_pytorchs_flat_widths_last_dimension_first() -> None:
    x = R.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(F.pad(x, (1, 2)).data, np.pad(x, ((0, 0), (0, 0), (1, 2))))
    np.testing.assert_array_equal(
        F.pad(x, (0, 1, 2, 0), value=7.0).data,
        np.pad(x, ((0, 0), (2, 0), (0, 1)), constant_values=7.0),
    )
    t = leaf(x)
    F.pad(t, (1, 1, 1, 1, 1, 1), value=3.0).sum().backward()
    np.testing.assert_array_equal(t.grad, np.ones(x.shape))
    for bad, message in (
        ((1,), "expected an even number of widths"),
        ((1, 1) * 4, "at most 2 per dimension"),
        ((-3, -2), r"crop more than \(2, 3, 4\) holds"),
    ):
        with pytest.raises(ValueError, match=message):
            F.pad(x, bad)
    with pytest.raises(ValueError, match="mode must be one of"):
        F.pad(x, (1, 1), mode="mirror")
    for not_ints in ((1.7, 2), (True, 1)):  # never truncated to an int, as in PyTorch
        with pytest.raises(TypeError, match="pad: the widths must be ints"):
            F.pad(x, not_ints)


def test_a_negative_constant_width_crops_as_in_pytorch() -> None:
    x = R.standard_normal((2, 3, 6))
    np.testing.assert_array_equal(
        F.pad(x, (-1, 2)).data, np.pad(x, ((0, 0), (0, 0), (0, 2)))[..., 1:]
    )
    np.testing.assert_array_equal(
        F.pad(x, (1, -3, -1, 0)).data, np.pad(x, ((0, 0), (0, 0), (1, 0)))[:, 1:, :4]
    )


@pytest.mark.parametrize(("mode", "numpys"), [("reflect", "reflect"), ("replicate", "edge"),
                                              ("circular", "wrap")])  # fmt: skip
def test_pad_modes_copy_the_elements_numpy_names_and_sum_their_gradients(
    mode: str, numpys: str
) -> None:
    x = R.standard_normal((2, 3, 4, 5))
    padded = F.pad(x, (2, 1, 0, 3), mode=mode)
    np.testing.assert_array_equal(padded.data, np.pad(x, ((0, 0), (0, 0), (0, 3), (2, 1)), numpys))
    t = leaf(x)
    weights = Tensor(R.standard_normal(padded.shape))
    check_grads(lambda: (F.pad(t, (2, 1, 0, 3), mode=mode) * weights).sum(), [t])
    limit = 3 if mode == "reflect" else 4  # reflect never repeats the edge: widths < size
    with pytest.raises(
        ValueError, match=f"{mode} padding of \\(0, {limit + 1}\\) along dimension 2"
    ):
        F.pad(x, (0, 0, 0, limit + 1), mode=mode)
    with pytest.raises(ValueError, match="doesn't take in value argument"):
        F.pad(x, (1, 1), mode=mode, value=2.0)


# ---------------------------------------------------------------------------------------
# the namespace
# ---------------------------------------------------------------------------------------
def test_functional_is_a_submodule_and_shares_the_losses() -> None:
    assert nn.functional is F
    for name in F.__all__:
        assert callable(getattr(F, name)), name
    for name in ("mse_loss", "l1_loss", "cross_entropy", "nll_loss", "binary_cross_entropy"):
        assert getattr(F, name) is getattr(nn, name)
    assert not hasattr(F, "Linear")  # functions only, as torch.nn.functional
