"""Tensor methods PyTorch users reach for that are not operators (no gradient rule).

- sizes: ``x.size()``, ``x.size(d)`` (and ``x.size`` still numpy's element count),
  ``x.numel()``, ``x.dim()``;
- data out and new tensors: ``x.tolist()``, ``x.new_zeros(shape)``, ``x.new_ones``,
  ``x.new_full``, ``x.new_tensor(data)`` (the dtype of ``x``, no gradient);
- gradients: ``x.grad_fn`` (the operator that produced ``x``, or None for a leaf),
  ``x.register_hook(fn)`` (``fn(grad)`` sees, and may replace, the gradient flowing
  into ``x``), ``x.retain_grad()`` (a non-leaf keeps its ``.grad``, as a leaf does).

Hooks need nothing from the backward driver: a hook on a non-leaf wraps the operator of
its node (the rule receives the hook's gradient); a hook on a leaf runs where the leaf
stores its gradient.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from sg_scalar.graph import RELEASED, Op
from sg_tensor.arguments import one_axis
from sg_tensor.arguments import shape_arg as _shape_arg
from sg_tensor.capturing import computed, refuse, refuse_on_argument
from sg_tensor.tensor import LEAF_HOOKS, Tensor, _run_hooks

__all__ = ["install"]


class Size(int):
    """``x.size``: numpy's element count, which PyTorch's ``x.size()`` and ``x.size(d)``
    call for the shape and one dimension's length."""

    _shape: tuple[int, ...]

    def __new__(cls, shape: tuple[int, ...]) -> Size:
        size = super().__new__(cls, int(np.prod(shape, dtype=np.int64)))
        size._shape = shape
        return size

    def __call__(self, dim: Any = None) -> Any:
        if dim is None:
            return self._shape
        return self._shape[one_axis(dim, len(self._shape), "size", self._shape)]


def _size(self: Tensor) -> Size:
    return Size(self.data.shape)


def numel(self: Tensor) -> int:
    """The number of elements (PyTorch's name for ``size``)."""
    return int(self.data.size)


def dim(self: Tensor) -> int:
    """The number of axes (PyTorch's name for ``ndim``)."""
    return int(self.data.ndim)


def tolist(self: Tensor) -> Any:
    """The data as nested Python lists (a Python number for a 0-d tensor)."""
    refuse("reading a value into Python (tolist())")
    return self.data.tolist()


def _new(fill: Callable[[tuple[int, ...], Any], np.ndarray], name: str) -> Callable[..., Tensor]:
    def new(
        self: Tensor, *sizes: Any, size: Any = None, dtype: Any = None, requires_grad: bool = False
    ) -> Tensor:
        if size is not None and sizes:  # PyTorch's keyword: x.new_zeros(size=(2, 3))
            raise TypeError(f"{name}(): give the size positionally or as size=, not both")
        shape = _shape_arg(sizes if size is None else (size,), name)
        return Tensor(fill(shape, dtype or self.dtype), requires_grad=requires_grad)

    new.__name__ = name
    new.__doc__ = f"A new tensor of ``size`` with this tensor's dtype: ``{name}``."
    return new


def new_full(
    self: Tensor, size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """A new tensor of ``size`` filled with ``fill_value``, with this tensor's dtype."""
    shape = _shape_arg((size,), "new_full")
    values = np.full(shape, fill_value, dtype=dtype or self.dtype)
    return Tensor(values, requires_grad=requires_grad)


def new_tensor(
    self: Tensor, data: Any, *, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """A new tensor holding a copy of ``data``, with this tensor's dtype."""
    source = data.data if isinstance(data, Tensor) else data
    copied = computed(np.array, source, dtype=dtype or self.dtype)  # each replay's, captured
    return Tensor(copied, requires_grad=requires_grad)


def _grad_fn(self: Tensor) -> Op | None:
    """The operator that produced this tensor (None for a leaf or a freed graph)."""
    op = self._op
    return None if op is None or op is RELEASED else op


Hook = Callable[[Tensor], Any]


class _Handle:
    """What :func:`register_hook` returns: ``handle.remove()`` takes the hook off."""

    def __init__(self, hooks: list[Hook], hook: Hook) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def register_hook(self: Tensor, hook: Hook) -> _Handle:
    """Call ``hook(grad)`` with the gradient flowing into this tensor in each backward
    pass; a value it returns replaces that gradient. Returns a handle with ``remove()``."""
    if not self.requires_grad:
        raise RuntimeError(
            f"register_hook: the tensor (shape {self.shape}) does not require grad, so no "
            "gradient flows into it"
        )
    # an argument of a captured step is another tensor at each replay: its hook is lost
    refuse_on_argument(self, "register_hook()")
    # a leaf's hooks run where it stores its gradient; a node's, before its rule
    hooks = _leaf_hooks(self) if self._op is None else _node_hooks(self)
    hooks.append(hook)
    return _Handle(hooks, hook)


def retain_grad(self: Tensor) -> None:
    """Keep this non-leaf tensor's gradient in ``.grad`` after backward (accumulating, as a
    leaf's); on a leaf it does nothing (a leaf keeps it anyway)."""
    if self._op is None or getattr(self._op, "_sg_retains", False):
        return
    refuse("retain_grad() (a replay keeps no gradient of an intermediate tensor)")
    _node_hooks(self)
    op = self._op
    assert isinstance(op, _HookedOp)  # _node_hooks made it one

    def keep(grad: Any) -> None:  # after the hooks, as PyTorch 2 stores it
        # a copy: the pass goes on with it (under create_graph, a differentiable one)
        data = grad * 1.0 if isinstance(grad, Tensor) else np.array(grad)
        self.grad = data if self.grad is None else self.grad + data

    op.keep = keep
    op._sg_retains = True


class _HookedOp(Op):
    """A node's operator with hooks run on its gradient before its rule."""

    __slots__ = ("hooks", "inner", "keep", "_sg_retains")

    def __init__(self, inner: Op) -> None:
        super().__init__(
            inner.name,
            inner.forward,
            self._vjp,
            needs_input_grad=inner.needs_input_grad,
            twice_differentiable=inner.twice_differentiable,
            grad_reads=inner.grad_reads,
        )
        self.inner = inner
        self.hooks: list[Hook] = []
        self.keep: Callable[[Any], None] | None = None  # retain_grad's store
        self._sg_retains = False

    def _vjp(self, g: Any, out: Any, *inputs: Any, **ctx: Any) -> tuple[Any, ...]:
        g = _run_hooks(self.hooks, g)
        if self.keep is not None:
            self.keep(g)
        return self.inner.vjp(g, out, *inputs, **ctx)


def _node_hooks(x: Tensor) -> list[Hook]:
    op = x._op
    if op is RELEASED:
        raise RuntimeError("register_hook: the graph of this tensor was freed by backward()")
    if not isinstance(op, _HookedOp):
        assert op is not None
        op = _HookedOp(op)
        x._op = op
    return op.hooks


def _leaf_hooks(x: Tensor) -> list[Hook]:
    """The hooks of leaf ``x``, kept by id until ``x`` is collected (then the id may be
    another tensor's: the entry goes with ``x``)."""
    key = id(x)
    if key not in LEAF_HOOKS:
        LEAF_HOOKS[key] = []
        weakref.finalize(x, LEAF_HOOKS.pop, key, None)
    return LEAF_HOOKS[key]


def install() -> None:
    """Install the methods on ``Tensor`` (called once by ``sg_tensor``)."""
    Tensor.size = property(_size, doc=Size.__doc__)  # type: ignore[assignment,method-assign]
    Tensor.grad_fn = property(_grad_fn, doc=_grad_fn.__doc__)  # type: ignore[attr-defined]
    for fn in (numel, dim, tolist, new_full, new_tensor, register_hook, retain_grad):
        setattr(Tensor, fn.__name__, fn)
    Tensor.new_zeros = _new(np.zeros, "new_zeros")  # type: ignore[attr-defined]
    Tensor.new_ones = _new(np.ones, "new_ones")  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# More of PyTorch's everyday methods: conversions, tests and logic (no gradient), and
# spellings of operators that exist
# ---------------------------------------------------------------------------------------
def _cast(dtype: Any, name: str) -> Callable[[Tensor], Tensor]:
    def cast(self: Tensor) -> Tensor:
        result: Tensor = self.to(dtype)
        return result

    cast.__name__ = name
    cast.__doc__ = f"``x.to({np.dtype(dtype).name})`` (PyTorch's ``x.{name}()``)."
    return cast


def _logical(fn: Any, name: str) -> Callable[..., Tensor]:
    def logical(self: Any, *others: Any) -> Tensor:
        args = [o.data if isinstance(o, Tensor) else o for o in (self, *others)]
        return Tensor(computed(fn, *args))

    logical.__name__ = name
    logical.__doc__ = f"numpy's ``{fn.__name__}`` on the data: a tensor with no gradient."
    return logical


def _truth(test: Any, x: np.ndarray, dim: Any, keepdim: bool) -> Any:
    """``test`` (np.all, np.any) along ``dim``: bool, or uint8 for a uint8 tensor (PyTorch's
    result dtype, kept from before bool tensors existed)."""
    found = np.asarray(test(x, axis=dim, keepdims=keepdim))
    return found.astype(np.uint8) if x.dtype == np.uint8 else found


def all_(self: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether every element (along ``dim``) is nonzero: a boolean tensor (uint8 for a
    uint8 tensor, as PyTorch)."""
    return Tensor(computed(_truth, np.all, self.data, dim, keepdim))


def any_(self: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether some element (along ``dim``) is nonzero: a boolean tensor (uint8 for a
    uint8 tensor, as PyTorch)."""
    return Tensor(computed(_truth, np.any, self.data, dim, keepdim))


def _index(self: Tensor) -> int:
    """A 0-d integer (or bool) tensor as a Python int where Python wants one
    (``items[t]``, ``range(t)``), as PyTorch. A tensor with dimensions is refused even
    with one element (PyTorch takes it): numpy would then index with it as a number,
    not as the array it is."""
    if self.data.ndim != 0 or self.data.dtype.kind not in "biu":
        raise TypeError(
            "__index__: only a 0-d integer tensor can be used as an index (an int); this "
            f"one has shape {self.shape} and dtype {self.dtype}"
        )
    return int(self.item())


def _format(self: Tensor, spec: str) -> str:
    """``f"{t:.2f}"``: a 0-d tensor formats as its value (``t.item()``), as PyTorch; any
    other tensor only with an empty spec (its ``str``)."""
    if self.data.ndim == 0:
        return format(self.item(), spec)
    return object.__format__(self, spec)


def allclose(self: Any, other: Any, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:  # fmt: skip
    """PyTorch's (and numpy's) ``allclose``: a Python bool."""
    refuse("allclose() (a Python bool read from the values)")
    a, b = (t.data if isinstance(t, Tensor) else t for t in (self, other))
    return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(self: Any, other: Any) -> bool:
    """Whether the two tensors have the same shape and elements (PyTorch's ``equal``)."""
    refuse("equal() (a Python bool read from the values)")
    a, b = (np.asarray(t.data if isinstance(t, Tensor) else t) for t in (self, other))
    return a.shape == b.shape and bool(np.array_equal(a, b))


def contiguous(self: Tensor) -> Tensor:
    """The tensor itself if its elements lie in row-major order, else a row-major copy
    that gradients flow through (PyTorch's ``contiguous``: ``view`` then works)."""
    if self.data.flags.c_contiguous:
        return self
    return self.reshape(-1).reshape(self.shape)  # the first reshape copies in row order


def is_contiguous(self: Tensor) -> bool:
    """Whether the elements lie in memory in row-major order (PyTorch's ``is_contiguous``)."""
    return bool(self.data.flags.c_contiguous)


def detach_(self: Tensor) -> Tensor:
    """Make this tensor a leaf that requires no grad, in place (PyTorch's ``detach_``)."""
    self._op, self._parents, self._ctx = None, (), None
    self.requires_grad = False
    return self


def _with_alpha(method: Callable[..., Tensor], name: str) -> Callable[..., Tensor]:
    """``x.add(y, alpha=2)`` (PyTorch's ``alpha`` scales ``y``) on the operator's method."""

    def call(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:  # PyTorch's names
        if alpha != 1:
            other = other * alpha
        return method(input, other)

    call.__name__, call.__doc__ = name, f"{method.__doc__} (``alpha`` scales the other.)"
    return call


def install_more() -> None:
    """Install the conversions, tests and logic methods (called once by ``sg_tensor``)."""
    for dtype, name in ((np.int64, "long"), (np.int32, "int"), (np.bool_, "bool"),
                        (np.float16, "half")):  # fmt: skip
        setattr(Tensor, name, _cast(dtype, name))
    Tensor.all = all_  # type: ignore[attr-defined]
    Tensor.any = any_  # type: ignore[attr-defined]
    tests: dict[str, Any] = {
        "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite,
        "logical_and": np.logical_and, "logical_or": np.logical_or,
        "logical_xor": np.logical_xor, "logical_not": np.logical_not,
        "__and__": np.bitwise_and, "__or__": np.bitwise_or, "__xor__": np.bitwise_xor,
        "__rand__": np.bitwise_and, "__ror__": np.bitwise_or, "__rxor__": np.bitwise_xor,
        "__invert__": np.invert,
    }  # fmt: skip
    for name, fn in tests.items():
        setattr(Tensor, name, _logical(fn, name))
    for name in ("allclose", "equal", "contiguous", "is_contiguous", "detach_"):
        setattr(Tensor, name, globals()[name])
    from sg_tensor import functional

    for name in ("add", "sub"):  # the method and the function: st.add(x, y, alpha=2)
        setattr(Tensor, name, _with_alpha(getattr(Tensor, name), name))
        setattr(functional, name, _with_alpha(getattr(functional, name), name))
    from sg_tensor.elementwise import _floor_divide, _remainder

    spellings: dict[str, Callable[..., Tensor]] = {
        "__mod__": lambda self, other: _remainder(self, other),
        "__rmod__": lambda self, other: _remainder(other, self),
        "__floordiv__": lambda self, other: _floor_divide(self, other),
        "__rfloordiv__": lambda self, other: _floor_divide(other, self),
        "floor_divide": _floor_divide,
    }
    for name, method in spellings.items():
        setattr(Tensor, name, method)
    setattr(Tensor, "__index__", _index)  # items[t], range(t)  # noqa: B010
    setattr(Tensor, "__format__", _format)  # f"{t:.2f}"  # noqa: B010
