"""Float functions with IEEE-754 results instead of Python exceptions.

Python's ``math`` raises where IEEE arithmetic (and PyTorch) returns a value:
``math.log(0.0)`` raises instead of giving ``-inf``, ``math.exp(1000.0)`` raises
instead of giving ``inf``, ``1.0 / 0.0`` raises instead of giving ``inf``. Gradients
must not crash at a domain edge, so both the forwards and the rules use these.

Each function also accepts a graph node (anything that is not a float) and then calls
the node's own differentiable method, so that one rule runs on raw floats (first-order
backward) and on ``Value`` nodes (``create_graph=True``).
"""

from __future__ import annotations

import math
from typing import Any

inf = math.inf
nan = math.nan


def _is_odd_integer(p: float) -> bool:
    return math.isfinite(p) and p == math.floor(p) and math.fmod(p, 2.0) != 0.0


def div(a: Any, b: Any) -> Any:
    """``a / b``; a zero divisor gives ``±inf`` (or ``nan`` for ``0/0``)."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return nan
        return math.copysign(inf, a) * math.copysign(1.0, b)


def power(x: Any, p: Any) -> Any:
    """``x ** p`` as C's ``pow``: ``0 ** -1 = inf``, ``(-8) ** 0.5 = nan``, overflow ``inf``."""
    if not isinstance(x, float) or not isinstance(p, float):
        return x**p
    try:
        return math.pow(x, p)
    except OverflowError:
        return -inf if x < 0 and _is_odd_integer(p) else inf
    except ValueError:  # a pole (zero base, negative exponent) or a negative base
        if x == 0:
            return math.copysign(inf, x) if _is_odd_integer(p) else inf
        return nan


def exp(x: Any) -> Any:
    """``e ** x``; overflow gives ``inf``."""
    if not isinstance(x, float):
        return x.exp()
    try:
        return math.exp(x)
    except OverflowError:
        return inf


def log(x: Any) -> Any:
    """Natural logarithm; ``log(0) = -inf``, ``log(x < 0) = nan``."""
    if not isinstance(x, float):
        return x.log()
    if x > 0:
        return math.log(x)
    return -inf if x == 0 else nan


def sqrt(x: Any) -> Any:
    """Square root; ``sqrt(x < 0) = nan``."""
    if not isinstance(x, float):
        return x.sqrt()
    return math.sqrt(x) if x >= 0 else nan


def sin(x: Any) -> Any:
    """Sine; ``sin(±inf) = nan``."""
    if not isinstance(x, float):
        return x.sin()
    return math.sin(x) if math.isfinite(x) else nan


def cos(x: Any) -> Any:
    """Cosine; ``cos(±inf) = nan``."""
    if not isinstance(x, float):
        return x.cos()
    return math.cos(x) if math.isfinite(x) else nan


def sigmoid(x: float) -> float:
    """``1 / (1 + e**-x)``, computed without overflow for large ``|x|``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)  # x < 0 (or nan): e**x cannot overflow
    return z / (1.0 + z)


def sign(x: float) -> float:
    """-1, 0 or 1 (0 for ``nan``, as ``torch.sign``); a constant: its derivative is zero."""
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    return 0.0


def data(x: Any) -> float:
    """The float inside a node, or the float itself: for non-differentiable masks."""
    return x if isinstance(x, float) else x.data
