"""The kernels that let an operator write into a buffer allocated once: ``into=`` in its
declaration (``@op``), used by a captured step (:mod:`sg_tensor.instructions`).

A kernel does the operator's arithmetic into arrays the tape allocated once (``out=``),
so that a replayed step allocates almost nothing. It must give the same bits as its
operator (``tests/test_capture.py`` checks every one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sg_scalar import graph

__all__ = ["DISCARD", "INTO", "Into"]


@dataclass(frozen=True)
class Into:
    """An operator's kernels writing into given arrays (both optional).

    ``forward(out, *inputs, **params)`` computes the forward into ``out`` (shaped and
    typed as the forward's result) and returns it. ``rule(outs, g, out, *inputs,
    **params)`` returns the rule's gradients, writing each one it computes into
    ``outs[i]`` (``None`` where the rule gave ``None`` or no array of its own) or
    returning what the rule returns there (``g`` itself, a view).
    """

    forward: Callable[..., Any] | None = None
    rule: Callable[..., Any] | None = None


DISCARD = 0
"""The slot every tape reserves for results nobody reads."""

INTO: dict[graph.Op, Into] = {}
"""The kernels of the operators that declare some (``into=`` in ``@op``), by operator."""
