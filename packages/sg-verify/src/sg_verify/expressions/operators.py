"""The builder's operators: for each operator family, its arguments, parameters and bound.

Each method of :class:`_OperatorBuilder` appends one node: it picks arguments (creating
the inputs it needs), draws the operator's parameters (an axis, a shape, an exponent...),
computes the result's shape, and fits guards so that the result's static bound stays
below :data:`~sg_verify.expressions.LIMIT`. Binary operators broadcast; ``log``,
``sqrt``, a ``pow`` base and a divisor see a positive guard.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sg_verify.expressions.builder import _Builder
from sg_verify.expressions.ir import (
    _BINARY,
    _REDUCTIONS,
    MAX_SIZE,
    NO_GUARD,
    IndexArray,
    Mask,
    _axes,
    _numpy_index,
    _positive_range,
)


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


def _times(n: int) -> Callable[[list[float]], float]:
    """The bound of a sum of ``n`` elements."""
    return lambda b: b[0] * n


class _OperatorBuilder(_Builder):
    """A :class:`_Builder` with one method per operator family; :meth:`add` dispatches."""

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
        elif op == "linear":
            self.linear()
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
            if op in ("sin", "cos", "tanh", "sigmoid", "erf"):
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
        if op in ("var", "std"):
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
            if op == "std":  # at most b, or b * sqrt(n / (n - 1)) <= b * sqrt(2) with ddof=1
                return math.sqrt(2.0) * b[0]
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

    def linear(self) -> None:
        """``x @ w.T + b`` with PyTorch's layout: ``w`` is ``(m, k)``, the bias optional."""
        x = self.any_arg(min_ndim=1)
        sx = self.shape(x)
        k = sx[-1]
        w = self.arg(
            lambda i: len(self.shape(i)) == 2 and self.shape(i)[1] == k,
            lambda: (self.integer(2, 3), k),
            first=False,
        )
        m = self.shape(w)[0]
        args = [x, w]
        if self.one_in(2):
            args.append(self.arg(lambda i: self.shape(i) == (m,), lambda: (m,), first=False))
        guards, result = self.fit(
            args, [""] * len(args), lambda b: b[0] * b[1] * k + (b[2] if len(b) > 2 else 0.0)
        )
        self.emit("linear", args, guards, sx[:-1] + (m,), result)

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
