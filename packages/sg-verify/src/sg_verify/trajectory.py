"""Training-trajectory parity: train the same MLP in sg and in PyTorch, compare every step.

The per-operator oracles (finite differences, PyTorch autograd) check each gradient rule
in isolation, at one point. A training trajectory checks everything those tests cannot
see, together and over time:

* the **optimizer formulas** (momentum, Nesterov, bias correction, decoupled weight
  decay) and the exact order of their floating-point operations;
* the **optimizer state**: momentum buffers and moment estimates created on the first
  step, updated in place, never aliased to a gradient or a parameter;
* **gradient handling across steps**: ``zero_grad`` really clears, gradients of a
  parameter used twice accumulate, nothing leaks from one step into the next;
* the **losses and layers** composed as a user composes them (``Linear`` weights laid
  out ``(out, in)``, a mean reduction, integer class targets), forward and backward.

Any mistake in one of them, even one that changes a single step by a relative ``1e-8``,
shows up as a loss difference that training then carries forward and usually amplifies,
so agreement to ``1e-10`` after 200 steps is strong evidence that the whole training
loop computes what PyTorch computes.

How the two runs are kept identical:

* the sg model is built from a seeded numpy ``Generator`` and its ``state_dict`` is
  copied into a float64 ``torch.nn.Sequential`` whose parameter names and layouts are
  the same (``"0.weight"`` of shape ``(out, in)``, ...);
* the minibatch indices for all steps are drawn once with numpy and fed to both;
* the optimizers get the same hyperparameters, and PyTorch's single-tensor path
  (``foreach=False``), whose arithmetic sg-optim follows operation by operation;
* both sides step in lockstep, and at every step the losses, the gradients (before the
  update) and the parameters (after it) are compared, so a disagreement can be placed
  precisely: forward (loss), backward (gradients) or update (parameters).

PyTorch is imported only when a comparison runs: ``pip install "sg-verify[torch]"``.
:func:`run_sg_trajectory` trains the sg side alone and needs no PyTorch.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import sg_nn as nn
import sg_optim
import sg_tensor as st
from sg_verify.output import jsonable
from sg_verify.pytorch import torch_threads as threads
from sg_verify.tolerances import TRAJECTORY

__all__ = [
    "ACCEPTANCE_OPTIMIZERS",
    "LOSSES",
    "LOSS_TOLERANCE",
    "OPTIMIZERS",
    "Problem",
    "TrajectoryResult",
    "format_table",
    "make_problem",
    "run_all",
    "run_sg_trajectory",
    "run_trajectory",
]

#: The acceptance bound on the largest loss difference over a trajectory.
LOSS_TOLERANCE = TRAJECTORY

#: Optimizer name -> (class name, in both ``sg_optim`` and ``torch.optim``; hyperparameters).
OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4}),
    "sgd_nesterov": (
        "SGD",
        {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": True},
    ),
    "adam": ("Adam", {"lr": 1e-2, "betas": (0.9, 0.999), "eps": 1e-8}),
    "adamw": ("AdamW", {"lr": 1e-2, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2}),
    "rmsprop": ("RMSprop", {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8}),
    "adagrad": ("Adagrad", {"lr": 1e-1, "lr_decay": 0.0, "eps": 1e-10}),
}

#: The supported losses; each comes with its own dataset and output size.
LOSSES = ("cross_entropy", "bce", "mse")

_ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


# -- the problem: data, targets and the minibatch sequence ------------------------------
@dataclass(frozen=True)
class Problem:
    """A dataset, the MLP sizes for it and the minibatch indices of every step."""

    loss: str
    X: np.ndarray
    y: np.ndarray
    sizes: list[int]
    batches: np.ndarray  # (steps, batch_size) row indices into X
    model_seed: np.random.SeedSequence


def make_problem(
    loss: str = "cross_entropy",
    steps: int = 200,
    seed: int = 0,
    hidden: Sequence[int] = (32, 32),
    n_samples: int = 300,
    batch_size: int = 32,
) -> Problem:
    """The data, model sizes and batch sequence for ``loss``, all from ``seed``.

    * ``"cross_entropy"``: three interleaved spirals, 3 logits, integer class targets;
    * ``"bce"``: two moons, 1 logit, targets 0.0 / 1.0;
    * ``"mse"``: regression of ``sin(3 x0) cos(3 x1)`` on noisy spiral points, 1 output.

    Batches are epochs of random permutations cut into ``batch_size`` rows (the last,
    short batch of each epoch dropped), so every step sees a full batch.
    """
    if loss not in LOSSES:
        raise ValueError(f"make_problem: loss must be one of {LOSSES}, got {loss!r}")
    if steps <= 0:
        raise ValueError(f"make_problem: steps must be positive, got {steps}")
    if not 0 < batch_size <= n_samples:
        raise ValueError(
            f"make_problem: batch_size must be in [1, n_samples={n_samples}], got {batch_size}"
        )
    data_seed, model_seed, batch_seed = np.random.SeedSequence(seed).spawn(3)
    data_rng = np.random.default_rng(data_seed)
    X: np.ndarray
    y: np.ndarray
    if loss == "cross_entropy":
        X, y = nn.data.make_spirals(n_samples, n_classes=3, noise=0.02, rng=data_rng)
        n_out = 3
    elif loss == "bce":
        X, labels = nn.data.make_moons(n_samples, noise=0.1, rng=data_rng)
        y = labels.astype(np.float64)
        n_out = 1
    else:
        X, _ = nn.data.make_spirals(n_samples, n_classes=2, noise=0.05, rng=data_rng)
        y = np.sin(3 * X[:, 0]) * np.cos(3 * X[:, 1])
        n_out = 1
    per_epoch = n_samples // batch_size
    epochs = -(-steps // per_epoch)
    batch_rng = np.random.default_rng(batch_seed)
    order = np.concatenate(
        [batch_rng.permutation(n_samples)[: per_epoch * batch_size] for _ in range(epochs)]
    )
    batches = order[: steps * batch_size].reshape(steps, batch_size)
    sizes = [X.shape[1], *hidden, n_out]
    return Problem(loss, X.astype(np.float64), y, sizes, batches, model_seed)


# -- the sg side -----------------------------------------------------------------------
def _loss(functional: Any, loss: str, out: Any, target: Any) -> Any:
    """The loss in sg (``functional`` is ``sg_nn``) or in PyTorch (``torch.nn.functional``):
    the two spell these three the same."""
    if loss == "cross_entropy":
        return functional.cross_entropy(out, target)
    if loss == "bce":
        return functional.binary_cross_entropy_with_logits(out.reshape(-1), target)
    return functional.mse_loss(out.reshape(-1), target)


def _hyperparameters(
    optimizer: str, overrides: dict[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            f"trajectory: unknown optimizer {optimizer!r}; choose from {sorted(OPTIMIZERS)}"
        )
    class_name, defaults = OPTIMIZERS[optimizer]
    return class_name, {**defaults, **(overrides or {})}


def _sg_setup(
    problem: Problem, optimizer: str, activation: str, overrides: dict[str, Any] | None
) -> tuple[nn.MLP, Any, dict[str, Any]]:
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"trajectory: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
        )
    class_name, hyper = _hyperparameters(optimizer, overrides)
    model = nn.MLP(
        problem.sizes, activation=activation, rng=np.random.default_rng(problem.model_seed)
    )
    opt = getattr(sg_optim, class_name)(model.parameters(), **hyper)
    return model, opt, hyper


def _sg_loss_and_grads(problem: Problem, model: nn.MLP, opt: Any, rows: np.ndarray) -> float:
    """Clear the gradients, then forward and backward on the batch ``rows``: the loss."""
    opt.zero_grad()
    loss = _loss(nn, problem.loss, model(problem.X[rows]), problem.y[rows])
    loss.backward()
    return float(loss.item())


def _sg_full_loss(problem: Problem, model: nn.MLP) -> float:
    with st.no_grad():
        return float(_loss(nn, problem.loss, model(problem.X), problem.y).item())


def run_sg_trajectory(
    optimizer: str,
    steps: int = 200,
    seed: int = 0,
    *,
    loss: str = "cross_entropy",
    hidden: Sequence[int] = (32, 32),
    activation: str = "relu",
    batch_size: int = 32,
    n_samples: int = 300,
    hyperparameters: dict[str, Any] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Train the sg side alone (no PyTorch): the per-step losses and the final state dict.

    The same model, data and batches as :func:`run_trajectory` with the same arguments,
    so it can be used to check determinism and that training makes progress.
    """
    problem = make_problem(loss, steps, seed, hidden, n_samples, batch_size)
    model, opt, _ = _sg_setup(problem, optimizer, activation, hyperparameters)
    losses = np.empty(steps)
    for t, rows in enumerate(problem.batches):
        losses[t] = _sg_loss_and_grads(problem, model, opt, rows)
        opt.step()
    return losses, model.state_dict()


# -- the PyTorch side ------------------------------------------------------------------
def _torch_model(torch: Any, sizes: Sequence[int], activation: str) -> Any:
    """A float64 ``Sequential`` laid out as sg's ``MLP``; ``skip_init`` leaves the global
    torch RNG untouched (the weights are copied from sg anyway)."""
    layers: list[Any] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.utils.skip_init(torch.nn.Linear, n_in, n_out, dtype=torch.float64))
        if i < len(sizes) - 2:
            layers.append(getattr(torch.nn, _ACTIVATIONS[activation])())
    return torch.nn.Sequential(*layers)


def _torch_copy(
    torch: Any, model: nn.MLP, activation: str, class_name: str, hyper: dict[str, Any]
) -> tuple[Any, Any]:
    """The PyTorch model holding exactly sg's initial weights, and its optimizer."""
    tmodel = _torch_model(torch, model.sizes, activation)
    state = model.state_dict()
    if list(state) != list(tmodel.state_dict()):
        raise RuntimeError(
            f"trajectory: sg parameter names {list(state)} differ from PyTorch's "
            f"{list(tmodel.state_dict())}"
        )
    tmodel.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    for name, tp in tmodel.named_parameters():
        if not np.array_equal(state[name], tp.detach().numpy()):
            raise RuntimeError(f"trajectory: parameter {name} was not copied exactly")
    if "betas" in hyper:
        hyper = {**hyper, "betas": tuple(hyper["betas"])}
    return tmodel, getattr(torch.optim, class_name)(tmodel.parameters(), foreach=False, **hyper)


# -- the comparison --------------------------------------------------------------------
@dataclass
class TrajectoryResult:
    """Per-step comparison of an sg and a PyTorch training run, and its summary.

    Per-step arrays (length ``steps``): ``sg_loss`` and ``torch_loss`` (the minibatch
    loss before the step's update), ``loss_diff`` (their absolute difference),
    ``grad_diff`` (largest absolute gradient difference over all parameters, before the
    update), ``param_diff`` (largest absolute parameter difference after the update) and
    ``param_rel_diff`` (the same, scale-aware: ``|a - b| / max(1, |b|)``).
    """

    optimizer: str
    optimizer_class: str
    hyperparameters: dict[str, Any]
    loss: str
    sizes: list[int]
    activation: str
    steps: int
    seed: int
    batch_size: int
    sg_loss: np.ndarray
    torch_loss: np.ndarray
    loss_diff: np.ndarray
    grad_diff: np.ndarray
    param_diff: np.ndarray
    param_rel_diff: np.ndarray
    param_max_diff: dict[str, float]  # per parameter name, over all steps
    initial_full_loss: float  # sg, whole dataset, before training
    final_full_loss_sg: float  # whole dataset, after training
    final_full_loss_torch: float
    torch_version: str
    seconds_sg: float
    seconds_torch: float
    tolerance: float = LOSS_TOLERANCE
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def max_loss_diff(self) -> float:
        """The largest loss difference over all steps: the acceptance number."""
        return float(self.loss_diff.max())

    @property
    def max_grad_diff(self) -> float:
        return float(self.grad_diff.max())

    @property
    def max_param_diff(self) -> float:
        return float(self.param_diff.max())

    @property
    def max_param_rel_diff(self) -> float:
        return float(self.param_rel_diff.max())

    @property
    def worst_step(self) -> int:
        """The step (0-based) with the largest loss difference."""
        return int(self.loss_diff.argmax())

    @property
    def passed(self) -> bool:
        """Whether the largest loss difference is within the tolerance."""
        return self.max_loss_diff <= self.tolerance

    def first_step_above(self, threshold: float, what: str = "loss") -> int | None:
        """The first step whose ``loss``, ``grad`` or ``param`` difference exceeds
        ``threshold``, or ``None``: where a divergence starts."""
        diffs = {"loss": self.loss_diff, "grad": self.grad_diff, "param": self.param_diff}
        above = np.flatnonzero(diffs[what] > threshold)
        return int(above[0]) if above.size else None

    def summary(self) -> dict[str, Any]:
        """The summary numbers (every field but the per-step arrays), JSON-serialisable."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        summary = {k: v for k, v in fields.items() if not isinstance(v, np.ndarray)}
        extra = summary.pop("extra")
        summary.update(
            max_loss_diff=self.max_loss_diff, max_grad_diff=self.max_grad_diff,
            max_param_diff=self.max_param_diff, max_param_rel_diff=self.max_param_rel_diff,
            worst_step=self.worst_step, first_loss=float(self.sg_loss[0]),
            final_loss_sg=float(self.sg_loss[-1]), final_loss_torch=float(self.torch_loss[-1]),
            passed=self.passed,
        )  # fmt: skip
        return {**jsonable(summary), **jsonable(extra)}

    def to_dict(self, per_step: bool = True) -> dict[str, Any]:
        """The summary and, with ``per_step``, every per-step array as a list of floats."""
        out = self.summary()
        if per_step:
            out["per_step"] = {
                f.name: [float(v) for v in getattr(self, f.name)]
                for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), np.ndarray)
            }
        return out


def _max_abs(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Largest ``|a - b|`` and largest ``|a - b| / max(1, |b|)``."""
    diff = np.abs(a - b)
    if diff.size == 0:
        return 0.0, 0.0
    return float(diff.max()), float((diff / np.maximum(1.0, np.abs(b))).max())


def gradient_difference(pairs: Sequence[tuple[str, Any, Any]]) -> float:
    """The largest gradient difference over ``(name, sg parameter, torch parameter)``."""
    return max(_max_abs(p.grad, tp.grad.numpy())[0] for _, p, tp in pairs)


def step_both(opt: Any, topt: Any) -> tuple[float, float]:
    """Both optimizers take their step: the seconds each took."""
    start = time.perf_counter()
    opt.step()
    middle = time.perf_counter()
    topt.step()
    return middle - start, time.perf_counter() - middle


def parameter_difference(
    pairs: Sequence[tuple[str, Any, Any]], worst: dict[str, float]
) -> tuple[float, float]:
    """The largest parameter difference and relative difference over ``(name, sg
    parameter, torch parameter)``; ``worst`` keeps each parameter's largest so far."""
    largest = relative = 0.0
    for name, p, tp in pairs:
        d, r = _max_abs(p.data, tp.detach().numpy())
        worst[name] = max(worst[name], d)
        largest, relative = max(largest, d), max(relative, r)
    return largest, relative


def run_trajectory(
    optimizer: str,
    steps: int = 200,
    seed: int = 0,
    *,
    loss: str = "cross_entropy",
    hidden: Sequence[int] = (32, 32),
    activation: str = "relu",
    batch_size: int = 32,
    n_samples: int = 300,
    hyperparameters: dict[str, Any] | None = None,
    tolerance: float = LOSS_TOLERANCE,
    torch_threads: int | None = 1,
    torch_hyperparameters: dict[str, Any] | None = None,
) -> TrajectoryResult:
    """Train the same float64 MLP in sg and in PyTorch for ``steps`` steps and compare.

    ``optimizer`` is a key of :data:`OPTIMIZERS` (``"sgd"``, ``"sgd_nesterov"``,
    ``"adam"``, ``"adamw"``, ``"rmsprop"``); ``hyperparameters`` override its defaults
    and are passed unchanged to both ``sg_optim`` and ``torch.optim`` (whose names are
    the same). The initial weights are sg's, copied into PyTorch; the batches are the
    same index arrays. Each step records both minibatch losses, the largest gradient
    difference before the update and the largest parameter difference after it.

    ``torch_hyperparameters`` overrides hyperparameters on the PyTorch side only: a
    deliberately different run, to check that the comparison notices a difference.

    ``torch_threads`` sets PyTorch's intra-op thread count for the run (restored
    afterwards; ``None`` leaves it alone): for matrices this small one thread is many
    times faster than a thread pool, and the reduction order is then fixed.
    """
    with threads(torch_threads) as torch:
        problem = make_problem(loss, steps, seed, hidden, n_samples, batch_size)
        model, opt, hyper = _sg_setup(problem, optimizer, activation, hyperparameters)
        class_name = OPTIMIZERS[optimizer][0]

        torch_hyper = {**hyper, **(torch_hyperparameters or {})}
        tmodel, topt = _torch_copy(torch, model, activation, class_name, torch_hyper)
        names = [name for name, _ in model.named_parameters()]
        sg_params = [p for _, p in model.named_parameters()]
        t_params = dict(tmodel.named_parameters())
        t_list = [t_params[name] for name in names]

        X_t = torch.from_numpy(problem.X)
        y_t = torch.from_numpy(problem.y)
        initial_full_loss = _sg_full_loss(problem, model)

        sg_loss, torch_loss = np.empty(steps), np.empty(steps)
        grad_diff, param_diff, param_rel_diff = np.zeros(steps), np.zeros(steps), np.zeros(steps)
        param_max = dict.fromkeys(names, 0.0)
        seconds_sg = seconds_torch = 0.0
        with torch.enable_grad():
            for t, rows in enumerate(problem.batches):
                start = time.perf_counter()
                sg_loss[t] = _sg_loss_and_grads(problem, model, opt, rows)
                seconds_sg += time.perf_counter() - start

                start = time.perf_counter()
                topt.zero_grad(set_to_none=True)
                idx = torch.from_numpy(rows)
                tl = _loss(torch.nn.functional, problem.loss, tmodel(X_t[idx]), y_t[idx])
                tl.backward()
                torch_loss[t] = float(tl.item())
                seconds_torch += time.perf_counter() - start

                pairs = list(zip(names, sg_params, t_list))
                grad_diff[t] = gradient_difference(pairs)
                sg_s, torch_s = step_both(opt, topt)
                seconds_sg, seconds_torch = seconds_sg + sg_s, seconds_torch + torch_s
                param_diff[t], param_rel_diff[t] = parameter_difference(pairs, param_max)

        with torch.no_grad():
            final_torch = float(_loss(torch.nn.functional, problem.loss, tmodel(X_t), y_t).item())
        return TrajectoryResult(
            optimizer=optimizer, optimizer_class=class_name, hyperparameters=hyper,
            loss=problem.loss, sizes=list(problem.sizes), activation=activation, steps=steps,
            seed=seed, batch_size=batch_size, sg_loss=sg_loss, torch_loss=torch_loss,
            loss_diff=np.abs(sg_loss - torch_loss), grad_diff=grad_diff, param_diff=param_diff,
            param_rel_diff=param_rel_diff, param_max_diff=param_max,
            initial_full_loss=initial_full_loss, final_full_loss_sg=_sg_full_loss(problem, model),
            final_full_loss_torch=final_torch, torch_version=str(torch.__version__),
            seconds_sg=seconds_sg, seconds_torch=seconds_torch, tolerance=tolerance,
            extra={"torch_hyperparameters": torch_hyper} if torch_hyperparameters else {},
        )  # fmt: skip


ACCEPTANCE_OPTIMIZERS = ("sgd", "sgd_nesterov", "adam", "adamw")
"""The optimizers whose trajectories the report and ``sg-verify trajectory`` check."""


def run_all(
    optimizers: Iterable[str] = ACCEPTANCE_OPTIMIZERS, **kwargs: Any
) -> dict[str, TrajectoryResult]:
    """:func:`run_trajectory` for each optimizer (the acceptance set by default)."""
    return {name: run_trajectory(name, **kwargs) for name in optimizers}


def format_table(results: dict[str, TrajectoryResult]) -> str:
    """A plain-text table of the summary numbers, one row per optimizer."""
    header = (
        f"{'optimizer':<14}{'steps':>6}{'max |dloss|':>13}{'max |dgrad|':>13}"
        f"{'max |dparam|':>14}{'max rel':>11}{'loss0':>9}{'lossN':>9}{'ok':>4}"
    )
    rows = [header, "-" * len(header)]
    for name, r in results.items():
        rows.append(
            f"{name:<14}{r.steps:>6}{r.max_loss_diff:>13.2e}{r.max_grad_diff:>13.2e}"
            f"{r.max_param_diff:>14.2e}{r.max_param_rel_diff:>11.2e}"
            f"{r.initial_full_loss:>9.4f}{r.final_full_loss_sg:>9.4f}"
            f"{'yes' if r.passed else 'NO':>4}"
        )
    return "\n".join(rows)
