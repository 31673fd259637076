"""The builder's operators: for each signature, how a node's arguments and parameters grow.

:meth:`_OperatorBuilder.add` looks up the operator's declaration and calls the method
of its signature, which picks arguments (creating the inputs it needs), draws the
parameters (an axis, a shape; for the rest, one of the declared cases), computes the
result's shape and fits guards so that the declared bound on the result stays below
:data:`~sg_verify.expressions.LIMIT`. An argument whose declared domain needs it (log's,
a divisor) sees a positive guard; operators with a declared tie never take the same node
twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sg_scalar.bounds import Bounds
from sg_scalar.declare import Case, Declaration
from sg_tensor.arguments import normalize_axis
from sg_tensor.op import ENTRIES, positional
from sg_verify.expressions.builder import _Builder
from sg_verify.expressions.ir import DECLARED, MAX_SIZE, IndexArray, Mask
from sg_verify.expressions.ir import _numpy_index as numpy_index


def _broadcast(s1: tuple[int, ...], s2: tuple[int, ...]) -> tuple[int, ...] | None:
    """The broadcast shape of ``s1`` and ``s2``, or None if they are incompatible."""
    try:
        return tuple(np.broadcast_shapes(s1, s2))
    except ValueError:
        return None


def _matmul_shape(sa: tuple[int, ...], sb: tuple[int, ...]) -> tuple[int, ...] | None:
    """numpy's matmul result shape, or None if the operands do not fit."""
    try:
        return tuple(np.matmul(np.zeros(sa), np.zeros(sb)).shape)
    except ValueError:
        return None


class _OperatorBuilder(_Builder):
    """A :class:`_Builder` with one method per signature; :meth:`add` dispatches."""

    def add(self, op: str) -> None:
        """Append one node applying ``op`` (creating inputs it needs)."""
        decl = DECLARED[self.engine][op]
        getattr(self, decl.signature)(decl)

    # -- shared steps --------------------------------------------------------------------
    def case(self, decl: Declaration, *drawn: str) -> dict[str, Any]:
        """The parameters of one declared case, without those this builder draws itself."""
        params = self.pick(decl.cases).params
        return {k: v for k, v in params.items() if k not in drawn}

    def guards(self, decl: Declaration, params: dict[str, Any], n: int) -> list[str]:
        """A positive guard for each argument whose domain needs one."""
        case = Case(params)
        return [self.pick(self.positive) if decl.domain(i, case).guard else "" for i in range(n)]

    def apply(
        self,
        decl: Declaration,
        args: Sequence[int],
        shape: tuple[int, ...],
        params: dict[str, Any],
        kinds: Sequence[str] | None = None,
    ) -> None:
        """Fit the guards to the declared bound and append the node."""
        shapes = [self.shape(i) for i in args]
        kinds = list(kinds) if kinds is not None else [""] * len(args)
        guards, result = self.fit(args, kinds, lambda iv: decl.bound(Bounds(iv, params, shapes)))
        self.emit(decl.name, args, guards, shape, result, **params)

    # -- elementwise ---------------------------------------------------------------------
    def binary(self, decl: Declaration, join: tuple[int, int] | None = None) -> None:
        """A broadcasting binary operator, on two chosen nodes or on the ``join`` pair."""
        if join is None:
            a = self.any_arg()
            sa = self.shape(a)
            distinct = decl.ties is not None  # max(x, x) is a tie everywhere

            def ok(i: int) -> bool:
                return not (distinct and i == a) and _broadcast(self.shape(i), sa) is not None

            b = self.arg(ok, lambda: self.sub_shape(sa), first=False)
        else:
            a, b = join
        shape = _broadcast(self.shape(a), self.shape(b))
        assert shape is not None
        params = self.case(decl)
        self.apply(decl, [a, b], shape, params, self.guards(decl, params, 2))

    def where(self, decl: Declaration) -> None:
        """``where(mask, a, b)``: a binary operator with a random mask that broadcasts."""
        a = self.any_arg()
        sa = self.shape(a)
        b = self.arg(lambda i: _broadcast(self.shape(i), sa) is not None,
                     lambda: self.sub_shape(sa), first=False)  # fmt: skip
        shape = _broadcast(sa, self.shape(b))
        assert shape is not None
        mask_shape = self.sub_shape(shape)
        bits = tuple(self.one_in(2) for _ in range(math.prod(mask_shape)))
        self.apply(decl, [a, b], shape, {"condition": Mask(mask_shape, bits)})

    def unary(self, decl: Declaration) -> None:
        """An elementwise function with one of its declared cases' parameters."""
        a = self.any_arg()
        params = self.case(decl)
        self.apply(decl, [a], self.shape(a), params, self.guards(decl, params, 1))

    # -- along axes ----------------------------------------------------------------------
    def reduction(self, decl: Declaration) -> None:
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
        axes = normalize_axis(axis, nd, "", shape)
        count = math.prod(shape[i] for i in axes)
        params: dict[str, Any] = {"axis": axis, "keepdims": keepdims}
        drawn = self.case(decl, "axis", "keepdims", "dim", "keepdim")
        if any("unbiased" in c.params for c in decl.cases):  # std, var: PyTorch's order
            unbiased = bool(drawn.get("unbiased", True)) and count > 1  # n - 1 stays positive
            params = {"dim": axis, "unbiased": unbiased, "keepdim": keepdims}
        else:
            params.update(drawn)
        if keepdims:
            out = tuple(1 if i in axes else n for i, n in enumerate(shape))
        else:
            out = tuple(n for i, n in enumerate(shape) if i not in axes)
        self.apply(decl, [a], out, params)

    def norm(self, decl: Declaration) -> None:
        """A p-norm (p from a declared case) over every axis or one, keepdim or not."""
        a = self.any_arg()
        shape = self.shape(a)
        nd = len(shape)
        dim = self.integer(-nd, nd - 1) if nd and not self.one_in(3) else None
        keepdim = self.one_in(2)
        axes = normalize_axis(dim, nd, "", shape)
        params: dict[str, Any] = {**self.case(decl, "dim", "keepdim"), "dim": dim,
                                  "keepdim": keepdim}  # fmt: skip
        if keepdim:
            out = tuple(1 if i in axes else n for i, n in enumerate(shape))
        else:
            out = tuple(n for i, n in enumerate(shape) if i not in axes)
        self.apply(decl, [a], out, params)

    def axis(self, decl: Declaration) -> None:
        """An operator along one random axis (softmax, cumsum...), the shape unchanged."""
        a = self.any_arg(min_ndim=1)
        shape = self.shape(a)
        params = {"axis": self.integer(-len(shape), len(shape) - 1), **self.case(decl, "axis")}
        self.apply(decl, [a], shape, params)

    def join(self, ops: Sequence[str]) -> None:
        """Combine the dead ends (results nothing uses) with binary operators from ``ops``.

        Without this, a branch that no later node consumes would be pruned away; joining
        keeps every generated operator in the graph. Two shapes that do not broadcast
        are joined after summing one of them to a scalar (when ``sum`` is allowed).
        """
        declared = DECLARED[self.engine]
        binary = [op for op in ops if declared[op].signature == "binary"]
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
                params = {"axis": None, "keepdims": False}
                self.apply(declared["sum"], [b], (), params)
                b = len(self.nodes) - 1
            self.binary(declared[self.pick(binary)], (a, b))

    # -- moving elements -------------------------------------------------------------------
    def reshape(self, decl: Declaration) -> None:
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
        self.apply(decl, [a], target, {"shape": given})

    def transpose(self, decl: Declaration) -> None:
        """A random permutation of the axes, never the identity."""
        a = self.any_arg(min_ndim=2)
        axes = list(range(len(self.shape(a))))
        for i in range(len(axes) - 1, 0, -1):  # Fisher-Yates
            j = self.integer(0, i)
            axes[i], axes[j] = axes[j], axes[i]
        if axes == sorted(axes):  # not the identity
            axes = axes[1:] + axes[:1]
        shape = tuple(self.shape(a)[i] for i in axes)
        self.apply(decl, [a], shape, {"axes": tuple(axes)})

    def broadcast_to(self, decl: Declaration) -> None:
        """Size-1 axes stretched and/or a leading axis added."""
        a = self.any_arg()
        shape = self.shape(a)
        target = tuple(self.integer(2, 3) if n == 1 and self.one_in(2) else n for n in shape)
        if target == shape or self.one_in(3):
            target = (self.integer(2, 3),) + target
        if math.prod(target) > MAX_SIZE:
            target = (1,) + shape
        self.apply(decl, [a], target, {"shape": target})

    def getitem(self, decl: Declaration) -> None:
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
        out = np.empty(shape)[numpy_index(tuple(index))].shape
        self.apply(decl, [a], out, {"index": tuple(index)})

    def concatenate(self, decl: Declaration) -> None:
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
        self.apply(decl, args, out, {"axis": axis - nd if self.one_in(3) else axis})

    def pad(self, decl: Declaration) -> None:
        """Constant padding of 0-2 before and 0-1 after each axis."""
        a = self.any_arg(min_ndim=1)
        shape = self.shape(a)
        widths = [(self.integer(0, 2), self.integer(0, 1)) for _ in shape]
        if not any(b or e for b, e in widths):
            widths[0] = (1, 0)
        out = tuple(n + b + e for n, (b, e) in zip(shape, widths))
        params = {"pad_width": tuple(widths), "value": self.pick((0.0, 0.5, -1.0))}
        self.apply(decl, [a], out, params)

    def astype(self, decl: Declaration) -> None:
        """A round trip through float32: the float32 node is used by the conversion back
        only (engines mix float32 and float64 0-d values differently)."""
        a = self.any_arg()
        self.apply(decl, [a], self.shape(a), {"dtype": np.dtype(np.float32)})
        rounded = len(self.nodes) - 1
        self.hidden.add(rounded)
        self.apply(decl, [rounded], self.shape(a), {"dtype": np.dtype(np.float64)})

    # -- products --------------------------------------------------------------------------
    def matmul(self, decl: Declaration) -> None:
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
        self.apply(decl, [a, b], shape, {})

    def linear(self, decl: Declaration) -> None:
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
        self.apply(decl, args, sx[:-1] + (m,), {})

    # -- convolutional networks --------------------------------------------------------------
    def _image(self) -> int:
        """A 4-D node (N, C, H, W), or a new small input."""
        return self.arg(
            lambda i: len(self.shape(i)) == 4 and min(self.shape(i)[2:]) >= 2,
            lambda: (self.integer(1, 2), self.integer(1, 3), self.integer(2, 4),
                     self.integer(2, 4)),
        )  # fmt: skip

    def _apply_entry(self, decl: Declaration, args: list[int], params: dict[str, Any]) -> None:
        """Append a node calling ``decl``'s public entry, its shape found by calling it on
        zeros; the parameters put in the entry's order (they are passed positionally)."""
        entry = ENTRIES[decl.name][0]
        assert entry is not None
        shapes = tuple(self.shape(i) for i in args)
        ordered = positional(entry, shapes, **params).params
        out = entry(*(np.zeros(s) for s in shapes), **params).shape
        self.apply(decl, args, tuple(out), dict(ordered))

    def conv(self, decl: Declaration) -> None:
        """A convolution or transposed convolution of a 4-D node: a kernel of 1-3 pixels,
        stride 1-2, padding, groups 1 or 2, a bias or none."""
        x = self._image()
        _, c, h, w = self.shape(x)
        groups = self.pick([g for g in (1, 2) if c % g == 0])
        kh, kw = self.integer(1, min(3, h)), self.integer(1, min(3, w))
        stride = self.integer(1, 2)
        padding = self.integer(0, (min(kh, kw) - 1) // 2)
        o = groups * self.integer(1, 2)
        params: dict[str, Any] = {"stride": stride, "padding": padding, "groups": groups}
        if decl.name == "conv_transpose2d":
            weight: tuple[int, ...] = (c, o // groups, kh, kw)
            params["output_padding"] = self.integer(0, stride - 1)
        else:
            weight = (o, c // groups, kh, kw)
        args = [x, self.arg(lambda i: self.shape(i) == weight, lambda: weight, first=False)]
        if self.one_in(2):
            args.append(self.arg(lambda i: self.shape(i) == (o,), lambda: (o,), first=False))
        self._apply_entry(decl, args, params)

    def pool(self, decl: Declaration) -> None:
        """Max or average pooling of a 4-D node: windows of 1-3 pixels, stride 1-2, padding
        up to half a window, sometimes ceil_mode (and count_include_pad=False)."""
        x = self._image()
        h, w = self.shape(x)[2:]
        k = self.integer(1, min(3, h, w))
        params: dict[str, Any] = {"kernel_size": k, "stride": self.integer(1, 2),
                                  "padding": self.integer(0, k // 2),
                                  "ceil_mode": self.one_in(3)}  # fmt: skip
        if decl.name == "avg_pool2d":
            params["count_include_pad"] = not self.one_in(2)
        self._apply_entry(decl, [x], params)

    def batch_norm(self, decl: Declaration) -> None:
        """Batch normalisation in training mode of a node (N, C, ...) with more than one
        value per channel, with or without the weight and bias."""

        def ok(i: int) -> bool:
            s = self.shape(i)
            return len(s) >= 2 and s[1] > 0 and math.prod(s) // s[1] > 1

        x = self.arg(ok, lambda: (self.integer(2, 3), self.integer(1, 3), self.integer(1, 3)))
        channels = (self.shape(x)[1],)
        args = [x]
        if self.one_in(2):
            args += [self.arg(lambda i: self.shape(i) == channels, lambda: channels,
                              first=False) for _ in range(2)]  # fmt: skip
        self._apply_entry(decl, args, {"training": True, "eps": self.pick((1e-5, 0.5))})
