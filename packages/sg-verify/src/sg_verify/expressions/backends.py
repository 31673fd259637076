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
from sg_verify.expressions.ir import (
    _KINKED,
    Expression,
    Guard,
    IndexArray,
    Node,
    _axes,
    _numpy_index,
)
from sg_verify.oracles import require_torch

Impl = Callable[[list[Any], dict[str, Any]], Any]


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
                "erf": lambda a, p: a[0].erf(),
                "linear": lambda a, p: st.linear(*a),
                "gelu": lambda a, p: a[0].gelu(p["approximate"]),
                "softplus": lambda a, p: a[0].softplus(p["beta"], p["threshold"]),
                "clip": lambda a, p: a[0].clip(p["min"], p["max"]),
                "sum": lambda a, p: a[0].sum(p["axis"], p["keepdims"]),
                "mean": lambda a, p: a[0].mean(p["axis"], p["keepdims"]),
                "max": lambda a, p: a[0].max(p["axis"], p["keepdims"]),
                "min": lambda a, p: a[0].min(p["axis"], p["keepdims"]),
                "var": lambda a, p: a[0].var(p["axis"], p["keepdims"], p["ddof"]),
                "std": lambda a, p: a[0].std(p["axis"], p["keepdims"], p["ddof"]),
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
            "erf": lambda a, p: torch.erf(a[0]),
            "linear": lambda a, p: F.linear(*a),
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
            "std": lambda a, p: reduce(
                lambda x, d, k: torch.std(x, dim=d, correction=p["ddof"], keepdim=k),
                lambda x: torch.std(x, correction=p["ddof"]),
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
    if op == "std":  # not differentiable where a slice is constant (std 0), unless it is
        if math.prod(x.shape[i] for i in _axes(p["axis"], x.ndim)) == 1:  # one element
            return math.inf  # always 0: gradient 0 in every engine
        return float(np.min(np.asarray(out.data)))
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
