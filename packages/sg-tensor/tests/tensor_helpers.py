"""Helpers shared by the sg-tensor tests: the central-difference gradient check and samplers.

``gradcheck(fn, *arrays)`` is the one numerical oracle of this suite. For a function
``fn`` of tensors it draws a random cotangent ``c`` of the output's shape, backpropagates
``c`` (the vector-Jacobian product, i.e. the gradient of ``sum(fn(x) * c)``) and
compares every input's ``.grad`` with central differences of ``sum(fn(x) * c)`` in
float64, elementwise: ``|grad - fd| <= rtol * max(1, |fd|)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sg_scalar.graph import topological_order
from sg_tensor import Tensor, no_grad

TensorFn = Callable[..., Any]  # returns a Tensor or a sequence of Tensors


def _outputs(result: Any) -> list[Tensor]:
    outs = [result] if isinstance(result, Tensor) else list(result)
    assert outs, "the function returned no tensor"
    assert all(isinstance(o, Tensor) for o in outs), [type(o).__name__ for o in outs]
    return outs


def _objective(fn: TensorFn, arrays: Sequence[np.ndarray], cotangents: list[np.ndarray]) -> float:
    """``sum(fn(x) * c)`` evaluated without recording a graph."""
    with no_grad():
        outs = _outputs(fn(*[Tensor(a) for a in arrays]))
    return float(
        sum(np.sum(np.asarray(o.data, dtype=np.float64) * c) for o, c in zip(outs, cotangents))
    )


def graph_ops(root: Tensor) -> set[str]:
    """The names of the operators in the (unreleased) graph behind ``root``."""
    return {node.op for node in topological_order(root)} - {""}


def gradcheck(
    fn: TensorFn,
    *inputs: Any,
    seed: int = 0,
    h: float = 1e-6,
    rtol: float = 1e-6,
) -> set[str]:
    """Check ``fn``'s gradients against central differences; return the operators it used.

    ``inputs`` are float64 arrays; each becomes a leaf tensor that requires grad. Anything
    that must not be differentiated (an index, a mask, a constant) belongs inside ``fn``.
    """
    arrays = [np.array(x, dtype=np.float64) for x in inputs]
    originals = [a.copy() for a in arrays]
    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    outs = _outputs(fn(*leaves))
    rng = np.random.default_rng(seed)
    cotangents = [rng.standard_normal(o.shape) for o in outs]
    ops: set[str] = set()
    for o in outs:
        assert o.requires_grad, "the output does not require grad"
        ops |= graph_ops(o)
    if len(outs) == 1:
        outs[0].backward(cotangents[0])
    else:
        total = outs[0] * cotangents[0]
        total = total.sum()
        for o, c in zip(outs[1:], cotangents[1:]):
            total = total + (o * c).sum()
        total.backward()
    for i, (leaf, x) in enumerate(zip(leaves, arrays)):
        np.testing.assert_array_equal(leaf.data, originals[i], err_msg="backward changed an input")
        assert leaf.grad is not None, f"input {i}: no gradient reached it"
        assert leaf.grad.shape == x.shape, f"input {i}: grad shape {leaf.grad.shape} != {x.shape}"
        assert leaf.grad.dtype == np.float64, f"input {i}: grad dtype {leaf.grad.dtype}"
        fd = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            up = [a.copy() for a in arrays]
            down = [a.copy() for a in arrays]
            up[i][idx] += h
            down[i][idx] -= h
            width = up[i][idx] - down[i][idx]
            fd[idx] = (_objective(fn, up, cotangents) - _objective(fn, down, cotangents)) / width
        assert np.all(np.isfinite(fd)), f"input {i}: the finite differences are not finite"
        error = np.abs(leaf.grad - fd)
        bound = rtol * np.maximum(1.0, np.abs(fd))
        assert np.all(error <= bound), (
            f"input {i} of shape {x.shape}: the gradient differs from central differences "
            f"by up to {np.max(error / bound) * rtol:.3g} (relative)\n"
            f"grad = {leaf.grad!r}\nfd   = {fd!r}"
        )
    return ops


def sum_to_shape(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``g`` summed over the axes that broadcasting added or stretched to reach ``shape``.

    Written independently of ``sg_tensor.unbroadcast``: one axis at a time.
    """
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    assert g.shape == shape
    return g


# ---------------------------------------------------------------------------------------
# Samplers: inputs kept away from kinks, ties and domain edges, so differences are smooth
# ---------------------------------------------------------------------------------------
def normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Standard normal values."""
    return rng.standard_normal(shape)


def positive(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Values in [0.5, 2]: inside the domain of log, sqrt, pow's base and division."""
    return rng.uniform(0.5, 2.0, shape)


def nonzero(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Values of either sign with ``|x|`` in [0.3, 2]: away from the kinks at 0."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


def distinct(rng: np.random.Generator, *shape: int, gap: float = 0.2) -> np.ndarray:
    """Pairwise distinct values at least ``gap * 0.75`` apart, centred on 0 and never near 0.

    For max and min, where a tie (or a near tie) is a kink.
    """
    n = int(np.prod(shape, dtype=np.int64))
    ranks = rng.permutation(n) - (n - 1) / 2
    values = ranks * gap + rng.uniform(0.0, gap / 4, n)
    values[np.abs(values) < gap / 4] += gap / 2  # keep relu-like kinks at 0 away too
    return values.reshape(shape)


def separated(
    rng: np.random.Generator, shape_a: tuple[int, ...], shape_b: tuple[int, ...], gap: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays whose broadcast elements differ by more than ``gap`` everywhere."""
    for _ in range(1000):
        a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
        if np.min(np.abs(a - b)) > gap:
            return a, b
    raise AssertionError("could not draw separated arrays")  # pragma: no cover
