"""Linear algebra: ``matmul`` with numpy's semantics.

numpy's ``matmul`` treats a 1-D left operand as a row ``(1, k)`` and a 1-D right
operand as a column ``(k, 1)``, removing the added axis afterwards, and broadcasts the
leading (batch) axes. The rule undoes exactly that: it puts the removed axes back into
the gradient, applies the 2-D rule on the last two axes, and lets the shared
``unbroadcast`` sum over the batch axes an operand was broadcast along.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sg_tensor.op import op

Grads = tuple[Any, ...]


def _swap_last(x: Any) -> Any:
    return x.swapaxes(-1, -2)


@op("matmul", np.matmul, broadcasts=True, needs_input_grad=True)
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
    return ga, gb  # unbroadcast then sums over the batch axes an operand was broadcast along


def _linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> Any:
    out = x @ w.T
    if b is None:
        return out
    if b.dtype == out.dtype:
        out += b  # the product is a fresh array: add the bias in place, no second array
        return out
    return out + b


@op("linear", _linear, needs_input_grad=True)
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
