"""Helpers shared by the sg-scalar tests: finite differences and float comparison."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from sg_scalar import Value


def central_difference(
    f: Callable[..., float], xs: Sequence[float], i: int, h: float = 1e-6
) -> float:
    """``d f / d xs[i]`` at ``xs`` by the central difference ``(f(x+h) - f(x-h)) / 2h``.

    The step is scaled by ``max(1, |xs[i]|)`` so it stays meaningful for large inputs.
    """
    step = h * max(1.0, abs(xs[i]))
    up = list(xs)
    down = list(xs)
    up[i] += step
    down[i] -= step
    return (f(*up) - f(*down)) / (up[i] - down[i])


def value_grads(f: Callable[..., Value], xs: Sequence[float]) -> tuple[float, list[float]]:
    """Evaluate ``f`` on fresh leaf Values, run backward and return (output, grads)."""
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def close(actual: float, expected: float, atol: float = 1e-5, rtol: float = 1e-5) -> bool:
    """``|actual - expected| <= atol + rtol * |expected|`` (both finite)."""
    return math.isfinite(actual) and abs(actual - expected) <= atol + rtol * abs(expected)


def same_float(actual: float, expected: float) -> bool:
    """Exact IEEE equality where ``nan`` equals ``nan`` and ``0.0`` equals ``-0.0``."""
    if math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    return isinstance(actual, float) and actual == expected
