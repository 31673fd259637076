"""Your own operator with your own gradient rule: ``class MyOp(sg_tensor.Function)``.

Shaped like PyTorch's ``torch.autograd.Function``::

    class Softplus(sg_tensor.Function):
        @staticmethod
        def forward(ctx, x, beta=1.0):
            ctx.save_for_backward(x)
            ctx.beta = beta
            return (x * beta).exp().log1p() / beta

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x * ctx.beta).sigmoid(), None  # one gradient per forward argument

    y = Softplus.apply(x, 2.0)

``forward`` runs without recording a graph and returns a Tensor (or an array), or a
tuple of them for several outputs. ``backward`` receives one output gradient per output
and returns one gradient per positional argument of ``forward`` (``None`` for an argument
that gets none, and for every non-Tensor argument such as ``beta`` above).

The Function is an operator of the same graph core as the built-in ones: its node's rule
is the ``backward`` above, run by the same driver. With ``create_graph=True`` that rule
runs on graph nodes: the saved tensors are the real inputs (and outputs), so a
``backward`` written with sg operators is itself differentiable (second order). A
``backward`` that computes on raw arrays works for first order; mark it with
:func:`once_differentiable` so that asking for a second derivative says so.

Every gradient ``backward`` returns is checked against its input (a clear error names the
Function, the argument and both shapes): a gradient of the output's broadcast shape is
summed to the input's shape, as for every operator; one that cannot be is an error.
To verify the rule itself, run ``sg_verify.check(MyOp, *inputs)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from sg_scalar.graph import (
    NotTwiceDifferentiableError,
    Op,
    ShapeMismatchError,
    inplace_count,
    is_grad_enabled,
    no_grad,
)
from sg_tensor.capturing import refuse
from sg_tensor.tensor import Tensor, _leaf, _reduces_to

__all__ = ["Function", "FunctionCtx", "once_differentiable"]

F = TypeVar("F", bound=Callable[..., Any])


def once_differentiable(backward: F) -> F:
    """Mark a ``backward`` that computes on raw data (numpy) and so cannot be
    differentiated again: a ``create_graph=True`` pass through it raises
    :class:`~sg_scalar.NotTwiceDifferentiableError` naming the Function."""
    backward._sg_once_differentiable = True  # type: ignore[attr-defined]
    return backward


class _Output:
    """A saved tensor that is one of the forward's outputs (resolved at backward time)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class FunctionCtx:
    """What ``forward`` hands to ``backward`` (PyTorch's ``ctx``).

    ``save_for_backward(*tensors)`` keeps inputs or outputs for the rule and
    ``saved_tensors`` gives them back; ``needs_input_grad`` says, per positional argument
    of ``forward``, whether it needs a gradient. Anything else (a parameter, a shape) can
    be stored as an attribute: ``ctx.beta = beta``.
    """

    def __init__(
        self,
        function: type[Function],
        needs_input_grad: tuple[bool, ...],
        tensor_args: tuple[bool, ...],
    ) -> None:
        self._function = function
        self.needs_input_grad = needs_input_grad
        self._tensor_args = tensor_args  # which arguments of forward are graph inputs
        self._saved: tuple[Any, ...] | None = None
        self._frozen: set[int] = set()  # ids of outputs marked non-differentiable
        self._layout: _Layout | None = None
        self._out: Any = None  # the output node (or data) while backward runs
        self._materialize = True  # backward gets zeros, not None, for gradient-less outputs

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep ``tensors`` (Tensors, or None) for ``backward``; call once, in ``forward``."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"{self._function.__name__}.forward: save_for_backward() takes Tensors "
                    f"(or None); argument {i} is a {type(t).__name__} (store other values "
                    "as attributes of ctx)"
                )
        self._saved = tensors

    def mark_non_differentiable(self, *outputs: Any) -> None:
        """Declare outputs of ``forward`` that get no gradient (indices, masks): they are
        returned as Tensors that do not require grad, and ``backward`` receives zeros of
        their shape for them (``None`` after ``set_materialize_grads(False)``), as
        PyTorch's."""
        self._frozen.update(id(t) for t in outputs)

    def set_materialize_grads(self, value: bool) -> None:
        """Whether ``backward`` receives zeros (``True``, the default, as PyTorch) or
        ``None`` for an output that gets no gradient (a non-differentiable or integer
        one). Unlike PyTorch, an unused floating output gets zeros either way (the
        outputs are one node of the graph)."""
        self._materialize = bool(value)

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """What ``forward`` saved: the inputs themselves, and outputs as the graph's output
        nodes (so that a rule using them is differentiable under ``create_graph=True``)."""
        if self._saved is None:
            return ()
        layout = self._layout
        return tuple(
            layout.output(self._out, s.index) if isinstance(s, _Output) and layout else s
            for s in self._saved
        )

    def _own_outputs(self, given: tuple[Any, ...], layout: _Layout) -> None:
        """Record which saved tensors are outputs of the forward (by identity)."""
        self._layout = layout
        if self._saved is not None:
            positions = {id(t): k for k, t in enumerate(given) if isinstance(t, Tensor)}
            self._saved = tuple(
                _Output(positions[id(s)]) if id(s) in positions else s for s in self._saved
            )


class Function:
    """Subclass with static ``forward(ctx, *args, **params)`` and ``backward(ctx, *grads)``,
    then call ``MyFunction.apply(*args, **params)`` (see the module docstring).

    Defining a class of the same name again (a re-run notebook cell) defines a new,
    independent operator: nothing is registered by name.
    """

    _op: Op
    _setup_context = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._setup_context = cls.setup_context is not Function.setup_context
        backward = cls.__dict__.get("backward")
        once = getattr(getattr(backward, "__func__", backward), "_sg_once_differentiable", False)
        cls._op = Op(cls.__name__, _refuse_forward(cls), _rule, twice_differentiable=not once)

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **params: Any) -> Any:
        """The operator's value, from Tensors, without a graph. Override it."""
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple[Any, ...], output: Any) -> None:
        """PyTorch 2's alternative: override this and write ``forward(*args)`` without
        ``ctx``; it is called after ``forward`` with its arguments and result."""

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        """One gradient per positional argument of ``forward``. Override it."""
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args: Any, **params: Any) -> Any:
        """Run ``forward`` and, if some Tensor argument requires grad, record one node whose
        rule is ``backward``. numpy arrays among ``args`` become Tensors that need no
        gradient; other values are passed as they are."""
        if cls is Function:
            raise TypeError("Function.apply: subclass Function and call the subclass's apply")
        for key, value in params.items():
            if isinstance(value, Tensor) and value.requires_grad:
                raise TypeError(
                    f"{cls.__name__}.apply: {key}= is a Tensor that requires grad; pass it "
                    "positionally, so that it is an input of the graph and gets a gradient"
                )
        refuse(f"a custom Function ({cls.__name__}.apply)")
        args = tuple(Tensor(a) if isinstance(a, np.ndarray) else a for a in args)
        record = is_grad_enabled() and any(isinstance(a, Tensor) and a.requires_grad for a in args)
        needs = tuple(record and isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(cls, needs, tuple(isinstance(a, Tensor) for a in args))
        with no_grad():
            if cls._setup_context:  # PyTorch 2's style: forward without ctx
                result = cls.forward(*args, **params)
                cls.setup_context(ctx, args, result)
            else:
                result = cls.forward(ctx, *args, **params)
        single = not isinstance(result, (tuple, list))
        given = (result,) if single else tuple(result)
        outputs = tuple(_as_output(cls, k, r) for k, r in enumerate(given))
        layout = _Layout(outputs, {k for k, r in enumerate(given) if id(r) in ctx._frozen})
        ctx._own_outputs(given, layout)
        fresh = tuple(_leaf(t.data) for t in outputs)  # never an input object itself
        if not record or not layout.differentiable:
            return fresh[0] if single else fresh
        tensors = tuple(a for a in args if isinstance(a, Tensor))
        node = _leaf(layout.pack(fresh))
        node.requires_grad = True
        node._op = cls._op
        node._parents = tensors
        node._ctx = {"ctx": ctx}
        node._epoch = inplace_count()
        linked = layout.unpack(node, fresh)
        return linked[0] if single else linked


def _as_output(cls: type[Function], k: int, value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (np.ndarray, np.generic, int, float)) and not isinstance(value, bool):
        return Tensor(np.asarray(value))
    raise TypeError(
        f"{cls.__name__}.forward: output {k} is a {type(value).__name__}; return Tensors "
        "or numpy arrays (a tuple of them for several outputs)"
    )


class _Layout:
    """How a Function's outputs sit in its one graph node.

    The graph core gives each node one output. A single floating output *is* the node.
    Several are packed into one flat node (each raveled, one after another), and each
    output the user sees is its slice, reshaped: the slices' rules send each output's
    gradient back into the packed gradient, which ``backward`` receives split again.
    Integer and boolean outputs, and those marked non-differentiable, stay plain Tensors,
    and their gradient in ``backward`` is ``None``.
    """

    def __init__(self, outputs: tuple[Tensor, ...], frozen: set[int]) -> None:
        self.outputs = outputs
        self.floating = [
            k for k, t in enumerate(outputs) if t.dtype.kind == "f" and k not in frozen
        ]
        self.differentiable = bool(self.floating)
        self.packed = len(outputs) > 1
        self.dtype = np.result_type(*(outputs[k].dtype for k in self.floating or [0]))
        self.spans: dict[int, tuple[int, int]] = {}
        start = 0
        for k in self.floating:
            self.spans[k] = (start, start + outputs[k].size)
            start += outputs[k].size

    def pack(self, fresh: tuple[Tensor, ...]) -> np.ndarray:
        if not self.packed:
            return fresh[0].data
        parts = [fresh[k].data.astype(self.dtype, copy=False).ravel() for k in self.floating]
        return np.concatenate(parts)

    def unpack(self, node: Tensor, fresh: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        if not self.packed:
            return (node,)
        return tuple(
            self.output(node, k) if k in self.spans else fresh[k] for k in range(len(fresh))
        )

    def output(self, packed: Any, k: int) -> Any:
        """Output ``k`` from the packed node (or its data), as a node (or a Tensor)."""
        if not isinstance(packed, Tensor):
            packed = _leaf(np.asarray(packed))
        if not self.packed:
            return packed
        if k not in self.spans:
            return _leaf(self.outputs[k].data)
        start, stop = self.spans[k]
        part = packed[start:stop].reshape(self.outputs[k].shape)
        wanted = self.outputs[k].dtype
        return part if part.dtype == wanted else part.astype(wanted)

    def split(self, g: Any) -> list[Any]:
        """The packed gradient ``g`` as one gradient per output (``None`` for an output that
        is not floating or marked non-differentiable: backward gets zeros in its place,
        unless ctx.set_materialize_grads(False)). An unused floating output gets zeros
        either way: outputs are packed into one node."""
        if not self.packed:
            return [g]
        grads: list[Any] = []
        for k, out in enumerate(self.outputs):
            if k not in self.spans:
                grads.append(None)
                continue
            start, stop = self.spans[k]
            grads.append(g[start:stop].reshape(out.shape))
        return grads


def _refuse_forward(cls: type[Function]) -> Callable[..., Any]:
    def forward(*args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{cls.__name__}: call {cls.__name__}.apply(...) to run this Function")

    return forward


def _rule(g: Any, out: Any, *inputs: Any, ctx: FunctionCtx) -> tuple[Any, ...]:
    """The rule of every Function node: the user's ``backward``, its gradients checked.

    The driver calls it on raw arrays (first order) or on nodes (``create_graph=True``).
    On arrays, ``backward`` gets Tensors and runs without recording a graph, and its
    results go back as arrays; on nodes it runs with grad mode on, recording its graph.
    """
    function = ctx._function
    on_nodes = isinstance(g, Tensor)
    layout = ctx._layout
    assert layout is not None  # set by apply
    grad_outputs = [
        _output_grad(gk, output, on_nodes, ctx._materialize)
        for gk, output in zip(layout.split(g), layout.outputs)
    ]
    ctx._out = out
    try:
        if on_nodes:
            returned = function.backward(ctx, *grad_outputs)
        else:
            with no_grad():
                returned = function.backward(ctx, *grad_outputs)
    finally:
        ctx._out = None
    return _checked(function, ctx, returned, inputs, on_nodes)


def _output_grad(gk: Any, output: Tensor, on_nodes: bool, materialize: bool) -> Any:
    """What ``backward`` receives for one output: its gradient (a node, or a Tensor of
    the array); for an output without one, zeros of its shape (``None`` when not
    materialized), as PyTorch's."""
    if gk is not None:
        return gk if on_nodes else _leaf(np.asarray(gk))
    return _leaf(np.zeros_like(output.data)) if materialize else None


def _checked(
    function: type[Function],
    ctx: FunctionCtx,
    returned: Any,
    inputs: tuple[Any, ...],
    on_nodes: bool,
) -> tuple[Any, ...]:
    """``backward``'s results as one gradient per graph input, each checked against it."""
    name = function.__name__
    grads = tuple(returned) if isinstance(returned, (tuple, list)) else (returned,)
    n_args = len(ctx.needs_input_grad)
    if len(grads) > n_args and all(gi is None for gi in grads[n_args:]):
        grads = grads[:n_args]  # trailing Nones for defaulted arguments, as PyTorch allows
    if len(grads) != n_args:
        raise TypeError(
            f"{name}.backward returned {len(grads)} gradient{'s' * (len(grads) != 1)} for "
            f"{n_args} argument{'s' * (n_args != 1)} of forward; return one per positional "
            "argument (None for an argument that gets no gradient)"
        )
    # The graph's inputs are the Tensor arguments, in order; ``inputs`` are their data
    # (or the nodes themselves, on nodes).
    tensor_args = iter(inputs)
    result: list[Any] = []
    for i, gi in enumerate(grads):
        if not ctx._tensor_args[i]:
            if gi is not None:
                raise TypeError(
                    f"{name}.backward returned a gradient for argument {i} of forward, which "
                    "is not a Tensor; return None there"
                )
            continue
        x = next(tensor_args)
        if gi is None or not ctx.needs_input_grad[i]:
            result.append(None)
            continue
        result.append(_fitting(name, i, gi, x, on_nodes))
    return tuple(result)


def _fitting(name: str, i: int, gi: Any, x: Any, on_nodes: bool) -> Any:
    """Gradient ``gi`` for argument ``i`` (input ``x``), checked: floating point and of a
    shape that sums to ``x``'s. Returned as an array (or, on nodes, as it is)."""
    shape = x.data.shape if isinstance(x, Tensor) else np.shape(x)
    if isinstance(gi, Tensor):
        data = gi.data
        if not on_nodes:
            gi = data
    else:
        if on_nodes and gi is not None:
            raise NotTwiceDifferentiableError(
                f"{name}: cannot differentiate this Function's backward (create_graph=True): "
                f"it returned a {type(gi).__name__} for argument {i}, not a Tensor computed "
                "from the saved tensors and output gradients (write backward with sg "
                "operators, or mark it @once_differentiable)"
            )
        gi = np.asarray(gi)
        data = gi
    if data.dtype.kind != "f":
        raise TypeError(
            f"{name}.backward returned a gradient of dtype {data.dtype} for argument {i} "
            f"(shape {shape}): gradients must be floating point"
        )
    if data.shape != shape and not _reduces_to(data.shape, shape):
        raise ShapeMismatchError(
            f"{name}.backward returned a gradient of shape {data.shape} for argument {i}, "
            f"which has shape {shape}: it cannot be summed to that shape"
        )
    return gi
