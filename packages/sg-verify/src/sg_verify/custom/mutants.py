"""Deliberate errors in a user's gradient rule, to measure the checks on it.

Each mutant changes what the rule returns in one way a real mistake does: one input's
gradient sign-flipped, scaled by ``1 + 1e-3`` (a slip in a constant) or ``1 + 1e-7``
(a term of relative size 1e-7 dropped), zeroed (a forgotten path), or the gradients of two
inputs of one shape swapped. The mutated rule is the user's own ``backward`` with its
result transformed, so it runs through the same driver and the same checks; a check
that passes the rule and also passes a mutant could not have told the two apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["RuleMutant", "rule_mutants"]

Grads = tuple[Any, ...]


@dataclass(frozen=True)
class RuleMutant:
    """A named transform of the tuple of input gradients a rule returns."""

    name: str
    transform: Callable[[Grads], Grads]


def _replace(grads: Grads, i: int, value: Any) -> Grads:
    return (*grads[:i], value, *grads[i + 1 :])


def _scaled(i: int, factor: float) -> Callable[[Grads], Grads]:
    def transform(grads: Grads) -> Grads:
        g = grads[i]
        return grads if g is None else _replace(grads, i, g * factor)

    return transform


def _swapped(i: int, j: int) -> Callable[[Grads], Grads]:
    def transform(grads: Grads) -> Grads:
        return _replace(_replace(grads, i, grads[j]), j, grads[i])

    return transform


def rule_mutants(shapes: Sequence[tuple[int, ...]]) -> list[RuleMutant]:
    """The mutants of a rule for inputs of ``shapes`` (one set per input, one swap per
    pair of inputs of the same shape)."""
    many = len(shapes) > 1
    mutants: list[RuleMutant] = []
    for i in range(len(shapes)):
        of = f" of input {i}" if many else ""
        mutants += [
            RuleMutant(f"gradient{of} sign-flipped", _scaled(i, -1.0)),
            RuleMutant(f"gradient{of} x (1 + 1e-3)", _scaled(i, 1 + 1e-3)),
            RuleMutant(f"gradient{of} x (1 + 1e-7)", _scaled(i, 1 + 1e-7)),
            RuleMutant(f"gradient{of} zeroed", _scaled(i, 0.0)),
        ]
    for i, j in itertools.combinations(range(len(shapes)), 2):
        if shapes[i] == shapes[j]:
            mutants.append(RuleMutant(f"gradients of inputs {i} and {j} swapped", _swapped(i, j)))
    return mutants
