"""Operator-specific mutants of the scalar engine: each wrong rule, then the table."""

from __future__ import annotations

from typing import Any

import sg_scalar
from sg_scalar.ieee import data as scalar_data
from sg_scalar.ieee import div as scalar_div
from sg_scalar.ieee import log as scalar_log
from sg_scalar.ieee import power as scalar_power
from sg_verify.mutants.driver import _driver_mutants
from sg_verify.mutants.kinds import (
    _ABS_KINK_NOTE,
    _KINK_NOTE,
    _doc,
    _generic_mutants,
    _rule_patch,
    _specific,
)
from sg_verify.mutants.mutant import Mutant, Rule


def _s_relu_one_at_zero(g: Any, out: Any, x: Any) -> tuple[Any]:
    """relu with gradient 1 at x == 0: PyTorch and sg use 0."""
    return (g * (1.0 if scalar_data(x) >= 0 else 0.0),)


def _s_abs_one_at_zero(g: Any, out: Any, x: Any) -> tuple[Any]:
    """d|x| with sign(0) taken as +1: PyTorch and sg use 0."""
    return (g * (1.0 if scalar_data(x) >= 0 else -1.0),)


def _s_maximum_tie_to_first(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """maximum giving a tie wholly to the first input instead of half to each."""
    first = scalar_data(a) >= scalar_data(b)
    return g * (1.0 if first else 0.0), g * (0.0 if first else 1.0)


def _s_minimum_tie_to_first(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """minimum giving a tie wholly to the first input instead of half to each."""
    first = scalar_data(a) <= scalar_data(b)
    return g * (1.0 if first else 0.0), g * (0.0 if first else 1.0)


def _s_pow_const_not_decremented(g: Any, out: Any, x: Any, *, p: float) -> tuple[Any]:
    """d(x**p) as ``p x**p`` (the exponent not decremented)."""
    return (g * (p * scalar_power(x, p)),)


def _s_pow_exponent_no_log(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """pow's exponent gradient ``x**y`` instead of ``x**y log x`` (base gradient right)."""
    return g * (y * scalar_power(x, y - 1.0)), g * out


def _s_pow_exponent_log_only(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """pow's exponent gradient ``log x`` instead of ``x**y log x``."""
    return g * (y * scalar_power(x, y - 1.0)), g * scalar_log(x)


def _s_tanh_unsquared(g: Any, out: Any, x: Any) -> tuple[Any]:
    """tanh gradient ``1 - t`` instead of ``1 - t**2``."""
    return (g * (1.0 - out),)


def _s_sigmoid_missing_factor(g: Any, out: Any, x: Any) -> tuple[Any]:
    """sigmoid gradient ``s`` instead of ``s (1 - s)``."""
    return (g * out,)


def _s_sqrt_missing_two(g: Any, out: Any, x: Any) -> tuple[Any]:
    """sqrt gradient ``1 / sqrt x`` instead of ``1 / (2 sqrt x)``."""
    return (scalar_div(g, out),)


def _scalar_mutants() -> list[Mutant]:
    ops = sg_scalar.OPS
    mutants: list[Mutant] = []
    for name, scalar_op in ops.items():
        mutants += _generic_mutants("scalar", name, scalar_op, scalar_op.vjp)

    def rule(operator: str, label: str, kind: str, fn: Rule, **options: Any) -> None:
        mutants.append(
            _specific("scalar", operator, label, kind, _rule_patch(ops[operator], fn),
                      _doc(fn), **options)
        )  # fmt: skip

    kink = {"expected_misses": ("fd",), "note": _KINK_NOTE}
    rule("relu", "one_at_zero", "kink", _s_relu_one_at_zero, **kink)
    rule("abs", "one_at_zero", "kink", _s_abs_one_at_zero, note=_ABS_KINK_NOTE)
    tie_note = "Only the tie probe shows it; at a tie FD gives 1/2, the split convention."
    rule("maximum", "tie_to_first", "tie", _s_maximum_tie_to_first, note=tie_note)
    rule("minimum", "tie_to_first", "tie", _s_minimum_tie_to_first, note=tie_note)
    rule("pow_const", "not_decremented", "operator", _s_pow_const_not_decremented)
    rule("pow", "exponent_no_log", "operator", _s_pow_exponent_no_log)
    rule("pow", "exponent_log_only", "operator", _s_pow_exponent_log_only)
    rule("tanh", "unsquared", "operator", _s_tanh_unsquared)
    rule("sigmoid", "missing_factor", "operator", _s_sigmoid_missing_factor)
    rule("sqrt", "missing_two", "operator", _s_sqrt_missing_two)
    mutants += _driver_mutants("scalar")
    return mutants
