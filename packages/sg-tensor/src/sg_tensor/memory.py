"""Memory a backward pass need not use: the intermediate arrays no rule reads, let go of
before the pass (:func:`release_unread`), and the array of a second contribution to one
gradient, summed into the first when nothing but the pass holds it (:func:`sum_gradients`).

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

On an interpreter without reference counts (``sys.getrefcount``), nothing is released
and every sum is a new array.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

import numpy as np

from sg_scalar.graph import RELEASED
from sg_scalar.reads import rule_reads

__all__ = ["RELEASE_BYTES", "release_unread", "sum_gradients"]

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


# ---------------------------------------------------------------------------------------
# Sums in place
# ---------------------------------------------------------------------------------------
def sum_gradients(previous: Any, gradient: Any) -> Any:
    """``previous + gradient`` (two contributions to one node's gradient, the driver's sum),
    written into ``previous`` when nothing but the pass can see it.

    ``previous`` is what the node's other consumers sent: often an array a rule made
    for this pass alone, then dead once summed. Adding into it gives the same bits as a
    new sum (same shape, same dtype) and saves an array the size of the node. It is
    done only for a plain, writable array owning its memory (no view of it exists: a
    view holds a reference) that nothing else references: not a ``.grad``, not another
    node's pending gradient, not an array a rule kept or returned twice (``add`` hands
    on ``g`` to both inputs).
    """
    if (
        type(previous) is _ndarray
        and type(gradient) is _ndarray
        and previous.base is None
        and previous.shape == gradient.shape
        and previous.dtype == gradient.dtype
        and previous.flags.writeable
        and _only_the_pass_holds(previous)
    ):
        return _add(previous, gradient, out=previous)
    return previous + gradient


_ndarray, _add = np.ndarray, np.add
_PASS_HOLDS: int | None = None  # see _only_the_pass_holds


def _only_the_pass_holds(previous: Any) -> bool:
    """Whether the only references to ``previous`` are the driver's: the local and the
    node's ``_pending`` slot it is summing, and the calls down to here."""
    global _PASS_HOLDS
    if _PASS_HOLDS is None:
        if not _COUNTS or sys.gettrace() is not None or sys.getprofile() is not None:
            return False  # see _calibrated: a tracer may count more
        _PASS_HOLDS = _calibrated()
    return _held(previous) == _PASS_HOLDS


def _held(array: Any) -> int:
    return sys.getrefcount(array)


class _Slot:
    __slots__ = ("_pending",)
    _pending: Any


def _calibrated() -> int:
    """The count :func:`_only_the_pass_holds` sees for an array held as the driver holds
    it (a local and a node's slot), through calls of the same shape (the interpreter's
    version decides how many references a call adds).

    Measured without a tracer or a profiler: a Python-level one (Python 3.10 and 3.11)
    copies the locals of the frames it sees, adding references; measured so, the count
    could be too high, and an array someone holds would pass as the pass's own. Used
    with one, the count can only be higher than this: never summed in place.
    """
    node = _Slot()
    previous = node._pending = np.empty(1)
    return _probe(previous, None)


def _probe(previous: Any, gradient: Any) -> int:
    """:func:`sum_gradients`'s place in the calls (called by the driver's frame)."""
    return _probe_below(previous)


def _probe_below(previous: Any) -> int:
    """:func:`_only_the_pass_holds`'s place in the calls."""
    return _held(previous)
