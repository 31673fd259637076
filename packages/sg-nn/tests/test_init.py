"""Initialisers: bounds and statistics, in-place filling, seeding, gains and fans."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

import sg_nn as nn
from sg_nn import init
from sg_tensor import Tensor

SHAPE = (400, 500)  # fan_in 500, fan_out 400; 200k samples: sample stds are within 0.5%
FAN_IN, FAN_OUT = 500, 400


def empty(shape: tuple[int, ...] = SHAPE, dtype: type = np.float64) -> Tensor:
    return Tensor(np.full(shape, np.nan, dtype=dtype))


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def assert_close(actual: float, expected: float, rel: float = 0.02) -> None:
    assert abs(actual / expected - 1) < rel, (actual, expected)


# ---------------------------------------------------------------------------------------
# in-place filling
# ---------------------------------------------------------------------------------------
INITIALISERS: dict[str, Callable[[Tensor], Tensor]] = {
    "uniform_": lambda t: init.uniform_(t, -2.0, 3.0, rng=rng()),
    "normal_": lambda t: init.normal_(t, 1.0, 2.0, rng=rng()),
    "constant_": lambda t: init.constant_(t, 0.5),
    "zeros_": init.zeros_,
    "ones_": init.ones_,
    "kaiming_uniform_": lambda t: init.kaiming_uniform_(t, rng=rng()),
    "kaiming_normal_": lambda t: init.kaiming_normal_(t, rng=rng()),
    "xavier_uniform_": lambda t: init.xavier_uniform_(t, rng=rng()),
    "xavier_normal_": lambda t: init.xavier_normal_(t, rng=rng()),
}


@pytest.mark.parametrize("name", list(INITIALISERS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_initialisers_fill_in_place_and_return_the_tensor(name: str, dtype: type) -> None:
    t = empty((6, 5), dtype)
    array = t.data
    assert INITIALISERS[name](t) is t
    assert t.data is array  # the same buffer, filled
    assert t.dtype == dtype
    assert np.all(np.isfinite(t.data))


def test_initialisers_fill_parameters_of_a_model() -> None:
    layer = nn.Linear(3, 2)
    weight = layer.weight.data
    init.zeros_(layer.weight)
    assert layer.weight.data is weight
    assert not np.any(weight)


def test_constant_zeros_ones() -> None:
    t = empty((3, 4))
    np.testing.assert_array_equal(init.constant_(t, -1.25).data, np.full((3, 4), -1.25))
    np.testing.assert_array_equal(init.zeros_(t).data, np.zeros((3, 4)))
    np.testing.assert_array_equal(init.ones_(t).data, np.ones((3, 4)))
    np.testing.assert_array_equal(init.ones_(empty((5,))).data, np.ones(5))  # any rank


# ---------------------------------------------------------------------------------------
# bounds and statistics
# ---------------------------------------------------------------------------------------
def check_uniform(w: np.ndarray, low: float, high: float) -> None:
    assert w.min() >= low
    assert w.max() <= high
    width = high - low
    assert w.min() < low + 0.001 * width
    assert w.max() > high - 0.001 * width
    assert abs(w.mean() - (low + high) / 2) < 0.01 * width
    assert_close(w.std(), width / math.sqrt(12))


def check_normal(w: np.ndarray, mean: float, std: float) -> None:
    assert abs(w.mean() - mean) < 0.01 * std
    assert_close(w.std(), std)
    assert abs(np.mean(np.abs(w - mean) < std) - 0.6827) < 0.01  # bell shaped


def test_uniform_and_normal_statistics() -> None:
    check_uniform(init.uniform_(empty(), -2.0, 3.0, rng=rng(1)).data, -2.0, 3.0)
    check_uniform(init.uniform_(empty(), rng=rng(1)).data, 0.0, 1.0)
    check_normal(init.normal_(empty(), 1.0, 2.0, rng=rng(2)).data, 1.0, 2.0)
    check_normal(init.normal_(empty(), rng=rng(2)).data, 0.0, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "gain", "fan"),
    [
        ({}, math.sqrt(2.0), FAN_IN),  # leaky_relu with a = 0
        ({"nonlinearity": "relu"}, math.sqrt(2.0), FAN_IN),
        ({"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(2.0), FAN_OUT),
        ({"a": math.sqrt(5)}, math.sqrt(1 / 3), FAN_IN),  # what Linear uses
        ({"nonlinearity": "tanh"}, 5 / 3, FAN_IN),
        ({"nonlinearity": "linear"}, 1.0, FAN_IN),
    ],
)
def test_kaiming_statistics(kwargs: dict[str, object], gain: float, fan: int) -> None:
    bound = gain * math.sqrt(3.0 / fan)
    check_uniform(init.kaiming_uniform_(empty(), rng=rng(3), **kwargs).data, -bound, bound)  # type: ignore[arg-type]
    std = gain / math.sqrt(fan)
    check_normal(init.kaiming_normal_(empty(), rng=rng(4), **kwargs).data, 0.0, std)  # type: ignore[arg-type]


@pytest.mark.parametrize("gain", [1.0, 5 / 3, 0.5])
def test_xavier_statistics(gain: float) -> None:
    bound = gain * math.sqrt(6.0 / (FAN_IN + FAN_OUT))
    check_uniform(init.xavier_uniform_(empty(), gain=gain, rng=rng(5)).data, -bound, bound)
    std = gain * math.sqrt(2.0 / (FAN_IN + FAN_OUT))
    check_normal(init.xavier_normal_(empty(), gain=gain, rng=rng(6)).data, 0.0, std)


def test_fans_of_a_convolution_weight_include_the_receptive_field() -> None:
    # (out=64, in=32, 5, 5): fan_in = 32 * 25 = 800, fan_out = 64 * 25 = 1600
    w = empty((64, 32, 5, 5))
    bound = math.sqrt(6.0 / (800 + 1600))
    check_uniform(init.xavier_uniform_(w, rng=rng(7)).data, -bound, bound)
    check_normal(init.kaiming_normal_(w, rng=rng(8)).data, 0.0, math.sqrt(2.0 / 800))
    check_normal(
        init.kaiming_normal_(w, mode="fan_out", rng=rng(8)).data, 0.0, math.sqrt(2.0 / 1600)
    )


@pytest.mark.parametrize(
    "fn", [init.kaiming_uniform_, init.kaiming_normal_, init.xavier_uniform_, init.xavier_normal_]
)
@pytest.mark.parametrize("shape", [(5,), ()])
def test_fans_need_two_dimensions(fn: Callable[[Tensor], Tensor], shape: tuple[int, ...]) -> None:
    t = empty(shape)
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \("):
        fn(t)
    assert np.all(np.isnan(t.data))  # untouched


# ---------------------------------------------------------------------------------------
# seeding
# ---------------------------------------------------------------------------------------
def test_manual_seed_resets_the_default_generator() -> None:
    gen = nn.manual_seed(42)
    assert isinstance(gen, np.random.Generator)
    assert init.default_generator() is gen
    assert nn.init.manual_seed is nn.manual_seed
    a = init.normal_(empty((10, 10))).data.copy()
    b = init.kaiming_uniform_(empty((10, 10))).data.copy()
    nn.manual_seed(42)
    assert init.normal_(empty((10, 10))).data.tobytes() == a.tobytes()
    assert init.kaiming_uniform_(empty((10, 10))).data.tobytes() == b.tobytes()
    nn.manual_seed(43)
    assert not np.array_equal(init.normal_(empty((10, 10))).data, a)


def test_default_generator_is_used_without_rng() -> None:
    nn.manual_seed(5)
    expected = np.random.default_rng(5).uniform(-1.0, 1.0, (4, 4))
    np.testing.assert_array_equal(init.uniform_(empty((4, 4)), -1.0, 1.0).data, expected)


def test_an_explicit_rng_is_reproducible_and_leaves_the_default_alone() -> None:
    before = init.default_generator().bit_generator.state
    a = init.xavier_normal_(empty((8, 8)), rng=rng(11)).data.copy()
    b = init.xavier_normal_(empty((8, 8)), rng=rng(11)).data.copy()
    assert a.tobytes() == b.tobytes()
    assert init.default_generator().bit_generator.state == before


# ---------------------------------------------------------------------------------------
# gains
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("nonlinearity", "param", "expected"),
    [
        ("linear", None, 1.0),
        ("identity", None, 1.0),
        ("sigmoid", None, 1.0),
        ("conv1d", None, 1.0),
        ("conv2d", None, 1.0),
        ("tanh", None, 5.0 / 3),
        ("relu", None, math.sqrt(2.0)),
        ("leaky_relu", None, math.sqrt(2.0 / (1 + 0.01**2))),
        ("leaky_relu", 0.2, math.sqrt(2.0 / 1.04)),
        ("leaky_relu", 0.0, math.sqrt(2.0)),
        ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)),
    ],
)
def test_calculate_gain(nonlinearity: str, param: float | None, expected: float) -> None:
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


def test_calculate_gain_rejects_unknown_nonlinearities() -> None:
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_a_graph_that_read_a_tensor_refuses_its_backward_after_an_initialiser() -> None:
    # PyTorch's init functions write in place, moving the tensor's version counter; a
    # linear layer's rule reads its weight for the input's gradient
    layer = nn.Linear(3, 2)
    x = Tensor(np.ones((4, 3)), requires_grad=True)
    loss = layer(x).sum()
    nn.init.normal_(layer.weight)
    with pytest.raises(RuntimeError, match=r"linear: its input 1 .* was modified"):
        loss.backward()
    assert layer.weight.grad is None
    assert x.grad is None
    layer(x).sum().backward()  # a graph recorded after: runs
    np.testing.assert_array_equal(layer.weight.grad, np.full((2, 3), 4.0))


def test_a_weight_no_gradient_reads_may_change_as_in_pytorch() -> None:
    # without an input that requires grad, linear's rule never reads the weight (PyTorch
    # does not save it either): the pass runs, with the gradient of the graph it recorded
    layer = nn.Linear(3, 2)
    loss = layer(Tensor(np.ones((4, 3)))).sum()
    nn.init.zeros_(layer.weight)
    loss.backward()
    np.testing.assert_array_equal(layer.weight.grad, np.full((2, 3), 4.0))


def test_a_graph_that_read_a_parameter_refuses_its_backward_after_a_load() -> None:
    layer = nn.Linear(3, 2)
    loss = layer(Tensor(np.ones((4, 3)), requires_grad=True)).sum()
    layer.load_state_dict(nn.Linear(3, 2).state_dict())
    with pytest.raises(RuntimeError, match=r"linear: its input 1 .* was modified"):
        loss.backward()
