"""The expression IR: the operator lists, guards, and the SSA nodes of an :class:`Expression`.

An expression is a tuple of :class:`Node` statements for one engine; the last one is the
output. An argument may be *guarded* (:class:`Guard`): scaled by a power of two and/or
passed through a positive transform that puts it in the operator's domain. An
expression prints as readable code (:meth:`Expression.code`) and draws its own input
values and output cotangent from its seed (:meth:`Expression.draw`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from sg_scalar.declare import Declaration
from sg_verify.registry import REFERENCE_OPS, declarations

ENGINES = ("tensor", "scalar")

# How the builder grows a node of each signature; an operator whose signature is not here
# is left out of random expressions (and the test of the tables says so).
SIGNATURES = (
    "binary", "where", "unary", "reduction", "axis", "reshape", "transpose", "broadcast_to",
    "getitem", "concatenate", "pad", "matmul", "linear", "astype", "norm", "conv", "pool",
    "batch_norm",
)  # fmt: skip


def _operators(engine: str) -> dict[str, Declaration]:
    """The operators random expressions use: every public one with a rule, simplest
    signature first (a shrinking hypothesis search prefers early entries)."""
    found = [
        d
        for d in declarations(engine)
        if d.op is not None and d.public and d.signature in SIGNATURES
    ]
    found.sort(key=lambda d: SIGNATURES.index(d.signature))
    return {d.name: d for d in found}


DECLARED: dict[str, dict[str, Declaration]] = {e: _operators(e) for e in ENGINES}
"""Each engine's expression operators, by name, with their declarations."""
OPS: dict[str, tuple[str, ...]] = {e: tuple(DECLARED[e]) for e in ENGINES}
"""The operator names of each engine, simplest first."""
ADJOINT_OPS: dict[str, tuple[str, ...]] = {
    e: tuple(d.name for d in declarations(e) if d.op is not None and not d.public) for e in ENGINES
}
"""Operators only rules call (``scatter`` is what ``getitem``'s rule runs, so that it works
on nodes): no public call makes them, so no expression does either; the registry checks
them directly."""
REFERENCE_ONLY_OPS: dict[str, tuple[str, ...]] = {
    e: tuple(op for op in OPS[e] if op in REFERENCE_OPS) for e in ENGINES
}
"""The operators of the reference system, as each engine has them."""

INPUT_BOUND = 2.0  # inputs are drawn uniformly from [-2, 2]
LIMIT = 16.0  # every node's |value| stays below this bound (by construction)
MARGIN = 1e-6  # the parity run redraws expressions closer than this to a kink or a tie
MAX_SIZE = 96  # broadcast_to makes no node larger than this


class Transform(NamedTuple):
    """A positive transform that puts an argument in its domain: how it prints, how it
    applies (``apply(x, softplus)``), and its range for an argument with ``|x| <= b``."""

    code: str
    apply: Callable[[Any, Callable[[Any], Any]], Any]
    range: Callable[[float], tuple[float, float]]


TRANSFORMS: dict[str, Transform] = {
    "softplus": Transform("softplus({x}) + 0.5", lambda x, softplus: softplus(x) + 0.5,
                          lambda b: (0.5, b + 1.2)),  # softplus(x) <= max(x, 0) + log 2
    "square": Transform("{y} * {y} + 0.5", lambda x, softplus: x * x + 0.5,
                        lambda b: (0.5, b * b + 0.5)),
    "exp_tanh": Transform("exp(tanh({x}))", lambda x, softplus: x.tanh().exp(),
                          lambda b: (math.exp(-1.0), math.e)),
    "sigmoid": Transform("sigmoid({x}) + 0.5", lambda x, softplus: x.sigmoid() + 0.5,
                         lambda b: (0.5, 1.5)),
}  # fmt: skip
_POSITIVE = {"tensor": tuple(TRANSFORMS), "scalar": ("square", "exp_tanh", "sigmoid")}
"""The transforms each engine's guards use (softplus is a tensor operator only)."""


def positive_range(kind: str, b: float) -> tuple[float, float]:
    """The interval of the positive transform ``kind`` of a value with ``|x| <= b``."""
    return TRANSFORMS[kind].range(b)


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
        return TRANSFORMS[self.kind].code.format(x=x, y=_paren(x)) if self.kind else x

    def apply(self, x: Any, softplus: Callable[[Any], Any]) -> Any:
        """The guarded argument: ``x`` a Tensor, a Value or a torch tensor."""
        if self.scale:
            x = x * 2.0**-self.scale
        return TRANSFORMS[self.kind].apply(x, softplus) if self.kind else x


NO_GUARD = Guard()


@dataclass(frozen=True)
class IndexArray:
    """An integer array inside an index (``x[:, [0, 0, 2]]``); repeats are allowed."""

    values: tuple[int, ...]

    def __repr__(self) -> str:
        return repr(list(self.values))


def _numpy_index(index: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(np.array(i.values) if isinstance(i, IndexArray) else i for i in index)


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

    def statement(self, names: Sequence[str], engine: str = "tensor") -> str:
        """The right-hand side as code, given the printed names of the arguments."""
        if self.op == "input":
            return f"input({', '.join(map(str, self.shape))})"
        a = [g.text(n) for g, n in zip(self.guards, names)]
        p = self.params
        form = DECLARED[engine][self.op].forms[0]
        if form.kind == "operator" and form.name == "[]":
            return f"{_paren(a[0])}[{', '.join(_index_text(i) for i in p['index'])}]"
        if form.kind == "operator" and form.name == "-x":
            return f"-{_paren(a[0])}"
        if form.kind == "operator" and len(a) == 2:
            return f"{_paren(a[0])} {form.name} {_paren(a[1])}"
        if form.kind == "operator" and form.name == "**":
            return f"{_paren(a[0])} ** {p['p']!r}"
        if self.op == "astype":
            return f"{_paren(a[0])}.astype({np.dtype(p['dtype']).name})"
        decl = DECLARED[engine][self.op]
        lead = [repr(p[k]) for k in decl.leading]
        args = [f"[{', '.join(a)}]"] if decl.variadic else a
        extra = [f"{k}={v!r}" for k, v in p.items() if k not in decl.leading]
        return f"{self.op}({', '.join(lead + args + extra)})"

    def call_params(self) -> dict[str, Any]:
        """The parameters as the public call takes them (masks and index arrays as arrays)."""
        return {k: _array(v) for k, v in self.params.items()}


def _array(value: Any) -> Any:
    if isinstance(value, Mask):
        return value.array()
    if isinstance(value, tuple) and any(isinstance(i, IndexArray) for i in value):
        return _numpy_index(value)
    return value


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
            statement = f"t{i} = {node.statement([f't{a}' for a in node.args], self.engine)}"
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
