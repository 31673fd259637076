"""The two interpreters of an expression, sg and PyTorch (float64), and their gradients.

Each backend is a table from operator name to implementation, built once per engine:
sg's on ``sg_tensor.Tensor`` or ``sg_scalar.Value``, PyTorch's on float64 tensors (0-d
ones for the scalar engine). :func:`sg_vjp` and :func:`torch_vjp` evaluate an expression
and back-propagate an output cotangent; :func:`sg_vjp` also reports how close the values
came to a kink or a tie. Importing this module never needs torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import sg_tensor as st
from sg_scalar import Value, no_grad
from sg_scalar.declare import Declaration, Kink, Tie, ZeroSpread
from sg_scalar.examples import apply
from sg_tensor.arguments import normalize_axis
from sg_tensor.convolution import windows
from sg_tensor.pooling import pool_geometry, pooled_size
from sg_verify import oracles
from sg_verify.expressions.ir import DECLARED, Expression, Node
from sg_verify.pytorch import require_torch
from sg_verify.registry import torch_call

Impl = Callable[[list[Any], dict[str, Any]], Any]
"""How a backend applies one node: ``impl(arguments, parameters)``."""
Watch = Callable[[Node, list[Any], Any], None]


def _interpret(
    expr: Expression,
    leaves: Sequence[Any],
    table: tuple[dict[str, Impl], Callable[[Any], Any]],
    watch: Watch | None = None,
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
            g.apply(values[i], softplus) if g.scale or g.kind else values[i]
            for i, g in zip(node.args, node.guards)
        ]
        out = impls[node.op](args, node.call_params())
        if watch is not None:
            watch(node, args, out)
        values.append(out)
    return values


def _sg_impl(decl: Declaration) -> Impl:
    return lambda a, p: apply(decl, *a, **p)


def _torch_impl(decl: Declaration) -> Impl:
    return lambda a, p: torch_call(decl, p)(*a)


_TABLES: dict[tuple[str, str], tuple[dict[str, Impl], Callable[[Any], Any]]] = {}


def _table(backend: str, engine: str) -> tuple[dict[str, Impl], Callable[[Any], Any]]:
    """A backend's implementation of every operator of ``engine``, and its softplus (a
    guard), made from the declarations: sg's public call, or the PyTorch counterpart."""
    key = (backend, engine)
    if key not in _TABLES:
        impl = _sg_impl if backend == "sg" else _torch_impl
        impls = {name: impl(decl) for name, decl in DECLARED[engine].items()}
        if backend == "sg":
            softplus: Callable[[Any], Any] = lambda x: x.softplus()  # noqa: E731
        else:
            softplus = require_torch().nn.functional.softplus
        _TABLES[key] = (impls, softplus)
    return _TABLES[key]


def _margin(decl: Declaration, node: Node, args: list[Any], out: Any) -> float:
    """The distance of ``node``'s arguments from its declared kinks and ties (inf if none)."""
    p = node.call_params()
    xs = [np.asarray(x.data) for x in args]
    margin = math.inf
    for edge in decl.edges:
        if isinstance(edge, Kink):
            point = edge.point(p)
            if point is not None:
                margin = min(margin, float(np.min(np.abs(xs[edge.input] - point))))
        elif isinstance(edge, Tie) and not edge.within:
            margin = min(margin, float(np.min(np.abs(xs[0] - xs[1]))))
        elif isinstance(edge, Tie) and decl.signature == "pool":
            margin = min(margin, _window_margin(xs[0], p))
        elif isinstance(edge, Tie):
            if "p" in p and not math.isinf(p["p"]):  # a norm ties only at p = +-inf
                continue
            x = np.abs(xs[0]) if "p" in p else xs[0]  # a norm's extremes are of |x|
            margin = min(margin, _tie_margin(x, np.asarray(out.data), p))
        elif isinstance(edge, ZeroSpread) and _reduced(xs[0], p) > 1:  # one element: always 0
            margin = min(margin, float(np.min(np.asarray(out.data))))
    return margin


def _window_margin(x: np.ndarray, p: dict[str, Any]) -> float:
    """How far each pooling window's maximum is from the window's next value."""
    keys = ("stride", "padding", "dilation", "ceil_mode")
    geometry = pool_geometry(
        "", st.tensor(x), p["kernel_size"], **{k: p[k] for k in keys if k in p}
    )
    size = pooled_size(x, **geometry)
    view = windows(x, geometry["kernel"], geometry["stride"], geometry["padding"],
                   geometry["dilation"], size, fill=-np.inf)  # fmt: skip
    values = view.reshape((*view.shape[:2], -1, *size))
    if values.shape[2] < 2:
        return math.inf
    top = np.sort(values, axis=2)[:, :, -2:]
    return float(np.min(top[:, :, 1] - top[:, :, 0]))


def _axes(x: np.ndarray, p: dict[str, Any]) -> tuple[int, ...]:
    """The reduced axes of a node's parameters (numpy's ``axis`` or PyTorch's ``dim``)."""
    return normalize_axis(p.get("axis", p.get("dim")), x.ndim, "", x.shape)


def _reduced(x: np.ndarray, p: dict[str, Any]) -> int:
    return math.prod(x.shape[i] for i in _axes(x, p))


def _tie_margin(x: np.ndarray, extreme: np.ndarray, p: dict[str, Any]) -> float:
    """How far the extreme of each reduced slice is from the slice's next value."""
    axes = _axes(x, p)
    if not p.get("keepdims", p.get("keepdim", False)):
        extreme = extreme.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)))
    gap = np.abs(x - extreme)
    if np.any(np.sum(gap == 0, axis=axes) != 1):
        return 0.0
    if _reduced(x, p) == 1:
        return math.inf
    return float(np.min(np.where(gap == 0, np.inf, gap)))


def sg_function(expr: Expression, watch: Watch | None = None) -> Callable[..., Any]:
    """The expression as a function of sg inputs (Tensors or Values), for oracles;
    ``watch(node, arguments, result)`` sees every node on the way."""
    table = _table("sg", expr.engine)

    def fn(*leaves: Any) -> Any:
        return _interpret(expr, leaves, table, watch)[-1]

    return fn


def sg_values(expr: Expression, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The value of every node in sg (no gradients), for inspection and tests."""
    with no_grad():
        if expr.engine == "scalar":
            leaves: list[Any] = [Value(float(a)) for a in arrays]
        else:
            leaves = [st.Tensor(np.array(a, dtype=np.float64)) for a in arrays]
        values = _interpret(expr, leaves, _table("sg", expr.engine))
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
    declared = DECLARED[expr.engine]

    def watch(node: Node, args: list[Any], out: Any) -> None:
        if declared[node.op].edges:
            margin[0] = min(margin[0], _margin(declared[node.op], node, args, out))

    output, grads = oracles.sg_vjp(expr.engine, sg_function(expr, watch), arrays, cotangent)
    return VJPResult(output, grads, margin[0])


def torch_vjp(expr: Expression, arrays: Sequence[np.ndarray], cotangent: np.ndarray) -> VJPResult:
    """PyTorch's float64 output and the gradients of ``sum(output * cotangent)``."""
    table = _table("torch", expr.engine)
    return VJPResult(*oracles.torch_vjp(lambda *x: _interpret(expr, x, table)[-1], arrays,
                                        cotangent))  # fmt: skip
