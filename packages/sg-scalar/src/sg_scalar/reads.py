"""What a gradient rule reads of its operator's forward, told by the rule's own code.

A rule ``vjp(g, out, *inputs, **ctx)`` receives the output and every input, but most
read only some: ``relu``'s reads ``out`` alone (its mask), ``add``'s nothing, ``linear``'s
its inputs and not ``out``. A backward pass needs an intermediate's array only where
some rule reads it; an engine may let the others go before the pass
(``Tensor`` does: :mod:`sg_tensor.memory`).

The answer comes from the declaration itself, the rule's code: a parameter that no
instruction of the function (or of a function nested in it) loads, or loads only for its
shape, dimensions, dtype or size, is never read (its values are not). Where
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
# Instructions naming a local that only write it; every other one naming a local (the
# LOAD_FAST family, STORE_FAST_LOAD_FAST in 3.13, DELETE_FAST, cells) counts as reading.
_STORES = frozenset({"STORE_FAST", "STORE_FAST_STORE_FAST", "STORE_FAST_MAYBE_NULL",
                     "STORE_DEREF"})  # fmt: skip
_LOCALS = ("FAST", "DEREF", "CLOSURE", "CELL")
# Names through which code can reach its locals without loading them by name.
_ESCAPES = frozenset({"locals", "vars", "eval", "exec", "_getframe", "currentframe"})


def rule_reads(vjp: Callable[..., Any]) -> tuple[bool, tuple[bool, ...]] | None:
    """``(reads out, (reads input 0, reads input 1, ...))`` for a rule, or ``None`` when
    its code does not tell (then everything counts as read)."""
    if type(vjp) is not types.FunctionType:  # a method, a builtin, a callable object
        return None
    return _function_reads(vjp)


@functools.cache  # plain functions only: rules are module-level, a handful per operator
def _function_reads(vjp: types.FunctionType) -> tuple[bool, tuple[bool, ...]] | None:
    code = vjp.__code__
    names = code.co_varnames[: code.co_argcount]
    if code.co_flags & _VARARGS or len(names) < 2 or _ESCAPES & set(code.co_names):
        return None
    loaded = _loaded(code)
    return names[1] in loaded, tuple(name in loaded for name in names[2:])


def _loaded(code: types.CodeType) -> set[str]:
    """The local names ``code`` reads, and those its nested functions take from it.

    A plain load followed by ``.shape``, ``.ndim``, ``.dtype`` or ``.size`` reads what an
    array's values never change (``sum``'s rule reads its input's shape alone): it does
    not count."""
    found = set(code.co_cellvars)  # read by a nested function, a lambda, a comprehension
    instructions = list(dis.get_instructions(code))
    for instruction, following in zip(instructions, [*instructions[1:], None]):
        name = instruction.opname
        value = instruction.argval  # two names for the fused instructions of 3.13
        if following is not None and _metadata(following):
            if name in _PLAIN_LOADS:
                continue
            if name == "LOAD_FAST_LOAD_FAST":  # the attribute is the second one's
                value = value[:1]
        if name not in _STORES and any(part in name for part in _LOCALS):
            found.update(value if isinstance(value, tuple) else (value,))
    return found


_PLAIN_LOADS = frozenset({"LOAD_FAST", "LOAD_FAST_CHECK"})  # one local, pushed once
_METADATA = frozenset({"shape", "ndim", "dtype", "size"})


def _metadata(instruction: dis.Instruction) -> bool:
    """Whether ``instruction`` reads an attribute an in-place write never changes."""
    return instruction.opname == "LOAD_ATTR" and instruction.argval in _METADATA
