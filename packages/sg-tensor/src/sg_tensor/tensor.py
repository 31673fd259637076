"""``Tensor``: a numpy array that remembers how it was computed.

A Tensor is a node of sg's graph core (:mod:`sg_scalar.graph`): the same topological
order and backward driver that run the scalar engine run this one. This module holds
the node type and how operators are applied; the operators themselves (forward and
gradient rule) live in the family modules ``elementwise``, ``activations``,
``reductions``, ``shapes`` and ``linalg``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from sg_scalar import graph
from sg_scalar.graph import Op
from sg_tensor import activations, elementwise, linalg, shapes  # noqa: F401 (declares operators)
from sg_tensor import op as op_module
from sg_tensor.op import OPS, TensorOp
from sg_tensor.reductions import normalize_axis

__all__ = ["Tensor"]

_grad_mode = graph._grad_mode
_new = object.__new__
_ndarray = np.ndarray

ShapeLike = int | Sequence[int]


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` as well as ``f((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


class Tensor:
    """An n-dimensional array node with reverse-mode gradients.

    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([[2., 4.],
           [6., 8.]])

    ``data`` is a numpy array (float64 unless another dtype is given or the input
    already has one); ``grad`` is a numpy array of the same shape and dtype, or
    ``None`` until a backward pass reaches the tensor. ``Tensor(array)`` wraps the
    array without copying it (use :func:`sg_tensor.tensor` for a copy).
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
    _retains_grad = False  # only leaves keep .grad, as in PyTorch: saves memory
    __array_priority__ = 1000  # numpy defers to Tensor's reflected operators

    data: np.ndarray
    grad: Any
    requires_grad: bool
    _op: Op | None
    _parents: tuple[Tensor, ...]
    _ctx: dict[str, Any] | None
    _pending: Any

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        try:
            array = np.asarray(data, dtype=dtype)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"Tensor(): cannot make an array from {type(data).__name__}: {error}"
            ) from None
        if dtype is None and array.dtype.kind in "iub" and _is_python_float_data(data):
            array = array.astype(np.float64)
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"Tensor(): unsupported dtype {array.dtype} (use bool, integer or float data)"
            )
        self.data = array
        self.grad = None
        self.requires_grad = False
        self._op = None
        self._parents = ()
        self._ctx = None
        self._pending = None
        if requires_grad:
            self.requires_grad_(True)

    # -- array attributes --------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self.data.size

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype of the data."""
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """Whether this tensor was made by the user rather than by an operator."""
        return self._op is None

    @property
    def op(self) -> str:
        """The name of the operator that produced this tensor (``""`` for a leaf)."""
        return "" if self._op is None else self._op.name

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (not a copy)."""
        return self.data

    def item(self) -> Any:
        """The single element as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item(): the tensor has {self.data.size} elements, not 1")
        return self.data.item()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is None or dtype == self.data.dtype:
            return self.data.copy() if copy else self.data
        return self.data.astype(dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = []
        if self.data.dtype != np.float64:
            extras.append(f"dtype={self.data.dtype}")
        if self._op is not None and self._op is not graph.RELEASED:
            extras.append(f"op={self._op.name}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "Tensor(" + ", ".join([body, *extras]) + ")"

    __hash__ = object.__hash__  # identity: tensors are graph nodes and dict keys

    # -- gradients ---------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set whether gradients flow to this leaf (floating-point tensors only)."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad: only floating-point tensors can require grad; this tensor "
                f"has dtype {self.data.dtype} (convert it with .astype(np.float64))"
            )
        if not requires_grad and self._op is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(
        self,
        grad: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        *,
        gradient: Any = None,
    ) -> None:
        """Compute the gradient of this tensor with respect to every leaf it depends on.

        ``grad`` (or ``gradient=``, PyTorch's name) is the gradient of some scalar with
        respect to this tensor; it may be omitted only when the tensor has one element.
        Leaves accumulate into ``.grad``. The graph is freed afterwards unless
        ``retain_graph=True``. With ``create_graph=True`` the gradients are differentiable
        Tensors (a ``grad`` Tensor that requires grad is differentiated through as well).
        """
        if gradient is not None:
            if grad is not None:
                raise TypeError("backward(): pass grad or gradient, not both")
            grad = gradient
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad, so there is no graph to "
                "differentiate: no input had requires_grad=True, or it was computed inside "
                "no_grad()"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be omitted only for a tensor with one element; "
                    f"this one has shape {self.shape}: pass grad= with that shape"
                )
            seed = _ONE.get(self.data.dtype) if not self.data.shape else None
            if seed is None:
                seed = np.ones(self.shape, dtype=self.dtype)
        else:
            seed = np.array(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if seed.shape != self.shape:
                raise graph.ShapeMismatchError(
                    f"backward(): grad has shape {seed.shape} but the tensor has shape "
                    f"{self.shape}; they must match"
                )
        root_seed: Any = seed
        if create_graph:  # the seed is a node: a Tensor that requires grad stays one
            if isinstance(grad, Tensor) and grad.requires_grad:
                root_seed = grad if grad.dtype == self.dtype else grad.astype(self.dtype)
            else:
                root_seed = Tensor(seed)
        try:
            with np.errstate(all="ignore"):  # IEEE results (inf, nan) at domain edges
                graph.backward(
                    self, root_seed, retain_graph=retain_graph, create_graph=create_graph
                )
        finally:
            _stored_this_pass.clear()

    def _accumulate_grad(self, g: Any) -> None:
        """Add ``g`` into ``.grad``; the stored array is always owned and writable."""
        if isinstance(g, Tensor):  # create_graph: the gradient is a differentiable node
            if g.dtype != self.data.dtype:
                g = g.astype(self.data.dtype)
            if self.grad is None:  # another leaf may hold the same node: never alias it
                self.grad = g * 1.0 if _owned_copy_needed(g) else g
            else:
                self.grad = self.grad + g
            return
        if type(g) is not _ndarray:  # rules on 0-d arrays give numpy scalars
            g = np.asarray(g)
        if g.dtype != self.data.dtype:
            g = g.astype(self.data.dtype)
        elif g.base is not None or not g.flags.writeable:
            g = g.copy()  # a view of another array: never alias it
        if self.grad is None:
            self.grad = g.copy() if _owned_copy_needed(g) else g
        else:
            self.grad = self.grad + g

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradient of this tensor and of every leaf of its graph.

        With ``set_to_none`` (the default, as in PyTorch) ``.grad`` becomes ``None``;
        otherwise it becomes an array of zeros.
        """
        for node in graph.topological_order(self):
            if node.grad is not None:
                node.grad = None if set_to_none else np.zeros_like(node.data)

    def _indicator(self, values: Any) -> Tensor:
        """``values`` as a node depending on this one with derivative zero (see op.indicator)."""
        return self._apply1(_INDICATOR, {"values": np.asarray(values, dtype=self.dtype)})

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return _leaf(self.data)

    # -- applying operators (the hot path) ---------------------------------------------
    def _apply1(self, op: Op, ctx: dict[str, Any] | None = None) -> Tensor:
        try:
            data = op.forward(self.data, **ctx) if ctx else op.forward(self.data)
        except (ValueError, TypeError, IndexError) as error:
            raise _forward_error(op, (self,), error) from error
        out = _new(Tensor)
        out.data = data if type(data) is _ndarray else np.asarray(data)
        out.grad = None
        out._pending = None
        if self.requires_grad and _grad_mode.enabled:
            out.requires_grad = True
            out._op = op
            out._parents = (self,)
            out._ctx = ctx
        else:
            out.requires_grad = False
            out._op = None
            out._parents = ()
            out._ctx = None
        return out

    def _apply2(self, op: Op, other: Tensor, ctx: dict[str, Any] | None = None) -> Tensor:
        try:
            if ctx:
                data = op.forward(self.data, other.data, **ctx)
            else:
                data = op.forward(self.data, other.data)
        except (ValueError, TypeError, IndexError) as error:
            raise _forward_error(op, (self, other), error) from error
        out = _new(Tensor)
        out.data = data if type(data) is _ndarray else np.asarray(data)
        out.grad = None
        out._pending = None
        if (self.requires_grad or other.requires_grad) and _grad_mode.enabled:
            out.requires_grad = True
            out._op = op
            out._parents = (self, other)
            out._ctx = ctx
        else:
            out.requires_grad = False
            out._op = None
            out._parents = ()
            out._ctx = None
        return out

    @staticmethod
    def _apply_n(op: Op, inputs: Sequence[Tensor], ctx: dict[str, Any]) -> Tensor:
        try:
            data = op.forward(*[t.data for t in inputs], **ctx)
        except (ValueError, TypeError, IndexError) as error:
            raise _forward_error(op, tuple(inputs), error) from error
        out = _leaf(data if type(data) is _ndarray else np.asarray(data))
        if _grad_mode.enabled:
            for t in inputs:
                if t.requires_grad:
                    out.requires_grad = True
                    out._op = op
                    out._parents = tuple(inputs)
                    out._ctx = ctx
                    break
        return out

    def _binary(self, op: Op, other: Any, reflected: bool = False) -> Tensor:
        other = _operand(other, self, op.name)
        return other._apply2(op, self) if reflected else self._apply2(op, other)

    # -- arithmetic ----------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        if type(other) is not Tensor:  # the common case skips a call: this is hot
            other = _operand(other, self, "add")
        return self._apply2(_ADD, other)

    def __radd__(self, other: Any) -> Tensor:
        return self._binary(_ADD, other, reflected=True)

    def __sub__(self, other: Any) -> Tensor:
        if type(other) is not Tensor:  # the common case skips a call: this is hot
            other = _operand(other, self, "sub")
        return self._apply2(_SUB, other)

    def __rsub__(self, other: Any) -> Tensor:
        return self._binary(_SUB, other, reflected=True)

    def __mul__(self, other: Any) -> Tensor:
        if type(other) is not Tensor:  # the common case skips a call: this is hot
            other = _operand(other, self, "mul")
        return self._apply2(_MUL, other)

    def __rmul__(self, other: Any) -> Tensor:
        return self._binary(_MUL, other, reflected=True)

    def __truediv__(self, other: Any) -> Tensor:
        return self._binary(OPS["div"], other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return self._binary(OPS["div"], other, reflected=True)

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, (int, float, np.number)) and not isinstance(exponent, bool):
            p = exponent if isinstance(exponent, int) else float(exponent)
            return self._apply1(OPS["pow_scalar"], {"p": p})
        return self._binary(OPS["pow"], exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return self._binary(OPS["pow"], base, reflected=True)

    def __matmul__(self, other: Any) -> Tensor:
        if type(other) is not Tensor:  # the common case skips a call: this is hot
            other = _operand(other, self, "matmul")
        return self._apply2(_MATMUL, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return self._binary(_MATMUL, other, reflected=True)

    def __neg__(self) -> Tensor:
        return self._apply1(OPS["neg"])

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return self.abs()

    def add(self, other: Any) -> Tensor:
        """``self + other`` with broadcasting."""
        return self._binary(_ADD, other)

    def sub(self, other: Any) -> Tensor:
        """``self - other`` with broadcasting."""
        return self._binary(_SUB, other)

    def mul(self, other: Any) -> Tensor:
        """``self * other`` with broadcasting."""
        return self._binary(_MUL, other)

    def div(self, other: Any) -> Tensor:
        """``self / other`` with broadcasting."""
        return self._binary(OPS["div"], other)

    def pow(self, exponent: Any) -> Tensor:
        """``self ** exponent`` (a number or a tensor, with broadcasting)."""
        return self.__pow__(exponent)

    def neg(self) -> Tensor:
        """``-self``."""
        return -self

    def matmul(self, other: Any) -> Tensor:
        """``self @ other`` with numpy's semantics (1-D operands, batch broadcasting)."""
        return self._binary(_MATMUL, other)

    def maximum(self, other: Any) -> Tensor:
        """Elementwise maximum; a tie splits the gradient in half."""
        return self._binary(OPS["maximum"], other)

    def minimum(self, other: Any) -> Tensor:
        """Elementwise minimum; a tie splits the gradient in half."""
        return self._binary(OPS["minimum"], other)

    # -- comparisons: not differentiable, they return boolean tensors ------------------
    def _compare(self, other: Any, ufunc: np.ufunc) -> Tensor:
        return _leaf(np.asarray(ufunc(self.data, _raw(other))))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    # -- elementwise functions ---------------------------------------------------------
    def exp(self) -> Tensor:
        """``e ** self``."""
        return self._apply1(OPS["exp"])

    def log(self) -> Tensor:
        """Natural logarithm (``-inf`` at 0, ``nan`` below)."""
        return self._apply1(OPS["log"])

    def sqrt(self) -> Tensor:
        """Square root (``nan`` below 0)."""
        return self._apply1(OPS["sqrt"])

    def abs(self) -> Tensor:
        """Absolute value; its derivative at 0 is 0."""
        return self._apply1(OPS["abs"])

    def sin(self) -> Tensor:
        """Sine."""
        return self._apply1(OPS["sin"])

    def cos(self) -> Tensor:
        """Cosine."""
        return self._apply1(OPS["cos"])

    def tanh(self) -> Tensor:
        """Hyperbolic tangent."""
        return self._apply1(OPS["tanh"])

    def sigmoid(self) -> Tensor:
        """Logistic sigmoid ``1 / (1 + e**-x)``, exact 0 and 1 far out."""
        return self._apply1(OPS["sigmoid"])

    def relu(self) -> Tensor:
        """``max(x, 0)``; its derivative at 0 is 0."""
        return self._apply1(_RELU)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        """``x`` where positive, ``negative_slope * x`` elsewhere."""
        return self._apply1(OPS["leaky_relu"], {"negative_slope": float(negative_slope)})

    def erf(self) -> Tensor:
        """The error function ``2 / sqrt(pi) * integral of e**(-t**2) from 0 to x``."""
        return self._apply1(OPS["erf"])

    def gelu(self, approximate: str = "none") -> Tensor:
        """Gaussian error linear unit ``x * Phi(x)``; ``approximate="tanh"`` for the tanh form."""
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        return self._apply1(OPS["gelu"], {"approximate": approximate})

    def softplus(self, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
        """``log(1 + e**(beta x)) / beta``, linear where ``beta x > threshold``."""
        if beta <= 0:
            raise ValueError(f"softplus: beta must be positive, got {beta}")
        return self._apply1(OPS["softplus"], {"beta": float(beta), "threshold": float(threshold)})

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Limit the values to ``[min, max]`` (either bound may be None)."""
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        if min is not None and max is not None and min > max:
            raise ValueError(f"clip: min ({min}) is larger than max ({max})")
        return self._apply1(OPS["clip"], {"min": min, "max": max})

    def softmax(self, axis: int = -1) -> Tensor:
        """``e**x / sum(e**x)`` along ``axis``, stable for large values."""
        (a,) = normalize_axis(axis, self.ndim, "softmax", self.shape)
        return self._apply1(OPS["softmax"], {"axis": a})

    def log_softmax(self, axis: int = -1) -> Tensor:
        """``x - logsumexp(x)`` along ``axis``, stable for large values."""
        (a,) = normalize_axis(axis, self.ndim, "log_softmax", self.shape)
        return self._apply1(OPS["log_softmax"], {"axis": a})

    # -- reductions --------------------------------------------------------------------
    def _reduce(self, name: str, axis: Any, keepdims: bool, **extra: Any) -> Tensor:
        axes = normalize_axis(axis, self.ndim, name, self.shape)
        return self._apply1(OPS[name], {"axis": axes, "keepdims": bool(keepdims), **extra})

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (None for all, an int, or a tuple of ints)."""
        return self._reduce("sum", axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis``."""
        return self._reduce("mean", axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``; tied maxima share the gradient evenly."""
        self._check_not_empty("max")
        return self._reduce("max", axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Minimum over ``axis``; tied minima share the gradient evenly."""
        self._check_not_empty("min")
        return self._reduce("min", axis, keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """Variance over ``axis``, dividing by ``n - ddof`` (numpy's default ``ddof=0``)."""
        return self._reduce("var", axis, keepdims, ddof=int(ddof))

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """Standard deviation ``sqrt(var)`` over ``axis``; its gradient is 0 where it is 0."""
        return self._reduce("std", axis, keepdims, ddof=int(ddof))

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """``log(sum(e**x))`` over ``axis``, computed without overflow."""
        return self._reduce("logsumexp", axis, keepdims)

    def _check_not_empty(self, name: str) -> None:
        if self.data.size == 0:
            raise ValueError(f"{name}: the tensor is empty (shape {self.shape})")

    # -- shape -------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        """The same elements in a new shape (one dimension may be -1)."""
        new_shape = _shape_arg(shape)
        try:
            target = np.empty(self.shape, dtype=bool).reshape(new_shape).shape
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {self.shape} "
                f"({self.size} elements) into shape {new_shape}"
            ) from None
        return self._apply1(OPS["reshape"], {"shape": target})

    def view(self, *shape: Any) -> Tensor:
        """Alias of :meth:`reshape`."""
        return self.reshape(*shape)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute the axes; with no argument, reverse them (numpy's ``transpose``)."""
        if not axes:
            perm = tuple(reversed(range(self.ndim)))
        else:
            perm = _shape_arg(axes)
            if sorted(a % self.ndim if -self.ndim <= a < self.ndim else a for a in perm) != list(
                range(self.ndim)
            ):
                raise ValueError(
                    f"transpose: axes {perm} are not a permutation of the {self.ndim} axes "
                    f"of a tensor of shape {self.shape}"
                )
            perm = tuple(a % self.ndim for a in perm)
        return self._apply1(OPS["transpose"], {"axes": perm})

    def permute(self, *axes: Any) -> Tensor:
        """Permute the axes (PyTorch's name for :meth:`transpose` with axes)."""
        return self.transpose(*_shape_arg(axes))

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """Exchange two axes."""
        a, b = (normalize_axis(a, self.ndim, "swapaxes", self.shape)[0] for a in (axis1, axis2))
        perm = list(range(self.ndim))
        perm[a], perm[b] = perm[b], perm[a]
        return self.transpose(*perm)

    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed."""
        return self.transpose()

    def broadcast_to(self, *shape: Any) -> Tensor:
        """A view repeated along new or size-1 axes, with numpy's broadcasting rules."""
        target = _shape_arg(shape)
        try:
            compatible = np.broadcast_shapes(self.shape, target) == target
        except ValueError:
            compatible = False
        if not compatible:
            raise ValueError(
                f"broadcast_to: cannot broadcast a tensor of shape {self.shape} to {target}"
            )
        return self._apply1(OPS["broadcast_to"], {"shape": target})

    def expand(self, *shape: Any) -> Tensor:
        """PyTorch's name for :meth:`broadcast_to` (-1 keeps a dimension)."""
        target = list(_shape_arg(shape))
        offset = len(target) - self.ndim
        for i in range(self.ndim):
            if target[offset + i] == -1:
                target[offset + i] = self.shape[i]
        return self.broadcast_to(tuple(target))

    def squeeze(self, axis: Any = None) -> Tensor:
        """Remove size-1 axes (all of them, or those in ``axis``)."""
        if axis is None:
            axes = tuple(i for i, n in enumerate(self.shape) if n == 1)
        else:
            axes = normalize_axis(axis, self.ndim, "squeeze", self.shape)
            for a in axes:
                if self.shape[a] != 1:
                    raise ValueError(
                        f"squeeze: axis {a} has size {self.shape[a]}, not 1 (shape {self.shape})"
                    )
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in axes))

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert a size-1 axis at position ``axis`` of the result."""
        (a,) = normalize_axis(axis, self.ndim + 1, "unsqueeze", self.shape)
        return self.reshape(self.shape[:a] + (1,) + self.shape[a:])

    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> Tensor:
        """Merge the axes ``start_axis..end_axis`` into one (by default: all, giving 1-D)."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = (
            normalize_axis(a, self.ndim, "flatten", self.shape)[0] for a in (start_axis, end_axis)
        )
        if start > end:
            raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis}")
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1 :])

    def __getitem__(self, index: Any) -> Tensor:
        return self._apply1(OPS["getitem"], {"index": _normalize_index(index, self)})

    def astype(self, dtype: Any) -> Tensor:
        """The tensor converted to ``dtype``; the gradient is converted back."""
        if np.dtype(dtype) == self.dtype:
            return self
        return self._apply1(OPS["astype"], {"dtype": np.dtype(dtype)})

    # -- numpy interoperability ----------------------------------------------------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """``np.exp(t)``, ``array + t``: numpy ufuncs on tensors run sg's operators."""
        from sg_tensor.interop import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """``np.sum(t)``, ``np.where(c, t, 0)``: numpy functions on tensors run sg's operators."""
        from sg_tensor.interop import array_function

        return array_function(func, args, kwargs)


_ADD, _SUB, _MUL, _MATMUL, _RELU = OPS["add"], OPS["sub"], OPS["mul"], OPS["matmul"], OPS["relu"]


def _zero_derivative(g: Any, out: Any, x: Any, **ctx: Any) -> tuple[Any]:
    return (g * 0.0,)


# A mask or sign taken from a node's data inside a rule run on nodes: piecewise constant,
# so its derivative is zero (not an operator of the table: nothing computes it forward).
_INDICATOR = TensorOp("indicator", lambda x, *, values: values, _zero_derivative, False, False)


def _apply_on_nodes(op: Op, inputs: Sequence[Any], ctx: dict[str, Any]) -> Tensor:
    """How :func:`sg_tensor.op.call` runs an operator when some input is a Tensor."""
    return Tensor._apply_n(op, [x if isinstance(x, Tensor) else Tensor(x) for x in inputs], ctx)


op_module.register_node_apply(_apply_on_nodes)
_stored_this_pass: set[int] = set()
# The seed of a 0-d loss, read-only: rules never write into a gradient, and a leaf
# that receives it stores a copy (see _accumulate_grad).
_ONE = {np.dtype(t): np.ones((), dtype=t) for t in (np.float16, np.float32, np.float64)}
for _one in _ONE.values():
    _one.flags.writeable = False


def _owned_copy_needed(g: np.ndarray) -> bool:
    """Whether ``g`` was already stored in another leaf during this backward pass.

    Rules such as ``add`` hand the same array to both inputs; two leaves must not share
    one ``.grad`` array, so the second one gets a copy. Stored arrays stay alive in
    ``.grad`` until the pass ends, so their ids cannot be reused within it.
    """
    if id(g) in _stored_this_pass:
        return True
    _stored_this_pass.add(id(g))
    return False


def _is_python_float_data(data: Any) -> bool:
    return isinstance(data, float) or (
        isinstance(data, (list, tuple)) and any(isinstance(x, float) for x in _flat(data))
    )


def _flat(data: Any) -> Iterator[Any]:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            yield item


def _leaf(data: np.ndarray) -> Tensor:
    out = _new(Tensor)
    out.data = data
    out.grad = None
    out.requires_grad = False
    out._op = None
    out._parents = ()
    out._ctx = None
    out._pending = None
    return out


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _operand(x: Any, like: Tensor, opname: str) -> Tensor:
    """``x`` as a Tensor for a binary operator with ``like``.

    Python numbers take ``like``'s floating dtype, so ``float32_tensor * 2.0`` stays
    float32; arrays keep their own dtype and follow numpy's promotion.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        kind = like.data.dtype.kind
        dtype = like.data.dtype if kind == "f" else (np.float64 if isinstance(x, float) else None)
        return _leaf(np.asarray(x, dtype=dtype))
    if isinstance(x, (np.ndarray, np.generic, list, tuple, bool)):
        array = np.asarray(x)
        if array.dtype.kind in "biuf":
            return _leaf(array)
    raise TypeError(
        f"{opname}: unsupported operand type {type(x).__name__} "
        "(expected a Tensor, a numpy array or a real number)"
    )


def _forward_error(op: Op, inputs: tuple[Tensor, ...], error: Exception) -> Exception:
    input_shapes = ", ".join(str(t.shape) for t in inputs)
    if op.name == "matmul" and len(inputs) == 2:
        a, b = (t.shape for t in inputs)
        if len(a) and len(b):
            k_b = b[0] if len(b) == 1 else b[-2]
            if a[-1] != k_b:
                return ValueError(
                    f"matmul: inner dimensions do not match: {a} @ {b} "
                    f"({a[-1]} != {k_b}; the last axis of the left operand must equal the "
                    f"{'only' if len(b) == 1 else 'second-to-last'} axis of the right one)"
                )
        if not len(a) or not len(b):
            return ValueError(f"matmul: operands must have at least 1 dimension, got {a} @ {b}")
    return type(error)(f"{op.name}: {error} (input shapes: {input_shapes})")


def _normalize_index(index: Any, tensor: Tensor) -> tuple[Any, ...]:
    """An index as a tuple numpy understands, with boolean masks turned into positions.

    Tensors and lists become arrays; a boolean mask becomes the integer positions of its
    true elements (numpy's own definition), so one gradient rule covers both.
    """
    items = index if isinstance(index, tuple) else (index,)
    result: list[Any] = []
    for item in items:
        if isinstance(item, Tensor):
            item = item.data
        elif isinstance(item, list):
            item = np.asarray(item) if item else np.asarray(item, dtype=np.intp)
        if isinstance(item, np.ndarray):
            if item.dtype == bool:
                result.extend(np.nonzero(item))
                continue
            if item.dtype.kind not in "iu":
                raise IndexError(
                    f"getitem: arrays used as indices must be integer or boolean, got "
                    f"{item.dtype} (tensor shape {tensor.shape})"
                )
        elif isinstance(item, bool) or not (
            item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice))
        ):
            raise IndexError(
                f"getitem: unsupported index {item!r} of type {type(item).__name__} "
                f"(tensor shape {tensor.shape}); use ints, slices, None, ..., or int/bool arrays"
            )
        result.append(item)
    return tuple(result)
