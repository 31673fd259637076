"""Capture a training step once, replay it without a graph: ``step = sg_tensor.capture(fn)``.

An eager step builds a graph node per operation, sorts it, runs each rule through the
driver and lets numpy allocate every array afresh. When the same step runs again and
again on inputs of the same shapes, all of that is the same every time except the
numbers. :func:`capture` records one call of ``fn`` as a flat *tape*: each operator's
forward, each gradient rule, each sum the driver makes of two contributions, each
gradient stored in a leaf, and each replayed side effect (an optimizer's ``step()``,
``zero_grad()``, batch norm's running statistics) as one instruction on numbered
*slots* of arrays. Later calls fill the input slots and run the instructions; operators
that declare a kernel writing into a given array (``into=`` in their declaration) write
into buffers allocated once at capture, so a replayed step allocates almost nothing.

What a replay computes is what the eager step computes, bit for bit: the same
functions on the same arrays in the same order (the oracle suite checks 100 replayed
steps against 100 eager ones, parameter for parameter).

What is fixed at capture, as in any tracing compiler (``torch.compile``, ``jax.jit``):

- the *shapes*, dtypes, requires-grad flags and leaf-ness of the tensor arguments,
  which of them are one object or share one array, and the values of the other
  arguments: a call that differs captures again (or raises, with ``recapture=False``);
- numpy code run inside ``fn`` on a tensor's ``.data`` or on an array argument (its
  result is a constant of the tape);
- Python control flow and Python values read inside ``fn`` (a layer's ``training``
  flag, a loss weight in a closure): change them and make a new capture;
- Python side effects inside ``fn`` other than the replayed ones (printing, appending
  to a list) happen at capture only.

What cannot be replayed is refused while capturing, with an error naming it: random
numbers (dropout), reading a value into Python (``.item()``, ``float()``, ``bool()``),
in-place tensor operations other than the replayed ones, ``create_graph=True``,
``autograd.grad``, and custom :class:`~sg_tensor.Function`\\s.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import numpy as np

from sg_scalar import graph
from sg_tensor.dtypes import get_default_dtype
from sg_tensor.instructions import (
    Instruction,
    Slots,
    add_instruction,
    fit_instruction,
    forward_instruction,
    rule_instruction,
)

__all__ = ["CaptureError", "Captured", "capture", "computed", "replayed"]

F = TypeVar("F", bound=Callable[..., Any])


class CaptureError(RuntimeError):
    """``fn`` does something a captured step cannot replay, or (``recapture=False``) a
    call does not match the capture."""


class _Recording(threading.local):
    tape: Tape | None = None


_recording = _Recording()


_registered: list[type] = []  # sg_tensor.tensor registers Tensor (it imports this module)


def register_node_type(cls: type) -> None:
    """Called once by :mod:`sg_tensor.tensor`: the tensor type a capture records."""
    _registered[:] = [cls]


def _node_type() -> Any:
    return _registered[0]


def recording() -> Tape | None:
    """The tape being recorded in this thread, or ``None`` (the usual, eager case)."""
    return _recording.tape


def refuse(what: str) -> None:
    """Raise if a capture is being recorded: ``what`` cannot be replayed."""
    tape = _recording.tape
    if tape is not None and not tape.paused:
        raise CaptureError(f"capture: {what} cannot be replayed by a captured step")


def refuse_on_argument(tensor: Any, what: str) -> None:
    """Raise if a capture is being recorded and ``tensor`` is one of its arguments: a
    replay gets other argument objects, and would not do ``what`` to them."""
    tape = _recording.tape
    if tape is not None and not tape.paused and id(tensor) in tape.input_objects:
        raise CaptureError(f"capture: {what} on an argument of the step cannot be replayed "
                           "by a captured step (do it before the call)")  # fmt: skip


def replayed(method: F) -> F:
    """Mark a function with side effects (an optimizer's ``step``) to be run again by
    every replay of a captured step that called it, with the same arguments.

    Arrays and tensors among the arguments are read from the replay's slots where the
    tape computed them; operators the function runs on tensors are not recorded (the
    function itself is what runs again).
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tape = _recording.tape
        if tape is None or tape.paused:
            return method(*args, **kwargs)
        return tape.side_effect(method, args, kwargs)

    wrapper.__sg_replayed__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def computed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``: a computation on arrays with no gradient (a comparison, an
    argmax, class indices made from targets) that a captured step redoes at every replay.

    Arrays among the arguments (also inside tuples and lists) are this replay's where the
    tape computed them; the result (an array, or a tuple of arrays) is given slots, so
    that operators and other computations using it read this replay's value too. Code
    that computes from a tensor's ``.data`` with numpy directly is not seen by a capture:
    its result would be fixed at capture.
    """
    tape = _recording.tape
    if tape is None or tape.paused:
        return fn(*args, **kwargs)
    if not isinstance(result := fn(*args, **kwargs), (tuple, np.ndarray)):
        fn = _as_array(fn)  # a numpy scalar: an array, so the tape can refer to it
        result = np.asarray(result)
    tape.computed(fn, args, kwargs, result)
    return result


def _as_array(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda *args, **kwargs: np.asarray(fn(*args, **kwargs))


# ---------------------------------------------------------------------------------------
# The tape: slots, how each is filled, and the instructions.
# ---------------------------------------------------------------------------------------
class _Standin:
    """Shape and dtype of an input at capture, for the driver's fitting of a gradient."""

    __slots__ = ("data",)

    def __init__(self, array: np.ndarray) -> None:
        self.data = np.broadcast_to(np.empty((), dtype=array.dtype), array.shape)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape


class Tape:
    """One recorded call: the slots' sources, the instructions, the output layout."""

    def __init__(self) -> None:
        self.values: Slots = [None]  # each slot's array at capture (kept: ids stay unique);
        # slot 0 (kernels.DISCARD) takes the results nobody reads
        self.slot_of: dict[int, int] = {}  # id(array) -> slot, while recording
        self.inputs: list[tuple[int, int]] = []  # (data, object) slots of each argument
        self.input_objects: dict[int, int] = {}  # id(argument tensor) -> its object slot
        self.tensors: list[tuple[int, Any]] = []  # (slot, outside Tensor): its .data
        self.outside: set[int] = set()  # the slots above and below: read from outside
        self.arrays: list[tuple[int, np.ndarray]] = []  # (slot, outside array): itself
        self.program: list[Instruction] = []
        # id(buffer) -> where the tape holds it now (holder[index]): its own arrays
        self.buffers: dict[int, tuple[list[Any], int]] = {}
        self.paused = 0  # > 0 inside a replayed side effect: nothing is recorded
        self.output: Any = None  # the layout of fn's result (see _layout)

    # -- slots ------------------------------------------------------------------------
    def _new_slot(self, array: Any) -> int:
        self.values.append(array)
        slot = len(self.values) - 1
        self.slot_of[id(array)] = slot
        return slot

    def input_slot(self, argument: Any) -> None:
        """Slots for a tensor or array argument: its data, and the object itself (a leaf
        among the arguments gets its gradient in the replay's own argument)."""
        array = argument if isinstance(argument, np.ndarray) else argument.data
        data = self._new_slot(array)
        self.values.append(argument)
        self.inputs.append((data, len(self.values) - 1))
        if array is not argument:
            self.input_objects[id(argument)] = len(self.values) - 1

    def tensor_slot(self, tensor: Any) -> int:
        """The slot of a tensor operand: computed by the tape, or read at each replay from
        the tensor (a parameter, a constant made before or inside ``fn``)."""
        return self._known_or(tensor.data, self.tensors, tensor)

    def array_slot(self, array: Any) -> int:
        """The slot of an array (the seed of a pass): computed by the tape, or the same
        array object at every replay."""
        return self._known_or(array, self.arrays, array)

    def _known_or(self, array: Any, outside: list[tuple[int, Any]], source: Any) -> int:
        slot = self.slot_of.get(id(array))
        if slot is None:  # from outside the tape: ``source`` gives it at each replay
            slot = self._new_slot(array)
            outside.append((slot, source))
            self.outside.add(slot)
        return slot

    def result_slot(self, array: Any) -> int:
        return self._new_slot(array)

    # -- recording ----------------------------------------------------------------------
    def forward(self, op: graph.Op, inputs: Iterable[Any], ctx: Any, out: Any) -> None:
        """Record ``out = op(*inputs, **ctx)`` (already computed by the eager call)."""
        if self.paused:  # inside a replayed side effect: it runs again as a whole
            return
        slots = [self.tensor_slot(t) for t in inputs]
        ctx = ctx or {}
        make = self.context(ctx)  # first: the result's slot must not shadow an array of ctx
        target = self.result_slot(out.data)
        self.program.append(forward_instruction(self, op, slots, ctx, target, make))

    def place(self, value: Any) -> Any:
        """How a replay finds an argument: ``("slot", k)`` for an array the tape computed
        (or an input), nested for tuples and lists, else ``("value", value)``."""
        if isinstance(value, np.ndarray) and id(value) in self.slot_of:
            return ("slot", self.slot_of[id(value)])
        if id(value) in self.input_objects:  # an argument of the call: the replay's own
            return ("slot", self.input_objects[id(value)])
        computed = isinstance(value, _node_type()) and id(value.data) in self.slot_of
        if computed and not any(t is value for _, t in self.tensors):  # outside: itself
            return ("tensor", self.slot_of[id(value.data)])  # this replay's, as a tensor
        if isinstance(value, (tuple, list)):
            items = [self.place(v) for v in value]
            if any(kind != "value" for kind, _ in items):
                return (type(value), items)
        return ("value", value)

    def context(self, ctx: dict[str, Any]) -> Callable[[Slots], dict[str, Any]] | None:
        """``None`` if ``ctx`` holds no array the tape computes, else a function giving
        the replay's ``ctx`` (a where's condition, a getitem's index array)."""
        places = {k: self.place(v) for k, v in ctx.items()}
        if all(kind == "value" for kind, _ in places.values()):
            return None
        return lambda s: {k: _placed(p, s) for k, p in places.items()}

    def computed(self, fn: Callable[..., Any], args: Any, kwargs: Any, result: Any) -> None:
        """Record ``result = fn(*args, **kwargs)`` (see :func:`computed`)."""
        places = [self.place(a) for a in args]
        named = {k: self.place(v) for k, v in kwargs.items()}
        several = isinstance(result, tuple)
        targets = [self.result_slot(r) for r in (result if several else (result,))]

        def run(s: Slots) -> None:
            found = fn(*[_placed(p, s) for p in places],
                       **{k: _placed(p, s) for k, p in named.items()})  # fmt: skip
            for t, r in zip(targets, found if several else (found,)):
                s[t] = r

        self.program.append(run)

    def emit(self, instruction: Instruction) -> None:
        """Append ``instruction`` and run it now, on the capture's own slots."""
        self.program.append(instruction)
        instruction(self.values)

    def side_effect(self, method: Callable[..., Any], args: tuple[Any, ...], kwargs: Any) -> Any:
        """Run ``method`` now (nothing inside recorded) and record it to run at each replay."""
        # An iterator (model.parameters()) would be spent by this call: a list instead.
        args = tuple(_listed(a) for a in args)
        kwargs = {k: _listed(v) for k, v in kwargs.items()}
        places = [self.place(a) for a in args]
        named = {k: self.place(v) for k, v in kwargs.items()}
        self.paused += 1
        try:
            result = method(*args, **kwargs)
        finally:
            self.paused -= 1
        # What it returns (clip_grad_norm_'s norm) is this replay's too: slots for its
        # tensors and arrays, read by what fn computes from them and by fn's result.
        targets = [self.result_slot(a) for a in _arrays_in(result)]

        owned = self.buffers  # a buffer it gets is a copy: it may keep it (a logger)

        def run(s: Slots) -> None:
            found = method(
                *[_placed(p, s, owned) for p in places],
                **{k: _placed(p, s, owned) for k, p in named.items()},
            )
            if targets:
                for t, a in zip(targets, _arrays_in(found)):
                    s[t] = a

        self.program.append(run)
        return result

    def backward(self, root: Any, given: Any, seed: Any, retain_graph: bool | None) -> None:
        """Record (and run) the backward pass from ``root``: the driver's walk, the same
        rules, sums and stores in the same order, as instructions (see
        :func:`sg_scalar.graph._walk`, first order, gradients into leaves)."""
        order = graph.topological_order(root)
        fit = root._fit_gradient
        pending: dict[int, int] = {id(root): self._seed_slot(given, seed)}
        stores: list[tuple[Any, int]] = []
        for node in reversed(order):
            g = pending.pop(id(node), None)
            op = node._op
            if op is None:  # a leaf: its gradient is stored (or added) in .grad at the end
                if g is not None:
                    stores.append((node, g))
                continue
            if op is graph.RELEASED:
                raise graph.GraphReleasedError(
                    "Trying to backward through the graph a second time: its intermediate "
                    "results were freed by the first backward()."
                )
            self._refuse_outside_graph(node, op)
            parents, ctx = node._parents, node._ctx
            if not retain_graph:
                node._op, node._parents, node._ctx = graph.RELEASED, (), None
            if g is None:
                continue
            if op.needs_input_grad:
                needs = tuple(p.requires_grad for p in parents)
                ctx = {**ctx, "needs_input_grad": needs} if ctx else {"needs_input_grad": needs}
            inputs = [self.tensor_slot(p) for p in parents]
            out = self.tensor_slot(node)
            grads = rule_instruction(self, op, g, out, inputs, ctx or {})
            for i, (parent, grad) in enumerate(zip(parents, grads)):
                if grad is None or not parent.requires_grad:
                    continue
                value, data = self.values[grad], parent.data
                if not (type(value) is np.ndarray and value.shape == data.shape
                        and value.dtype == data.dtype):  # fmt: skip
                    grad = fit_instruction(self, fit, grad, _Standin(data), op, i)
                previous = pending.get(id(parent))
                pending[id(parent)] = (
                    grad if previous is None else add_instruction(self, previous, grad)
                )
        # Nothing in the pass reads a leaf's .grad: storing them all last gives the same.
        # A leaf that is an argument of the call is the replay's argument (by its slot).
        targets = [(self.input_objects.get(id(leaf), leaf), g) for leaf, g in stores]
        self.emit(_store_leaves(targets, self.buffers, self.outside))

    def _refuse_outside_graph(self, node: Any, op: graph.Op) -> None:
        """A pass must stay inside the step: a node computed before the call (an argument
        that is an operation's result, a closure's) has a graph the tape never saw."""
        slot = self.slot_of.get(id(node.data))
        if slot is None or slot in self.outside or id(node) in self.input_objects:
            refuse(f"backward() through a tensor computed outside the step ({op.name}, shape "
                   f"{node.data.shape}; detach it, or compute it inside the step)")  # fmt: skip

    def _seed_slot(self, given: Any, seed: Any) -> int:
        """The slot of the pass's seed: ``backward(g)``'s ``g`` converted to the root's
        dtype as ``Tensor.backward`` converts it, at each replay when the tape computed it."""
        source = given if isinstance(given, np.ndarray) else getattr(given, "data", None)
        slot = self.slot_of.get(id(source)) if isinstance(source, np.ndarray) else None
        if slot is None:  # no gradient given, or a constant one
            return self.array_slot(seed)
        target = self.result_slot(seed)
        dtype = seed.dtype

        def convert(s: Slots) -> None:
            s[target] = np.array(s[slot], dtype=dtype)

        self.program.append(convert)
        return target

    def finish(self) -> None:
        """Forget the capture's ids: its arrays may be freed now."""
        self.slot_of = {}


def _arrays_in(value: Any) -> list[np.ndarray]:
    """The arrays of ``value`` (a tensor's data, an array, nested in tuples, lists and
    dicts), in order."""
    if isinstance(value, _node_type()):
        return [value.data]
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays_in(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arrays_in(v)]
    return []


def _listed(value: Any) -> Any:
    return list(value) if isinstance(value, Iterator) else value


def _placed(place: tuple[Any, Any], s: Slots, owned: dict[int, Any] | None = None) -> Any:
    """The value ``place`` (see :meth:`Tape.place`) stands for in this replay; a tape's
    buffer (a key of ``owned``) as a copy of it."""
    kind, where = place
    if kind == "slot":
        value = s[where]
        return value.copy() if owned and id(value) in owned else value
    if kind == "value":
        return where
    if kind == "tensor":
        array = s[where]
        return _node_type()(array.copy() if owned and id(array) in owned else array)
    return _remade(kind, [_placed(p, s, owned) for p in where])


def _remade(kind: type, items: list[Any]) -> Any:
    """A tuple or list of ``kind`` holding ``items`` (a named tuple takes them one by one)."""
    return kind(*items) if hasattr(kind, "_fields") else kind(items)


def _store_leaves(
    stores: list[tuple[Any, int]], buffers: dict[int, tuple[list[Any], int]], outside: set[int]
) -> Instruction:
    """Each leaf's gradient into its ``.grad``, as the driver stores it (a leaf given as
    an int is the argument in that slot).

    A leaf without a gradient keeps the array it is given, as in an eager pass: when that
    is one of the tape's buffers (a kernel's result, or one a rule handed on unchanged,
    as ``add`` hands on ``g``), it becomes the leaf's for good and the tape makes itself
    a new one, so no later replay writes into an array a ``.grad`` holds or held. An
    array every replay reads from outside (the constant seed of a pass) is copied.
    """

    def run(s: Slots) -> None:
        stored: set[int] = set()  # the pass's ids of stored gradients (see _accumulate_grad)
        for leaf, g in stores:
            tensor = s[leaf] if isinstance(leaf, int) else leaf
            array = s[g]
            tensor._accumulate_grad(array, stored)
            if tensor._grad is not array:
                continue
            if id(array) in buffers:  # the leaf keeps it
                holder, index = buffers.pop(id(array))
                holder[index] = fresh = np.empty_like(array)
                buffers[id(fresh)] = (holder, index)
            elif any(array is s[k] for k in outside):
                tensor._grad = array.copy()

    return run


# ---------------------------------------------------------------------------------------
# Arguments: which are arrays (slots filled at each call), which are fixed values.
# ---------------------------------------------------------------------------------------
def _flatten(value: Any, arrays: list[Any]) -> Any:
    """The key of ``value`` (shapes, dtypes, requires-grad flags and plain values), its
    tensors and arrays appended to ``arrays`` in order."""
    tensor_type = _node_type()
    if isinstance(value, tensor_type):
        arrays.append(value)
        return ("tensor", value.data.shape, value.data.dtype, value.requires_grad,
                value._op is None)  # fmt: skip
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return ("array", value.shape, value.dtype)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, *[_flatten(v, arrays) for v in value])
    if isinstance(value, dict):
        return ("dict", *[(k, _flatten(v, arrays)) for k, v in value.items()])
    if isinstance(value, (float, complex, np.inexact)):  # -0.0 is not 0.0, nan is nan
        return ("number", type(value).__name__, repr(value))
    try:
        hash(value)
    except TypeError:
        raise CaptureError(
            f"capture: an argument of type {type(value).__name__} is neither a tensor, an "
            "array, a tuple, list or dict of them, nor a hashable value fixed at capture"
        ) from None
    return ("value", type(value).__name__, value)


def _key(args: tuple[Any, ...], kwargs: dict[str, Any], arrays: list[Any]) -> Any:
    """What a call must match to replay a tape: :func:`_flatten` of its arguments (a
    tensor's shape, dtype, requires-grad flag and whether it is a leaf: a tensor computed
    before the call takes its gradient back into its own graph, which a tape recorded
    with a leaf would not), the grad mode, and which arguments are one object or share
    one array (tensor arguments alone, the usual case, are spelled out: this runs at
    every call)."""
    tensor_type = _node_type()
    if not kwargs:
        items = []
        for a in args:
            if type(a) is not tensor_type:
                break
            data = a.data
            arrays.append(a)
            items.append(("tensor", data.shape, data.dtype, a.requires_grad, a._op is None))
        else:
            same = _aliases(arrays) if len(arrays) > 1 else None
            mode = (graph._grad_mode.enabled, get_default_dtype())
            return ("call", ("tuple", *items), ("dict",), mode, same)
        arrays.clear()
    args_key, kwargs_key = _flatten(args, arrays), _flatten(kwargs, arrays)
    mode = (graph.is_grad_enabled(), get_default_dtype())
    return ("call", args_key, kwargs_key, mode, _aliases(arrays))


def _aliases(arrays: list[Any]) -> tuple[tuple[int, int], ...] | None:
    """``None`` when no two arguments share one array, else for each the position of the
    first that is the same object and of the first with its array: ``f(t, t)`` is one
    leaf read twice, ``f(a, a.detach())`` two leaves on one array."""
    tensor_type = _node_type()
    data = [id(a.data) if isinstance(a, tensor_type) else id(a) for a in arrays]
    if len(set(data)) == len(data):
        return None
    objects = [id(a) for a in arrays]
    return tuple((objects.index(o), data.index(d)) for o, d in zip(objects, data))


def _describe(key: Any) -> str:
    args, kwargs = key[1], key[2]
    return f"{_short(args)}{', ' + _short(kwargs) if kwargs[1:] else ''}"


def _short(key: Any) -> str:
    kind = key[0]
    if kind == "tensor":
        flags = f"{' requires_grad' if key[3] else ''}{'' if key[4] else ' non-leaf'}"
        return f"Tensor{key[1]} {np.dtype(key[2]).name}{flags}"
    if kind == "array":
        return f"array{key[1]} {np.dtype(key[2]).name}"
    if kind == "value":
        return repr(key[2])
    if kind == "number":
        return str(key[2])
    if kind == "dict":
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in key[1:]) + "}"
    return "(" + ", ".join(_short(k) for k in key[1:]) + ")"


def _layout(tape: Tape, value: Any) -> Any:
    """How a replay rebuilds ``fn``'s result: tensors from slots, the rest as it was."""
    tensor_type = _node_type()
    if isinstance(value, tensor_type):
        if id(value) in tape.input_objects:  # an argument: this replay's argument itself
            return ("argument", tape.input_objects[id(value)])
        if any(t is value for _, t in tape.tensors):  # read from outside: itself, as eager
            return ("fixed", value)
        slot = tape.slot_of.get(id(value.data))
        return ("slot", slot) if slot is not None else ("fixed", value)
    if isinstance(value, np.ndarray):
        slot = tape.slot_of.get(id(value))
        return ("array", slot) if slot is not None else ("fixed", value)
    if isinstance(value, (tuple, list)):
        return (type(value), [_layout(tape, v) for v in value])
    if isinstance(value, dict):  # an OrderedDict stays one
        kind = type(value) if type(value) in (dict, OrderedDict) else dict
        return (kind, {k: _layout(tape, v) for k, v in value.items()})
    # An object (a dataclass) is returned as it was: refused if it holds arrays of this
    # call (computed by the step, or its arguments), which a replay would not renew.
    held = (
        vars(value).values() if hasattr(value, "__dict__") and not isinstance(value, type) else ()
    )
    slots = (tape.slot_of.get(id(a)) for a in _arrays_in(list(held)))
    if any(slot is not None and slot not in tape.outside for slot in slots):
        raise CaptureError(
            f"capture: the step returned an object of type {type(value).__name__} holding "
            "tensors of this call (computed by the step, or its arguments); a replay renews "
            "tensors in tuples, lists and dicts only (return one of those)"
        )
    return ("fixed", value)


def _rebuild(layout: Any, s: Slots) -> Any:
    tensor_type = _node_type()
    kind, where = layout
    if kind == "slot":  # a copy: the buffer is overwritten by the next replay
        return tensor_type(np.array(s[where]))
    if kind == "argument":
        return s[where]
    if kind == "array":
        return np.array(s[where])
    if kind == "fixed":
        return where
    if kind is dict or kind is OrderedDict:
        return kind((k, _rebuild(v, s)) for k, v in where.items())
    return _remade(kind, [_rebuild(v, s) for v in where])


# ---------------------------------------------------------------------------------------
# The public callable.
# ---------------------------------------------------------------------------------------
class _Recorded:
    """A finished tape, ready to replay."""

    def __init__(self, tape: Tape) -> None:
        self.size = len(tape.values)
        self.inputs = tape.inputs
        self.tensors = tape.tensors
        self.arrays = tape.arrays
        self.program = tape.program
        self.output = tape.output
        # What each outside tensor was at capture: a replay needs the same.
        self.expected = [(t, t.data.shape, t.data.dtype, t.requires_grad) for _, t in tape.tensors]
        self.lock = threading.Lock()  # replays in two threads would share the buffers

    def unchanged(self) -> str | None:
        """``None``, or what changed since capture in a tensor ``fn`` reads from outside."""
        for t, shape, dtype, requires_grad in self.expected:
            data = t.data
            if data.shape != shape or data.dtype != dtype or t.requires_grad != requires_grad:
                return (
                    f"a tensor read from outside the call was {shape} {dtype.name}"
                    f"{' requires_grad' if requires_grad else ''} at capture and is now "
                    f"{data.shape} {data.dtype.name}{' requires_grad' if t.requires_grad else ''}"
                )
        return None

    def replay(self, arguments: list[Any]) -> Any:
        s: Slots = [None] * self.size
        for (data, slot), argument in zip(self.inputs, arguments):
            s[slot] = argument
            s[data] = argument if isinstance(argument, np.ndarray) else argument.data
        for slot, tensor in self.tensors:
            s[slot] = tensor.data
        for slot, array in self.arrays:
            s[slot] = array
        with self.lock, np.errstate(all="ignore"):  # as the eager backward (and forward)
            for run in self.program:
                run(s)
            return _rebuild(self.output, s)


class Captured:
    """``fn`` captured: call it as ``fn`` (see :func:`capture`).

    ``captures`` counts the calls that recorded a tape (the first, and each call whose
    arguments differed from every earlier capture's), ``replays`` the calls that
    replayed one.
    """

    MAX_TAPES = 8  # distinct argument patterns kept (the least recently used dropped beyond)

    def __init__(self, fn: Callable[..., Any], recapture: bool = True) -> None:
        if not callable(fn):
            raise TypeError(f"capture: expected a function, got {type(fn).__name__}")
        self.fn = fn
        self.recapture = recapture
        self.captures = 0
        self.replays = 0
        self._tapes: dict[Any, _Recorded] = {}
        # id(instance) -> (a weak reference to it, its captured step): see __get__
        self._bound: dict[int, tuple[weakref.ref[Any], Captured]] = {}
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        return f"<captured {name}: {self.captures} capture(s), {self.replays} replay(s)>"

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        """``@capture`` on a method: each instance has its own captured step (its own
        tapes and counts), kept here by the instance's identity for as long as it lives;
        the step holds the instance weakly, so copying, pickling and freeing the
        instance are as without a capture. An instance that cannot be weakly referenced
        (``__slots__``) is a value its calls must match, as any other argument."""
        if instance is None:
            return self
        try:
            ref = weakref.ref(instance)
        except TypeError:
            return functools.partial(self, instance)
        found = self._bound.get(id(instance))
        if found is not None and found[0]() is instance:
            return found[1]
        step = Captured(_WeakMethod(self.fn, ref), self.recapture)
        functools.update_wrapper(step, self.fn)
        self._bound[id(instance)] = (ref, step)
        weakref.finalize(instance, self._bound.pop, id(instance), None)
        return step

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _recording.tape is not None:  # inside another capture: part of its tape
            return self.fn(*args, **kwargs)
        arrays: list[Any] = []  # the tensor and array arguments, in order
        key = _key(args, kwargs, arrays)
        recorded = self._tapes.get(key)
        changed = None if recorded is None else recorded.unchanged()
        if recorded is not None and changed is None:
            self.replays += 1
            if len(self._tapes) > 1:  # the most recently used last: dropped last
                self._tapes[key] = self._tapes.pop(key)
            return recorded.replay(arrays)
        if self._tapes and not self.recapture:
            if changed is None:
                known = " or ".join(_describe(k) for k in self._tapes)
                changed = f"called with {_describe(key)}, captured with {known}"
            raise CaptureError(f"capture: this call does not match the capture: {changed}")
        return self._capture(args, kwargs, arrays, key)

    def _capture(self, args: Any, kwargs: Any, arrays: list[Any], key: Any) -> Any:
        tape = Tape()
        for array in arrays:
            tape.input_slot(array)
        _recording.tape = tape
        try:
            result = self.fn(*args, **kwargs)
            tape.output = _layout(tape, result)
        finally:
            _recording.tape = None
        tape.finish()
        self._tapes.pop(key, None)
        if len(self._tapes) >= self.MAX_TAPES:
            del self._tapes[next(iter(self._tapes))]
        self._tapes[key] = _Recorded(tape)
        self.captures += 1
        return result


class _WeakMethod:
    """``fn`` bound to an instance held weakly (a method's captured step). Slots, no
    ``__dict__``: ``functools.update_wrapper`` would copy one onto the step."""

    __slots__ = ("method", "instance")

    def __init__(self, method: Callable[..., Any], instance: weakref.ref[Any]) -> None:
        self.method, self.instance = method, instance

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        instance = self.instance()
        if instance is None:
            raise ReferenceError("capture: the instance of this captured method was freed")
        return self.method(instance, *args, **kwargs)


def capture(fn: Callable[..., Any] | None = None, *, recapture: bool = True) -> Any:
    """Record one call of ``fn`` (a training step: forward, loss, ``backward()``, the
    optimizer's ``step()``) and replay it on later calls, without building a graph.

    >>> import sg_tensor as st
    >>> w = st.tensor([1.0, -2.0], requires_grad=True)
    >>> @st.capture
    ... def step(x):
    ...     loss = ((x * w).sum() - 1.0) ** 2
    ...     loss.backward()
    ...     return loss
    >>> step(st.tensor([1.0, 1.0]))       # records the tape (and runs it)
    Tensor(4., requires_grad=True)
    >>> w.grad = None
    >>> step(st.tensor([3.0, 0.5]))       # replays it on the new numbers
    Tensor(1.)
    >>> w.grad
    array([6., 1.])

    A call whose tensors have other shapes, dtypes or requires-grad flags, or whose
    other arguments have other values, records a new tape (``recapture=False``: raises
    :class:`CaptureError` instead). A replay returns ``fn``'s result with each tensor
    computed by the tape as a new tensor holding a copy of its value, without a graph.
    See the module docstring for what is fixed at capture and what is refused.
    """
    if fn is None:
        return functools.partial(capture, recapture=recapture)
    return Captured(fn, recapture=recapture)
