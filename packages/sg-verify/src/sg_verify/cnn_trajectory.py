"""Training-trajectory parity for a small CNN: sg and PyTorch, step by step.

The same idea as :mod:`sg_verify.trajectory`, on a convolutional network: convolution,
batch normalisation (training mode, its running statistics updated every step), ReLU,
max pooling, a second convolution block, a linear head and cross-entropy, trained with
the same optimizer on the same minibatches in sg and in PyTorch (float64). At every step
the losses, every gradient (before the update), every parameter (after it) and every
running statistic are compared. The images are synthetic, 1 x 8 x 8 like scikit-learn's
digits: three classes, each a random template plus noise, drawn from the seed.

PyTorch is imported only when a comparison runs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import sg_nn as nn
import sg_optim
import sg_tensor as st
from sg_verify.pytorch import torch_threads as threads
from sg_verify.tolerances import TRAJECTORY
from sg_verify.trajectory import (
    TrajectoryResult,
    _hyperparameters,
    _max_abs,
    gradient_difference,
    parameter_difference,
    step_both,
)

__all__ = ["CNN_OPTIMIZERS", "CNN_STEPS", "make_images", "run_cnn_trajectory", "sg_cnn"]

CNN_STEPS = 100
"""The acceptance run's length."""
CNN_OPTIMIZERS = ("sgd", "sgd_nesterov", "adam", "adamw")
"""The optimizers the report and the oracle suite train the CNN with."""
CHANNELS = (1, 4, 8)
CLASSES = 3


def make_images(
    n: int = 256, seed: int = 0, classes: int = CLASSES
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (n, 1, 8, 8) and their labels: each class a random template plus
    noise, everything drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    templates = rng.standard_normal((classes, 1, 8, 8))
    labels = rng.integers(0, classes, n)
    images = templates[labels] + 0.8 * rng.standard_normal((n, 1, 8, 8))
    return images, labels


def sg_cnn(seed: int = 0) -> nn.Sequential:
    """conv(3x3) -> batch norm -> ReLU -> max pool, twice, then a linear head: the layers
    named and laid out as PyTorch's ``nn.Sequential`` of the same modules.

    The convolutions have no bias, as is usual before batch norm: a bias there has a
    gradient of exactly zero in exact arithmetic (the normalisation subtracts it again),
    so its computed gradient is rounding noise, which Adam's normalised step turns into
    steps of size ``lr`` in random directions: two correct implementations then drift
    apart in that parameter alone."""
    rng = np.random.default_rng(seed)
    c0, c1, c2 = CHANNELS
    return nn.Sequential(
        nn.Conv2d(c0, c1, 3, padding=1, bias=False, rng=rng), nn.BatchNorm2d(c1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1, bias=False, rng=rng), nn.BatchNorm2d(c2), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 2 * 2, CLASSES, rng=rng),
    )  # fmt: skip


def _torch_cnn(torch: Any, state: dict[str, np.ndarray]) -> Any:
    """The same network in PyTorch (float64), holding exactly ``state``."""
    c0, c1, c2 = CHANNELS
    t = torch.nn
    model = t.Sequential(
        t.Conv2d(c0, c1, 3, padding=1, bias=False), t.BatchNorm2d(c1), t.ReLU(), t.MaxPool2d(2),
        t.Conv2d(c1, c2, 3, padding=1, bias=False), t.BatchNorm2d(c2), t.ReLU(), t.MaxPool2d(2),
        t.Flatten(), t.Linear(c2 * 2 * 2, CLASSES),
    ).double()  # fmt: skip
    if list(state) != list(model.state_dict()):
        raise RuntimeError(f"cnn trajectory: sg's state names {list(state)} differ from "
                           f"PyTorch's {list(model.state_dict())}")  # fmt: skip
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return model


def _buffers(model: Any) -> dict[str, np.ndarray]:
    """The floating-point buffers (running statistics) of an sg or a torch model."""
    out = {}
    for name, value in model.named_buffers():
        array = np.asarray(value.detach().numpy() if hasattr(value, "detach") else value)
        if array.dtype.kind == "f":
            out[name] = array
    return out


def run_cnn_trajectory(
    optimizer: str = "adam",
    steps: int = CNN_STEPS,
    seed: int = 0,
    *,
    batch_size: int = 32,
    n_samples: int = 256,
    hyperparameters: dict[str, Any] | None = None,
    tolerance: float = TRAJECTORY,
    torch_threads: int | None = 1,
) -> TrajectoryResult:
    """Train the CNN in sg and in PyTorch for ``steps`` steps and compare every step.

    ``optimizer`` is a key of :data:`sg_verify.trajectory.OPTIMIZERS`. The result's
    ``extra`` holds ``max_buffer_diff``, the largest running-statistic difference.
    """
    class_name, hyper = _hyperparameters(optimizer, hyperparameters)
    images, labels = make_images(n_samples, seed)
    order = np.random.default_rng(seed + 1)
    per_epoch = n_samples // batch_size
    n_epochs = -(-steps // per_epoch)
    epochs = [order.permutation(n_samples)[: per_epoch * batch_size] for _ in range(n_epochs)]
    batches = np.concatenate(epochs)[: steps * batch_size].reshape(steps, batch_size)
    model = sg_cnn(seed)
    opt = getattr(sg_optim, class_name)(model.parameters(), **hyper)
    with threads(torch_threads) as torch:
        tmodel = _torch_cnn(torch, model.state_dict())
        torch_hyper = {**hyper, "betas": tuple(hyper["betas"])} if "betas" in hyper else hyper
        topt = getattr(torch.optim, class_name)(tmodel.parameters(), foreach=False, **torch_hyper)
        names = [name for name, _ in model.named_parameters()]
        t_params = dict(tmodel.named_parameters())
        x_t, y_t = torch.from_numpy(images), torch.from_numpy(labels)

        def full_loss(on_sg: bool) -> float:  # the whole set, evaluation mode
            model.eval()
            tmodel.eval()
            with st.no_grad(), torch.no_grad():
                value = (
                    nn.functional.cross_entropy(model(images), labels).item()
                    if on_sg
                    else torch.nn.functional.cross_entropy(tmodel(x_t), y_t).item()
                )
            model.train()
            tmodel.train()
            return float(value)

        initial = full_loss(True)
        sg_loss, torch_loss = np.empty(steps), np.empty(steps)
        grad_diff, param_diff, param_rel = np.zeros(steps), np.zeros(steps), np.zeros(steps)
        param_max = dict.fromkeys(names, 0.0)
        buffer_diff = 0.0
        seconds_sg = seconds_torch = 0.0
        with torch.enable_grad():
            for step, rows in enumerate(batches):
                start = time.perf_counter()
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(images[rows]), labels[rows])
                loss.backward()
                sg_loss[step] = float(loss.item())
                seconds_sg += time.perf_counter() - start
                start = time.perf_counter()
                topt.zero_grad(set_to_none=True)
                idx = torch.from_numpy(rows)
                tl = torch.nn.functional.cross_entropy(tmodel(x_t[idx]), y_t[idx])
                tl.backward()
                torch_loss[step] = float(tl.item())
                seconds_torch += time.perf_counter() - start
                pairs = [(n, p, t_params[n]) for n, p in model.named_parameters()]
                grad_diff[step] = gradient_difference(pairs)
                sg_s, torch_s = step_both(opt, topt)
                seconds_sg, seconds_torch = seconds_sg + sg_s, seconds_torch + torch_s
                param_diff[step], param_rel[step] = parameter_difference(pairs, param_max)
                theirs = _buffers(tmodel)
                for name, mine in _buffers(model).items():
                    buffer_diff = max(buffer_diff, _max_abs(mine, theirs[name])[0])
        final_sg, final_torch = full_loss(True), full_loss(False)
        return TrajectoryResult(
            optimizer=optimizer, optimizer_class=class_name, hyperparameters=hyper,
            loss="cross_entropy", sizes=list(CHANNELS) + [CLASSES], activation="relu",
            steps=steps, seed=seed, batch_size=batch_size, sg_loss=sg_loss,
            torch_loss=torch_loss, loss_diff=np.abs(sg_loss - torch_loss), grad_diff=grad_diff,
            param_diff=param_diff, param_rel_diff=param_rel, param_max_diff=param_max,
            initial_full_loss=initial, final_full_loss_sg=final_sg,
            final_full_loss_torch=final_torch, torch_version=str(torch.__version__),
            seconds_sg=seconds_sg, seconds_torch=seconds_torch, tolerance=tolerance,
            extra={"model": "cnn", "max_buffer_diff": buffer_diff},
        )  # fmt: skip
