"""PyTorch's ``inplace=`` argument (accepted, computed out of place), the activation
modules added for PyTorch programs (``PReLU``, ``Softplus``, ``Hardtanh``, ``Mish``,
``Softmin``...), ``Embedding.from_pretrained``, ``LayerNorm(bias=False)`` and
``Identity``'s ignored arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from nn_helpers import check_grads, leaf, softmax

import sg_nn as nn
import sg_nn.functional as F
from sg_nn import init
from sg_tensor import Tensor


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


POINTS = np.array([-25.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 25.0])


# ---------------------------------------------------------------------------------------
# inplace=
# ---------------------------------------------------------------------------------------
INPLACE_FUNCTIONS: list[tuple[str, Callable[..., Tensor], tuple[Any, ...]]] = [
    ("relu", F.relu, ()),
    ("leaky_relu", F.leaky_relu, (0.2,)),
    ("elu", F.elu, (1.5,)),
    ("selu", F.selu, ()),
    ("celu", F.celu, (0.7,)),
    ("silu", F.silu, ()),
    ("mish", F.mish, ()),
    ("hardtanh", F.hardtanh, (-0.5, 2.0)),
    ("relu6", F.relu6, ()),
    ("hardsigmoid", F.hardsigmoid, ()),
    ("hardswish", F.hardswish, ()),
    ("threshold", F.threshold, (0.1, -2.0)),
]


@pytest.mark.parametrize(
    ("name", "fn", "args"), INPLACE_FUNCTIONS, ids=[c[0] for c in INPLACE_FUNCTIONS]
)
@pytest.mark.parametrize("inplace", [False, True])
def test_functions_accept_inplace_and_leave_the_input_alone(
    name: str, fn: Callable[..., Tensor], args: tuple[Any, ...], inplace: bool
) -> None:
    x = leaf(POINTS)
    before = x.data.copy()
    expected = fn(leaf(POINTS), *args)
    out = fn(x, *args, inplace)  # positional, where PyTorch has it
    np.testing.assert_array_equal(out.data, expected.data)
    np.testing.assert_array_equal(fn(x, *args, inplace=inplace).data, expected.data)
    np.testing.assert_array_equal(x.data, before)  # out of place: the input is unchanged
    out.sum().backward()
    reference = leaf(POINTS)
    fn(reference, *args).sum().backward()
    np.testing.assert_array_equal(x.grad, reference.grad)


def test_dropout_accepts_inplace() -> None:
    x = np.ones((4, 5))
    a = F.dropout(x, 0.5, True, True, rng=rng(3)).data
    b = F.dropout(x, 0.5, True, False, rng=rng(3)).data
    np.testing.assert_array_equal(a, b)
    assert np.all(x == 1.0)
    drop = nn.Dropout(0.5, inplace=True, rng=rng(3))
    np.testing.assert_array_equal(drop(x).data, a)
    assert repr(drop) == "Dropout(p=0.5, inplace=True)"
    assert repr(nn.Dropout(0.5, inplace=False)) == "Dropout(p=0.5)"


MODULES_WITH_INPLACE: list[tuple[Callable[..., nn.Module], Callable[..., Tensor]]] = [
    (lambda inplace: nn.ReLU(inplace=inplace), F.relu),
    (lambda inplace: nn.ReLU6(inplace), F.relu6),
    (lambda inplace: nn.LeakyReLU(0.2, inplace), lambda x: F.leaky_relu(x, 0.2)),
    (lambda inplace: nn.ELU(1.5, inplace=inplace), lambda x: F.elu(x, 1.5)),
    (lambda inplace: nn.SELU(inplace), F.selu),
    (lambda inplace: nn.CELU(0.7, inplace), lambda x: F.celu(x, 0.7)),
    (lambda inplace: nn.SiLU(inplace), F.silu),
    (lambda inplace: nn.Mish(inplace), F.mish),
    (lambda inplace: nn.Hardtanh(-0.5, 2.0, inplace), lambda x: F.hardtanh(x, -0.5, 2.0)),
    (lambda inplace: nn.Hardsigmoid(inplace), F.hardsigmoid),
    (lambda inplace: nn.Hardswish(inplace), F.hardswish),
    (lambda inplace: nn.Threshold(0.1, -2.0, inplace), lambda x: F.threshold(x, 0.1, -2.0)),
]


@pytest.mark.parametrize(("make", "fn"), MODULES_WITH_INPLACE)
@pytest.mark.parametrize("inplace", [False, True])
def test_modules_accept_inplace(
    make: Callable[[bool], nn.Module], fn: Callable[..., Tensor], inplace: bool
) -> None:
    module = make(inplace)
    assert module.inplace is inplace
    x = POINTS.copy()
    np.testing.assert_array_equal(module(x).data, fn(POINTS).data)
    np.testing.assert_array_equal(x, POINTS)
    # PyTorch's repr shows inplace=True, except Hardsigmoid's and Hardswish's (no settings)
    shown = inplace and type(module).__name__ not in ("Hardsigmoid", "Hardswish")
    assert repr(module).endswith("inplace=True)") is shown


# ---------------------------------------------------------------------------------------
# new modules
# ---------------------------------------------------------------------------------------
def np_softplus(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    return np.where(beta * x > threshold, x, np.log1p(np.exp(np.minimum(beta * x, 50))) / beta)


MODULE_VALUES: list[tuple[str, nn.Module, Callable[[np.ndarray], np.ndarray]]] = [
    ("softplus", nn.Softplus(), lambda x: np_softplus(x, 1.0, 20.0)),
    ("softplus_beta", nn.Softplus(beta=2.0, threshold=5.0), lambda x: np_softplus(x, 2.0, 5.0)),
    ("hardtanh", nn.Hardtanh(), lambda x: np.clip(x, -1.0, 1.0)),
    ("hardtanh_range", nn.Hardtanh(-2.0, 0.5), lambda x: np.clip(x, -2.0, 0.5)),
    ("mish", nn.Mish(), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    ("relu6", nn.ReLU6(), lambda x: np.clip(x, 0.0, 6.0)),
    ("selu", nn.SELU(), lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0))
    )),
    ("celu", nn.CELU(2.0), lambda x: np.where(x > 0, x, 2.0 * np.expm1(np.minimum(x, 0) / 2))),
    ("logsigmoid", nn.LogSigmoid(), lambda x: -np.logaddexp(0, -x)),
    ("softsign", nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    ("tanhshrink", nn.Tanhshrink(), lambda x: x - np.tanh(x)),
    ("hardshrink", nn.Hardshrink(1.0), lambda x: np.where(np.abs(x) > 1.0, x, 0.0)),
    ("softshrink", nn.Softshrink(1.0), lambda x: np.sign(x) * np.maximum(np.abs(x) - 1.0, 0)),
    ("threshold", nn.Threshold(0.5, -1.0), lambda x: np.where(x > 0.5, x, -1.0)),
    ("hardsigmoid", nn.Hardsigmoid(), lambda x: np.clip(x / 6 + 0.5, 0.0, 1.0)),
    ("hardswish", nn.Hardswish(), lambda x: x * np.clip(x + 3, 0.0, 6.0) / 6),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "module", "reference"), MODULE_VALUES, ids=[c[0] for c in MODULE_VALUES]
)
def test_new_modules_values_and_gradients(
    name: str, module: nn.Module, reference: Callable[[np.ndarray], np.ndarray]
) -> None:
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(module(POINTS).data, reference(POINTS), rtol=1e-13, atol=1e-15)
    smooth = leaf(rng(1).uniform(-4, 4, size=(3, 4)) + 0.0123)  # away from the kinks
    check_grads(lambda: module(smooth), [smooth])


def test_softmin_and_glu_modules() -> None:
    x = rng(2).standard_normal((3, 4))
    np.testing.assert_allclose(nn.Softmin(dim=1)(x).data, softmax(-x), rtol=1e-14)
    np.testing.assert_allclose(nn.Softmin(0)(x).data, softmax(-x.T).T, rtol=1e-14)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        nn.Softmin()(x)
    assert repr(nn.Softmin(1)) == "Softmin(dim=1)"
    a, b = x[:, :2], x[:, 2:]
    np.testing.assert_allclose(nn.GLU()(x).data, a / (1 + np.exp(-b)), rtol=1e-14)
    t = leaf(x)
    check_grads(lambda: nn.Softmin(dim=-1)(t), [t])


def test_module_reprs_follow_pytorch() -> None:
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU(0.1, True)) == "LeakyReLU(negative_slope=0.1, inplace=True)"
    assert repr(nn.Threshold(0.1, 20.0)) == "Threshold(threshold=0.1, value=20.0)"
    assert repr(nn.Hardshrink()) == "Hardshrink(0.5)"
    assert repr(nn.Mish()) == "Mish()"


def test_hardtanh_needs_max_above_min() -> None:
    with pytest.raises(ValueError, match="must be greater"):
        nn.Hardtanh(1.0, 1.0)


# ---------------------------------------------------------------------------------------
# PReLU
# ---------------------------------------------------------------------------------------
def test_prelu_single_slope_values_and_gradients_by_hand() -> None:
    layer = nn.PReLU()
    assert layer.weight.shape == (1,)
    assert layer.weight.data[0] == 0.25
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    x = leaf(np.array([[-2.0, 0.0, 3.0], [1.5, -0.5, -4.0]]))
    c = rng(4).standard_normal((2, 3))
    out = layer(x)
    np.testing.assert_array_equal(out.data, np.where(x.data > 0, x.data, 0.25 * x.data))
    out.backward(c)
    # d/dx: 1 where x > 0, else the slope (0.25 at x == 0, as PyTorch's backward)
    np.testing.assert_array_equal(x.grad, np.where(x.data > 0, 1.0, 0.25) * c)
    # d/da: x where x <= 0, summed
    np.testing.assert_allclose(layer.weight.grad, [np.sum(np.where(x.data > 0, 0, x.data) * c)])


def test_prelu_per_channel() -> None:
    layer = nn.PReLU(num_parameters=3, init=0.1)
    layer.weight.data[:] = [0.1, -0.2, 0.3]
    x = leaf(rng(5).standard_normal((2, 3, 4)))
    c = rng(6).standard_normal((2, 3, 4))
    a = layer.weight.data[None, :, None]
    out = layer(x)
    np.testing.assert_allclose(out.data, np.where(x.data > 0, x.data, a * x.data), rtol=1e-15)
    out.backward(c)
    np.testing.assert_allclose(x.grad, np.where(x.data > 0, 1.0, a) * c, rtol=1e-15)
    expected = np.sum(np.where(x.data > 0, 0.0, x.data) * c, axis=(0, 2))
    np.testing.assert_allclose(layer.weight.grad, expected, rtol=1e-13)
    smooth = leaf(rng(7).standard_normal((2, 3)) + 0.01)
    check_grads(lambda: layer(smooth), [smooth, layer.weight])


def test_prelu_checks_the_channels_and_follows_the_dtype() -> None:
    with pytest.raises(ValueError, match="3 parameters and 4 channels"):
        nn.PReLU(3)(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="3 parameters and 1 channels"):
        nn.PReLU(3)(np.zeros(3))
    with pytest.raises(ValueError, match="positive"):
        nn.PReLU(0)
    assert nn.PReLU(dtype=np.float32).weight.dtype == np.float32
    assert nn.PReLU()(np.float64(-4.0)).data == -1.0  # a 0-d input
    np.testing.assert_array_equal(F.prelu(np.array([-4.0, 2.0]), np.array([0.5])).data, [-2, 2])


# ---------------------------------------------------------------------------------------
# Embedding.from_pretrained, LayerNorm(bias=False), Identity(*args)
# ---------------------------------------------------------------------------------------
def test_from_pretrained_freezes_by_default() -> None:
    table = np.arange(12.0).reshape(4, 3)
    state = init.default_generator().bit_generator.state
    layer = nn.Embedding.from_pretrained(table)
    assert layer.num_embeddings == 4
    assert layer.embedding_dim == 3
    np.testing.assert_array_equal(layer.weight.data, table)
    assert not layer.weight.requires_grad
    out = layer(np.array([[3, 0]]))
    np.testing.assert_array_equal(out.data, table[[[3, 0]]])
    assert not out.requires_grad  # nothing to train
    table[0, 0] = 100.0
    assert layer.weight.data[0, 0] == 0.0  # a copy
    assert init.default_generator().bit_generator.state == state  # nothing was drawn


def test_from_pretrained_unfrozen_trains_and_keeps_the_padding_row() -> None:
    table = Tensor(np.arange(12.0).reshape(4, 3))
    layer = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=1)
    assert layer.weight.requires_grad
    assert layer.padding_idx == 1
    np.testing.assert_array_equal(layer.weight.data[1], [3.0, 4.0, 5.0])  # not zeroed
    layer(np.array([1, 2, 2])).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad, [[0, 0, 0], [0, 0, 0], [2, 2, 2], [0, 0, 0]])
    assert repr(layer) == "Embedding(4, 3, padding_idx=1)"
    assert (
        nn.Embedding.from_pretrained(np.ones((2, 2), dtype=np.float32)).weight.dtype == np.float32
    )
    with pytest.raises(ValueError, match="2-dimensional"):
        nn.Embedding.from_pretrained(np.ones(3))
    with pytest.raises(ValueError, match="does not match"):
        nn.Embedding(3, 2, _weight=np.ones((2, 3)))


def test_layer_norm_without_bias() -> None:
    norm = nn.LayerNorm(4, bias=False)
    assert norm.bias is None
    assert norm.weight is not None
    assert list(norm.state_dict()) == ["weight"]
    x = rng(8).standard_normal((2, 4))
    z = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(norm(x).data, z, rtol=1e-13)
    assert nn.LayerNorm(4, elementwise_affine=False, bias=True).weight is None
    assert list(nn.LayerNorm(4).state_dict()) == ["weight", "bias"]


def test_identity_ignores_its_arguments() -> None:
    layer = nn.Identity(54, unused_argument=0.1)
    t = Tensor(np.ones(2))
    assert layer(t) is t
    assert repr(layer) == "Identity()"
