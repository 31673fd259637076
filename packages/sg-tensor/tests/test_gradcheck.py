"""Central-difference checks of every operator, in float64, including broadcast operands.

``CASES`` maps each operator name of ``sg_tensor.OPS`` (and each composite built from
them: ``squeeze``, ``stack``, ``std``, ...) to the cases that exercise it. A case is a
function of leaf tensors and the float64 arrays it starts from; the check is
``tensor_helpers.gradcheck``. ``test_every_operator_has_a_gradcheck_case`` fails, listing
them, for any registered operator without a case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from tensor_helpers import distinct, gradcheck, nonzero, normal, positive, separated

import sg_tensor as st
from sg_tensor import OPS, Tensor
from sg_tensor.op import call


@dataclass(frozen=True)
class Case:
    op: str  # the operator (a name in OPS) or the composite the case exercises
    label: str
    fn: Callable[..., Any]
    inputs: tuple[np.ndarray, ...]

    @property
    def id(self) -> str:
        return f"{self.op}-{self.label}"


CASES: dict[str, list[Case]] = {}
R = np.random.default_rng(20240611)


def case(op: str, label: str, fn: Callable[..., Any], *inputs: np.ndarray) -> None:
    CASES.setdefault(op, []).append(Case(op, label, fn, inputs))


def n(*shape: int) -> np.ndarray:
    return normal(R, *shape)


def pos(*shape: int) -> np.ndarray:
    return positive(R, *shape)


def nz(*shape: int) -> np.ndarray:
    return nonzero(R, *shape)


def dist(*shape: int) -> np.ndarray:
    return distinct(R, *shape)


# ---------------------------------------------------------------------------------------
# Binary arithmetic, with broadcasting and with numbers and arrays on either side
# ---------------------------------------------------------------------------------------
BROADCAST_PAIRS = [
    ("same", (2, 3), (2, 3)),
    ("row", (2, 3), (3,)),
    ("col-row", (3, 1), (1, 4)),
    ("rank-left", (4,), (2, 3, 4)),
    ("0d-left", (), (2, 3)),
    ("0d-right", (2, 3), ()),
    ("size1-mid", (2, 1, 3), (4, 1)),
]
for label, sa, sb in BROADCAST_PAIRS:
    case("add", label, lambda a, b: a + b, n(*sa), n(*sb))
    case("sub", label, lambda a, b: a - b, n(*sa), n(*sb))
    case("mul", label, lambda a, b: a * b, n(*sa), n(*sb))
    case("div", label, lambda a, b: a / b, n(*sa), nz(*sb))
    case("pow", label, lambda a, b: a**b, pos(*sa), n(*sb))
    a_sep, b_sep = separated(R, sa, sb)
    case("maximum", label, lambda a, b: a.maximum(b), a_sep, b_sep)
    case("minimum", label, lambda a, b: a.minimum(b), a_sep, b_sep)

CONST = n(2, 3)
case("add", "number-right", lambda a: a + 2.5, n(2, 3))
case("add", "number-left", lambda a: 2.5 + a, n(2, 3))
case("add", "array-left", lambda a: CONST + a, n(3))
case("add", "functional", lambda a, b: st.add(a, b), n(2, 1), n(3))
case("sub", "number-right", lambda a: a - 1.5, n(2, 3))
case("sub", "number-left", lambda a: 2 - a, n(2, 3))
case("sub", "array-left", lambda a: CONST - a, n(2, 1))
case("sub", "array-right", lambda a: a - CONST, n(3))
case("mul", "number-left", lambda a: 3 * a, n(2, 3))
case("mul", "array-left", lambda a: CONST * a, n(1, 3))
case("mul", "self", lambda a: a * a, n(2, 3))
case("div", "number-left", lambda a: 2 / a, nz(2, 3))
case("div", "number-right", lambda a: a / 4.0, n(2, 3))
case("div", "array-left", lambda a: CONST / a, nz(3))
case("div", "array-right", lambda a: a / (np.abs(CONST) + 0.5), n(2, 1))
case("pow", "number-base", lambda a: 2**a, n(2, 3))
case("pow", "array-base", lambda a: (np.abs(CONST) + 0.5) ** a, n(3))
case("pow", "array-exponent", lambda a: a**CONST, pos(2, 3))
case("pow", "functional", lambda a, b: st.pow(a, b), pos(3, 1), n(2))
case("maximum", "number", lambda a: a.maximum(0.0), nz(2, 3))
case("minimum", "number", lambda a: st.minimum(0.0, a), nz(2, 3))
case("maximum", "functional-array", lambda a: st.maximum(a, CONST), CONST + nz(2, 3))

MASK = np.array([[True, False, True], [False, False, True]])
case("where", "same", lambda a, b: st.where(MASK, a, b), n(2, 3), n(2, 3))
case("where", "broadcast-a-b", lambda a, b: st.where(MASK, a, b), n(3), n())
case("where", "broadcast-cond", lambda a, b: st.where(MASK[:, :1], a, b), n(1, 3), n(2, 1))
case("where", "number-b", lambda a: st.where(MASK, a, 0.0), n(2, 3))
case("where", "number-a", lambda b: st.where(MASK, 1.0, b), n(3))
case("where", "cond-expands", lambda a, b: st.where(MASK[None], a, b), n(4, 1, 3), n(2, 1))
case("where", "tensor-cond", lambda a, b: st.where(a > 0, a, b), nz(2, 3), n(2, 3))

# ---------------------------------------------------------------------------------------
# Unary elementwise functions
# ---------------------------------------------------------------------------------------
case("neg", "method", lambda a: -a, n(2, 3))
case("neg", "functional", lambda a: st.neg(a), n(4))
case("pow_scalar", "square", lambda a: a**2, n(2, 3))
case("pow_scalar", "cube-0d", lambda a: a**3, n())
case("pow_scalar", "sqrt", lambda a: a**0.5, pos(2, 3))
case("pow_scalar", "negative", lambda a: a**-1.5, pos(3))
case("pow_scalar", "zero", lambda a: a**0, n(2, 3))
case("pow_scalar", "one", lambda a: a**1, n(3))
case("pow_scalar", "method", lambda a: a.pow(2.5), pos(2, 2))
case("exp", "2d", lambda a: a.exp(), n(2, 3))
case("exp", "functional", lambda a: st.exp(a), n())
case("log", "2d", lambda a: a.log(), pos(2, 3))
case("log", "functional", lambda a: st.log(a), pos(4))
case("sqrt", "2d", lambda a: a.sqrt(), pos(2, 3))
case("sqrt", "functional", lambda a: st.sqrt(a), pos(3))
case("abs", "2d", lambda a: a.abs(), nz(2, 3))
case("abs", "builtin", lambda a: abs(a), nz(3))
case("sin", "2d", lambda a: a.sin(), n(2, 3))
case("cos", "2d", lambda a: a.cos(), n(2, 3))
case("sin", "functional", lambda a: st.sin(a), n(3))
case("cos", "functional", lambda a: st.cos(a), n(3))
CLIP_X = dist(3, 4)  # values spaced ~0.2 apart, never within 0.05 of the bounds below
case("clip", "both", lambda a: a.clip(-0.52, 0.48), CLIP_X)
case("clip", "min-only", lambda a: a.clip(min=-0.52), CLIP_X)
case("clip", "max-only", lambda a: a.clip(max=0.48), CLIP_X)
case("clip", "functional", lambda a: st.clip(a, -0.52, 0.48), CLIP_X)
case(
    "astype",
    "longdouble-roundtrip",
    lambda a: (a.astype(np.longdouble) * 3.0).sin().astype(np.float64),
    n(2, 3),
)

# ---------------------------------------------------------------------------------------
# Activations and the softmax family
# ---------------------------------------------------------------------------------------
case("tanh", "2d", lambda a: a.tanh(), n(2, 3))
case("tanh", "functional", lambda a: st.tanh(a), n(3))
case("sigmoid", "2d", lambda a: a.sigmoid(), n(2, 3) * 3)
case("sigmoid", "functional", lambda a: st.sigmoid(a), n(3))
case("relu", "2d", lambda a: a.relu(), nz(2, 3))
case("relu", "functional", lambda a: st.relu(a), nz(4))
case("leaky_relu", "default", lambda a: a.leaky_relu(), nz(2, 3))
case("leaky_relu", "slope", lambda a: st.leaky_relu(a, 0.2), nz(2, 3))
case("erf", "2d", lambda a: a.erf(), n(2, 3))
case("erf", "functional", lambda a: st.erf(a), n(4) * 2)
case("gelu", "erf", lambda a: a.gelu(), n(2, 3) * 2)
case("gelu", "tanh", lambda a: st.gelu(a, approximate="tanh"), n(2, 3) * 2)
case("softplus", "default", lambda a: a.softplus(), n(2, 3) * 2)
case("softplus", "beta", lambda a: st.softplus(a, beta=2.0), n(2, 3))
case(
    "softplus",
    "threshold",
    lambda a: a.softplus(beta=2.0, threshold=1.0),
    np.array([[-1.5, -0.2, 0.3], [0.8, 1.5, 2.0]]),  # 2x > 1 on the right: linear there
)
for axis in (-1, 0, 1, 2):
    case("softmax", f"axis{axis}", lambda a, axis=axis: a.softmax(axis), n(2, 3, 4))
    case("log_softmax", f"axis{axis}", lambda a, axis=axis: a.log_softmax(axis), n(2, 3, 4))
case("softmax", "1d-functional", lambda a: st.softmax(a), n(5))
case("log_softmax", "1d-functional", lambda a: st.log_softmax(a, axis=0), n(5))
case("softmax", "large-logits", lambda a: a.softmax(), n(2, 3) + 1000.0)
case("log_softmax", "large-logits", lambda a: a.log_softmax(), n(2, 3) - 1000.0)

# ---------------------------------------------------------------------------------------
# Reductions: axis None / int / negative int / tuple, keepdims True / False
# ---------------------------------------------------------------------------------------
AXES: list[Any] = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2), ()]
for axis in AXES:
    for keepdims in (False, True):
        tag = f"axis{axis}-keep{keepdims}".replace(" ", "")
        kw = {"axis": axis, "keepdims": keepdims}
        case("sum", tag, lambda a, kw=kw: a.sum(**kw), n(2, 3, 4))
        case("mean", tag, lambda a, kw=kw: a.mean(**kw), n(2, 3, 4))
        case("max", tag, lambda a, kw=kw: a.max(**kw), dist(2, 3, 4))
        case("min", tag, lambda a, kw=kw: a.min(**kw), dist(2, 3, 4))
        case("var", tag, lambda a, kw=kw: a.var(**kw), n(2, 3, 4))
        if axis != ():  # std over no axis is sqrt(0): the kink of sqrt
            case("std", tag, lambda a, kw=kw: a.std(**kw), n(2, 3, 4))
        case("logsumexp", tag, lambda a, kw=kw: a.logsumexp(**kw), n(2, 3, 4))
case("var", "ddof1", lambda a: a.var(axis=1, ddof=1), n(3, 4))
case("std", "ddof1", lambda a: st.std(a, axis=0, ddof=1), n(3, 4))
case("std", "constant-row", lambda a: (a * CONST[:1]).std(axis=1), n(1, 3))
case("sum", "0d", lambda a: a.sum(), n())
case("sum", "functional", lambda a: st.sum(a, axis=1), n(3, 4))
case("mean", "functional", lambda a: st.mean(a, axis=-1, keepdims=True), n(3, 4))
case("max", "functional", lambda a: st.max(a, axis=0), dist(3, 4))
case("min", "functional", lambda a: st.min(a), dist(3, 4))
case("logsumexp", "large", lambda a: a.logsumexp(axis=1), n(2, 3) + 1000.0)
case("logsumexp", "functional", lambda a: st.logsumexp(a, axis=(0, 1)), n(2, 3))

# ---------------------------------------------------------------------------------------
# Shape and indexing
# ---------------------------------------------------------------------------------------
case("reshape", "2d", lambda a: a.reshape(6, 4), n(2, 3, 4))
case("reshape", "minus-one", lambda a: a.reshape((-1,)), n(2, 3))
case("reshape", "view", lambda a: a.view(3, 1, 2), n(2, 3))
case("reshape", "functional", lambda a: st.reshape(a, (4, 3)), n(2, 6))
case("transpose", "reverse", lambda a: a.transpose(), n(2, 3, 4))
case("transpose", "axes", lambda a: a.transpose(1, 0, 2), n(2, 3, 4))
case("transpose", "functional", lambda a: st.transpose(a, (2, 0, 1)), n(2, 3, 4))
case("T", "2d", lambda a: a.T, n(2, 3))
C432, C234 = n(4, 3, 2), n(2, 3, 4)
case("T", "3d", lambda a: a.T * C432, n(2, 3, 4))
case("permute", "method", lambda a: a.permute(2, 0, 1), n(2, 3, 4))
case("permute", "functional", lambda a: st.permute(a, (1, 2, 0)), n(2, 3, 4))
case("swapaxes", "method", lambda a: a.swapaxes(0, -1), n(2, 3, 4))
case("swapaxes", "functional", lambda a: st.swapaxes(a, 1, 2), n(2, 3, 4))
case("broadcast_to", "row", lambda a: a.broadcast_to(2, 3), n(3))
case("broadcast_to", "size1", lambda a: st.broadcast_to(a, (2, 3, 4)), n(2, 1, 1))
case("broadcast_to", "0d", lambda a: a.broadcast_to((2, 2)), n())
case("expand", "minus-one", lambda a: a.expand(2, -1, 4), n(3, 1))
case("expand", "functional", lambda a: st.expand(a, (3, 2)), n(1, 2))
case("squeeze", "all", lambda a: a.squeeze(), n(1, 3, 1))
case("squeeze", "axis", lambda a: st.squeeze(a, axis=-1), n(1, 3, 1))
case("unsqueeze", "front", lambda a: a.unsqueeze(0), n(2, 3))
case("unsqueeze", "negative", lambda a: st.unsqueeze(a, -1) * C234, n(2, 3))
case("flatten", "all", lambda a: a.flatten(), n(2, 3, 2))
case("flatten", "middle", lambda a: st.flatten(a, 1, 2), n(2, 3, 2, 2))

X34 = n(3, 4)
BOOL_MASK = np.array([[True, False, True, True], [False, False, False, True], [True] * 4])
INDICES: list[tuple[str, Any]] = [
    ("int", 1),
    ("negative-int", -1),
    ("int-int", (2, -3)),
    ("slice", slice(1, 3)),
    ("negative-step", slice(None, None, -1)),
    ("negative-step-2d", (slice(None, None, -2), slice(3, 0, -1))),
    ("none", (None, 0)),
    ("ellipsis", (Ellipsis, 1)),
    ("ellipsis-none", (Ellipsis, None, slice(None, None, -1))),
    ("int-array-repeated", np.array([0, 2, 0, 0])),
    ("int-array-2d", np.array([[0, 1], [1, 1]])),
    ("list", [2, 2, 1]),
    ("pairs-repeated", (np.array([0, 1, 0]), np.array([3, 3, 3]))),
    ("mixed", (slice(1, None), np.array([0, 0, 2]))),
    ("bool-mask-2d", BOOL_MASK),
    ("bool-mask-rows", np.array([True, False, True])),
    ("bool-mask-cols", (slice(None), np.array([False, True, True, False]))),
    ("tensor-index", Tensor(np.array([1, 1, 0]))),
]
for label, index in INDICES:
    case("getitem", label, lambda a, index=index: a[index], X34)
case("getitem", "bool-tensor", lambda a: a[a > 0], nz(3, 4))
# scatter is getitem's adjoint (its rule runs it, so second derivatives work); not public.
case("scatter", "basic", lambda a: call("scatter", a, shape=(3, 4), index=(1, slice(None))), n(4))
case(
    "scatter",
    "repeated",
    lambda a: call("scatter", a, shape=(3, 4), index=(np.array([0, 2, 0]),)),
    n(3, 4),
)

case("concatenate", "axis0", lambda a, b: st.concatenate([a, b]), n(2, 3), n(1, 3))
case(
    "concatenate",
    "axis1-three",
    lambda a, b, c: st.concatenate([a, b, c], 1),
    n(2, 1),
    n(2, 3),
    n(2, 2),
)
case(
    "concatenate",
    "negative-axis",
    lambda a, b: st.concatenate([a, b], axis=-1),
    n(2, 2, 1),
    n(2, 2, 3),
)
case("concatenate", "with-constant", lambda a: st.concatenate([a, CONST, a], axis=0), n(1, 3))
case("stack", "axis0", lambda a, b: st.stack([a, b]), n(2, 3), n(2, 3))
case("stack", "axis-last", lambda a, b, c: st.stack([a, b, c], axis=-1), n(2, 3), n(2, 3), n(2, 3))
case("split", "sections", lambda a: st.split(a, 3, axis=1), n(2, 6))
case("split", "indices", lambda a: st.split(a, [1, 3]), n(4, 2))
case("split", "recombined", lambda a: st.concatenate(st.split(a, 2)[::-1]), n(4, 3))
case("pad", "int", lambda a: st.pad(a, 1), n(2, 3))
case("pad", "pairs", lambda a: st.pad(a, ((1, 0), (0, 2)), value=3.0), n(2, 3))
case("pad", "pair-all-axes", lambda a: st.pad(a, (2, 1)), n(3))

# ---------------------------------------------------------------------------------------
# matmul: every numpy case
# ---------------------------------------------------------------------------------------
MATMUL_SHAPES = [
    ("2d@2d", (2, 3), (3, 4)),
    ("1d@1d", (3,), (3,)),
    ("1d@2d", (3,), (3, 4)),
    ("2d@1d", (2, 3), (3,)),
    ("batched@2d", (2, 3, 4), (4, 5)),
    ("2d@batched", (3, 4), (2, 4, 5)),
    ("1d@batched", (4,), (2, 4, 3)),
    ("batched@1d", (2, 3, 4), (4,)),
    ("batched@batched", (2, 3, 4), (2, 4, 2)),
    ("broadcast-batch", (2, 1, 3, 4), (5, 4, 2)),
    ("broadcast-batch-size1", (1, 3, 2), (4, 2, 3)),
]
for label, sa, sb in MATMUL_SHAPES:
    case("matmul", label, lambda a, b: a @ b, n(*sa), n(*sb))
case("matmul", "array-left", lambda b: CONST @ b, n(3, 2))
case("matmul", "array-right", lambda a: a @ CONST, n(4, 2))
case("linear", "2d", lambda x, w, b: st.linear(x, w, b), n(4, 3), n(5, 3), n(5))
case("linear", "no-bias", lambda x, w: st.linear(x, w), n(4, 3), n(2, 3))
case("linear", "1d-input", lambda x, w, b: st.linear(x, w, b), n(3), n(2, 3), n(2))
case("linear", "batched", lambda x, w, b: st.linear(x, w, b), n(2, 4, 3), n(5, 3), n(5))
case("linear", "constant-weight", lambda x: st.linear(x, CONST.T, np.ones(3)), n(4, 2))
case("matmul", "functional", lambda a, b: st.matmul(a, b), n(3), n(2, 3, 2))
case("matmul", "method", lambda a, b: a.matmul(b), n(2, 2), n(2))

# ---------------------------------------------------------------------------------------
# Composite graphs: reuse, diamonds and several operators at once
# ---------------------------------------------------------------------------------------
W1, B1, W2 = n(3, 4), n(4), n(4, 2)
case(
    "composite",
    "mlp-cross-entropy",
    lambda x, w1, b1, w2: (
        -(((x @ w1 + b1).tanh() @ w2).log_softmax(axis=1)[[0, 1, 2], [1, 0, 1]].mean())
    ),
    n(3, 3),
    W1,
    B1,
    W2,
)
case("composite", "diamond", lambda x: (x.exp() + x * x) * x.sin() / (x * x + 1.0), n(2, 3))
case(
    "composite",
    "layernorm",
    lambda x: (x - x.mean(axis=-1, keepdims=True)) / (x.var(axis=-1, keepdims=True) + 1e-5).sqrt(),
    n(2, 4),
)

COMPOSITES = [
    "T",
    "expand",
    "flatten",
    "permute",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "unsqueeze",
]
ALL_CASES = [c for cases in CASES.values() for c in cases]


def test_every_operator_has_a_gradcheck_case() -> None:
    missing = sorted(set(OPS) - set(CASES))
    assert not missing, f"operators without a gradcheck case: {missing}"
    missing_composites = sorted(set(COMPOSITES) - set(CASES))
    assert not missing_composites, f"composites without a gradcheck case: {missing_composites}"


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in ALL_CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("c", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_gradient_matches_central_differences(c: Case) -> None:
    used = gradcheck(c.fn, *c.inputs)
    if c.op in OPS:  # the case really exercises the operator it is filed under
        assert c.op in used, f"{c.id} does not run {c.op!r}; its graph has {sorted(used)}"


# ---------------------------------------------------------------------------------------
# The checker itself must catch wrong rules
# ---------------------------------------------------------------------------------------
def test_gradcheck_catches_a_wrong_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong_sin_rule(g: Any, out: Any, x: Any, **ctx: Any) -> tuple[Any, ...]:
        return (g * -np.cos(x),)  # sign error

    monkeypatch.setattr(OPS["sin"], "vjp", wrong_sin_rule)
    with pytest.raises(AssertionError, match="differs from central differences"):
        gradcheck(lambda a: a.sin(), n(2, 3))


def test_gradcheck_catches_a_wrong_second_input_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    def halved_mul_rule(g: Any, out: Any, a: Any, b: Any, **ctx: Any) -> tuple[Any, ...]:
        return g * b, g * a * 0.5  # the second input's gradient is wrong

    monkeypatch.setattr(OPS["mul"], "vjp", halved_mul_rule)
    with pytest.raises(AssertionError):
        gradcheck(lambda a, b: a * b, n(2, 3), n(2, 3))


def test_gradcheck_catches_a_wrong_gradient_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OPS["add"], "vjp", lambda g, out, a, b, **ctx: (g, g))  # no unbroadcast
    with pytest.raises((AssertionError, ValueError)):
        gradcheck(lambda a, b: a + b, n(2, 3), n(3))
