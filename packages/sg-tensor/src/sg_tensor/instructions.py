"""The instructions of a captured step (:mod:`sg_tensor.capturing`).

An instruction is a closure ``run(slots)`` that reads its arrays from numbered slots and
stores its results in others. It calls exactly what the eager step calls (the operator's
forward, its rule, the driver's sum of two contributions, the fitting of a gradient to
its input), so a replay computes the same numbers, unless the operator's declaration
gives a kernel (:mod:`sg_tensor.kernels`): the same arithmetic, into arrays the tape
allocated once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from sg_scalar import graph
from sg_tensor.kernels import DISCARD, INTO

__all__ = ["Instruction", "Slots", "add_instruction", "fit_instruction",
           "forward_instruction", "rule_instruction"]  # fmt: skip

Slots = list[Any]
Instruction = Callable[[Slots], None]
_ndarray = np.ndarray


class Tape(Protocol):
    """What the builders use of :class:`sg_tensor.capturing.Tape`."""

    values: Slots
    program: list[Instruction]
    buffers: dict[int, tuple[list[Any], int]]

    def result_slot(self, array: Any) -> int: ...

    def context(self, ctx: dict[str, Any]) -> Callable[[Slots], dict[str, Any]] | None: ...


def _fresh(value: Any, inputs: list[Any]) -> bool:
    """Whether ``value`` is an array of its own (not an input, not a view): a buffer
    can stand in for it."""
    return type(value) is _ndarray and value.base is None and all(value is not a for a in inputs)


def forward_instruction(
    tape: Tape, op: graph.Op, slots: list[int], ctx: dict[str, Any], target: int,
    make: Callable[[Slots], dict[str, Any]] | None,
) -> Instruction:  # fmt: skip
    """``slots[target] = op.forward(*slots[inputs], **ctx)``, into a buffer if it can;
    ``make`` is ``tape.context(ctx)``, placed before the result's slot was given (a
    forward may return an array of its ``ctx`` itself: an indicator's values)."""
    forward = op.forward
    if make is not None:  # ctx holds arrays the tape computes: this replay's ones

        def dynamic(s: Slots) -> None:
            d = forward(*[s[i] for i in slots], **make(s))
            s[target] = d if type(d) is _ndarray else np.asarray(d)

        return dynamic
    kernel = INTO[op].forward if op in INTO else None
    value = tape.values[target]
    if kernel is not None and _fresh(value, [tape.values[i] for i in slots]):
        holder = [np.empty_like(value)]
        writer = _forward_into(kernel, holder, slots, ctx, target)
        _owning(tape, holder, 0)
        return writer
    if len(slots) == 1 and not ctx:
        (a,) = slots

        def unary(s: Slots) -> None:
            d = forward(s[a])
            s[target] = d if type(d) is _ndarray else np.asarray(d)

        return unary
    if len(slots) == 2 and not ctx:
        a, b = slots

        def binary(s: Slots) -> None:
            d = forward(s[a], s[b])
            s[target] = d if type(d) is _ndarray else np.asarray(d)

        return binary

    def general(s: Slots) -> None:
        d = forward(*[s[i] for i in slots], **ctx)
        s[target] = d if type(d) is _ndarray else np.asarray(d)

    return general


def _owning(tape: Tape, holder: list[Any], index: int) -> None:
    """Note that ``holder[index]`` is one of the tape's own arrays (a buffer).

    Buffers are held in lists, read at each call: a leaf that keeps one as its ``.grad``
    gets it for good, and the tape puts a new one in its place (see
    :func:`sg_tensor.capturing._store_leaves`).
    """
    tape.buffers[id(holder[index])] = (holder, index)


def _store(s: Slots, targets: list[int | None], found: Any) -> None:
    """A rule's gradients into their slots (none for a gradient the rule did not give)."""
    for t, x in zip(targets, found):
        if t is not None:
            s[t] = x


def _forward_into(
    kernel: Callable[..., Any], holder: list[Any], slots: list[int], ctx: dict[str, Any],
    target: int,
) -> Instruction:  # fmt: skip
    """``slots[target] = kernel(holder[0], *slots[inputs], **ctx)``, spelled out for the
    usual arities: a replay is a loop of these calls."""
    if not ctx and len(slots) == 1:
        (a,) = slots

        def unary(s: Slots) -> None:
            s[target] = kernel(holder[0], s[a])

        return unary
    if not ctx and len(slots) == 2:
        a, b = slots

        def binary(s: Slots) -> None:
            s[target] = kernel(holder[0], s[a], s[b])

        return binary
    if not ctx and len(slots) == 3:
        a, b, c = slots

        def ternary(s: Slots) -> None:
            s[target] = kernel(holder[0], s[a], s[b], s[c])

        return ternary

    def general(s: Slots) -> None:
        s[target] = kernel(holder[0], *[s[i] for i in slots], **ctx)

    return general


def rule_instruction(
    tape: Tape, op: graph.Op, g: int, out: int, inputs: list[int], ctx: dict[str, Any]
) -> list[int | None]:
    """Record and run ``op``'s rule; the slots of its gradients (``None``: no gradient)."""
    values = tape.values  # (under the errstate of the recording backward)
    grads = op.vjp(values[g], values[out], *[values[i] for i in inputs], **ctx)
    if not isinstance(grads, (tuple, list)) or len(grads) != len(inputs):
        raise graph._wrong_count(op, grads, len(inputs))
    make = tape.context(ctx)  # first: a gradient's slot must not shadow an array of ctx
    targets = [None if x is None else tape.result_slot(x) for x in grads]
    kernel = INTO[op].rule if op in INTO else None
    vjp = op.vjp
    if make is not None:  # ctx holds arrays the tape computes: this replay's

        def dynamic(s: Slots) -> None:
            _store(s, targets, vjp(s[g], s[out], *[s[i] for i in inputs], **make(s)))

        tape.program.append(dynamic)
        return targets
    if kernel is not None:
        seen = [values[g], values[out], *[values[i] for i in inputs]]
        buffers = [np.empty_like(x) if _fresh(x, seen) else None for x in grads]
        into = _rule_into(kernel, buffers, g, out, inputs, ctx, targets)
        for i, (t, buffer) in enumerate(zip(targets, buffers)):
            if buffer is not None and t is not None:
                _owning(tape, buffers, i)
        tape.program.append(into)
    else:

        def plain(s: Slots) -> None:
            _store(s, targets, vjp(s[g], s[out], *[s[i] for i in inputs], **ctx))

        tape.program.append(plain)
    return targets


def _rule_into(
    kernel: Callable[..., Any], buffers: list[Any], g: int, out: int, inputs: list[int],
    ctx: dict[str, Any], targets: list[int | None],
) -> Instruction:  # fmt: skip
    """Run a rule kernel and store the gradients it gives (a ``None`` one in the tape's
    discard slot)."""
    stores = [t if t is not None else DISCARD for t in targets]
    if len(inputs) == 1:
        (a,), (ta,) = inputs, stores

        def unary(s: Slots) -> None:
            (s[ta],) = kernel(buffers, s[g], s[out], s[a], **ctx)

        return unary
    if len(inputs) == 2:
        (a, b), (ta, tb) = inputs, stores

        def binary(s: Slots) -> None:
            s[ta], s[tb] = kernel(buffers, s[g], s[out], s[a], s[b], **ctx)

        return binary
    if len(inputs) == 3:
        (a, b, c), (ta, tb, tc) = inputs, stores

        def ternary(s: Slots) -> None:
            s[ta], s[tb], s[tc] = kernel(buffers, s[g], s[out], s[a], s[b], s[c], **ctx)

        return ternary

    def general(s: Slots) -> None:
        _store(s, targets, kernel(buffers, s[g], s[out], *[s[i] for i in inputs], **ctx))

    return general


def fit_instruction(
    tape: Tape, fit: Callable[..., Any], g: int, standin: Any, op: graph.Op, index: int
) -> int:
    """The driver's fitting of a gradient to its input's shape and dtype (``fit``: the node
    type's ``_fit_gradient``)."""
    target = tape.result_slot(fit(tape.values[g], standin, op, index))

    def run(s: Slots) -> None:
        s[target] = fit(s[g], standin, op, index)

    tape.program.append(run)
    return target


def add_instruction(tape: Tape, a: int, b: int) -> int:
    """Two contributions to one gradient summed, as the driver sums them."""
    value = tape.values[a] + tape.values[b]
    target = tape.result_slot(value)
    if type(value) is _ndarray:
        holder = [np.empty_like(value)]
        add = np.add

        def into(s: Slots) -> None:
            s[target] = add(s[a], s[b], out=holder[0])

        _owning(tape, holder, 0)
        tape.program.append(into)
        return target

    def plain(s: Slots) -> None:
        s[target] = s[a] + s[b]

    tape.program.append(plain)
    return target
