"""Convolutional networks against PyTorch (float64): the CNN trajectory and the layers.

The operators (conv2d, conv_transpose2d, pooling, batch_norm) are in the registry and
checked by ``test_ops.py`` and ``test_second_order.py``; here, what the layers add to
them (initial layouts, modes, running statistics, ``output_size``, indices) and a whole
CNN trained for 100 steps in lockstep with PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the oracle suite needs PyTorch (torch==2.13.0)")

import sg_nn as nn  # noqa: E402
from sg_verify.cnn_trajectory import (  # noqa: E402
    CNN_OPTIMIZERS,
    CNN_STEPS,
    make_images,
    run_cnn_trajectory,
)
from sg_verify.tolerances import TRAJECTORY  # noqa: E402


@pytest.mark.parametrize("optimizer", CNN_OPTIMIZERS)
def test_cnn_trajectory_parity(optimizer: str) -> None:
    result = run_cnn_trajectory(optimizer, steps=CNN_STEPS)
    buffers = result.extra["max_buffer_diff"]
    print(
        f"\ncnn {optimizer}: {result.steps} steps, max |dloss| {result.max_loss_diff:.2e}, "
        f"|dgrad| {result.max_grad_diff:.2e}, |dparam| {result.max_param_diff:.2e}, "
        f"|drunning| {buffers:.2e}; loss {result.initial_full_loss:.4f} -> "
        f"{result.final_full_loss_sg:.4f}"
    )
    assert result.steps == CNN_STEPS
    checks = {"loss": result.max_loss_diff, "gradient": result.max_grad_diff,
              "parameter": result.max_param_diff, "running stat": buffers}  # fmt: skip
    for what, worst in checks.items():
        assert worst <= TRAJECTORY, f"{optimizer}: {what} differs by {worst:.3e}"
    assert result.final_full_loss_sg < 0.5 * result.initial_full_loss  # it learned


def test_cnn_trajectory_notices_a_different_run() -> None:
    result = run_cnn_trajectory("sgd", steps=5, hyperparameters={"lr": 0.1})
    other = run_cnn_trajectory("sgd", steps=5, hyperparameters={"lr": 0.1 * (1 + 1e-6)})
    assert np.abs(result.sg_loss - other.sg_loss).max() > 1e-9


def _copy(module: Any, tmodule: Any) -> None:
    state = module.state_dict()
    tmodule.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})


def test_batch_norm_layers_track_running_stats_like_pytorch() -> None:
    rng = np.random.default_rng(0)
    for layer, tlayer, shape in (
        (nn.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None), (5, 3, 4)),
        (nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3), (6, 3)),
        (nn.BatchNorm2d(2, affine=False), torch.nn.BatchNorm2d(2, affine=False), (3, 2, 2, 2)),
    ):
        tlayer = tlayer.double()
        for step in range(4):
            x = rng.standard_normal(shape) * (step + 1)
            if step == 3:
                layer.eval()
                tlayer.eval()
            out, tout = layer(x), tlayer(torch.from_numpy(x))
            np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-13, atol=1e-14)
        for name, value in tlayer.state_dict().items():
            np.testing.assert_allclose(np.asarray(layer.state_dict()[name]), value.numpy(),
                                       rtol=1e-13, err_msg=name)  # fmt: skip


def test_conv_transpose_output_size_and_max_pool_indices_match_pytorch() -> None:
    rng = np.random.default_rng(1)
    layer = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, rng=rng)
    tlayer = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    _copy(layer, tlayer)
    x = rng.standard_normal((2, 3, 4, 5))
    for size in (None, (8, 9), (7, 10)):
        out = layer(x, output_size=size)
        tout = tlayer(torch.from_numpy(x), output_size=size)
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-13, atol=1e-14)
    images, _ = make_images(4)
    images = np.round(images)  # ties inside windows
    out, indices = nn.MaxPool2d(3, 2, 1, return_indices=True)(images)
    tout, tindices = torch.nn.MaxPool2d(3, 2, 1, return_indices=True)(torch.from_numpy(images))
    np.testing.assert_array_equal(indices.data, tindices.numpy())
    np.testing.assert_array_equal(out.data, tout.numpy())


def test_conv_layer_initialisation_has_pytorchs_bounds() -> None:
    for layer, tlayer in ((nn.Conv2d(3, 5, (2, 3), groups=1), torch.nn.Conv2d(3, 5, (2, 3))),
                          (nn.ConvTranspose2d(4, 6, 3, groups=2),
                           torch.nn.ConvTranspose2d(4, 6, 3, groups=2))):  # fmt: skip
        assert layer.weight.shape == tuple(tlayer.weight.shape)
        bound = float(tlayer.weight.detach().abs().max())  # about 1/sqrt(fan_in)
        fan_in = tlayer.weight.shape[1] * np.prod(tlayer.weight.shape[2:])
        assert bound <= 1 / np.sqrt(fan_in)
        assert np.abs(layer.weight.data).max() <= 1 / np.sqrt(fan_in)
        assert np.abs(layer.bias.data).max() <= 1 / np.sqrt(fan_in)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    ("layers", "shape", "kwargs"),
    [
        ((torch.nn.Conv2d, nn.Conv2d), (2, 3, 6, 7), {"kernel_size": 3, "padding": (1, 2)}),
        ((torch.nn.Conv2d, nn.Conv2d), (2, 3, 6, 7),
         {"kernel_size": (3, 4), "padding": "same", "dilation": (1, 2)}),
        ((torch.nn.Conv1d, nn.Conv1d), (2, 3, 9), {"kernel_size": 3, "padding": 2, "stride": 2}),
    ],
)  # fmt: skip
def test_conv_padding_modes_and_pad_match_pytorch(
    mode: str, layers: Any, shape: tuple[int, ...], kwargs: dict[str, Any]
) -> None:
    rng = np.random.default_rng(0)
    theirs = layers[0](3, 4, padding_mode=mode, dtype=torch.float64, **kwargs)
    ours = layers[1](3, 4, padding_mode=mode, dtype=np.float64, **kwargs)
    ours.weight.data[...] = theirs.weight.detach().numpy()
    ours.bias.data[...] = theirs.bias.detach().numpy()
    x = rng.standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    out = theirs(tx)
    g = rng.standard_normal(tuple(out.shape))
    (out * torch.tensor(g)).sum().backward()
    sx = nn.Parameter(x)
    mine = ours(sx)
    (mine * g).sum().backward()
    np.testing.assert_allclose(mine.data, out.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(sx.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(
        ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-12, atol=1e-12
    )
    widths = (2, 1) if x.ndim == 3 else (2, 1, 1, 0)  # PyTorch: as many dims as the conv's
    padded = torch.nn.functional.pad(torch.tensor(x), widths, mode=mode).numpy()
    np.testing.assert_array_equal(nn.functional.pad(x, widths, mode=mode).data, padded)
