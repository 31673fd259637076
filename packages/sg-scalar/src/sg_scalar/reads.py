"""What a gradient rule reads of its operator's forward, told by the rule's own code.

A rule ``vjp(g, out, *inputs, **ctx)`` receives the output and every input, but most
read only some: ``relu``'s reads ``out`` alone (its mask), ``add``'s nothing, ``linear``'s
its inputs and not ``out``. A backward pass needs an intermediate's array only where
some rule reads it; an engine may let the others go before the pass
(``Tensor`` does: :mod:`sg_tensor.memory`).

The answer comes from the declaration itself, the rule's code: a parameter that no
instruction of the function (or of a function nested in it) loads is never read. Where
the code cannot say (a builtin, a wrapper taking ``*args``, a method), the answer is
``None``: everything counts as read.
"""

from __future__ import annotations

import dis
import functools
import types
from collections.abc import Callable
from typing import Any

__all__ = ["rule_reads"]

_VARARGS = 0x04  # inspect.CO_VARARGS: a rule taking *inputs
_LOADS = ("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE", "DELETE_FAST")  # and their variants


@functools.cache
def rule_reads(vjp: Callable[..., Any]) -> tuple[bool, tuple[bool, ...]] | None:
    """``(reads out, (reads input 0, reads input 1, ...))`` for a rule, or ``None`` when
    its code does not tell (then everything counts as read)."""
    if type(vjp) is not types.FunctionType:
        return None
    code = vjp.__code__
    names = code.co_varnames[: code.co_argcount]
    if code.co_flags & _VARARGS or len(names) < 2 or "locals" in code.co_names:
        return None
    loaded = _loaded(code)
    return names[1] in loaded, tuple(name in loaded for name in names[2:])


def _loaded(code: types.CodeType) -> set[str]:
    """The local names ``code`` loads, and those its nested functions take from it."""
    found = set(code.co_cellvars)  # read by a nested function, a lambda, a comprehension
    for instruction in dis.get_instructions(code):
        if instruction.opname.startswith(_LOADS):
            value = instruction.argval  # LOAD_FAST_LOAD_FAST (3.13) loads two: a tuple
            found.update(value if isinstance(value, tuple) else (value,))
    return found
