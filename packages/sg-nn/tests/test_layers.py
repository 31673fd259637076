"""Layers: Linear, Sequential, MLP, activations, Dropout, LayerNorm, Embedding."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
from nn_helpers import check_grads, leaf

import sg_nn as nn
from sg_nn import Parameter
from sg_tensor import Tensor


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------
# Linear
# ---------------------------------------------------------------------------------------
def test_linear_weight_layout_is_out_by_in() -> None:
    layer = nn.Linear(3, 4, rng=rng())
    assert layer.weight.shape == (4, 3)
    assert layer.bias is not None
    assert layer.bias.shape == (4,)
    assert (layer.in_features, layer.out_features) == (3, 4)
    assert layer.weight.dtype == np.float64


@pytest.mark.parametrize("batch", [(), (5,), (2, 5)])
def test_linear_forward_is_x_at_w_transpose_plus_b(batch: tuple[int, ...]) -> None:
    layer = nn.Linear(3, 4, rng=rng())
    x = rng(1).standard_normal(batch + (3,))
    out = layer(x)
    assert isinstance(out, Tensor)
    assert out.shape == batch + (4,)
    expected = x @ layer.weight.data.T + layer.bias.data
    np.testing.assert_allclose(out.data, expected, rtol=1e-14, atol=1e-15)


def test_linear_without_bias() -> None:
    layer = nn.Linear(3, 2, bias=False, rng=rng())
    assert layer.bias is None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    x = rng(1).standard_normal((4, 3))
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data.T, rtol=1e-14)


def test_linear_gradients_match_the_matrix_formulas() -> None:
    layer = nn.Linear(3, 4, rng=rng())
    x = leaf(rng(1).standard_normal((5, 3)))
    c = rng(2).standard_normal((5, 4))
    layer(x).backward(c)
    np.testing.assert_allclose(layer.weight.grad, c.T @ x.data, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, c.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(x.grad, c @ layer.weight.data, rtol=1e-12)


def test_linear_gradients_match_central_differences() -> None:
    layer = nn.Linear(3, 2, rng=rng())
    x = leaf(rng(1).standard_normal((4, 3)))
    check_grads(lambda: layer(x).tanh(), [x, layer.weight, layer.bias])


def test_linear_rejects_a_wrong_input_width() -> None:
    layer = nn.Linear(3, 4)
    with pytest.raises(ValueError, match=re.escape("last dimension 3, got shape (2, 5)")):
        layer(np.zeros((2, 5)))


@pytest.mark.parametrize(("n_in", "n_out"), [(0, 3), (3, 0), (-1, 2)])
def test_linear_rejects_non_positive_sizes(n_in: int, n_out: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        nn.Linear(n_in, n_out)


def test_linear_float32() -> None:
    layer = nn.Linear(3, 2, rng=rng(), dtype=np.float32)
    assert layer.weight.dtype == np.float32
    assert layer.bias is not None
    assert layer.bias.dtype == np.float32
    assert layer(np.ones((1, 3), dtype=np.float32)).dtype == np.float32


def test_linear_default_init_is_pytorchs() -> None:
    """kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in)), as does the bias."""
    fan_in = 400
    layer = nn.Linear(fan_in, 500, rng=rng(3))
    bound = 1 / math.sqrt(fan_in)
    w = layer.weight.data
    assert layer.bias is not None
    b = layer.bias.data
    assert np.all(np.abs(w) <= bound)
    assert np.all(np.abs(b) <= bound)
    assert np.abs(w).max() > 0.99 * bound  # the whole range is used
    assert np.abs(b).max() > 0.9 * bound
    assert abs(w.std() / (bound / math.sqrt(3)) - 1) < 0.02
    assert abs(w.mean()) < 0.01 * bound
    assert abs(b.mean()) < 0.15 * bound


def test_seeded_models_are_reproducible_bit_for_bit() -> None:
    a = nn.MLP([2, 16, 16, 1], rng=rng(7))
    b = nn.MLP([2, 16, 16, 1], rng=rng(7))
    c = nn.MLP([2, 16, 16, 1], rng=rng(8))
    for (name, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert p.data.tobytes() == q.data.tobytes(), name
        assert not np.array_equal(p.data, r.data), name


def test_manual_seed_makes_default_initialisation_reproducible() -> None:
    nn.manual_seed(123)
    a = nn.MLP([3, 5, 2])
    nn.manual_seed(123)
    b = nn.MLP([3, 5, 2])
    c = nn.MLP([3, 5, 2])  # the generator moved on
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters()):
        assert p.data.tobytes() == q.data.tobytes()
        assert not np.array_equal(p.data, r.data)


# ---------------------------------------------------------------------------------------
# Sequential and MLP
# ---------------------------------------------------------------------------------------
def test_sequential_indexing_len_iter_and_forward() -> None:
    first, act, last = nn.Linear(2, 3, rng=rng()), nn.Tanh(), nn.Linear(3, 1, rng=rng(1))
    seq = nn.Sequential(first, act, last)
    assert len(seq) == 3
    assert seq[0] is first
    assert seq[1] is act
    assert seq[-1] is last
    assert list(seq) == [first, act, last]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    x = rng(2).standard_normal((4, 2))
    expected = np.tanh(x @ first.weight.data.T + first.bias.data) @ last.weight.data.T
    np.testing.assert_allclose(seq(x).data, expected + last.bias.data, rtol=1e-13)
    with pytest.raises(IndexError):
        seq[3]


def test_empty_sequential_is_the_identity() -> None:
    seq = nn.Sequential()
    assert len(seq) == 0
    x = np.ones(3)
    assert seq(x) is x


def test_sequential_rejects_non_modules() -> None:
    with pytest.raises(TypeError, match="Sequential: item 1 is a str, not a Module"):
        nn.Sequential(nn.ReLU(), "tanh")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="item 0 is a type, not a Module"):
        nn.Sequential(nn.ReLU)  # type: ignore[arg-type]


def test_mlp_structure() -> None:
    model = nn.MLP([2, 16, 16, 1], rng=rng())
    assert isinstance(model, nn.Sequential)
    assert [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    assert [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)] == [
        (2, 16),
        (16, 16),
        (16, 1),
    ]
    assert model.sizes == [2, 16, 16, 1]
    assert model(np.zeros((5, 2))).shape == (5, 1)
    single = nn.MLP([3, 1])
    assert [type(m) for m in single] == [nn.Linear]


@pytest.mark.parametrize(
    ("activation", "cls"),
    [
        ("relu", nn.ReLU),
        ("tanh", nn.Tanh),
        ("sigmoid", nn.Sigmoid),
        ("gelu", nn.GELU),
        ("identity", nn.Identity),
        (nn.Tanh, nn.Tanh),
        (nn.GELU, nn.GELU),
    ],
)
def test_mlp_activation_by_name_or_class(activation: object, cls: type) -> None:
    model = nn.MLP([2, 4, 4, 1], activation=activation, rng=rng())  # type: ignore[arg-type]
    assert type(model[1]) is cls
    assert type(model[3]) is cls
    assert model[1] is not model[3]  # one instance per position


def test_mlp_activation_factory() -> None:
    model = nn.MLP([2, 4, 4, 1], activation=lambda: nn.GELU("tanh"), rng=rng())
    assert model[1].approximate == "tanh"


def test_mlp_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown activation 'swish'; choose from \['gelu'"):
        nn.MLP([2, 3, 1], activation="swish")
    with pytest.raises(ValueError, match="at least an input and an output size"):
        nn.MLP([4])


# ---------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------
X = np.linspace(-4, 4, 17).reshape(1, 17)


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x)


@pytest.mark.parametrize(
    ("module", "reference"),
    [
        (nn.ReLU(), lambda x: np.maximum(x, 0)),
        (nn.Tanh(), np.tanh),
        (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
        (nn.GELU(), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
        (
            nn.GELU("tanh"),
            lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
        ),
    ],
    ids=["relu", "tanh", "sigmoid", "gelu", "gelu-tanh"],
)
def test_activation_modules_match_numpy(module: nn.Module, reference: object) -> None:
    out = module(X)
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, reference(X), rtol=1e-12, atol=1e-15)  # type: ignore[operator]
    assert module.num_parameters() == 0


def test_identity_returns_its_input() -> None:
    t = Tensor(X)
    assert nn.Identity()(t) is t


# ---------------------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------------------
def test_dropout_in_eval_mode_is_the_identity() -> None:
    drop = nn.Dropout(0.5, rng=rng()).eval()
    x = leaf(rng(1).standard_normal((10, 10)))
    out = drop(x)
    np.testing.assert_array_equal(out.data, x.data)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((10, 10)))


def test_dropout_with_p_zero_is_the_identity_in_training() -> None:
    x = rng(1).standard_normal(100)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_about_p_and_scales_survivors(p: float) -> None:
    drop = nn.Dropout(p, rng=rng(4))
    assert drop.training
    x = rng(5).uniform(1.0, 2.0, (200, 500))  # never zero
    out = drop(x).data
    dropped = out == 0
    assert abs(dropped.mean() - p) < 0.01  # 100k samples: the sd of the fraction is < 0.0016
    np.testing.assert_allclose(out[~dropped], x[~dropped] / (1 - p), rtol=1e-15)


def test_dropout_is_reproducible_with_a_seeded_rng() -> None:
    x = np.ones((50, 50))
    a = nn.Dropout(0.3, rng=rng(9))(x).data
    b = nn.Dropout(0.3, rng=rng(9))(x).data
    c = nn.Dropout(0.3, rng=rng(10))(x).data
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)


def test_dropout_without_rng_uses_the_default_generator() -> None:
    drop = nn.Dropout(0.3)
    x = np.ones((50, 50))
    nn.manual_seed(1)
    a = drop(x).data
    b = drop(x).data  # the generator moved on
    nn.manual_seed(1)
    c = drop(x).data
    assert a.tobytes() == c.tobytes()
    assert not np.array_equal(a, b)


def test_dropout_gradient_flows_only_through_kept_units() -> None:
    p = 0.4
    drop = nn.Dropout(p, rng=rng(2))
    x = leaf(rng(3).uniform(0.5, 1.5, (30, 40)))
    out = drop(x)
    kept = out.data != 0
    assert 0 < kept.mean() < 1
    c = rng(4).standard_normal(x.shape)
    out.backward(c)
    np.testing.assert_allclose(x.grad, np.where(kept, c / (1 - p), 0.0), rtol=1e-15)
    assert np.all(x.grad[~kept] == 0)


def test_embedding_takes_rng_and_dtype_by_keyword_only() -> None:
    """PyTorch's fourth positional parameter is max_norm: a number there must not be
    taken for something else."""
    with pytest.raises(TypeError, match="positional argument"):
        nn.Embedding(10, 3, 0, 1.0)  # type: ignore[misc]


@pytest.mark.parametrize("p", [-0.1, 1.5, math.nan])
def test_dropout_validates_p(p: float) -> None:
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\]"):
        nn.Dropout(p)


@pytest.mark.parametrize("layer", [nn.Dropout, nn.Dropout2d])
def test_dropout_of_one_drops_everything(layer: Any) -> None:
    """As PyTorch's: p=1 is allowed, and training gives zeros (and zero gradients)."""
    x = leaf(np.ones((2, 3, 4)))
    out = layer(1.0, rng=rng())(x)
    out.sum().backward()
    np.testing.assert_array_equal(out.data, np.zeros((2, 3, 4)))
    np.testing.assert_array_equal(x.grad, np.zeros((2, 3, 4)))


def test_dropout_keeps_float32() -> None:
    x = np.ones((4, 4), dtype=np.float32)
    assert nn.Dropout(0.5, rng=rng())(x).dtype == np.float32


# ---------------------------------------------------------------------------------------
# LayerNorm
# ---------------------------------------------------------------------------------------
def layer_norm_reference(
    x: np.ndarray, axes: tuple[int, ...], eps: float, w: np.ndarray, b: np.ndarray
) -> np.ndarray:
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)  # biased
    return (x - mean) / np.sqrt(var + eps) * w + b


def _randomise(ln: nn.LayerNorm, seed: int) -> None:
    assert ln.weight is not None
    assert ln.bias is not None
    ln.weight.data[...] = rng(seed).uniform(0.5, 1.5, ln.weight.shape)
    ln.bias.data[...] = rng(seed + 1).standard_normal(ln.bias.shape)


def test_layer_norm_initial_state() -> None:
    ln = nn.LayerNorm(4)
    assert ln.normalized_shape == (4,)
    assert ln.eps == 1e-5
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    assert ln.weight is not None
    assert ln.bias is not None
    np.testing.assert_array_equal(ln.weight.data, np.ones(4))
    np.testing.assert_array_equal(ln.bias.data, np.zeros(4))
    out = ln(rng().standard_normal((6, 4)) * 5 + 3).data
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=1), 1, rtol=1e-4)  # eps shrinks it slightly


@pytest.mark.parametrize(("shape", "normalized"), [((4, 5), 5), ((2, 3, 4), (3, 4)), ((7,), (7,))])
def test_layer_norm_matches_the_numpy_formula(
    shape: tuple[int, ...], normalized: int | tuple[int, ...]
) -> None:
    ln = nn.LayerNorm(normalized, eps=1e-3)
    _randomise(ln, 1)
    x = rng(3).standard_normal(shape) * 2 + 1
    n = 1 if isinstance(normalized, int) else len(normalized)
    axes = tuple(range(len(shape) - n, len(shape)))
    assert ln.weight is not None
    assert ln.bias is not None
    expected = layer_norm_reference(x, axes, 1e-3, ln.weight.data, ln.bias.data)
    np.testing.assert_allclose(ln(x).data, expected, rtol=1e-12, atol=1e-14)


def test_layer_norm_uses_biased_variance_and_eps() -> None:
    ln = nn.LayerNorm(2, eps=1e-5)
    x = np.array([[0.0, 1e-3], [5.0, 5.0], [1.0, 3.0]])
    out = ln(x).data
    # var = 2.5e-7: eps dominates, so the output is far from +-1
    expected = 5e-4 / math.sqrt(2.5e-7 + 1e-5)
    np.testing.assert_allclose(out[0], [-expected, expected], rtol=1e-12)
    np.testing.assert_array_equal(out[1], [0.0, 0.0])  # constant row: no division by 0
    np.testing.assert_allclose(out[2], np.array([-1.0, 1.0]) / math.sqrt(1 + 1e-5), rtol=1e-12)


def test_layer_norm_without_affine_has_no_parameters() -> None:
    ln = nn.LayerNorm((3,), elementwise_affine=False)
    assert ln.weight is None
    assert ln.bias is None
    assert ln.num_parameters() == 0
    x = rng().standard_normal((2, 3))
    expected = layer_norm_reference(x, (1,), 1e-5, np.ones(3), np.zeros(3))
    np.testing.assert_allclose(ln(x).data, expected, rtol=1e-12)


@pytest.mark.parametrize(("shape", "normalized"), [((3, 4), 4), ((2, 2, 3), (2, 3))])
def test_layer_norm_gradient_matches_central_differences(
    shape: tuple[int, ...], normalized: int | tuple[int, ...]
) -> None:
    ln = nn.LayerNorm(normalized)
    _randomise(ln, 5)
    x = leaf(rng(7).standard_normal(shape))
    assert ln.weight is not None
    assert ln.bias is not None
    check_grads(lambda: ln(x), [x, ln.weight, ln.bias])


def test_layer_norm_rejects_a_wrong_trailing_shape() -> None:
    with pytest.raises(ValueError, match=re.escape("ending in shape (4,), got (2, 3)")):
        nn.LayerNorm(4)(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=re.escape("ending in shape (2, 3), got (3,)")):
        nn.LayerNorm((2, 3))(np.zeros(3))


# ---------------------------------------------------------------------------------------
# Embedding
# ---------------------------------------------------------------------------------------
def test_embedding_looks_up_rows() -> None:
    emb = nn.Embedding(10, 4, rng=rng())
    assert emb.weight.shape == (10, 4)
    idx = np.array([[1, 2, 3], [9, 0, 1]])
    out = emb(idx)
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    np.testing.assert_array_equal(emb(Tensor(np.array([5]))).data, emb.weight.data[[5]])
    np.testing.assert_array_equal(emb(np.uint8(7)).data, emb.weight.data[7])


def test_embedding_init_is_standard_normal() -> None:
    w = nn.Embedding(1000, 100, rng=rng(1)).weight.data
    assert abs(w.mean()) < 0.01
    assert abs(w.std() - 1) < 0.01


def test_embedding_repeated_indices_accumulate_gradient() -> None:
    emb = nn.Embedding(5, 3, rng=rng())
    idx = np.array([[1, 1, 4], [1, 0, 4]])
    c = rng(1).standard_normal((2, 3, 3))
    emb(idx).backward(c)
    expected = np.zeros((5, 3))
    for (i, j), k in np.ndenumerate(idx):
        expected[k] += c[i, j]
    np.testing.assert_allclose(emb.weight.grad, expected, rtol=1e-14)
    np.testing.assert_array_equal(emb.weight.grad[[2, 3]], 0.0)


@pytest.mark.parametrize(("bad", "low", "high"), [([0, 5], 0, 5), ([-1, 2], -1, 2)])
def test_embedding_rejects_out_of_range_indices(bad: list[int], low: int, high: int) -> None:
    emb = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match=rf"in \[0, 5\), got values from {low} to {high}"):
        emb(np.array(bad))


def test_embedding_rejects_non_integer_indices() -> None:
    with pytest.raises(TypeError, match="indices must be integers, got dtype float64"):
        nn.Embedding(5, 2)(np.array([1.0, 2.0]))


def test_embedding_is_a_parameter_of_its_model() -> None:
    emb = nn.Embedding(5, 2)
    assert isinstance(emb.weight, Parameter)
    assert [n for n, _ in emb.named_parameters()] == ["weight"]


def test_embedding_padding_row_starts_at_zero_and_never_gets_a_gradient() -> None:
    emb = nn.Embedding(6, 3, padding_idx=2, rng=rng(3))
    assert emb.padding_idx == 2
    np.testing.assert_array_equal(emb.weight.data[2], 0.0)
    assert np.all(emb.weight.data[[0, 1, 3, 4, 5]] != 0)
    same_draws = nn.Embedding(6, 3, rng=rng(3)).weight.data  # the same N(0, 1) samples
    np.testing.assert_array_equal(emb.weight.data[[0, 1, 3]], same_draws[[0, 1, 3]])
    emb.weight.data[2] = 7.0  # a padding vector set by hand is looked up as it is
    idx = np.array([[2, 0, 2], [5, 2, 0]])
    out = emb(idx)
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    c = rng(4).standard_normal(out.shape)
    out.backward(c)
    expected = np.zeros((6, 3))
    np.add.at(expected, idx, c)
    expected[2] = 0.0
    np.testing.assert_array_equal(emb.weight.grad, expected)


def test_embedding_negative_padding_idx_counts_from_the_end() -> None:
    emb = nn.Embedding(5, 2, padding_idx=-1)
    assert emb.padding_idx == 4
    np.testing.assert_array_equal(emb.weight.data[4], 0.0)
    assert repr(emb) == "Embedding(5, 2, padding_idx=4)"
    emb(np.array([4, 4, 1])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[4], 0.0)
    np.testing.assert_array_equal(emb.weight.grad[1], 1.0)


@pytest.mark.parametrize("bad", [5, -6])
def test_embedding_padding_idx_must_be_a_row(bad: int) -> None:
    with pytest.raises(ValueError, match=re.escape(f"padding_idx must be in [-5, 5), got {bad}")):
        nn.Embedding(5, 2, padding_idx=bad)
    with pytest.raises(TypeError, match="padding_idx must be an int or None, got float"):
        nn.Embedding(5, 2, padding_idx=1.0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Flatten and Unflatten
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "end", "shape"),
    [(1, -1, (2, 60)), (0, -1, (120,)), (1, 2, (2, 12, 5)), (-2, -1, (2, 3, 20))],
)
def test_flatten_merges_the_dimensions_from_start_to_end(
    start: int, end: int, shape: tuple[int, ...]
) -> None:
    x = leaf(rng().standard_normal((2, 3, 4, 5)))
    out = nn.Flatten(start, end)(x)
    assert out.shape == shape
    np.testing.assert_array_equal(out.data, x.data.reshape(shape))
    c = rng(1).standard_normal(shape)
    out.backward(c)
    np.testing.assert_array_equal(x.grad, c.reshape(x.shape))
    assert nn.Flatten()(np.zeros((7, 2, 2))).shape == (7, 4)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


@pytest.mark.parametrize(
    ("dim", "sizes", "shape"),
    [(1, (3, 4), (2, 3, 4, 5)), (-1, (5, 1), (2, 12, 5, 1)), (1, [2, -1], (2, 2, 6, 5))],
)
def test_unflatten_splits_a_dimension(dim: int, sizes: Any, shape: tuple[int, ...]) -> None:
    x = leaf(rng().standard_normal((2, 12, 5)))
    module = nn.Unflatten(dim, sizes)
    out = module(x)
    assert out.shape == shape
    np.testing.assert_array_equal(out.data, x.data.reshape(shape))
    out.backward(np.ones(shape))
    np.testing.assert_array_equal(x.grad, 1.0)


def test_unflatten_errors() -> None:
    with pytest.raises(
        ValueError, match=re.escape("size 12, which cannot be unflattened into (5, 2)")
    ):
        nn.Unflatten(1, (5, 2))(np.zeros((2, 12)))
    with pytest.raises(
        ValueError, match=re.escape("size 12, which cannot be unflattened into (5, -1)")
    ):
        nn.Unflatten(1, (5, -1))(np.zeros((2, 12)))
    with pytest.raises(ValueError, match="at most one -1"):
        nn.Unflatten(1, (-1, -1))
    with pytest.raises(TypeError, match="must be a tuple or list of ints"):
        nn.Unflatten(1, (2.0, 6))  # type: ignore[arg-type]
    with pytest.raises(
        IndexError, match=re.escape("dim 2 is out of range for an input of shape (2, 12)")
    ):
        nn.Unflatten(2, (3, 4))(np.zeros((2, 12)))
    assert repr(nn.Unflatten(1, [2, 6])) == "Unflatten(dim=1, unflattened_size=(2, 6))"
    sizes = np.array([3, 4])  # numpy integers are taken as sizes too
    assert repr(nn.Unflatten(1, sizes)) == "Unflatten(dim=1, unflattened_size=(3, 4))"


# ---------------------------------------------------------------------------------------
# LeakyReLU, ELU, SiLU, Softmax, LogSoftmax
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("module", "reference", "slope_at_zero"),
    [
        (nn.LeakyReLU(), lambda x: np.where(x > 0, x, 0.01 * x), 0.01),
        (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x), 0.2),
        (nn.ELU(), lambda x: np.where(x > 0, x, np.expm1(x)), 1.0),
        (nn.ELU(alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), 0.5),
        (nn.SiLU(), lambda x: x / (1 + np.exp(-x)), 0.5),
    ],
    ids=repr,
)
def test_new_activation_modules(module: nn.Module, reference: Any, slope_at_zero: float) -> None:
    out = module(X)
    np.testing.assert_allclose(out.data, reference(X), rtol=1e-14, atol=1e-16)
    assert module.num_parameters() == 0
    x = leaf(np.array([0.0]))
    module(x).backward(np.ones(1))
    assert x.grad[0] == slope_at_zero  # PyTorch's slope at the kink
    xs = leaf(np.array([-2.3, -0.4, 0.6, 1.9]))
    check_grads(lambda: module(xs), [xs])


def test_activation_module_reprs() -> None:
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.ELU(2.0)) == "ELU(alpha=2.0)"
    assert repr(nn.SiLU()) == "SiLU()"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.LogSoftmax(-1)) == "LogSoftmax(dim=-1)"


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_modules_along_dim(dim: int) -> None:
    x = rng().standard_normal((3, 4, 2)) * 3
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    expected = e / e.sum(axis=dim, keepdims=True)
    np.testing.assert_allclose(nn.Softmax(dim)(x).data, expected, rtol=1e-14)
    np.testing.assert_allclose(
        nn.LogSoftmax(dim=dim)(x).data, np.log(expected), rtol=1e-13, atol=1e-15
    )
    np.testing.assert_allclose(nn.Softmax(dim)(x).data.sum(axis=dim), 1.0, rtol=1e-15)
    xs = leaf(x[:2, :3])
    check_grads(lambda: nn.LogSoftmax(dim)(xs), [xs])


def test_softmax_module_without_dim_warns_and_picks_pytorchs_legacy_axis() -> None:
    x2, x3 = rng().standard_normal((2, 3)), rng().standard_normal((2, 3, 4))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out2 = nn.Softmax()(x2)
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
        out3 = nn.LogSoftmax()(x3)
    np.testing.assert_array_equal(out2.data, nn.Softmax(1)(x2).data)  # 2-D: axis 1
    np.testing.assert_array_equal(out3.data, nn.LogSoftmax(0)(x3).data)  # 3-D: axis 0


def test_layers_follow_sg_tensors_default_dtype() -> None:
    import sg_tensor as st_

    try:
        st_.set_default_dtype(st_.float32)
        assert nn.Linear(2, 3).weight.dtype == np.float32
        assert nn.Embedding(4, 2).weight.dtype == np.float32
        assert nn.LayerNorm(3).weight.dtype == np.float32
    finally:
        st_.set_default_dtype(st_.float64)
    assert nn.Linear(2, 3).weight.dtype == np.float64
