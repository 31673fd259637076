"""``sg_verify.check_torch`` on a corpus of custom rules written as
``torch.autograd.Function`` (the same corpus as the sg-verify package's
``test_check_corpus.py``, in PyTorch form), and ``sg_verify.check`` with a PyTorch
counterpart (needs PyTorch: ``nox -s parity``).

Correct rules pass every check in float64 and float32 and every own-rule mutant of each
that changes the gradient is caught; each wrong variant (a subclass whose ``backward``
makes one realistic mistake) fails, and the failing row names the check and the input.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sg_tensor as st
import sg_verify

FD = "gradient vs finite differences"
TORCH = "gradient vs PyTorch float64"
TORCH2 = "second order vs PyTorch"
FLOAT32 = "float32 vs float64"
PROBES = "kink probes"
FD2 = "second order vs finite differences"

GELU_C = math.sqrt(2.0 / math.pi)
GELU_K = 0.044715

Tensor = torch.Tensor


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(2000 + seed)


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


# ---------------------------------------------------------------------------------------
# Correct rules
# ---------------------------------------------------------------------------------------
# elementwise
class Softplus(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, beta: float = 1.0) -> Tensor:
        ctx.save_for_backward(x)
        ctx.beta = beta
        return (x * beta).exp().log1p() / beta

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * (x * ctx.beta).sigmoid(), None


class Swish(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x * x.sigmoid()

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        s = x.sigmoid()
        return g * (s + x * s * (1 - s))


class GeluTanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return 0.5 * x * (1 + (GELU_C * (x + GELU_K * x**3)).tanh())

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        t = (GELU_C * (x + GELU_K * x**3)).tanh()
        du = GELU_C * (1 + 3 * GELU_K * x**2)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)


class LogCosh(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x.cosh().log()

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * x.tanh()


class SmoothAbs(torch.autograd.Function):
    """sqrt(x^2 + eps), saving its input and its output."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, eps: float = 1e-2) -> Tensor:
        y = (x * x + eps).sqrt()
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        x, y = ctx.saved_tensors
        return g * x / y, None


class Exp(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return g * y


class Sigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        y = 1 / (1 + (-x).exp())
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return g * y * (1 - y)


class HalfSoftplus2x(torch.autograd.Function):
    """softplus(2x) / 2, stable in float32 far out (x ~ 50)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        z = 2 * x
        return (z.clamp(min=0) + (-z.abs()).exp().log1p()) / 2

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * (2 * x).sigmoid()


# broadcasting: torch wants each gradient of its input's shape
class ScaledAdd(torch.autograd.Function):
    """x + w * y with x, y (3, 4) and w (4,)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor, w: Tensor) -> Tensor:
        ctx.save_for_backward(y, w)
        return x + w * y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        y, w = ctx.saved_tensors
        return g, g * w, (g * y).sum(dim=0)


class ScaledAddUnsummed(ScaledAdd):
    """w's gradient of the output's shape (3, 4): torch sums it to w's (4,) itself."""

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        y, w = ctx.saved_tensors
        return g, g * w, g * y


class BiasAdd(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, b: Tensor) -> Tensor:
        return x + b

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        return g, g.sum(dim=0, keepdim=True)


# reductions
class SumSquares(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, axis: int = -1, keepdims: bool = False) -> Tensor:
        ctx.save_for_backward(x)
        ctx.axis, ctx.keepdims = axis, keepdims
        return (x * x).sum(dim=axis, keepdim=keepdims)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        g = g if ctx.keepdims else g.unsqueeze(ctx.axis)
        return 2 * x * g, None, None


class LogSumExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, axis: int = -1) -> Tensor:
        m = x.amax(dim=axis, keepdim=True)
        y = ((x - m).exp().sum(dim=axis, keepdim=True).log() + m).squeeze(axis)
        ctx.save_for_backward(x, y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        x, y = ctx.saved_tensors
        return g.unsqueeze(ctx.axis) * (x - y.unsqueeze(ctx.axis)).exp(), None


class Variance(torch.autograd.Function):
    """Mean-centered (population) variance along an axis."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, axis: int = -1) -> Tensor:
        ctx.save_for_backward(x)
        ctx.axis = axis
        d = x - x.mean(dim=axis, keepdim=True)
        return (d * d).mean(dim=axis)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        n = x.shape[ctx.axis]
        d = x - x.mean(dim=ctx.axis, keepdim=True)
        return g.unsqueeze(ctx.axis) * 2 * d / n, None


class Softmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        e = (x - x.amax(dim=-1, keepdim=True)).exp()
        y = e / e.sum(dim=-1, keepdim=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return y * (g - (g * y).sum(dim=-1, keepdim=True))


class L2Norm(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        n = (x * x).sum().sqrt()
        ctx.save_for_backward(x, n)
        return n

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        x, n = ctx.saved_tensors
        return g * x / n


class Diff(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return x[1:] - x[:-1]

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        return torch.cat([-g[:1], g[:-1] - g[1:], g[-1:]])


# several inputs
class MulAdd(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor, c: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return a * b + c

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g * b, g * a, g


class Div(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g / b, -g * a / (b * b)


class Hypot(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor) -> Tensor:
        h = (a * a + b * b).sqrt()
        ctx.save_for_backward(a, b, h)
        return h

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        a, b, h = ctx.saved_tensors
        return g * a / h, g * b / h


class MatMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g @ b.T, a.T @ g


class Linear(torch.autograd.Function):
    """x @ W.T + b."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(x, w)
        return x @ w.T + b

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        x, w = ctx.saved_tensors
        return g @ w, g.T @ x, g.sum(dim=0)


class Bilinear(torch.autograd.Function):
    """y[i] = x1[i] @ A @ x2[i]."""

    @staticmethod
    def forward(ctx: Any, x1: Tensor, a: Tensor, x2: Tensor) -> Tensor:
        ctx.save_for_backward(x1, a, x2)
        return ((x1 @ a) * x2).sum(dim=1)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        x1, a, x2 = ctx.saved_tensors
        gx2 = g.unsqueeze(1) * x2
        return gx2 @ a.T, x1.T @ gx2, g.unsqueeze(1) * (x1 @ a)


# several outputs
class SinCos(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> tuple[Tensor, Tensor]:
        ctx.save_for_backward(x)
        return x.sin(), x.cos()

    @staticmethod
    def backward(ctx: Any, gs: Tensor, gc: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return gs * x.cos() - gc * x.sin()


class SumMean(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> tuple[Tensor, Tensor]:
        ctx.shape = x.shape
        return x.sum(dim=1), x.mean(dim=1)

    @staticmethod
    def backward(ctx: Any, gs: Tensor, gm: Tensor) -> Any:
        n = ctx.shape[1]
        return (gs + gm / n).unsqueeze(1).expand(ctx.shape)


class SplitInTwo(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> tuple[Tensor, Tensor]:
        ctx.half = x.shape[0] // 2
        return x[: ctx.half].clone(), x[ctx.half :].clone()

    @staticmethod
    def backward(ctx: Any, g1: Tensor, g2: Tensor) -> Any:
        return torch.cat([g1, g2], dim=0)


# with parameters
class Power(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, p: float = 2.0) -> Tensor:
        ctx.save_for_backward(x)
        ctx.p = p
        return x**p

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * ctx.p * x ** (ctx.p - 1), None


class LeakyRelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, slope: float = 0.01) -> Tensor:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return torch.where(x > 0, x, x * slope)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return torch.where(x > 0, g, g * ctx.slope), None


class Clip(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, lo: float = -1.0, hi: float = 1.0) -> Tensor:
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        inside = (x > ctx.lo) & (x < ctx.hi)
        return torch.where(inside, g, torch.zeros_like(g)), None, None


class Relu(torch.autograd.Function):
    """relu with PyTorch's convention: 0 at 0."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return torch.where(x > 0, g, torch.zeros_like(g))


@dataclass(frozen=True)
class Case:
    id: str
    fn: Any
    inputs: tuple[np.ndarray, ...]
    params: dict[str, Any] = field(default_factory=dict)


CLIP = (-0.5, 0.8)

CORRECT = [
    Case("softplus_beta", Softplus, (normal((3, 4), 0),), {"beta": 2.0}),
    Case("swish", Swish, (normal((3, 4), 1),)),
    Case("gelu_tanh", GeluTanh, (normal((3, 4), 2),)),
    Case("log_cosh", LogCosh, (normal((3, 4), 3),)),
    Case("smooth_abs", SmoothAbs, (normal((3, 4), 4),), {"eps": 0.1}),
    Case("exp_saves_output", Exp, (normal((3, 4), 5),)),
    Case("sigmoid_saves_output", Sigmoid, (normal((3, 4), 6),)),
    Case("half_softplus_2x", HalfSoftplus2x, (np.array([-3.0, -0.7, 0.4, 2.5, 48.0, 50.0]),)),
    Case("scaled_add_bcast", ScaledAdd, (normal((3, 4), 8), normal((3, 4), 9), normal((4,), 10))),
    Case(
        "scaled_add_unsummed",
        ScaledAddUnsummed,
        (normal((3, 4), 8), normal((3, 4), 9), normal((4,), 10)),
    ),
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
    Case("leaky_relu", LeakyRelu, (away_from((3, 4), 40, (0.0,), 0.1),), {"slope": 0.1}),
    Case("clip", Clip, (away_from((3, 4), 41, CLIP, 0.1),), {"lo": CLIP[0], "hi": CLIP[1]}),
    Case("relu", Relu, (away_from((3, 4), 42, (0.0,), 0.1),)),
]


def test_the_corpus_is_as_large_as_promised() -> None:
    assert len(CORRECT) >= 20
    assert len(WRONG) >= 20
    assert len({c.id for c in CORRECT}) == len(CORRECT)
    assert len({w.id for w in WRONG}) == len(WRONG)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CORRECT, ids=[c.id for c in CORRECT])
def test_a_correct_torch_rule_passes_and_its_mutants_are_caught(case: Case, dtype: Any) -> None:
    result = sg_verify.check_torch(case.fn, *case.inputs, params=case.params, dtype=dtype)
    assert result.ok, str(result)
    assert result.counted > 0, str(result)
    assert result.caught == result.counted, str(result)
    statuses = {row.check: row.status for row in result.rows}
    assert statuses[FD] == "pass"
    assert statuses[FD2] == "pass"  # torch's double backward through the rule
    assert (FLOAT32 in statuses) == (dtype == np.float32)


def test_the_rule_torch_runs_is_the_one_checked() -> None:
    """The own-rule mutants transform torch's gradients: a rule torch never calls would
    leave them unchanged, and none would count."""
    case = CORRECT[0]
    result = sg_verify.check_torch(case.fn, *case.inputs, params=case.params)
    assert [m.caught for m in result.mutants] == [True] * 4


# ---------------------------------------------------------------------------------------
# Wrong variants: one realistic mistake each
# ---------------------------------------------------------------------------------------
class SoftplusForgotBeta(Softplus):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * x.sigmoid(), None


class SwishDroppedProductTerm(Swish):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * x.sigmoid()


class GeluTanhMissingFactor3(GeluTanh):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        t = (GELU_C * (x + GELU_K * x**3)).tanh()
        du = GELU_C * (1 + GELU_K * x**2)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)


class GeluTanhRoundedConstant(GeluTanh):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        c = 0.797885
        t = (c * (x + GELU_K * x**3)).tanh()
        du = c * (1 + 3 * GELU_K * x**2)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)


class LogCoshTanhDerivative(LogCosh):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        t = x.tanh()
        return g * (1 - t * t)


class SmoothAbsWrongSavedTensor(SmoothAbs):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        x, y = ctx.saved_tensors
        return g * y / (x * x + 1), None


class ExpOfSavedOutput(Exp):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return g * y.exp()


class SigmoidMissingOneMinus(Sigmoid):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return g * y * y


class SoftplusOneInAMillion(Softplus):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * (x * ctx.beta).sigmoid() * (1 + 1e-6), None


class HalfSoftplus2xOverflowsInFloat32(HalfSoftplus2x):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        e = x.exp() ** 2
        return g * e / (1 + e)


class ScaledAddWrongSavedTensor(ScaledAdd):
    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor, w: Tensor) -> Tensor:
        ctx.save_for_backward(x, y, w)
        return x + w * y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        x, _, w = ctx.saved_tensors
        return g, g * w, (g * x).sum(dim=0)


class BiasAddMeanNotSum(BiasAdd):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        return g, g.mean(dim=0, keepdim=True)


class SumSquaresMissing2(SumSquares):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        g = g if ctx.keepdims else g.unsqueeze(ctx.axis)
        return x * g, None, None


class LogSumExpNotNormalized(LogSumExp):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        x, _ = ctx.saved_tensors
        return g.unsqueeze(ctx.axis) * x.exp(), None


class VarianceBessel(Variance):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        n = x.shape[ctx.axis]
        d = x - x.mean(dim=ctx.axis, keepdim=True)
        return g.unsqueeze(ctx.axis) * 2 * d / (n - 1), None


class SoftmaxMissingSubtraction(Softmax):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return y * g


class L2NormForgotDivide(L2Norm):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        x, _ = ctx.saved_tensors
        return g * x


class DiffLastElementDropped(Diff):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        return torch.cat([-g[:1], g[:-1] - g[1:], g[-1:] * 0.0])


class MulAddSwappedFactors(MulAdd):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g * a, g * b, g


class DivSwappedInputs(Div):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g / a, -g * b / (a * a)


class DivWrongSign(Div):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g / b, g * a / (b * b)


class HypotForgotG(Hypot):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        a, b, h = ctx.saved_tensors
        return g * a / h, b / h


class MatMulTransposed(MatMul):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        a, b = ctx.saved_tensors
        return g @ b.T, g.T @ a


class LinearTransposedWeight(Linear):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        x, w = ctx.saved_tensors
        return g @ w, x.T @ g, g.sum(dim=0)


class BilinearForgotG(Bilinear):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        x1, a, x2 = ctx.saved_tensors
        gx2 = g.unsqueeze(1) * x2
        return gx2 @ a.T, x1.T @ x2, g.unsqueeze(1) * (x1 @ a)


class SinCosWrongSecondSign(SinCos):
    @staticmethod
    def backward(ctx: Any, gs: Tensor, gc: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return gs * x.cos() + gc * x.sin()


class SinCosIgnoresSecond(SinCos):
    @staticmethod
    def backward(ctx: Any, gs: Tensor, gc: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return gs * x.cos()


class SumMeanDroppedN(SumMean):
    @staticmethod
    def backward(ctx: Any, gs: Tensor, gm: Tensor) -> Any:
        return (gs + gm).unsqueeze(1).expand(ctx.shape)


class SplitInTwoSwapped(SplitInTwo):
    @staticmethod
    def backward(ctx: Any, g1: Tensor, g2: Tensor) -> Any:
        return torch.cat([g2, g1], dim=0)


class PowerExponentNotDecremented(Power):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * ctx.p * x**ctx.p, None


class LeakyReluForgotGWhenNegative(LeakyRelu):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return torch.where(x > 0, g, g * 0.0 + ctx.slope), None


class ClipForgotUpperBound(Clip):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return torch.where(x > ctx.lo, g, torch.zeros_like(g)), None, None


@dataclass(frozen=True)
class Wrong:
    id: str
    fn: Any
    of: str  # the id of the correct case whose inputs and parameters it runs at
    input: int | tuple[int, ...]  # the input(s) whose gradient is wrong (one is named)
    region: str = ""  # an element of this region of the input must be named
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
    result = sg_verify.check_torch(wrong.fn, *case.inputs, params=case.params, dtype=dtype)
    assert not result.ok, str(result)
    assert result.mutants == []
    rows = {row.check: row for row in result.failures}
    assert FD in rows, str(result)
    where = rows[FD].where
    inputs = wrong.input if isinstance(wrong.input, tuple) else (wrong.input,)
    assert any(where.startswith(f"input {i} element") for i in inputs), str(result)
    if wrong.region:
        assert _in_region(wrong.region, case, _element(where)), str(result)


def test_the_wrong_variants_run_where_their_correct_rule_passes() -> None:
    for case in EXTRA_INPUTS.values():
        result = sg_verify.check_torch(case.fn, *case.inputs, params=case.params)
        assert result.ok, str(result)
        assert result.caught == result.counted > 0, str(result)


def test_the_regions_of_the_region_only_errors_are_populated() -> None:
    leaky = _case("leaky_relu").inputs[0]
    assert (leaky < 0).any()
    assert (leaky > 0).any()
    clip = _case("clip").inputs[0]
    assert (clip > CLIP[1]).any()
    assert ((clip > CLIP[0]) & (clip < CLIP[1])).any()
    assert (clip < CLIP[0]).any()


@pytest.mark.parametrize("wrong", WRONG, ids=[w.id for w in WRONG])
def test_a_wrong_torch_rule_is_caught_in_float64(wrong: Wrong) -> None:
    _assert_caught(wrong, np.float64)


WRONG_FLOAT32 = [w for w in WRONG if w.float32]


@pytest.mark.parametrize("wrong", WRONG_FLOAT32, ids=[w.id for w in WRONG_FLOAT32])
def test_a_wrong_torch_rule_is_caught_in_float32(wrong: Wrong) -> None:
    _assert_caught(wrong, np.float32)


def test_a_torch_rule_wrong_in_float32_only_is_caught_in_float32() -> None:
    case = _case("half_softplus_2x")
    double = sg_verify.check_torch(HalfSoftplus2xOverflowsInFloat32, *case.inputs)
    assert [row.check for row in double.failures] == ["properties"], str(double)
    assert "float32" in double.failures[0].where
    single = sg_verify.check_torch(
        HalfSoftplus2xOverflowsInFloat32, *case.inputs, dtype=np.float32
    )
    failed = {row.check: row for row in single.failures}
    assert set(failed) == {FLOAT32, "properties"}, str(single)
    (index,) = _element(failed[FLOAT32].where)
    assert case.inputs[0][index] > 40


# ---------------------------------------------------------------------------------------
# Kink probes
# ---------------------------------------------------------------------------------------
class ReluNanAtZero(Relu):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * (1 + x / x.abs()) / 2


class ReluTwoAtZero(Relu):
    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        (x,) = ctx.saved_tensors
        step = torch.where(x > 0, 1.0, torch.where(x == 0, 2.0, 0.0)).to(g.dtype)
        return g * step


PROBE = [(np.zeros(3),)]
AWAY = away_from((3,), 60, (0.0,), 0.2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_torch_relu_with_the_zero_convention_passes_the_kink_probe(dtype: Any) -> None:
    result = sg_verify.check_torch(Relu, AWAY, probes=PROBE, dtype=dtype)
    assert result.ok, str(result)
    (row,) = [r for r in result.rows if r.check == PROBES]
    assert row.status == "pass"
    assert result.caught == result.counted > 0


@pytest.mark.parametrize("wrong", [ReluNanAtZero, ReluTwoAtZero], ids=["nan", "two"])
def test_torch_relu_wrong_at_the_kink_fails_the_probe_row_alone(wrong: Any) -> None:
    assert sg_verify.check_torch(wrong, AWAY).ok
    result = sg_verify.check_torch(wrong, AWAY, probes=PROBE)
    assert [row.check for row in result.failures] == [PROBES], str(result)
    assert "probe 0" in result.failures[0].where


# ---------------------------------------------------------------------------------------
# A plain torch function (not a Function): its rule is torch's autograd
# ---------------------------------------------------------------------------------------
def softplus_times_x(x: Tensor, beta: float) -> Tensor:
    return F.softplus(x, beta=beta) * x


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_a_plain_torch_function_passes(dtype: Any) -> None:
    result = sg_verify.check_torch(
        softplus_times_x, normal((3, 4), 70), params={"beta": 2.0}, dtype=dtype
    )
    assert result.ok, str(result)
    assert result.name == "softplus_times_x"
    assert result.counted > 0
    assert result.caught == result.counted


def test_a_plain_torch_function_of_two_inputs_with_two_outputs_passes() -> None:
    result = sg_verify.check_torch(
        lambda a, b: (a.sin() * b, (a @ b.T).logsumexp(dim=1)),
        normal((3, 4), 71),
        normal((3, 4), 72),
    )
    assert result.ok, str(result)
    assert result.caught == result.counted > 0


# ---------------------------------------------------------------------------------------
# sg rules against their PyTorch counterparts
# ---------------------------------------------------------------------------------------
class SgSoftplus(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor, beta: float = 1.0) -> st.Tensor:
        ctx.save_for_backward(x)
        ctx.beta = beta
        return (x * beta).exp().log1p() / beta

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * (x * ctx.beta).sigmoid()


class SgSoftplusOneInAMillion(SgSoftplus):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return g * (x * ctx.beta).sigmoid() * (1 + 1e-6)


class SgSwish(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x)
        return x * x.sigmoid()

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        s = x.sigmoid()
        return g * (s + x * s * (1 - s))


class SgGeluTanh(st.Function):
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


class SgLogSumExp(st.Function):
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
        shape = tuple(1 if k == ctx.axis % x.ndim else n for k, n in enumerate(x.shape))
        return g.reshape(shape) * (x - y.reshape(shape)).exp()


class SgLinear(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor, w: st.Tensor, b: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x, w)
        return x @ w.T + b

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        x, w = ctx.saved_tensors
        return g @ w, g.T @ x, g  # b's gradient summed by the driver


class SgSinCos(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> tuple[st.Tensor, st.Tensor]:
        ctx.save_for_backward(x)
        return x.sin(), x.cos()

    @staticmethod
    def backward(ctx: Any, gs: st.Tensor, gc: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return gs * x.cos() - gc * x.sin()


class SgRelu(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x)
        return x.maximum(0.0)

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        return st.where(x.data > 0, g, g * 0.0)


class SgReluHalfAtZero(SgRelu):
    """1/2 at 0: between the one-sided derivatives, but not PyTorch's convention."""

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        step = np.where(x.data > 0, 1.0, np.where(x.data == 0, 0.5, 0.0))
        return g * step


AGAINST_TORCH = [
    Case("softplus", SgSoftplus, (normal((3, 4), 80),), {"beta": 2.0}),
    Case("swish", SgSwish, (normal((3, 4), 81),)),
    Case("gelu_tanh", SgGeluTanh, (normal((3, 4), 82),)),
    Case("logsumexp", SgLogSumExp, (normal((3, 4), 83),), {"axis": 1}),
    Case("linear", SgLinear, (normal((3, 4), 84), normal((2, 4), 85), normal((2,), 86))),
    Case("sin_cos", SgSinCos, (normal((3, 4), 87),)),
]
TORCH_FNS: dict[str, Any] = {
    "softplus": F.softplus,
    "swish": F.silu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "logsumexp": lambda x, axis: torch.logsumexp(x, dim=axis),
    "linear": F.linear,
    "sin_cos": lambda x: (x.sin(), x.cos()),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", AGAINST_TORCH, ids=[c.id for c in AGAINST_TORCH])
def test_an_sg_rule_agrees_with_its_torch_counterpart(case: Case, dtype: Any) -> None:
    result = sg_verify.check(
        case.fn, *case.inputs, torch_fn=TORCH_FNS[case.id], params=case.params, dtype=dtype
    )
    assert result.ok, str(result)
    statuses = {row.check: row.status for row in result.rows}
    assert statuses[TORCH] == "pass"
    assert statuses[TORCH2] == "pass"
    assert result.worst[TORCH] <= 1e-10
    assert result.counted > 0
    assert result.caught == result.counted


def test_an_sg_rule_off_by_one_in_a_million_fails_against_torch() -> None:
    result = sg_verify.check(
        SgSoftplusOneInAMillion, normal((3, 4), 80), torch_fn=F.softplus, params={"beta": 2.0}
    )
    statuses = {row.check: row.status for row in result.rows}
    assert statuses[FD] == "FAIL"
    assert statuses[TORCH] == "FAIL", str(result)
    assert result.worst[TORCH] > 1e-7


def test_an_sg_rule_against_a_torch_counterpart_of_another_function_fails() -> None:
    """A right rule for swish checked against PyTorch's gelu: the PyTorch row fails."""
    result = sg_verify.check(SgSwish, normal((3, 4), 81), torch_fn=F.gelu)
    assert [row.check for row in result.failures][:1] == [TORCH], str(result)


def test_an_sg_relu_agrees_with_torch_at_the_kink() -> None:
    x = away_from((3,), 61, (0.0,), 0.2)
    result = sg_verify.check(SgRelu, x, torch_fn=torch.relu, probes=PROBE)
    assert result.ok, str(result)
    statuses = {row.check: row.status for row in result.rows}
    assert statuses[PROBES] == "pass"


def test_an_sg_relu_with_another_convention_at_the_kink_fails_against_torch() -> None:
    """1/2 at 0 lies between the one-sided derivatives (the probe alone passes it); the
    probe against PyTorch, whose convention is 0, fails."""
    x = away_from((3,), 61, (0.0,), 0.2)
    assert sg_verify.check(SgReluHalfAtZero, x, probes=PROBE).ok
    result = sg_verify.check(SgReluHalfAtZero, x, torch_fn=torch.relu, probes=PROBE)
    assert [row.check for row in result.failures] == [PROBES], str(result)
    assert "vs PyTorch" in result.failures[0].where


def test_a_first_order_only_torch_rule_is_not_failed_for_its_second_order() -> None:
    """A correct rule marked @once_differentiable (or computing through numpy) has no
    second derivative to check: the row says so instead of failing."""
    from torch.autograd.function import once_differentiable

    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        @once_differentiable
        def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return 3 * g * x**2

    class CubeThroughNumpy(Cube):
        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return torch.from_numpy(3 * g.detach().numpy() * x.detach().numpy() ** 2)

    for rule in (Cube, CubeThroughNumpy):
        result = sg_verify.check_torch(rule, np.array([0.5, -1.0, 2.0]))
        assert result.ok, str(result)
        row = next(r for r in result.rows if r.check.startswith("second order"))
        assert row.status == "n/a"
        assert "first order only" in row.detail
        assert result.caught == result.counted == 4
