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

import sys
import weakref
from typing import Any

import numpy as np

from sg_scalar.graph import record_modification

__all__ = ["ctx_modified", "last_write", "note_write", "written"]

# id(base array) -> (a weak reference to it, the counter at its last write); an entry
# goes when its array is freed.
_WRITES: dict[int, tuple[weakref.ref[np.ndarray], int]] = {}


def _base(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (itself, or the end of its ``.base`` chain)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def note_write(array: np.ndarray, count: int) -> None:
    """``array``'s memory was written in place when the counter was ``count``.

    Called by a tensor's ``_modified`` setter with its own ``.data``. Memory that no
    other array shares (no view of it exists: a view references its base, which the
    reference count shows) is seen through that tensor alone, whose own counter says
    it all: nothing to note (an optimizer's step writes every parameter, every step).
    """
    if array.base is None and _held(array) <= _only_the_tensor():
        return
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


def ctx_modified(ctx: dict[str, Any], epoch: int) -> bool:
    """Whether an array among ``ctx``'s values (an index, a condition, a mask, also in a
    tuple or list: a getitem's index) was written in place after ``epoch``: a tensor's
    array an operator keeps, written through the tensor (``i.fill_(2)``)."""
    if not _WRITES:
        return False
    for value in ctx.values():
        items = value if isinstance(value, (tuple, list)) else (value,)
        for item in items:
            if isinstance(item, np.ndarray) and last_write(item) > epoch:
                return True
    return False


def written(*tensors: Any) -> None:
    """``tensors`` had their data written in place just now, by code outside sg's
    in-place operators (an optimizer's step, an initializer, a load): a graph recorded
    before that reads one of them refuses its backward, as PyTorch's, whose optimizers,
    ``nn.init`` functions and ``load_state_dict`` write in place and so move each
    tensor's version counter."""
    record_modification(*tensors)


# -- what a reference count says when only the tensor holds its array --------------------
_ONLY_THE_TENSOR: int | None = None


def _held(array: Any) -> int:
    return sys.getrefcount(array) if _COUNTS else 1 << 30  # without counts: always noted


_COUNTS = hasattr(sys, "getrefcount")


def _only_the_tensor() -> int:
    """The count :func:`note_write` sees for an array only its tensor holds, measured once
    through calls of the same shape (the interpreter's version decides how many
    references a call holds). Not measured under a Python-level tracer or profiler,
    which may add references (every write is noted meanwhile): measured so, the count
    could be too high and a shared array would pass for one only its tensor holds."""
    global _ONLY_THE_TENSOR
    if _ONLY_THE_TENSOR is None:
        if sys.gettrace() is not None or sys.getprofile() is not None:
            return 0
        holder = _Holder()
        holder.data = np.empty(1)
        _ONLY_THE_TENSOR = _as_the_setter(holder)
    return _ONLY_THE_TENSOR


class _Holder:
    __slots__ = ("data",)
    data: np.ndarray


def _as_the_setter(tensor: Any) -> int:
    """A tensor's ``_modified`` setter: its data in a local, passed to note_write."""
    data = tensor.data
    return _as_note_write(data, 0)


def _as_note_write(array: Any, count: int) -> int:
    return _held(array)
