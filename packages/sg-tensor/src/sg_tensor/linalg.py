"""Linear algebra: ``matmul`` with numpy's semantics, and ``linear`` (``x @ W.T + b``).

numpy's ``matmul`` treats a 1-D left operand as a row ``(1, k)`` and a 1-D right
operand as a column ``(k, 1)``, removing the added axis afterwards, and broadcasts the
leading (batch) axes. The rule undoes exactly that: it puts the removed axes back into
the gradient, applies the 2-D rule on the last two axes, and lets the driver sum over
the batch axes an operand was broadcast along.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sg_scalar.bounds import Bounds
from sg_scalar.declare import REAL, Case
from sg_tensor.kernels import Into
from sg_tensor.op import OPS, composite, op
from sg_tensor.tensor import Tensor, as_tensor, binary, operand

Grads = tuple[Any, ...]
MATMUL_SHAPES = [
    ((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)),
    ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((2, 1, 3, 4), (5, 4, 2)), ((3, 3), (3, 3)),
    ((2, 3, 3), (3, 3)), ((4,), (2, 3, 4, 5)),
]  # fmt: skip
"""Vectors, matrices and batches; square ones show a transposed operand in a gradient; a
vector times two batch axes, whose gradient drops its row axis under both."""


def _matmul_bound(b: Bounds) -> float:
    return b.m(0) * b.m(1) * b.shapes[0][-1]


def _swap_last(x: Any) -> Any:
    return x.swapaxes(-1, -2)


@op("matmul", np.matmul, "matmul", operator="@", numpy=np.matmul, torch="@",
    cases=[Case({}, shapes) for shapes in MATMUL_SHAPES], bound=_matmul_bound,
    needs_input_grad=True, grad_reads=((1,), (0,)), analytic=True)  # fmt: skip
def matmul(g: Any, out: Any, a: Any, b: Any, *, needs_input_grad: tuple[bool, bool]) -> Grads:
    """d(A @ B) = dA @ B + A @ dB, so grad_A = G @ B^T and grad_B = A^T @ G.

    Each product costs as much as the forward, so a gradient nobody needs (the input
    batch's, typically) is not computed.
    """
    need_a, need_b = needs_input_grad
    if a.ndim == 2 and b.ndim == 2:  # the common case, spelled out
        return (g @ b.T if need_a else None), (a.T @ g if need_b else None)
    if a.ndim == 1 and b.ndim == 1:  # a dot product: g is a scalar
        return g * b, g * a
    a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
    b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
    g2 = g
    if a.ndim == 1:
        g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:])
    if b.ndim == 1:
        g2 = g2.reshape(g2.shape + (1,))
    ga = g2 @ _swap_last(b2) if need_a else None  # (..., m, k)
    gb = _swap_last(a2) @ g2 if need_b else None  # (..., k, n)
    if a.ndim == 1 and ga is not None:  # (..., 1, k): drop the row axis
        ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
    if b.ndim == 1 and gb is not None:  # (..., k, 1): drop the column axis
        gb = gb.reshape(gb.shape[:-1])
    return ga, gb  # the driver sums over the batch axes an operand was broadcast along


def _linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> Any:
    out = x @ w.T
    if b is None:
        return out
    if b.dtype == out.dtype:
        out += b  # the product is a fresh array: add the bias in place, no second array
        return out
    return out + b


def _linear_entry(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``x @ weight.T + bias`` as one operator, with PyTorch's layout.

    ``x`` is ``(..., in_features)``, ``weight`` is ``(out_features, in_features)`` and
    ``bias`` (optional) is ``(out_features,)``. Same numbers as the two operators, one
    graph node and one array fewer.
    """
    tx = x if type(x) is Tensor else as_tensor(x)
    tw = weight if type(weight) is Tensor else operand(weight, tx, "linear")
    w_shape, x_shape = tw.data.shape, tx.data.shape
    if len(w_shape) != 2 or not x_shape or x_shape[-1] != w_shape[1]:
        raise ValueError(
            f"linear: weight must be (out_features, in_features) and x (..., in_features); "
            f"got x {tx.shape} and weight {tw.shape}"
        )
    if bias is None:
        return tx._apply2(OPS["linear"], tw)
    tb = bias if type(bias) is Tensor else operand(bias, tx, "linear")
    if tb.data.shape != w_shape[:1]:
        raise ValueError(
            f"linear: bias must have shape ({w_shape[0]},) to match weight {tw.shape}; "
            f"got {tb.shape}"
        )
    return Tensor._apply_n(OPS["linear"], (tx, tw, tb), _NO_CTX)


_NO_CTX: dict[str, Any] = {}
LINEAR_SHAPES = [
    ((3, 4), (5, 4), (5,)), ((4,), (5, 4), (5,)), ((2, 3, 4), (5, 4), (5,)), ((3, 4), (2, 4)),
]  # fmt: skip


def _linear_bound(b: Bounds) -> float:
    return b.m(0) * b.m(1) * b.shapes[0][-1] + (b.m(2) if len(b.shapes) > 2 else 0.0)


def _linear_into(o: np.ndarray, x: np.ndarray, w: np.ndarray, b: Any = None) -> Any:
    if b is not None and b.dtype != o.dtype:
        return _linear(x, w, b)
    np.matmul(x, w.T, out=o)
    return o if b is None else np.add(o, b, out=o)


def _linear_rule_into(
    outs: Any, g: Any, out: Any, x: Any, w: Any, b: Any = None, *,
    needs_input_grad: tuple[bool, ...],
) -> Grads:  # fmt: skip
    """:func:`linear`'s rule, each gradient into its buffer."""
    bx, bw, bb = (*outs, None)[:3]
    gx = (g @ w if bx is None else np.matmul(g, w, out=bx)) if needs_input_grad[0] else None
    if x.ndim != 2:
        g = g.reshape((-1, g.shape[-1]))
        x = x.reshape((-1, x.shape[-1]))
    gw = (g.T @ x if bw is None else np.matmul(g.T, x, out=bw)) if needs_input_grad[1] else None
    if b is None:
        return gx, gw
    if not needs_input_grad[2]:
        return gx, gw, None
    return gx, gw, np.add.reduce(g, axis=0, out=bb)


@op("linear", _linear, "linear", _linear_entry, method=None, torch="F.linear",
    inputs=(REAL, REAL, REAL), cases=[Case({}, shapes) for shapes in LINEAR_SHAPES],
    bound=_linear_bound, needs_input_grad=True, grad_reads=((1,), (0,), ()), analytic=True,
    into=Into(_linear_into, _linear_rule_into))  # fmt: skip
def linear(
    g: Any, out: Any, x: Any, w: Any, b: Any = None, *, needs_input_grad: tuple[bool, ...]
) -> Grads:
    """d(x W^T + b): grad_x = G W, grad_W = G^T x, grad_b = G summed over the batch.

    ``x`` is ``(..., in)``, ``W`` is ``(out, in)`` (PyTorch's layout) and ``b`` is
    ``(out,)``: the batch axes of ``x`` are folded into one for the weight and the bias.
    """
    gx = g @ w if needs_input_grad[0] else None
    if x.ndim != 2:  # fold the batch axes (or add one): the weight sees rows of x
        g = g.reshape((-1, g.shape[-1]))
        x = x.reshape((-1, x.shape[-1]))
    gw = g.T @ x if needs_input_grad[1] else None
    if b is None:
        return gx, gw
    if not needs_input_grad[2]:
        return gx, gw, None
    # np.add.reduce is the array method's sum without its Python wrapper; nodes sum
    # through their method (np.add.reduce is not one of their operators).
    return gx, gw, (np.add.reduce(g, axis=0) if type(g) is np.ndarray else g.sum(axis=0))


# ---------------------------------------------------------------------------------------
# PyTorch's other names for products: composites of matmul
# ---------------------------------------------------------------------------------------
def _product_of(name: str, ranks: tuple[int, int]) -> Any:
    """``torch.<name>``: ``matmul`` of operands of exactly these ranks (a clear error
    otherwise, where ``matmul`` would broadcast)."""

    def product(a: Any, b: Any) -> Tensor:
        x, y = as_tensor(a), as_tensor(b)
        if (x.ndim, y.ndim) != ranks:
            raise ValueError(
                f"{name}: expects {ranks[0]}-D and {ranks[1]}-D operands, got shapes "
                f"{x.shape} and {y.shape} (matmul broadcasts other ranks)"
            )
        if name == "bmm" and x.shape[0] != y.shape[0]:
            raise ValueError(f"bmm: batch sizes differ: {x.shape} and {y.shape}")
        return binary(OPS["matmul"], x, y)

    product.__doc__ = f"PyTorch's ``{name}``: the matrix product of {ranks}-D operands."
    return product


def _outer(a: Any, b: Any) -> Tensor:
    """The outer product of two vectors: ``out[i, j] = a[i] * b[j]``."""
    x, y = as_tensor(a), as_tensor(b)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"outer: expects 1-D operands, got shapes {x.shape} and {y.shape}")
    return binary(OPS["mul"], x.reshape((-1, 1)), y.reshape((1, -1)))


for _name, _ranks, _shapes in (("mm", (2, 2), ((3, 4), (4, 2))),
                               ("bmm", (3, 3), ((2, 3, 4), (2, 4, 5))),
                               ("dot", (1, 1), ((4,), (4,))),
                               ("mv", (2, 1), ((3, 4), (4,)))):  # fmt: skip
    composite(_name, "product", _product_of(_name, _ranks), uses=("matmul",),
              inputs=(REAL, REAL), cases=[Case({}, _shapes)])  # fmt: skip
composite("outer", "product", _outer, uses=("mul", "reshape"), inputs=(REAL, REAL),
          cases=[Case({}, ((3,), (4,)))])  # fmt: skip
