"""When each array was last written in place, by the array that owns the memory.

A view (``x[0:2]``, ``x.reshape(...)``), a detached tensor and the tensor itself share
one block of memory: writing through any of them changes what the others hold. PyTorch
keeps its version counter on the storage for this reason; sg keeps, for each base
array (the one a view's ``.base`` chain ends at), the in-place counter's value at its
last write (:func:`sg_scalar.graph.record_modification`). A tensor's ``_modified`` is the
latest write to its own memory, by whichever tensor made it, so a backward pass refuses
a graph whose rules would read memory written after they were recorded.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from sg_scalar.graph import record_modification

__all__ = ["last_write", "note_write", "written"]

# id(base array) -> (a weak reference to it, the counter at its last write); an entry
# goes when its array is freed.
_WRITES: dict[int, tuple[weakref.ref[np.ndarray], int]] = {}


def _base(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (itself, or the end of its ``.base`` chain)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def note_write(array: np.ndarray, count: int) -> None:
    """``array``'s memory was written in place when the counter was ``count``."""
    base = _base(array)
    key = id(base)
    entry = _WRITES.get(key)
    if entry is not None and entry[0]() is base:  # written before: its reference stays
        _WRITES[key] = (entry[0], count)
    else:
        _WRITES[key] = (weakref.ref(base, lambda _: _WRITES.pop(key, None)), count)


def last_write(array: Any) -> int:
    """The counter at the last in-place write to ``array``'s memory (0: never)."""
    if not _WRITES or not isinstance(array, np.ndarray):
        return 0
    base = _base(array)
    entry = _WRITES.get(id(base))
    return entry[1] if entry is not None and entry[0]() is base else 0


def written(*tensors: Any) -> None:
    """``tensors`` had their data written in place just now, by code outside sg's
    in-place operators (an optimizer's step, an initializer, a load): a graph recorded
    before that reads one of them refuses its backward, as PyTorch's, whose optimizers,
    ``nn.init`` functions and ``load_state_dict`` write in place and so move each
    tensor's version counter."""
    record_modification(*tensors)
