"""Elementwise operators: arithmetic with broadcasting, and the elementary functions.

Each entry is the forward (a numpy ufunc or a short expression) with the operator's
facts, and below it the vector-Jacobian product. Binary rules return gradients with the
output's shape; the driver sums them back to each input's shape (``unbroadcast``).
Where PyTorch has a convention at a kink or a domain edge, the rule follows it and the
entry declares it (a :class:`~sg_scalar.declare.Kink` or a ``Tie``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from sg_scalar.bounds import (
    Bounds,
    constant_power_bound,
    log_bound,
    power_bound,
    product,
    quotient,
    total,
    unit,
)
from sg_scalar.declare import NONZERO, POSITIVE, REAL, Case, Domain, Kink, Tie, Torch, power_domain
from sg_scalar.graph import Op, no_grad
from sg_tensor import dtypes
from sg_tensor.capturing import computed
from sg_tensor.kernels import Into
from sg_tensor.op import OPS, call, composite, data, indicator, number, op, quiet
from sg_tensor.tensor import Tensor, as_tensor, binary, operand

Grads = tuple[Any, ...]


def floating(forward: Callable[..., Any]) -> Callable[..., Any]:
    """The forward of a real function, taking bool and integer inputs as PyTorch does:
    converted to the default floating dtype first (``tensor([1, 2]).exp()`` is float64,
    or float32 after ``set_default_dtype(float32)``), where numpy would give float16 for
    bool and int8, float32 for int16, and ``erf`` would keep the integer dtype."""

    def float_forward(x: Any, **ctx: Any) -> Any:
        if x.dtype.kind in "biu":
            x = x.astype(dtypes.get_default_dtype())
        return forward(x, **ctx)

    float_forward.__name__ = getattr(forward, "__name__", "forward")
    return float_forward


# ---------------------------------------------------------------------------------------
# Binary arithmetic (broadcasting)
# ---------------------------------------------------------------------------------------
def _sub_into(outs: Any, g: Any, out: Any, a: Any, b: Any) -> Grads:
    return g, np.negative(g, out=outs[1])


def _mul_into(
    outs: Any, g: Any, out: Any, a: Any, b: Any, *, needs_input_grad: tuple[bool, bool]
) -> Grads:
    need_a, need_b = needs_input_grad
    ga = (np.multiply(g, b, out=outs[0]) if outs[0] is not None else g * b) if need_a else None
    gb = (np.multiply(g, a, out=outs[1]) if outs[1] is not None else g * a) if need_b else None
    return ga, gb


@op("add", np.add, "binary", operator="+", numpy=np.add, torch="+", bound=total, analytic=True,
    into=Into(forward=lambda o, a, b: np.add(a, b, out=o)))  # fmt: skip
def add(g: Any, out: Any, a: Any, b: Any) -> Grads:
    """d(a + b) = da + db."""
    return g, g


@op("sub", np.subtract, "binary", operator="-", numpy=np.subtract, torch="-", bound=total,
    analytic=True, into=Into(lambda o, a, b: np.subtract(a, b, out=o), _sub_into))  # fmt: skip
def sub(g: Any, out: Any, a: Any, b: Any) -> Grads:
    """d(a - b) = da - db. (Its own rule rather than a + (-b): one pass less over memory.)"""
    return g, -g


@op("mul", np.multiply, "binary", operator="*", numpy=np.multiply, torch="*", bound=product,
    needs_input_grad=True, grad_reads=((1,), (0,)), analytic=True,
    into=Into(lambda o, a, b: np.multiply(a, b, out=o), _mul_into))  # fmt: skip
def mul(g: Any, out: Any, a: Any, b: Any, *, needs_input_grad: tuple[bool, bool]) -> Grads:
    """d(a * b) = b da + a db."""
    need_a, need_b = needs_input_grad
    return (g * b if need_a else None), (g * a if need_b else None)


@op("div", quiet(np.divide), "binary", operator="/", numpy=np.true_divide, torch="/",
    inputs=(REAL, NONZERO), bound=quotient, needs_input_grad=True,
    grad_reads=((1,), (0, 1)), analytic=True)  # fmt: skip
def div(g: Any, out: Any, a: Any, b: Any, *, needs_input_grad: tuple[bool, bool]) -> Grads:
    """d(a / b) = da / b - a db / b**2."""
    need_a, need_b = needs_input_grad
    return (g / b if need_a else None), (-g * a / (b * b) if need_b else None)


def power(base: Any, exponent: Any) -> Tensor:
    """``base ** exponent``, with broadcasting; a number exponent is ``pow_scalar``."""
    is_number = isinstance(exponent, (int, float, np.number)) and not isinstance(exponent, bool)
    if is_number and isinstance(base, Tensor):
        # An integer exponent (numpy's too) keeps an integer tensor's dtype, as PyTorch
        p = int(exponent) if isinstance(exponent, (int, np.integer)) else float(exponent)
        return base._apply1(OPS["pow_scalar"], {"p": p})
    return binary(OPS["pow"], base, exponent)


@op("pow", quiet(np.power), "binary", power, operator="**", numpy=np.power, torch="**",
    inputs=(POSITIVE, REAL), bound=power_bound, needs_input_grad=True, analytic=True)  # fmt: skip
def pow_(g: Any, out: Any, x: Any, y: Any, *, needs_input_grad: tuple[bool, bool]) -> Grads:
    """d(x**y) = y x**(y-1) dx + x**y log(x) dy, with PyTorch's zeros.

    The x-gradient is 0 where ``y == 0``; the y-gradient is 0 where ``x == 0`` and
    ``y >= 0`` (instead of ``0 * log 0 = nan``); a negative ``x`` gives ``nan`` there.
    """
    x_data, y_data = data(x), data(y)
    need_x, need_y = needs_input_grad
    gx = gy = None
    if need_x:
        gx = np.where(y_data == 0, 0.0, g * (y * x ** (y - 1)))
    if need_y:
        gy = np.where((x_data == 0) & (y_data >= 0), 0.0, g * (out * np.log(x)))
    return gx, gy


@op("maximum", np.maximum, "binary", numpy=np.maximum, torch="torch.maximum", edges=[Tie()])
def maximum(g: Any, out: Any, a: Any, b: Any) -> Grads:
    """The gradient goes to the larger input; a tie splits it in half (PyTorch)."""
    a_data, b_data = data(a), data(b)
    tie = a_data == b_data
    return (
        g * np.where(tie, 0.5, np.where(a_data < b_data, 0.0, 1.0)),
        g * np.where(tie, 0.5, np.where(a_data > b_data, 0.0, 1.0)),
    )


@op("minimum", np.minimum, "binary", numpy=np.minimum, torch="torch.minimum", edges=[Tie()])
def minimum(g: Any, out: Any, a: Any, b: Any) -> Grads:
    """The gradient goes to the smaller input; a tie splits it in half (PyTorch)."""
    a_data, b_data = data(a), data(b)
    tie = a_data == b_data
    return (
        g * np.where(tie, 0.5, np.where(a_data > b_data, 0.0, 1.0)),
        g * np.where(tie, 0.5, np.where(a_data < b_data, 0.0, 1.0)),
    )


def _where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` holds, else ``b``, broadcast together.

    The condition is a boolean mask: it gets no gradient.
    """
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    if cond.dtype.kind not in "biuf":  # numpy would take any non-empty string as true
        raise TypeError(
            f"where: the condition must be boolean (or numeric), got dtype {cond.dtype}"
        )
    if cond.dtype != bool:
        cond = computed(np.asarray, cond, dtype=bool)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else Tensor(a)
    ta, tb = operand(a, like, "where"), operand(b, like, "where")
    try:
        out_shape = np.broadcast_shapes(cond.shape, ta.shape, tb.shape)
    except ValueError:
        raise ValueError(
            f"where: condition, a and b cannot be broadcast together: shapes {cond.shape}, "
            f"{ta.shape} and {tb.shape}"
        ) from None
    if cond.shape != out_shape:  # the rule needs the condition at the output's shape
        cond = computed(np.broadcast_to, cond, out_shape)
    return ta._apply2(OPS["where"], tb, {"condition": cond})


_MASK = np.array([[True, False, True], [False, False, True]])
WHERE_CASES = [
    Case({"condition": _MASK}, ((2, 3), (2, 3))),
    Case({"condition": _MASK[0]}, ((2, 3), (2, 1))),
    Case({"condition": _MASK[:, :1]}, ((3,), ())),
    Case({"condition": _MASK[None]}, ((4, 1, 3), (2, 1))),
]


@op("where", lambda a, b, *, condition: np.where(condition, a, b), "where", _where,
    method=None, numpy=np.where, cases=WHERE_CASES, leading=("condition",),
    torch=Torch(call=lambda torch, a, b, *, condition: torch.where(
        torch.from_numpy(np.asarray(condition)), a, b)), analytic=True)  # fmt: skip
def where(g: Any, out: Any, a: Any, b: Any, *, condition: np.ndarray) -> Grads:
    """where(c, a, b): the gradient goes to ``a`` where ``c`` holds, else to ``b``."""
    return np.where(condition, g, 0.0), np.where(condition, 0.0, g)


def _noise(keep: np.ndarray, scale: float, dtype: Any) -> np.ndarray:
    """``scale`` where ``keep`` holds, else 0, in ``dtype``: PyTorch's dropout noise."""
    with np.errstate(over="ignore"):  # a float16 scale may overflow: inf, as PyTorch's
        value = np.asarray(scale, dtype=dtype)
    return np.where(keep, value, np.zeros((), dtype=dtype))


def _torch_masked_scale(torch: Any, x: Any, *, keep: np.ndarray, scale: float) -> Any:
    """``x * noise`` (PyTorch's dropout, its noise made of the given mask)."""
    return x * torch.from_numpy(np.where(keep, scale, 0.0)).to(x.dtype)


_KEEP = _MASK


@op("masked_scale", lambda x, *, keep, scale: x * _noise(keep, scale, x.dtype), public=False,
    torch=Torch(call=_torch_masked_scale), analytic=True,
    call=lambda x, *, keep, scale: call("masked_scale", x, keep=keep, scale=scale),
    cases=[Case({"keep": _KEEP, "scale": 2.0}, ((2, 3),)),
           Case({"keep": _KEEP[:, :1], "scale": 1.25}, ((2, 3),))])  # fmt: skip
def masked_scale(g: Any, out: Any, x: Any, *, keep: np.ndarray, scale: float) -> Grads:
    """d(x noise) = g noise, the noise ``scale`` where ``keep`` holds, else 0 (dropout).

    ``keep`` is a boolean mask (broadcast to ``x``): the graph keeps the mask as
    booleans, one byte an element, rather than the noise in ``x``'s dtype, and neither
    ``x`` nor the output. The noise is remade from it in the backward, as PyTorch's
    forward makes it (``scale`` in ``x``'s dtype, 0 elsewhere): the same bits, also
    where a float16 ``scale`` overflows (the kept elements inf, the others 0).
    """
    return (g * _noise(keep, scale, g.dtype),)


# ---------------------------------------------------------------------------------------
# Unary functions
# ---------------------------------------------------------------------------------------
@op("neg", np.negative, operator="-x", numpy=np.negative, torch="-x", analytic=True)
def neg(g: Any, out: Any, x: Any) -> Grads:
    """d(-x) = -dx."""
    return (-g,)


POWERS = [Case({"p": p}) for p in (2, 3, 0.5, -1.5, 0, 1, -1, 2.5)]


@op("pow_scalar", quiet(lambda x, *, p: np.power(x, p)), operator="**", method="pow",
    function="pow", installs=False, torch=Torch("torch.pow", exponent="p"),
    inputs=(power_domain,), cases=POWERS, bound=constant_power_bound, analytic=True)  # fmt: skip
def pow_scalar(g: Any, out: Any, x: Any, *, p: float) -> Grads:
    """d(x**p) = p x**(p-1) dx for a number ``p``; 0 everywhere when ``p == 0`` (PyTorch)."""
    if p == 0:
        return (g * 0.0,)
    return (g * (p * x ** (p - 1)),)


@op("exp", floating(quiet(np.exp)), numpy=np.exp, bound=lambda b: math.exp(b.high()),
    analytic=True)  # fmt: skip
def exp(g: Any, out: Any, x: Any) -> Grads:
    """d(e**x) = e**x dx, the output itself."""
    return (g * out,)


@op("log", floating(quiet(np.log)), numpy=np.log, inputs=(POSITIVE,), bound=log_bound,
    analytic=True)  # fmt: skip
def log(g: Any, out: Any, x: Any) -> Grads:
    """d(log x) = dx / x: ``inf`` at 0; ``log`` of a negative number is ``nan``."""
    return (g / x,)


@op("expm1", floating(quiet(np.expm1)), numpy=np.expm1,
    bound=lambda b: max(1.0, math.expm1(b.high())), analytic=True)  # fmt: skip
def expm1(g: Any, out: Any, x: Any) -> Grads:
    """d(e**x - 1) = e**x dx = (out + 1) dx: accurate where x is tiny, unlike exp(x) - 1."""
    return (g * (out + 1),)


ABOVE_MINUS_ONE = Domain("greater than -1", -0.5, 2.0, guard=True)


@op("log1p", floating(quiet(np.log1p)), numpy=np.log1p, inputs=(ABOVE_MINUS_ONE,),
    bound=lambda b: math.log1p(b.high()), analytic=True)  # fmt: skip
def log1p(g: Any, out: Any, x: Any) -> Grads:
    """d log(1 + x) = dx / (1 + x): accurate where x is tiny, unlike log(1 + x)."""
    return (g / (1 + x),)


@op("sqrt", floating(quiet(np.sqrt)), numpy=np.sqrt, inputs=(POSITIVE,),
    bound=lambda b: math.sqrt(b.high()), analytic=True)  # fmt: skip
def sqrt(g: Any, out: Any, x: Any) -> Grads:
    """d(sqrt x) = dx / (2 sqrt x): ``inf`` at 0."""
    return (g / (2 * out),)


def _signs(x: np.ndarray) -> Any:
    """-1, 0 or 1 by the sign of each element, as PyTorch's ``sign``: 0 for ``nan``
    (numpy's is ``nan``), and a bool tensor is its own sign (numpy has no bool loop)."""
    if x.dtype == bool:
        return x.copy()
    return np.nan_to_num(np.sign(x), nan=0.0)  # (a sign is never inf: only nan changes)


@op("abs", np.abs, operator="abs", numpy=np.absolute, edges=[Kink(0.0, "mean")])
def abs_(g: Any, out: Any, x: Any) -> Grads:
    """d|x| = sign(x) dx, which is 0 at the kink x == 0 and at nan (PyTorch)."""
    return (g * indicator(x, _signs(data(x))),)


@op("sin", floating(np.sin), numpy=np.sin, bound=unit, analytic=True)
def sin(g: Any, out: Any, x: Any) -> Grads:
    """d(sin x) = cos(x) dx."""
    return (g * np.cos(x),)


@op("cos", floating(np.cos), numpy=np.cos, bound=unit, analytic=True)
def cos(g: Any, out: Any, x: Any) -> Grads:
    """d(cos x) = -sin(x) dx."""
    return (g * -np.sin(x),)


def _tan_bound(b: Bounds) -> float:
    """``|tan x|`` grows without bound towards ``pi/2``: keep arguments below 1.5."""
    return math.tan(b.m()) if b.m() < 1.5 else math.inf


@op("tan", floating(quiet(np.tan)), numpy=np.tan, inputs=(Domain("|x| < pi/2", -1.2, 1.2),),
    bound=_tan_bound, analytic=True)  # fmt: skip
def tan(g: Any, out: Any, x: Any) -> Grads:
    """d(tan x) = (1 + tan(x)**2) dx, from the output."""
    return (g * (1 + out * out),)


@op("arctan", floating(np.arctan), method=("arctan", "atan"), function=("arctan", "atan"),
    numpy=np.arctan, torch="torch.atan", bound=lambda b: math.pi / 2, analytic=True)  # fmt: skip
def arctan(g: Any, out: Any, x: Any) -> Grads:
    """d(arctan x) = dx / (1 + x**2)."""
    return (g / (1 + x * x),)


def _clamp(x: np.ndarray, *, min: float | None, max: float | None) -> np.ndarray:
    if x.dtype.kind in "biu" and (isinstance(min, float) or isinstance(max, float)):
        x = x.astype(dtypes.get_default_dtype())  # a float bound: PyTorch's default dtype
    if min is not None:
        x = np.maximum(x, min)
    if max is not None:
        x = np.minimum(x, max)
    return x


def _clip(x: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit the values to ``[min, max]`` (either bound may be None, a number or a tensor;
    PyTorch's ``clamp``).

    With ``min > max`` every value becomes ``max`` (and gets no gradient), as in PyTorch
    and numpy: the bounds are applied in that order, not checked against each other.
    """
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    if isinstance(min, (Tensor, np.ndarray)) or isinstance(max, (Tensor, np.ndarray)):
        return _clip_between(x, min, max)
    low = None if min is None else _bound(min, "clip: min")
    high = None if max is None else _bound(max, "clip: max")
    return x._apply1(OPS["clip"], {"min": low, "max": high})


def _bound(value: Any, where: str) -> float:
    """A number bound of ``clip``; an integer stays one, so that an integer tensor keeps
    its dtype (PyTorch's ``tensor([-1, 3]).clamp(0, 1)`` is int64), and a float tensor's
    is unchanged (numpy takes a Python number in the array's dtype)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return number(value, where)


def _clip_between(x: Tensor, low: Any, high: Any) -> Tensor:
    """``clamp`` with tensor bounds (PyTorch's): ``min(max(x, low), high)``, the gradient
    to ``x`` where ``low <= x <= high`` and to the bound that is taken elsewhere."""
    out = x
    if low is not None:
        out = _where(out >= low, out, low)
    if high is not None:
        out = _where(out <= high, out, high)
    return out


def _clip_bound(b: Bounds) -> float:
    low, high = b.params["min"], b.params["max"]
    if low is not None and high is not None:
        return float(max(abs(low), abs(high)))
    return max(b.m(), abs(float(high if low is None else low)))


CLIPS = [
    Case({"min": lo, "max": hi})
    for lo, hi in ((-0.5, 0.5), (0.2, None), (None, 1.0), (0.5, -0.5))  # min > max: max
]


@op("clip", _clamp, "unary", _clip, numpy=(np.clip, {"min": "a_min", "max": "a_max"}),
    method=("clip", "clamp"), function=("clip", "clamp"), torch="Tensor.clamp", cases=CLIPS,
    edges=[Kink(lambda p: p["min"], "right"), Kink(lambda p: p["max"], "left")],
    bound=_clip_bound)  # fmt: skip
def clip(g: Any, out: Any, x: Any, *, min: float | None, max: float | None) -> Grads:
    """The gradient passes where ``min <= x <= max`` (bounds included, as PyTorch's clamp)."""
    x_data = data(x)
    inside = np.ones(x_data.shape, dtype=bool)
    if min is not None:
        inside &= x_data >= min
    if max is not None:
        inside &= x_data <= max
    return (np.where(inside, g, 0.0),)


def _astype(x: Tensor, dtype: Any) -> Tensor:
    """The tensor converted to ``dtype``; the gradient is converted back.

    To a bool or integer dtype the result has no gradient (it requires none), as
    PyTorch's ``x.to(torch.int64)``; complex and other dtypes are refused.
    """
    try:
        target = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"astype: {error}") from None
    if target.kind not in "biuf":
        raise TypeError(
            f"astype: unsupported dtype {target}; sg computes with bool, integer and real "
            f"floating data"
        )
    if target == x.dtype:
        return x
    if target.kind != "f":  # a step function: no gradient flows through it
        return Tensor(computed(np.asarray, x.data, dtype=target))
    return x._apply1(OPS["astype"], {"dtype": target})


def _torch_dtype(torch: Any, x: Any, dtype: Any) -> Any:
    """``x.to(dtype)`` with the torch dtype of the same name."""
    return x.to(getattr(torch, np.dtype(dtype).name))


@op("astype", lambda x, *, dtype: x.astype(dtype), "astype", _astype, function=None,
    torch=Torch(call=_torch_dtype), cases=[Case({"dtype": np.float32}, ((2, 3, 4),))],
    rounding=2.0**-24)  # fmt: skip
def astype(g: Any, out: Any, x: Any, *, dtype: np.dtype[Any]) -> Grads:
    """A change of precision: the gradient is converted back to the input's dtype."""
    return (g.astype(x.dtype),)


# ---------------------------------------------------------------------------------------
# PyTorch's spellings of a change of dtype, and a differentiable copy
# ---------------------------------------------------------------------------------------
def _to(
    x: Tensor, *args: Any, dtype: Any = None, device: Any = None, copy: bool = False
) -> Tensor:
    """``x.to(dtype)`` (PyTorch): :meth:`astype`; a device may be given and must be
    ``"cpu"`` (sg computes on the CPU). ``copy=True`` always returns a new tensor."""
    for arg in args:
        if isinstance(arg, str) or arg is None:
            device = arg
        elif isinstance(arg, Tensor):
            dtype = arg.dtype  # x.to(other): other's dtype
        else:
            dtype = arg
    if str(device) not in ("cpu", "None"):
        raise ValueError(f"to: sg computes on the CPU; device {device!r} is not available")
    if dtype is None:
        return _clone(x) if copy else x
    out = _astype(x, dtype)
    return _clone(out) if copy and out is x else out


def _clone(x: Tensor) -> Tensor:
    """A copy that shares no memory, through which gradients flow (PyTorch's ``clone``)."""
    return x._apply1(OPS["astype"], {"dtype": x.dtype})


CAST = Case({"dtype": np.float32}, ((2, 3, 4),))
composite("to", "astype", _to, function=None, uses=("astype",), rounding=2.0**-24,
          torch=Torch(call=_torch_dtype), cases=[CAST])  # fmt: skip
composite("float", "unary", lambda x: _astype(x, np.float32), function=None,
          uses=("astype",), rounding=2.0**-24,
          torch=Torch(call=lambda torch, x: x.float()))  # fmt: skip
composite("double", "unary", lambda x: _astype(x, np.float64), function=None,
          torch=Torch(call=lambda torch, x: x.double()))  # fmt: skip  # float64: x itself
composite("clone", "unary", _clone, uses=("astype",),
          torch=Torch(call=lambda torch, x: x.clone()))  # fmt: skip


def _sign(x: Any) -> Tensor:
    """-1, 0 or 1 by the sign of each element (0 for nan); its gradient is 0 (PyTorch's)."""
    t = as_tensor(x)
    return t._indicator(computed(_signs, t.data))


composite("sign", "unary", _sign, numpy=np.sign, uses=("indicator",), inputs=(NONZERO,),
          torch="torch.sign")  # fmt: skip


def _round(x: Any, decimals: int = 0) -> Tensor:
    """Round to ``decimals`` places (half to even, as PyTorch and numpy); its gradient is 0."""
    t = as_tensor(x)
    return t._indicator(computed(np.round, t.data, decimals))


composite("round", "unary", _round, numpy=np.round, uses=("indicator",),
          inputs=(Domain("away from halves", -0.3, 0.3),), torch="torch.round")  # fmt: skip


class IntegerZeroDivisionError(ZeroDivisionError, RuntimeError):
    """An integer ``//`` or ``%`` by zero. PyTorch raises a RuntimeError saying
    "ZeroDivisionError"; this is both, so either ``except`` catches it."""


def _integer_divisor(opname: str, x: np.ndarray, y: np.ndarray) -> None:
    """Raise where an integer division has a zero divisor (numpy gives 0 and a warning)."""
    if x.dtype.kind in "biu" and y.dtype.kind in "biu" and not y.all():
        raise IntegerZeroDivisionError(f"{opname}: integer division by zero")


def _integer_remainder(x: np.ndarray, y: np.ndarray) -> Any:
    _integer_divisor("remainder", x, y)
    return np.remainder(x, y)


def _remainder(a: Any, b: Any) -> Tensor:
    """``a - b * floor(a / b)``: the remainder with the sign of ``b`` (Python's ``%``,
    ``np.remainder`` and PyTorch's ``remainder``). Its gradient is 1 for ``a`` and
    ``-floor(a / b)`` for ``b`` (the floor's own derivative is 0), as PyTorch's."""
    x = a if isinstance(a, Tensor) else operand(a, b, "remainder")
    y = b if isinstance(b, Tensor) else operand(b, x, "remainder")
    if x.dtype.kind in "biu" and y.dtype.kind in "biu":  # integers: exact, no gradient
        return Tensor(computed(_integer_remainder, x.data, y.data))
    # The floor is a constant of the graph: no gradient goes back through ``a / b``,
    # whose rule would give nan where b == 0 (PyTorch passes a's gradient unchanged).
    with no_grad():
        quotient = x / y
        floor = quotient._indicator(computed(np.floor, quotient.data))
    return x - y * floor


def _no_derivative(g: Any, out: Any, *inputs: Any, **ctx: Any) -> tuple[Any, ...]:
    raise RuntimeError(
        "floor_divide: its derivative is not implemented (as in PyTorch): a // b is "
        "piecewise constant, with jumps; detach it, or use remainder/division"
    )


def _floor_divide_forward(x: np.ndarray, y: np.ndarray) -> Any:
    _integer_divisor("floor_divide", x, y)
    return np.floor_divide(x, y)


_FLOOR_DIVIDE = Op("floor_divide", _floor_divide_forward, _no_derivative)  # not in the table


def _floor_divide(a: Any, b: Any) -> Tensor:
    """``floor(a / b)`` (Python's ``//``): a backward pass through it raises, as PyTorch's."""
    x = a if isinstance(a, Tensor) else operand(a, b, "floor_divide")
    y = b if isinstance(b, Tensor) else operand(b, x, "floor_divide")
    return x._apply2(_FLOOR_DIVIDE, y)


composite("remainder", "binary", _remainder, numpy=np.remainder, uses=("div", "mul", "sub"),
          inputs=(REAL, Domain("away from 0", 0.6, 2.0, symmetric=True, guard=True)),
          cases=[Case({}, ((3, 4), (3, 4))), Case({}, ((3, 4), (4,)))])  # fmt: skip
