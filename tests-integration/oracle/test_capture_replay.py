"""A captured training step replayed 100 times leaves every parameter bit-identical to 100
eager steps: the three benchmark MLPs in both spellings and a CNN, with SGD, Adam, AdamW.

The eager run is the reference: the oracle suite checks it against PyTorch elsewhere
(trajectory parity); here the replay must not differ from it in a single bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import sg_nn as nn
import sg_optim
import sg_tensor as st
from sg_nn import functional as F
from sg_tensor import Tensor
from sg_verify.cnn_trajectory import make_images, sg_cnn

STEPS = 100
SIZES = {  # the benchmark's MLP steps: widths and batch
    "2-16-16-1": ((2, 16, 16, 1), 100),
    "64-256-256-10": ((64, 256, 256, 10), 256),
    "784-1024-1024-10": ((784, 1024, 1024, 10), 512),
}
OPTIMIZERS: dict[str, Callable[[Any], Any]] = {
    "SGD": lambda params: sg_optim.SGD(params, lr=0.01, momentum=0.9),
    "Adam": lambda params: sg_optim.Adam(params, lr=1e-3),
    "AdamW": lambda params: sg_optim.AdamW(params, lr=1e-3, weight_decay=0.01),
}


def mlp(widths: tuple[int, ...], seed: int) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(fan_in, fan_out, rng=rng))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def raw_loss(model: nn.Sequential) -> Callable[[Tensor, Tensor], Tensor]:
    """The same network spelled ``h @ W.T + b`` on its parameters, no layers."""
    params = list(model.parameters())

    def loss(x: Tensor, y: Tensor) -> Tensor:
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i].T + params[i + 1]
            if i + 2 < len(params):
                h = h.relu()
        d = h - y
        return (d * d).mean()

    return loss


def layer_loss(model: nn.Sequential) -> Callable[[Tensor, Tensor], Tensor]:
    return lambda x, y: F.mse_loss(model(x), y)


def training_step(loss_of: Callable[..., Tensor], opt: Any) -> Callable[..., Tensor]:
    def step(x: Tensor, y: Any) -> Tensor:
        opt.zero_grad()
        loss = loss_of(x, y)
        loss.backward()
        opt.step()
        return loss

    return step


def same_bits(a: nn.Module, b: nn.Module) -> list[str]:
    """The names of the parameters and buffers that differ in any bit."""
    left, right = a.state_dict(), b.state_dict()
    return [k for k in left if np.asarray(left[k]).tobytes() != np.asarray(right[k]).tobytes()]


def replay_against_eager(
    make_model: Callable[[], nn.Module], loss: Callable[[nn.Module], Any], optimizer: str,
    batches: list[tuple[Tensor, Any]],
) -> None:  # fmt: skip
    eager_model, captured_model = make_model(), make_model()
    eager = training_step(loss(eager_model), OPTIMIZERS[optimizer](eager_model.parameters()))
    captured = st.capture(
        training_step(loss(captured_model), OPTIMIZERS[optimizer](captured_model.parameters()))
    )
    for step, (x, y) in enumerate(batches):
        expected, got = eager(x, y), captured(x, y)
        assert got.data.tobytes() == expected.data.tobytes(), f"loss differs at step {step}"
    assert (captured.captures, captured.replays) == (1, len(batches) - 1)
    assert same_bits(eager_model, captured_model) == []


def mlp_batches(widths: tuple[int, ...], batch: int, steps: int) -> list[tuple[Tensor, Tensor]]:
    rng = np.random.default_rng(len(widths) + batch)
    pool = [(Tensor(rng.standard_normal((batch, widths[0]))),
             Tensor(rng.standard_normal((batch, widths[-1])))) for _ in range(4)]  # fmt: skip
    return [pool[i % len(pool)] for i in range(steps)]


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize(
    ("size", "spelling"),
    [("2-16-16-1", "layers"), ("2-16-16-1", "matmul"), ("64-256-256-10", "layers"),
     ("64-256-256-10", "matmul"), ("784-1024-1024-10", "layers")],
)  # fmt: skip
def test_replayed_mlp_steps_are_bit_identical(size: str, spelling: str, optimizer: str) -> None:
    widths, batch = SIZES[size]
    loss = layer_loss if spelling == "layers" else raw_loss
    replay_against_eager(
        lambda: mlp(widths, seed=3), loss, optimizer, mlp_batches(widths, batch, STEPS)
    )


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_replayed_cnn_steps_are_bit_identical(optimizer: str) -> None:
    """conv -> batch norm -> relu -> max pool, twice, then linear: the parameters, the
    running statistics and the batch count all bit-identical after 100 steps."""
    images, labels = make_images(128, seed=5)
    batches = [(Tensor(images[i : i + 32]), labels[i : i + 32]) for i in range(0, 128, 32)]
    replay_against_eager(
        lambda: sg_cnn(seed=1),
        lambda model: lambda x, y: F.cross_entropy(model(x), y),
        optimizer,
        [batches[i % len(batches)] for i in range(STEPS)],
    )


def test_a_scheduler_and_gradient_clipping_are_replayed() -> None:
    def run(capture: bool) -> nn.Module:
        model = mlp((4, 8, 2), seed=0)
        opt = sg_optim.SGD(model.parameters(), lr=0.1)
        sched = sg_optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)

        def step(x: Tensor, y: Tensor) -> Tensor:
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            sched.step()
            return loss

        run_step = st.capture(step) if capture else step
        for x, y in mlp_batches((4, 8, 2), 16, 12):
            run_step(x, y)
        assert opt.param_groups[0]["lr"] == 0.1 * 0.5**4
        return model

    assert same_bits(run(False), run(True)) == []


def test_dropout_in_training_mode_is_refused_and_evaluation_mode_replays() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
    x, y = mlp_batches((4, 1), 16, 1)[0]
    with pytest.raises(st.CaptureError, match="random numbers"):
        st.capture(lambda x, y: F.mse_loss(model(x), y))(x, y)
    model.eval()
    captured = st.capture(lambda x, y: F.mse_loss(model(x), y))
    for x, y in mlp_batches((4, 1), 16, 3):
        assert captured(x, y).item() == F.mse_loss(model(x), y).item()
