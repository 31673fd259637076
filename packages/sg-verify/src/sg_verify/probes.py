"""Probes: inputs placed exactly on the declared kinks and ties of an operator.

The registry's samplers keep inputs away from kinks and ties, where a finite difference
through the kink means nothing; only a probe shows which convention a rule follows there
(``relu'(0) = 0``, a tie's gradient split evenly). The finite-difference oracles hold a
probe to the declared convention (:func:`sg_verify.oracles.input_differences`); the
operator checks (``sg-verify ops``) and the mutants run them beside the registry's specs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from sg_scalar.declare import Declaration, Kink, Tie
from sg_scalar.examples import Example
from sg_verify.registry import OpSpec, declarations, examples, spec

__all__ = ["all_probes", "probes"]


def _on_kink(example: Example, index: int, point: float) -> Callable[..., list[np.ndarray]]:
    """The example's inputs with every third element of input ``index`` on the kink."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        arrays = [np.array(a, dtype=np.float64) for a in example.draw(rng)]
        arrays[index].reshape(-1)[::3] = point
        return arrays

    return draw


def _tied(example: Example, within: bool) -> Callable[..., list[np.ndarray]]:
    """Two inputs equal at every third element; or rows whose extremes occur twice."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        arrays = [np.array(a, dtype=np.float64) for a in example.draw(rng)]
        if not within:
            a, b = np.broadcast_arrays(*arrays)
            b = b.copy()
            b.reshape(-1)[::3] = a.reshape(-1)[::3]
            return [np.array(a), b]
        x = arrays[0]
        rows = x.reshape(-1, x.shape[-1])
        return [np.concatenate([rows, rows.max(1, keepdims=True), rows.min(1, keepdims=True)], 1)]

    return draw


_PROBES: dict[tuple[str, str], tuple[OpSpec, ...]] = {}
_ROWS = (None, 1, -1, (1,), (-1,))  # reductions that see whole rows of a matrix


def probes(decl: Declaration) -> tuple[OpSpec, ...]:
    """The probe specs of ``decl``: its first example in each case where an edge applies,
    with inputs on that edge (built once)."""
    key = (decl.engine, decl.name)
    if key in _PROBES:
        return _PROBES[key]
    found: list[OpSpec] = []
    firsts = {e.case_index: e for e in reversed(examples(decl)) if e.form == decl.forms_or_call[0]}
    for i, example in sorted(firsts.items()):
        base = spec(example)
        for n, edge in enumerate(decl.edges):
            draw: Callable[..., list[np.ndarray]] | None = None
            if isinstance(edge, Kink) and edge.point(example.case.params) is not None:
                point = edge.point(example.case.params)
                assert point is not None
                draw = _on_kink(example, edge.input, point)
            elif isinstance(edge, Tie) and (edge.within or len(example.shapes) == 2):
                if edge.within and example.case.params.get("axis") not in _ROWS:
                    continue  # the tied probe is rows of a matrix
                if edge.within:
                    example = Example(decl, example.form, example.case, ((3, 3),), i)
                    base = spec(example)
                draw = _tied(example, edge.within)
            if draw is not None:
                name = f"probe:{decl.name}[{type(edge).__name__.lower()}{n};case {i}]"
                found.append(dataclasses.replace(base, name=name, sample=draw))
    _PROBES[key] = tuple(found)
    return _PROBES[key]


def all_probes(engine: str = "all") -> list[OpSpec]:
    """The probes of every operator (with a rule) of ``engine`` (or of both)."""
    engines = ("tensor", "scalar") if engine == "all" else (engine,)
    return [p for e in engines for d in declarations(e) if d.op is not None for p in probes(d)]
