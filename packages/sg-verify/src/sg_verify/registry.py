"""The operator registry: one entry per way of calling a public operator.

Each :class:`OpSpec` says how to sample valid inputs (domain, kink avoidance, shapes),
how to call the operator in sg, and how to call its PyTorch counterpart. Every oracle,
the random expressions and the mutants are generated from this one table, and a
completeness check lists any public operator of sg-scalar or sg-tensor that no entry
covers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SCALAR_SPECS", "TENSOR_SPECS", "OpSpec", "all_specs"]

Sampler = Callable[[np.random.Generator], list[np.ndarray]]

# The operators of the reference system: parity over expressions built from these alone
# must reach 1e-14.
REFERENCE_OPS = frozenset({"add", "mul", "matmul", "relu", "sum"})


@dataclass(frozen=True)
class OpSpec:
    """How to check one way of calling an operator.

    ``sg(*inputs)`` and ``torch(*inputs)`` take the engine's inputs (Tensors or Values;
    torch tensors) and return one output. ``sample(rng)`` returns float64 arrays (0-d
    for the scalar engine) inside the operator's domain and away from its kinks.
    ``covers`` names the public API entries this spec exercises.
    """

    name: str
    engine: str  # "tensor" or "scalar"
    op: str  # the rule-table entry it exercises (for grouping and mutants)
    sg: Callable[..., Any]
    torch: Callable[..., Any]
    sample: Sampler
    covers: tuple[str, ...]
    fd_eps: float = 1e-6
    fd_rtol: float = 1e-6
    torch_tol: float = 1e-12
    reference: bool = False

    def __repr__(self) -> str:
        return f"OpSpec({self.engine}:{self.name})"


# ---------------------------------------------------------------------------------------
# Samplers: each returns a list of float64 arrays.
# ---------------------------------------------------------------------------------------
def real(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    """Standard normal values of ``shape``."""
    return lambda rng: rng.standard_normal(shape)


def positive(*shape: int, low: float = 0.5, high: float = 2.0) -> Callable[..., np.ndarray]:
    """Values of ``shape`` drawn uniformly in ``[low, high)``: inside domains such as log's."""
    return lambda rng: rng.uniform(low, high, shape)


def away_from_zero(*shape: int, gap: float = 0.1) -> Callable[..., np.ndarray]:
    """Values with ``|x| >= gap``: a finite difference never straddles a kink at 0."""

    def draw(rng: np.random.Generator) -> np.ndarray:
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(gap, 2.0, shape)

    return draw


def distinct(*shape: int, spacing: float = 0.05) -> Callable[..., np.ndarray]:
    """Values at least ``spacing`` apart: no ties for max/min, so no kink."""

    def draw(rng: np.random.Generator) -> np.ndarray:
        n = int(np.prod(shape))
        values = (rng.permutation(n) - n / 2) * spacing * 2 + rng.uniform(-0.3, 0.3) * spacing
        return values.reshape(shape)

    return draw


def avoiding(points: Sequence[float], *shape: int, gap: float = 0.05) -> Callable[..., np.ndarray]:
    """Normal samples pushed at least ``gap`` away from each of ``points`` (kinks)."""

    def draw(rng: np.random.Generator) -> np.ndarray:
        x = rng.standard_normal(shape)
        for p in points:
            near = np.abs(x - p) < gap
            x = np.where(near, p + np.sign(x - p + 1e-300) * (gap + np.abs(x - p)), x)
        return x

    return draw


def inputs(*draws: Callable[[np.random.Generator], np.ndarray]) -> Sampler:
    """A spec's sampler: one float64 array per input, each from its own draw."""
    return lambda rng: [np.asarray(d(rng), dtype=np.float64) for d in draws]


def pair_apart(*shapes: tuple[int, ...]) -> Sampler:
    """Two broadcastable inputs whose elements differ by at least 0.1 (maximum/minimum)."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        a = rng.standard_normal(shapes[0])
        out_shape = np.broadcast_shapes(*shapes)
        b = rng.standard_normal(shapes[1])
        gap = np.broadcast_to(a, out_shape) - np.broadcast_to(b, out_shape)
        if np.any(np.abs(gap) < 0.1):  # redraw b as a shifted copy where too close
            b = np.asarray(b + 0.5 * np.sign(rng.standard_normal(shapes[1]) + 1e-9) + 0.25)
            gap = np.broadcast_to(a, out_shape) - np.broadcast_to(b, out_shape)
            if np.any(np.abs(gap) < 0.1):
                b = b + 3.0
        return [a, b]

    return draw


# Broadcast-compatible shape pairs: equal, rank mismatch, size-1 axes, 0-d either side.
BROADCAST_PAIRS: list[tuple[tuple[int, ...], tuple[int, ...]]] = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((2, 1, 4), (3, 1)),
    ((), (3,)),
    ((5,), ()),
    ((2, 3, 1), (1, 1, 4)),
]


def _shape_tag(*shapes: tuple[int, ...]) -> str:
    return "|".join("x".join(map(str, s)) or "0d" for s in shapes)


@dataclass
class _Builder:
    engine: str
    specs: list[OpSpec] = field(default_factory=list)

    def add(
        self,
        name: str,
        op: str,
        sg: Callable[..., Any],
        torch: Callable[..., Any],
        sample: Sampler,
        covers: Sequence[str] = (),
        **options: Any,
    ) -> None:
        self.specs.append(
            OpSpec(
                name=name,
                engine=self.engine,
                op=op,
                sg=sg,
                torch=torch,
                sample=sample,
                covers=tuple(covers) or (op,),
                reference=op in REFERENCE_OPS,
                **options,
            )
        )


# ---------------------------------------------------------------------------------------
# The tensor engine
# ---------------------------------------------------------------------------------------
def _tensor_specs() -> list[OpSpec]:  # one table, read top to bottom
    import sg_tensor as st
    from sg_tensor.op import call

    b = _Builder("tensor")

    def F() -> Any:  # torch.nn.functional, imported only when a torch call runs
        import torch.nn.functional

        return torch.nn.functional

    def T() -> Any:
        import torch

        return torch

    # -- binary arithmetic over broadcast shape pairs --------------------------------------
    for sa, sb in BROADCAST_PAIRS:
        tag = _shape_tag(sa, sb)
        b.add(
            f"add[{tag}]",
            "add",
            lambda x, y: x + y,
            lambda x, y: x + y,
            inputs(real(*sa), real(*sb)),
            ["add", "__add__"],
        )
        b.add(
            f"sub[{tag}]",
            "sub",
            lambda x, y: x - y,
            lambda x, y: x - y,
            inputs(real(*sa), real(*sb)),
            ["sub", "__sub__"],
        )
        b.add(
            f"mul[{tag}]",
            "mul",
            lambda x, y: x * y,
            lambda x, y: x * y,
            inputs(real(*sa), real(*sb)),
            ["mul", "__mul__"],
        )
        b.add(
            f"div[{tag}]",
            "div",
            lambda x, y: x / y,
            lambda x, y: x / y,
            inputs(real(*sa), away_from_zero(*sb, gap=0.5)),
            ["div", "__truediv__"],
        )
        b.add(
            f"pow[{tag}]",
            "pow",
            lambda x, y: x**y,
            lambda x, y: x**y,
            inputs(positive(*sa), real(*sb)),
            ["pow", "__pow__"],
        )
        b.add(
            f"maximum[{tag}]",
            "maximum",
            st.maximum,
            lambda x, y: T().maximum(x, y),
            pair_apart(sa, sb),
            ["maximum"],
        )
        b.add(
            f"minimum[{tag}]",
            "minimum",
            st.minimum,
            lambda x, y: T().minimum(x, y),
            pair_apart(sa, sb),
            ["minimum"],
        )
    # functional forms and reflected operators with numbers and arrays
    b.add("add[fn]", "add", st.add, lambda x, y: x + y, inputs(real(3), real(2, 3)), ["add"])
    b.add("sub[fn]", "sub", st.sub, lambda x, y: x - y, inputs(real(3), real(2, 3)), ["sub"])
    b.add("mul[fn]", "mul", st.mul, lambda x, y: x * y, inputs(real(3), real(2, 3)), ["mul"])
    b.add(
        "div[fn]",
        "div",
        st.div,
        lambda x, y: x / y,
        inputs(real(3), away_from_zero(2, 3, gap=0.5)),
        ["div"],
    )
    b.add("pow[fn]", "pow", st.pow, lambda x, y: x**y, inputs(positive(3), real(3)), ["pow"])
    b.add(
        "radd[number]",
        "add",
        lambda x: 2.5 + x,
        lambda x: 2.5 + x,
        inputs(real(3, 2)),
        ["__radd__"],
    )
    b.add(
        "rsub[number]",
        "sub",
        lambda x: 2.5 - x,
        lambda x: 2.5 - x,
        inputs(real(3, 2)),
        ["__rsub__"],
    )
    b.add(
        "rmul[number]",
        "mul",
        lambda x: 2.5 * x,
        lambda x: 2.5 * x,
        inputs(real(3, 2)),
        ["__rmul__"],
    )
    b.add(
        "rdiv[number]",
        "div",
        lambda x: 2.5 / x,
        lambda x: 2.5 / x,
        inputs(away_from_zero(3, 2, gap=0.5)),
        ["__rtruediv__"],
    )
    b.add(
        "rpow[number]", "pow", lambda x: 2.5**x, lambda x: 2.5**x, inputs(real(3, 2)), ["__rpow__"]
    )
    b.add(
        "add[array]",
        "add",
        lambda x: np.arange(3.0) + x,
        lambda x: x + T().arange(3.0),
        inputs(real(2, 3)),
        ["__radd__"],
    )
    b.add(
        "matmul[rmatmul-array]",
        "matmul",
        lambda x: np.eye(3)[:2] @ x,
        lambda x: T().eye(3, dtype=T().float64)[:2] @ x,
        inputs(real(3, 4)),
        ["__rmatmul__"],
    )
    for p, draw in [(2, real), (3, real), (0.5, positive), (-1.5, positive), (0, real)]:
        b.add(
            f"pow_scalar[{p}]",
            "pow_scalar",
            lambda x, p=p: x**p,
            lambda x, p=p: x**p,
            inputs(draw(3, 4)),
            ["pow", "__pow__"],
        )
    b.add(
        "where",
        "where",
        lambda x, y: st.where(np.array([True, False, True]), x, y),
        lambda x, y: T().where(T().tensor([True, False, True]), x, y),
        inputs(real(2, 3), real(2, 1)),
        ["where"],
    )
    b.add(
        "where[0d]",
        "where",
        lambda x, y: st.where(np.array([[True], [False]]), x, y),
        lambda x, y: T().where(T().tensor([[True], [False]]), x, y),
        inputs(real(3), real()),
        ["where"],
    )

    # -- unary functions -------------------------------------------------------------------
    unary = [
        ("neg", lambda x: -x, lambda x: -x, real, ["neg", "__neg__"]),
        ("exp", lambda x: x.exp(), lambda x: x.exp(), real, ["exp"]),
        ("log", lambda x: x.log(), lambda x: x.log(), positive, ["log"]),
        ("sqrt", lambda x: x.sqrt(), lambda x: x.sqrt(), positive, ["sqrt"]),
        ("abs", lambda x: x.abs(), lambda x: x.abs(), away_from_zero, ["abs"]),
        ("abs", abs, lambda x: x.abs(), away_from_zero, ["__abs__"]),
        ("sin", lambda x: x.sin(), lambda x: x.sin(), real, ["sin"]),
        ("cos", lambda x: x.cos(), lambda x: x.cos(), real, ["cos"]),
        ("tanh", lambda x: x.tanh(), lambda x: x.tanh(), real, ["tanh"]),
        ("sigmoid", lambda x: x.sigmoid(), lambda x: x.sigmoid(), real, ["sigmoid"]),
        ("relu", lambda x: x.relu(), lambda x: x.relu(), away_from_zero, ["relu"]),
        (
            "leaky_relu",
            lambda x: x.leaky_relu(0.1),
            lambda x: F().leaky_relu(x, 0.1),
            away_from_zero,
            ["leaky_relu"],
        ),
        ("gelu", lambda x: x.gelu(), lambda x: F().gelu(x), real, ["gelu"]),
        (
            "gelu",
            lambda x: x.gelu("tanh"),
            lambda x: F().gelu(x, approximate="tanh"),
            real,
            ["gelu"],
        ),
        ("softplus", lambda x: x.softplus(), lambda x: F().softplus(x), real, ["softplus"]),
        (
            "softplus",
            lambda x: x.softplus(2.0, 3.0),
            lambda x: F().softplus(x, 2.0, 3.0),
            lambda *s: avoiding([1.5], *s),
            ["softplus"],
        ),
        (
            "clip",
            lambda x: x.clip(-0.5, 0.5),
            lambda x: x.clamp(-0.5, 0.5),
            lambda *s: avoiding([-0.5, 0.5], *s),
            ["clip"],
        ),
        (
            "clip",
            lambda x: st.clip(x, min=0.2),
            lambda x: x.clamp(min=0.2),
            lambda *s: avoiding([0.2], *s),
            ["clip"],
        ),
        ("erf", lambda x: x.erf(), lambda x: x.erf(), real, ["erf"]),
    ]
    for i, (op, sg_fn, torch_fn, draw, covers) in enumerate(unary):
        for shape in [(3, 4), ()]:
            b.add(
                f"{op}[{i}:{_shape_tag(shape)}]", op, sg_fn, torch_fn, inputs(draw(*shape)), covers
            )
    functions = ["exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "neg"]
    functions.append("erf")
    for fn in functions:
        draw = positive if fn in ("log", "sqrt") else away_from_zero
        b.add(
            f"{fn}[fn]",
            fn,
            getattr(st, fn),
            _TorchFn(fn).call,
            inputs(draw(5)),
            [fn],
        )
    b.add(
        "leaky_relu[fn]",
        "leaky_relu",
        lambda x: st.leaky_relu(x),
        lambda x: F().leaky_relu(x),
        inputs(away_from_zero(5)),
        ["leaky_relu"],
    )
    b.add("gelu[fn]", "gelu", st.gelu, lambda x: F().gelu(x), inputs(real(5)), ["gelu"])
    b.add(
        "softplus[fn]",
        "softplus",
        st.softplus,
        lambda x: F().softplus(x),
        inputs(real(5)),
        ["softplus"],
    )

    # -- reductions ------------------------------------------------------------------------
    axis_cases: list[tuple[Any, bool]] = [
        (None, False), (0, False), (-1, True), ((0, 2), False), ((1,), True)
    ]  # fmt: skip
    for axis, keep in axis_cases:
        tag = f"axis={axis},keepdims={keep}"
        dims = _torch_dims(axis, 3)
        b.add(
            f"sum[{tag}]",
            "sum",
            lambda x, a=axis, k=keep: x.sum(a, k),
            lambda x, d=dims, k=keep: x.sum(dim=d, keepdim=k),
            inputs(real(2, 3, 4)),
            ["sum"],
        )
        b.add(
            f"mean[{tag}]",
            "mean",
            lambda x, a=axis, k=keep: x.mean(a, k),
            lambda x, d=dims, k=keep: x.mean(dim=d, keepdim=k),
            inputs(real(2, 3, 4)),
            ["mean"],
        )
        b.add(
            f"max[{tag}]",
            "max",
            lambda x, a=axis, k=keep: x.max(a, k),
            lambda x, d=dims, k=keep: T().amax(x, dim=d, keepdim=k),
            inputs(distinct(2, 3, 4)),
            ["max"],
        )
        b.add(
            f"min[{tag}]",
            "min",
            lambda x, a=axis, k=keep: x.min(a, k),
            lambda x, d=dims, k=keep: T().amin(x, dim=d, keepdim=k),
            inputs(distinct(2, 3, 4)),
            ["min"],
        )
        for ddof in (0, 1):
            b.add(
                f"var[{tag},ddof={ddof}]",
                "var",
                lambda x, a=axis, k=keep, c=ddof: x.var(a, k, c),
                lambda x, d=dims, k=keep, c=ddof: T().var(x, dim=d, keepdim=k, correction=c),
                inputs(real(2, 3, 4)),
                ["var"],
            )
            b.add(
                f"std[{tag},ddof={ddof}]",
                "std",
                lambda x, a=axis, k=keep, c=ddof: x.std(a, k, c),
                lambda x, d=dims, k=keep, c=ddof: T().std(x, dim=d, keepdim=k, correction=c),
                inputs(real(2, 3, 4)),
                ["std"],
            )
        b.add(
            f"logsumexp[{tag}]",
            "logsumexp",
            lambda x, a=axis, k=keep: x.logsumexp(a, k),
            lambda x, d=dims, k=keep: T().logsumexp(
                x, dim=d if d is not None else (0, 1, 2), keepdim=k
            ),
            inputs(real(2, 3, 4)),
            ["logsumexp"],
        )
    for fn in ("sum", "mean", "max", "min", "var", "std", "logsumexp"):
        draw = distinct if fn in ("max", "min") else real
        torch_name = {"max": "amax", "min": "amin"}.get(fn, fn)
        extra = {"correction": 0} if fn in ("var", "std") else {}  # numpy's ddof=0 default
        b.add(
            f"{fn}[fn]",
            fn,
            lambda x, f=fn: getattr(st, f)(x, 1),
            lambda x, f=torch_name, e=extra: getattr(T(), f)(x, 1, **e),
            inputs(draw(3, 4)),
            [fn],
        )
    b.add(
        "logsumexp[large]",
        "logsumexp",
        lambda x: (x * 300).logsumexp(1),
        lambda x: T().logsumexp(x * 300, 1),
        inputs(real(3, 4)),
        ["logsumexp"],
    )

    # -- shape and indexing ----------------------------------------------------------------
    shape_cases = [
        ("reshape", lambda x: x.reshape(4, 6), lambda x: x.reshape(4, 6), ["reshape"]),
        ("reshape", lambda x: st.reshape(x, (-1,)), lambda x: x.reshape(-1), ["reshape"]),
        ("reshape", lambda x: x.view(6, 4), lambda x: x.view(6, 4), ["view"]),
        ("transpose", lambda x: x.transpose(2, 0, 1), lambda x: x.permute(2, 0, 1), ["transpose"]),
        ("transpose", lambda x: st.transpose(x), lambda x: x.permute(2, 1, 0), ["transpose"]),
        ("transpose", lambda x: x.permute(1, 2, 0), lambda x: x.permute(1, 2, 0), ["permute"]),
        (
            "transpose",
            lambda x: st.permute(x, (1, 0, 2)),
            lambda x: x.permute(1, 0, 2),
            ["permute"],
        ),
        ("transpose", lambda x: x.swapaxes(0, -1), lambda x: x.swapaxes(0, -1), ["swapaxes"]),
        ("transpose", lambda x: st.swapaxes(x, 0, 1), lambda x: x.swapaxes(0, 1), ["swapaxes"]),
        ("transpose", lambda x: x.T, lambda x: x.permute(2, 1, 0), ["T"]),
        ("reshape", lambda x: x.flatten(), lambda x: x.flatten(), ["flatten"]),
        ("reshape", lambda x: st.flatten(x, 1), lambda x: x.flatten(1), ["flatten"]),
        ("reshape", lambda x: x.unsqueeze(1), lambda x: x.unsqueeze(1), ["unsqueeze"]),
        ("reshape", lambda x: st.unsqueeze(x, -1), lambda x: x.unsqueeze(-1), ["unsqueeze"]),
        (
            "getitem",
            lambda x: x[1, ::2, None, ...],
            lambda x: x[1, ::2, None, ...],
            ["getitem", "__getitem__"],
        ),
        (
            "getitem",
            lambda x: x[np.array([0, 0, 1])],
            lambda x: x[T().tensor([0, 0, 1])],
            ["getitem", "__getitem__"],
        ),
        (
            "getitem",
            lambda x: x[:, np.array([2, 0, 2]), 1:],
            lambda x: x[:, T().tensor([2, 0, 2]), 1:],
            ["getitem", "__getitem__"],
        ),
        ("getitem", lambda x: x[x.data > 0.3], lambda x: x[x > 0.3], ["getitem", "__getitem__"]),
        ("getitem", lambda x: x[-1], lambda x: x[-1], ["getitem", "__getitem__"]),
        (
            "pad",
            lambda x: st.pad(x, ((1, 0), (0, 2), (1, 1))),
            lambda x: F().pad(x, (1, 1, 0, 2, 1, 0)),
            ["pad"],
        ),
        (
            "pad",
            lambda x: st.pad(x, 1, value=0.5),
            lambda x: F().pad(x, (1,) * 6, value=0.5),
            ["pad"],
        ),
        (
            "broadcast_to",
            lambda x: x[:, :1].broadcast_to((5, 2, 1, 4)),
            lambda x: x[:, :1].broadcast_to((5, 2, 1, 4)),
            ["broadcast_to"],
        ),
        (
            "broadcast_to",
            lambda x: st.broadcast_to(x[:1], (3, 3, 4)),
            lambda x: x[:1].broadcast_to((3, 3, 4)),
            ["broadcast_to"],
        ),
        (
            "broadcast_to",
            lambda x: x[:, :1].expand(2, 3, -1),
            lambda x: x[:, :1].expand(2, 3, -1),
            ["expand"],
        ),
        (
            "broadcast_to",
            lambda x: st.expand(x[:1], (2, -1, 4)),
            lambda x: x[:1].expand(2, -1, 4),
            ["expand"],
        ),
        ("reshape", lambda x: x[:, :1].squeeze(), lambda x: x[:, :1].squeeze(), ["squeeze"]),
        ("reshape", lambda x: st.squeeze(x[:, :1], 1), lambda x: x[:, :1].squeeze(1), ["squeeze"]),
        (
            "concatenate",
            lambda x: st.concatenate([x, x[:, :1] * 2], axis=1),
            lambda x: T().cat([x, x[:, :1] * 2], dim=1),
            ["concatenate"],
        ),
        (
            "concatenate",
            lambda x: st.stack([x, x.exp()], axis=1),
            lambda x: T().stack([x, x.exp()], dim=1),
            ["stack"],
        ),
        (
            "getitem",
            lambda x: st.split(x, [1, 3], axis=2)[1],
            lambda x: T().tensor_split(x, [1, 3], dim=2)[1],
            ["split"],
        ),
        (
            "getitem",
            lambda x: st.split(x, 2, axis=2)[1],
            lambda x: T().tensor_split(x, 2, dim=2)[1],
            ["split"],
        ),
        (
            "astype",
            lambda x: x.astype(np.float32).astype(np.float64),
            lambda x: x.float().double(),
            ["astype"],
        ),
        ("astype", lambda x: x.astype(np.float32), lambda x: x.float(), ["astype"]),
    ]
    for i, (op, sg_fn, torch_fn, covers) in enumerate(shape_cases):
        options: dict[str, Any] = {}
        if op == "astype":  # float32 rounding: a linear map, checked with a wide step
            options = {"fd_eps": 1e-2, "fd_rtol": 1e-5}
        b.add(f"{covers[0]}[{i}]", op, sg_fn, torch_fn, inputs(real(2, 3, 4)), covers, **options)

    # getitem's adjoint, an operator so that getitem's rule runs on nodes (second order)
    def scatter(shape: tuple[int, ...], index: Any) -> Callable[[Any], Any]:
        return lambda y: call("scatter", y, shape=shape, index=index)

    def index_add(rows: list[int]) -> Callable[[Any], Any]:
        def torch_fn(y: Any) -> Any:
            zeros = T().zeros((3, 4), dtype=T().float64)
            return zeros.index_add(0, T().tensor(rows), y.reshape(len(rows), 4))

        return torch_fn

    b.add("scatter[row]", "scatter", scatter((3, 4), (1,)), index_add([1]), inputs(real(4)))
    b.add(
        "scatter[repeated]",
        "scatter",
        scatter((3, 4), (np.array([0, 2, 0]),)),
        index_add([0, 2, 0]),
        inputs(real(3, 4)),
    )

    # -- linear algebra --------------------------------------------------------------------
    matmul_shapes = [
        ((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)),
        ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((2, 1, 3, 4), (5, 4, 2)),
    ]  # fmt: skip
    for sa, sb in matmul_shapes:
        b.add(
            f"matmul[{_shape_tag(sa, sb)}]",
            "matmul",
            lambda x, y: x @ y,
            lambda x, y: x @ y,
            inputs(real(*sa), real(*sb)),
            ["matmul", "__matmul__"],
        )
    b.add(
        "matmul[fn]",
        "matmul",
        st.matmul,
        lambda x, y: x @ y,
        inputs(real(3, 4), real(4, 2)),
        ["matmul"],
    )
    for xs in [(3, 4), (4,), (2, 3, 4)]:  # x @ w.T + b, PyTorch's layout
        b.add(
            f"linear[{_shape_tag(xs)}]",
            "linear",
            st.linear,
            lambda x, w, bias: F().linear(x, w, bias),
            inputs(real(*xs), real(5, 4), real(5)),
            ["linear"],
        )
    b.add(
        "linear[no-bias]",
        "linear",
        st.linear,
        lambda x, w: F().linear(x, w),
        inputs(real(3, 4), real(2, 4)),
        ["linear"],
    )

    # -- softmax family ----------------------------------------------------------------------
    for axis in (-1, 0, 1):
        b.add(
            f"softmax[axis={axis}]",
            "softmax",
            lambda x, a=axis: x.softmax(a),
            lambda x, a=axis: x.softmax(a),
            inputs(real(3, 4, 2)),
            ["softmax"],
        )
        b.add(
            f"log_softmax[axis={axis}]",
            "log_softmax",
            lambda x, a=axis: x.log_softmax(a),
            lambda x, a=axis: x.log_softmax(a),
            inputs(real(3, 4, 2)),
            ["log_softmax"],
        )
    b.add(
        "softmax[fn,large]",
        "softmax",
        lambda x: st.softmax(x * 500),
        lambda x: (x * 500).softmax(-1),
        inputs(real(3, 4)),
        ["softmax"],
    )
    b.add(
        "log_softmax[fn,large]",
        "log_softmax",
        lambda x: st.log_softmax(x * 500),
        lambda x: (x * 500).log_softmax(-1),
        inputs(real(3, 4)),
        ["log_softmax"],
    )
    return b.specs


class _TorchFn:
    """``torch.<name>`` looked up when called, so building the registry needs no torch."""

    def __init__(self, name: str) -> None:
        self.name = name

    def call(self, *args: Any) -> Any:
        import torch

        return getattr(torch, self.name)(*args)


def _torch_dims(axis: Any, ndim: int) -> Any:
    if axis is None:
        return tuple(range(ndim))
    return axis


# ---------------------------------------------------------------------------------------
# The scalar engine
# ---------------------------------------------------------------------------------------
def _scalar_specs() -> list[OpSpec]:
    import sg_scalar

    b = _Builder("scalar")

    def T() -> Any:
        import torch

        return torch

    x_real, x_pos, x_away = real(), positive(), away_from_zero()
    binary = [
        ("add", lambda x, y: x + y, lambda x, y: x + y, x_real, x_real, ["__add__"]),
        ("add", lambda x, y: 1.5 + y + x, lambda x, y: 1.5 + y + x, x_real, x_real, ["__radd__"]),
        ("mul", lambda x, y: x * y, lambda x, y: x * y, x_real, x_real, ["__mul__"]),
        ("mul", lambda x, y: 1.5 * x * y, lambda x, y: 1.5 * x * y, x_real, x_real, ["__rmul__"]),
        ("add", lambda x, y: x - y, lambda x, y: x - y, x_real, x_real, ["__sub__"]),
        ("add", lambda x, y: 1.5 - x - y, lambda x, y: 1.5 - x - y, x_real, x_real, ["__rsub__"]),
        ("pow_const", lambda x, y: x / y, lambda x, y: x / y, x_real, x_away, ["__truediv__"]),
        (
            "pow_const",
            lambda x, y: 1.5 / y + x,
            lambda x, y: 1.5 / y + x,
            x_real,
            x_away,
            ["__rtruediv__"],
        ),
        ("pow", lambda x, y: x**y, lambda x, y: x**y, x_pos, x_real, ["__pow__"]),
        ("pow", lambda x, y: 1.5**x * y, lambda x, y: 1.5**x * y, x_real, x_real, ["__rpow__"]),
        (
            "maximum",
            lambda x, y: x.maximum(y),
            lambda x, y: T().maximum(x, y),
            x_real,
            x_real,
            ["maximum"],
        ),
        (
            "minimum",
            lambda x, y: sg_scalar.minimum(x, y),
            lambda x, y: T().minimum(x, y),
            x_real,
            x_real,
            ["minimum"],
        ),
        (
            "maximum",
            lambda x, y: sg_scalar.maximum(x, y),
            lambda x, y: T().maximum(x, y),
            x_real,
            x_real,
            ["maximum"],
        ),
    ]
    for i, (op, sg_fn, torch_fn, da, db, covers) in enumerate(binary):
        sample = pair_apart((), ()) if op in ("maximum", "minimum") else inputs(da, db)
        b.add(f"{covers[0]}[{i}]", op, sg_fn, torch_fn, sample, covers)
    unary = [
        ("mul", lambda x: x * x * x + x, x_real, ["__mul__"]),  # reuse: gradients must add up
        ("neg", lambda x: -x, x_real, ["__neg__"]),
        ("pow_const", lambda x: x**3, x_real, ["__pow__"]),
        ("pow_const", lambda x: x**0.5, x_pos, ["__pow__"]),
        ("pow_const", lambda x: x**-2, x_pos, ["__pow__"]),
        ("exp", lambda x: x.exp(), x_real, ["exp"]),
        ("log", lambda x: x.log(), x_pos, ["log"]),
        ("sqrt", lambda x: x.sqrt(), x_pos, ["sqrt"]),
        ("sin", lambda x: x.sin(), x_real, ["sin"]),
        ("cos", lambda x: x.cos(), x_real, ["cos"]),
        ("tanh", lambda x: x.tanh(), x_real, ["tanh"]),
        ("sigmoid", lambda x: x.sigmoid(), x_real, ["sigmoid"]),
        ("relu", lambda x: x.relu(), x_away, ["relu"]),
        ("abs", lambda x: x.abs(), x_away, ["abs"]),
        ("abs", abs, x_away, ["__abs__"]),
    ]
    for i, (op, fn, draw, covers) in enumerate(unary):
        b.add(f"{covers[0]}[{i}]", op, fn, fn, inputs(draw), covers)
    return b.specs


TENSOR_SPECS: list[OpSpec] = _tensor_specs()
"""Every way of calling a public operator of sg-tensor that the oracles check."""
SCALAR_SPECS: list[OpSpec] = _scalar_specs()
"""Every way of calling a public operator of sg-scalar that the oracles check."""


def all_specs() -> list[OpSpec]:
    """Every spec of both engines."""
    return TENSOR_SPECS + SCALAR_SPECS
