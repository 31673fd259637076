"""Random expressions: a small IR, a generator, two interpreters and the parity runner.

An :class:`Expression` is a list of SSA nodes. Input nodes have a shape; every other node
applies one operator of the registry to earlier nodes, with its parameters (an axis, a
shape, an exponent...). An argument may be *guarded*: scaled by a power of two and/or
passed through a transform that puts it in the operator's domain, as in
``t3 = log(softplus(t1) + 0.5)``. Because an argument may be any earlier node, nodes are
reused and the graphs have diamonds; binary operators broadcast (rank mismatch, size-1
axes, 0-d). The same expression is interpreted by two backends, sg and PyTorch (float64),
for the tensor engine (``sg_tensor.Tensor``) and for the scalar engine (``sg_scalar.Value``
against 0-d torch tensors).

The generator keeps every value bounded by construction: each node carries a static bound
on ``|value|``, and an argument whose bound would push the result above :data:`LIMIT` is
scaled down by a power of two (an exact multiplication). Domains are safe by
construction too: ``log``, ``sqrt``, a ``pow`` base and a divisor see a positive
transform of their argument (``softplus(x) + 0.5``, ``x * x + 0.5``, ``exp(tanh(x))``,
``sigmoid(x) + 0.5``). Kinks and ties (``relu`` at 0, ``maximum`` of equal values, a
``max`` with two equal maxima...) are checked on the values: :func:`sg_vjp` reports the
smallest distance to one, and the parity run redraws an expression closer than
:data:`MARGIN`, where a last-bit difference between the engines could pick a different
branch.

:func:`run_parity` draws expressions from a numpy ``Generator``, evaluates each in both
engines with the same float64 inputs and output cotangent, and compares the output and
every input gradient with the scale-aware difference ``|g_sg - g_torch| / max(1,
|g_torch|)``. Importing this module never needs torch.

>>> import numpy as np
>>> expr = generate(np.random.default_rng(0), "tensor")
>>> expr.engine, expr.nodes[0].op
('tensor', 'input')
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol, TypeVar

import numpy as np

import sg_tensor as st
from sg_scalar import Value, no_grad
from sg_verify.oracles import require_torch, scale_aware

__all__ = [
    "ENGINES",
    "LIMIT",
    "MARGIN",
    "OPS",
    "REFERENCE_ONLY_OPS",
    "Chooser",
    "Expression",
    "Guard",
    "IndexArray",
    "Mask",
    "Node",
    "NumpyChooser",
    "ParityResult",
    "VJPResult",
    "build_expression",
    "compare",
    "generate",
    "run_parity",
    "sg_values",
    "sg_vjp",
    "torch_vjp",
]

T = TypeVar("T")

ENGINES = ("tensor", "scalar")

# The operators of each engine, named as the registry's ``spec.op`` (the rule-table entry
# each exercises), simplest first: a shrinking hypothesis search prefers early entries.
OPS: dict[str, tuple[str, ...]] = {
    "tensor": (
        "add", "sub", "mul", "div", "pow", "pow_scalar", "maximum", "minimum", "where",
        "neg", "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu",
        "leaky_relu", "gelu", "softplus", "clip", "sum", "mean", "max", "min", "var",
        "logsumexp", "reshape", "transpose", "broadcast_to", "getitem", "concatenate", "pad",
        "matmul", "softmax", "log_softmax", "astype",
    ),
    "scalar": (
        "add", "mul", "neg", "pow", "pow_const", "exp", "log", "sqrt", "sin", "cos", "tanh",
        "sigmoid", "relu", "abs", "maximum", "minimum",
    ),
}  # fmt: skip

# The operators of the reference system (registry.REFERENCE_OPS, as each engine has them).
REFERENCE_ONLY_OPS: dict[str, tuple[str, ...]] = {
    "tensor": ("add", "mul", "matmul", "relu", "sum"),
    "scalar": ("add", "mul", "relu"),
}

INPUT_BOUND = 2.0  # inputs are drawn uniformly from [-2, 2]
LIMIT = 16.0  # every node's |value| stays below this bound (by construction)
MARGIN = 1e-6  # the parity run redraws expressions closer than this to a kink or a tie
MAX_SIZE = 96  # broadcast_to makes no node larger than this

_BINARY = frozenset({"add", "sub", "mul", "div", "pow", "maximum", "minimum", "where"})
_REDUCTIONS = frozenset({"sum", "mean", "max", "min", "var", "logsumexp"})
_KINKED = frozenset(
    {"relu", "abs", "leaky_relu", "maximum", "minimum", "max", "min", "clip", "softplus"}
)
_FUNCTIONS = frozenset(
    {"exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "maximum", "minimum"}
)
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}

# Positive transforms: a guard kind and the range of its values for an argument bounded
# by b. ``softplus`` is a tensor operator only.
_POSITIVE = {"tensor": ("softplus", "square", "exp_tanh", "sigmoid"),
             "scalar": ("square", "exp_tanh", "sigmoid")}  # fmt: skip


def _positive_range(kind: str, b: float) -> tuple[float, float]:
    """The interval of the positive transform ``kind`` of a value with ``|x| <= b``."""
    if kind == "softplus":
        return 0.5, b + 1.2  # softplus(x) <= max(x, 0) + log 2
    if kind == "square":
        return 0.5, b * b + 0.5
    if kind == "exp_tanh":
        return math.exp(-1.0), math.e
    if kind == "sigmoid":
        return 0.5, 1.5
    raise ValueError(f"not a positive guard: {kind!r}")


# ---------------------------------------------------------------------------------------
# The IR
# ---------------------------------------------------------------------------------------
class Guard(NamedTuple):
    """How an argument is prepared: ``kind(x * 2**-scale)``.

    ``kind`` is ``""`` (none) or a positive transform, for a domain: ``"softplus"``
    (``softplus(x) + 0.5``), ``"square"`` (``x * x + 0.5``), ``"exp_tanh"``
    (``exp(tanh(x))``) or ``"sigmoid"`` (``sigmoid(x) + 0.5``). Scaling by a power of
    two is exact, so it changes magnitudes without adding a rounding.
    """

    scale: int = 0
    kind: str = ""

    def text(self, x: str) -> str:
        """The guarded argument as code, ``x`` being the argument's name."""
        if self.scale:
            x = f"{x} * {2.0**-self.scale!r}"
        if self.kind == "":
            return x
        if self.kind == "softplus":
            return f"softplus({x}) + 0.5"
        if self.kind == "square":
            y = _paren(x)
            return f"{y} * {y} + 0.5"
        if self.kind == "exp_tanh":
            return f"exp(tanh({x}))"
        if self.kind == "sigmoid":
            return f"sigmoid({x}) + 0.5"
        raise ValueError(f"unknown guard {self.kind!r}")


NO_GUARD = Guard()


@dataclass(frozen=True)
class IndexArray:
    """An integer array inside an index (``x[:, [0, 0, 2]]``); repeats are allowed."""

    values: tuple[int, ...]

    def __repr__(self) -> str:
        return repr(list(self.values))


@dataclass(frozen=True)
class Mask:
    """The boolean condition of ``where``, stored flat with its shape."""

    shape: tuple[int, ...]
    bits: tuple[bool, ...]

    def array(self) -> np.ndarray:
        """The condition as a numpy boolean array."""
        return np.array(self.bits, dtype=bool).reshape(self.shape)

    def __repr__(self) -> str:
        if not self.shape:
            return repr(self.bits[0])
        return repr(self.array().astype(int).tolist())


@dataclass(frozen=True)
class Node:
    """One SSA statement: an input of ``shape``, or ``op`` applied to earlier nodes.

    ``args`` are indices of earlier nodes, ``guards`` one :class:`Guard` per argument,
    ``params`` the operator's parameters and ``shape`` the shape of the result.
    """

    op: str
    args: tuple[int, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    guards: tuple[Guard, ...] = ()
    shape: tuple[int, ...] = ()

    def statement(self, names: Sequence[str]) -> str:
        """The right-hand side as code, given the printed names of the arguments."""
        if self.op == "input":
            return f"input({', '.join(map(str, self.shape))})"
        a = [g.text(n) for g, n in zip(self.guards, names)]
        p = self.params
        op = self.op
        if op in _INFIX:
            return f"{_paren(a[0])} {_INFIX[op]} {_paren(a[1])}"
        if op == "neg":
            return f"-{_paren(a[0])}"
        if op in ("pow_scalar", "pow_const"):
            return f"{_paren(a[0])} ** {p['p']!r}"
        if op in _FUNCTIONS:
            return f"{op}({', '.join(a)})"
        if op == "where":
            return f"where({p['mask']!r}, {a[0]}, {a[1]})"
        if op == "leaky_relu":
            return f"leaky_relu({a[0]}, {p['slope']!r})"
        if op == "gelu":
            extra = "" if p["approximate"] == "none" else f", approximate={p['approximate']!r}"
            return f"gelu({a[0]}{extra})"
        if op == "softplus":
            return f"softplus({a[0]}, beta={p['beta']!r}, threshold={p['threshold']!r})"
        if op == "clip":
            return f"clip({a[0]}, {p['min']!r}, {p['max']!r})"
        if op in _REDUCTIONS:
            extra = "" if p["axis"] is None else f", axis={p['axis']!r}"
            extra += ", keepdims=True" if p["keepdims"] else ""
            extra += f", ddof={p['ddof']}" if p.get("ddof") else ""
            return f"{op}({a[0]}{extra})"
        if op in ("reshape", "broadcast_to"):
            return f"{op}({a[0]}, {p['shape']!r})"
        if op == "transpose":
            return f"transpose({a[0]}, {p['axes']!r})"
        if op == "getitem":
            return f"{_paren(a[0])}[{', '.join(_index_text(i) for i in p['index'])}]"
        if op == "concatenate":
            return f"concatenate([{', '.join(a)}], axis={p['axis']})"
        if op == "pad":
            return f"pad({a[0]}, {p['widths']!r}, value={p['value']!r})"
        if op in ("softmax", "log_softmax"):
            return f"{op}({a[0]}, axis={p['axis']})"
        if op == "astype":
            return f"{_paren(a[0])}.astype(float32).astype(float64)"
        raise ValueError(f"unknown operator {op!r}")


def _paren(s: str) -> str:
    """``s`` in parentheses unless it is a name or a call (no space outside brackets)."""
    depth = 0
    for ch in s:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == " " and depth == 0:
            return f"({s})"
    return s


def _index_text(item: Any) -> str:
    if item is None:
        return "None"
    if item is Ellipsis:
        return "..."
    if isinstance(item, slice):
        start, stop = ("" if v is None else str(v) for v in (item.start, item.stop))
        return f"{start}:{stop}" if item.step is None else f"{start}:{stop}:{item.step}"
    return repr(item)


@dataclass(frozen=True)
class Expression:
    """A random expression: SSA nodes for one engine; the last node is the output.

    ``seed`` determines the input values and the output cotangent (:meth:`draw`), so a
    printed expression is a complete recipe for reproducing a parity check.
    """

    engine: str
    nodes: tuple[Node, ...]
    seed: int = 0

    @property
    def inputs(self) -> list[int]:
        """The indices of the input nodes."""
        return [i for i, n in enumerate(self.nodes) if n.op == "input"]

    @property
    def output(self) -> Node:
        """The last node, whose value is the expression's result."""
        return self.nodes[-1]

    def ops(self) -> list[str]:
        """The operator of every non-input node, in order (with repetitions)."""
        return [n.op for n in self.nodes if n.op != "input"]

    def draw(self) -> tuple[list[np.ndarray], np.ndarray]:
        """The input values (uniform in [-2, 2]) and the output cotangent, from ``seed``."""
        rng = np.random.default_rng(self.seed)
        arrays = [
            rng.uniform(-INPUT_BOUND, INPUT_BOUND, n.shape) for n in self.nodes if n.op == "input"
        ]
        return arrays, rng.standard_normal(self.output.shape)

    def pruned(self) -> Expression:
        """The same expression without the nodes its output does not depend on."""
        live = {len(self.nodes) - 1}
        for i in range(len(self.nodes) - 1, -1, -1):
            if i in live:
                live.update(self.nodes[i].args)
        if len(live) == len(self.nodes):
            return self
        keep = sorted(live)
        new_index = {old: new for new, old in enumerate(keep)}
        nodes = tuple(
            replace(self.nodes[i], args=tuple(new_index[a] for a in self.nodes[i].args))
            for i in keep
        )
        return Expression(self.engine, nodes, self.seed)

    def code(self) -> str:
        """The expression as readable code, one statement per node.

        A comment gives the shape of each tensor result and marks arguments that an
        earlier statement already used (reuse, diamonds).
        """
        lines: list[tuple[str, str]] = []
        used: set[int] = set()
        for i, node in enumerate(self.nodes):
            statement = f"t{i} = {node.statement([f't{a}' for a in node.args])}"
            notes = [] if self.engine == "scalar" or node.op == "input" else [str(node.shape)]
            reused = []
            for a in node.args:
                if a in used and f"t{a}" not in reused:
                    reused.append(f"t{a}")
                used.add(a)
            if reused:
                notes.append("reuse " + ", ".join(reused))
            lines.append((statement, "; ".join(notes)))
        width = max(len(s) for s, _ in lines)
        return "\n".join(f"{s:<{width}}  # {n}" if n else s for s, n in lines)

    def __repr__(self) -> str:
        body = "\n".join("    " + line for line in self.code().splitlines())
        last = len(self.nodes) - 1
        return f"Expression({self.engine}, seed={self.seed}):\n{body}\n    -> t{last}"

    __str__ = __repr__

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Print as code in hypothesis' reports too (it would list the fields otherwise)."""
        for i, line in enumerate(repr(self).splitlines()):
            if i:
                printer.break_()
            printer.text(line)

    def sg_function(self) -> Callable[..., Any]:
        """The expression as a function of sg inputs (Tensors or Values), for oracles."""
        table = _sg_table(self.engine)

        def fn(*leaves: Any) -> Any:
            return _interpret(self, leaves, table)[-1]

        return fn


# ---------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------
class Chooser(Protocol):
    """The source of every random decision of the generator: an integer in [low, high].

    Numpy draws them (:class:`NumpyChooser`), hypothesis draws them in
    :func:`sg_verify.strategies.expressions`, so that shrinking a failing example
    shrinks the choices: fewer nodes, earlier operators, smaller parameters.
    """

    def integer(self, low: int, high: int) -> int:
        """A uniformly chosen integer with ``low <= n <= high``."""
        ...


class NumpyChooser:
    """Integers from a numpy ``Generator``, drawn in blocks (one call per 1024 choices)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._block: list[float] = []
        self._next = 0

    def integer(self, low: int, high: int) -> int:
        """A uniformly chosen integer with ``low <= n <= high``."""
        if self._next == len(self._block):
            self._block = self.rng.random(1024).tolist()
            self._next = 0
        u = self._block[self._next]
        self._next += 1
        return min(high, low + int(u * (high - low + 1)))


def _broadcast(s1: tuple[int, ...], s2: tuple[int, ...]) -> tuple[int, ...] | None:
    """The broadcast shape of ``s1`` and ``s2``, or None if they are incompatible."""
    n = max(len(s1), len(s2))
    a, b = (1,) * (n - len(s1)) + s1, (1,) * (n - len(s2)) + s2
    out = []
    for x, y in zip(a, b):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return tuple(out)


def _matmul_shape(sa: tuple[int, ...], sb: tuple[int, ...]) -> tuple[int, ...] | None:
    """numpy's matmul result shape, or None if the operands do not fit."""
    if not sa or not sb:
        return None
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if sa[-1] != k_b:
        return None
    if len(sa) == 1 and len(sb) == 1:
        return ()
    if len(sa) == 1:
        return sb[:-2] + sb[-1:]
    if len(sb) == 1:
        return sa[:-1]
    batch = _broadcast(sa[:-2], sb[:-2])
    return None if batch is None else batch + (sa[-2], sb[-1])


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """A reduction's ``axis`` parameter as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(a % ndim for a in items))


def _times(n: int) -> Callable[[list[float]], float]:
    """The bound of a sum of ``n`` elements."""
    return lambda b: b[0] * n


class _Builder:
    """Grows one expression node by node from a :class:`Chooser`'s decisions."""

    def __init__(self, chooser: Chooser, engine: str) -> None:
        self.chooser = chooser
        self.engine = engine
        self.nodes: list[Node] = []
        self.bounds: list[float] = []
        self.used: list[bool] = []
        self.base: tuple[int, ...] = ()
        self.positive = _POSITIVE[engine]

    # -- decisions ---------------------------------------------------------------------
    def integer(self, low: int, high: int) -> int:
        return self.chooser.integer(low, high)

    def pick(self, options: Sequence[T]) -> T:
        return options[self.chooser.integer(0, len(options) - 1)]

    def one_in(self, n: int) -> bool:
        """True with probability 1/n (False is the choice a shrinker moves towards)."""
        return self.chooser.integer(0, n - 1) == n - 1

    # -- nodes -------------------------------------------------------------------------
    def shape(self, i: int) -> tuple[int, ...]:
        return self.nodes[i].shape

    def input(self, shape: tuple[int, ...]) -> int:
        self.nodes.append(Node("input", shape=shape))
        self.bounds.append(INPUT_BOUND)
        self.used.append(False)
        return len(self.nodes) - 1

    def sub_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A shape that broadcasts to ``shape``: leading axes dropped, some axes of size 1."""
        kept = shape[self.integer(0, len(shape)) :] if self.one_in(3) else shape
        return tuple(1 if self.one_in(4) else n for n in kept)

    def some_shape(self, min_ndim: int = 0) -> tuple[int, ...]:
        """A fresh input's shape: a sub-shape of the base shape with at least ``min_ndim`` axes."""
        shape = self.sub_shape(self.base)
        while len(shape) < min_ndim:
            shape = (self.integer(2, 3),) + shape
        return shape

    def arg(
        self, ok: Callable[[int], bool], fresh: Callable[[], tuple[int, ...]], first: bool = True
    ) -> int:
        """An earlier node satisfying ``ok`` (a new input of shape ``fresh()`` if none).

        A third of the time the choice is uniform over all candidates (reuse, diamonds);
        otherwise it is a candidate nothing uses yet, so that few nodes are dead: the
        latest for an operator's first argument, the earliest for the others (which
        joins separate chains).
        """
        candidates = [i for i in range(len(self.nodes)) if ok(i)]
        if not candidates:
            return self.input(fresh())
        k = self.integer(0, 3 * len(candidates) - 1)
        if k < len(candidates):
            return candidates[k]
        unused = [i for i in candidates if not self.used[i]]
        if not unused:
            return candidates[k % len(candidates)]
        return unused[-1] if first else unused[0]

    def any_arg(self, min_ndim: int = 0) -> int:
        return self.arg(
            lambda i: len(self.shape(i)) >= min_ndim, lambda: self.some_shape(min_ndim)
        )

    def fit(
        self, args: Sequence[int], kinds: Sequence[str], bound: Callable[[list[float]], float]
    ) -> tuple[tuple[Guard, ...], float]:
        """Guards keeping the result's bound at most :data:`LIMIT`.

        ``bound(b)`` is the result's bound for argument bounds ``b`` (before the guard
        transforms ``kinds``, which ``bound`` accounts for). Arguments are scaled by
        powers of two, exactly, until the bound fits.
        """
        raw = [self.bounds[i] for i in args]
        scales = [0] * len(raw)
        result = bound(raw)
        for target in (4.0, 1.0, 0.25, 0.0625):
            if result <= LIMIT:
                break
            scales = [0 if b <= target else math.ceil(math.log2(b / target)) for b in raw]
            result = bound([b * 2.0**-s for b, s in zip(raw, scales)])
        return tuple(Guard(s, k) for s, k in zip(scales, kinds)), result

    def emit(
        self,
        op: str,
        args: Sequence[int],
        guards: tuple[Guard, ...],
        out_shape: tuple[int, ...],
        out_bound: float,
        **params: Any,
    ) -> None:
        self.nodes.append(Node(op, tuple(args), params, guards, out_shape))
        self.bounds.append(out_bound)
        self.used.append(False)
        for a in args:
            self.used[a] = True

    # -- operators ---------------------------------------------------------------------
    def add(self, op: str) -> None:
        """Append one node applying ``op`` (creating inputs it needs)."""
        if op in _BINARY:
            self.binary(op)
        elif op in _REDUCTIONS:
            self.reduction(op)
        elif op in ("reshape", "transpose", "broadcast_to", "getitem", "concatenate", "pad"):
            getattr(self, op)()
        elif op == "matmul":
            self.matmul()
        elif op in ("softmax", "log_softmax"):
            self.softmax_family(op)
        else:
            self.unary(op)

    def binary(self, op: str, join: tuple[int, int] | None = None) -> None:
        """A broadcasting binary operator, on two chosen nodes or on the ``join`` pair."""
        if join is None:
            a = self.any_arg()
            sa = self.shape(a)
            distinct = op in ("maximum", "minimum")  # max(x, x) is a tie everywhere

            def ok(i: int) -> bool:
                return not (distinct and i == a) and _broadcast(self.shape(i), sa) is not None

            b = self.arg(ok, lambda: self.sub_shape(sa), first=False)
        else:
            a, b = join
            sa = self.shape(a)
        shape = _broadcast(sa, self.shape(b))
        assert shape is not None
        kinds = ["", ""]
        if op == "div":
            kinds[1] = self.pick(self.positive)
        elif op == "pow":
            kinds[0] = self.pick(self.positive)
        params: dict[str, Any] = {}
        if op == "where":
            mask_shape = self.sub_shape(shape)
            bits = tuple(self.one_in(2) for _ in range(math.prod(mask_shape)))
            params["mask"] = Mask(mask_shape, bits)

        def bound(b: list[float]) -> float:
            if op in ("add", "sub"):
                return b[0] + b[1]
            if op == "mul":
                return b[0] * b[1]
            if op == "div":
                return b[0] / _positive_range(kinds[1], b[1])[0]
            if op == "pow":
                low, high = _positive_range(kinds[0], b[0])
                return float(max(high, 1 / low) ** b[1])
            return max(b)

        guards, result = self.fit([a, b], kinds, bound)
        self.emit(op, [a, b], guards, shape, result, **params)

    def unary(self, op: str) -> None:
        """An elementwise function; log, sqrt and fractional powers get a positive guard."""
        a = self.any_arg()
        kind = ""
        params: dict[str, Any] = {}
        if op in ("log", "sqrt"):
            kind = self.pick(self.positive)
        elif op in ("pow_scalar", "pow_const"):
            p = self.pick((2, 3, 0.5, -1, 1.5, -1.5, 0))
            params["p"] = p
            if not isinstance(p, int) or p < 0:
                kind = self.pick(self.positive)
        elif op == "leaky_relu":
            params["slope"] = self.pick((0.01, 0.1, 0.2))
        elif op == "gelu":
            params["approximate"] = self.pick(("none", "tanh"))
        elif op == "softplus":
            params["beta"] = self.pick((1.0, 2.0, 0.5))
            params["threshold"] = self.pick((20.0, 1.0, 2.5))
        elif op == "clip":
            params["min"], params["max"] = self.pick(
                ((-0.5, 0.5), (0.2, None), (None, 1.0), (-1.0, 0.25))
            )

        def bound(b: list[float]) -> float:
            x = b[0]
            if op == "exp":
                return math.exp(x)
            if op == "log":
                low, high = _positive_range(kind, x)
                return max(-math.log(low), math.log(high))
            if op == "sqrt":
                return math.sqrt(_positive_range(kind, x)[1])
            if op in ("pow_scalar", "pow_const"):
                p = float(params["p"])
                if kind:
                    low, high = _positive_range(kind, x)
                    return max(math.pow(low, p), math.pow(high, p))
                return math.pow(x, p)
            if op in ("sin", "cos", "tanh", "sigmoid"):
                return 1.0
            if op == "softplus":
                return x + math.log(2.0) / float(params["beta"])
            if op == "clip":  # inside [min, max]; one-sided, as far out as x on the other
                low, high = params["min"], params["max"]
                if low is not None and high is not None:
                    return max(abs(float(low)), abs(float(high)))
                return max(x, abs(float(high if low is None else low)))
            return x  # neg abs relu leaky_relu gelu astype: |f(x)| <= |x|

        guards, result = self.fit([a], [kind], bound)
        self.emit(op, [a], guards, self.shape(a), result, **params)

    def reduction(self, op: str) -> None:
        """A reduction over all axes, one (maybe negative) or two, with or without keepdims."""
        a = self.any_arg()
        shape = self.shape(a)
        nd = len(shape)
        axis: Any = None
        if nd and not self.one_in(4):
            if nd >= 2 and self.one_in(3):
                first = self.integer(0, nd - 2)
                axis = (first, self.integer(first + 1, nd - 1))
            else:
                axis = self.integer(-nd, nd - 1)
        keepdims = self.one_in(2)
        axes = _axes(axis, nd)
        count = math.prod(shape[i] for i in axes)
        params: dict[str, Any] = {"axis": axis, "keepdims": keepdims}
        if op == "var":
            params["ddof"] = self.integer(0, 1) if count >= 2 else 0
        if keepdims:
            out = tuple(1 if i in axes else n for i, n in enumerate(shape))
        else:
            out = tuple(n for i, n in enumerate(shape) if i not in axes)

        def bound(b: list[float]) -> float:
            if op == "sum":
                return b[0] * count
            if op == "var":
                return 2 * b[0] * b[0]
            if op == "logsumexp":
                return b[0] + math.log(count)
            return b[0]

        guards, result = self.fit([a], [""], bound)
        self.emit(op, [a], guards, out, result, **params)

    def join(self, ops: Sequence[str]) -> None:
        """Combine the dead ends (results nothing uses) with binary operators from ``ops``.

        Without this, a branch that no later node consumes would be pruned away; joining
        keeps every generated operator in the graph. Two shapes that do not broadcast
        are joined after summing one of them to a scalar (when ``sum`` is allowed).
        """
        binary = [op for op in ops if op in _BINARY]
        if not binary:
            return
        while True:
            ends = [i for i, n in enumerate(self.nodes) if n.op != "input" and not self.used[i]]
            if len(ends) < 2:
                return
            a, b = ends[-1], ends[-2]
            if _broadcast(self.shape(a), self.shape(b)) is None:
                if "sum" not in ops:
                    return
                guards, bound = self.fit([b], [""], _times(math.prod(self.shape(b))))
                self.emit("sum", [b], guards, (), bound, axis=None, keepdims=False)
                b = len(self.nodes) - 1
            self.binary(self.pick(binary), (a, b))

    def reshape(self) -> None:
        """A random factorisation of the size (maybe with a 1, maybe spelled with -1)."""
        a = self.any_arg()
        rest = math.prod(self.shape(a))
        dims: list[int] = []
        while rest > 1 and len(dims) < 3:
            d = self.pick([d for d in range(2, rest + 1) if rest % d == 0])
            dims.append(d)
            rest //= d
        if rest > 1:
            dims.append(rest)
        if self.one_in(4):
            dims.insert(self.integer(0, len(dims)), 1)
        target = tuple(dims)
        given = target
        if target and self.one_in(4):
            j = self.integer(0, len(target) - 1)
            given = target[:j] + (-1,) + target[j + 1 :]
        self.emit("reshape", [a], (NO_GUARD,), target, self.bounds[a], shape=given)

    def transpose(self) -> None:
        """A random permutation of the axes, never the identity."""
        a = self.any_arg(min_ndim=2)
        axes = list(range(len(self.shape(a))))
        for i in range(len(axes) - 1, 0, -1):  # Fisher-Yates
            j = self.integer(0, i)
            axes[i], axes[j] = axes[j], axes[i]
        if axes == sorted(axes):  # not the identity
            axes = axes[1:] + axes[:1]
        shape = tuple(self.shape(a)[i] for i in axes)
        self.emit("transpose", [a], (NO_GUARD,), shape, self.bounds[a], axes=tuple(axes))

    def broadcast_to(self) -> None:
        """Size-1 axes stretched and/or a leading axis added."""
        a = self.any_arg()
        shape = self.shape(a)
        target = tuple(self.integer(2, 3) if n == 1 and self.one_in(2) else n for n in shape)
        if target == shape or self.one_in(3):
            target = (self.integer(2, 3),) + target
        if math.prod(target) > MAX_SIZE:
            target = (1,) + shape
        self.emit("broadcast_to", [a], (NO_GUARD,), target, self.bounds[a], shape=target)

    def getitem(self) -> None:
        """Basic indexing (ints, slices with steps, None, ...) or one integer array."""
        a = self.any_arg(min_ndim=1)
        shape = self.shape(a)
        index: list[Any] = []
        if self.one_in(3):  # one integer array (repeats allowed) after full slices
            axis = self.integer(0, len(shape) - 1)
            n = shape[axis]
            index = [slice(None)] * axis
            length = self.integer(1, 4)
            index.append(IndexArray(tuple(self.integer(-n, n - 1) for _ in range(length))))
        else:
            for n in shape[: self.integer(1, len(shape))]:
                kind = self.integer(0, 3)
                if kind == 0:
                    index.append(self.integer(-n, n - 1))
                elif kind == 1:
                    index.append(slice(None))
                else:
                    start = self.integer(0, n - 1)
                    stop = self.integer(start + 1, n)
                    step = self.integer(1, 2) if kind == 3 else None
                    index.append(slice(start or None, stop, step))
            if self.one_in(4):
                index.insert(self.integer(0, len(index)), None)
            if len(index) < len(shape) and self.one_in(4):
                index.append(Ellipsis)
        out = np.empty(shape)[_numpy_index(tuple(index))].shape
        self.emit("getitem", [a], (NO_GUARD,), out, self.bounds[a], index=tuple(index))

    def concatenate(self) -> None:
        """Two or three nodes (possibly the same one) joined along an axis."""
        a = self.any_arg(min_ndim=1)
        shape = self.shape(a)
        nd = len(shape)
        axis = self.integer(0, nd - 1)

        def ok(i: int) -> bool:
            s = self.shape(i)
            return len(s) == nd and all(
                x == y for j, (x, y) in enumerate(zip(s, shape)) if j != axis
            )

        def fresh() -> tuple[int, ...]:
            return shape[:axis] + (self.integer(1, 3),) + shape[axis + 1 :]

        args = [a] + [self.arg(ok, fresh, first=False) for _ in range(self.integer(1, 2))]
        total = sum(self.shape(i)[axis] for i in args)
        out = shape[:axis] + (total,) + shape[axis + 1 :]
        printed_axis = axis - nd if self.one_in(3) else axis
        bound = max(self.bounds[i] for i in args)
        guards = (NO_GUARD,) * len(args)
        self.emit("concatenate", args, guards, out, bound, axis=printed_axis)

    def pad(self) -> None:
        """Constant padding of 0-2 before and 0-1 after each axis."""
        a = self.any_arg(min_ndim=1)
        shape = self.shape(a)
        widths = [(self.integer(0, 2), self.integer(0, 1)) for _ in shape]
        if not any(b or e for b, e in widths):
            widths[0] = (1, 0)
        value = self.pick((0.0, 0.5, -1.0))
        out = tuple(n + b + e for n, (b, e) in zip(shape, widths))
        bound = max(self.bounds[a], abs(value))
        self.emit("pad", [a], (NO_GUARD,), out, bound, widths=tuple(widths), value=value)

    def matmul(self) -> None:
        """numpy semantics: 1-D operands and broadcast batch axes included."""
        a = self.any_arg(min_ndim=1)
        sa = self.shape(a)
        k = sa[-1]

        def ok(i: int) -> bool:
            return _matmul_shape(sa, self.shape(i)) is not None

        def fresh() -> tuple[int, ...]:
            m = self.integer(2, 3)
            shape = self.pick(((k,), (k, m), (1, k, m), (2, k, m)))
            return shape if _matmul_shape(sa, shape) is not None else (k, m)

        b = self.arg(ok, fresh, first=False)
        shape = _matmul_shape(sa, self.shape(b))
        assert shape is not None
        guards, result = self.fit([a, b], ["", ""], lambda x: x[0] * x[1] * k)
        self.emit("matmul", [a, b], guards, shape, result)

    def softmax_family(self, op: str) -> None:
        """``softmax`` or ``log_softmax`` along a random axis."""
        a = self.any_arg(min_ndim=1)
        shape = self.shape(a)
        axis = self.integer(-len(shape), len(shape) - 1)
        n = shape[axis]
        if op == "softmax":
            self.emit(op, [a], (NO_GUARD,), shape, 1.0, axis=axis)
            return
        guards, result = self.fit([a], [""], lambda b: 2 * b[0] + math.log(n))
        self.emit(op, [a], guards, shape, result, axis=axis)


def build_expression(
    chooser: Chooser,
    engine: str = "tensor",
    *,
    max_ops: int = 6,
    min_ops: int = 1,
    ops: Sequence[str] | None = None,
    reference_only: bool = False,
) -> Expression:
    """Build one expression from ``chooser``'s decisions (the shared core of generation).

    The decisions, in order: the base shape (rank 0-3, sizes 2-3; scalars for the scalar
    engine), 1-3 inputs whose shapes broadcast to it, the value seed, then for each of
    ``min_ops`` to ``max_ops`` operator nodes (after ``min_ops``, each further one with
    probability 3/4) its operator (from ``ops``, by default every operator of the engine,
    or only the reference system's with ``reference_only``), arguments and parameters.
    Dead ends are joined by binary operators, and the result is pruned to the nodes the
    output depends on.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be 'tensor' or 'scalar', got {engine!r}")
    if ops is None:
        ops = REFERENCE_ONLY_OPS[engine] if reference_only else OPS[engine]
    unknown = set(ops) - set(OPS[engine])
    if unknown:
        raise ValueError(f"not operators of the {engine} engine: {sorted(unknown)}")
    b = _Builder(chooser, engine)
    if engine == "tensor":
        b.base = tuple(b.integer(2, 3) for _ in range(b.pick((0, 1, 2, 3, 2, 3))))
    for _ in range(b.integer(1, 3)):
        b.input(b.sub_shape(b.base))
    seed = b.integer(0, 2**31 - 1)
    for count in range(max_ops):
        # after min_ops, stop with probability 1/4 (the choice a shrinker moves towards,
        # deleting one node's block of decisions at a time)
        if count >= min_ops and b.integer(0, 3) == 0:
            break
        b.add(b.pick(ops))
    b.join(ops)
    return Expression(engine, tuple(b.nodes), seed).pruned()


def generate(
    rng: np.random.Generator,
    engine: str = "tensor",
    *,
    reference_only: bool = False,
    min_ops: int = 2,
    max_ops: int = 7,
    ops: Sequence[str] | None = None,
) -> Expression:
    """A random expression drawn from ``rng`` (see :func:`build_expression`)."""
    return build_expression(
        NumpyChooser(rng),
        engine,
        min_ops=min_ops,
        max_ops=max_ops,
        ops=ops,
        reference_only=reference_only,
    )


# ---------------------------------------------------------------------------------------
# The interpreters
# ---------------------------------------------------------------------------------------
Impl = Callable[[list[Any], dict[str, Any]], Any]


def _numpy_index(index: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(np.array(i.values) if isinstance(i, IndexArray) else i for i in index)


def _guarded(x: Any, guard: Guard, softplus: Callable[[Any], Any]) -> Any:
    """Apply ``guard`` to ``x`` (a Tensor, a Value or a torch tensor)."""
    if guard.scale:
        x = x * 2.0**-guard.scale
    kind = guard.kind
    if kind == "":
        return x
    if kind == "softplus":
        return softplus(x) + 0.5
    if kind == "square":
        return x * x + 0.5
    if kind == "exp_tanh":
        return x.tanh().exp()
    if kind == "sigmoid":
        return x.sigmoid() + 0.5
    raise ValueError(f"unknown guard {kind!r}")


def _interpret(
    expr: Expression,
    leaves: Sequence[Any],
    table: tuple[dict[str, Impl], Callable[[Any], Any]],
    watch: Callable[[Node, list[Any], Any], None] | None = None,
) -> list[Any]:
    """Every node's value, the inputs being ``leaves`` (in order)."""
    impls, softplus = table
    values: list[Any] = []
    next_leaf = iter(leaves)
    for node in expr.nodes:
        if node.op == "input":
            values.append(next(next_leaf))
            continue
        args = [
            _guarded(values[i], g, softplus) if g.scale or g.kind else values[i]
            for i, g in zip(node.args, node.guards)
        ]
        out = impls[node.op](args, node.params)
        if watch is not None:
            watch(node, args, out)
        values.append(out)
    return values


def _common_impls() -> dict[str, Impl]:
    """Operators spelled the same way on Tensors, Values and torch tensors."""
    return {
        "add": lambda a, p: a[0] + a[1],
        "sub": lambda a, p: a[0] - a[1],
        "mul": lambda a, p: a[0] * a[1],
        "div": lambda a, p: a[0] / a[1],
        "pow": lambda a, p: a[0] ** a[1],
        "pow_scalar": lambda a, p: a[0] ** p["p"],
        "pow_const": lambda a, p: a[0] ** p["p"],
        "neg": lambda a, p: -a[0],
        "matmul": lambda a, p: a[0] @ a[1],
        **{name: _method(name) for name in _METHODS},
    }


_METHODS = ("exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu")


def _method(name: str) -> Impl:
    """``x.name()``: the unary functions every engine spells as a method."""

    def impl(a: list[Any], p: dict[str, Any]) -> Any:
        return getattr(a[0], name)()

    return impl


_TABLES: dict[tuple[str, str], tuple[dict[str, Impl], Callable[[Any], Any]]] = {}


def _sg_table(engine: str) -> tuple[dict[str, Impl], Callable[[Any], Any]]:
    key = ("sg", engine)
    if key in _TABLES:
        return _TABLES[key]
    impls = _common_impls()
    if engine == "scalar":
        impls["maximum"] = lambda a, p: a[0].maximum(a[1])
        impls["minimum"] = lambda a, p: a[0].minimum(a[1])
    else:
        impls.update(
            {
                "maximum": lambda a, p: st.maximum(a[0], a[1]),
                "minimum": lambda a, p: st.minimum(a[0], a[1]),
                "where": lambda a, p: st.where(p["mask"].array(), a[0], a[1]),
                "leaky_relu": lambda a, p: a[0].leaky_relu(p["slope"]),
                "gelu": lambda a, p: a[0].gelu(p["approximate"]),
                "softplus": lambda a, p: a[0].softplus(p["beta"], p["threshold"]),
                "clip": lambda a, p: a[0].clip(p["min"], p["max"]),
                "sum": lambda a, p: a[0].sum(p["axis"], p["keepdims"]),
                "mean": lambda a, p: a[0].mean(p["axis"], p["keepdims"]),
                "max": lambda a, p: a[0].max(p["axis"], p["keepdims"]),
                "min": lambda a, p: a[0].min(p["axis"], p["keepdims"]),
                "var": lambda a, p: a[0].var(p["axis"], p["keepdims"], p["ddof"]),
                "logsumexp": lambda a, p: a[0].logsumexp(p["axis"], p["keepdims"]),
                "reshape": lambda a, p: a[0].reshape(p["shape"]),
                "transpose": lambda a, p: a[0].transpose(*p["axes"]),
                "broadcast_to": lambda a, p: a[0].broadcast_to(p["shape"]),
                "getitem": lambda a, p: a[0][_numpy_index(p["index"])],
                "concatenate": lambda a, p: st.concatenate(a, axis=p["axis"]),
                "pad": lambda a, p: st.pad(a[0], p["widths"], value=p["value"]),
                "softmax": lambda a, p: a[0].softmax(p["axis"]),
                "log_softmax": lambda a, p: a[0].log_softmax(p["axis"]),
                "astype": lambda a, p: a[0].astype(np.float32).astype(np.float64),
            }
        )
    _TABLES[key] = (impls, lambda x: x.softplus())
    return _TABLES[key]


def _torch_table(engine: str) -> tuple[dict[str, Impl], Callable[[Any], Any]]:
    key = ("torch", engine)
    if key in _TABLES:
        return _TABLES[key]
    torch = require_torch()
    F = torch.nn.functional

    def reduce(
        with_dims: Callable[[Any, tuple[int, ...], bool], Any], whole: Callable[[Any], Any]
    ) -> Impl:
        def impl(a: list[Any], p: dict[str, Any]) -> Any:
            x = a[0]
            if x.ndim == 0:
                return whole(x)
            return with_dims(x, _axes(p["axis"], x.ndim), p["keepdims"])

        return impl

    def flat_pad(widths: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
        return tuple(w for pair in reversed(widths) for w in pair)

    def torch_index(index: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(torch.tensor(i.values) if isinstance(i, IndexArray) else i for i in index)

    impls = _common_impls()
    impls.update(
        {
            "maximum": lambda a, p: torch.maximum(a[0], a[1]),
            "minimum": lambda a, p: torch.minimum(a[0], a[1]),
            "where": lambda a, p: torch.where(torch.from_numpy(p["mask"].array()), a[0], a[1]),
            "leaky_relu": lambda a, p: F.leaky_relu(a[0], p["slope"]),
            "gelu": lambda a, p: F.gelu(a[0], approximate=p["approximate"]),
            "softplus": lambda a, p: F.softplus(a[0], p["beta"], p["threshold"]),
            "clip": lambda a, p: a[0].clamp(p["min"], p["max"]),
            "sum": reduce(lambda x, d, k: x.sum(dim=d, keepdim=k), lambda x: x.sum()),
            "mean": reduce(lambda x, d, k: x.mean(dim=d, keepdim=k), lambda x: x.mean()),
            "max": reduce(lambda x, d, k: torch.amax(x, dim=d, keepdim=k), torch.amax),
            "min": reduce(lambda x, d, k: torch.amin(x, dim=d, keepdim=k), torch.amin),
            "var": lambda a, p: reduce(
                lambda x, d, k: torch.var(x, dim=d, correction=p["ddof"], keepdim=k),
                lambda x: torch.var(x, correction=p["ddof"]),
            )(a, p),
            "logsumexp": reduce(
                lambda x, d, k: torch.logsumexp(x, dim=d, keepdim=k),
                lambda x: torch.logsumexp(x, dim=()),
            ),
            "reshape": lambda a, p: a[0].reshape(p["shape"]),
            "transpose": lambda a, p: a[0].permute(*p["axes"]),
            "broadcast_to": lambda a, p: a[0].broadcast_to(p["shape"]),
            "getitem": lambda a, p: a[0][torch_index(p["index"])],
            "concatenate": lambda a, p: torch.cat(a, dim=p["axis"]),
            "pad": lambda a, p: F.pad(a[0], flat_pad(p["widths"]), value=p["value"]),
            "softmax": lambda a, p: a[0].softmax(p["axis"]),
            "log_softmax": lambda a, p: a[0].log_softmax(p["axis"]),
            "astype": lambda a, p: a[0].float().double(),
        }
    )
    _TABLES[key] = (impls, F.softplus)
    return _TABLES[key]


def _margin(node: Node, args: list[Any], out: Any) -> float:
    """The distance of ``node``'s arguments from its kinks and ties (inf if it has none)."""
    op, p = node.op, node.params
    xs = [np.asarray(x.data) for x in args]
    x = xs[0]
    if op in ("relu", "abs", "leaky_relu"):
        return float(np.min(np.abs(x)))
    if op in ("maximum", "minimum"):
        return float(np.min(np.abs(x - xs[1])))
    if op == "clip":
        return min(float(np.min(np.abs(x - v))) for v in (p["min"], p["max"]) if v is not None)
    if op == "softplus":
        return float(np.min(np.abs(x * p["beta"] - p["threshold"])))
    if op in ("max", "min"):
        axes = _axes(p["axis"], x.ndim)
        extreme = np.asarray(out.data)
        if not p["keepdims"]:
            extreme = extreme.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)))
        gap = np.abs(x - extreme)
        if np.any(np.sum(gap == 0, axis=axes) != 1):
            return 0.0
        if math.prod(x.shape[i] for i in axes) == 1:
            return math.inf
        return float(np.min(np.where(gap == 0, np.inf, gap)))
    return math.inf


def sg_values(expr: Expression, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The value of every node in sg (no gradients), for inspection and tests."""
    with no_grad():
        if expr.engine == "scalar":
            leaves: list[Any] = [Value(float(a)) for a in arrays]
        else:
            leaves = [st.Tensor(np.array(a, dtype=np.float64)) for a in arrays]
        values = _interpret(expr, leaves, _sg_table(expr.engine))
    return [np.asarray(v.data, dtype=np.float64) for v in values]


@dataclass
class VJPResult:
    """One engine's output and input gradients for an expression."""

    output: np.ndarray
    grads: list[np.ndarray]
    margin: float = math.inf  # distance to the nearest kink or tie (sg only)


def sg_vjp(expr: Expression, arrays: Sequence[np.ndarray], cotangent: np.ndarray) -> VJPResult:
    """sg's output and the gradients of ``sum(output * cotangent)``, with the kink margin."""
    margin = [math.inf]

    def watch(node: Node, args: list[Any], out: Any) -> None:
        if node.op in _KINKED:
            margin[0] = min(margin[0], _margin(node, args, out))

    if expr.engine == "scalar":
        values = [Value(float(a)) for a in arrays]
        out = _interpret(expr, values, _sg_table("scalar"), watch)[-1]
        out.backward(float(cotangent))
        grads = [np.asarray(v.grad, dtype=np.float64) for v in values]
        return VJPResult(np.asarray(out.data), grads, margin[0])
    tensors = [st.Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = _interpret(expr, tensors, _sg_table("tensor"), watch)[-1]
    out.backward(cotangent)
    grads = [np.zeros(t.shape) if t.grad is None else np.asarray(t.grad) for t in tensors]
    return VJPResult(np.asarray(out.data), grads, margin[0])


def torch_vjp(expr: Expression, arrays: Sequence[np.ndarray], cotangent: np.ndarray) -> VJPResult:
    """PyTorch's float64 output and the gradients of ``sum(output * cotangent)``."""
    torch = require_torch()
    # from_numpy shares the (float64) arrays: neither engine writes into its inputs
    leaves = [torch.from_numpy(_float64(a)).requires_grad_() for a in arrays]
    out = _interpret(expr, leaves, _torch_table(expr.engine))[-1]
    out.backward(torch.from_numpy(_float64(cotangent)))
    grads = [
        np.zeros(np.shape(a)) if x.grad is None else x.grad.numpy() for a, x in zip(arrays, leaves)
    ]
    return VJPResult(out.detach().numpy(), grads)


def _float64(a: Any) -> np.ndarray:
    array: np.ndarray = np.asarray(a, dtype=np.float64)
    return array if array.flags.c_contiguous else array.copy()


@dataclass
class Comparison:
    """sg against PyTorch on one expression: scale-aware differences."""

    worst: float  # the largest difference over the output and every input gradient
    forward: float  # the output's largest difference
    margin: float  # distance to the nearest kink or tie
    finite: bool  # whether PyTorch's output and gradients are all finite


def compare(expr: Expression) -> Comparison:
    """Evaluate ``expr`` in sg and PyTorch on the same inputs and cotangent, and compare."""
    arrays, cotangent = expr.draw()
    try:
        mine = sg_vjp(expr, arrays, cotangent)
    except Exception as error:
        raise RuntimeError(f"sg failed on\n{expr}\n{type(error).__name__}: {error}") from error
    theirs = torch_vjp(expr, arrays, cotangent)
    return _compare(mine, theirs)


def _compare(mine: VJPResult, theirs: VJPResult) -> Comparison:
    """The scale-aware differences, computed once over all the arrays laid end to end."""
    finite = bool(np.all(np.isfinite(theirs.output))) and all(
        bool(np.all(np.isfinite(t))) for t in theirs.grads
    )
    shapes = [a.shape for a in (mine.output, *mine.grads)]
    if shapes != [a.shape for a in (theirs.output, *theirs.grads)]:
        return Comparison(math.inf, math.inf, mine.margin, finite)
    diff = scale_aware(
        np.concatenate([np.ravel(a) for a in (mine.output, *mine.grads)]),
        np.concatenate([np.ravel(a) for a in (theirs.output, *theirs.grads)]),
    )
    size = mine.output.size
    forward = float(np.max(diff[:size], initial=0.0))
    return Comparison(float(np.max(diff, initial=0.0)), forward, mine.margin, finite)


# ---------------------------------------------------------------------------------------
# The parity run
# ---------------------------------------------------------------------------------------
@dataclass
class ParityResult:
    """The outcome of :func:`run_parity`: differences per expression and per operator."""

    engine: str
    reference_only: bool
    seed: int
    differences: np.ndarray  # the worst difference of each expression (for a histogram)
    forward: np.ndarray  # the output's difference of each expression
    op_counts: dict[str, int]  # nodes per operator over the whole population
    op_worst: dict[str, float]  # worst difference of the expressions using each operator
    worst_expression: str
    redrawn: int  # expressions redrawn for being within MARGIN of a kink or a tie
    nonfinite: int  # expressions where PyTorch gave inf or nan somewhere
    seconds: float
    nodes: int  # operator nodes in the population

    @property
    def n(self) -> int:
        """The number of expressions compared."""
        return int(self.differences.size)

    @property
    def worst(self) -> float:
        """The largest difference over every expression."""
        return float(np.max(self.differences, initial=0.0))

    @property
    def median(self) -> float:
        """The median of the per-expression worst differences."""
        return float(np.median(self.differences)) if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary, with the per-expression differences as a list."""
        return {
            "engine": self.engine,
            "reference_only": self.reference_only,
            "seed": self.seed,
            "count": self.n,
            "operator_nodes": self.nodes,
            "worst": self.worst,
            "median": self.median,
            "p99": float(np.quantile(self.differences, 0.99)) if self.n else 0.0,
            "forward_worst": float(np.max(self.forward, initial=0.0)),
            "exact_fraction": float(np.mean(self.differences == 0)) if self.n else 0.0,
            "per_operator": {
                op: {"nodes": self.op_counts[op], "worst": self.op_worst[op]}
                for op in self.op_counts
            },
            "worst_expression": self.worst_expression,
            "redrawn": self.redrawn,
            "nonfinite": self.nonfinite,
            "seconds": self.seconds,
            "per_expression": self.differences.tolist(),
        }

    def summary(self) -> str:
        """A table a person can read: totals, then one line per operator."""
        mode = "reference-only" if self.reference_only else "all operators"
        lines = [
            f"{self.engine} engine, {mode}: {self.n} expressions ({self.nodes} operator "
            f"nodes) in {self.seconds:.1f} s; worst {self.worst:.3e}, median "
            f"{self.median:.3e}; {self.redrawn} redrawn near a kink, {self.nonfinite} "
            "non-finite",
            f"  {'operator':<13} {'nodes':>6}  worst",
        ]
        for op in sorted(self.op_counts):
            lines.append(f"  {op:<13} {self.op_counts[op]:>6}  {self.op_worst[op]:.3e}")
        lines.append("  worst expression:")
        lines.extend("    " + line for line in self.worst_expression.splitlines())
        return "\n".join(lines)


def run_parity(
    engine: str,
    n: int,
    seed: int,
    reference_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
    *,
    min_ops: int = 2,
    max_ops: int = 7,
) -> ParityResult:
    """Compare sg with PyTorch (float64) on ``n`` random expressions of ``engine``.

    Each expression gets inputs and an output cotangent drawn from its seed, identical
    float64 arrays for both engines; the output and every input gradient are compared
    with the scale-aware difference. An expression whose values come within
    :data:`MARGIN` of a kink or tie is redrawn (and counted). ``progress(done, n)`` is
    called about a hundred times along the way.

    PyTorch runs single-threaded meanwhile (its previous setting is restored): on
    tensors this small, threads only add synchronisation, several times the work.
    """
    torch = require_torch()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_parity(engine, n, seed, reference_only, progress, min_ops, max_ops)
    finally:
        torch.set_num_threads(threads)


def _run_parity(
    engine: str,
    n: int,
    seed: int,
    reference_only: bool,
    progress: Callable[[int, int], None] | None,
    min_ops: int,
    max_ops: int,
) -> ParityResult:
    rng = np.random.default_rng(seed)
    chooser = NumpyChooser(rng)
    ops = REFERENCE_ONLY_OPS[engine] if reference_only else OPS[engine]
    differences = np.zeros(n)
    forward = np.zeros(n)
    op_counts: Counter[str] = Counter(dict.fromkeys(ops, 0))
    op_worst = dict.fromkeys(ops, 0.0)
    worst, worst_expression = -1.0, ""
    redrawn = nonfinite = nodes = 0
    step = max(1, n // 100)
    start = time.perf_counter()
    for k in range(n):
        while True:
            expr = build_expression(chooser, engine, min_ops=min_ops, max_ops=max_ops, ops=ops)
            arrays, cotangent = expr.draw()
            try:
                mine = sg_vjp(expr, arrays, cotangent)
            except Exception as error:
                raise RuntimeError(
                    f"sg failed on\n{expr}\n{type(error).__name__}: {error}"
                ) from error
            if mine.margin >= MARGIN:
                break
            redrawn += 1
        result = _compare(mine, torch_vjp(expr, arrays, cotangent))
        differences[k], forward[k] = result.worst, result.forward
        nonfinite += not result.finite
        used = expr.ops()
        nodes += len(used)
        op_counts.update(used)
        for op in set(used):
            op_worst[op] = max(op_worst[op], result.worst)
        if result.worst > worst:
            worst, worst_expression = result.worst, repr(expr)
        if progress is not None and ((k + 1) % step == 0 or k + 1 == n):
            progress(k + 1, n)
    return ParityResult(
        engine=engine,
        reference_only=reference_only,
        seed=seed,
        differences=differences,
        forward=forward,
        op_counts=dict(op_counts),
        op_worst=op_worst,
        worst_expression=worst_expression,
        redrawn=redrawn,
        nonfinite=nonfinite,
        seconds=time.perf_counter() - start,
        nodes=nodes,
    )
