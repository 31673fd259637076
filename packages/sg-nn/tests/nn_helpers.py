"""Helpers shared by the sg-nn tests: a central-difference gradient check and numpy
reference formulas written independently of sg-nn.

``check_grads(fn, tensors)`` is the numerical oracle. ``fn()`` computes a tensor from
leaf tensors it closes over (inputs of a loss, or a module's parameters). A random
cotangent ``c`` of the output's shape is backpropagated (the gradient of
``sum(fn() * c)``), and every tensor's ``.grad`` is compared with central differences of
``sum(fn() * c)`` in float64, perturbing the tensor's data in place. The relative error
``|grad - fd| / max(|grad|, |fd|, floor)`` must stay below ``rtol`` (``1e-6``); the
floor only matters for gradients that are (nearly) zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sg_tensor import Tensor, no_grad


def _objective(fn: Callable[[], Tensor], cotangent: np.ndarray) -> float:
    with no_grad():
        out = fn()
    return float(np.sum(np.asarray(out.data, dtype=np.float64) * cotangent))


def check_grads(
    fn: Callable[[], Tensor],
    tensors: Sequence[Tensor],
    *,
    seed: int = 0,
    h: float = 1e-6,
    rtol: float = 1e-6,
    floor: float = 1e-2,
) -> None:
    """Assert that backpropagation through ``fn`` matches central differences."""
    for t in tensors:
        assert t.dtype == np.float64, "gradient checks run in float64"
        assert t.requires_grad, "every checked tensor must require grad"
        t.grad = None
    out = fn()
    cotangent = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(cotangent)
    for i, t in enumerate(tensors):
        assert t.grad is not None, f"tensor {i}: no gradient reached it"
        assert t.grad.shape == t.shape, f"tensor {i}: grad shape {t.grad.shape} != {t.shape}"
        grad = t.grad.copy()
        fd = np.zeros_like(t.data)
        for idx in np.ndindex(t.shape):
            original = t.data[idx]
            t.data[idx] = original + h
            up = _objective(fn, cotangent)
            t.data[idx] = original - h
            down = _objective(fn, cotangent)
            t.data[idx] = original
            fd[idx] = (up - down) / (2 * h)
        assert np.all(np.isfinite(fd)), f"tensor {i}: the finite differences are not finite"
        scale = np.maximum(np.maximum(np.abs(grad), np.abs(fd)), floor)
        error = np.abs(grad - fd) / scale
        assert error.max(initial=0.0) < rtol, (
            f"tensor {i} of shape {t.shape}: the gradient differs from central differences "
            f"by up to {error.max():.3g} (relative)\ngrad = {grad!r}\nfd   = {fd!r}"
        )


def leaf(array: np.ndarray) -> Tensor:
    """A float64 leaf tensor (a copy of ``array``) that requires grad."""
    return Tensor(np.array(array, dtype=np.float64), requires_grad=True)


# ---------------------------------------------------------------------------------------
# numpy references
# ---------------------------------------------------------------------------------------
def reduce(values: np.ndarray, reduction: str) -> np.ndarray:
    """numpy's version of the ``reduction`` argument."""
    if reduction == "mean":
        return np.asarray(values.mean())
    if reduction == "sum":
        return np.asarray(values.sum())
    assert reduction == "none"
    return values


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, shifted by the row maximum so it never overflows."""
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    return np.exp(log_softmax(x))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, evaluated without overflow."""
    return np.exp(-np.logaddexp(0.0, -x))


def bce_with_logits(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``-[y log s(x) + (1 - y) log(1 - s(x))]`` as ``softplus(x) - x y``."""
    return np.logaddexp(0.0, x) - x * y


def one_hot(target: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows of the identity picked by ``target``."""
    return np.eye(n_classes)[target]
