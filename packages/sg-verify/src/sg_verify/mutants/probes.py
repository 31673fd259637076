"""Probes: inputs of our own, on kinks and ties, square matrices, reused inputs.

The registry samplers avoid kinks and ties, and draw few square matrices or repeated
nodes; these specs put inputs exactly where some mutants show. Each operator's probes
are built once (:func:`_operator_probes`); the reuse probes (a node used twice, a
diamond) are the driver mutants' witnesses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sg_verify.registry import OpSpec, away_from_zero, distinct

Sampler = Callable[[np.random.Generator], list[np.ndarray]]


def _probe(
    engine: str,
    name: str,
    op: str,
    sg: Callable[..., Any],
    torch: Callable[..., Any],
    sample: Sampler,
) -> OpSpec:
    return OpSpec(
        name=f"probe:{name}", engine=engine, op=op, sg=sg, torch=torch, sample=sample,
        covers=(op,),
    )  # fmt: skip


def _T() -> Any:
    import torch

    return torch


def _zeros_at_kink(*shape: int, at: float = 0.0, every: int = 3) -> Sampler:
    """Values away from ``at`` with every ``every``-th element exactly on it."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        x = np.asarray(away_from_zero(*shape, gap=0.1)(rng), dtype=np.float64) + at
        x.reshape(-1)[::every] = at
        return [x]

    return draw


def _on_clip_bounds(rng: np.random.Generator) -> list[np.ndarray]:
    x = rng.standard_normal((3, 4))
    x = np.where(np.abs(np.abs(x) - 0.5) < 0.05, x * 1.3, x)
    x.reshape(-1)[::5] = 0.5
    x.reshape(-1)[2::5] = -0.5
    return [x]


def _on_min_bound(rng: np.random.Generator) -> list[np.ndarray]:
    x = rng.standard_normal((3, 4))
    x = np.where(np.abs(x - 0.2) < 0.05, x + 0.3, x)
    x.reshape(-1)[::4] = 0.2
    return [x]


def _tied_pairs(*shape: int) -> Sampler:
    """Two inputs equal at every third element and at least 0.1 apart elsewhere."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        a = rng.standard_normal(shape)
        gap = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 1.0, shape)
        b = np.asarray(a + gap, dtype=np.float64)
        b.reshape(-1)[::3] = np.asarray(a).reshape(-1)[::3]
        return [np.asarray(a, dtype=np.float64), b]

    return draw


def _tied_extremes(rng: np.random.Generator) -> list[np.ndarray]:
    """Rows of five whose maximum and minimum each occur exactly twice."""
    base = np.asarray(distinct(3, 3)(rng), dtype=np.float64)
    return [np.concatenate([base, base.max(1, keepdims=True), base.min(1, keepdims=True)], 1)]


def _diamond(x: Any) -> Any:
    h = x.sin()  # one intermediate node with two consumers
    return h.exp() * h.cos()


def _reuse_probes(engine: str) -> tuple[OpSpec, ...]:
    """Expressions that use a node twice: the only place where summing matters."""
    shape: tuple[int, ...] = (3, 4) if engine == "tensor" else ()

    def real(rng: np.random.Generator) -> np.ndarray:
        return np.asarray(rng.standard_normal(shape), dtype=np.float64)

    return (
        _probe(engine, "reuse[x*x]", "mul", lambda x: x * x, lambda x: x * x,
               lambda rng: [real(rng)]),
        _probe(engine, "reuse[x*y+x]", "add", lambda x, y: x * y + x, lambda x, y: x * y + x,
               lambda rng: [real(rng), real(rng)]),
        _probe(engine, "reuse[diamond]", "mul", _diamond, _diamond, lambda rng: [real(rng)]),
    )  # fmt: skip


def _tensor_probes() -> dict[str, tuple[OpSpec, ...]]:
    import sg_tensor as st

    def F() -> Any:
        import torch.nn.functional

        return torch.nn.functional

    def square(*shapes: tuple[int, ...]) -> Sampler:
        return lambda rng: [rng.standard_normal(s) for s in shapes]

    e = "tensor"
    # The registry's astype spec converts twice (float64 -> float32 -> float64), so a
    # mutant applied to both conversions can cancel (a sign flipped twice): this probe
    # converts once, the float64 zeros only bringing the result back to float64.
    astype_once = OpSpec(
        name="probe:astype[once]", engine=e, op="astype",
        sg=lambda x: x.astype(np.float32) + np.zeros(x.shape),
        torch=lambda x: x.float() + _T().zeros(x.shape, dtype=_T().float64),
        sample=lambda rng: [rng.standard_normal((3, 4))], covers=("astype",),
        fd_eps=1e-2, fd_rtol=1e-5,
    )  # fmt: skip
    return {
        "relu": (_probe(e, "relu[kink]", "relu", lambda x: x.relu(), lambda x: x.relu(),
                        _zeros_at_kink(3, 4)),),
        "abs": (_probe(e, "abs[kink]", "abs", lambda x: x.abs(), lambda x: x.abs(),
                       _zeros_at_kink(3, 4)),),
        "leaky_relu": (_probe(e, "leaky_relu[kink]", "leaky_relu",
                              lambda x: x.leaky_relu(0.1), lambda x: F().leaky_relu(x, 0.1),
                              _zeros_at_kink(3, 4)),),
        "clip": (
            _probe(e, "clip[bounds]", "clip", lambda x: x.clip(-0.5, 0.5),
                   lambda x: x.clamp(-0.5, 0.5), _on_clip_bounds),
            _probe(e, "clip[min-bound]", "clip", lambda x: st.clip(x, min=0.2),
                   lambda x: x.clamp(min=0.2), _on_min_bound),
        ),
        "maximum": (_probe(e, "maximum[ties]", "maximum", st.maximum,
                           lambda x, y: _T().maximum(x, y), _tied_pairs(3, 4)),),
        "minimum": (_probe(e, "minimum[ties]", "minimum", st.minimum,
                           lambda x, y: _T().minimum(x, y), _tied_pairs(3, 4)),),
        "max": (
            _probe(e, "max[ties,axis=1]", "max", lambda x: x.max(1),
                   lambda x: _T().amax(x, 1), _tied_extremes),
            _probe(e, "max[ties,axis=None]", "max", lambda x: x.max(),
                   lambda x: _T().amax(x), _tied_extremes),
        ),
        "min": (
            _probe(e, "min[ties,axis=1]", "min", lambda x: x.min(1),
                   lambda x: _T().amin(x, 1), _tied_extremes),
            _probe(e, "min[ties,axis=None]", "min", lambda x: x.min(),
                   lambda x: _T().amin(x), _tied_extremes),
        ),
        "astype": (astype_once,),
        "matmul": (
            _probe(e, "matmul[square]", "matmul", lambda x, y: x @ y, lambda x, y: x @ y,
                   square((3, 3), (3, 3))),
            _probe(e, "matmul[square,batched]", "matmul", lambda x, y: x @ y,
                   lambda x, y: x @ y, square((2, 3, 3), (3, 3))),
        ),
    }  # fmt: skip


def _scalar_probes() -> dict[str, tuple[OpSpec, ...]]:
    e = "scalar"

    def zero(rng: np.random.Generator) -> list[np.ndarray]:
        return [np.asarray(0.0)]

    def tie(rng: np.random.Generator) -> list[np.ndarray]:
        a = np.asarray(rng.standard_normal(), dtype=np.float64)
        return [a, a.copy()]

    return {
        "relu": (_probe(e, "relu[kink]", "relu", lambda x: x.relu(), lambda x: x.relu(), zero),),
        "abs": (_probe(e, "abs[kink]", "abs", lambda x: x.abs(), lambda x: x.abs(), zero),),
        "maximum": (_probe(e, "maximum[tie]", "maximum", lambda x, y: x.maximum(y),
                           lambda x, y: _T().maximum(x, y), tie),),
        "minimum": (_probe(e, "minimum[tie]", "minimum", lambda x, y: x.minimum(y),
                           lambda x, y: _T().minimum(x, y), tie),),
    }  # fmt: skip


_PROBES: dict[str, dict[str, tuple[OpSpec, ...]]] = {}
_REUSE: dict[str, tuple[OpSpec, ...]] = {}


def _operator_probes(engine: str, name: str) -> tuple[OpSpec, ...]:
    """The probes every mutant of this operator also runs on (built once)."""
    if not _PROBES:
        _PROBES["tensor"] = _tensor_probes()
        _PROBES["scalar"] = _scalar_probes()
    return _PROBES[engine].get(name, ())


def _reuse(engine: str) -> tuple[OpSpec, ...]:
    if engine not in _REUSE:
        _REUSE[engine] = _reuse_probes(engine)
    return _REUSE[engine]
