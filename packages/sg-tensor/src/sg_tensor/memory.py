"""Before a backward pass, let go of the intermediate arrays no rule reads.

sg's graph nodes are the tensors themselves: an intermediate the caller has dropped (a
linear layer's output under its relu) stays alive as long as the graph that holds it,
with its array. A backward pass needs that array only if a rule reads it: the node's own
rule (as ``out``) or a consumer's (as one of its inputs), which
:func:`sg_scalar.reads.rule_reads` tells from each rule's code. PyTorch's graph saves
only what its rules read by construction; sg asks CPython's reference count whether
anything but the graph holds the node: then nobody can ever see its array again, and
the node keeps only a placeholder of its shape and dtype (all the driver and the
fitting of gradients look at). The backward's peak memory falls by those arrays; no
result changes.

On an interpreter without reference counts (``sys.getrefcount``), nothing is released.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

import numpy as np

from sg_scalar.graph import RELEASED
from sg_scalar.reads import rule_reads

__all__ = ["RELEASE_BYTES", "release_unread"]

RELEASE_BYTES = 1 << 16
"""Arrays smaller than this are kept: releasing them would save nothing worth a look."""


def _references(node: Any) -> int:
    return sys.getrefcount(node)


def _baseline() -> int:
    """The references :func:`release_unread` itself holds to a node it looks at (the list
    of the pass, its loop variable, the calls' arguments), counted the same way, now: a
    tracer or a debugger (Python 3.10 copies frame locals for one) may change it."""
    nodes = [object()]
    for node in nodes:
        return _references(node)
    raise AssertionError  # pragma: no cover - the list holds one object


_COUNTS = hasattr(sys, "getrefcount")


def release_unread(order: list[Any]) -> None:
    """Give each large intermediate of ``order`` (a pass's nodes) that no rule reads and
    nothing outside the graph holds a placeholder instead of its array."""
    if not _COUNTS or not _has_large(order):
        return
    read, slots = _reads_and_slots(order)
    baseline = _baseline()
    for node in order:
        data = node.data
        if node._op is None or id(node) in read or data.nbytes < RELEASE_BYTES:
            continue
        if not any(data.strides) or weakref.getweakrefcount(node):
            continue  # a placeholder already (all strides 0), or watched through a weakref
        if _references(node) == baseline + slots.get(id(node), 0):
            node.data = _placeholder(data)


def _has_large(order: list[Any]) -> bool:
    """Whether some intermediate of the pass is large enough to release (a plain loop:
    this runs before every pass, mostly on small graphs)."""
    for node in order:  # noqa: SIM110 - any() over a generator costs twice as much here
        if node.data.nbytes >= RELEASE_BYTES and node._op is not None:
            return True
    return False


def _reads_and_slots(order: list[Any]) -> tuple[set[int], dict[int, int]]:
    """The ids of the nodes whose array some rule reads, and for each node how many
    input slots of the pass's nodes hold it (references the graph itself makes)."""
    read: set[int] = set()
    slots: dict[int, int] = {}
    for node in order:
        op = node._op
        if op is None or op is RELEASED:
            continue
        reads = rule_reads(op.vjp)
        inputs = reads[1] if reads is not None else ()
        if reads is None or reads[0]:
            read.add(id(node))
        for i, parent in enumerate(node._parents):
            slots[id(parent)] = slots.get(id(parent), 0) + 1
            if i >= len(inputs) or inputs[i]:
                read.add(id(parent))
    return read, slots


def _placeholder(array: np.ndarray) -> np.ndarray:
    """A read-only array of ``array``'s shape and dtype holding one element."""
    return np.broadcast_to(np.zeros((), dtype=array.dtype), array.shape)
