"""Independent reference optimizers for the sg-optim tests, and small training problems.

The ``ref_*`` functions are written from the algorithm boxes of the PyTorch
documentation (``torch.optim.SGD``, ``Adam``, ``AdamW``, ``RMSprop``), in plain float64
numpy, one formula per line, without looking at ``sg_optim``'s code. Each takes the
initial parameter arrays and a sequence of steps, each step a list with one gradient
per parameter (``None``: the parameter has no gradient at that step and is skipped),
and returns the parameter arrays after every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import sg_tensor as st
from sg_tensor import Tensor

Grads = Sequence[Sequence[np.ndarray | None]]
Trajectory = list[list[np.ndarray]]

SHAPES: list[tuple[int, ...]] = [(3,), (2, 3), (4, 1), ()]


def random_problem(
    seed: int, n_steps: int = 5, shapes: Sequence[tuple[int, ...]] = SHAPES
) -> tuple[list[np.ndarray], list[list[np.ndarray | None]]]:
    """Initial parameters and ``n_steps`` steps of varying gradients (some missing)."""
    rng = np.random.default_rng(seed)
    params = [rng.uniform(0.5, 2.0, s) * rng.choice([-1.0, 1.0], s) for s in shapes]
    grads: list[list[np.ndarray | None]] = [
        [rng.standard_normal(s) * (1 + k) for s in shapes] for k in range(n_steps)
    ]
    # one parameter skips one step: the references and the optimizers must both skip it
    grads[2][0] = None
    return params, grads


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-12) -> None:
    """Elementwise ``|actual - expected| <= rtol * max(|expected|, 1e-3)`` (float64)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * 1e-3)


def assert_identical(got: Any, want: Any) -> None:
    """Deep equality of nested dicts, lists and tuples in which every value has the same
    type as its counterpart and arrays are equal bit for bit, with the same dtype."""
    assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, np.ndarray):
        assert got.shape == want.shape
        assert got.dtype == want.dtype
        assert np.array_equal(got, want, equal_nan=True)
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_identical(g, w)
    elif isinstance(want, dict):
        assert list(got) == list(want)
        for k in want:
            assert_identical(got[k], want[k])
    else:
        assert got == want or (got != got and want != want), (got, want)  # nan == nan


def assert_trajectories_close(got: Trajectory, want: Trajectory, rtol: float = 1e-12) -> None:
    assert len(got) == len(want)
    for step, (g_params, w_params) in enumerate(zip(got, want)):
        for i, (g, w) in enumerate(zip(g_params, w_params)):
            try:
                assert_close(g, w, rtol)
            except AssertionError as error:
                raise AssertionError(f"step {step + 1}, parameter {i}: {error}") from None


# -- reference algorithms (PyTorch documentation pseudo-code) ---------------------------
def ref_sgd(
    params0: Sequence[np.ndarray],
    grads: Grads,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> Trajectory:
    theta = [np.array(p, dtype=np.float64) for p in params0]
    bufs: list[np.ndarray | None] = [None] * len(theta)
    out = []
    for step_grads in grads:
        for i, grad in enumerate(step_grads):
            if grad is None:
                continue
            g = np.array(grad, dtype=np.float64)
            if weight_decay != 0:
                g = g + weight_decay * theta[i]
            if momentum != 0:
                prev = bufs[i]
                # the first step of this parameter (t = 1) takes the gradient as it is
                b = g.copy() if prev is None else momentum * prev + (1 - dampening) * g
                bufs[i] = b
                g = g + momentum * b if nesterov else b
            theta[i] = theta[i] - lr * g
        out.append([t.copy() for t in theta])
    return out


def ref_adam(
    params0: Sequence[np.ndarray],
    grads: Grads,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled: bool = False,
) -> Trajectory:
    """Adam, or AdamW with ``decoupled=True``."""
    beta1, beta2 = betas
    theta = [np.array(p, dtype=np.float64) for p in params0]
    m = [np.zeros_like(t) for t in theta]
    v = [np.zeros_like(t) for t in theta]
    v_max = [np.zeros_like(t) for t in theta]
    steps = [0] * len(theta)
    out = []
    for step_grads in grads:
        for i, grad in enumerate(step_grads):
            if grad is None:
                continue
            steps[i] += 1
            t = steps[i]
            g = np.array(grad, dtype=np.float64)
            if decoupled:
                theta[i] = theta[i] - lr * weight_decay * theta[i]
            elif weight_decay != 0:
                g = g + weight_decay * theta[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g**2
            m_hat = m[i] / (1 - beta1**t)
            if amsgrad:
                v_max[i] = np.maximum(v_max[i], v[i])
                v_hat = v_max[i] / (1 - beta2**t)
            else:
                v_hat = v[i] / (1 - beta2**t)
            theta[i] = theta[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append([x.copy() for x in theta])
    return out


def ref_rmsprop(
    params0: Sequence[np.ndarray],
    grads: Grads,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> Trajectory:
    theta = [np.array(p, dtype=np.float64) for p in params0]
    v = [np.zeros_like(t) for t in theta]
    g_ave = [np.zeros_like(t) for t in theta]
    b = [np.zeros_like(t) for t in theta]
    out = []
    for step_grads in grads:
        for i, grad in enumerate(step_grads):
            if grad is None:
                continue
            g = np.array(grad, dtype=np.float64)
            if weight_decay != 0:
                g = g + weight_decay * theta[i]
            v[i] = alpha * v[i] + (1 - alpha) * g**2
            v_tilde = v[i]
            if centered:
                g_ave[i] = g_ave[i] * alpha + (1 - alpha) * g
                v_tilde = v_tilde - g_ave[i] ** 2
            if momentum > 0:
                b[i] = momentum * b[i] + g / (np.sqrt(v_tilde) + eps)
                theta[i] = theta[i] - lr * b[i]
            else:
                theta[i] = theta[i] - lr * g / (np.sqrt(v_tilde) + eps)
        out.append([x.copy() for x in theta])
    return out


# -- driving sg_optim -------------------------------------------------------------------
def make_params(arrays: Sequence[np.ndarray], dtype: Any = np.float64) -> list[Tensor]:
    return [st.tensor(np.array(a, dtype=dtype), requires_grad=True) for a in arrays]


def run_with_grads(
    make_optimizer: Callable[[list[Tensor]], Any],
    params0: Sequence[np.ndarray],
    grads: Grads,
) -> Trajectory:
    """Run an sg_optim optimizer on the given gradients; the parameters after each step."""
    params = make_params(params0)
    opt = make_optimizer(params)
    out = []
    for step_grads in grads:
        opt.zero_grad()
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else np.array(g, dtype=np.float64)
        opt.step()
        out.append([p.data.copy() for p in params])
    return out


# -- a tiny linear regression -----------------------------------------------------------
_R = np.random.default_rng(2024)
X = _R.standard_normal((8, 3))
Y = _R.standard_normal((8, 2))


def regression_init() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal((3, 2)), rng.standard_normal(2)]


def regression_loss(w: Tensor, b: Tensor) -> Tensor:
    r = st.tensor(X) @ w + b - st.tensor(Y)
    return (r * r).mean()


def regression_grads(w: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """The analytic gradient of ``regression_loss``."""
    r = X @ w + b - Y
    n = r.size
    return [2 * X.T @ r / n, 2 * r.sum(axis=0) / n]


def regression_reference(
    ref: Callable[..., Trajectory], n_steps: int, **config: Any
) -> Trajectory:
    """The reference trajectory on the regression, each gradient taken at the current point.

    The references are functions of a whole gradient sequence, so the run is replayed
    from the start with one more gradient each time (cheap at this size).
    """
    grads: list[list[np.ndarray | None]] = []
    theta = regression_init()
    for _ in range(n_steps):
        grads.append(list(regression_grads(*theta)))
        theta = ref(regression_init(), grads, **config)[-1]
    return ref(regression_init(), grads, **config)


def regression_run(make_optimizer: Callable[[list[Tensor]], Any], n_steps: int) -> Trajectory:
    """The same with an sg_optim optimizer and gradients from ``backward()``."""
    params = make_params(regression_init())
    opt = make_optimizer(params)
    out = []
    for _ in range(n_steps):
        opt.zero_grad()
        regression_loss(*params).backward()
        opt.step()
        out.append([p.data.copy() for p in params])
    return out


def train(
    opt: Any, params: Sequence[Tensor], n_steps: int, loss_fn: Callable[..., Tensor]
) -> None:
    for _ in range(n_steps):
        opt.zero_grad()
        loss_fn(*params).backward()
        opt.step()


def cosine_closed_form(lr0: float, eta_min: float, t: int, t_max: int) -> float:
    return eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2
