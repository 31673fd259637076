"""Generation: a numpy source of decisions, and the functions that build an expression."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sg_verify.expressions.builder import Chooser
from sg_verify.expressions.ir import ENGINES, OPS, REFERENCE_ONLY_OPS, Expression
from sg_verify.expressions.operators import _OperatorBuilder


class NumpyChooser:
    """Integers from a numpy ``Generator``, drawn in blocks (one call per 1024 choices)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._block: list[float] = []
        self._next = 0

    def integer(self, low: int, high: int) -> int:
        """A uniformly chosen integer with ``low <= n <= high``."""
        if self._next == len(self._block):
            self._block = self.rng.random(1024).tolist()
            self._next = 0
        u = self._block[self._next]
        self._next += 1
        return min(high, low + int(u * (high - low + 1)))


def build_expression(
    chooser: Chooser,
    engine: str = "tensor",
    *,
    max_ops: int = 6,
    min_ops: int = 1,
    ops: Sequence[str] | None = None,
    reference_only: bool = False,
) -> Expression:
    """Build one expression from ``chooser``'s decisions (the shared core of generation).

    The decisions, in order: the base shape (rank 0-3, sizes 2-3; scalars for the scalar
    engine), 1-3 inputs whose shapes broadcast to it, the value seed, then for each of
    ``min_ops`` to ``max_ops`` operator nodes (after ``min_ops``, each further one with
    probability 3/4) its operator (from ``ops``, by default every operator of the engine,
    or only the reference system's with ``reference_only``), arguments and parameters.
    Dead ends are joined by binary operators, and the result is pruned to the nodes the
    output depends on.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be 'tensor' or 'scalar', got {engine!r}")
    if ops is None:
        ops = REFERENCE_ONLY_OPS[engine] if reference_only else OPS[engine]
    unknown = set(ops) - set(OPS[engine])
    if unknown:
        raise ValueError(f"not operators of the {engine} engine: {sorted(unknown)}")
    b = _OperatorBuilder(chooser, engine)
    if engine == "tensor":
        b.base = tuple(b.integer(2, 3) for _ in range(b.pick((0, 1, 2, 3, 2, 3))))
    for _ in range(b.integer(1, 3)):
        b.input(b.sub_shape(b.base))
    seed = b.integer(0, 2**31 - 1)
    for count in range(max_ops):
        # after min_ops, stop with probability 1/4 (the choice a shrinker moves towards,
        # deleting one node's block of decisions at a time)
        if count >= min_ops and b.integer(0, 3) == 0:
            break
        b.add(b.pick(ops))
    b.join(ops)
    return Expression(engine, tuple(b.nodes), seed).pruned()


def generate(
    rng: np.random.Generator,
    engine: str = "tensor",
    *,
    reference_only: bool = False,
    min_ops: int = 2,
    max_ops: int = 7,
    ops: Sequence[str] | None = None,
) -> Expression:
    """A random expression drawn from ``rng`` (see :func:`build_expression`)."""
    return build_expression(
        NumpyChooser(rng),
        engine,
        min_ops=min_ops,
        max_ops=max_ops,
        ops=ops,
        reference_only=reference_only,
    )
