"""How sg's own tensor operators are declared: ``@op(name, forward, signature, ...)``.

This is the project's operator table (each name declared once, with every fact the API
and sg-verify derive from). To add an operator *of your own*, with your own gradient
rule, subclass :class:`sg_tensor.Function` instead: nothing is registered by name, and
``sg_verify.check`` verifies its rule. To add one to sg itself, see
``docs/adding-an-operator.md``.

The rules are plain functions of numpy arrays. They receive the output gradient ``g``,
the forward result ``out`` and the inputs under their forward names (plus keyword
arguments such as ``axis``), and return one gradient per input. They are written with
arithmetic, numpy functions and array methods only, so that the same rule also runs on
``Tensor`` nodes when a gradient must itself be differentiable.

A rule returns each gradient in the shape of the output's broadcast, if it likes: the
backward driver reduces it to its input's shape with :func:`unbroadcast` (and converts
it to the input's floating dtype), for every operator, so no rule sums over broadcast
axes by itself, and a gradient that cannot be reduced is an error naming the operator.

The rest of the entry is the operator's facts (see :mod:`sg_scalar.declare`): its
*signature* (how it is called and which shapes it is checked at), the public forms
(methods, functions, an operator symbol, the numpy function it answers), its
parameters, its inputs' domains, kinks and ties, its PyTorch counterpart and a value
bound. :mod:`sg_tensor.api` makes the public methods and functions from them;
sg-verify makes every check. An operator without a rule of its own (``squeeze`` is a
``reshape``) is declared with :func:`composite`.

Signatures and their generated public calls:

``unary``      ``x.name(*params)``, elementwise; checked at shapes ``(3, 4)`` and ``()``
``binary``     ``a + b``, ``x.name(y)``, ``name(a, b)``, broadcasting; over shape pairs
``reduction``  ``x.name(axis=None, keepdims=False, *params)`` over any axes; ``(2, 3, 4)``
``axis``       ``x.name(axis=-1, *params)`` along one axis (softmax, cumsum); ``(3, 4, 2)``

Any other signature (``reshape``, ``getitem``, ``linear``...) names an operator whose
public call is its own ``entry`` function and whose cases give their shapes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from sg_scalar.bounds import Bound, same
from sg_scalar.declare import REAL, Case, Declaration, Domain, Edge, Form, Param, Params, Torch
from sg_scalar.graph import Op, Rule
from sg_tensor.kernels import INTO, Into

__all__ = [
    "DECLARATIONS",
    "OPS",
    "Shapes",
    "call",
    "composite",
    "data",
    "default_shapes",
    "fit",
    "indicator",
    "op",
    "positional",
    "quiet",
    "unbroadcast",
]

OPS: dict[str, Op] = {}
"""Every tensor operator that has a gradient rule, by name: the table the driver runs."""
DECLARATIONS: dict[str, Declaration] = {}
"""Every tensor operator and composite with its facts: what the API and checks come from."""

Shapes = tuple[tuple[int, ...], ...]
BROADCAST_PAIRS: list[Shapes] = [
    ((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (3,)), ((5,), ()),
    ((2, 3, 1), (1, 1, 4)),
]  # fmt: skip
"""Shape pairs a binary operator is checked at: equal, rank mismatch, size 1, 0-d."""
_DEFAULT_SHAPES: dict[str, list[Shapes]] = {
    "unary": [((3, 4),), ((),)],
    "binary": BROADCAST_PAIRS,
    "reduction": [((2, 3, 4),)],
    "axis": [((3, 4, 2),)],
}


def default_shapes(declaration: Declaration) -> list[Shapes]:
    """The shapes a case without shapes of its own is checked at (by signature)."""
    if declaration.signature not in _DEFAULT_SHAPES:
        raise ValueError(f"{declaration.name}: a {declaration.signature!r} case must give shapes")
    return _DEFAULT_SHAPES[declaration.signature]


def op(
    name: str,
    forward: Callable[..., Any],
    signature: str = "unary",
    entry: Callable[..., Any] | None = None,
    *,
    needs_input_grad: bool = False,
    grad_reads: tuple[tuple[int, ...], ...] | None = None,
    into: Into | None = None,
    **facts: Any,
) -> Callable[[Rule], Op]:
    """Declare an operator: its forward and facts here, its gradient rule below.

    ``needs_input_grad=True`` passes the rule a tuple saying which inputs need a
    gradient, for rules where skipping one saves real work; ``grad_reads``: with it, for
    each input the inputs its gradient reads (see :class:`sg_scalar.graph.Op`). ``into``:
    kernels computing the same forward and rule into given arrays, which a captured step
    (:func:`sg_tensor.capture`) allocates once (see :mod:`sg_tensor.kernels`). ``entry``
    and the facts are the arguments of :func:`composite`.
    """

    def register(rule: Rule) -> Op:
        if name in OPS:
            _redeclaring(name, OPS[name].vjp, rule)
            del DECLARATIONS[name]
        previous = OPS.get(name)
        if previous is not None:
            INTO.pop(previous, None)
        OPS[name] = Op(name, forward, rule, needs_input_grad=needs_input_grad,
                       grad_reads=grad_reads)  # fmt: skip
        if into is not None:
            INTO[OPS[name]] = into
        composite(name, signature, entry, _op=OPS[name], **facts)
        return OPS[name]

    return register


def composite(
    name: str,
    signature: str = "unary",
    entry: Callable[..., Any] | None = None,
    *,
    method: str | Sequence[str] | None = "",
    function: str | Sequence[str] | None = "",
    operator: str | None = None,
    numpy: Any = None,
    prop: str | None = None,
    torch: str | Torch | None = None,
    inputs: Sequence[Domain | Callable[[Params], Domain]] | None = None,
    params: Mapping[str, Param] | None = None,
    cases: Sequence[Case] = (Case(),),
    edges: Sequence[Edge] = (),
    bound: Bound = same,
    call: Callable[..., Any] | None = None,
    variadic: bool = False,
    leading: Sequence[str] = (),
    output: int | None = None,
    rounding: float = 0.0,
    analytic: bool = False,
    uses: Sequence[str] = (),
    public: bool = True,
    installs: bool = True,
    numpy_entry: Callable[..., Any] | None = None,
    _op: Op | None = None,
) -> Declaration:
    """Declare operator ``name``'s facts; without ``_op`` (from :func:`op`) it is a
    *composite*: ``entry`` computes it with other operators and it has no rule.

    ``method`` and ``function`` are the public names (default: ``name``; ``None``: none),
    ``operator`` a symbol (``"+"``, ``"-x"``, ``"abs"``, ``"**"``, ``"@"``, ``"[]"``),
    ``numpy`` the numpy function or ufunc it answers (or a pair of it and a dict renaming
    parameters to numpy's keywords), ``prop`` a property name. The first
    form listed is the canonical call. ``entry(x, *args, **kwargs)`` is the public call
    for signatures that have no generated one. ``installs=False``: another operator's
    entry answers these forms (``x ** 2`` is ``pow``'s entry calling ``pow_scalar``).
    ``inputs`` defaults to one real input per input of the signature. ``variadic``: the
    inputs come as one list; ``leading``: parameters passed before the inputs;
    ``output``: which output of a call returning several to check; ``rounding``: the
    relative rounding of the forward itself (float32's ``2**-24`` for ``astype``);
    ``analytic``: the forward is complex-analytic in its inputs and numpy evaluates it on
    complex arrays (sg-verify's complex-step derivative checks the rule with it);
    ``uses``: the operators a composite is made of. ``torch`` defaults to ``torch.<name>``.
    ``numpy_entry``: what the ``numpy`` function runs on a Tensor where numpy's meaning
    differs from PyTorch's, which the method and function follow (``split``); it takes
    sg's parameter names (the ``numpy`` rename maps numpy's keywords to them).
    """
    if name in DECLARATIONS:
        _redeclaring(name, ENTRIES[name][0], entry)
    forms: list[Form] = []
    if operator is not None:
        forms.append(Form("operator", operator))
    for kind, names in (("method", method), ("function", function)):
        if names is None:
            continue
        for spelled in (names or name,) if isinstance(names, str) else names:
            forms.append(Form(kind, spelled))
    if prop is not None:
        forms.append(Form("property", prop))
    if operator in _REFLECTED and signature in ("binary", "matmul"):
        if operator != "@":  # a number has no matrix product
            forms.append(Form("reflected", operator, 2.5))
        forms.append(Form("reflected", operator, "array"))
    if numpy is not None:  # the numpy callable, or (it, {sg parameter: numpy keyword})
        target, rename = numpy if isinstance(numpy, tuple) else (numpy, {})
        forms.append(Form("numpy", target.__name__, target, rename))
    if not public:
        forms = []
    if inputs is None:
        inputs = (REAL, REAL) if signature in ("binary", "matmul", "where") else (REAL,)
    doc = (_op.vjp.__doc__ if _op is not None else getattr(entry, "__doc__", None)) or ""
    declaration = Declaration(
        name=name,
        engine="tensor",
        module="sg_tensor",
        op=_op,
        signature=signature,
        inputs=tuple(inputs),
        forms=tuple(forms),
        torch=Torch(torch or f"torch.{name}") if not isinstance(torch, Torch) else torch,
        cases=tuple(cases),
        edges=tuple(edges),
        bound=bound,
        params=dict(params or {}),
        call=call,
        variadic=variadic,
        leading=tuple(leading),
        output=output,
        rounding=rounding,
        analytic=analytic,
        uses=tuple(uses),
        public=public,
        doc=doc.strip().split("\n\n")[0].replace("\n", " "),
    )
    ENTRIES[name] = (entry, installs)
    if numpy_entry is not None:
        NUMPY_ENTRIES[name] = numpy_entry
    DECLARATIONS[name] = declaration
    return declaration


def positional(entry: Callable[..., Any], shapes: Shapes, label: str = "", **params: Any) -> Case:
    """A case of an operator whose public call has optional inputs (``conv2d``'s bias):
    the checks pass parameters positionally after the inputs, so ``params`` are put in
    the entry's order, every skipped one at its default (``bias=None`` when ``shapes``
    has no bias)."""
    names = list(inspect.signature(entry).parameters)[len(shapes) :]
    unknown = set(params) - set(names)
    if unknown:
        raise ValueError(f"{entry.__name__}: no parameters {sorted(unknown)} after the inputs")
    last = max((names.index(k) for k in params), default=-1)
    defaults = inspect.signature(entry).parameters
    ordered = {k: params.get(k, defaults[k].default) for k in names[: last + 1]}
    given = ",".join(f"{k}={v!r}" for k, v in params.items())
    return Case(ordered, shapes, label=label or given)


def _origin(code: Any) -> str:
    """Where a rule or entry function is defined: its module and qualified name."""
    return f"{getattr(code, '__module__', '?')}.{getattr(code, '__qualname__', '?')}"


def _redeclaring(name: str, before: Any, now: Any) -> None:
    """Allow the same definition run again (a re-run notebook cell, a reloaded module);
    refuse a second, different operator of the same name."""
    if before is None or now is None or _origin(before) != _origin(now):
        raise ValueError(
            f"operator {name!r} is declared twice: by {_origin(before)} and by "
            f"{_origin(now)} (for an operator of your own, subclass sg_tensor.Function)"
        )


NUMPY_ENTRIES: dict[str, Callable[..., Any]] = {}
"""The numpy function's own call, for the operators whose numpy meaning differs."""
ENTRIES: dict[str, tuple[Callable[..., Any] | None, bool]] = {}
"""Each declaration's own public call (None: generated from its signature) and whether
:mod:`sg_tensor.api` installs its forms."""
_REFLECTED = frozenset({"+", "-", "*", "/", "**", "@"})


# ---------------------------------------------------------------------------------------
# Parameters: checked and converted at the public call, with the operator's name
# ---------------------------------------------------------------------------------------
def number(value: Any, where: str) -> float:
    """``value`` as a float, or a TypeError starting with ``where`` (operator: parameter)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{where} must be a real number, got {value!r}")
    return float(value)


def real(default: float) -> Param:
    """A real-number parameter."""
    return Param(default, number)


def choice(default: str, *options: str) -> Param:
    """A parameter taking one of ``options``."""

    def convert(value: Any, where: str) -> str:
        if value not in options:
            raise ValueError(f"{where} must be {' or '.join(map(repr, options))}, got {value!r}")
        return str(value)

    return Param(default, convert)


# ---------------------------------------------------------------------------------------
# Helpers the rules and the driver share
# ---------------------------------------------------------------------------------------
def call(name: str, *inputs: Any, **ctx: Any) -> Any:
    """Run sg's operator ``name`` inside one of sg's own gradient rules: on arrays, or on
    nodes as a node (internal: a user's rule is a :class:`sg_tensor.Function`'s
    ``backward``, written with Tensor operations).

    Rules mostly use arithmetic and numpy functions, which Tensors intercept. An operator
    numpy has no function for (``scatter``, ``erf``) is called through here, so that the
    rule still records a differentiable graph when it runs on Tensors (second order).
    """
    operator = OPS[name]
    if any(hasattr(x, "_op") for x in inputs):
        if _node_apply is None:  # pragma: no cover - sg_tensor's import registers it
            raise RuntimeError("import sg_tensor before calling operators on nodes")
        return _node_apply(operator, inputs, ctx)
    return operator.forward(*inputs, **ctx)


NodeApply = Callable[[Op, Any, dict[str, Any]], Any]
_node_apply: NodeApply | None = None


def register_node_apply(apply: NodeApply) -> None:
    """Called once by :mod:`sg_tensor.tensor` (which imports this module, not the reverse)."""
    global _node_apply
    _node_apply = apply


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes that broadcasting added or stretched, giving ``shape``.

    Broadcasting copies an input along new leading axes and along its size-1 axes, so
    the gradient of each copy flows back to the one original: a sum over those axes.
    """
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    # Sum the added leading axes away, then the stretched size-1 axes keeping them.
    # (np.add.reduce on raw arrays: the same sum without the method's Python wrapper.)
    total = np.add.reduce if type(g) is np.ndarray else _method_sum
    if extra:
        g = total(g, axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = total(g, axis=stretched, keepdims=True)
    return g


def _method_sum(g: Any, axis: tuple[int, ...], keepdims: bool = False) -> Any:
    return g.sum(axis, keepdims)


def fit(g: Any, x: Any) -> Any:
    """``g`` with the shape and floating dtype of the input ``x`` it is the gradient of."""
    if g is None:
        return None
    if g.shape != x.shape:
        g = unbroadcast(g, x.shape)
    if g.dtype != x.dtype and x.dtype.kind == "f":
        g = g.astype(x.dtype)
    return g


def quiet(forward: Callable[..., Any]) -> Callable[..., Any]:
    """A forward that returns IEEE results (inf, nan) without numpy's RuntimeWarnings.

    Used for operators with domain edges (log 0, sqrt of a negative, x / 0), which
    follow IEEE arithmetic as PyTorch does rather than warning on every call.
    """

    def quiet_forward(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return forward(*args, **kwargs)

    quiet_forward.__name__ = getattr(forward, "__name__", "forward")
    return quiet_forward


def peak(x: np.ndarray, axis: Any) -> Any:
    """The maximum along ``axis`` (kept), the shift that keeps ``e**x`` from overflowing.

    An empty slice has no maximum; its peak is ``-inf`` (as for a slice of ``-inf``),
    so softmax over an empty axis is empty and logsumexp of one is ``-inf``, as in
    PyTorch, instead of numpy's "zero-size array" error.
    """
    if x.size == 0:
        shape = tuple(1 if i in _axes(axis, x.ndim) else n for i, n in enumerate(x.shape))
        return np.full(shape, -np.inf, dtype=np.result_type(x.dtype, np.float16))
    return x.max(axis=axis, keepdims=True)


def _axes(axis: Any, ndim: int) -> set[int]:
    """``axis`` (None, an int or a tuple of ints) as a set of non-negative axes."""
    if axis is None:
        return set(range(ndim))
    return {a % ndim for a in (axis if isinstance(axis, tuple) else (axis,))}


def indicator(like: Any, values: Any) -> Any:
    """``values`` computed from ``like``'s data (a mask, a sign), for a rule to multiply by.

    On raw data this is ``values`` itself. On nodes (second order) it is a node that
    depends on ``like`` with derivative zero, the derivative of a piecewise-constant
    function: the rule's gradient then stays on the graph, as PyTorch's does, and
    differentiates to zero instead of refusing to be differentiated again.
    """
    if type(like) is np.ndarray or not hasattr(like, "_op"):
        return values
    return like._indicator(values)


def data(x: Any) -> Any:
    """The array behind a node, or the array itself: for masks, which carry no gradient."""
    if type(x) is np.ndarray:  # the common case first: hasattr on an array is slow
        return x
    return x.data if hasattr(x, "_op") else x
