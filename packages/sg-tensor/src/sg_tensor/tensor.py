"""``Tensor``: a numpy array that remembers how it was computed.

A Tensor is a node of sg's graph core (:mod:`sg_scalar.graph`): the same topological
order and backward driver that run the scalar engine run this one. This module holds
the node type and how operators are applied to it. The operators themselves (forward,
gradient rule and public spellings) are declared in the family modules ``elementwise``,
``activations``, ``reductions``, ``shapes`` and ``linalg``, and :mod:`sg_tensor.api`
installs their methods (``x.exp()``, ``x + y``, ``x.sum(axis)``...) on ``Tensor``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sg_scalar import graph
from sg_scalar.graph import Op, ShapeMismatchError
from sg_tensor import capturing, dtypes, memory, versions
from sg_tensor import op as op_module
from sg_tensor.capturing import _recording, computed, refuse

__all__ = ["Tensor", "as_tensor", "binary", "operand"]

_grad_mode = graph._grad_mode
_inplace = graph._InPlace  # the in-place counter a node records when it is computed
_new = object.__new__
_ndarray = np.ndarray


def _before_pass(order: list[Any]) -> None:
    """Before a backward pass over ``order`` (the node protocol's hook): refuse it if a
    rule would read data modified in place since its node was computed (PyTorch's
    version counter), then let go of the large arrays no rule reads."""
    graph.refuse_modified(order=order)
    memory.release_unread(order)


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
        "_grad",
        "requires_grad",
        "_op",
        "_parents",
        "_ctx",
        "_pending",
        "_epoch",
        "_modified_at",
        "__weakref__",
    )
    _retains_grad = False  # only leaves keep .grad, as in PyTorch: saves memory
    _exact_gradient = np.ndarray  # an array with the input's shape and dtype needs no fit
    _before_pass = staticmethod(_before_pass)  # checks versions, releases unread arrays
    _sum_gradients = staticmethod(memory.sum_gradients)  # into an array only the pass holds
    _ctx_modified = staticmethod(versions.ctx_modified)  # an index, a mask written since
    __array_priority__ = 1000  # numpy defers to Tensor's reflected operators

    data: np.ndarray
    _grad: Any
    requires_grad: bool
    _op: Op | None
    _parents: tuple[Tensor, ...]
    _ctx: dict[str, Any] | None
    _pending: Any

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        try:  # (through computed: a captured step converts each replay's array again)
            array = computed(np.asarray, data, dtype=dtype) if dtype is not None else data
            array = np.asarray(array)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"Tensor(): cannot make an array from {type(data).__name__}: {error}"
            ) from None
        if dtype is None and array.dtype.kind in "iub" and _is_python_float_data(data):
            array = array.astype(np.float64)
        if dtype is None and array.dtype == np.float64 and not isinstance(data, np.ndarray):
            default = dtypes.get_default_dtype()  # Python floats: the default dtype
            if default is not np.float64:
                array = array.astype(default)
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"Tensor(): unsupported dtype {array.dtype} (use bool, integer or float data)"
            )
        self.data = array
        self._grad = None
        self.requires_grad = False
        self._op = None
        self._parents = ()
        self._ctx = None
        self._pending = None
        self._epoch = self._modified_at = 0
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
    def _modified(self) -> int:
        """When this tensor's memory was last written in place (0: never): through this
        tensor, or through any other sharing it (a view, a detached tensor), as PyTorch's
        version counter belongs to the storage (see :mod:`sg_tensor.versions`)."""
        return max(self._modified_at, versions.last_write(self.data))

    @_modified.setter
    def _modified(self, count: int) -> None:  # graph.record_modification: a write
        self._modified_at = count
        data = self.data
        versions.note_write(data, count)

    @property
    def is_leaf(self) -> bool:
        """Whether this tensor was made by the user rather than by an operator."""
        return self._op is None

    @property
    def retains_grad(self) -> bool:
        """Whether this non-leaf tensor keeps its gradient (``retain_grad()`` was called)."""
        return bool(getattr(self._op, "_sg_retains", False))

    @property
    def grad(self) -> Any:
        """The gradient a backward pass stored (a leaf's, or a tensor's that
        ``retain_grad()``), or ``None``."""
        if _recording.tape is not None:
            refuse("reading .grad (update parameters with an sg_optim optimizer, whose "
                   "step() is replayed)")  # fmt: skip
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if _recording.tape is not None:
            refuse("setting .grad (clear gradients with the optimizer's zero_grad(), "
                   "which is replayed)")  # fmt: skip
        self._grad = value

    @property
    def op(self) -> str:
        """The name of the operator that produced this tensor (``""`` for a leaf)."""
        return "" if self._op is None else self._op.name

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (not a copy)."""
        refuse("reading the values as a numpy array (numpy(); a replay would reuse them)")
        return self.data

    def item(self) -> Any:
        """The single element as a Python number."""
        refuse("reading a value into Python (item(), float(), int(), bool())")
        if self.data.size != 1:
            raise ValueError(f"item(): the tensor has {self.data.size} elements, not 1")
        return self.data.item()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        refuse("converting a tensor to a numpy array (np.asarray; a replay would reuse it)")
        if dtype is None or dtype == self.data.dtype:
            return self.data.copy() if copy else self.data
        return self.data.astype(dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        refuse("reading a value into Python (bool(tensor), `if tensor:`)")
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
        capturing.refuse_on_argument(self, "requires_grad_()")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(
        self,
        grad: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Any = None,
        *,
        gradient: Any = None,
    ) -> None:
        """Compute the gradient of this tensor with respect to every leaf it depends on.

        ``grad`` (or ``gradient=``, PyTorch's name) is the gradient of some scalar with
        respect to this tensor; it may be omitted only when the tensor has one element.
        Leaves accumulate into ``.grad`` (only ``inputs`` do, when given: leaves or not,
        as PyTorch's ``inputs=``). The graph is freed afterwards unless
        ``retain_graph=True``. With ``create_graph=True`` the gradients are differentiable
        Tensors (a ``grad`` Tensor that requires grad is differentiated through as well).
        """
        if gradient is not None:
            if grad is not None:
                raise TypeError("backward(): pass grad or gradient, not both")
            grad = gradient
        if inputs is not None:  # accumulate into these tensors alone (PyTorch's inputs=)
            refuse("backward(inputs=...)")
            self._backward_into(inputs, grad, retain_graph, create_graph)
            return
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad, so there is no graph to "
                "differentiate: no input had requires_grad=True, it was computed inside "
                "no_grad(), or a captured step's replay returned it (a replay returns "
                "values without a graph: call backward() inside the step)"
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
            try:
                seed = np.array(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            except (TypeError, ValueError) as error:
                raise TypeError(
                    f"backward(): grad must be a tensor, an array or a number of shape "
                    f"{self.shape}, got {type(grad).__name__} ({error})"
                ) from None
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
        tape = _recording.tape
        if tape is not None and not tape.paused:  # sg_tensor.capture: instructions
            graph.refuse_modified(self)  # (an eager pass checks in _before_pass)
            if create_graph:
                refuse("backward(create_graph=True)")
            with np.errstate(all="ignore"):
                tape.backward(self, grad, seed, retain_graph)
            return
        with np.errstate(all="ignore"):  # IEEE results (inf, nan) at domain edges
            graph.backward(self, root_seed, retain_graph=retain_graph, create_graph=create_graph)

    def _backward_into(
        self, inputs: Any, grad: Any, retain_graph: bool | None, create_graph: bool
    ) -> None:
        if _run_backward_into is None:  # pragma: no cover - sg_tensor's import registers it
            raise RuntimeError("import sg_tensor before calling backward(inputs=...)")
        _run_backward_into(self, inputs, grad, retain_graph, create_graph)

    def _accumulate_grad(self, g: Any, stored: set[int], hooks: bool = True) -> None:
        """Add ``g`` into ``.grad``; the stored array is always owned and writable.

        ``stored`` holds the ids of the gradients stored in leaves so far in this pass:
        rules such as ``add`` hand one array to both inputs, and two leaves must not
        share it, so the second gets a copy. A stored array stays alive in ``.grad``
        until the pass ends, so its id cannot be reused within the pass.
        """
        if hooks and LEAF_HOOKS and id(self) in LEAF_HOOKS:  # x.register_hook(fn) on a leaf
            g = _run_hooks(LEAF_HOOKS[id(self)], g)
        if self.data.dtype.kind != "f":  # `x.requires_grad = True` on integers: truncated
            raise TypeError(
                f"backward: a tensor of dtype {self.data.dtype} (shape {self.data.shape}) "
                "requires grad, but only floating-point tensors can (PyTorch refuses it at "
                "x.requires_grad = True; requires_grad_() refuses it too)"
            )
        if isinstance(g, Tensor):  # create_graph: the gradient is a differentiable node
            if g.dtype != self.data.dtype:
                g = g.astype(self.data.dtype)
            if self._grad is None:
                # A new node with its own array, as PyTorch clones: ``g`` may be the
                # caller's seed itself, a view of it (reshape), or held by another leaf.
                self._grad = g * 1.0
            else:
                self._grad = self._grad + g
            return
        if type(g) is not _ndarray:  # rules on 0-d arrays give numpy scalars
            g = np.asarray(g)
        if g.dtype != self.data.dtype:
            g = g.astype(self.data.dtype)
        elif g.base is not None or not g.flags.writeable:
            g = g.copy()  # a view of another array: never alias it
        if self._grad is None:
            self._grad = g.copy() if _already_stored(g, stored) else g
        else:
            self._grad = self._grad + g

    @staticmethod
    def _fit_gradient(g: Any, x: Tensor, op: Op, index: int) -> Any:
        """The gradient ``g`` an operator's rule gave for input ``x`` (its ``index``-th), in
        ``x``'s shape and floating dtype: broadcast axes are summed away here, for every
        operator. A gradient that cannot be summed to ``x``'s shape, or is not made of
        floats, is an error naming the operator (PyTorch: "returned an invalid gradient").
        """
        data = x.data
        if type(g) is _ndarray:  # the common case first: this runs once per edge
            if g.shape == data.shape and g.dtype == data.dtype:
                return g
        elif isinstance(g, Tensor):  # create_graph: the gradient is a node
            if g.data.shape == data.shape and g.data.dtype == data.dtype:
                return g
        else:  # a number, or a numpy scalar from a 0-d array
            g = np.asarray(g)
        dtype = g.dtype
        if dtype.kind != "f":
            raise TypeError(
                f"{op.name}: the gradient rule returned a gradient of dtype {dtype} for input "
                f"{index} (shape {x.shape}, dtype {data.dtype}): gradients must be floating point"
            )
        shape = g.shape
        if shape != data.shape:
            if not _reduces_to(shape, data.shape):
                raise ShapeMismatchError(
                    f"{op.name}: the gradient rule returned a gradient of shape {shape} for "
                    f"input {index} of shape {x.shape}; it cannot be summed to that shape (an "
                    "invalid gradient)"
                )
            g = op_module.unbroadcast(g, data.shape)
        if g.dtype != data.dtype:
            g = g.astype(data.dtype)
        return g

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
        # computed: values made from data (a sign, a rounding) are made again at each
        # replay of a captured step, not fixed at capture
        return self._apply1(_INDICATOR, {"values": computed(np.asarray, values, self.dtype)})

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut off from the graph."""
        tape = _recording.tape
        if tape is not None and not tape.paused:  # a capture: the copy follows this tensor
            tape.tensor_slot(self)
        return _leaf(self.data)

    # -- applying operators (the hot path) ---------------------------------------------
    def _apply1(self, op: Op, ctx: dict[str, Any] | None = None) -> Tensor:
        try:
            data = op.forward(self.data, **ctx) if ctx else op.forward(self.data)
        except (ValueError, TypeError, IndexError) as error:
            raise _forward_error(op, (self,), error) from error
        out = _new(Tensor)
        out.data = data if type(data) is _ndarray else np.asarray(data)
        out._grad = None
        out._pending = None
        out._modified_at = 0
        if self.requires_grad and _grad_mode.enabled:
            out.requires_grad = True
            out._op = op
            out._parents = (self,)
            out._ctx = ctx
            out._epoch = _inplace.count
        else:
            out._epoch = 0
            out.requires_grad = False
            out._op = None
            out._parents = ()
            out._ctx = None
        if _recording.tape is not None:  # sg_tensor.capture is recording this call
            _recording.tape.forward(op, (self,), ctx, out)
        return out

    def _apply2(self, op: Op, other: Tensor, ctx: dict[str, Any] | None = None) -> Tensor:
        if self.data.dtype is not other.data.dtype:  # (dtypes are singletons: fast check)
            self, other = _scalar_keeps_dtype(self, other)
        try:
            if ctx:
                data = op.forward(self.data, other.data, **ctx)
            else:
                data = op.forward(self.data, other.data)
        except (ValueError, TypeError, IndexError) as error:
            raise _forward_error(op, (self, other), error) from error
        out = _new(Tensor)
        out.data = data if type(data) is _ndarray else np.asarray(data)
        out._grad = None
        out._pending = None
        out._modified_at = 0
        if (self.requires_grad or other.requires_grad) and _grad_mode.enabled:
            out.requires_grad = True
            out._op = op
            out._parents = (self, other)
            out._ctx = ctx
            out._epoch = _inplace.count
        else:
            out._epoch = 0
            out.requires_grad = False
            out._op = None
            out._parents = ()
            out._ctx = None
        if _recording.tape is not None:
            _recording.tape.forward(op, (self, other), ctx, out)
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
                    out._epoch = _inplace.count
                    break
        if _recording.tape is not None:
            _recording.tape.forward(op, inputs, ctx, out)
        return out

    def _binary(self, op: Op, other: Any, reflected: bool = False) -> Tensor:
        other = operand(other, self, op.name)
        return other._apply2(op, self) if reflected else self._apply2(op, other)

    # -- comparisons: not differentiable, they return boolean tensors ------------------
    def _compare(self, other: Any, ufunc: np.ufunc) -> Tensor:
        if not isinstance(other, (Tensor, int, float, np.ndarray, np.generic, list, tuple)):
            # None, a string: Python's answer, as PyTorch (t == None is False, t != "x"
            # True, t < None a TypeError): `t in [None]` works
            return NotImplemented  # type: ignore[no-any-return]
        # The dtype arithmetic computes in (a Python number or a 0-d tensor beside a
        # dimensioned floating tensor takes its dtype, as PyTorch): float32 > tensor(0.1)
        # compares in float32, where numpy would widen to float64.
        a, b = self, operand(other, self, ufunc.__name__)
        if a.data.dtype is not b.data.dtype:
            a, b = _scalar_keeps_dtype(a.detach(), b.detach())
        try:
            return _leaf(np.asarray(computed(ufunc, a.data, b.data)))
        except ValueError:
            raise ShapeMismatchError(
                f"{ufunc.__name__}: shapes {self.shape} and {b.shape} cannot be broadcast together"
            ) from None

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

    def __pos__(self) -> Tensor:
        return self

    if TYPE_CHECKING:  # installed from the operator declarations by sg_tensor.api

        def __getattr__(self, name: str) -> Callable[..., Tensor]: ...
        def __add__(self, other: Any) -> Tensor: ...
        def __radd__(self, other: Any) -> Tensor: ...
        def __sub__(self, other: Any) -> Tensor: ...
        def __rsub__(self, other: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...
        def __truediv__(self, other: Any) -> Tensor: ...
        def __rtruediv__(self, other: Any) -> Tensor: ...
        def __pow__(self, other: Any) -> Tensor: ...
        def __rpow__(self, other: Any) -> Tensor: ...
        def __matmul__(self, other: Any) -> Tensor: ...
        def __rmatmul__(self, other: Any) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __abs__(self) -> Tensor: ...
        def __getitem__(self, index: Any) -> Tensor: ...
        @property
        def T(self) -> Tensor: ...
        @property
        def mT(self) -> Tensor: ...

    # numpy's protocols (``np.exp(t)``, ``array + t``, ``np.sum(t)``) are installed by
    # sg_tensor.api from sg_tensor.interop, with the operators.


def _zero_derivative(g: Any, out: Any, x: Any, **ctx: Any) -> tuple[Any]:
    return (g * 0.0,)


# A mask or sign taken from a node's data inside a rule run on nodes: piecewise constant,
# so its derivative is zero (not an operator of the table: nothing computes it forward).
_INDICATOR = Op("indicator", lambda x, *, values: values, _zero_derivative)


def _apply_on_nodes(op: Op, inputs: Sequence[Any], ctx: dict[str, Any]) -> Tensor:
    """How :func:`sg_tensor.op.call` runs an operator when some input is a Tensor."""
    return Tensor._apply_n(op, [as_tensor(x) for x in inputs], ctx)


op_module.register_node_apply(_apply_on_nodes)
capturing.register_node_type(Tensor)
# The seed of a 0-d loss, read-only: rules never write into a gradient, and a leaf
# that receives it stores a copy (see _accumulate_grad).
_ONE = {np.dtype(t): np.ones((), dtype=t) for t in (np.float16, np.float32, np.float64)}
for _one in _ONE.values():
    _one.flags.writeable = False


_run_backward_into: Callable[..., Any] | None = None


def register_backward_into(function: Callable[..., Any]) -> None:
    """Called once by :mod:`sg_tensor.autograd.core` (which imports this module, not the
    reverse): what ``backward(inputs=...)`` runs (its ``backward_into``)."""
    global _run_backward_into
    _run_backward_into = function


LEAF_HOOKS: dict[int, list[Callable[[Tensor], Any]]] = {}
"""Hooks registered on leaves (``x.register_hook``), by the leaf's id (see
:mod:`sg_tensor.tensor_methods`)."""


def _run_hooks(hooks: list[Callable[[Tensor], Any]], g: Any) -> Any:
    """``g`` after each hook (a hook returning a value replaces it). A hook gets its own
    copy: one it keeps is never written later (a captured step reuses its buffers)."""
    on_nodes = isinstance(g, Tensor)
    for hook in list(hooks):
        replaced = hook(g if on_nodes else Tensor(np.array(g)))
        if replaced is not None:
            shape = np.shape(g)
            g = replaced if on_nodes else np.asarray(getattr(replaced, "data", replaced))
            if np.shape(g) != shape:  # as PyTorch: a gradient keeps its shape
                name = getattr(hook, "__name__", repr(hook))
                raise ShapeMismatchError(f"hook {name!r} changed the gradient's shape from "
                                         f"{shape} to {np.shape(g)}")  # fmt: skip
    return g


def _scalar_keeps_dtype(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """PyTorch's promotion: a 0-d floating tensor beside a dimensioned floating one takes
    that one's dtype (``float32 * tensor(2.0)`` stays float32), where numpy would widen."""
    da, db = a.data, b.data
    if da.dtype.kind == "f" and db.dtype.kind == "f" and da.dtype != db.dtype:
        if db.ndim == 0 and da.ndim:
            b = b.astype(da.dtype)
        elif da.ndim == 0 and db.ndim:
            a = a.astype(db.dtype)
    return a, b


def _already_stored(g: Any, stored: set[int]) -> bool:
    """Whether ``g`` was stored in another leaf during this pass (then record it)."""
    if id(g) in stored:
        return True
    stored.add(id(g))
    return False


def _reduces_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether broadcasting ``target`` can give ``shape``: then a sum gives it back."""
    if len(shape) < len(target):
        return False
    tail = shape[len(shape) - len(target) :]
    return all(n == m or m == 1 for n, m in zip(tail, target))


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
    out._grad = None
    out.requires_grad = False
    out._op = None
    out._parents = ()
    out._ctx = None
    out._pending = None
    out._epoch = out._modified_at = 0
    return out


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def as_tensor(x: Any) -> Tensor:
    """``x`` as a Tensor (no copy for a Tensor or an array)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def binary(op: Op, a: Any, b: Any) -> Tensor:
    """Apply a binary operator to two operands, at least one of them a Tensor or not.

    A number or an array beside a Tensor takes the Tensor's floating dtype (see
    :func:`operand`), on either side.
    """
    if isinstance(a, Tensor):
        return a._binary(op, b)
    if isinstance(b, Tensor):
        return b._binary(op, a, reflected=True)
    return as_tensor(a)._binary(op, b)


def operand(x: Any, like: Tensor, opname: str) -> Tensor:
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
        try:
            array = np.asarray(x)
        except ValueError as error:  # a ragged list
            raise TypeError(f"{opname}: cannot make an array of the operand: {error}") from None
        if array.dtype.kind in "biuf":
            return _leaf(array)
        raise TypeError(
            f"{opname}: unsupported operand dtype {array.dtype} ({type(x).__name__} of shape "
            f"{array.shape}); sg computes with bool, integer and real floating data"
        )
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
