"""Derivatives from function values alone, with an estimate of their own error.

A plain central difference ``(f(x + h) - f(x - h)) / 2h`` is off by ``~h**2 f'''/6``
(truncation) plus ``~eps |f| / h`` (round-off): at best about ``1e-8`` relative, too
coarse to see a gradient that is wrong by ``1e-7``. **Richardson extrapolation**
combines differences at ``h``, ``h/2`` and ``h/4`` so that the ``h**2`` and ``h**4``
terms cancel, leaving ``O(h**6)``: with ``h = 2**-6`` that is ``~1e-11`` on the smooth
functions the registry samples, and the difference between the last two extrapolation
levels says how far off the result is. A check then holds a gradient to *that* error,
not to a fixed tolerance: tight where the function is well behaved, looser only where
the differences themselves say they are unreliable.

The same table run on one-sided differences gives the derivative *from one side*,
which is what a declared convention at a kink (``relu'(0) = 0``, the derivative from
the left) states.

For an operator whose forward rounds (``astype`` to float32), inputs on a float32 grid
and a power-of-two step make every shifted input exactly representable, so the
forward's rounding never enters the differences (see :func:`exact_grid`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["STEP", "Differences", "differences", "exact_grid", "limit", "one_sided"]

STEP = 2.0**-6
"""The largest step of the table. Samplers keep inputs at least 0.05 from every kink
and tie, so every shifted point (at most ``STEP`` away) stays on the same smooth piece."""
_LEVELS = 3  # steps h, h/2, h/4: two extrapolations
_GOOD = 1e-9  # a relative error estimate below this needs no smaller step
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Differences:
    """Derivative estimates along some directions, with their estimated absolute error.

    ``directions`` is ``None`` when the estimates are the whole gradient (one per
    element, in the input's shape), else the unit vectors ``u`` of the directional
    derivatives ``u . grad``.
    """

    value: np.ndarray
    error: np.ndarray
    directions: np.ndarray | None

    def project(self, grad: np.ndarray) -> np.ndarray:
        """A gradient seen the way these differences measured it."""
        if self.directions is None:
            return grad
        return np.array([np.sum(u * grad) for u in self.directions])


def _extrapolate(rows: list[float], order: int) -> tuple[float, float]:
    """Richardson's table over estimates at steps ``h, h/2, h/4, ...`` whose error is a
    series in ``h**order, h**(2 order), ...``: the best value and the change made by
    its last level (an estimate of the error of the level before it, so a safe bound)."""
    table = list(rows)
    previous = table[-1]
    power = order
    while len(table) > 1:
        factor = 2.0**power
        previous = table[-1]
        table = [(factor * b - a) / (factor - 1) for a, b in zip(table, table[1:])]
        power += order
    return table[0], abs(table[0] - previous)


def _along(
    shifted: Callable[[np.ndarray], float],
    u: np.ndarray,
    step: float,
    central: bool,
    scale: float = 0.0,
) -> tuple[float, float]:
    """The derivative of ``shifted`` along ``u`` at 0 (from the side of ``u`` when not
    ``central``), and its error: the extrapolation's plus the round-off's.

    ``scale`` is the size of the terms the function's value sums (``sum |f_i v_i|``):
    its round-off follows them, not the value, when they cancel.
    """
    rows, largest = [], scale
    at_zero = 0.0 if central else shifted(np.zeros_like(u))
    for level in range(_LEVELS):
        h = step / 2**level
        ahead = shifted(h * u)
        behind = shifted(-h * u) if central else at_zero
        rows.append((ahead - behind) / (2 * h if central else h))
        largest = max(largest, abs(ahead), abs(behind))
    value, truncation = _extrapolate(rows, 2 if central else 1)
    # Each value carries ~eps |f| of round-off; the smallest step divides it the most,
    # and the extrapolation's weights (at most ~3 in sum) amplify it a little more.
    round_off = 8 * _EPS * largest / (step / 2 ** (_LEVELS - 1))
    return value, truncation + round_off


def _best(
    shifted: Callable[[np.ndarray], float], u: np.ndarray, central: bool, scale: float
) -> tuple[float, float]:
    """:func:`_along` at the step whose result claims the smallest error: ``STEP``, or
    a quarter or a sixteenth of it where high derivatives are large (pow, tan), down to
    1/1024 of it where a larger step leaves the function's domain (``sqrt`` or ``log``
    near 0: a nan or an inf in the differences)."""
    best = _along(shifted, u, STEP, central, scale)
    for step in (STEP / 4, STEP / 16, STEP / 64, STEP / 256, STEP / 1024):
        usable = bool(np.isfinite(best[0]) and np.isfinite(best[1]))
        if usable and (best[1] <= _GOOD * abs(best[0]) or step < STEP / 16):
            break
        tried = _along(shifted, u, step, central, scale)
        if not usable or tried[1] < best[1]:
            best = tried
    return best


def differences(
    phi: Callable[[np.ndarray], float],
    x: np.ndarray,
    directions: int,
    rng: np.random.Generator,
    full_limit: int = 64,
    scale: float = 0.0,
) -> Differences:
    """The gradient of scalar ``phi`` at ``x`` by extrapolated central differences.

    Inputs of at most ``full_limit`` elements get every element; larger ones get
    ``directions`` random unit directions (a check of every element at once). ``scale``
    is the size of the terms ``phi`` sums, for the round-off estimate (see ``_along``).
    """
    x = np.array(x, dtype=np.float64)

    def shifted(delta: np.ndarray) -> float:
        return phi(x + delta.reshape(x.shape))

    if x.size <= full_limit:
        basis = np.eye(x.size) if x.size else np.zeros((0, 0))
        estimates = [_best(shifted, e, True, scale) for e in basis]
        value = np.array([v for v, _ in estimates]).reshape(x.shape)
        error = np.array([e for _, e in estimates]).reshape(x.shape)
        return Differences(value, error, None)
    us = rng.standard_normal((directions, x.size))
    us /= np.linalg.norm(us, axis=1, keepdims=True)
    estimates = [_best(shifted, u, True, scale) for u in us]
    units = us.reshape((directions, *x.shape))
    return Differences(
        np.array([v for v, _ in estimates]), np.array([e for _, e in estimates]), units
    )


def one_sided(
    phi: Callable[[np.ndarray], float],
    x: np.ndarray,
    index: tuple[int, ...],
    side: float,
    scale: float = 0.0,
) -> tuple[float, float]:
    """The derivative of ``phi`` at ``x`` with respect to element ``index``, from the
    right (``side = 1``) or the left (``side = -1``), and its estimated error."""
    x = np.array(x, dtype=np.float64)
    unit = np.zeros_like(x)
    unit[index] = side

    def shifted(delta: np.ndarray) -> float:
        return phi(x + delta)

    value, error = _best(shifted, unit, False, scale)
    return side * value, error


def limit(
    phi: Callable[[np.ndarray], float],
    x: np.ndarray,
    index: tuple[int, ...],
    side: float,
    scale: float = 0.0,
) -> tuple[float, float]:
    """The limit of ``phi``'s derivative (with respect to element ``index``) as the
    element approaches its value in ``x`` from the right (``side = 1``) or the left.

    Where ``phi`` itself jumps at ``x`` (a gradient at a kink, as a function of the
    input: the second-order view), no difference through ``x`` means anything; central
    differences at ``x + side t`` do, for ``t = STEP, STEP/2, STEP/4``, with step
    ``t/2`` (never reaching ``x``), extrapolated to ``t = 0``.
    """
    x = np.array(x, dtype=np.float64)
    unit = np.zeros_like(x)
    unit[index] = 1.0
    rows, largest = [], scale
    for level in range(_LEVELS):
        t = STEP / 2**level
        ahead, behind = phi(x + (side * t + t / 2) * unit), phi(x + (side * t - t / 2) * unit)
        rows.append((ahead - behind) / t)
        largest = max(largest, abs(ahead), abs(behind))
    value, truncation = _extrapolate(rows, 1)
    return value, truncation + 8 * _EPS * largest / (STEP / 2**_LEVELS)


def exact_grid(arrays: list[np.ndarray], dtype: np.dtype) -> list[np.ndarray]:
    """``arrays`` moved onto a grid of ``dtype`` on which ``x +- STEP / 2**k`` is exact.

    Multiples of ``2**-12`` below ``2**8`` in magnitude fit in float32's 24 bits, so a
    forward that rounds to float32 rounds nothing at the points a difference visits.
    """
    if np.dtype(dtype).itemsize >= 8:
        return arrays
    grid = 2.0**-12
    return [np.clip(np.round(a / grid) * grid, -(2.0**7), 2.0**7) for a in arrays]


def forward_noise(
    phi: Callable[[np.ndarray], float], x: np.ndarray, rng: np.random.Generator
) -> float:
    """The round-off of ``phi`` near ``x`` (its standard deviation), measured.

    ``phi`` is evaluated at 9 points ``x + k u``, ``u`` random signs times ``2**-32
    max(1, |x|)``: about a million ulps apart, so each point rounds differently, yet so
    close that the function's own change is all but a straight line. The
    ``k``-th differences of those values remove the line and leave the round-off, of
    variance ``C(2k, k) sigma**2`` (the difference-table noise estimate of Moré and
    Wild's ECnoise); the median over ``k = 2..6`` ignores an order that curvature still
    reaches.
    """
    step = rng.choice([-1.0, 1.0], size=x.shape) * np.maximum(np.abs(x), 1.0) * 2.0**-32
    table = np.array([phi(x + k * step) for k in range(9)])
    if not np.all(np.isfinite(table)):
        return 0.0  # at the edge of the domain: the differences take smaller steps anyway
    estimates = []
    for k in range(1, 7):
        table = np.diff(table)
        if k >= 2:
            estimates.append(float(np.sqrt(np.mean(table**2) / math.comb(2 * k, k))))
    return float(np.median(estimates))
