"""Convolutional layers: Conv1d/2d, ConvTranspose1d/2d, pooling, BatchNorm1d/2d, Dropout2d.

The operators' values and gradients are checked against PyTorch in the oracle suite and
against finite differences in sg-tensor; here: the layers' parameters, initialisation,
state, modes, errors, and their gradients through a small network.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from nn_helpers import check_grads, leaf

import sg_nn as nn
import sg_nn.functional as F
from sg_tensor import Tensor


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def naive_conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """The definition, one output pixel at a time (groups=1, dilation=1)."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, _, h, wd = xp.shape
    o, _, kh, kw = w.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for p in range(ho):
        for q in range(wo):
            window = xp[:, :, p * stride : p * stride + kh, q * stride : q * stride + kw]
            out[:, :, p, q] = np.einsum("nchw,ochw->no", window, w) + b
    return out


# ---------------------------------------------------------------------------------------
# Convolutions
# ---------------------------------------------------------------------------------------
def test_conv2d_layout_and_pytorch_initialisation() -> None:
    layer = nn.Conv2d(3, 8, 3, rng=rng())
    assert layer.weight.shape == (8, 3, 3, 3)
    assert layer.bias is not None
    assert layer.bias.shape == (8,)
    bound = 1 / math.sqrt(3 * 3 * 3)  # kaiming_uniform(a=sqrt(5)) gives 1/sqrt(fan_in)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.8 * bound
    assert np.abs(layer.bias.data).max() <= bound
    grouped = nn.ConvTranspose2d(4, 6, (2, 3), groups=2, rng=rng())
    assert grouped.weight.shape == (4, 3, 2, 3)  # (in, out / groups, kh, kw)
    assert np.abs(grouped.weight.data).max() <= 1 / math.sqrt(3 * 2 * 3)


@pytest.mark.parametrize(("stride", "pad"), [(1, 0), (2, 1), (1, 2)])
def test_conv2d_computes_the_definition(stride: int, pad: int) -> None:
    layer = nn.Conv2d(2, 3, 3, stride=stride, padding=pad, rng=rng())
    x = rng(1).standard_normal((2, 2, 6, 5))
    assert layer.bias is not None
    expected = naive_conv2d(x, layer.weight.data, layer.bias.data, stride, pad)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12, atol=1e-12)


def test_conv_layers_accept_unbatched_inputs() -> None:
    layer = nn.Conv2d(2, 3, 3, padding="same", rng=rng())
    x = rng(1).standard_normal((2, 5, 4))
    np.testing.assert_allclose(layer(x).data, layer(x[None]).data[0], rtol=1e-14)
    assert layer(x).shape == (3, 5, 4)
    one = nn.Conv1d(2, 4, 3, rng=rng())
    assert one(rng(2).standard_normal((2, 7))).shape == (4, 5)


def test_gradients_through_a_small_cnn_match_central_differences() -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, rng=rng()),
        nn.BatchNorm2d(2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2, 2, 2, rng=rng(1)),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2, 3, rng=rng(2)),
    )
    x = leaf(rng(3).standard_normal((3, 1, 6, 6)))
    check_grads(lambda: model(x), [x, *model.parameters()], rtol=1e-5)


def test_conv_transpose2d_output_size_picks_the_output_padding() -> None:
    layer = nn.ConvTranspose2d(3, 2, 3, stride=2, rng=rng())
    x = rng(1).standard_normal((1, 3, 4, 4))
    assert layer(x).shape == (1, 2, 9, 9)
    assert layer(x, output_size=(10, 10)).shape == (1, 2, 10, 10)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: output_size \(12, 12\)"):
        layer(x, output_size=(12, 12))
    unbatched = x[0]  # (C, H, W): the sizes alone, or with the channels in front
    assert layer(unbatched, output_size=(2, 10, 10)).shape == (2, 10, 10)
    with pytest.raises(ValueError, match="must have 2 or 3 elements"):
        layer(unbatched, output_size=(1, 2, 10, 10))


def test_conv_errors_name_the_layer_and_shapes() -> None:
    layer = nn.Conv2d(3, 4, 3, rng=rng())
    with pytest.raises(
        ValueError, match=r"Conv2d: expected an input \(N, 3, \.\.\.\).*\(2, 2, 5, 5\)"
    ):
        layer(np.zeros((2, 2, 5, 5)))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match='only "zeros" padding mode is supported'):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"conv2d: the kernel \(3, 3\).*larger than the padded"):
        layer(np.zeros((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv2d(np.zeros((1, 3, 5, 5)), layer.weight, stride=2, padding="same")


@pytest.mark.parametrize(
    ("mode", "numpys"),
    [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap"), ("zeros", "constant")],
)
@pytest.mark.parametrize("padding", [(1, 2), "same"])
def test_a_padding_mode_pads_the_input_before_an_unpadded_convolution(
    mode: str, numpys: str, padding: object
) -> None:
    layer = nn.Conv2d(2, 3, (3, 4), padding=padding, padding_mode=mode, rng=rng())
    x = np.random.default_rng(3).standard_normal((2, 2, 5, 6))
    pairs = ((1, 1), (2, 2)) if padding == (1, 2) else ((1, 1), (1, 2))  # "same": extra after
    reference = F.conv2d(np.pad(x, ((0, 0), (0, 0), *pairs), numpys), layer.weight, layer.bias)
    np.testing.assert_allclose(layer(x).data, reference.data, rtol=1e-13, atol=1e-14)
    t = leaf(x)
    check_grads(lambda: (layer(t) ** 2).sum(), [t, layer.weight])


def test_repr_shows_pytorch_style_settings() -> None:
    text = repr(nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False))
    assert text == "Conv2d(1, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)"


# ---------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------
def test_max_pool_gradient_goes_to_the_first_maximum_of_each_window() -> None:
    x = leaf(np.array([[[[1.0, 1.0, 0.0, 2.0], [0.0, 1.0, 2.0, 2.0]]]]))
    out = nn.MaxPool2d(2)(x)
    np.testing.assert_array_equal(out.data, [[[[1.0, 2.0]]]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]]])


def test_max_pool_indices_are_flat_positions_per_channel() -> None:
    x = rng().standard_normal((2, 3, 4, 6))
    out, indices = nn.MaxPool2d(2, return_indices=True)(x)
    picked = np.take_along_axis(x.reshape(2, 3, -1), indices.data.reshape(2, 3, -1), axis=2)
    np.testing.assert_array_equal(picked.reshape(out.shape), out.data)


def test_avg_pool_count_include_pad_changes_the_border_divisor() -> None:
    x = np.ones((1, 1, 3, 3))
    with_pad = nn.AvgPool2d(3, stride=1, padding=1)(x).data[0, 0]
    without = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)(x).data[0, 0]
    assert with_pad[0, 0] == pytest.approx(4 / 9)
    assert with_pad[1, 1] == pytest.approx(1.0)
    np.testing.assert_allclose(without, np.ones((3, 3)), rtol=1e-15)


def test_adaptive_avg_pool_to_one_is_the_global_mean() -> None:
    x = rng().standard_normal((2, 3, 5, 7))
    out = nn.AdaptiveAvgPool2d(1)(x)
    np.testing.assert_allclose(out.data[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-13)
    assert nn.AdaptiveAvgPool2d((None, 2))(x).shape == (2, 3, 5, 2)


def test_pooling_errors_name_the_operator() -> None:
    with pytest.raises(ValueError, match="max_pool2d: padding 2 must be at most half"):
        F.max_pool2d(np.zeros((1, 1, 6, 6)), 3, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool2d: expected a 4-D input"):
        F.avg_pool2d(np.zeros((6, 6)), 2)
    with pytest.raises(TypeError, match="max_pool2d: input must be floating point"):
        F.max_pool2d(np.zeros((1, 1, 4, 4), dtype=np.int64), 2)


# ---------------------------------------------------------------------------------------
# Batch normalisation
# ---------------------------------------------------------------------------------------
def test_batch_norm_training_normalises_and_updates_running_stats() -> None:
    layer = nn.BatchNorm2d(3, momentum=0.2)
    x = rng().standard_normal((4, 3, 2, 2)) * 3 + 1
    out = layer(x).data
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-4)  # eps = 1e-5
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3), ddof=1)  # unbiased, as PyTorch
    np.testing.assert_allclose(layer.running_mean, 0.2 * mean, rtol=1e-13)
    np.testing.assert_allclose(layer.running_var, 0.8 + 0.2 * var, rtol=1e-13)
    assert int(layer.num_batches_tracked) == 1


def test_batch_norm_eval_uses_the_running_stats() -> None:
    layer = nn.BatchNorm1d(2)
    layer.running_mean[...] = [1.0, -1.0]
    layer.running_var[...] = [4.0, 0.25]
    layer.eval()
    x = np.array([[3.0, 0.0], [1.0, -1.0]])
    expected = (x - [1.0, -1.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-14)
    assert int(layer.num_batches_tracked) == 0  # evaluation tracks nothing


def test_batch_norm_momentum_none_is_a_cumulative_average() -> None:
    layer = nn.BatchNorm1d(1, momentum=None)
    batches = [rng(i).standard_normal((5, 1)) for i in range(3)]
    for b in batches:
        layer(b)
    np.testing.assert_allclose(
        layer.running_mean, np.mean([b.mean() for b in batches]), rtol=1e-12
    )


def test_batch_norm_state_round_trips_through_a_checkpoint(tmp_path: object) -> None:
    layer = nn.BatchNorm2d(2)
    layer(rng().standard_normal((3, 2, 2, 2)))
    path = f"{tmp_path}/bn.sgz"
    nn.save(layer.state_dict(), path)
    other = nn.BatchNorm2d(2)
    other.load_state_dict(nn.load(path))
    np.testing.assert_array_equal(other.running_var, layer.running_var)
    assert int(other.num_batches_tracked) == 1
    assert list(layer.state_dict()) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked",
    ]  # fmt: skip


def test_batch_norm_loads_a_checkpoint_into_its_own_dtypes() -> None:
    """As PyTorch's copy_: a float32 (or integer) checkpoint gives a float64 layer float64
    running statistics and an int64 count, and training goes on in float64."""
    layer = nn.BatchNorm2d(3)
    layer.load_state_dict({
        "weight": np.ones(3, np.float32), "bias": np.zeros(3, np.float32),
        "running_mean": [0, 0, 0], "running_var": np.full(3, 2.0, np.float32),
        "num_batches_tracked": 4.0,
    })  # fmt: skip
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float64
    assert layer.num_batches_tracked.dtype == np.int64
    assert int(layer.num_batches_tracked) == 4
    layer(rng().standard_normal((4, 3, 2, 2)))  # an integer buffer would not take the update
    assert layer.running_var.dtype == np.float64
    assert int(layer.num_batches_tracked) == 5
    assert layer.state_dict()["running_var"].dtype == np.float64


def test_batch_norm_checkpoint_without_the_count_keeps_it() -> None:
    """PyTorch's batch norm accepts a state dict without num_batches_tracked (an older
    one's) and keeps its own count."""
    layer = nn.BatchNorm1d(2)
    layer(rng().standard_normal((4, 2)))
    state = layer.state_dict()
    del state["num_batches_tracked"]
    state["running_mean"] = np.array([1.0, 2.0])
    assert repr(layer.load_state_dict(state)) == "<All keys matched successfully>"
    np.testing.assert_array_equal(layer.running_mean, [1.0, 2.0])
    assert int(layer.num_batches_tracked) == 1
    with pytest.raises(nn.CheckpointError, match="missing keys: running_var"):
        layer.load_state_dict({k: v for k, v in state.items() if k != "running_var"})


def test_batch_norm_of_a_float32_input_with_float64_weights_is_float64_in_both_modes() -> None:
    layer = nn.BatchNorm2d(2)
    x = Tensor(rng().standard_normal((3, 2, 2, 2)).astype(np.float32), requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert out.dtype == np.float64
    assert x.grad.dtype == np.float32
    assert layer.eval()(x).dtype == np.float64


def test_batch_norm_bad_input_changes_nothing() -> None:
    layer = nn.BatchNorm2d(3)
    before = layer.running_mean.copy()
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 2D"):
        layer(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="expected more than 1 value per channel"):
        layer(np.zeros((1, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"batch_norm: weight must have shape \(3,\)"):
        F.batch_norm(np.zeros((4, 3, 2, 2)), layer.running_mean, layer.running_var,
                     np.ones(2), training=True)  # fmt: skip
    np.testing.assert_array_equal(layer.running_mean, before)
    assert int(layer.num_batches_tracked) == 0


def test_batch_norm_without_tracking_uses_batch_stats_in_eval() -> None:
    layer = nn.BatchNorm1d(2, track_running_stats=False, affine=False)
    layer.eval()
    x = rng().standard_normal((6, 2))
    np.testing.assert_allclose(layer(x).data.mean(axis=0), 0, atol=1e-12)
    assert list(layer.state_dict()) == []


# ---------------------------------------------------------------------------------------
# Dropout2d
# ---------------------------------------------------------------------------------------
def test_dropout2d_zeroes_whole_channels() -> None:
    layer = nn.Dropout2d(0.5, rng=rng())
    out = layer(np.ones((8, 6, 3, 3))).data
    per_channel = out.reshape(8, 6, -1)
    assert np.all((per_channel == 0).all(axis=2) | (per_channel == 2).all(axis=2))
    assert 0 < (per_channel[..., 0] == 0).mean() < 1
    layer.eval()
    x = Tensor(np.ones((2, 3, 2, 2)))
    assert layer(x) is x


def test_dropout2d_reads_a_3d_input_as_batch_channels_length() -> None:
    out = F.dropout2d(np.ones((6, 5, 4)), 0.5, rng=rng()).data
    assert np.all((out == out[:, :, :1]).all(axis=2))  # one draw per (sample, channel)
    assert 0 < (out[:, :, 0] == 0).mean() < 1


def test_conv_layer_arguments_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match="Conv2d: padding must be ints or 'same' or 'valid'"):
        nn.Conv2d(1, 2, 3, padding="full")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(1, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="ConvTranspose2d: padding must be ints, got 'same'"):
        nn.ConvTranspose2d(1, 2, 3, padding="same")
    layer = nn.ConvTranspose2d(1, 1, 3, stride=2, rng=rng())
    with pytest.raises(ValueError, match=r"output_size must have 2 or 4 elements .*, got \(10,\)"):
        layer(np.ones((1, 1, 4, 4)), output_size=(10,))
    assert layer(np.ones((1, 1, 4, 4)), output_size=(1, 1, 10, 10)).shape == (1, 1, 10, 10)
