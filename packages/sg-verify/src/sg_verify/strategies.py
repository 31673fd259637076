"""Hypothesis strategies over the expression IR.

:func:`expressions` draws every decision of :func:`sg_verify.expressions.build_expression`
from hypothesis, so a failing property shrinks the way a person would simplify a failing
expression: fewer operator nodes, fewer inputs, lower ranks, earlier operators in the
engine's list, smaller parameters and seed 0. The falsifying example is printed as
readable code by the expression's ``repr``::

    Expression(tensor, seed=0):
        t0 = input()
        t1 = exp(t0)
        -> t1

>>> from hypothesis import given
>>> @given(expressions("scalar", max_nodes=3))
... def test_has_an_output(expr):
...     assert expr.nodes[-1].op != "input"
>>> test_has_an_output()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as hst

from sg_verify.expressions import Expression, build_expression

__all__ = ["HypothesisChooser", "expressions"]


class HypothesisChooser:
    """A :class:`~sg_verify.expressions.Chooser` whose integers hypothesis draws (and shrinks)."""

    def __init__(self, draw: Callable[[hst.SearchStrategy[Any]], Any]) -> None:
        self.draw = draw

    def integer(self, low: int, high: int) -> int:
        """An integer with ``low <= n <= high``; shrinking moves it towards ``low``."""
        value: int = self.draw(hst.integers(low, high))
        return value


def expressions(
    engine: str = "tensor",
    max_nodes: int = 6,
    *,
    min_nodes: int = 1,
    reference_only: bool = False,
    ops: Sequence[str] | None = None,
) -> hst.SearchStrategy[Expression]:
    """Random expressions of ``engine`` with ``min_nodes``..``max_nodes`` operator nodes.

    (Inputs are not counted; dead ends are joined, which may add a few binary nodes.)
    ``ops`` restricts the operators (by default all of the engine's, or the reference
    system's with ``reference_only``). Input values and the cotangent come from the
    expression's seed, also drawn by hypothesis.
    """
    if not 1 <= min_nodes <= max_nodes:
        raise ValueError(f"need 1 <= min_nodes <= max_nodes, got {min_nodes}, {max_nodes}")
    operators = None if ops is None else tuple(ops)

    @hst.composite
    def build(draw: Callable[[hst.SearchStrategy[Any]], Any]) -> Expression:
        return build_expression(
            HypothesisChooser(draw),
            engine,
            min_ops=min_nodes,
            max_ops=max_nodes,
            ops=operators,
            reference_only=reference_only,
        )

    strategy: hst.SearchStrategy[Expression] = build()
    return strategy
