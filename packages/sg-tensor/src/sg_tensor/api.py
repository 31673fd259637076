"""The public calls of every operator, made from its declaration and installed.

Each declaration (:data:`sg_tensor.op.DECLARATIONS`) names its forms: methods and
properties of ``Tensor``, an operator symbol, functions of ``sg_tensor``, the numpy
function it answers. This module makes those calls from the declaration's ``entry``
(or, for the signatures that have one, a generated entry) and installs them:
:func:`install` runs once, when ``sg_tensor`` is imported. So ``x.exp()``,
``sg_tensor.exp(x)``, ``np.exp(x)`` and the operator's checks all reach the same code.

Generated entries, by signature:

- ``unary``: ``x.name(*params)`` applies the operator, each parameter checked by its
  declared :class:`~sg_scalar.declare.Param`;
- ``binary`` and ``matmul``: ``x.name(y)``, ``name(a, b)``, ``a + b``, ``2 + b``: a number
  or array on either side takes the Tensor's floating dtype;
- ``reduction``: ``x.name(axis=None, keepdims=False, *params)``;
- ``axis``: ``x.name(axis=-1, *params)`` along one axis.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

from sg_scalar.declare import Declaration
from sg_tensor import functional, interop
from sg_tensor.arguments import flag, normalize_axis, one_axis
from sg_tensor.op import DECLARATIONS, ENTRIES, NUMPY_ENTRIES
from sg_tensor.tensor import Tensor, as_tensor, binary, operand

Entry = Callable[..., Any]
_BINARY_SIGNATURES = ("binary", "matmul")
_DUNDERS = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "**": "pow", "@": "matmul"}


def bind(decl: Declaration, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The declared parameters from a call's extra arguments, checked and converted."""
    names = list(decl.params)
    if len(args) > len(names):
        raise TypeError(
            f"{decl.name}() got {len(args) - len(names)} positional argument(s) too many "
            f"(its parameters: {', '.join(names) or 'none'})"
        )
    values = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in decl.params:
            raise TypeError(f"{decl.name}() got an unexpected keyword argument {key!r}")
        if key in values:
            raise TypeError(f"{decl.name}() got multiple values for argument {key!r}")
        values[key] = value
    ctx = {}
    for name, param in decl.params.items():
        value = values.get(name, param.default)
        ctx[name] = param.convert(value, f"{decl.name}: {name}") if param.convert else value
    return ctx


def entry(decl: Declaration) -> Entry:
    """The public call of ``decl``: its own entry, or the one its signature generates."""
    own, _ = ENTRIES[decl.name]
    if own is not None:
        return _takes_pytorch_names(decl, own)
    op = decl.op
    if op is None:
        raise ValueError(f"{decl.name}: a composite needs an entry function")
    name, signature = decl.name, decl.signature
    if signature in _BINARY_SIGNATURES:  # PyTorch's names: mul(input, other)
        return lambda input, other: binary(op, input, other)
    if signature == "unary" and not decl.params:
        return lambda x: x._apply1(op)
    if signature == "unary":
        return lambda x, *args, **kwargs: x._apply1(op, bind(decl, args, kwargs))
    if signature == "reduction":

        def reduce(x: Tensor, axis: Any = None, keepdims: Any = False, *a: Any, **k: Any) -> Any:
            if k:  # PyTorch's dim= and keepdim=
                axis, keepdims = _pytorch_names(name, axis, keepdims, k, None)
            if x.ndim == 0 and _first_axis(axis):  # PyTorch: a 0-d tensor has dims 0 and -1
                return reduce(x.reshape((1,)), 0, keepdims, *a, **k).reshape(())
            ctx = {
                "axis": normalize_axis(axis, x.ndim, name, x.shape),
                "keepdims": flag(keepdims, name),
            }
            if a or k or decl.params:
                ctx.update(bind(decl, a, k))
            return x._apply1(op, ctx)

        return reduce
    if signature == "axis":

        def along(x: Tensor, axis: Any = -1, *a: Any, **k: Any) -> Any:
            if "dim" in k:
                axis, _ = _pytorch_names(name, axis, None, k, -1)
            if x.ndim == 0 and _first_axis(axis):
                return along(x.reshape((1,)), 0, *a, **k).reshape(())
            ctx = {"axis": one_axis(axis, x.ndim, name, x.shape), **bind(decl, a, k)}
            return x._apply1(op, ctx)

        return along
    raise ValueError(f"{name}: a {signature!r} operator needs an entry function")


def _pytorch_names(
    name: str, axis: Any, keepdims: Any, k: dict[str, Any], axis_default: Any
) -> tuple[Any, Any]:
    """``axis`` and ``keepdims`` from PyTorch's ``dim=`` and ``keepdim=`` in ``k`` (taken
    out of it), refusing both spellings at once."""
    for torch_name, ours, given, default in (
        ("dim", "axis", axis, axis_default),
        ("keepdim", "keepdims", keepdims, False),
    ):
        if torch_name in k:
            if given is not default:
                raise TypeError(f"{name}(): give {torch_name}= or {ours}=, not both")
            value = k.pop(torch_name)
            if torch_name == "dim":
                axis = value
            else:
                keepdims = value
    return axis, keepdims


def _takes_pytorch_names(decl: Declaration, own: Entry) -> Entry:
    """An operator's own entry that takes ``axis``/``keepdims``, also taking PyTorch's
    ``dim``/``keepdim`` for them, and one that takes PyTorch's names also numpy's."""
    parameters = inspect.signature(own).parameters
    pairs = (("dim", "axis"), ("keepdim", "keepdims"), ("axis", "dim"), ("keepdims", "keepdim"))
    renames = {  # the other spelling of a keyword the entry takes (numpy's or PyTorch's)
        other: ours for other, ours in pairs if ours in parameters and other not in parameters
    }
    if not renames:
        return own
    name = decl.name

    def call(*args: Any, **kwargs: Any) -> Any:
        for torch_name, ours in renames.items():
            if torch_name in kwargs:
                if ours in kwargs:
                    raise TypeError(f"{name}(): give {torch_name}= or {ours}=, not both")
                kwargs[ours] = kwargs.pop(torch_name)
        return own(*args, **kwargs)

    call.__wrapped__ = own  # type: ignore[attr-defined]
    return call


def _first_axis(axis: Any) -> bool:
    """Whether ``axis`` names axis 0 (or -1) alone: the one a 0-d tensor has in PyTorch."""
    if isinstance(axis, (tuple, list)):
        return len(axis) == 1 and _first_axis(axis[0])
    return not isinstance(axis, bool) and axis in (0, -1) and isinstance(axis, int)


def _named(fn: Entry, decl: Declaration, name: str, owner: str = "") -> Entry:
    """A copy of ``fn`` (same code, so no extra call) with the public name, and a
    docstring saying what the operator is and where it is declared."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    if hasattr(fn, "__wrapped__"):  # help() and inspect show the entry's own signature
        copy.__wrapped__ = fn.__wrapped__  # type: ignore[attr-defined]
    copy.__qualname__ = f"{owner}.{name}" if owner else name
    module = (decl.op.vjp if decl.op is not None else fn).__module__
    copy.__doc__ = f"{decl.doc or name} (``{decl.name}``, declared in ``{module}``)"
    if decl.params and decl.signature == "unary" and fn.__module__ == __name__:
        parameters = [inspect.Parameter("x", inspect.Parameter.POSITIONAL_ONLY)] + [
            inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=param.default)
            for p, param in decl.params.items()
        ]
        copy.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return copy


def method(decl: Declaration, name: str) -> Entry:
    """The method ``name`` of ``decl``: its entry, named for ``Tensor``."""
    return _named(entry(decl), decl, name, owner="Tensor")


def function(decl: Declaration, name: str) -> Entry:
    """The function ``name`` of ``decl``: its first argument may be an array or a number."""
    call = entry(decl)
    if decl.variadic or decl.signature in _BINARY_SIGNATURES + ("where", "linear"):
        return _named(call, decl, name)

    def fn(x: Any, *args: Any, **kwargs: Any) -> Any:
        return call(as_tensor(x), *args, **kwargs)

    return _named(fn, decl, name)


def _operator_dunders(decl: Declaration, symbol: str) -> dict[str, Entry]:
    """The special methods of an operator symbol: ``__add__`` and ``__radd__`` for ``+``."""
    own, _ = ENTRIES[decl.name]
    op = decl.op
    if symbol in _DUNDERS and decl.signature in _BINARY_SIGNATURES:
        name = _DUNDERS[symbol]
        if own is not None:
            forward: Entry = lambda self, other: own(self, other)  # noqa: E731
            reflected: Entry = lambda self, other: own(other, self)  # noqa: E731
        else:
            assert op is not None

            def forward(self: Tensor, other: Any) -> Tensor:
                if type(other) is not Tensor:  # the common case skips a call: this is hot
                    other = operand(other, self, name)
                return self._apply2(op, other)

            def reflected(self: Tensor, other: Any) -> Tensor:
                return operand(other, self, name)._apply2(op, self)

        return {f"__{name}__": forward, f"__r{name}__": reflected}
    if symbol == "-x":
        return {"__neg__": entry(decl)}
    if symbol == "abs":
        return {"__abs__": entry(decl)}
    if symbol == "[]":
        return {"__getitem__": entry(decl)}
    return {}


def install() -> None:
    """Install every declared form: methods, operators, functions and numpy's protocols."""
    names: list[str] = []
    for decl in DECLARATIONS.values():
        _, installs = ENTRIES[decl.name]
        if not installs:
            continue
        for form in decl.forms:
            if form.kind == "method":
                setattr(Tensor, form.name, method(decl, form.name))
            elif form.kind == "property":
                setattr(Tensor, form.name, property(entry(decl), doc=decl.doc))
            elif form.kind == "operator":
                for dunder, fn in _operator_dunders(decl, form.name).items():
                    setattr(Tensor, dunder, fn)
            elif form.kind == "function":
                setattr(functional, form.name, function(decl, form.name))
                names.append(form.name)
            elif form.kind == "numpy":
                interop.register(form, _numpy_call(decl))
    functional.__all__ = sorted({"as_tensor", *names})
    interop.install(Tensor)


def _numpy_call(decl: Declaration) -> Entry:
    """What a numpy function called on a Tensor runs: its own numpy entry where numpy's
    meaning differs, else the operator's function (or its method, the first argument made
    a Tensor)."""
    if decl.name in NUMPY_ENTRIES:
        return _named(NUMPY_ENTRIES[decl.name], decl, decl.name)
    for form in decl.forms:
        if form.kind == "function":
            return function(decl, form.name)
    return function(decl, decl.name)
