"""``Value``: a scalar that remembers how it was computed, so it can be differentiated."""

from __future__ import annotations

import numbers
from typing import Any

from sg_scalar import graph
from sg_scalar.graph import Op
from sg_scalar.rules import OPS

__all__ = ["Value", "maximum", "minimum"]

_ADD, _MUL, _NEG, _POW_CONST, _POW = (
    OPS["add"],
    OPS["mul"],
    OPS["neg"],
    OPS["pow_const"],
    OPS["pow"],
)
_INDICATOR = Op("indicator", lambda x, *, value: value, lambda g, out, x, **ctx: (g * 0.0,))
_grad_mode = graph._grad_mode
_new = object.__new__


class Value:
    """A float node of the computation graph.

    ``Value(2.0)`` is a leaf that requires grad; arithmetic on Values builds the graph,
    and ``out.backward()`` fills ``.grad`` of every node ``out`` depends on::

        >>> a, b = Value(2.0), Value(-3.0)
        >>> c = a * b + a.exp()
        >>> c.backward()
        >>> round(a.grad, 6), b.grad
        (4.389056, 2.0)

    Python numbers mix with Values on either side of ``+ - * / **``; they become
    constants that do not require grad.
    """

    __slots__ = (
        "data",
        "grad",
        "requires_grad",
        "_op",
        "_parents",
        "_ctx",
        "_pending",
        "__weakref__",
    )
    _retains_grad = True  # intermediate nodes keep their gradient too, for inspection
    _epoch = 0  # a Value is never modified in place: its rules always see their data
    _modified = 0
    _fit_gradient = None  # rules give floats: nothing to fit
    _exact_gradient = None
    _before_pass = None  # never modified in place, floats: nothing to check or release
    _sum_gradients = None  # floats: plain +
    _ctx_modified = None  # a Value's ctx holds numbers

    data: float
    grad: Any
    requires_grad: bool
    _op: Op | None
    _parents: tuple[Value, ...]
    _ctx: dict[str, Any] | None
    _pending: Any

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        if isinstance(data, Value):
            data = data.data
        elif not isinstance(data, numbers.Real):
            raise TypeError(f"Value(): data must be a real number, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self.requires_grad = bool(requires_grad)
        self._op = None
        self._parents = ()
        self._ctx = None
        self._pending = None

    # -- arithmetic: four rules (add, mul, neg, pow) and their compositions -------------
    def __add__(self, other: Any) -> Value:
        if type(other) is not Value:
            other = _operand(other, "+")
        return _apply2(_ADD, self, other)

    def __radd__(self, other: Any) -> Value:
        return _apply2(_ADD, _operand(other, "+"), self)

    def __mul__(self, other: Any) -> Value:
        if type(other) is not Value:
            other = _operand(other, "*")
        return _apply2(_MUL, self, other)

    def __rmul__(self, other: Any) -> Value:
        return _apply2(_MUL, _operand(other, "*"), self)

    def __neg__(self) -> Value:
        return _apply1(_NEG, self)

    def __sub__(self, other: Any) -> Value:
        return self + -_operand(other, "-")

    def __rsub__(self, other: Any) -> Value:
        return _operand(other, "-") + -self

    def __truediv__(self, other: Any) -> Value:
        return self * _operand(other, "/") ** -1.0

    def __rtruediv__(self, other: Any) -> Value:
        return _operand(other, "/") * self**-1.0

    def __pow__(self, exponent: Any) -> Value:
        if isinstance(exponent, Value):
            return _apply2(_POW, self, exponent)
        if isinstance(exponent, numbers.Real):
            return _apply1(_POW_CONST, self, {"p": float(exponent)})
        raise _operand_error("**", exponent)

    def __rpow__(self, base: Any) -> Value:
        return _apply2(_POW, _operand(base, "**"), self)

    # -- elementary and piecewise functions ------------------------------------------
    def exp(self) -> Value:
        """``e ** self``."""
        return _apply1(OPS["exp"], self)

    def log(self) -> Value:
        """Natural logarithm (``-inf`` at 0, ``nan`` below)."""
        return _apply1(OPS["log"], self)

    def sqrt(self) -> Value:
        """Square root (``nan`` below 0)."""
        return _apply1(OPS["sqrt"], self)

    def sin(self) -> Value:
        """Sine."""
        return _apply1(OPS["sin"], self)

    def cos(self) -> Value:
        """Cosine."""
        return _apply1(OPS["cos"], self)

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        return _apply1(OPS["tanh"], self)

    def sigmoid(self) -> Value:
        """Logistic sigmoid ``1 / (1 + e**-x)``, stable for large ``|x|``."""
        return _apply1(OPS["sigmoid"], self)

    def relu(self) -> Value:
        """``max(x, 0)``; its derivative at 0 is 0."""
        return _apply1(OPS["relu"], self)

    def abs(self) -> Value:
        """``|x|``; its derivative at 0 is 0."""
        return _apply1(OPS["abs"], self)

    def __abs__(self) -> Value:
        return self.abs()

    def maximum(self, other: Any) -> Value:
        """The larger of ``self`` and ``other``; a tie splits the gradient in half."""
        return _apply2(OPS["maximum"], self, _operand(other, "maximum"))

    def minimum(self, other: Any) -> Value:
        """The smaller of ``self`` and ``other``; a tie splits the gradient in half."""
        return _apply2(OPS["minimum"], self, _operand(other, "minimum"))

    # -- gradients ---------------------------------------------------------------------
    def backward(
        self,
        grad: Any = 1.0,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        *,
        gradient: Any = None,
    ) -> None:
        """Compute the gradient of this value with respect to every node it depends on.

        ``grad`` (or ``gradient=``, PyTorch's name) seeds the pass, 1 by default.
        Gradients accumulate into ``.grad`` (call :meth:`zero_grad` between steps).
        The graph is freed afterwards unless ``retain_graph=True``; with
        ``create_graph=True`` the gradients are Values that can be differentiated again
        (and the graph is kept unless ``retain_graph=False``).
        """
        if gradient is not None:
            grad = gradient
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this Value does not require grad, so there is no graph to "
                "differentiate: it was created with requires_grad=False, inside "
                "no_grad(), or only from values that do not require grad"
            )
        if isinstance(grad, Value):
            seed: Any = grad if create_graph else grad.data
        elif isinstance(grad, numbers.Real):
            seed = Value(grad, requires_grad=False) if create_graph else float(grad)
        else:
            raise TypeError(f"backward(): grad must be a number, got {type(grad).__name__}")
        graph.backward(self, seed, retain_graph=retain_graph, create_graph=create_graph)

    def _accumulate_grad(self, g: Any, stored: set[int]) -> None:
        self.grad = self.grad + g  # floats are immutable: nothing to share

    def __bool__(self) -> bool:
        """Whether the value is nonzero, as ``bool(tensor)`` in PyTorch (``if loss:``).
        ``==`` stays identity: a Value is a graph node, hashed by identity."""
        return bool(self.data)

    def zero_grad(self) -> None:
        """Reset to 0 the gradient of this value and of every node of its graph still
        held: after a ``backward()`` that released the graph (without ``retain_graph``)
        the leaves are no longer reachable from here; reset theirs directly."""
        for node in graph.topological_order(self):
            node.grad = 0.0

    def _indicator(self, value: float) -> Value:
        """``value`` (a mask or sign of this node's data) as a node of derivative zero.

        Rules run on nodes use it for piecewise-constant factors, so that their gradient
        stays on the graph and differentiates to zero, as in PyTorch.
        """
        return _apply1(_INDICATOR, self, {"value": value})

    def detach(self) -> Value:
        """A new leaf with the same data that does not require grad."""
        return Value(self.data, requires_grad=False)

    @property
    def is_leaf(self) -> bool:
        """Whether this value was created by the user rather than by an operator."""
        return self._op is None

    @property
    def op(self) -> str:
        """The name of the operator that produced this value (``""`` for a leaf)."""
        return "" if self._op is None else self._op.name

    def item(self) -> float:
        """The data as a Python float."""
        return self.data

    def __float__(self) -> float:
        return self.data

    def __repr__(self) -> str:
        return f"Value(data={self.data!r}, grad={self.grad!r})"


# _apply1 and _apply2 are the hot path of the scalar engine: they build a node without
# __init__'s checks and record the graph only when a gradient can flow.
def _apply1(op: Op, x: Value, ctx: dict[str, Any] | None = None) -> Value:
    out = _new(Value)
    out.data = op.forward(x.data, **ctx) if ctx else op.forward(x.data)
    out.grad = 0.0
    out._pending = None
    if x.requires_grad and _grad_mode.enabled:
        out.requires_grad = True
        out._op = op
        out._parents = (x,)
        out._ctx = ctx
    else:
        out.requires_grad = False
        out._op = None
        out._parents = ()
        out._ctx = None
    return out


def _apply2(op: Op, a: Value, b: Value) -> Value:
    out = _new(Value)
    out.data = op.forward(a.data, b.data)
    out.grad = 0.0
    out._pending = None
    if (a.requires_grad or b.requires_grad) and _grad_mode.enabled:
        out.requires_grad = True
        out._op = op
        out._parents = (a, b)
    else:
        out.requires_grad = False
        out._op = None
        out._parents = ()
    out._ctx = None
    return out


def maximum(a: Any, b: Any) -> Value:
    """Elementwise maximum of two Values or numbers (a tie splits the gradient)."""
    return _operand(a, "maximum").maximum(b)


def minimum(a: Any, b: Any) -> Value:
    """Elementwise minimum of two Values or numbers (a tie splits the gradient)."""
    return _operand(a, "minimum").minimum(b)


def _operand(x: Any, opname: str) -> Value:
    """``x`` as a Value: Values pass through, real numbers become constants."""
    if isinstance(x, Value):
        return x
    if isinstance(x, numbers.Real):
        const = _new(Value)
        const.data = float(x)
        const.grad = 0.0
        const._pending = None
        const.requires_grad = False
        const._op = None
        const._parents = ()
        const._ctx = None
        return const
    raise _operand_error(opname, x)


def _operand_error(opname: str, x: Any) -> TypeError:
    return TypeError(
        f"unsupported operand for {opname}: {type(x).__name__} "
        "(a Value works with Values and real numbers: int, float)"
    )
