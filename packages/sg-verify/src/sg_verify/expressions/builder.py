"""The core of the expression builder: where its decisions come from, and how nodes grow.

A :class:`Chooser` makes every random decision. :class:`_Builder` holds the nodes grown so
far, with a static bound on each node's ``|value|``; it picks arguments (preferring nodes
nothing uses yet, sometimes reusing one: diamonds) and fits guards that keep every bound
below :data:`~sg_verify.expressions.LIMIT`. The operators themselves are in
:mod:`sg_verify.expressions.operators`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from sg_verify.expressions.ir import _POSITIVE, INPUT_BOUND, LIMIT, Guard, Node, positive_range

T = TypeVar("T")


class Chooser(Protocol):
    """The source of every random decision of the generator: an integer in [low, high].

    Numpy draws them (:class:`NumpyChooser`), hypothesis draws them in
    :func:`sg_verify.strategies.expressions`, so that shrinking a failing example
    shrinks the choices: fewer nodes, earlier operators, smaller parameters.
    """

    def integer(self, low: int, high: int) -> int:
        """A uniformly chosen integer with ``low <= n <= high``."""
        ...


class _Builder:
    """Grows one expression node by node from a :class:`Chooser`'s decisions."""

    def __init__(self, chooser: Chooser, engine: str) -> None:
        self.chooser = chooser
        self.engine = engine
        self.nodes: list[Node] = []
        self.bounds: list[float] = []
        self.used: list[bool] = []
        self.base: tuple[int, ...] = ()
        self.hidden: set[int] = set()  # nodes no later node may take as an argument
        self.positive = _POSITIVE[engine]

    # -- decisions ---------------------------------------------------------------------
    def integer(self, low: int, high: int) -> int:
        return self.chooser.integer(low, high)

    def pick(self, options: Sequence[T]) -> T:
        return options[self.chooser.integer(0, len(options) - 1)]

    def one_in(self, n: int) -> bool:
        """True with probability 1/n (False is the choice a shrinker moves towards)."""
        return self.chooser.integer(0, n - 1) == n - 1

    # -- nodes -------------------------------------------------------------------------
    def shape(self, i: int) -> tuple[int, ...]:
        return self.nodes[i].shape

    def input(self, shape: tuple[int, ...]) -> int:
        self.nodes.append(Node("input", shape=shape))
        self.bounds.append(INPUT_BOUND)
        self.used.append(False)
        return len(self.nodes) - 1

    def sub_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A shape that broadcasts to ``shape``: leading axes dropped, some axes of size 1."""
        kept = shape[self.integer(0, len(shape)) :] if self.one_in(3) else shape
        return tuple(1 if self.one_in(4) else n for n in kept)

    def some_shape(self, min_ndim: int = 0) -> tuple[int, ...]:
        """A fresh input's shape: a sub-shape of the base shape with at least ``min_ndim`` axes."""
        shape = self.sub_shape(self.base)
        while len(shape) < min_ndim:
            shape = (self.integer(2, 3),) + shape
        return shape

    def arg(
        self, ok: Callable[[int], bool], fresh: Callable[[], tuple[int, ...]], first: bool = True
    ) -> int:
        """An earlier node satisfying ``ok`` (a new input of shape ``fresh()`` if none).

        A third of the time the choice is uniform over all candidates (reuse, diamonds);
        otherwise it is a candidate nothing uses yet, so that few nodes are dead: the
        latest for an operator's first argument, the earliest for the others (which
        joins separate chains).
        """
        candidates = [i for i in range(len(self.nodes)) if ok(i) and i not in self.hidden]
        if not candidates:
            return self.input(fresh())
        k = self.integer(0, 3 * len(candidates) - 1)
        if k < len(candidates):
            return candidates[k]
        unused = [i for i in candidates if not self.used[i]]
        if not unused:
            return candidates[k % len(candidates)]
        return unused[-1] if first else unused[0]

    def any_arg(self, min_ndim: int = 0) -> int:
        return self.arg(
            lambda i: len(self.shape(i)) >= min_ndim, lambda: self.some_shape(min_ndim)
        )

    def fit(
        self,
        args: Sequence[int],
        kinds: Sequence[str],
        bound: Callable[[list[tuple[float, float]]], float],
    ) -> tuple[tuple[Guard, ...], float]:
        """Guards keeping the result's bound at most :data:`LIMIT`.

        ``bound(intervals)`` is the result's bound given an interval holding each
        argument's values: ``(-b, b)`` for an argument bounded by ``b``, or the range of
        its guard transform ``kinds[i]``. Arguments are scaled by powers of two, exactly,
        until the bound fits.
        """
        raw = [self.bounds[i] for i in args]
        scales = [0] * len(raw)
        result = _bound(bound, raw, kinds)
        for target in (4.0, 1.0, 0.25, 0.0625):
            if result <= LIMIT:
                break
            scales = [0 if b <= target else math.ceil(math.log2(b / target)) for b in raw]
            result = _bound(bound, [b * 2.0**-s for b, s in zip(raw, scales)], kinds)
        return tuple(Guard(s, k) for s, k in zip(scales, kinds)), result

    def emit(
        self,
        op: str,
        args: Sequence[int],
        guards: tuple[Guard, ...],
        out_shape: tuple[int, ...],
        out_bound: float,
        **params: Any,
    ) -> None:
        self.nodes.append(Node(op, tuple(args), params, guards, out_shape))
        self.bounds.append(out_bound)
        self.used.append(False)
        for a in args:
            self.used[a] = True


def _bound(
    bound: Callable[[list[tuple[float, float]]], float], raw: list[float], kinds: Sequence[str]
) -> float:
    """``bound`` on the intervals of arguments bounded by ``raw`` under guards ``kinds``."""
    intervals = [(-b, b) if not k else positive_range(k, b) for b, k in zip(raw, kinds)]
    try:
        return float(bound(intervals))
    except OverflowError:
        return math.inf
