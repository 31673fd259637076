"""Probes: inputs placed exactly on the declared kinks, ties and zero spreads of an operator.

The registry's samplers keep inputs away from kinks, ties and constant slices, where a
finite difference through the kink means nothing; only a probe shows which convention a
rule follows there (``relu'(0) = 0``, a tie's gradient split evenly, ``std``'s gradient
0 on a constant slice). The finite-difference oracles hold a
probe to the declared convention (:func:`sg_verify.oracles.input_differences`); the
operator checks (``sg-verify ops``) and the mutants run them beside the registry's specs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from sg_scalar.declare import Declaration, Kink, Tie, ZeroSpread
from sg_scalar.examples import Example
from sg_verify.registry import OpSpec, declarations, examples, spec

__all__ = ["all_probes", "probes", "spread_probes"]


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


def _paired(example: Example) -> Callable[..., list[np.ndarray]]:
    """The example's first input with each even column copied into the next one: every
    value occurs at most twice, side by side, so windows (pooling's) see ties between
    neighbours and nothing else (the convention oracles rely on pairs)."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        arrays = [np.array(a, dtype=np.float64) for a in example.draw(rng)]
        x = arrays[0]
        width = x.shape[-1] // 2
        x[..., 1 : 2 * width : 2] = x[..., 0 : 2 * width : 2]
        return arrays

    return draw


def _constant_slices(example: Example, axis: object) -> Callable[..., list[np.ndarray]]:
    """The example's input with every third reduced slice constant (all of it for a full
    reduction), at a whole number, so that the mean is exact and the spread exactly 0."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        arrays = [np.array(a, dtype=np.float64) for a in example.draw(rng)]
        x = arrays[0]
        if axis is None:
            reduced = list(range(x.ndim))
        else:
            reduced = sorted({int(a) % x.ndim for a in np.atleast_1d(np.asarray(axis))})
        order = [i for i in range(x.ndim) if i not in reduced] + reduced
        moved = np.transpose(x, order).copy()
        rows = moved.reshape(-1, math.prod(x.shape[i] for i in reduced))
        rows[::3] = np.round(rows[::3, :1])
        arrays[0] = np.transpose(moved, np.argsort(order)).copy()
        return arrays

    return draw


_PROBES: dict[tuple[str, str, bool], tuple[OpSpec, ...]] = {}
_ROWS = (None, 1, -1, (1,), (-1,))  # reductions that see whole rows of a matrix


def probes(decl: Declaration, spread: bool = False) -> tuple[OpSpec, ...]:
    """The probe specs of ``decl``: its first example in each case where an edge applies,
    with inputs on that edge (built once). The kinks and ties; with ``spread``, its zero
    spreads instead (see :func:`spread_probes`)."""
    key = (decl.engine, decl.name, spread)
    if key in _PROBES:
        return _PROBES[key]
    found: list[OpSpec] = []
    firsts = {e.case_index: e for e in reversed(examples(decl)) if e.form == decl.forms_or_call[0]}
    for i, example in sorted(firsts.items()):
        base = spec(example)
        for n, edge in enumerate(decl.edges):
            draw: Callable[..., list[np.ndarray]] | None = None
            if spread != isinstance(edge, ZeroSpread):
                continue
            if isinstance(edge, Kink) and edge.point(example.case.params) is not None:
                point = edge.point(example.case.params)
                assert point is not None
                draw = _on_kink(example, edge.input, point)
            elif (
                isinstance(edge, Tie)
                and edge.within
                and not {"axis", "dim"} & set(example.case.params)
            ):
                draw = _paired(example)  # windows (pooling): neighbours tied in pairs
            elif isinstance(edge, Tie) and (edge.within or len(example.shapes) == 2):
                params = example.case.params
                if edge.within and params.get("axis", params.get("dim")) not in _ROWS:
                    continue  # the tied probe is rows of a matrix
                if edge.within:
                    example = Example(decl, example.form, example.case, ((3, 3),), i)
                    base = spec(example)
                draw = _tied(example, edge.within)
            elif isinstance(edge, ZeroSpread) and {"axis", "dim"} & set(example.case.params):
                params = example.case.params
                draw = _constant_slices(example, params.get("axis", params.get("dim")))
            if draw is not None:
                name = f"probe:{decl.name}[{type(edge).__name__.lower()}{n};case {i}]"
                found.append(dataclasses.replace(base, name=name, sample=draw))
    _PROBES[key] = tuple(found)
    return _PROBES[key]


def all_probes(engine: str = "all") -> list[OpSpec]:
    """The probes on the kinks and ties of every operator (with a rule) of ``engine`` (or
    of both)."""
    engines = ("tensor", "scalar") if engine == "all" else (engine,)
    return [p for e in engines for d in declarations(e) if d.op is not None for p in probes(d)]


def spread_probes(engine: str = "all") -> list[OpSpec]:
    """The probes on the zero spreads of every operator of ``engine`` (``std`` with every
    third reduced slice constant): for first-order checks only.

    At a constant slice the gradient is a convention (0, PyTorch's), which finite
    differences confirm (the two sides of a central difference cancel) and every
    first-order check passes; the second derivative has no reference there (PyTorch's is
    ``inf`` along the cotangent, differences of the gradient diverge), so these are not
    among :func:`all_probes`, which ``ops`` also differentiates twice.
    """
    engines = ("tensor", "scalar") if engine == "all" else (engine,)
    return [
        p for e in engines for d in declarations(e) if d.op is not None for p in probes(d, True)
    ]
