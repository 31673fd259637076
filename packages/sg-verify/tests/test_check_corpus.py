"""``sg_verify.check`` on a corpus of custom rules written as ``sg_tensor.Function``.

Correct rules (elementwise, broadcasting, reductions, several inputs, several outputs,
parameters) pass every check in float64 and float32, and every own-rule mutant of each
that changes the gradient is caught: zero false alarms, and checks strong enough on each
rule to have told it from a wrong one. Then wrong variants of the same rules, each a
subclass whose ``backward`` makes one realistic mistake, must each fail, and the failing
row must name the check and the input (and, for an error confined to a region, an
element of that region). Runs without PyTorch.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import sg_tensor as st
import sg_verify

FD = "gradient vs finite differences"
FLOAT32 = "float32 vs float64"
PROBES = "kink probes"
FD2 = "second order vs finite differences"

GELU_C = math.sqrt(2.0 / math.pi)
GELU_K = 0.044715


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(1000 + seed)


def normal(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return _rng(seed).standard_normal(shape)


def away_from(
    shape: tuple[int, ...], seed: int, kinks: tuple[float, ...], gap: float
) -> np.ndarray:
    """Normal draws (times 1.5), each redrawn until at least ``gap`` from every kink."""
    rng = _rng(seed)
    x = 1.5 * rng.standard_normal(shape)
    for _ in range(100):
        near = np.zeros(shape, dtype=bool)
        for k in kinks:
            near |= np.abs(x - k) < gap
        if not near.any():
            return x
        x[near] = 1.5 * rng.standard_normal(int(near.sum()))
    raise AssertionError("could not draw inputs away from the kinks")


def positive(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return _rng(seed).uniform(0.5, 2.0, shape)


def nonzero(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = _rng(seed)
    x: np.ndarray = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return x


def kept(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    """``shape`` with ``axis`` kept as 1 (where a reduced gradient broadcasts back)."""
    axis = axis % len(shape)
    return tuple(1 if k == axis else n for k, n in enumerate(shape))


# ---------------------------------------------------------------------------------------
# Correct rules
# ---------------------------------------------------------------------------------------
# elementwise
class Softplus(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor, beta: float = 1.0) -> st.Tensor:
        ctx.save_for_backward(x)
        ctx.beta = beta
        return (x * beta).exp().log1p() / beta

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * (x * ctx.beta).sigmoid(), None


class Swish(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x)
        return x * x.sigmoid()

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        s = x.sigmoid()
        return g * (s + x * s * (1 - s))


class GeluTanh(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x)
        return 0.5 * x * (1 + (GELU_C * (x + GELU_K * x**3)).tanh())

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        t = (GELU_C * (x + GELU_K * x**3)).tanh()
        du = GELU_C * (1 + 3 * GELU_K * x**2)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)


class LogCosh(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x)
        return (x.exp() + (-x).exp()).log() - math.log(2.0)

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * x.tanh()


class SmoothAbs(st.Function):
    """sqrt(x^2 + eps), saving its input and its output."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor, eps: float = 1e-2) -> st.Tensor:
        y = (x * x + eps).sqrt()
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        x, y = ctx.saved_tensors
        return g * x / y


class Exp(st.Function):
    """Saves its output, as PyTorch's exp does."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return g * y


class Sigmoid(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        y = 1 / (1 + (-x).exp())
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return g * y * (1 - y)


class Cube(st.Function):
    """A rule on raw numpy arrays: first order only."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    @st.once_differentiable
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return 3.0 * g.data * x.data**2


class HalfSoftplus2x(st.Function):
    """softplus(2x) / 2, stable in float32 far out (x ~ 50)."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x)
        z = 2 * x
        return (z.maximum(0.0) + (-z.abs()).exp().log1p()) / 2

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * (2 * x).sigmoid()


# broadcasting
class ScaledAdd(st.Function):
    """x + w * y with x, y (3, 4) and w (4,): w's gradient is summed by the driver."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor, y: st.Tensor, w: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(y, w)
        return x + w * y

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        y, w = ctx.saved_tensors
        return g, g * w, g * y


class BiasAdd(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor, b: st.Tensor) -> st.Tensor:
        return x + b

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        return g, g.sum(axis=0, keepdims=True)


# reductions
class SumSquares(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor, axis: int = -1, keepdims: bool = False) -> st.Tensor:
        ctx.save_for_backward(x)
        ctx.axis = axis
        return (x * x).sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return 2 * x * g.reshape(kept(x.shape, ctx.axis))


class LogSumExp(st.Function):
    """Saves its input and its output (the output as returned: so that the rule, which
    uses it, is differentiable again)."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor, axis: int = -1) -> st.Tensor:
        m = x.amax(axis=axis, keepdims=True)
        y = ((x - m).exp().sum(axis=axis, keepdims=True).log() + m).sum(axis=axis)
        ctx.save_for_backward(x, y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        x, y = ctx.saved_tensors
        shape = kept(x.shape, ctx.axis)
        return g.reshape(shape) * (x - y.reshape(shape)).exp()


class Variance(st.Function):
    """Mean-centered (population) variance along an axis."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor, axis: int = -1) -> st.Tensor:
        ctx.save_for_backward(x)
        ctx.axis = axis
        d = x - x.mean(axis=axis, keepdims=True)
        return (d * d).mean(axis=axis)

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        n = x.shape[ctx.axis]
        d = x - x.mean(axis=ctx.axis, keepdims=True)
        return g.reshape(kept(x.shape, ctx.axis)) * 2 * d / n


class Softmax(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        e = (x - x.amax(axis=-1, keepdims=True)).exp()
        y = e / e.sum(axis=-1, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return y * (g - (g * y).sum(axis=-1, keepdims=True))


class L2Norm(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        n = (x * x).sum().sqrt()
        ctx.save_for_backward(x, n)
        return n

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        x, n = ctx.saved_tensors
        return g * x / n


class Diff(st.Function):
    """First differences x[1:] - x[:-1] of a vector."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        return x[1:] - x[:-1]

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        return st.concatenate([-g[:1], g[:-1] - g[1:], g[-1:]])


# several inputs
class MulAdd(st.Function):
    @staticmethod
    def forward(ctx: Any, a: st.Tensor, b: st.Tensor, c: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(a, b)
        return a * b + c

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g * b, g * a, g


class Div(st.Function):
    @staticmethod
    def forward(ctx: Any, a: st.Tensor, b: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g / b, -g * a / (b * b)


class Hypot(st.Function):
    @staticmethod
    def forward(ctx: Any, a: st.Tensor, b: st.Tensor) -> st.Tensor:
        h = (a * a + b * b).sqrt()
        ctx.save_for_backward(a, b, h)
        return h

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        a, b, h = ctx.saved_tensors
        return g * a / h, g * b / h


class MatMul(st.Function):
    @staticmethod
    def forward(ctx: Any, a: st.Tensor, b: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g @ b.T, a.T @ g


class Linear(st.Function):
    """x @ W.T + b."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor, w: st.Tensor, b: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x, w)
        return x @ w.T + b

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        x, w = ctx.saved_tensors
        return g @ w, g.T @ x, g.sum(axis=0)


class Bilinear(st.Function):
    """y[i] = x1[i] @ A @ x2[i]."""

    @staticmethod
    def forward(ctx: Any, x1: st.Tensor, a: st.Tensor, x2: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x1, a, x2)
        return ((x1 @ a) * x2).sum(axis=1)

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        x1, a, x2 = ctx.saved_tensors
        gx2 = g.reshape((-1, 1)) * x2
        return gx2 @ a.T, x1.T @ gx2, g.reshape((-1, 1)) * (x1 @ a)


# several outputs
class SinCos(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> tuple[st.Tensor, st.Tensor]:
        ctx.save_for_backward(x)
        return x.sin(), x.cos()

    @staticmethod
    def backward(ctx: Any, gs: st.Tensor, gc: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return gs * x.cos() - gc * x.sin()


class SumMean(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> tuple[st.Tensor, st.Tensor]:
        ctx.shape = x.shape
        return x.sum(axis=1), x.mean(axis=1)

    @staticmethod
    def backward(ctx: Any, gs: st.Tensor, gm: st.Tensor) -> Any:
        n = ctx.shape[1]
        return st.broadcast_to((gs + gm / n).reshape((-1, 1)), ctx.shape)


class SplitInTwo(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> tuple[st.Tensor, st.Tensor]:
        ctx.half = x.shape[0] // 2
        return x[: ctx.half], x[ctx.half :]

    @staticmethod
    def backward(ctx: Any, g1: st.Tensor, g2: st.Tensor) -> Any:
        return st.concatenate([g1, g2], axis=0)


# with parameters
class Power(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor, p: float = 2.0) -> st.Tensor:
        ctx.save_for_backward(x)
        ctx.p = p
        return x**p

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * ctx.p * x ** (ctx.p - 1)


class LeakyRelu(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor, slope: float = 0.01) -> st.Tensor:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return st.where(x.data > 0, x, x * slope)

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return st.where(x.data > 0, g, g * ctx.slope)


class Clip(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor, lo: float = -1.0, hi: float = 1.0) -> st.Tensor:
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return x.clip(lo, hi)

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        inside = (x.data > ctx.lo) & (x.data < ctx.hi)
        return st.where(inside, g, g * 0.0)


class Relu(st.Function):
    """relu with PyTorch's convention: 0 at 0."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x)
        return x.maximum(0.0)

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return st.where(x.data > 0, g, g * 0.0)


@dataclass(frozen=True)
class Case:
    id: str
    fn: type[st.Function]
    inputs: tuple[np.ndarray, ...]
    params: dict[str, Any] = field(default_factory=dict)


LEAKY_SLOPE = 0.1
CLIP = (-0.5, 0.8)

CORRECT = [
    Case("softplus_beta", Softplus, (normal((3, 4), 0),), {"beta": 2.0}),
    Case("swish", Swish, (normal((3, 4), 1),)),
    Case("gelu_tanh", GeluTanh, (normal((3, 4), 2),)),
    Case("log_cosh", LogCosh, (normal((3, 4), 3),)),
    Case("smooth_abs", SmoothAbs, (normal((3, 4), 4),), {"eps": 0.1}),
    Case("exp_saves_output", Exp, (normal((3, 4), 5),)),
    Case("sigmoid_saves_output", Sigmoid, (normal((3, 4), 6),)),
    Case("cube_numpy_rule", Cube, (normal((2, 3), 7),)),
    Case("half_softplus_2x", HalfSoftplus2x, (np.array([-3.0, -0.7, 0.4, 2.5, 48.0, 50.0]),)),
    Case("scaled_add_bcast", ScaledAdd, (normal((3, 4), 8), normal((3, 4), 9), normal((4,), 10))),
    Case("bias_add_1x4", BiasAdd, (normal((3, 4), 11), normal((1, 4), 12))),
    Case("sum_squares_axis1", SumSquares, (normal((3, 4), 13),), {"axis": 1, "keepdims": False}),
    Case("sum_squares_keepdims", SumSquares, (normal((3, 4), 14),), {"axis": 0, "keepdims": True}),
    Case("logsumexp_axis1", LogSumExp, (normal((3, 4), 15),), {"axis": 1}),
    Case("variance_axis1", Variance, (normal((3, 4), 16),), {"axis": 1}),
    Case("softmax_last_axis", Softmax, (normal((3, 4), 17),)),
    Case("l2_norm", L2Norm, (normal((3, 4), 18),)),
    Case("diff", Diff, (normal((5,), 19),)),
    Case("mul_add", MulAdd, (normal((2, 3), 20), normal((2, 3), 21), normal((2, 3), 22))),
    Case("div", Div, (normal((2, 3), 23), nonzero((2, 3), 24))),
    Case("hypot", Hypot, (nonzero((2, 3), 25), nonzero((2, 3), 26))),
    Case("matmul", MatMul, (normal((3, 4), 27), normal((4, 2), 28))),
    Case("linear", Linear, (normal((3, 4), 29), normal((2, 4), 30), normal((2,), 31))),
    Case("bilinear", Bilinear, (normal((3, 4), 32), normal((4, 5), 33), normal((3, 5), 34))),
    Case("sin_cos", SinCos, (normal((3, 4), 35),)),
    Case("sum_mean", SumMean, (normal((3, 4), 36),)),
    Case("split_in_two", SplitInTwo, (normal((4, 3), 37),)),
    Case("power_2_5", Power, (positive((3, 4), 38),), {"p": 2.5}),
    Case("power_neg", Power, (positive((3, 4), 39),), {"p": -1.5}),
    Case("leaky_relu", LeakyRelu, (away_from((3, 4), 40, (0.0,), 0.1),), {"slope": LEAKY_SLOPE}),
    Case("clip", Clip, (away_from((3, 4), 41, CLIP, 0.1),), {"lo": CLIP[0], "hi": CLIP[1]}),
    Case("relu", Relu, (away_from((3, 4), 42, (0.0,), 0.1),)),
]


def test_the_corpus_is_as_large_as_promised() -> None:
    assert len(CORRECT) >= 22
    assert len(WRONG) >= 22
    assert len({c.id for c in CORRECT}) == len(CORRECT)
    assert len({w.id for w in WRONG}) == len(WRONG)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CORRECT, ids=[c.id for c in CORRECT])
def test_a_correct_rule_passes_and_its_mutants_are_caught(case: Case, dtype: Any) -> None:
    result = sg_verify.check(case.fn, *case.inputs, params=case.params, dtype=dtype)
    assert result.ok, str(result)
    assert result.counted > 0, str(result)
    assert result.caught == result.counted, str(result)
    checks = [row.check for row in result.rows]
    assert checks[0] == FD
    assert (FLOAT32 in checks) == (dtype == np.float32)
    assert "PASS" in str(result)


def test_a_rule_on_raw_arrays_says_it_is_first_order_only() -> None:
    case = next(c for c in CORRECT if c.fn is Cube)
    result = sg_verify.check(case.fn, *case.inputs)
    assert result.ok
    (row,) = [r for r in result.rows if r.check == FD2]
    assert row.status == "n/a"
    assert "first order only" in row.detail


def test_second_order_is_checked_where_the_rule_is_written_with_sg_operators() -> None:
    result = sg_verify.check(Swish, normal((3, 4), 1))
    (row,) = [r for r in result.rows if r.check == FD2]
    assert row.status == "pass"


# ---------------------------------------------------------------------------------------
# Wrong variants: one realistic mistake each
# ---------------------------------------------------------------------------------------
class SoftplusForgotBeta(Softplus):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * x.sigmoid(), None  # sigmoid(beta * x)


class SwishDroppedProductTerm(Swish):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * x.sigmoid()  # + x s (1 - s) forgotten


class GeluTanhMissingFactor3(GeluTanh):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        t = (GELU_C * (x + GELU_K * x**3)).tanh()
        du = GELU_C * (1 + GELU_K * x**2)  # d(x^3)/dx is 3 x^2
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)


class GeluTanhRoundedConstant(GeluTanh):
    """sqrt(2/pi) typed in as 0.797885: a relative error of 5e-7 in one factor."""

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        c = 0.797885
        t = (c * (x + GELU_K * x**3)).tanh()
        du = c * (1 + 3 * GELU_K * x**2)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)


class LogCoshTanhDerivative(LogCosh):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        t = x.tanh()
        return g * (1 - t * t)  # the derivative of tanh, not of log cosh


class SmoothAbsWrongSavedTensor(SmoothAbs):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        x, y = ctx.saved_tensors
        return g * y / (x * x + 1)  # mixed up the saved tensors


class ExpOfSavedOutput(Exp):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return g * y.exp()  # treats the saved output as the input


class SigmoidMissingOneMinus(Sigmoid):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return g * y * y  # y (1 - y) mistyped


class SoftplusOneInAMillion(Softplus):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * (x * ctx.beta).sigmoid() * (1 + 1e-6), None


class HalfSoftplus2xOverflowsInFloat32(HalfSoftplus2x):
    """exp(x)**2 / (1 + exp(x)**2): exact in float64, inf / inf = nan in float32 at 50."""

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        e = x.exp() ** 2
        return g * e / (1 + e)


class ScaledAddWrongSavedTensor(ScaledAdd):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor, y: st.Tensor, w: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x, y, w)
        return x + w * y

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        x, _, w = ctx.saved_tensors
        return g, g * w, g * x  # w's gradient from x instead of y


class BiasAddMeanNotSum(BiasAdd):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        return g, g.mean(axis=0, keepdims=True)


class SumSquaresMissing2(SumSquares):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return x * g.reshape(kept(x.shape, ctx.axis))


class LogSumExpNotNormalized(LogSumExp):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x, _) = ctx.saved_tensors
        return g.reshape(kept(x.shape, ctx.axis)) * x.exp()  # exp(x - y) meant


class LogSumExpSavesIntermediate(LogSumExp):
    """Saves the kept-axis intermediate, not the output: right to first order, but under
    ``create_graph=True`` that tensor is a constant, so the second order is wrong."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor, axis: int = -1) -> st.Tensor:
        m = x.amax(axis=axis, keepdims=True)
        y = (x - m).exp().sum(axis=axis, keepdims=True).log() + m
        ctx.save_for_backward(x, y)
        ctx.axis = axis
        return y.sum(axis=axis)

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        x, y = ctx.saved_tensors
        return g.reshape(kept(x.shape, ctx.axis)) * (x - y).exp()


class VarianceBessel(Variance):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        n = x.shape[ctx.axis]
        d = x - x.mean(axis=ctx.axis, keepdims=True)
        return g.reshape(kept(x.shape, ctx.axis)) * 2 * d / (n - 1)


class SoftmaxMissingSubtraction(Softmax):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return y * g


class L2NormForgotDivide(L2Norm):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        x, _ = ctx.saved_tensors
        return g * x  # / n forgotten


class DiffLastElementDropped(Diff):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        return st.concatenate([-g[:1], g[:-1] - g[1:], g[-1:] * 0.0])


class MulAddSwappedFactors(MulAdd):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g * a, g * b, g


class DivSwappedInputs(Div):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g / a, -g * b / (a * a)  # the rule of b / a


class DivWrongSign(Div):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g / b, g * a / (b * b)


class HypotForgotG(Hypot):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        a, b, h = ctx.saved_tensors
        return g * a / h, b / h  # the output gradient left out of b's


class MatMulTransposed(MatMul):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g @ b.T, g.T @ a  # (a.T @ g).T: transposed


class LinearTransposedWeight(Linear):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        x, w = ctx.saved_tensors
        return g @ w, x.T @ g, g.sum(axis=0)  # g.T @ x meant


class BilinearForgotG(Bilinear):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        x1, a, x2 = ctx.saved_tensors
        gx2 = g.reshape((-1, 1)) * x2
        return gx2 @ a.T, x1.T @ x2, g.reshape((-1, 1)) * (x1 @ a)


class SinCosWrongSecondSign(SinCos):
    @staticmethod
    def backward(ctx: Any, gs: st.Tensor, gc: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return gs * x.cos() + gc * x.sin()  # d cos = -sin


class SinCosIgnoresSecond(SinCos):
    @staticmethod
    def backward(ctx: Any, gs: st.Tensor, gc: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return gs * x.cos()


class SumMeanDroppedN(SumMean):
    @staticmethod
    def backward(ctx: Any, gs: st.Tensor, gm: st.Tensor) -> Any:
        return st.broadcast_to((gs + gm).reshape((-1, 1)), ctx.shape)


class SplitInTwoSwapped(SplitInTwo):
    @staticmethod
    def backward(ctx: Any, g1: st.Tensor, g2: st.Tensor) -> Any:
        return st.concatenate([g2, g1], axis=0)


class PowerExponentNotDecremented(Power):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * ctx.p * x**ctx.p


class LeakyReluForgotGWhenNegative(LeakyRelu):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return st.where(x.data > 0, g, g * 0.0 + ctx.slope)  # wrong for x < 0 only


class ClipForgotUpperBound(Clip):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return st.where(x.data > ctx.lo, g, g * 0.0)  # wrong for x > hi only


@dataclass(frozen=True)
class Wrong:
    id: str
    fn: type[st.Function]
    of: str  # the id of the correct case whose inputs and parameters it runs at
    input: int | tuple[int, ...]  # the input(s) whose gradient is wrong (one is named)
    check: str = FD  # the check that must fail
    region: str = ""  # an element of this region of the input must be named ("x<0"...)
    float32: bool = False  # also checked (and failing) in float32


WRONG = [
    Wrong("softplus_forgot_beta", SoftplusForgotBeta, "softplus_beta", 0, float32=True),
    Wrong("swish_dropped_product_term", SwishDroppedProductTerm, "swish", 0),
    Wrong("gelu_tanh_missing_factor_3", GeluTanhMissingFactor3, "gelu_tanh", 0),
    Wrong("gelu_tanh_rounded_constant", GeluTanhRoundedConstant, "gelu_tanh", 0),
    Wrong("log_cosh_tanh_derivative", LogCoshTanhDerivative, "log_cosh", 0, float32=True),
    Wrong("smooth_abs_wrong_saved_tensor", SmoothAbsWrongSavedTensor, "smooth_abs", 0),
    Wrong("exp_of_saved_output", ExpOfSavedOutput, "exp_saves_output", 0),
    Wrong("sigmoid_missing_one_minus", SigmoidMissingOneMinus, "sigmoid_saves_output", 0),
    Wrong("softplus_one_in_a_million", SoftplusOneInAMillion, "softplus_beta", 0),
    Wrong("scaled_add_wrong_saved_tensor", ScaledAddWrongSavedTensor, "scaled_add_bcast", 2),
    Wrong("bias_add_mean_not_sum", BiasAddMeanNotSum, "bias_add_1x4", 1, float32=True),
    Wrong("sum_squares_missing_2", SumSquaresMissing2, "sum_squares_axis1", 0),
    Wrong("sum_squares_keepdims_missing_2", SumSquaresMissing2, "sum_squares_keepdims", 0),
    Wrong("logsumexp_not_normalized", LogSumExpNotNormalized, "logsumexp_axis1", 0),
    Wrong(
        "logsumexp_saves_an_intermediate",
        LogSumExpSavesIntermediate,
        "logsumexp_axis1",
        0,
        check=FD2,
    ),
    Wrong("variance_bessel", VarianceBessel, "variance_axis1", 0),
    Wrong("softmax_missing_subtraction", SoftmaxMissingSubtraction, "softmax_last_axis", 0),
    Wrong("l2_norm_forgot_divide", L2NormForgotDivide, "l2_norm", 0),
    Wrong("diff_last_element_dropped", DiffLastElementDropped, "diff", 0, region="last"),
    Wrong("mul_add_swapped_factors", MulAddSwappedFactors, "mul_add", (0, 1), float32=True),
    Wrong("div_swapped_inputs", DivSwappedInputs, "div", (0, 1)),
    Wrong("div_wrong_sign", DivWrongSign, "div", 1),
    Wrong("hypot_forgot_g", HypotForgotG, "hypot", 1),
    Wrong("matmul_transposed", MatMulTransposed, "matmul_square", 1, float32=True),
    Wrong("linear_transposed_weight", LinearTransposedWeight, "linear_square", 1),
    Wrong("bilinear_forgot_g", BilinearForgotG, "bilinear", 1),
    Wrong("sin_cos_wrong_second_sign", SinCosWrongSecondSign, "sin_cos", 0, float32=True),
    Wrong("sin_cos_ignores_second", SinCosIgnoresSecond, "sin_cos", 0),
    Wrong("sum_mean_dropped_n", SumMeanDroppedN, "sum_mean", 0),
    Wrong("split_in_two_swapped", SplitInTwoSwapped, "split_in_two", 0),
    Wrong("power_exponent_not_decremented", PowerExponentNotDecremented, "power_2_5", 0),
    Wrong(
        "leaky_relu_wrong_for_x_lt_0", LeakyReluForgotGWhenNegative, "leaky_relu", 0, region="x<0"
    ),
    Wrong("clip_forgot_upper_bound", ClipForgotUpperBound, "clip", 0, region="x>hi"),
]

EXTRA_INPUTS = {
    "matmul_square": Case("matmul_square", MatMul, (normal((3, 3), 50), normal((3, 3), 51))),
    "linear_square": Case(
        "linear_square", Linear, (normal((3, 4), 52), normal((4, 4), 53), normal((4,), 54))
    ),
}


def _case(of: str) -> Case:
    return EXTRA_INPUTS.get(of) or next(c for c in CORRECT if c.id == of)


def _element(where: str) -> tuple[int, ...]:
    found = re.search(r"element \(([\d, ]*)\)", where)
    assert found, where
    return tuple(int(k) for k in found.group(1).split(",") if k.strip())


def _in_region(region: str, case: Case, index: tuple[int, ...]) -> bool:
    x = case.inputs[0]
    if region == "last":
        return index == (x.shape[0] - 1,)
    value = float(x[index])
    if region == "x<0":
        return value < 0
    assert region == "x>hi"
    return bool(value > case.params["hi"])


def _assert_caught(wrong: Wrong, dtype: Any) -> None:
    case = _case(wrong.of)
    result = sg_verify.check(wrong.fn, *case.inputs, params=case.params, dtype=dtype)
    assert not result.ok, str(result)
    assert "FAIL" in str(result)
    assert result.mutants == []  # a failed rule is not measured by mutants
    rows = {row.check: row for row in result.failures}
    assert wrong.check in rows, str(result)
    if wrong.check == FD2:  # right to first order: only the second order sees it
        assert FD not in rows, str(result)
    where = rows[wrong.check].where
    inputs = wrong.input if isinstance(wrong.input, tuple) else (wrong.input,)
    assert any(where.startswith(f"input {i} element") for i in inputs), str(result)
    if wrong.region:
        assert _in_region(wrong.region, case, _element(where)), str(result)


def test_the_wrong_variants_run_where_their_correct_rule_passes() -> None:
    """The square inputs the transposed rules are checked at: the right rules pass there."""
    for case in EXTRA_INPUTS.values():
        result = sg_verify.check(case.fn, *case.inputs, params=case.params)
        assert result.ok, str(result)
        assert result.caught == result.counted > 0, str(result)


def test_the_regions_of_the_region_only_errors_are_populated() -> None:
    """The inputs have elements on both sides of the region, so the error is local."""
    leaky = _case("leaky_relu").inputs[0]
    assert (leaky < 0).any()
    assert (leaky > 0).any()
    clip = _case("clip").inputs[0]
    assert (clip > CLIP[1]).any()
    assert ((clip > CLIP[0]) & (clip < CLIP[1])).any()
    assert (clip < CLIP[0]).any()


@pytest.mark.parametrize("wrong", WRONG, ids=[w.id for w in WRONG])
def test_a_wrong_rule_is_caught_in_float64(wrong: Wrong) -> None:
    _assert_caught(wrong, np.float64)


WRONG_FLOAT32 = [w for w in WRONG if w.float32]


@pytest.mark.parametrize("wrong", WRONG_FLOAT32, ids=[w.id for w in WRONG_FLOAT32])
def test_a_wrong_rule_is_caught_in_float32(wrong: Wrong) -> None:
    _assert_caught(wrong, np.float32)


def test_a_rule_wrong_in_float32_only_is_caught_in_float32() -> None:
    """Its float64 gradients are right (the value checks pass); the properties call the
    rule in float32 too, and the float32 row names the element where it overflows."""
    case = _case("half_softplus_2x")
    double = sg_verify.check(HalfSoftplus2xOverflowsInFloat32, *case.inputs)
    assert [row.check for row in double.failures] == ["properties"], str(double)
    assert "float32" in double.failures[0].where
    single = sg_verify.check(HalfSoftplus2xOverflowsInFloat32, *case.inputs, dtype=np.float32)
    failed = {row.check: row for row in single.failures}
    assert set(failed) == {FLOAT32, "properties"}, str(single)
    (index,) = _element(failed[FLOAT32].where)
    assert case.inputs[0][index] > 40  # where exp(x) ** 2 overflows float32


def test_a_matmul_rule_with_a_transposed_gradient_of_the_wrong_shape_is_caught() -> None:
    case = _case("matmul")
    result = sg_verify.check(MatMulTransposed, *case.inputs)
    assert not result.ok
    row = result.failures[0]
    assert row.check == FD
    assert "ShapeMismatchError" in row.where
    assert "MatMulTransposed" in row.where


# ---------------------------------------------------------------------------------------
# Kink probes
# ---------------------------------------------------------------------------------------
class ReluNanAtZero(Relu):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        with np.errstate(invalid="ignore"):
            step = (1 + x / x.abs()) / 2  # 0 / 0 at the kink
        return g * step


class ReluTwoAtZero(Relu):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        step = np.where(x.data > 0, 1.0, np.where(x.data == 0, 2.0, 0.0))
        return g * step


PROBE = [(np.zeros(3),)]
AWAY = away_from((3,), 60, (0.0,), 0.2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_relu_with_the_zero_convention_passes_the_kink_probe(dtype: Any) -> None:
    result = sg_verify.check(Relu, AWAY, probes=PROBE, dtype=dtype)
    assert result.ok, str(result)
    (row,) = [r for r in result.rows if r.check == PROBES]
    assert row.status == "pass"
    assert result.caught == result.counted > 0


@pytest.mark.parametrize("wrong", [ReluNanAtZero, ReluTwoAtZero], ids=["nan", "two"])
def test_relu_wrong_at_the_kink_fails_the_probe_row_alone(wrong: type[st.Function]) -> None:
    assert sg_verify.check(wrong, AWAY).ok  # right everywhere but at the kink
    result = sg_verify.check(wrong, AWAY, probes=PROBE)
    assert [row.check for row in result.failures] == [PROBES], str(result)
    assert "probe 0" in result.failures[0].where
    assert "input 0" in result.failures[0].where
