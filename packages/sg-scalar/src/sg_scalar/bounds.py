"""Bounds on an operator's value, for the random-expression generator.

Each declaration names a :data:`Bound`: a bound on ``|output|`` given what is known of
its inputs (:class:`Bounds`). The generator keeps every value of a random expression
below a limit by scaling arguments down until the declared bound fits; the helpers here
are the bounds several operators share.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Bound",
    "Bounds",
    "constant_power_bound",
    "log_bound",
    "power_bound",
    "product",
    "quotient",
    "same",
    "total",
    "unit",
]

Params = Mapping[str, Any]
Shape = tuple[int, ...]
Interval = tuple[float, float]


@dataclass(frozen=True)
class Bounds:
    """What the expression generator knows about an operator's inputs: an interval
    holding each input's values (after any guard), the parameters and the shapes."""

    intervals: Sequence[Interval]
    params: Params
    shapes: Sequence[Shape]

    def m(self, i: int = 0) -> float:
        """The largest ``|value|`` of input ``i``."""
        low, high = self.intervals[i]
        return max(abs(low), abs(high))

    def low(self, i: int = 0) -> float:
        """The lower end of input ``i``'s interval."""
        return self.intervals[i][0]

    def high(self, i: int = 0) -> float:
        """The upper end of input ``i``'s interval."""
        return self.intervals[i][1]

    def reduced(self) -> int:
        """How many elements of input 0 a reduction over ``params["axis"]`` (or PyTorch's
        ``dim``) combines."""
        shape, axis = self.shapes[0], self.params.get("axis", self.params.get("dim"))
        if axis is None:
            return math.prod(shape)
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        return int(math.prod(shape[a % len(shape)] for a in set(axes))) if shape else 1


Bound = Callable[[Bounds], float]
"""A bound on ``|output|`` given :class:`Bounds` on the inputs."""


def same(b: Bounds) -> float:
    """``|f(x)| <= max |input|``: signs, rectifiers, maxima, moving elements around."""
    return max(b.m(i) for i in range(len(b.intervals)))


def unit(b: Bounds) -> float:
    """``|f(x)| <= 1``: sin, cos, tanh, sigmoid, erf, softmax."""
    return 1.0


def total(b: Bounds) -> float:
    """``|a + b| <= |a| + |b|`` (and ``a - b``)."""
    return b.m(0) + b.m(1)


def product(b: Bounds) -> float:
    """``|a b| <= |a| |b|``."""
    return b.m(0) * b.m(1)


def quotient(b: Bounds) -> float:
    """``|a / b|`` for a divisor in a positive interval."""
    return b.m(0) / b.low(1)


def log_bound(b: Bounds) -> float:
    """``|log x|`` for ``x`` in a positive interval."""
    return max(-math.log(b.low()), math.log(b.high()))


def power_bound(b: Bounds) -> float:
    """``x**y`` for a base in a positive interval."""
    return float(max(b.high(0), 1 / b.low(0)) ** b.m(1))


def constant_power_bound(b: Bounds) -> float:
    """``x**p`` for a number ``p`` (the base positive unless ``p`` is a whole number >= 0)."""
    p = float(b.params["p"])
    return float(max(b.low() ** p, b.high() ** p) if b.low() > 0 else b.m() ** p)
